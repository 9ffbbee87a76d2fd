/*
 * Running the git command on the connected side: the export fetches
 * anonymous remote sources with `git fetch` and writes the packs of its git
 * bundle files with `git pack-objects`, which reuse what the packs they
 * read already hold (see docs/architecture.md, "Git at scale"). The
 * enclave never runs git.
 *
 * Internal to the git source module.
 */
#ifndef FERRY_EXPORT_GIT_CMD_H
#define FERRY_EXPORT_GIT_CMD_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/** A running git command (see ferry_git__start). */
typedef struct {
	pid_t pid;
	FILE *err;             /* its standard error */
	const char *sub;       /* its subcommand, for messages (borrowed) */
} ferry_git__child;

/**
 * Start `git` with `argv` (argv[0] is "git", NULL-terminated; no shell),
 * its standard output going to `out_fd` (-1: /dev/null), its standard error
 * to a temporary file, never prompting. `input` (`inputlen` bytes, NULL for
 * none) is written to its standard input, which is then closed: the
 * command must read all of it before it writes much (as pack-objects and
 * fetch do). `argv` must outlive the child. Returns 0 and a child to end
 * with ferry_git__finish() or ferry_git__abort(); FERRY_ENOTFOUND when there
 * is no git command on PATH (the message says the export side needs git);
 * FERRY_EIO when it cannot be started or fed.
 */
int ferry_git__start(ferry_git__child *out, const char *const *argv, int out_fd,
		     const void *input, size_t inputlen);

/**
 * Wait for the child. 0 when it exited with status 0; otherwise FERRY_ERROR
 * with "git <subcommand>: <its last line of standard error>".
 */
int ferry_git__finish(ferry_git__child *c);

/** End the child (SIGTERM) and wait for it; for failures elsewhere. */
void ferry_git__abort(ferry_git__child *c);

/** ferry_git__start() then ferry_git__finish(). */
int ferry_git__run(const char *const *argv, int out_fd, const void *input, size_t inputlen);

#endif
