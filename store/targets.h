/*
 * Seeding's records in ferry.db: the targets (servers the store is pushed
 * to; their credentials are files under STORE/targets/, not rows) and, per
 * target and item, the progress that lets an interrupted seed continue.
 * What the fields mean is seeding's business (seed/); here they are rows.
 */
#ifndef FERRY_STORE_TARGETS_H
#define FERRY_STORE_TARGETS_H

#include <stdint.h>

#include "store.h"

typedef struct {
	const char *name;
	const char *kind;       /* "oci", "git", "gitea" */
	const char *url;
	const char *options;    /* JSON object text */
	int64_t created;
} ferry_store_target_row;

/** *out nonzero when target `name` exists. */
int ferry_store_target_exists(int *out, ferry_store *st, const char *name);
/** Insert or replace a target row (`created` 0: now). */
int ferry_store_target_put(ferry_store *st, const ferry_store_target_row *t);
/** Delete a target row and its progress; FERRY_ENOTFOUND when none. */
int ferry_store_target_delete(ferry_store *st, const char *name);
/** Call `cb` for target `name` (NULL: every target, by name). A named target
 *  that does not exist is FERRY_ENOTFOUND. Strings are borrowed. */
int ferry_store_target_foreach(ferry_store *st, const char *name,
			       int (*cb)(const ferry_store_target_row *t, void *payload),
			       void *payload);

/** Progress of `item` on `target`: *state (caller frees), NULL when none. */
int ferry_store_progress_get(char **state, ferry_store *st, const char *target,
			     const char *item);
int ferry_store_progress_set(ferry_store *st, const char *target, const char *item,
			     const char *state);
int ferry_store_progress_delete(ferry_store *st, const char *target, const char *item);
/** Forget every item of `target`. */
int ferry_store_progress_clear(ferry_store *st, const char *target);
/** Items of `target` that start with `prefix`, by name. */
int ferry_store_progress_foreach(ferry_store *st, const char *target, const char *prefix,
				 int (*cb)(const char *item, void *payload), void *payload);

#endif
