/*
 * Reader for OCI image layouts on disk (image-spec image-layout.md), on the
 * walk of oci/walk.h. It trusts nothing: each manifest's bytes must hash to
 * the digest that names it, descriptor sizes must match the files, and the
 * walk is bounded in depth and document size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "descriptor.h"
#include "digest.h"
#include "fs.h"
#include "json.h"
#include "manifest.h"
#include "oci_layout.h"
#include "walk.h"
#include "banned.h"

typedef struct {
	ferry_oci_content *c;
	const char *dir;
} walk_ctx;

/* The string `s` (its first `len` bytes), kept once per content. */
static int intern(const char **out, ferry_oci_content *c, const char *s, size_t len)
{
	size_t i = c->nstrings;
	int error;

	/* Blobs come source by source: the last one is the likely one. */
	while (i-- > 0)
		if (!strncmp(c->strings[i], s, len) && c->strings[i][len] == '\0') {
			*out = c->strings[i];
			return 0;
		}
	if ((error = FERRY_ALLOC_GROW(c->strings, c->nstrings + 1, c->allocstrings)) < 0)
		return error;
	if (!(c->strings[c->nstrings] = strndup(s, len)))
		return ferry_error_oom();
	*out = c->strings[c->nstrings++];
	return 0;
}

int ferry_oci_content_add_blob(ferry_oci_content *c, const char *hex,
			       uint64_t size, const char *file, int manifest)
{
	ferry_oci_blob b;
	size_t len = strlen(file);
	int error;

	memset(&b, 0, sizeof(b));
	memcpy(b.hex, hex, FERRY_SHA256_HEX_LEN + 1);
	b.size = size;
	b.manifest = manifest;
	/* At tens of thousands of blobs, one path each would be megabytes. */
	if (len > FERRY_SHA256_HEX_LEN + 1 &&
	    !strcmp(file + len - FERRY_SHA256_HEX_LEN, hex) &&
	    file[len - FERRY_SHA256_HEX_LEN - 1] == '/')
		error = intern(&b.dir, c, file, len - FERRY_SHA256_HEX_LEN - 1);
	else
		error = (b.file = strdup(file)) ? 0 : ferry_error_oom();
	if (error < 0 ||
	    (error = FERRY_ALLOC_GROW(c->blobs, c->nblobs + 1, c->allocblobs)) < 0) {
		free(b.file);
		return error;
	}
	c->blobs[c->nblobs++] = b;
	return 0;
}

int ferry_oci_blob_file(ferry_buf *out, const ferry_oci_blob *b)
{
	return b->dir ? ferry_buf_printf(out, "%s/%s", b->dir, b->hex)
		      : ferry_buf_puts(out, b->file);
}

/* Every descriptor: its blob must be in the layout with the size it says.
 * What the walk opens (indexes and manifests) is always carried. */
static int layout_visit(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth,
			void *payload)
{
	walk_ctx *w = payload;
	ferry_buf path = FERRY_BUF_INIT;
	struct stat st;
	int error, opened = (role == FERRY_OCI_ROOT || role == FERRY_OCI_MANIFESTS) &&
			    ferry_oci_is_document(desc->media_type);

	(void)depth;
	if ((error = ferry_oci_blob_path(&path, w->dir, desc->hex)) < 0)
		goto done;
	if (stat(path.ptr, &st) < 0 || !S_ISREG(st.st_mode)) {
		error = ferry_error_set(FERRY_ENOTFOUND, "layout '%s' lacks blob %.80s",
					w->dir, desc->digest);
		goto done;
	}
	if ((uint64_t)st.st_size != desc->size) {
		error = ferry_error_set(FERRY_ECORRUPT,
					"layout '%s': blob %.80s is %lld bytes, its "
					"descriptor says %llu", w->dir, desc->digest,
					(long long)st.st_size,
					(unsigned long long)desc->size);
		goto done;
	}
	error = ferry_oci_content_add_blob(w->c, desc->hex, desc->size, path.ptr, opened);
done:
	ferry_buf_dispose(&path);
	return error;
}

