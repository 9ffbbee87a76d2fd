/*
 * Growable buffer with an optional size cap; see buf.h for the invariants.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "buf.h"
#include "banned.h"

int ferry_buf_grow(ferry_buf *b, size_t extra)
{
	size_t need, nsize;
	char *p;

	if (extra > SIZE_MAX - b->size - 1)
		return ferry_error_set(FERRY_ETOOBIG, "buffer size overflow");
	need = b->size + extra;
	if (b->limit && need > b->limit)
		return ferry_error_set(FERRY_ETOOBIG,
				       "content exceeds the limit of %zu bytes",
				       b->limit);
	if (need + 1 <= b->asize)
		return 0;
	nsize = b->asize ? b->asize : 64;
	while (nsize < need + 1)
		nsize = nsize > SIZE_MAX / 2 ? need + 1 : nsize * 2;
	p = realloc(b->ptr, nsize);
	if (!p)
		return ferry_error_oom();
	b->ptr = p;
	b->asize = nsize;
	b->ptr[b->size] = '\0';
	return 0;
}

int ferry_buf_put(ferry_buf *b, const void *data, size_t len)
{
	int error;

	if ((error = ferry_buf_grow(b, len)) < 0)
		return error;
	if (len)
		memcpy(b->ptr + b->size, data, len);
	b->size += len;
	b->ptr[b->size] = '\0';
	return 0;
}

int ferry_buf_puts(ferry_buf *b, const char *s)
{
	return ferry_buf_put(b, s, strlen(s));
}

int ferry_buf_vprintf(ferry_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, error;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return ferry_error_set(FERRY_EINVALID, "bad format string");
	if ((error = ferry_buf_grow(b, (size_t)n)) < 0)
		return error;
	vsnprintf(b->ptr + b->size, (size_t)n + 1, fmt, ap);
	b->size += (size_t)n;
	return 0;
}

int ferry_buf_printf(ferry_buf *b, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = ferry_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return error;
}

void ferry_buf_printf_best_effort(ferry_buf *b, const char *fmt, ...)
{
	char saved[1024];   /* the size of the last-error slot */
	int code = ferry_error_last_code();
	va_list ap;
	int error;

	snprintf(saved, sizeof(saved), "%s", ferry_error_last());
	va_start(ap, fmt);
	error = ferry_buf_vprintf(b, fmt, ap);
	va_end(ap);
	if (error < 0 && code)
		ferry_error_set(code, "%s", saved);
	else if (error < 0)
		ferry_error_clear();
}

void ferry_buf_clear(ferry_buf *b)
{
	b->size = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

void ferry_buf_dispose(ferry_buf *b)
{
	size_t limit = b->limit;

	free(b->ptr);
	b->ptr = NULL;
	b->size = b->asize = 0;
	b->limit = limit;
}

char *ferry_buf_detach(ferry_buf *b)
{
	char *p = b->ptr;

	if (!p)
		p = calloc(1, 1);
	b->ptr = NULL;
	b->size = b->asize = 0;
	return p;
}
