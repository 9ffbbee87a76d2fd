/*
 * The mirror's in-memory view of the store's tags (see view.h). References
 * are split with ferry_reference_split, so a reference by digest
 * ("library/app@sha256:...") belongs to its repository and names no tag.
 * Each load also walks every tag's manifests and indexes in the store and
 * keeps, per repository, the blobs they reach with the size each descriptor
 * gives them: the mirror serves a blob only under a repository that
 * reaches it and never sends a file of another size under a digest (a
 * truncated or grown blob). The walk is the one OCI walk, with the store's
 * closure set (store/closure.h) of the documents met so each is read once
 * per repository; it runs when the store's index changes, never per
 * request.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "closure.h"
#include "fs.h"
#include "log.h"
#include "json.h"
#include "oci.h"
#include "reference.h"
#include "store.h"
#include "util.h"
#include "view.h"
#include "walk.h"
#include "banned.h"

#define VIEW_MAX (64u << 20)

static void snapshot_free(ferry_view_snapshot *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->ntags; i++) {
		free(s->tags[i].name);
		free(s->tags[i].tag);
		free(s->tags[i].media_type);
	}
	free(s->tags);
	free(s->blobs);
	free(s);
}

static int cmp_tag(const void *a, const void *b)
{
	const ferry_view_tag *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (!x->tag || !y->tag)   /* references by digest first */
		return (x->tag != NULL) - (y->tag != NULL);
	return strcmp(x->tag, y->tag);
}

static int cmp_blob(const void *a, const void *b)
{
	const ferry_view_blob *x = a, *y = b;
	int c = strcmp(x->hex, y->hex);

	if (c)
		return c;
	if (x->repo != y->repo)
		return (x->repo > y->repo) - (x->repo < y->repo);
	return (x->size > y->size) - (x->size < y->size);
}

typedef struct {
	ferry_view_snapshot *s;
	size_t cap;
	const char *root;
	ferry_view_tag *tag;         /* the tag walked */
	ferry_store_closure seen;    /* documents met under the tag's repository */
} blob_walk;

static int add_blob(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth,
		    void *payload)
{
	blob_walk *w = payload;
	ferry_view_snapshot *s = w->s;
	ferry_view_blob *b;
	int added;

	if (FERRY_ALLOC_GROW(s->blobs, s->nblobs + 1, w->cap) < 0)
		return FERRY_ENOMEM;
	b = &s->blobs[s->nblobs++];
	memcpy(b->hex, desc->hex, sizeof(b->hex));
	b->size = desc->size;
	b->repo = role == FERRY_OCI_SUBJECT ? FERRY_VIEW_NO_REPO : w->tag->repo;
	if (role == FERRY_OCI_SUBJECT) {
		if (depth == 1)   /* the tagged manifest's own subject */
			ferry_oci_digest_format(w->tag->subject, desc->hex);
		return 0;
	}
	/* A document met before under this repository (from another tag) is
	 * not read again: the same bytes reach the same blobs. */
	if ((added = ferry_store_closure_insert(&w->seen, desc->hex)) < 0)
		return added;
	return added || depth == 0 ? 0 : 1;
}

static int load_document(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload)
{
	blob_walk *w = payload;

	return ferry_store_read_document(body, w->root, desc->hex);
}

/* What every repository's tags reach, and the sizes their descriptors give.
 * Each tag is walked (a tag whose documents cannot be read whole keeps
 * what was met before the fault, its own blob among them); a document
 * shared by tags of one repository is read once. */
