/*
 * The mirror's in-memory view of the store's tags (see view.h). References
 * are split with ferry_reference_split, so a reference by digest
 * ("library/app@sha256:...") belongs to its repository and names no tag.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry/errors.h"
#include "fs.h"
#include "json.h"
#include "oci.h"
#include "reference.h"
#include "store.h"
#include "view.h"
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

static int load(ferry_view_snapshot **out, const char *path)
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

		if (load(&fresh, path.ptr) == 0) {
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
	size_t lo = 0, hi = s->ntags;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(s->tags[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->ntags && !strcmp(s->tags[lo].name, name) ? (long)lo : -1;
}