static int layout_load(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload)
{
	walk_ctx *w = payload;
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_oci_blob_path(&path, w->dir, desc->hex)) == 0)
		error = ferry_fs_read_file(body, path.ptr, FERRY_OCI_MANIFEST_MAX_SIZE);
	ferry_buf_dispose(&path);
	return error;
}

int ferry_oci_content_add_root(ferry_oci_content *c, const char *reference,
			       const json_t *desc)
{
	ferry_oci_descriptor parsed;
	ferry_oci_root root = { NULL, NULL, NULL, "", 0 };
	size_t mt_len;
	json_t *copy, *ann;
	int error;

	if (!ferry_manifest_reference_valid(reference))
		return ferry_error_set(FERRY_EINVALID,
				       "reference '%.200s' is not valid (printable "
				       "ASCII, no spaces, at most 512 bytes)", reference);
	if ((error = ferry_oci_descriptor_parse(&parsed, desc, reference)) < 0)
		return error;
	mt_len = strlen(parsed.media_type);
	if ((error = intern(&root.media_type, c, parsed.media_type, mt_len)) < 0)
		return error;
	copy = json_deep_copy(desc);
	ann = json_object_get(copy, "annotations");
	if (copy && (!ann || !json_is_object(ann))) {
		ann = json_object();
		json_object_set_new(copy, "annotations", ann);
	}
	if (!copy || !ann || json_object_set_new(ann, FERRY_OCI_REF_NAME,
						 json_string(reference)) < 0 ||
	    !(root.reference = strdup(reference)) ||
	    !(root.descriptor = ferry_json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS)) ||
	    (error = FERRY_ALLOC_GROW(c->roots, c->nroots + 1, c->allocroots)) < 0) {
		error = error ? error : ferry_error_oom();
		goto fail;
	}
	ferry_oci_digest_format(root.digest, parsed.hex);
	json_decref(copy);
	c->roots[c->nroots++] = root;
	return 0;
fail:
	json_decref(copy);
	free(root.reference);
	free(root.descriptor);
	return error;
}

static int add_root(ferry_oci_content *c, const char *name, const json_t *desc)
{
	const char *tag = json_string_value(
		json_object_get(json_object_get(desc, "annotations"), FERRY_OCI_REF_NAME));
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	ferry_buf ref = FERRY_BUF_INIT;
	int error;

	if (tag && (strchr(tag, '/') || strchr(tag, ':')))
		error = ferry_buf_puts(&ref, tag);   /* already a full reference */
	else if (tag)
		error = ferry_buf_printf(&ref, "%s:%s", name, tag);
	else
		error = ferry_buf_printf(&ref, "%s@%s", name, digest);
	if (error < 0)
		return error;
	if (!ferry_manifest_reference_valid(ref.ptr)) {
		error = ferry_error_set(FERRY_EINVALID,
					"layout '%s': reference '%.200s' is not valid "
					"(printable ASCII, no spaces, at most 512 bytes)",
					c->current_dir ? c->current_dir : "", ref.ptr);
		ferry_buf_dispose(&ref);
		return error;
	}
	error = ferry_oci_content_add_root(c, ref.ptr, desc);
	ferry_buf_dispose(&ref);
	return error;
}

