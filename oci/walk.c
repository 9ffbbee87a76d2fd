/*
 * The manifest and index walk (see walk.h). Before, six parts of ferry
 * each walked these documents their own way, with their own limits (or
 * none) and their own idea of which members are required; this is the one
 * walk they share. It trusts neither the loader nor the documents: every
 * document is checked against the descriptor that named it before anything
 * in it is followed, and the depth and size limits fail loudly rather than
 * stop the walk early (a walk that silently stops early is a walk that
 * loses content).
 */
#include <stdio.h>
#include <string.h>

#include "ferry/errors.h"
#include "digest.h"
#include "json.h"
#include "walk.h"
#include "banned.h"

enum { KIND_NONE = 0, KIND_INDEX = 1, KIND_MANIFEST = 2 };
enum { STAGE_START, STAGE_MANIFESTS, STAGE_LAYERS, STAGE_SUBJECT, STAGE_END };

/* ---- documents ------------------------------------------------------------ */

int ferry_oci_document_parse(ferry_oci_document *d, const char *given, const char *what)
{
	const char *mt;
	int error;

	json_decref(d->json);
	d->json = NULL;
	if ((error = ferry_json_parse(&d->json, d->body.ptr ? d->body.ptr : "", d->body.size,
				      what)) < 0)
		return error;
	if (!json_is_object(d->json))
		return ferry_error_set(FERRY_EINVALID, "%s is not a JSON object", what);
	if (!(mt = ferry_oci_media_type(d->json, given)))
		mt = given ? given : "";
	if (strlen(mt) >= sizeof(d->media_type))
		return ferry_error_set(FERRY_EINVALID, "%s: its media type is longer than %d "
				       "bytes", what, FERRY_OCI_MEDIA_TYPE_MAX - 1);
	memcpy(d->media_type, mt, strlen(mt) + 1);
	return 0;
}

void ferry_oci_document_dispose(ferry_oci_document *d)
{
	ferry_buf_dispose(&d->body);
	json_decref(d->json);
	memset(d, 0, sizeof(*d));
}

/* ---- children ------------------------------------------------------------- */

void ferry_oci_children_init(ferry_oci_children *it, const json_t *doc,
			     const char *media_type, unsigned flags, const char *what)
{
	memset(it, 0, sizeof(*it));
	it->json = doc;
	it->kind = ferry_oci_is_index(media_type) ? KIND_INDEX
		   : ferry_oci_is_manifest(media_type) ? KIND_MANIFEST : KIND_NONE;
	it->flags = flags;
	it->stage = it->kind == KIND_NONE ? STAGE_END : STAGE_START;
	it->what = what;
}

/* Entry it->i of required array `key`, or NULL past its end. */
static int array_entry(const json_t **out, ferry_oci_children *it, const char *key)
{
	json_t *arr;
	int error;

	if ((error = ferry_json_get_array(&arr, it->json, key, it->what)) < 0)
		return error;
	*out = json_array_get(arr, it->i);
	return 0;
}

int ferry_oci_children_next(ferry_oci_descriptor *out, ferry_oci_role *role,
			    ferry_oci_children *it)
{
	const json_t *d = NULL;
	json_t *config;
	int error;

	for (;;) {
		switch (it->stage) {
		case STAGE_START:
			if (it->kind == KIND_INDEX) {
				it->stage = STAGE_MANIFESTS;
				continue;
			}
			it->stage = STAGE_LAYERS;
			if ((error = ferry_json_get_object(&config, it->json, "config",
							   it->what)) < 0)
				return error;
			*role = FERRY_OCI_CONFIG;
			d = config;
			break;
		case STAGE_MANIFESTS:
		case STAGE_LAYERS:
			if ((error = array_entry(&d, it, it->stage == STAGE_MANIFESTS
							 ? "manifests" : "layers")) < 0)
				return error;
			if (!d) {
				it->stage = STAGE_SUBJECT;
				continue;
			}
			*role = it->stage == STAGE_MANIFESTS ? FERRY_OCI_MANIFESTS
							     : FERRY_OCI_LAYER;
			it->i++;
			break;
		case STAGE_SUBJECT:
			it->stage = STAGE_END;
			if (!(it->flags & FERRY_OCI_SUBJECTS) ||
			    !(d = json_object_get(it->json, "subject")))
				continue;
			*role = FERRY_OCI_SUBJECT;
			break;
		default:
			return 0;
		}
		if ((error = ferry_oci_descriptor_parse(out, d, it->what)) < 0)
			return error;
		return 1;
	}
}

/* ---- the walk ------------------------------------------------------------- */

static int walk_descriptor(const ferry_oci_walk_options *o, const ferry_oci_descriptor *desc,
			   ferry_oci_role role, int depth);

