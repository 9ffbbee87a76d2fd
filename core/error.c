/*
 * Thread-local last-error slot. Every failing function records one line
 * describing the problem; callers higher up return the code unchanged so the
 * most specific message survives to the command that prints it.
 *
 * Messages embed outside text (member names, references, paths from a
 * bundle or a request), so the slot is the one place they are made safe:
 * every message is passed through ferry_escape_bytes() when it is recorded,
 * and whatever prints, logs or audits it gets one line with no control
 * bytes or invalid UTF-8.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ferry/errors.h"
#include "util.h"

static _Thread_local char last_message[1024];
static _Thread_local int last_code;

static void vset(int code, int with_errno, int saved_errno, const char *fmt,
		 va_list ap)
{
	char raw[sizeof(last_message)];
	int n = vsnprintf(raw, sizeof(raw), fmt, ap);

	if (with_errno && n >= 0 && (size_t)n < sizeof(raw))
		snprintf(raw + n, sizeof(raw) - (size_t)n, ": %s",
			 strerror(saved_errno));
	ferry_escape_bytes(last_message, sizeof(last_message), raw, strlen(raw));
	last_code = code;
}

int ferry_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(code, 0, 0, fmt, ap);
	va_end(ap);
	return code;
}

int ferry_error_set_errno(int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vset(code, 1, saved, fmt, ap);
	va_end(ap);
	return code;
}

int ferry_error_wrap(int code, const char *fmt, ...)
{
	char previous[sizeof(last_message)], raw[sizeof(last_message)];
	va_list ap;
	int n;

	memcpy(previous, last_message, sizeof(previous));
	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* The previous message is cut to what fits: the new context comes first. */
	if (n >= 0 && (size_t)n < sizeof(raw) && previous[0] &&
	    snprintf(raw + n, sizeof(raw) - (size_t)n, ": %s", previous) < 0)
		raw[n] = '\0';
	/* The previous message is already escaped; escaping is idempotent. */
	ferry_escape_bytes(last_message, sizeof(last_message), raw, strlen(raw));
	last_code = code;
	return code;
}

int ferry_error_oom(void)
{
	return ferry_error_set(FERRY_ENOMEM, "out of memory");
}

const char *ferry_error_last(void)
{
	return last_message;
}

int ferry_error_last_code(void)
{
	return last_code;
}

void ferry_error_clear(void)
{
	last_message[0] = '\0';
	last_code = FERRY_OK;
}

const char *ferry_error_name(int code)
{
	switch (code) {
	case FERRY_OK: return "ok";
	case FERRY_ENOTFOUND: return "not found";
	case FERRY_EEXISTS: return "already exists";
	case FERRY_EINVALID: return "invalid input";
	case FERRY_ECORRUPT: return "corrupt content";
	case FERRY_EVERIFY: return "verification failed";
	case FERRY_EUNSUPPORTED: return "unsupported";
	case FERRY_ETOOBIG: return "too big";
	case FERRY_EIO: return "i/o error";
	case FERRY_ENOMEM: return "out of memory";
	default: return "error";
	}
}
