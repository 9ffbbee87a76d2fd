/*
 * Writing the console's HTML: a page buffer whose appends remember their
 * first failure (so a page is built without a check after every line, and
 * a page that lost a piece is never sent), a printf whose every %s is
 * escaped, and the small readers of what a browser sends (form bodies and
 * cookies). Every string from outside reaches a page through %s or
 * ferry_html_text(): control bytes and invalid UTF-8 become "\xNN" (as in
 * terminals and logs, util.h), then & < > " ' become entities.
 */
#ifndef FERRY_CONSOLE_HTML_H
#define FERRY_CONSOLE_HTML_H

#include <stddef.h>

#include "buf.h"

typedef struct {
	ferry_buf b;
	int error;        /* the first failed append, or 0 */
} ferry_html;

#define FERRY_HTML_INIT { FERRY_BUF_INIT, 0 }

/**
 * Append `fmt`, where every %s argument is escaped text and the rest of
 * `fmt` is markup; %.Ns keeps at most N bytes (whole characters) of it;
 * %d %u %ld %lu %lld %llu %zu and %% are as printf's (no flags or widths). A conversion it does not know fails the
 * page with FERRY_EINVALID.
 */
void ferry_html_printf(ferry_html *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Append markup as is (a literal of the console's own). */
void ferry_html_raw(ferry_html *h, const char *markup);
/** Append escaped text. */
void ferry_html_text(ferry_html *h, const char *s);
/** Append escaped text whose line breaks are kept (for <pre> and cells
 *  shown with white-space: pre-wrap). */
void ferry_html_lines(ferry_html *h, const char *s);
/** Append `s` percent-encoded for a URL path segment or query value. */
void ferry_html_url(ferry_html *h, const char *s);
void ferry_html_dispose(ferry_html *h);

/**
 * The value of `key` in an application/x-www-form-urlencoded `body` of
 * `len` bytes (the first one when repeated), decoded, into `*out` (the
 * caller frees): 0; FERRY_ENOTFOUND when absent; FERRY_EINVALID when its
 * encoding is malformed or it decodes to a NUL byte.
 */
int ferry_form_value(char **out, const char *body, size_t len, const char *key);

/**
 * The value of cookie `name` in a Cookie header `header` into `out` (`len`
 * bytes with the NUL): 0; FERRY_ENOTFOUND when absent or longer than fits.
 */
int ferry_cookie_value(char *out, size_t len, const char *header, const char *name);

#endif
