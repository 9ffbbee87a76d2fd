/*
 * Garbage collection of the store's blobs: mark what the tags reach
 * (indexes, manifests, configs, layers, subjects) with the OCI walk, then
 * delete every other blob, forgetting its record before removing its file.
 * Marking fails closed: a tag whose documents cannot be read whole stops
 * gc before it deletes anything.
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
#include "digest.h"
#include "fs.h"
#include "hash.h"
#include "private.h"
#include "walk.h"
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
			return ferry_error_oom();
		s->hex = grown;
		s->cap = cap;
	}
	memmove(s->hex[lo + 1], s->hex[lo], (s->n - lo) * sizeof(*s->hex));
	memcpy(s->hex[lo], hex, FERRY_SHA256_HEX_LEN + 1);
	s->n++;
	return 1;
}

typedef struct {
	ferry_store *st;
	hex_set *live;
} marker;

/* Every descriptor met is live; a document already marked is not read
 * again (its children are marked already). */
static int mark_visit(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth,
		      void *payload)
{
	marker *m = payload;
	int added;

	(void)role;
	(void)depth;
	if ((added = set_add(m->live, desc->hex)) < 0)
		return added;
	return added ? 0 : 1;
}

static int mark_load(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload)
{
	marker *m = payload;
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_store_blob_path(&path, m->st, desc->hex)) == 0)
		error = ferry_fs_read_file(body, path.ptr, FERRY_OCI_INDEX_MAX_SIZE);
	ferry_buf_dispose(&path);
	return error;
}

/* Mark what the tag reaches. Its document must be in the store and whole,
 * and so must every manifest below it: a walk that cannot read one cannot
 * know what it keeps alive, so gc stops before deleting anything. */
static int mark_tag(const ferry_store_tag *t, void *payload)
{
	marker *m = payload;
	ferry_oci_walk_options o = FERRY_OCI_WALK_OPTIONS_INIT;
	ferry_oci_descriptor root;
	ferry_buf what = FERRY_BUF_INIT, path = FERRY_BUF_INIT;
	struct stat s;
	int error;

	memset(&root, 0, sizeof(root));
	if ((error = ferry_buf_printf(&what, "tag '%s'", t->reference)) < 0 ||
	    (error = ferry_oci_digest_parse(root.hex, t->digest)) < 0 ||
	    (error = ferry_store_blob_path(&path, m->st, root.hex)) < 0)
		goto done;
	if (stat(path.ptr, &s) < 0) {
		error = ferry_error_set_errno(FERRY_ECORRUPT, "%s: its document %s is not in the "
					      "store", what.ptr, t->digest);
		goto done;
	}
	root.digest = t->digest;
	root.media_type = t->media_type;
	root.size = (uint64_t)s.st_size;
	o.load = mark_load;
	o.visit = mark_visit;
	o.flags = FERRY_OCI_SUBJECTS;
	o.what = what.ptr;
	o.payload = m;
	error = ferry_oci_walk(&o, &root);
done:
	ferry_buf_dispose(&what);
	ferry_buf_dispose(&path);
	return error;
}

int ferry_store_gc(ferry_store *st, int dry_run, size_t *removed,
		   uint64_t *removed_bytes, size_t *kept)
{
	hex_set live = { NULL, 0, 0 };
	marker mark_ctx;
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
	if ((error = ferry_store_tag_foreach(st, mark_tag, &mark_ctx)) < 0) {
		error = ferry_error_wrap(error, "gc of '%s' stopped before deleting anything",
					 st->root);
		goto done;
	}
	if ((error = ferry_oci_blob_dir(&dir, st->root)) < 0)
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
