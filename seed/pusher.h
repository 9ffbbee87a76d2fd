/*
 * What the seed of each kind of target shares inside seed/: the pushers
 * (seed_oci.c for registries, seed_git.c for git servers, gitea.c for
 * Gitea and Forgejo) that seed.c runs, recording refused refs in a target's
 * result (result.c), and the git push that gitea.c borrows from
 * seed_git.c. Per item progress is kept with store/targets.h.
 */
#ifndef FERRY_SEED_PUSHER_H
#define FERRY_SEED_PUSHER_H

#include "seed.h"

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
