/*
 * String vectors (see strv.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "strv.h"
#include "banned.h"

int ferry_strv_push_owned(ferry_strv *sv, char *s)
{
	int error;

	if (!s)
		return ferry_error_oom();
	if ((error = FERRY_ALLOC_GROW(sv->v, sv->n + 2, sv->alloc)) < 0) {
		free(s);
		return error;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

int ferry_strv_push(ferry_strv *sv, const char *s)
{
	return ferry_strv_push_owned(sv, strdup(s));
}

void ferry_strv_dispose(ferry_strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->alloc = 0;
}
