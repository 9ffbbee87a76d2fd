/*
 * Converts libgit2's thread-local last error into ferry's, so every part
 * that drives libgit2 reports its failures in one shape and no module but
 * this one reads libgit2's error struct.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <git2.h>

#include "ferry/errors.h"
#include "git_error.h"
#include "banned.h"

int ferry_git_error(int code, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ferry_error_set(code, "%s: %s", what,
			       e && e->message ? e->message : "unknown libgit2 error");
}

int ferry_git_error_no_repository(void)
{
	const git_error *e = git_error_last();

	return e && e->message &&
	       (strstr(e->message, "status code: 404") ||
		strstr(e->message, "repository not exported") ||
		strstr(e->message, "does not appear to be a git repository"));
}
