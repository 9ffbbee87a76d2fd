/*
 * libgit2 errors as ferry errors: the one place that reads git_error_last().
 */
#ifndef FERRY_GIT_ERROR_H
#define FERRY_GIT_ERROR_H

/**
 * Record `code` as the thread's last ferry error with the message
 * "<formatted fmt>: <libgit2's last error message>" (or "unknown libgit2
 * error" when libgit2 recorded none) and return `code`, so a caller can
 * write `return ferry_git_error(FERRY_EIO, "cannot open '%s'", path);`.
 * Call it right after the failing libgit2 call, before anything else that
 * may reset libgit2's error.
 */
int ferry_git_error(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Nonzero when libgit2's last error says the remote has no such
 * repository (HTTP 404, or git daemon's "not exported" / "does not appear
 * to be a git repository"); 0 otherwise, and when there is no error.
 */
int ferry_git_error_no_repository(void);

#endif
