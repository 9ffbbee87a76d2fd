/*
 * Garbage collection of the store's blobs: mark what the tags reach
 * (indexes, manifests, configs, layers, subjects) with the tag closure
 * (closure.h), list every other blob, then delete exactly that list,
 * forgetting each record before removing its file. Marking fails closed:
 * a store without a trust root, or a tag whose documents cannot be read
 * whole (missing, truncated, oversized, nested too deep), stops gc before
 * it deletes anything. A dry run lists what a run would delete.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "closure.h"
#include "digest.h"
#include "fs.h"
#include "private.h"
#include "banned.h"

static int mark_tag(const ferry_store_tag *t, void *payload)
{
	ferry_store_closure_options o = FERRY_STORE_CLOSURE_OPTIONS_INIT;
	ferry_store_closure *live = ((void **)payload)[0];
	const ferry_store *st = ((void **)payload)[1];
	ferry_buf what = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_buf_printf(&what, "tag '%s'", t->reference)) < 0)
		return error;
	o.what = what.ptr;
	error = ferry_store_closure_add(live, st, &o, t->digest, t->media_type);
	ferry_buf_dispose(&what);
	return error;
}

/* A blob's file name: 64 lowercase hex digits. Anything else in the
 * directory is not a blob and not gc's to delete. */
static int is_blob_name(const char *name)
{
	char hex[FERRY_SHA256_HEX_LEN + 1];
	ferry_buf digest = FERRY_BUF_INIT;
	int ok;

	ok = strlen(name) == FERRY_SHA256_HEX_LEN &&
	     ferry_buf_printf(&digest, "sha256:%s", name) == 0 &&
	     ferry_oci_digest_parse(hex, digest.ptr) == 0 && !strcmp(hex, name);
	ferry_buf_dispose(&digest);
	ferry_error_clear();
	return ok;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The blobs no tag reaches, sorted, with their total size. */
static int sweep_list(ferry_store_gc_result *out, const ferry_store_closure *live,
		      const char *dir)
{
	ferry_buf path = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d;
	int error = 0;

	if (!(d = opendir(dir)))
		return ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", dir);
	while ((e = readdir(d))) {
		struct stat s;

		if (!is_blob_name(e->d_name))
			continue;
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir, e->d_name)) < 0)
			break;
		if (lstat(path.ptr, &s) < 0 || !S_ISREG(s.st_mode))
			continue;
		if (ferry_store_closure_has(live, e->d_name)) {
			out->kept++;
			continue;
		}
		if ((error = ferry_strv_push(&out->removed, e->d_name)) < 0)
			break;
		out->removed_bytes += (uint64_t)s.st_size;
	}
	closedir(d);
	ferry_buf_dispose(&path);
	if (!error && out->removed.n)
		qsort(out->removed.v, out->removed.n, sizeof(*out->removed.v), cmp_str);
	return error;
}

int ferry_store_gc(ferry_store_gc_result *out, ferry_store *st, int dry_run)
{
	ferry_store_closure live = FERRY_STORE_CLOSURE_INIT;
	ferry_buf dir = FERRY_BUF_INIT, path = FERRY_BUF_INIT, root = FERRY_BUF_INIT;
	void *mark[2];
	size_t i;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (st->lock_fd < 0)
		return ferry_error_set(FERRY_EINVALID, "gc needs the store's write lock");
	/* A store without a trust root was never initialised by ferry trust
	 * init nor fed by an import: whatever its blobs are, gc is not the
	 * judge of them. */
	if ((error = ferry_store_trust_root_latest(&root, st)) < 0) {
		error = ferry_error_wrap(error, "gc of '%s' refused", st->root);
		goto done;
	}
	mark[0] = &live;
	mark[1] = st;
	if ((error = ferry_store_tag_foreach(st, mark_tag, mark)) < 0) {
		error = ferry_error_wrap(error, "gc of '%s' stopped before deleting anything",
					 st->root);
		goto done;
	}
	if ((error = ferry_oci_blob_dir(&dir, st->root)) < 0 ||
	    (error = sweep_list(out, &live, dir.ptr)) < 0 || dry_run)
		goto done;
	/* The records go first, in one transaction: a crash before the files
	 * are gone leaves unrecorded files, which the next gc removes, never a
	 * record of a missing blob. */
	if (out->removed.n) {
		if ((error = ferry_store_begin(st, 1)) < 0)
			goto done;
		for (i = 0; i < out->removed.n && !error; i++)
			error = ferry_store_blob_forget(st, out->removed.v[i]);
		if (error) {
			ferry_store_rollback(st);
			goto done;
		}
		if ((error = ferry_store_commit(st)) < 0)
			goto done;
	}
	for (i = 0; i < out->removed.n; i++) {
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir.ptr, out->removed.v[i])) < 0)
			goto done;
		if (unlink(path.ptr) < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot remove '%s'", path.ptr);
			goto done;
		}
	}
	if (out->removed.n)
		error = ferry_fs_fsync_parent(path.ptr);
done:
	ferry_store_closure_dispose(&live);
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&root);
	if (error)
		ferry_store_gc_result_dispose(out);
	return error;
}

void ferry_store_gc_result_dispose(ferry_store_gc_result *r)
{
	ferry_strv_dispose(&r->removed);
	memset(r, 0, sizeof(*r));
}
