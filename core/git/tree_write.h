/*
 * Writing a git tree into a directory: what the reconciler checks out from
 * the store to render a stack, and what export checks out from its git
 * cache to render a deployment. Regular files and directories only:
 * symbolic links and submodules are not written, and every file counts
 * against a size limit so a hostile repository cannot fill the disk.
 */
#ifndef FERRY_GIT_TREE_WRITE_H
#define FERRY_GIT_TREE_WRITE_H

#include <stdint.h>

#include <git2.h>

#define FERRY_CHECKOUT_FILE_MAX ((uint64_t)64 << 20)   /* one file */
#define FERRY_CHECKOUT_TOTAL_MAX ((uint64_t)1 << 30)   /* one checkout */

/**
 * Count a file of `size` bytes named `name` against the checkout's
 * running `*total`. FERRY_ETOOBIG, naming `owner` (e.g. "stack 'web'")
 * and the file, when the file or the checkout grows beyond its limit.
 */
int ferry_checkout_admit(uint64_t *total, const char *owner, const char *name,
			 uint64_t size);

/**
 * Write `tree` of `repo` into the existing, empty directory `dir`,
 * counting into `*total` (start at 0). `owner` names what is checked out
 * in messages. FERRY_ETOOBIG (limits), FERRY_EIO (libgit2 or the file
 * system), FERRY_EINVALID (a tree nested too deep).
 */
int ferry_git_tree_write(git_repository *repo, const git_tree *tree, const char *dir,
			 const char *owner, uint64_t *total);

#endif
