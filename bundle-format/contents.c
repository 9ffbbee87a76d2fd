/*
 * The contents entry of format 2 (see contents.h). Lines come in four
 * kinds, in this order: members, images, removed references,
 * prerequisites. Each is one compact JSON object with exactly its keys:
 *
 *   {"member":"blobs/sha256/<hex>","size":1234,"sha256":"<hex>"}
 *   {"image":"library/app:v1","digest":"sha256:<hex>","mediaType":"..."}
 *   {"removed":"library/old:v1"}
 *   {"prerequisite":"sha256:<hex>"}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "buf.h"
#include "contents.h"
#include "json.h"
#include "banned.h"

#define W "contents"
#define FLUSH_AT (64u * 1024)

enum { KIND_MEMBER, KIND_IMAGE, KIND_REMOVED, KIND_PREREQUISITE };

/* ---- writing ---------------------------------------------------------- */

typedef struct {
	ferry_buf buf;
	ferry_contents_fn fn;
	void *arg;
} line_out;

static int emit(line_out *o, json_t *line)
{
	int error;

	if (!line)
		return ferry_error_oom();
	error = ferry_json_dump_flags(&o->buf, line, JSON_COMPACT);
	json_decref(line);
	if (error < 0 || (error = ferry_buf_put(&o->buf, "\n", 1)) < 0)
		return error;
	if (o->buf.size < FLUSH_AT)
		return 0;
	error = o->fn(o->arg, o->buf.ptr, o->buf.size);
	ferry_buf_clear(&o->buf);
	return error;
}

int ferry_contents_write(const ferry_manifest *m, ferry_contents_fn fn, void *arg)
{
	line_out o = { FERRY_BUF_INIT, fn, arg };
	size_t i;
	int error = 0;

	for (i = 0; i < m->nmembers && !error; i++)
		error = emit(&o, json_pack("{s:s,s:I,s:s}", "member", m->members[i].path,
					   "size", (json_int_t)m->members[i].size,
					   "sha256", m->members[i].sha256));
	for (i = 0; i < m->nimages && !error; i++)
		error = emit(&o, json_pack("{s:s,s:s,s:s}", "image", m->images[i].reference,
					   "digest", m->images[i].digest, "mediaType",
					   m->images[i].media_type));
	for (i = 0; i < m->nremoved && !error; i++)
		error = emit(&o, json_pack("{s:s}", "removed", m->removed[i]));
	for (i = 0; i < m->nprereq_blobs && !error; i++)
		error = emit(&o, json_pack("{s:s}", "prerequisite", m->prereq_blobs[i]));
	if (!error && o.buf.size)
		error = fn(arg, o.buf.ptr, o.buf.size);
	ferry_buf_dispose(&o.buf);
	return error;
}

typedef struct {
	ferry_sha256 *sha;
	uint64_t size;
} digest_ctx;

static int digest_cb(void *arg, const void *buf, size_t len)
{
	digest_ctx *d = arg;

	d->size += len;
	return ferry_sha256_update(d->sha, buf, len);
}

int ferry_contents_digest(uint64_t *size, char hex[FERRY_SHA256_HEX_LEN + 1],
			  const ferry_manifest *m)
{
	digest_ctx d = { NULL, 0 };
	int error;

	if ((error = ferry_sha256_new(&d.sha)) < 0)
		return error;
	if ((error = ferry_contents_write(m, digest_cb, &d)) == 0 &&
	    (error = ferry_sha256_final_hex(d.sha, hex)) == 0)
		*size = d.size;
	ferry_sha256_free(d.sha);
	if (!error && d.size > FERRY_CONTENTS_MAX_SIZE)
		error = ferry_error_set(FERRY_ETOOBIG, "the bundle's contents list (%llu "
					"bytes) exceeds the %u byte limit; split the export",
					(unsigned long long)d.size, FERRY_CONTENTS_MAX_SIZE);
	return error;
}

/* ---- reading ---------------------------------------------------------- */

struct ferry_contents_reader {
	ferry_manifest *m;
	ferry_sha256 *sha;
	uint64_t size;
	char line[FERRY_CONTENTS_LINE_MAX + 1];
	size_t fill;
	size_t lineno;
	int kind;            /* the kind of the last line: lines come in order */
	int error;           /* the first problem with a line, reported at end */
	char message[1024];
};

int ferry_contents_reader_new(ferry_contents_reader **out, ferry_manifest *m)
{
	ferry_contents_reader *r = calloc(1, sizeof(*r));
	int error;

	if (!r)
		return ferry_error_oom();
	if ((error = ferry_sha256_new(&r->sha)) < 0) {
		free(r);
		return error;
	}
	r->m = m;
	*out = r;
	return 0;
}

void ferry_contents_reader_free(ferry_contents_reader *r)
{
	if (!r)
		return;
	ferry_sha256_free(r->sha);
	free(r);
}

/* The one key of kind `kind`, and the exact key count its lines have. */
static const struct {
	const char *key;
	size_t nkeys;
} kinds[] = {
	[KIND_MEMBER] = { "member", 3 },
	[KIND_IMAGE] = { "image", 3 },
	[KIND_REMOVED] = { "removed", 1 },
	[KIND_PREREQUISITE] = { "prerequisite", 1 },
};

