/*
 * The one array growth routine (see alloc.h). Sizes grow by half plus a
 * small constant, like git's alloc_nr(), so appending n elements costs
 * O(n) copies; every multiplication and addition is checked, so a hostile
 * count can only produce an error, never a short buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "banned.h"

int ferry__alloc_grow(void *ptrp, size_t elem, size_t nr, size_t *alloc)
{
	size_t max = elem ? SIZE_MAX / elem : SIZE_MAX;
	size_t want;
	void *old, *grown;

	if (nr <= *alloc)
		return 0;
	if (nr > max)
		return ferry_error_set(FERRY_ETOOBIG,
				       "cannot hold %zu elements of %zu bytes", nr, elem);
	want = *alloc > SIZE_MAX / 3 - 16 ? max : (*alloc + 16) * 3 / 2;
	if (want > max)
		want = max;
	if (want < nr)
		want = nr;
	/* the pointer is read and written as bytes: it may be any object pointer */
	memcpy(&old, ptrp, sizeof(old));
	if (!(grown = realloc(old, want * elem)))
		return ferry_error_oom();
	memcpy(ptrp, &grown, sizeof(grown));
	*alloc = want;
	return 0;
}
