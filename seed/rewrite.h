/*
 * The rewrite map: names are rewritten on the way to a target by a list of
 * prefix rules (upstream name -> enclave name); the longest matching prefix
 * wins and names no rule matches are kept. The first component of the
 * enclave name, when it names a host ("mirror.site", "host:5000",
 * "localhost"), names the server and is dropped; the rest is the repository
 * path on the target.
 */
#ifndef FERRY_SEED_REWRITE_H
#define FERRY_SEED_REWRITE_H

#include <stddef.h>

#include <jansson.h>

typedef struct {
	char *from;
	char *to;
} ferry_rewrite_rule;

typedef struct {
	ferry_rewrite_rule *rules;
	size_t n, alloc;
} ferry_rewrite_map;

/** Add rule `from` -> `to` (copied). FERRY_EINVALID for an empty `to`. */
int ferry_rewrite_map_add(ferry_rewrite_map *m, const char *from, const char *to);
/** Build a map from the JSON array [{"from":..,"to":..}, ...]. */
int ferry_rewrite_map_from_json(ferry_rewrite_map *m, const json_t *rules);
void ferry_rewrite_map_dispose(ferry_rewrite_map *m);
/**
 * The enclave name of store name `name` (*out, caller frees): the longest
 * matching rule's `to` followed by the rest of the name, or `name` itself.
 */
int ferry_rewrite_apply(char **out, const ferry_rewrite_map *m, const char *name);
/**
 * The repository path on a target for an enclave name: without its first
 * component when that component names a host. *out is a suffix of `name`
 * (borrowed).
 */
const char *ferry_rewrite_repo_path(const char *name);

#endif