int ferry_oci_layout_collect(ferry_oci_content *c, const char *dir,
			     const char *name)
{
	ferry_oci_walk_options o = FERRY_OCI_WALK_OPTIONS_INIT;
	ferry_buf path = FERRY_BUF_INIT, body = FERRY_BUF_INIT, what = FERRY_BUF_INIT;
	json_t *layout = NULL, *index = NULL;
	ferry_oci_children it;
	ferry_oci_descriptor desc;
	ferry_oci_role role;
	const char *version;
	walk_ctx w = { c, dir };
	int error;

	if ((error = ferry_buf_printf(&path, "%s/" FERRY_OCI_LAYOUT_NAME, dir)) < 0)
		goto done;
	if ((error = ferry_fs_read_file(&body, path.ptr, 4096)) < 0) {
		if (error == FERRY_ENOTFOUND)
			error = ferry_error_set(FERRY_ENOTFOUND,
						"'%s' is not an OCI image layout "
						"(no oci-layout file)", dir);
		goto done;
	}
	if ((error = ferry_json_parse(&layout, body.ptr, body.size, "oci-layout")) < 0 ||
	    (error = ferry_json_get_string(&version, layout, "imageLayoutVersion",
					   "oci-layout")) < 0)
		goto done;
	if (strcmp(version, FERRY_OCI_LAYOUT_VERSION) != 0) {
		error = ferry_error_set(FERRY_EUNSUPPORTED,
					"layout '%s' has version '%.20s' (want %s)",
					dir, version, FERRY_OCI_LAYOUT_VERSION);
		goto done;
	}
	ferry_buf_clear(&path);
	ferry_buf_clear(&body);
	if ((error = ferry_buf_printf(&path, "%s/" FERRY_OCI_INDEX_NAME, dir)) < 0 ||
	    (error = ferry_fs_read_file(&body, path.ptr, FERRY_OCI_INDEX_MAX_SIZE)) < 0 ||
	    (error = ferry_json_parse(&index, body.ptr, body.size, "index.json")) < 0 ||
	    (error = ferry_buf_printf(&what, "layout '%s'", dir)) < 0)
		goto done;
	c->current_dir = dir;
	o.load = layout_load;
	o.visit = layout_visit;
	o.what = what.ptr;
	o.payload = &w;
	/* index.json is an image index: its entries are the roots. */
	ferry_oci_children_init(&it, index, FERRY_OCI_MT_INDEX, 0, what.ptr);
	while ((error = ferry_oci_children_next(&desc, &role, &it)) > 0)
		if ((error = ferry_oci_walk(&o, &desc)) < 0 ||
		    (error = add_root(c, name, desc.json)) < 0)
			goto done;
done:
	json_decref(layout);
	json_decref(index);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&body);
	ferry_buf_dispose(&what);
	return error;
}

static int cmp_blob(const void *a, const void *b)
{
	return strcmp(((const ferry_oci_blob *)a)->hex, ((const ferry_oci_blob *)b)->hex);
}

static int cmp_root(const void *a, const void *b)
{
	return strcmp(((const ferry_oci_root *)a)->reference,
		      ((const ferry_oci_root *)b)->reference);
}

int ferry_oci_content_finish(ferry_oci_content *c)
{
	size_t i, k = 0;

	/* qsort's arguments must not be NULL, even for no elements (a spec
	 * with only git sources) */
	if (c->nblobs)
		qsort(c->blobs, c->nblobs, sizeof(*c->blobs), cmp_blob);
	for (i = 0; i < c->nblobs; i++) {
		if (k && !strcmp(c->blobs[k - 1].hex, c->blobs[i].hex)) {
			c->blobs[k - 1].manifest |= c->blobs[i].manifest;
			free(c->blobs[i].file);
			continue;
		}
		c->blobs[k++] = c->blobs[i];
	}
	c->nblobs = k;
	if (c->nroots)
		qsort(c->roots, c->nroots, sizeof(*c->roots), cmp_root);
	for (i = 1; i < c->nroots; i++)
		if (!strcmp(c->roots[i - 1].reference, c->roots[i].reference))
			return ferry_error_set(FERRY_EINVALID,
					       "reference '%s' comes from two sources",
					       c->roots[i].reference);
	return 0;
}

