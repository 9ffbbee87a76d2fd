/*
 * Large sequential writes that bypass the page cache (O_DIRECT): the bytes
 * go from an aligned buffer to the disk, not first into cache pages the
 * kernel must allocate and copy into, then write back. Bytes are gathered
 * into an aligned buffer and written a chunk at a time; what is left at
 * the end (less than a chunk) is written through the cache. A file system
 * that refuses O_DIRECT (tmpfs) gets plain writes, the same bytes.
 *
 * Like every write, these are durable only after fsync or syncfs.
 */
#ifndef FERRY_CORE_DIRECT_H
#define FERRY_CORE_DIRECT_H

#include <stddef.h>
#include <stdint.h>

/* Chunk written at once, and the alignment of offsets and buffers. */
#define FERRY_DIRECT_CHUNK (1u << 20)
#define FERRY_DIRECT_ALIGN 4096u

typedef struct {
	int fd;              /* -1: none */
	int direct;          /* O_DIRECT is set on fd */
	unsigned char *buf;  /* FERRY_DIRECT_CHUNK bytes, aligned */
	size_t fill;         /* bytes gathered in buf ... */
	uint64_t at;         /* ... which go at this offset of fd */
} ferry_direct;

/** Allocate the buffer (FERRY_ENOMEM). */
int ferry_direct_init(ferry_direct *d);
void ferry_direct_dispose(ferry_direct *d);

/**
 * Start writing `fd` sequentially from `at`. O_DIRECT is set on `fd` when
 * `at` is aligned and the file system takes it; otherwise the writes go
 * through the cache. An earlier file must have been finished.
 */
void ferry_direct_begin(ferry_direct *d, int fd, uint64_t at);
/** Append `len` bytes. 0, or an errno value. */
int ferry_direct_write(ferry_direct *d, const void *data, size_t len);
/** Write what is gathered and clear O_DIRECT from the file, which is left
 *  open. 0, or an errno value. */
int ferry_direct_finish(ferry_direct *d);

#endif
