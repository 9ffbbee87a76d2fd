/*
 * Seed targets: the servers a site already runs (any OCI registry, any git
 * server, Gitea or Forgejo) that the store is pushed to. A target is a row
 * of the store (store/targets.h) plus credential files under
 * STORE/targets/ (mode 0600), read only when a seed runs and never printed
 * or logged.
 */
#ifndef FERRY_SEED_TARGET_H
#define FERRY_SEED_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "rewrite.h"
#include "store.h"

#define FERRY_TARGET_NAME_MAX 64
#define FERRY_TARGET_CRED_MAX (64u << 10)

typedef enum {
	FERRY_TARGET_OCI = 1,
	FERRY_TARGET_GIT = 2,
	FERRY_TARGET_GITEA = 3
} ferry_target_kind;

/** A configured target (see the man page ferry-target for the options). */
typedef struct {
	char *name;
	ferry_target_kind kind;
	char *url;
	json_t *options;       /* owned */
	int64_t created;
	char *cred_path;       /* STORE/targets/<name>.cred when it exists, else NULL */
	char *key_path;        /* STORE/targets/<name>.key (ssh key) or NULL */
	ferry_rewrite_map rewrite;
} ferry_target;

const char *ferry_target_kind_name(ferry_target_kind kind);
int ferry_target_kind_parse(ferry_target_kind *out, const char *text);

/**
 * Add target `name` to the store (open for writing). `options` is checked
 * against the kind (unknown keys, bad values: FERRY_EINVALID naming them);
 * `cred_file` and `ssh_key_file` (either may be NULL) are copied into
 * STORE/targets/ with mode 0600. With `replace`, an existing target of that
 * name is replaced (and its progress forgotten); otherwise FERRY_EEXISTS.
 */
int ferry_target_add(ferry_store *st, const char *name, ferry_target_kind kind,
		     const char *url, const json_t *options, const char *cred_file,
		     const char *ssh_key_file, int replace);
/** Remove a target, its credentials and progress. FERRY_ENOTFOUND. */
int ferry_target_remove(ferry_store *st, const char *name);
/** Load one target (*out, free with ferry_target_free). FERRY_ENOTFOUND. */
int ferry_target_load(ferry_target **out, ferry_store *st, const char *name);
/** Load every target, by name (*out, free with ferry_target_list_free). */
int ferry_target_list(ferry_target ***out, size_t *n, ferry_store *st);
void ferry_target_free(ferry_target *t);
void ferry_target_list_free(ferry_target **list, size_t n);

/** STORE/targets/<name>.<ext> into `out` (appended). */
int ferry_target_file(ferry_buf *out, const ferry_store *st, const char *name,
		      const char *ext);

/** Read the target's credentials into guarded memory (*out, NULL when it
 *  has none; free with ferry_secret_free). Trailing newlines are dropped. */
int ferry_target_credentials(char **out, const ferry_target *t);

/**
 * The node configuration for an OCI target into `out`: the
 * containers-registries.conf(5) entries (`[[registry]]` prefix/location
 * pairs, one per rewrite rule, plus the target itself) followed by one
 * containerd hosts.toml per upstream host, each introduced by a comment
 * naming its path (/etc/containerd/certs.d/<host>/hosts.toml).
 * FERRY_EINVALID for a target that is not an OCI registry.
 */
int ferry_target_node_config(ferry_buf *out, const ferry_target *t);

#endif