static int parse_line(ferry_contents_reader *r, const char *text, size_t len)
{
	ferry_manifest *m = r->m;
	char what[64];
	json_t *doc = NULL;
	const char *a, *b, *c;
	uint64_t size;
	int kind, error;

	snprintf(what, sizeof(what), W " line %zu", r->lineno);
	if ((error = ferry_json_parse(&doc, text, len, what)) < 0)
		return error;
	if (!json_is_object(doc)) {
		error = ferry_error_set(FERRY_EINVALID, "%s is not a JSON object", what);
		goto done;
	}
	for (kind = 0; kind < (int)(sizeof(kinds) / sizeof(kinds[0])); kind++)
		if (json_object_get(doc, kinds[kind].key))
			break;
	if (kind == (int)(sizeof(kinds) / sizeof(kinds[0])) ||
	    json_object_size(doc) != kinds[kind].nkeys) {
		error = ferry_error_set(FERRY_EINVALID, "%s is not a member, an image, a "
					"removed reference or a prerequisite", what);
		goto done;
	}
	if (kind < r->kind) {
		error = ferry_error_set(FERRY_EINVALID, "%s: a line of kind '%s' after "
					"one of kind '%s'", what, kinds[kind].key,
					kinds[r->kind].key);
		goto done;
	}
	r->kind = kind;
	switch (kind) {
	case KIND_MEMBER:
		if ((error = ferry_json_get_string(&a, doc, "member", what)) == 0 &&
		    (error = ferry_json_get_u64(&size, doc, "size", what)) == 0 &&
		    (error = ferry_json_get_string(&b, doc, "sha256", what)) == 0)
			error = ferry_manifest__member(m, a, size, b);
		break;
	case KIND_IMAGE:
		if ((error = ferry_json_get_string(&a, doc, "image", what)) == 0 &&
		    (error = ferry_json_get_string(&b, doc, "digest", what)) == 0 &&
		    (error = ferry_json_get_string(&c, doc, "mediaType", what)) == 0)
			error = ferry_manifest__image(m, a, b, c);
		break;
	case KIND_REMOVED:
		if ((error = ferry_json_get_string(&a, doc, "removed", what)) < 0)
			break;
		if (m->nremoved >= FERRY_MANIFEST_MAX_IMAGES || !ferry_manifest_reference_valid(a))
			error = ferry_error_set(FERRY_EINVALID, "%s: malformed or too many "
						"removed references", what);
		else
			error = ferry_manifest_add_removed(m, a);
		break;
	default:
		if ((error = ferry_json_get_string(&a, doc, "prerequisite", what)) == 0)
			error = ferry_manifest__prerequisite(m, a);
		break;
	}
done:
	json_decref(doc);
	return error;
}

/* Keep the first problem; later lines are not parsed, only hashed. */
static void note(ferry_contents_reader *r, int error)
{
	if (error >= 0 || r->error)
		return;
	r->error = error;
	snprintf(r->message, sizeof(r->message), "%s", ferry_error_last());
}

int ferry_contents_reader_data(ferry_contents_reader *r, const void *buf, size_t len)
{
	const char *p = buf, *end = p + len;
	int error;

	if ((error = ferry_sha256_update(r->sha, buf, len)) < 0)
		return error;
	r->size += len;
	if (r->size > r->m->contents_size)
		return ferry_error_set(FERRY_ECORRUPT, "the contents entry is larger than the "
				       "%llu bytes the envelope states",
				       (unsigned long long)r->m->contents_size);
	while (p < end && !r->error) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (r->fill + n > FERRY_CONTENTS_LINE_MAX) {
			r->fill = 0;
			note(r, ferry_error_set(FERRY_ETOOBIG, W " line %zu is longer than %u "
						"bytes", r->lineno + 1, FERRY_CONTENTS_LINE_MAX));
			break;
		}
		memcpy(r->line + r->fill, p, n);
		r->fill += n;
		p += n;
		if (!nl)
			break;
		p++;
		r->lineno++;
		note(r, parse_line(r, r->line, r->fill));
		r->fill = 0;
	}
	return 0;
}

int ferry_contents_reader_end(ferry_contents_reader *r)
{
	ferry_manifest *m = r->m;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	int error;

	if ((error = ferry_sha256_final_hex(r->sha, hex)) < 0)
		return error;
	if (r->size != m->contents_size)
		return ferry_error_set(FERRY_ECORRUPT, "the contents entry is %llu bytes, the "
				       "envelope states %llu", (unsigned long long)r->size,
				       (unsigned long long)m->contents_size);
	if (strcmp(hex, m->contents_sha256))
		return ferry_error_set(FERRY_ECORRUPT, "the contents entry does not match "
				       "its digest (envelope sha256:%.12s..., content "
				       "sha256:%.12s...)", m->contents_sha256, hex);
	if (r->error)
		return ferry_error_set(r->error, "%s", r->message);
	if (r->fill)
		return ferry_error_set(FERRY_EINVALID, W ": the last line has no end");
	if ((error = ferry_manifest__complete(m)) < 0)
		return error;
	/* The bindings: each reference once, removed ones not also bound, and
	 * a bundle that carries them all states their own state. */
	if (m->bindings_all) {
		if (m->nremoved)
			return ferry_error_set(FERRY_EINVALID, W ": a bundle with all its "
					       "bindings removes none");
		if ((error = ferry_manifest_images_state(hex, m)) < 0)
			return error;
		if (m->nimages != m->state_images || strcmp(hex, m->state_sha256))
			return ferry_error_set(FERRY_EINVALID, W ": the bindings do not "
					       "make the state the envelope states");
		return 0;
	}
	return ferry_manifest_check_changes(m);
}
