/*
 * Seeding: pushing what the store holds to the servers a site already runs
 * (any OCI registry, any git server, Gitea or Forgejo), so clusters inside
 * the enclave pull from them. Targets are rows of the store's `targets`
 * table; their credentials are files under STORE/targets/ (mode 0600),
 * read only when a seed runs and never printed or logged.
 *
 * Seeding is idempotent and resumable. Per target and item, `seed_progress`
 * records what the target is known to hold; a seed that is killed and run
 * again continues where it stopped and converges. A tag or ref on a target
 * is only ever moved to content that is complete there: for registries the
 * manifest and everything it refers to is confirmed present (HEAD) first,
 * for git the server's receive-pack checks connectivity before it moves a
 * ref.
 *
 * Names are rewritten on the way out by each target's rewrite map, a list
 * of prefix rules (upstream name -> enclave name); the longest matching
 * prefix wins and names no rule matches are kept. The first component of
 * the enclave name, when it names a host ("mirror.site", "host:5000",
 * "localhost"), names the server and is dropped; the rest is the repository
 * path on the target.
 */
#ifndef FERRY_IMPORT_SEED_H
#define FERRY_IMPORT_SEED_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

#define FERRY_TARGET_NAME_MAX 64
#define FERRY_TARGET_CRED_MAX (64u << 10)

typedef enum {
	FERRY_TARGET_OCI = 1,
	FERRY_TARGET_GIT = 2,
	FERRY_TARGET_GITEA = 3
} ferry_target_kind;

typedef struct {
	char *from;
	char *to;
} ferry_rewrite_rule;

typedef struct {
	ferry_rewrite_rule *rules;
	size_t n;
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
	size_t nrefused;
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

/* ---- internal, shared by seed*.c and gitea.c --------------------------- */

/** Progress of `item` on `target`: *state (caller frees) or NULL. */
int ferry_seed__progress_get(char **state, ferry_store *st, const char *target,
			     const char *item);
int ferry_seed__progress_set(ferry_store *st, const char *target, const char *item,
			     const char *state);
int ferry_seed__progress_delete(ferry_store *st, const char *target, const char *item);
/** Items of `target` starting with `prefix`, NULL-terminated (free each and
 *  the array). */
int ferry_seed__progress_items(char ***out, ferry_store *st, const char *target,
			       const char *prefix);

/** Record a refused ref in `r` ("<repo> <ref>: <why>"). */
int ferry_seed__refuse(ferry_seed_target_result *r, const char *repo, const char *ref,
		       const char *why);

int ferry_seed__oci(ferry_seed_target_result *r, ferry_store *st, const ferry_target *t,
		    const ferry_seed_options *opts);

/** How a git push authenticates and what it may overwrite. */
typedef struct {
	const char *url;            /* the repository's URL */
	const char *userpwd;        /* "user:password" for HTTP, or NULL */
	const char *ssh_key;        /* private key file for ssh://, or NULL */
	const char *ca_file;
	int force_branches;         /* 0 never, 1 rewritten (default), 2 always */
	int force_tags;             /* 0 never (default), 1 always */
	int prune;                  /* delete refs the store no longer has */
} ferry_seed_git_push;

/**
 * Push every ref the store has for repository `repo` to p->url. Per ref
 * progress items "ref <path> <refname>" hold the commit last pushed.
 * Refusals are recorded in `r`; FERRY_EIO/FERRY_ERROR when the push fails.
 */
int ferry_seed__git_repo(ferry_seed_target_result *r, ferry_store *st,
			 const ferry_target *t, const char *repo, const char *path,
			 const ferry_seed_git_push *p);
/** The push policy (force-branches, force-tags, prune, ca-file, ssh key) of
 *  a git or Gitea target into `p` (url and userpwd left NULL). */
void ferry_seed__git_policy(ferry_seed_git_push *p, const ferry_target *t);
/** The branch the store's repository's HEAD names ("main"), or NULL. */
int ferry_seed__git_default_branch(char **out, ferry_store *st, const char *repo);

int ferry_seed__git(ferry_seed_target_result *r, ferry_store *st, const ferry_target *t,
		    const ferry_seed_options *opts);
int ferry_seed__gitea(ferry_seed_target_result *r, ferry_store *st, const ferry_target *t,
		      const ferry_seed_options *opts);

#endif
