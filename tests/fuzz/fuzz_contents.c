/*
 * Fuzz target: the contents entry of format 2 (bundle-format/contents.c),
 * read line by line into a manifest. The input's first byte picks whether
 * the bundle carries all its bindings or the changes since a base and how
 * the rest is cut into chunks; the rest is the entry, with the size and
 * digest the envelope would state for it, so that the lines themselves are
 * what gets tested. What reads must write out again, and read back to the
 * same lists.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "contents.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int collect(void *arg, const void *buf, size_t len)
{
	return ferry_buf_put(arg, buf, len);
}

/* Read `size` bytes cut into `chunk`s into a new manifest. */
static int read_contents(ferry_manifest **out, int all, const uint8_t *data, size_t size,
			 size_t chunk)
{
	ferry_contents_reader *r = NULL;
	ferry_manifest *m = NULL;
	size_t at = 0;
	int error;

	if ((error = ferry_manifest_new(&m, "fuzz")) < 0)
		return error;
	m->sequence = 2;
	m->bindings_all = all;
	m->base_sequence = all ? 0 : 1;
	m->contents_size = size;
	m->contents_pending = 1;
	if ((error = ferry_sha256_hex(m->contents_sha256, data, size)) < 0 ||
	    (error = ferry_contents_reader_new(&r, m)) < 0)
		goto done;
	while (at < size && !error) {
		size_t n = size - at < chunk ? size - at : chunk;

		error = ferry_contents_reader_data(r, data + at, n);
		at += n;
	}
	/* A full bundle states the state its bindings make: take it from
	 * them, so that the lines rather than the state are what is refused. */
	if (!error && all && ferry_manifest_images_state(m->state_sha256, m) == 0)
		m->state_images = m->nimages;
	if (!error)
		error = ferry_contents_reader_end(r);
done:
	ferry_contents_reader_free(r);
	if (error < 0) {
		ferry_manifest_free(m);
		return error;
	}
	*out = m;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ferry_manifest *m = NULL, *back = NULL;
	ferry_buf again = FERRY_BUF_INIT;
	int all;
	size_t chunk;

	if (size < 1)
		return 0;
	all = !(data[0] & 1);
	chunk = 1 + (data[0] >> 1);
	if (read_contents(&m, all, data + 1, size - 1, chunk) < 0)
		return 0;
	if (ferry_contents_write(m, collect, &again) != 0 ||
	    read_contents(&back, all, (const uint8_t *)again.ptr, again.size, 4096) != 0 ||
	    back->nmembers != m->nmembers || back->nimages != m->nimages ||
	    back->nremoved != m->nremoved || back->nprereq_blobs != m->nprereq_blobs)
		__builtin_trap();
	ferry_manifest_free(back);
	ferry_manifest_free(m);
	ferry_buf_dispose(&again);
	return 0;
}
