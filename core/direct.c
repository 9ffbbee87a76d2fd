/*
 * Sequential writes past the page cache (see direct.h).
 */
#define _GNU_SOURCE   /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "direct.h"
#include "fs.h"
#include "banned.h"

int ferry_direct_init(ferry_direct *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (!(d->buf = aligned_alloc(FERRY_DIRECT_ALIGN, FERRY_DIRECT_CHUNK)))
		return ferry_error_oom();
	return 0;
}

void ferry_direct_dispose(ferry_direct *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}

static int set_direct(int fd, int on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? flags | O_DIRECT : flags & ~O_DIRECT);
}

void ferry_direct_begin(ferry_direct *d, int fd, uint64_t at)
{
	d->fd = fd;
	d->fill = 0;
	d->at = at;
	d->direct = at % FERRY_DIRECT_ALIGN == 0 && set_direct(fd, 1) == 0;
}

/* Write the gathered chunk. A file system that takes O_DIRECT at open
 * but not this write (EINVAL) gets it, and the rest, through the cache. */
static int flush_chunk(ferry_direct *d)
{
	int error = ferry_fs_pwrite_all(d->fd, d->buf, d->fill, d->at);

	if (error == EINVAL && d->direct) {
		d->direct = 0;
		if (set_direct(d->fd, 0) < 0)
			return errno ? errno : EIO;
		error = ferry_fs_pwrite_all(d->fd, d->buf, d->fill, d->at);
	}
	if (!error) {
		d->at += d->fill;
		d->fill = 0;
	}
	return error;
}

int ferry_direct_write(ferry_direct *d, const void *data, size_t len)
{
	const unsigned char *p = data;
	int error;

	if (!d->direct) {
		if ((error = ferry_fs_pwrite_all(d->fd, p, len, d->at)) == 0)
			d->at += len;
		return error;
	}
	while (len > 0) {
		size_t n = FERRY_DIRECT_CHUNK - d->fill;

		/* A whole aligned chunk goes straight from the caller's buffer. */
		if (d->fill == 0 && len >= FERRY_DIRECT_CHUNK &&
		    (uintptr_t)p % FERRY_DIRECT_ALIGN == 0) {
			if ((error = ferry_fs_pwrite_all(d->fd, p, FERRY_DIRECT_CHUNK, d->at)) == EINVAL) {
				d->direct = 0;
				if (set_direct(d->fd, 0) < 0)
					return errno ? errno : EIO;
				return ferry_direct_write(d, p, len);
			}
			if (error)
				return error;
			d->at += FERRY_DIRECT_CHUNK;
			p += FERRY_DIRECT_CHUNK;
			len -= FERRY_DIRECT_CHUNK;
			continue;
		}

		if (n > len)
			n = len;
		memcpy(d->buf + d->fill, p, n);
		d->fill += n;
		p += n;
		len -= n;
		if (d->fill == FERRY_DIRECT_CHUNK && (error = flush_chunk(d)) != 0)
			return error;
	}
	return 0;
}

int ferry_direct_finish(ferry_direct *d)
{
	int error = 0;

	if (d->fd < 0)
		return 0;
	/* The rest is less than a chunk and of any length: through the cache. */
	if (d->direct && set_direct(d->fd, 0) < 0)
		error = errno ? errno : EIO;
	d->direct = 0;
	if (!error && d->fill)
		error = ferry_fs_pwrite_all(d->fd, d->buf, d->fill, d->at);
	d->at += d->fill;
	d->fill = 0;
	d->fd = -1;
	return error;
}
