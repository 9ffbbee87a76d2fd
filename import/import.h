/*
 * ferry import: verify bundles completely against the store's trust root
 * and channel history, then publish them into the store. Each bundle of a
 * call is its own transaction: nothing of a bundle is published unless all
 * of its files verified, and a refused bundle holds back only itself and
 * the bundles that build on it. A crash at any point leaves the old state
 * or the new one, and running the import again converges.
 */
#ifndef FERRY_IMPORT_IMPORT_H
#define FERRY_IMPORT_IMPORT_H

#include <stdint.h>
#include <stdio.h>

#include "ferry/bundle.h"
#include "git_pack.h"
#include "progress.h"
#include "store.h"

typedef struct {
	unsigned version;
	int64_t now;            /* 0: the clock */
	int dry_run;            /* verify only: publish nothing, record nothing */
	FILE *audit_log;        /* also write audit events as JSON lines here */
	ferry_progress_cb progress;
	void *progress_payload;
	int verify_held;        /* rehash each blob the bundles carry that the store
				   holds, and replace a damaged one with the
				   bundle's copy */
	ferry_git_pack_limits git_limits;   /* inflated sizes a git pack may
					       reach (zeros: the defaults) */
	int skip_superseded;    /* a bundle older than its channel is skipped
				   (FERRY_SUPERSEDED) even when it is the only
				   one given, instead of refused as a rollback:
				   for callers that feed bundles one at a time
				   and judge the order themselves (the inbox) */
} ferry_import_options;

#define FERRY_IMPORT_OPTIONS_VERSION 1
#define FERRY_IMPORT_OPTIONS_INIT { FERRY_IMPORT_OPTIONS_VERSION, 0, 0, NULL, NULL, NULL, 0, \
				    FERRY_GIT_PACK_LIMITS_INIT, 0 }

typedef enum {
	FERRY_IMPORTED = 1,     /* published */
	FERRY_ALREADY = 2,      /* this exact bundle was imported before: no-op */
	FERRY_VERIFIED = 3,     /* dry run: would be published */
	FERRY_SUPERSEDED = 4,   /* older than the channel's sequence, given with
				   other bundles: skipped */
	FERRY_REFUSED = 5       /* failed a check: nothing of it published */
} ferry_import_outcome;

typedef struct {
	char id[65];            /* "" when no verified manifest named it */
	char *channel;          /* "" likewise */
	uint64_t sequence, base_sequence;
	ferry_import_outcome outcome;
	size_t nvolumes;
	size_t blobs_new, blobs_present;   /* blobs written vs already held */
	size_t blobs_repaired;              /* held, damaged, replaced (verify_held) */
	uint64_t bytes;                     /* bundle bytes read */
	size_t nimages, nrepos;
	char signers[256];
	int error;                          /* FERRY_REFUSED: the error code */
	char *reason;                       /* FERRY_REFUSED, FERRY_SUPERSEDED: why */
	char *file;                         /* refused file no bundle could be
					       named for, else NULL */
} ferry_import_bundle;

typedef struct {
	ferry_import_bundle *bundles;
	size_t nbundles;
} ferry_import_result;

/**
 * Import (or with dry_run, verify) the bundle files `paths` (whole bundles
 * or volumes, any order) into `st`, which must be open for writing. The
 * files are grouped into bundles by their manifests; each channel's
 * bundles are taken in sequence order and each complete, valid bundle is
 * published in its own transaction. A bundle older than its channel's
 * sequence is skipped (FERRY_SUPERSEDED) when other bundles were given
 * (or opts->skip_superseded is set), and refused as a rollback when it is
 * the only one.
 *
 * `out` (disposed by the caller with ferry_import_result_dispose) holds one
 * entry per bundle, and per file that could not be placed in a bundle,
 * whenever the return is 0 or a refusal: FERRY_EVERIFY for trust, replay,
 * rollback, expiry and missing prerequisites, FERRY_ECORRUPT/FERRY_EINVALID
 * for damaged or hostile bundles (the first refused bundle's code; its
 * message is the last error). Any other failure (the trust root, the
 * store, a bundle carrying a trust root given with others) leaves `out`
 * empty. Every refusal is an audit event (unless dry_run).
 */
int ferry_import(ferry_import_result *out, ferry_store *st,
		 const char *const *paths, size_t npaths,
		 const ferry_import_options *opts);
void ferry_import_result_dispose(ferry_import_result *r);

#endif
