/*
 * Source kind `git`: a repository by URL (https, http, ssh, git, file) or
 * local path, fetched with libgit2 into a per-source bare mirror in the
 * cache directory (full history; updated incrementally on later runs), and
 * exported as a git bundle file per repository. Against the export state,
 * the bundle carries only what the channel's receiver lacks: a thin pack
 * whose prerequisites are the tips sent before. Submodules pinned by
 * exported commits are exported too, as repositories of their own.
 *
 *   - git: https://git.example.com/org/app.git
 *     name: org/app                  # default: from the URL's path
 *     refs: [main, refs/tags/v*]     # default: all branches and tags
 *     credentials: {token-file: /etc/ferry/git-token}
 *     submodules: true
 *     skip-submodules: [vendor/optional]
 *
 * libgit2 stays inside this module (and git_bundle.c); the rest of ferry
 * sees the types below.
 */
#ifndef FERRY_EXPORT_GIT_SOURCE_H
#define FERRY_EXPORT_GIT_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "spec.h"
#include "export_state.h"

#define FERRY_GIT_MAX_SUBMODULE_DEPTH 8
#define FERRY_GIT_PINNED_PREFIX "refs/ferry/pinned/"

typedef struct {
	char *name;          /* "refs/heads/main" */
	char commit[41];     /* what the ref points to (hex) */
	int forced;          /* not a fast-forward of what the base sent */
} ferry_git_export_ref;

/** One repository as it goes into the bundle. */
typedef struct {
	char *name;                 /* repository name in the bundle */
	char *location;             /* URL or path it was fetched from */
	char *bundle_file;          /* the git bundle file; NULL when nothing new */
	uint64_t bundle_size;
	char bundle_sha256[FERRY_SHA256_HEX_LEN + 1];
	size_t nobjects;            /* objects in its pack */
	ferry_git_export_ref *refs; /* sorted by name */
	size_t nrefs;
	char **deleted;
	size_t ndeleted;
	char **prerequisites;       /* commit hex */
	size_t nprerequisites;
	int has_base;               /* the state knew what the receiver holds */
	int submodule;              /* exported because a commit pins it */
} ferry_git_repo_export;

typedef struct ferry_git_jobs ferry_git_jobs;

typedef struct {
	ferry_git_repo_export *repos;   /* after ferry_git_content_collect */
	size_t nrepos;
	char **skipped;                 /* submodules skipped as the spec allows */
	size_t nskipped;
	ferry_git_jobs *jobs;           /* internal */
	char *workdir;                  /* holds the bundle files until dispose */
} ferry_git_content;

typedef struct {
	const char *cache_dir;          /* NULL: ferry_git_cache_default_path() */
	ferry_export_state *state;      /* NULL or upto 0: full bundles */
	const char *channel;
	uint64_t upto;                  /* base: state as of this sequence */
} ferry_git_options;

/**
 * Check a `git` source's options (FERRY_EINVALID naming the spec line) and
 * queue it. Nothing is fetched yet.
 */
int ferry_git_content_add(ferry_git_content *c, const ferry_export_spec *spec,
			  const ferry_source *src);

/**
 * Fetch every queued repository into the cache, select refs, follow
 * submodules, and write one git bundle file per repository that has new
 * objects. Errors name the repository (and the submodule and superproject
 * for a submodule): FERRY_EINVALID for content that fails the safety checks
 * or a spec that selects nothing, FERRY_ENOTFOUND for refs or commits that
 * do not exist, FERRY_ERROR for fetch failures.
 */
int ferry_git_content_collect(ferry_git_content *c, const ferry_git_options *opts);

/**
 * Write the tree of `object` (a commit, or an object that peels to one
 * such as an annotated tag; hex) of collected repository `name`, at `path`
 * inside it (NULL or "": the root), into the new directory `dir`, from the
 * cache (after ferry_git_content_collect). `owner` names what needs it in
 * messages. FERRY_ENOTFOUND when the repository was not collected or the
 * commit or the directory does not exist; FERRY_ETOOBIG and FERRY_EIO as
 * ferry_git_tree_write.
 */
int ferry_git_content_checkout(const ferry_git_content *c, const char *name,
			       const char *object, const char *path, const char *dir,
			       const char *owner);

/** Free everything and remove the bundle files. */
void ferry_git_content_dispose(ferry_git_content *c);

/** $XDG_CACHE_HOME/ferry or ~/.cache/ferry. Caller frees. */
char *ferry_git_cache_default_path(void);

/**
 * The default repository name for a URL or path: the URL's path without
 * a trailing ".git" ("https://host/org/app.git" gives "org/app"), or the
 * last component of a local path or file:// URL. FERRY_EINVALID when no
 * valid name results.
 */
int ferry_git_name_from_url(char **out, const char *url);

/**
 * Does `ref` (a full name) match `pattern`? A pattern that starts with
 * "refs/" matches the full name; any other matches under refs/heads/ and
 * refs/tags/. '*', '?' and '[...]' glob, '*' across '/' too.
 */
int ferry_git_ref_pattern_match(const char *pattern, const char *ref);

/**
 * Resolve a submodule URL from .gitmodules against the superproject's
 * URL: "./x" and "../x" are relative to it, anything else is absolute.
 */
int ferry_git_resolve_url(char **out, const char *super_url, const char *url);

#endif