static int load_blobs(ferry_view_snapshot *s, const char *root)
{
	ferry_oci_walk_options o = FERRY_OCI_WALK_OPTIONS_INIT;
	blob_walk w;
	size_t i, n;
	int error = 0;

	memset(&w, 0, sizeof(w));
	w.s = s;
	w.root = root;
	o.load = load_document;
	o.visit = add_blob;
	o.flags = FERRY_OCI_SUBJECTS;
	o.payload = &w;
	for (i = 0; i < s->ntags && error != FERRY_ENOMEM; i++) {
		ferry_oci_descriptor d;

		if (i > 0 && s->tags[i].repo != s->tags[i - 1].repo)
			ferry_store_closure_dispose(&w.seen);
		memset(&d, 0, sizeof(d));
		if (ferry_oci_digest_parse(d.hex, s->tags[i].digest) < 0)
			continue;
		d.digest = s->tags[i].digest;
		d.media_type = s->tags[i].media_type;
		d.size = s->tags[i].size;
		o.what = s->tags[i].digest;
		w.tag = &s->tags[i];
		if ((error = ferry_oci_walk(&o, &d)) < 0 && error != FERRY_ENOMEM)
			ferry_log(FERRY_LOG_WARN, "tag %s:%s: %s", s->tags[i].name,
				  s->tags[i].tag ? s->tags[i].tag : s->tags[i].digest,
				  ferry_error_last());
	}
	ferry_store_closure_dispose(&w.seen);
	if (error == FERRY_ENOMEM)
		return error;
	qsort(s->blobs, s->nblobs, sizeof(*s->blobs), cmp_blob);
	for (i = n = 0; i < s->nblobs; i++)
		if (!n || cmp_blob(&s->blobs[n - 1], &s->blobs[i]))
			s->blobs[n++] = s->blobs[i];
	s->nblobs = n;
	return 0;
}

/* The first of `n` entries, sorted by the string `key_at` gives, whose
 * string is not less than `key` (n when none). */
