/*
 * What a seed did (see seed.h): per target results, refused refs, and
 * their disposal.
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "pusher.h"
#include "banned.h"

int ferry_seed__refuse(ferry_seed_target_result *r, const char *repo, const char *ref,
		       const char *why)
{
	ferry_buf b = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_buf_printf(&b, "%s %s: %s", repo, ref, why)) < 0)
		return error;
	if ((error = FERRY_ALLOC_GROW(r->refused, r->nrefused + 1, r->allocrefused)) < 0) {
		ferry_buf_dispose(&b);
		return error;
	}
	r->refused[r->nrefused++] = ferry_buf_detach(&b);
	r->refs_refused++;
	ferry_log(FERRY_LOG_WARN, "target '%s': %s %s refused: %s", r->target, repo, ref, why);
	return 0;
}

static void target_result_dispose(ferry_seed_target_result *r)
{
	size_t i;

	free(r->target);
	free(r->error);
	for (i = 0; i < r->nrefused; i++)
		free(r->refused[i]);
	free(r->refused);
	memset(r, 0, sizeof(*r));
}

void ferry_seed_result_dispose(ferry_seed_result *r)
{
	size_t i;

	for (i = 0; i < r->ntargets; i++)
		target_result_dispose(&r->targets[i]);
	free(r->targets);
	memset(r, 0, sizeof(*r));
}
