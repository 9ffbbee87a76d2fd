/*
 * HTML output and form input for the console (html.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "html.h"
#include "util.h"
#include "banned.h"

static void fail(ferry_html *h, int error)
{
	if (!h->error)
		h->error = error;
}

void ferry_html_raw(ferry_html *h, const char *markup)
{
	int error;

	if (!h->error && (error = ferry_buf_puts(&h->b, markup)) < 0)
		fail(h, error);
}

void ferry_html_text(ferry_html *h, const char *s)
{
	char *plain, *p;
	int error = 0;

	if (h->error)
		return;
	if (!s)
		s = "";
	if (!(plain = ferry_escape_dup(s))) {
		fail(h, ferry_error_oom());
		return;
	}
	for (p = plain; *p && !error; p++) {
		switch (*p) {
		case '&': error = ferry_buf_puts(&h->b, "&amp;"); break;
		case '<': error = ferry_buf_puts(&h->b, "&lt;"); break;
		case '>': error = ferry_buf_puts(&h->b, "&gt;"); break;
		case '"': error = ferry_buf_puts(&h->b, "&quot;"); break;
		case '\'': error = ferry_buf_puts(&h->b, "&#39;"); break;
		default: error = ferry_buf_put(&h->b, p, 1); break;
		}
	}
	free(plain);
	if (error < 0)
		fail(h, error);
}

void ferry_html_lines(ferry_html *h, const char *s)
{
	const char *nl;
	char *line;

	for (; s && !h->error; s = nl + 1) {
		if (!(nl = strchr(s, '\n'))) {
			ferry_html_text(h, s);
			return;
		}
		if (!(line = strndup(s, (size_t)(nl - s)))) {
			fail(h, ferry_error_oom());
			return;
		}
		ferry_html_text(h, line);
		free(line);
		ferry_html_raw(h, "\n");
	}
}

void ferry_html_url(ferry_html *h, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int error = 0;

	for (; s && *s && !h->error && !error; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			error = ferry_buf_put(&h->b, s, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			error = ferry_buf_put(&h->b, e, 3);
		}
	}
	if (error < 0)
		fail(h, error);
}

void ferry_html_printf(ferry_html *h, const char *fmt, ...)
{
	va_list ap;
	const char *p, *start = fmt;
	char num[32];
	int error = 0;

	va_start(ap, fmt);
	for (p = fmt; *p && !h->error && !error; p++) {
		if (*p != '%')
			continue;
		if (p > start && (error = ferry_buf_put(&h->b, start, (size_t)(p - start))) < 0)
			break;
		p++;
		if (*p == 's') {
			ferry_html_text(h, va_arg(ap, const char *));
		} else if (*p == '.' && p[1] >= '0' && p[1] <= '9') {
			/* %.Ns: at most N bytes of the text (whole characters) */
			size_t max = 0;
			const char *arg;
			char *cut;

			for (p++; *p >= '0' && *p <= '9' && max < 100000; p++)
				max = max * 10 + (size_t)(*p - '0');
			if (*p != 's') {
				error = ferry_error_set(FERRY_EINVALID, "html format: unknown "
							"conversion");
				break;
			}
			arg = va_arg(ap, const char *);
			if (!arg)
				arg = "";
			if (strlen(arg) > max) {
				/* back off to the start of a UTF-8 character */
				while (max > 0 && ((unsigned char)arg[max] & 0xc0) == 0x80)
					max--;
			} else {
				max = strlen(arg);
			}
			if (!(cut = strndup(arg, max))) {
				error = ferry_error_oom();
				break;
			}
			ferry_html_text(h, cut);
			free(cut);
		} else if (*p == '%') {
			error = ferry_buf_puts(&h->b, "%");
		} else if (*p == 'd') {
			snprintf(num, sizeof(num), "%d", va_arg(ap, int));
			error = ferry_buf_puts(&h->b, num);
		} else if (*p == 'u') {
			snprintf(num, sizeof(num), "%u", va_arg(ap, unsigned));
			error = ferry_buf_puts(&h->b, num);
		} else if (*p == 'z' && p[1] == 'u') {
			p++;
			snprintf(num, sizeof(num), "%zu", va_arg(ap, size_t));
			error = ferry_buf_puts(&h->b, num);
		} else if (*p == 'l' && p[1] == 'd') {
			p++;
			snprintf(num, sizeof(num), "%ld", va_arg(ap, long));
			error = ferry_buf_puts(&h->b, num);
		} else if (*p == 'l' && p[1] == 'u') {
			p++;
			snprintf(num, sizeof(num), "%lu", va_arg(ap, unsigned long));
			error = ferry_buf_puts(&h->b, num);
		} else if (*p == 'l' && p[1] == 'l' && p[2] == 'd') {
			p += 2;
			snprintf(num, sizeof(num), "%lld", va_arg(ap, long long));
			error = ferry_buf_puts(&h->b, num);
		} else if (*p == 'l' && p[1] == 'l' && p[2] == 'u') {
			p += 2;
			snprintf(num, sizeof(num), "%llu", va_arg(ap, unsigned long long));
			error = ferry_buf_puts(&h->b, num);
		} else {
			error = ferry_error_set(FERRY_EINVALID, "html format: unknown conversion");
			break;
		}
		start = p + 1;
	}
	va_end(ap);
	if (!error && !h->error && p > start)
		error = ferry_buf_put(&h->b, start, (size_t)(p - start));
	if (error < 0)
		fail(h, error);
}

void ferry_html_dispose(ferry_html *h)
{
	ferry_buf_dispose(&h->b);
	h->error = 0;
}

static int decode(char **out, const char *s, size_t len)
{
	char *d = malloc(len + 1);
	size_t i, n = 0;

	if (!d)
		return ferry_error_oom();
	if (memchr(s, '\0', len)) {
		free(d);
		return ferry_error_set(FERRY_EINVALID, "a form field holds a NUL byte");
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '+') {
			d[n++] = ' ';
		} else if (s[i] == '%') {
			int hi = i + 1 < len ? ferry_hex_digit((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < len ? ferry_hex_digit((unsigned char)s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(d);
				return ferry_error_set(FERRY_EINVALID, "a malformed form field");
			}
			d[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			d[n++] = s[i];
		}
	}
	d[n] = '\0';
	*out = d;
	return 0;
}

int ferry_form_value(char **out, const char *body, size_t len, const char *key)
{
	size_t klen = strlen(key), at = 0;

	*out = NULL;
	while (body && at < len) {
		const char *field = body + at, *amp = memchr(field, '&', len - at);
		size_t flen = amp ? (size_t)(amp - field) : len - at;

		if (flen > klen && !memcmp(field, key, klen) && field[klen] == '=')
			return decode(out, field + klen + 1, flen - klen - 1);
		if (flen == klen && !memcmp(field, key, klen))
			return decode(out, "", 0);
		at += flen + 1;
	}
	return FERRY_ENOTFOUND;
}

int ferry_cookie_value(char *out, size_t len, const char *header, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p && *p) {
		const char *end;
		size_t vlen;

		p += strspn(p, " \t");
		end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
			vlen = (size_t)(end - p) - nlen - 1;
			if (vlen + 1 > len)
				return FERRY_ENOTFOUND;
			memcpy(out, p + nlen + 1, vlen);
			out[vlen] = '\0';
			return 0;
		}
		p = *end ? end + 1 : end;
	}
	return FERRY_ENOTFOUND;
}