static size_t lower_bound(const ferry_view_snapshot *s, size_t n, const char *key,
			  const char *(*key_at)(const ferry_view_snapshot *s, size_t i))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(key_at(s, mid), key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const char *blob_hex(const ferry_view_snapshot *s, size_t i)
{
	return s->blobs[i].hex;
}

static const char *tag_name(const ferry_view_snapshot *s, size_t i)
{
	return s->tags[i].name;
}

int ferry_view_size_ok(const ferry_view_snapshot *s, const char *hex, uint64_t size)
{
	size_t lo = lower_bound(s, s->nblobs, hex, blob_hex);

	for (; lo < s->nblobs && !strcmp(s->blobs[lo].hex, hex); lo++)
		if (s->blobs[lo].size != size)
			return 0;
	return 1;
}

int ferry_view_reaches(const ferry_view_snapshot *s, const char *name, const char *hex)
{
	long t = ferry_view_first(s, name);
	size_t lo, first;

	if (t < 0)
		return 0;
	/* The entries of `hex` are few (one per repository and size). */
	for (first = lo = lower_bound(s, s->nblobs, hex, blob_hex);
	     lo < s->nblobs && !strcmp(s->blobs[lo].hex, hex); lo++)
		if (s->blobs[lo].repo == s->tags[t].repo)
			return 1;
	/* Held but reached by no tag at all (what a tag pointed at before it
	 * moved, kept until gc): any repository may serve it, as a registry
	 * serves a manifest pulled by digest after its tag moved, so a
	 * rollback to an earlier digest still pulls. */
	return lo == first;
}

static int load(ferry_view_snapshot **out, const char *root, const char *path)
{
	ferry_buf text = FERRY_BUF_INIT;
	ferry_view_snapshot *s = calloc(1, sizeof(*s));
	json_t *index = NULL, *list, *d;
	size_t i;
	int error;

	if (!s)
		return ferry_error_oom();
	if ((error = ferry_fs_read_file(&text, path, VIEW_MAX)) < 0 ||
	    (error = ferry_json_parse(&index, text.ptr, text.size, FERRY_STORE_INDEX)) < 0 ||
	    (error = ferry_json_get_array(&list, index, "manifests", FERRY_STORE_INDEX)) < 0)
		goto done;
	if (!(s->tags = calloc(json_array_size(list) + 1, sizeof(*s->tags)))) {
		error = ferry_error_oom();
		goto done;
	}
	json_array_foreach(list, i, d) {
		const char *ref = json_string_value(json_object_get(
			json_object_get(d, "annotations"), FERRY_OCI_REF_NAME));
		const char *digest = json_string_value(json_object_get(d, "digest"));
		const char *mt = json_string_value(json_object_get(d, "mediaType"));
		ferry_reference_parts parts;
		ferry_view_tag *t;

		if (!ref || !ferry_oci_digest_valid(digest) || !mt)
			continue;
		if (ferry_reference_split(&parts, ref) < 0) {
			ferry_error_clear();
			continue;
		}
		t = &s->tags[s->ntags];
		t->name = strndup(ref, parts.name_len);
		t->tag = parts.tag ? strndup(parts.tag, parts.tag_len) : NULL;
		t->media_type = strdup(mt);
		if (!t->name || (parts.tag && !t->tag) || !t->media_type) {
			s->ntags++;
			error = ferry_error_oom();
			goto done;
		}
		memcpy(t->digest, digest, strlen(digest) + 1);
		t->size = (uint64_t)json_integer_value(json_object_get(d, "size"));
		s->ntags++;
	}
	qsort(s->tags, s->ntags, sizeof(*s->tags), cmp_tag);
	for (i = 0; i < s->ntags; i++)
		s->tags[i].repo = i == 0 ? 0 : s->tags[i - 1].repo +
			(strcmp(s->tags[i - 1].name, s->tags[i].name) != 0);
	if ((error = load_blobs(s, root)) < 0)
		goto done;
	*out = s;
	s = NULL;
done:
	json_decref(index);
	ferry_buf_dispose(&text);
	snapshot_free(s);
	return error;
}

int ferry_view_init(ferry_view *v, const char *store_root)
{
	memset(v, 0, sizeof(*v));
	if (!(v->root = strdup(store_root)))
		return ferry_error_oom();
	pthread_mutex_init(&v->lock, NULL);
	return 0;
}

void ferry_view_dispose(ferry_view *v)
{
	snapshot_free(v->current);
	pthread_mutex_destroy(&v->lock);
	free(v->root);
}

ferry_view_snapshot *ferry_view_get(ferry_view *v)
{
	ferry_buf path = FERRY_BUF_INIT;
	ferry_view_snapshot *s;
	struct stat st;

	pthread_mutex_lock(&v->lock);
	if (ferry_store_path(&path, v->root, FERRY_STORE_INDEX) == 0 &&
	    stat(path.ptr, &st) == 0 &&
	    (st.st_ino != v->ino || st.st_size != v->size ||
	     (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != v->mtime_ns ||
	     !v->current)) {
		ferry_view_snapshot *fresh = NULL;

		if (load(&fresh, v->root, path.ptr) == 0) {
			if (v->current && --v->current->refs == 0)
				snapshot_free(v->current);
			fresh->refs = 1;   /* the view's own reference */
			v->current = fresh;
			v->ino = st.st_ino;
			v->size = st.st_size;
			v->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		}
	}
	if (!v->current) {
		v->current = calloc(1, sizeof(*v->current));
		if (v->current)
			v->current->refs = 1;
	}
	s = v->current;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&v->lock);
	ferry_buf_dispose(&path);
	return s;
}

void ferry_view_invalidate(ferry_view *v)
{
	pthread_mutex_lock(&v->lock);
	v->ino = 0;
	v->mtime_ns = -1;
	pthread_mutex_unlock(&v->lock);
}

void ferry_view_release(ferry_view *v, ferry_view_snapshot *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&v->lock);
	if (--s->refs == 0)
		snapshot_free(s);
	pthread_mutex_unlock(&v->lock);
}

const ferry_view_tag *ferry_view_find(const ferry_view_snapshot *s, const char *name,
				      const char *tag)
{
	ferry_view_tag key;

	key.name = (char *)name;
	key.tag = (char *)tag;
	return bsearch(&key, s->tags, s->ntags, sizeof(*s->tags), cmp_tag);
}

long ferry_view_first(const ferry_view_snapshot *s, const char *name)
{
	size_t lo = lower_bound(s, s->ntags, name, tag_name);

	return lo < s->ntags && !strcmp(s->tags[lo].name, name) ? (long)lo : -1;
}
