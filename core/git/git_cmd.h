/*
 * Running the git command. The export fetches anonymous remote sources
 * with `git fetch` and writes the packs of its git bundle files with
 * `git pack-objects`, which reuse what the packs they read already hold;
 * the import indexes a received pack with `git index-pack` where git is
 * installed, libgit2's indexer otherwise (see docs/architecture.md, "Git at
 * scale").
 */
#ifndef FERRY_CORE_GIT_CMD_H
#define FERRY_CORE_GIT_CMD_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/** A running git command (see ferry_git_start). */
typedef struct {
	pid_t pid;
	FILE *err;             /* its standard error */
	const char *sub;       /* its subcommand, for messages (borrowed) */
	int in;                /* its standard input (ferry_git_start_fed), or -1 */
} ferry_git_child;

/* How ferry_git_start_fed runs git. */
#define FERRY_GIT_NO_CONFIG 1u   /* no configuration, no GIT_* variables */

/**
 * Start `git` with `argv` (argv[0] is "git", NULL-terminated; no shell),
 * its standard output going to `out_fd` (-1: /dev/null), its standard error
 * to a temporary file, never prompting. `input` (`inputlen` bytes, NULL for
 * none) is written to its standard input, which is then closed: the
 * command must read all of it before it writes much (as pack-objects and
 * fetch do). `argv` must outlive the child. Returns 0 and a child to end
 * with ferry_git_finish() or ferry_git_abort(); FERRY_ENOTFOUND when there
 * is no git command on PATH (the message says the export side needs git);
 * FERRY_EIO when it cannot be started or fed.
 */
int ferry_git_start(ferry_git_child *out, const char *const *argv, int out_fd,
		     const void *input, size_t inputlen);

/**
 * Start `git` with `argv` as ferry_git_start() does, but with its standard
 * input left open: the caller writes it through `out->in` (with SIGPIPE
 * blocked, see ferry_git_write) and closes it, then calls
 * ferry_git_finish() (which closes it when the caller has not). `flags`:
 * FERRY_GIT_NO_CONFIG runs git with no system or global configuration and
 * none of the caller's GIT_* variables, for commands whose behaviour must
 * not depend on the host's settings.
 */
int ferry_git_start_fed(ferry_git_child *out, const char *const *argv, int out_fd,
			unsigned flags);

/**
 * Write `len` bytes to the child's standard input. 0, or FERRY_EIO when
 * git stopped reading (it failed: ferry_git_finish() says why).
 */
int ferry_git_write(ferry_git_child *c, const void *data, size_t len);

/**
 * Wait for the child. 0 when it exited with status 0; otherwise FERRY_ERROR
 * with "git <subcommand>: <its last line of standard error>".
 */
int ferry_git_finish(ferry_git_child *c);

/** End the child (SIGTERM) and wait for it; for failures elsewhere. */
void ferry_git_abort(ferry_git_child *c);

/** ferry_git_start() then ferry_git_finish(). */
int ferry_git_run(const char *const *argv, int out_fd, const void *input, size_t inputlen);

#endif
