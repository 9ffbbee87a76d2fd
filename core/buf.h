/*
 * A growable byte buffer (after git's strbuf and curl's dynbuf).
 *
 * Invariants: `ptr` is NULL only while `asize` is 0; otherwise ptr[size] is
 * always '\0' so the content can be used as a C string. A non-zero `limit`
 * caps `size`: growing past it fails with FERRY_ETOOBIG and leaves the buffer
 * unchanged. Buffers fed by untrusted input must set a limit.
 */
#ifndef FERRY_CORE_BUF_H
#define FERRY_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
	char *ptr;
	size_t size;
	size_t asize;
	size_t limit; /* 0: no limit */
} ferry_buf;

#define FERRY_BUF_INIT { NULL, 0, 0, 0 }

/** Make room for `extra` more bytes (plus the terminating NUL). */
int ferry_buf_grow(ferry_buf *b, size_t extra);
/*
 * The appends return 0, or FERRY_ENOMEM or FERRY_ETOOBIG with the buffer
 * unchanged. Their result must be used: text that is stored, sent or
 * parsed is wrong when an append is lost. A message for a person, where a
 * shorter text will do, is built with ferry_buf_printf_best_effort().
 */
/** Append `len` bytes. */
int ferry_buf_put(ferry_buf *b, const void *data, size_t len)
	__attribute__((warn_unused_result));
/** Append a C string. */
int ferry_buf_puts(ferry_buf *b, const char *s)
	__attribute__((warn_unused_result));
/** Append formatted text. */
int ferry_buf_printf(ferry_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), warn_unused_result));
int ferry_buf_vprintf(ferry_buf *b, const char *fmt, va_list ap)
	__attribute__((warn_unused_result));
/**
 * Append formatted text to a message meant only for a person (an error's
 * detail, a log line) where a shorter text is acceptable: when the append
 * fails the buffer is left as it was and the thread's last error is kept,
 * so a failure being described is not replaced by "out of memory". Never
 * for text that is stored, signed, sent, executed, compared or parsed.
 */
void ferry_buf_printf_best_effort(ferry_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Empty the buffer, keeping its allocation. */
void ferry_buf_clear(ferry_buf *b);
/** Free the allocation and reset to FERRY_BUF_INIT (the limit is kept). */
void ferry_buf_dispose(ferry_buf *b);
/** Hand the content to the caller (free() it); the buffer is reset. */
char *ferry_buf_detach(ferry_buf *b);

#endif
