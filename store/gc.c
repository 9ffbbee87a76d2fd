/*
 * Garbage collection of the store's blobs: mark what the tags reach
 * (indexes, manifests, configs, layers), then delete every other blob,
 * forgetting its record before removing its file.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "fs.h"
#include "hash.h"
#include "private.h"
#include "banned.h"

typedef struct {
	char (*hex)[FERRY_SHA256_HEX_LEN + 1];
	size_t n, cap;
} hex_set;

static int hex_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The set is kept sorted: lookups while marking and during the sweep are
 * binary searches. Adds `hex` unless present; 1 when it was new. */
static int set_add(hex_set *s, const char *hex)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->hex[mid], hex);

		if (!c)
			return 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *grown = realloc(s->hex, cap * sizeof(*s->hex));

		if (!grown)
			return ferry_error_set(FERRY_ENOMEM, "out of memory");
		s->hex = grown;
		s->cap = cap;
	}
	memmove(s->hex[lo + 1], s->hex[lo], (s->n - lo) * sizeof(*s->hex));
	memcpy(s->hex[lo], hex, FERRY_SHA256_HEX_LEN + 1);
	s->n++;
	return 1;
}

/* Mark `digest` live; with `open`, it is a manifest or an index: read it
 * and mark what it refers to. Configs and layers are never read. */
static int mark(ferry_store *st, hex_set *live, const char *digest, int open, int depth)
{
	ferry_buf path = FERRY_BUF_INIT, body = FERRY_BUF_INIT;
	json_t *doc = NULL, *d;
	size_t i;
	int error = 0;

	if (!digest || strncmp(digest, "sha256:", 7) || !ferry_sha256_hex_valid(digest + 7) ||
	    depth > 16)
		return 0;
	if ((error = set_add(live, digest + 7)) <= 0 || !open)
		return error < 0 ? error : 0;   /* 0: held already, or not a document */
	error = 0;
	if ((error = ferry_store_blob_path(&path, st, digest + 7)) < 0)
		goto done;
	if (ferry_fs_read_file(&body, path.ptr, 4u << 20) < 0 ||
	    !(doc = json_loadb(body.ptr, body.size, 0, NULL)))
		goto done;
	error = mark(st, live, json_string_value(json_object_get(json_object_get(doc, "config"),
							       "digest")), 0, depth + 1);
	json_array_foreach(json_object_get(doc, "layers"), i, d)
		if (!error)
			error = mark(st, live, json_string_value(json_object_get(d, "digest")), 0,
				     depth + 1);
	json_array_foreach(json_object_get(doc, "manifests"), i, d)
		if (!error)
			error = mark(st, live, json_string_value(json_object_get(d, "digest")), 1,
				     depth + 1);
done:
	ferry_error_clear();
	json_decref(doc);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&body);
	return error;
}

typedef struct {
	ferry_store *st;
	hex_set *live;
} mark_tags;

static int mark_tag(const ferry_store_tag *t, void *payload)
{
	mark_tags *m = payload;

	return mark(m->st, m->live, t->digest, 1, 0);
}

int ferry_store_gc(ferry_store *st, int dry_run, size_t *removed,
		   uint64_t *removed_bytes, size_t *kept)
{
	hex_set live = { NULL, 0, 0 };
	mark_tags mark_ctx;
	ferry_buf dir = FERRY_BUF_INIT, path = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d = NULL;
	int error = 0;

	*removed = *kept = 0;
	*removed_bytes = 0;
	if (st->lock_fd < 0)
		return ferry_error_set(FERRY_EINVALID, "gc needs the store's write lock");
	mark_ctx.st = st;
	mark_ctx.live = &live;
	if ((error = ferry_store_tag_foreach(st, mark_tag, &mark_ctx)) < 0)
		goto done;
	if ((error = ferry_store_path(&dir, st->root, "blobs/sha256")) < 0)
		goto done;
	if (!(d = opendir(dir.ptr))) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", dir.ptr);
		goto done;
	}
	while ((e = readdir(d))) {
		struct stat s;

		if (e->d_name[0] == '.')
			continue;
		if (bsearch(e->d_name, live.hex, live.n, sizeof(*live.hex), hex_cmp)) {
			(*kept)++;
			continue;
		}
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir.ptr, e->d_name)) < 0)
			break;
		if (stat(path.ptr, &s) == 0)
			*removed_bytes += (uint64_t)s.st_size;
		(*removed)++;
		if (dry_run)
			continue;
		/* The record goes first: a crash in between leaves an unrecorded
		 * file, which the next gc removes, never a record of a missing blob. */
		if ((error = ferry_store_blob_forget(st, e->d_name)) < 0)
			break;
		if (unlink(path.ptr) < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot remove '%s'", path.ptr);
			break;
		}
	}
	if (!error && !dry_run)
		error = ferry_fs_fsync_parent(path.ptr ? path.ptr : dir.ptr);
done:
	if (d)
		closedir(d);
	free(live.hex);
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&path);
	return error;
}
