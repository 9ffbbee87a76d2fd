/*
 * Seeding: pushing what the store holds to the servers a site already runs
 * (any OCI registry, any git server, Gitea or Forgejo), so clusters inside
 * the enclave pull from them. Targets (target.h) say where to push and how;
 * names are rewritten on the way (rewrite.h).
 *
 * Seeding is idempotent and resumable. Per target and item, the store
 * records what the target is known to hold; a seed that is killed and run
 * again continues where it stopped and converges. A tag or ref on a target
 * is only ever moved to content that is complete there: for registries the
 * manifest and everything it refers to is confirmed present (HEAD) first,
 * for git the server's receive-pack checks connectivity before it moves a
 * ref.
 */
#ifndef FERRY_SEED_SEED_H
#define FERRY_SEED_SEED_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"
#include "target.h"

/** What a seed of one target did. */
typedef struct {
	char *target;
	int failed;              /* the seed stopped; `error` says why */
	char *error;
	/* registries */
	size_t blobs_pushed, blobs_present, blobs_mounted;
	size_t manifests_pushed, manifests_present;
	size_t tags_set, tags_unchanged, referrer_indexes;
	uint64_t bytes_sent;
	/* git and Gitea */
	size_t repos, repos_created;
	size_t refs_pushed, refs_forced, refs_unchanged, refs_refused, refs_deleted;
	char **refused;          /* "repo ref: why", one per refused ref */
	size_t nrefused, allocrefused;
} ferry_seed_target_result;

typedef struct ferry_seed_result {
	ferry_seed_target_result *targets;
	size_t ntargets;
} ferry_seed_result;

typedef struct {
	unsigned version;
	const char *target;      /* only this target; NULL: every target */
	int full;                /* ignore recorded progress (still skips what
				    the target already holds) */
} ferry_seed_options;

#define FERRY_SEED_OPTIONS_VERSION 1
#define FERRY_SEED_OPTIONS_INIT { FERRY_SEED_OPTIONS_VERSION, NULL, 0 }

/**
 * Seed every target (or opts->target) from `st`. A target that fails does
 * not stop the others; its result says why. Returns 0 when every target
 * was seeded without refusals, FERRY_ERROR when any failed or refused a
 * ref (the last error names the first), FERRY_ENOTFOUND for an unknown
 * opts->target, FERRY_EEXISTS when another seed of a target is running.
 */
int ferry_seed(ferry_seed_result *out, ferry_store *st, const ferry_seed_options *opts);
void ferry_seed_result_dispose(ferry_seed_result *r);

/* The progress item under which each target's last result is kept. */
#define FERRY_SEED_RESULT_ITEM "@last-result"

/** How the last seed of a target ended. */
typedef struct {
	int64_t time;            /* when (Unix seconds) */
	char *outcome;           /* "seeded", "refused" or "failed" */
	char *detail;            /* counts, or the error */
} ferry_seed_last;

/**
 * The last result of `target` into `out` (ferry_seed_last_dispose):
 * FERRY_ENOTFOUND when it was never seeded, FERRY_ECORRUPT when the
 * record is unreadable.
 */
int ferry_seed_last_result(ferry_seed_last *out, ferry_store *st, const char *target);
void ferry_seed_last_dispose(ferry_seed_last *r);

#endif