static int check_options(const ferry_oci_walk_options *o)
{
	if (!o || o->version != FERRY_OCI_WALK_OPTIONS_VERSION || !o->load || !o->what)
		return ferry_error_set(FERRY_EINVALID, "bad walk options");
	return 0;
}

static int too_deep(const ferry_oci_walk_options *o, const char *hex)
{
	return ferry_error_set(FERRY_ETOOBIG, "%s: manifest sha256:%s nests deeper than %d "
			       "levels (the limit)", o->what, hex, FERRY_OCI_MAX_DEPTH);
}

static int walk_children(const ferry_oci_walk_options *o, const ferry_oci_document *doc,
			 int depth)
{
	ferry_oci_children it;
	ferry_oci_descriptor child;
	ferry_oci_role role;
	ferry_buf what = FERRY_BUF_INIT;
	int error;

	if (depth > FERRY_OCI_MAX_DEPTH)
		return too_deep(o, doc->hex);
	if (o->enter && (error = o->enter(doc, depth, o->payload)) < 0)
		return error;
	if ((error = ferry_buf_printf(&what, "%s: manifest sha256:%s", o->what, doc->hex)) < 0)
		return error;
	ferry_oci_children_init(&it, doc->json, doc->media_type, o->flags, what.ptr);
	while ((error = ferry_oci_children_next(&child, &role, &it)) > 0)
		if ((error = walk_descriptor(o, &child, role, depth + 1)) < 0)
			break;
	ferry_buf_dispose(&what);
	if (error == 0 && o->leave)
		error = o->leave(doc, depth, o->payload);
	return error;
}

/* Read the document `desc` names and check it against `desc`. */
static int load_document(ferry_oci_document *doc, const ferry_oci_walk_options *o,
			 const ferry_oci_descriptor *desc)
{
	ferry_buf what = FERRY_BUF_INIT;
	int error;

	if (desc->size > FERRY_OCI_MANIFEST_MAX_SIZE)
		return ferry_error_set(FERRY_ETOOBIG, "%s: manifest %s is larger than %u bytes "
				       "(oversized manifest)", o->what, desc->digest,
				       FERRY_OCI_MANIFEST_MAX_SIZE);
	doc->body.limit = FERRY_OCI_MANIFEST_MAX_SIZE;
	if ((error = o->load(&doc->body, desc, o->payload)) < 0)
		return error;
	if (doc->body.size != desc->size)
		return ferry_error_set(FERRY_ECORRUPT, "%s: manifest %s is %zu bytes, its "
				       "descriptor says %llu", o->what, desc->digest,
				       doc->body.size, (unsigned long long)desc->size);
	if ((error = ferry_sha256_hex(doc->hex, doc->body.ptr ? doc->body.ptr : "",
				      doc->body.size)) < 0)
		return error;
	if (strcmp(doc->hex, desc->hex))
		return ferry_error_set(FERRY_ECORRUPT, "%s: manifest %s does not match its "
				       "digest", o->what, desc->digest);
	if ((error = ferry_buf_printf(&what, "%s: manifest %s", o->what, desc->digest)) < 0)
		return error;
	error = ferry_oci_document_parse(doc, desc->media_type, what.ptr);
	ferry_buf_dispose(&what);
	if (error == 0 && strcmp(doc->media_type, desc->media_type))
		error = ferry_error_set(FERRY_EINVALID, "%s: manifest %s is a '%s', its "
					"descriptor says '%.100s'", o->what, desc->digest,
					doc->media_type, desc->media_type);
	return error;
}

static int walk_descriptor(const ferry_oci_walk_options *o, const ferry_oci_descriptor *desc,
			   ferry_oci_role role, int depth)
{
	ferry_oci_document doc;
	int opens = (role == FERRY_OCI_ROOT || role == FERRY_OCI_MANIFESTS) &&
		    ferry_oci_is_document(desc->media_type);
	int error = 0;

	if (opens && depth > FERRY_OCI_MAX_DEPTH)
		return too_deep(o, desc->hex);
	if (o->visit && (error = o->visit(desc, role, depth, o->payload)) < 0)
		return error;
	if (!opens || error > 0)
		return 0;
	memset(&doc, 0, sizeof(doc));
	if ((error = load_document(&doc, o, desc)) == 0)
		error = walk_children(o, &doc, depth);
	ferry_oci_document_dispose(&doc);
	return error;
}

int ferry_oci_walk(const ferry_oci_walk_options *o, const ferry_oci_descriptor *root)
{
	int error;

	if ((error = check_options(o)) < 0)
		return error;
	return walk_descriptor(o, root, FERRY_OCI_ROOT, 0);
}

int ferry_oci_walk_document(const ferry_oci_walk_options *o, const ferry_oci_document *doc,
			    int depth)
{
	int error;

	if ((error = check_options(o)) < 0)
		return error;
	return walk_children(o, doc, depth);
}