ferry_oci_blob *ferry_oci_content_find(const ferry_oci_content *c, const char *hex)
{
	size_t lo = 0, hi = c->nblobs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(c->blobs[mid].hex, hex);

		if (cmp == 0)
			return &c->blobs[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

typedef struct {
	ferry_oci_content *c;
	unsigned char *opened;   /* per blob: walked below already */
} prune_ctx;

/* The prune's walk: blobs met are kept (skip cleared); documents are read
 * from the files collected for them, each once, whatever role the same
 * bytes were met in before. */
static int prune_visit(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth,
		       void *payload)
{
	prune_ctx *p = payload;
	ferry_oci_blob *b = ferry_oci_content_find(p->c, desc->hex);
	int opens = (role == FERRY_OCI_ROOT || role == FERRY_OCI_MANIFESTS) &&
		    ferry_oci_is_document(desc->media_type);

	(void)depth;
	if (!b)
		return 1;   /* not collected (a foreign layer): nothing to keep */
	b->skip = 0;
	if (!opens || p->opened[b - p->c->blobs])
		return 1;
	p->opened[b - p->c->blobs] = 1;
	return 0;
}

static int prune_load(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload)
{
	const ferry_oci_blob *b = ferry_oci_content_find(((prune_ctx *)payload)->c, desc->hex);
	ferry_buf file = FERRY_BUF_INIT;
	int error;

	if (!b)
		return ferry_error_set(FERRY_ENOTFOUND, "blob %.80s was not collected",
				       desc->digest);
	if ((error = ferry_oci_blob_file(&file, b)) == 0)
		error = ferry_fs_read_file(body, file.ptr, FERRY_OCI_MANIFEST_MAX_SIZE);
	ferry_buf_dispose(&file);
	return error;
}

int ferry_oci_content_prune(ferry_oci_content *c)
{
	ferry_oci_walk_options wo = FERRY_OCI_WALK_OPTIONS_INIT;
	prune_ctx p = { c, calloc(c->nblobs ? c->nblobs : 1, 1) };
	size_t i;
	int error = 0;

	if (!p.opened)
		return ferry_error_oom();
	for (i = 0; i < c->nblobs; i++)
		c->blobs[i].skip = 1;
	wo.load = prune_load;
	wo.visit = prune_visit;
	wo.what = "export";
	wo.payload = &p;
	for (i = 0; i < c->nroots && !error; i++) {
		ferry_oci_descriptor d;
		json_t *json = NULL;

		if (c->roots[i].unchanged)
			continue;
		if ((error = ferry_json_parse(&json, c->roots[i].descriptor,
					      strlen(c->roots[i].descriptor),
					      c->roots[i].reference)) == 0 &&
		    (error = ferry_oci_descriptor_parse(&d, json,
							c->roots[i].reference)) == 0)
			error = ferry_oci_walk(&wo, &d);
		json_decref(json);
	}
	free(p.opened);
	return error;
}

/*
 * The texts of the roots' descriptors joined into an index: the bytes a
 * dump of the whole index tree (compact, keys sorted) gives, without
 * building that tree.
 */
#define INDEX_HEAD "{\"manifests\":["
#define INDEX_TAIL "],\"mediaType\":\"" FERRY_OCI_MT_INDEX "\",\"schemaVersion\":2}"

int ferry_oci_content_index(ferry_buf *out, const ferry_oci_content *c, int carried)
{
	size_t i, n = 0;
	int error;

	if ((error = ferry_buf_puts(out, INDEX_HEAD)) < 0)
		return error;
	for (i = 0; i < c->nroots; i++) {
		if (carried && c->roots[i].unchanged)
			continue;
		if ((n++ && (error = ferry_buf_puts(out, ",")) < 0) ||
		    (error = ferry_buf_puts(out, c->roots[i].descriptor)) < 0)
			return error;
	}
	return ferry_buf_puts(out, INDEX_TAIL);
}

void ferry_oci_content_drop_descriptors(ferry_oci_content *c)
{
	size_t i;

	for (i = 0; i < c->nroots; i++) {
		free(c->roots[i].descriptor);
		c->roots[i].descriptor = NULL;
	}
}

void ferry_oci_content_dispose(ferry_oci_content *c)
{
	size_t i;

	for (i = 0; i < c->nblobs; i++)
		free(c->blobs[i].file);
	free(c->blobs);
	for (i = 0; i < c->nroots; i++) {
		free(c->roots[i].reference);
		free(c->roots[i].descriptor);
	}
	free(c->roots);
	for (i = 0; i < c->nstrings; i++)
		free(c->strings[i]);
	free(c->strings);
	memset(c, 0, sizeof(*c));
}
