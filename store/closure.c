/*
 * The closure of a tag in the store (see closure.h): the OCI walk with a
 * loader that reads the store's blobs (or wherever the caller's locator
 * says they are), a visitor that records each blob once and, when asked,
 * checks it is held with the size its descriptor states. A document
 * already in the set is not read again, so shared indexes and manifests
 * cost one read however many tags reach them.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "closure.h"
#include "fs.h"
#include "walk.h"
#include "banned.h"

/* The slot of `hex` in a table of `cap` (a power of two) slots: where it
 * is, or the empty slot where it would go. A digest's first 16 hex digits
 * are as uniform as any hash of them. */
static size_t slot_of(char (*table)[FERRY_SHA256_HEX_LEN + 1], size_t cap, const char *hex)
{
	uint64_t h = 0;
	size_t i;

	for (i = 0; i < 16 && hex[i]; i++)
		h = h << 4 | (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : (hex[i] | 0x20) - 'a' + 10);
	for (i = (size_t)h & (cap - 1); table[i][0] && strcmp(table[i], hex);
	     i = (i + 1) & (cap - 1))
		;
	return i;
}

static int grow(ferry_store_closure *cl)
{
	size_t cap = cl->cap ? cl->cap * 2 : 256, i;
	char (*table)[FERRY_SHA256_HEX_LEN + 1] = calloc(cap, sizeof(*table));

	if (!table)
		return ferry_error_oom();
	for (i = 0; i < cl->cap; i++)
		if (cl->hex[i][0])
			memcpy(table[slot_of(table, cap, cl->hex[i])], cl->hex[i],
			       sizeof(*table));
	free(cl->hex);
	cl->hex = table;
	cl->cap = cap;
	return 0;
}

int ferry_store_closure_insert(ferry_store_closure *cl, const char *hex)
{
	size_t at;
	int error;

	if ((cl->n + 1) * 2 > cl->cap && (error = grow(cl)) < 0)
		return error;
	at = slot_of(cl->hex, cl->cap, hex);
	if (cl->hex[at][0])
		return 0;
	memcpy(cl->hex[at], hex, FERRY_SHA256_HEX_LEN);
	cl->hex[at][FERRY_SHA256_HEX_LEN] = '\0';
	cl->n++;
	return 1;
}

int ferry_store_closure_has(const ferry_store_closure *cl, const char *hex)
{
	return cl->cap && hex[0] && cl->hex[slot_of(cl->hex, cl->cap, hex)][0];
}

void ferry_store_closure_dispose(ferry_store_closure *cl)
{
	free(cl->hex);
	memset(cl, 0, sizeof(*cl));
}

typedef struct {
	ferry_store_closure *cl;
	const ferry_store *st;
	const ferry_store_closure_options *o;
} closure_walk;

static const char *role_name(ferry_oci_role role, const char *media_type)
{
	switch (role) {
	case FERRY_OCI_CONFIG: return "config";
	case FERRY_OCI_LAYER: return "layer";
	case FERRY_OCI_SUBJECT: return "subject";
	default: return ferry_oci_is_index(media_type) ? "index" : "manifest";
	}
}

/* Where blob `hex` is: the caller's locator, else the store's file. */
static int locate(ferry_buf *path, const closure_walk *w, const char *hex)
{
	struct stat s;
	int error;

	if (w->o->locate)
		return w->o->locate(path, hex, w->o->payload);
	if ((error = ferry_store_blob_path(path, w->st, hex)) < 0)
		return error;
	if (stat(path->ptr, &s) < 0 || !S_ISREG(s.st_mode))
		return FERRY_ENOTFOUND;
	return 0;
}

static int not_held(const closure_walk *w, const char *role, const char *digest)
{
	return ferry_error_set(FERRY_ENOTFOUND, "%s: %s %s %s", w->o->what, role, digest,
			       w->o->where ? w->o->where : "is not in the store");
}

/* A blob the walk meets must be held with the size its descriptor states. */
static int check_held(const closure_walk *w, const ferry_oci_descriptor *desc,
		      ferry_oci_role role)
{
	const char *name = role_name(role, desc->media_type);
	ferry_buf path = FERRY_BUF_INIT;
	struct stat s;
	int error;

	if ((error = locate(&path, w, desc->hex)) == FERRY_ENOTFOUND)
		error = not_held(w, name, desc->digest);
	else if (error == 0 && stat(path.ptr, &s) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "%s: cannot stat '%s'", w->o->what,
					      path.ptr);
	else if (error == 0 && (uint64_t)s.st_size != desc->size)
		error = ferry_error_set(FERRY_ECORRUPT, "%s: %s %s is %llu bytes, its "
					"descriptor says %llu", w->o->what, name, desc->digest,
					(unsigned long long)s.st_size,
					(unsigned long long)desc->size);
	ferry_buf_dispose(&path);
	return error;
}

static int closure_visit(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth,
			 void *payload)
{
	closure_walk *w = payload;
	int added, error;

	(void)depth;
	if ((w->o->flags & FERRY_STORE_CLOSURE_HELD) && role != FERRY_OCI_SUBJECT &&
	    (error = check_held(w, desc, role)) < 0)
		return error;
	if ((added = ferry_store_closure_insert(w->cl, desc->hex)) < 0)
		return added;
	return added ? 0 : 1;   /* a document met before is not read again */
}

static int closure_load(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload)
{
	closure_walk *w = payload;
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	if ((error = locate(&path, w, desc->hex)) == FERRY_ENOTFOUND)
		error = not_held(w, role_name(FERRY_OCI_MANIFESTS, desc->media_type),
				 desc->digest);
	else if (error == 0)
		error = ferry_fs_read_file(body, path.ptr, FERRY_OCI_MANIFEST_MAX_SIZE);
	ferry_buf_dispose(&path);
	return error;
}

int ferry_store_closure_add(ferry_store_closure *cl, const ferry_store *st,
			    const ferry_store_closure_options *opts, const char *digest,
			    const char *media_type)
{
	ferry_oci_walk_options o = FERRY_OCI_WALK_OPTIONS_INIT;
	closure_walk w;
	ferry_oci_descriptor root;
	ferry_buf path = FERRY_BUF_INIT;
	struct stat s;
	int error;

	if (!opts || opts->version != FERRY_STORE_CLOSURE_OPTIONS_VERSION || !opts->what)
		return ferry_error_set(FERRY_EINVALID, "bad closure options");
	w.cl = cl;
	w.st = st;
	w.o = opts;
	memset(&root, 0, sizeof(root));
	if ((error = ferry_oci_digest_parse(root.hex, digest)) < 0) {
		error = ferry_error_wrap(error, "%s", opts->what);
		goto done;
	}
	/* The root's size is the held blob's: its descriptor is the tag. */
	if ((error = locate(&path, &w, root.hex)) == FERRY_ENOTFOUND) {
		error = not_held(&w, role_name(FERRY_OCI_ROOT, media_type), digest);
		goto done;
	}
	if (error < 0)
		goto done;
	if (stat(path.ptr, &s) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "%s: cannot stat '%s'", opts->what,
					      path.ptr);
		goto done;
	}
	root.digest = digest;
	root.media_type = media_type;
	root.size = (uint64_t)s.st_size;
	o.load = closure_load;
	o.visit = closure_visit;
	o.flags = FERRY_OCI_SUBJECTS;
	o.what = opts->what;
	o.payload = &w;
	error = ferry_oci_walk(&o, &root);
done:
	ferry_buf_dispose(&path);
	return error;
}
