/*
 * Seeding an OCI registry (see seed.h) through the distribution push API on
 * core/http.c: for every reference in the store, each blob is HEADed first
 * and skipped when present, mounted from another repository of the same
 * registry when ferry pushed it there before, and otherwise uploaded,
 * monolithically (POST, then PUT with the digest) up to the target's chunk
 * size and in chunks beyond it (PATCH with Content-Range; the upload's
 * location and offset are recorded so a killed seed resumes the blob where
 * the registry says it stopped). Manifests go by digest, children before
 * the indexes that list them. Tags are moved only after everything else,
 * and only after the manifest they name is confirmed present (HEAD).
 * Manifests with a `subject` are also listed under the referrers tag
 * schema (`sha256-<hex>`) when the registry has no referrers API. Before
 * anything is pushed, references whose target tag another reference has
 * too (after rewriting) are refused, each reported: one would silently
 * overwrite the other.
 *
 * Requests go through the registry client of oci/client.h, which answers
 * the registry's 401 challenge: Basic with the target's credentials, or a
 * bearer token with push scope for the repository (and pull scope for a
 * mount's source). What a manifest refers to is found with the walk of
 * oci/walk.h over the store's blobs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "auth.h"
#include "buf.h"
#include "client.h"
#include "descriptor.h"
#include "digest.h"
#include "fs.h"
#include "hash.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "catalog.h"
#include "pusher.h"
#include "reference.h"
#include "targets.h"
#include "walk.h"
#include "banned.h"

#define ACCEPT_ALL "Accept: " FERRY_OCI_MT_ACCEPT
#define DEFAULT_CHUNK (64u << 20)

typedef struct {
	char *repo;
	char subject[FERRY_OCI_DIGEST_SIZE];
	json_t *desc;      /* descriptor to list */
} referrer;

typedef struct {
	ferry_store *st;
	const ferry_target *t;
	ferry_seed_target_result *r;
	const ferry_seed_options *opts;
	ferry_oci_client *client;
	uint64_t chunk;
	char **done;         /* "repo\nsha256:hex" confirmed on the target in this run */
	size_t ndone, capdone;
	referrer *refs;
	size_t nrefs, allocrefs;
	int referrers_api;   /* -1 unknown, 0 absent, 1 present */
} oci_ctx;

static void ctx_dispose(oci_ctx *c)
{
	size_t i;

	ferry_oci_client_free(c->client);
	for (i = 0; i < c->ndone; i++)
		free(c->done[i]);
	free(c->done);
	for (i = 0; i < c->nrefs; i++) {
		free(c->refs[i].repo);
		json_decref(c->refs[i].desc);
	}
	free(c->refs);
}

/* ---- what this run confirmed -------------------------------------------- */

static int done_key(ferry_buf *b, const char *repo, const char *digest)
{
	return ferry_buf_printf(b, "%s\n%s", repo, digest);
}

static int is_done(const oci_ctx *c, const char *repo, const char *digest)
{
	ferry_buf k = FERRY_BUF_INIT;
	size_t i;
	int found = 0;

	if (done_key(&k, repo, digest) < 0)
		return 0;
	for (i = 0; i < c->ndone && !found; i++)
		found = !strcmp(c->done[i], k.ptr);
	ferry_buf_dispose(&k);
	return found;
}

static int mark_done(oci_ctx *c, const char *repo, const char *digest)
{
	ferry_buf k = FERRY_BUF_INIT;
	int error;

	if ((error = done_key(&k, repo, digest)) < 0)
		return error;
	if ((error = FERRY_ALLOC_GROW(c->done, c->ndone + 1, c->capdone)) < 0) {
		ferry_buf_dispose(&k);
		return error;
	}
	c->done[c->ndone++] = ferry_buf_detach(&k);
	return 0;
}

/* ---- requests ------------------------------------------------------------- */

/*
 * Send `req` with headers `extra` in repository `repo`'s name (the client
 * answers the registry's challenge). `mount_from` widens a token's scope
 * to pull from that repository.
 */
static int oci_send(ferry_http_response *resp, oci_ctx *c, const char *repo,
		    const char *mount_from, ferry_http_request *req,
		    const char *const *extra, const char *what)
{
	req->headers = extra;
	return ferry_oci_client_send(resp, c->client, repo, mount_from, req, what);
}

/* Append "<target>/v2/<repo>/<path>", the path formatted. */
static int oci_url(ferry_buf *out, oci_ctx *c, const char *repo, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int oci_url(ferry_buf *out, oci_ctx *c, const char *repo, const char *fmt, ...)
{
	ferry_buf path = FERRY_BUF_INIT;
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = ferry_buf_vprintf(&path, fmt, ap);
	va_end(ap);
	if (!error)
		error = ferry_oci_client_url(out, c->client, repo, path.ptr);
	ferry_buf_dispose(&path);
	return error;
}

static int unexpected(const ferry_http_response *resp, const char *what)
{
	return ferry_error_set(resp->status == 403 ? FERRY_ERROR : FERRY_EIO,
			       "%s: the registry answered HTTP %ld%s%.200s", what, resp->status,
			       resp->body.size ? ": " : "",
			       resp->body.size ? resp->body.ptr : "");
}

/* HEAD `kind` ("blobs" or "manifests") `digest`: *present 1 or 0. */
static int oci_head(int *present, oci_ctx *c, const char *repo, const char *kind,
		    const char *digest, const char *what)
{
	static const char *const accept[] = { ACCEPT_ALL, NULL };
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	ferry_buf url = FERRY_BUF_INIT;
	int error;

	*present = 0;
	if ((error = oci_url(&url, c, repo, "%s/%s", kind, digest)) < 0)
		return error;
	req.url = url.ptr;
	req.head = 1;
	error = oci_send(&resp, c, repo, NULL, &req, accept, what);
	ferry_buf_dispose(&url);
	if (error < 0)
		return error;
	if (resp.status == 200)
		*present = 1;
	else if (resp.status != 404)
		error = unexpected(&resp, what);
	ferry_http_response_dispose(&resp);
	return error;
}

/* An upload location (maybe relative) as an absolute URL, plus `param`. */
static int upload_url(ferry_buf *out, oci_ctx *c, const char *location, const char *param)
{
	int error;

	if ((error = ferry_http_url_resolve(out, ferry_oci_client_base(c->client), location)) < 0)
		return error;
	if (param)
		error = ferry_buf_printf(out, "%c%s", strchr(out->ptr, '?') ? '&' : '?', param);
	return error;
}

/* ---- blobs -------------------------------------------------------------- */

/* Ask where an interrupted chunked upload stands: *offset, or 0 to restart. */
static int upload_status(uint64_t *offset, oci_ctx *c, const char *repo,
			 const char *location, const char *what)
{
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	ferry_buf url = FERRY_BUF_INIT;
	const char *dash;
	int error;

	*offset = 0;
	if ((error = upload_url(&url, c, location, NULL)) < 0)
		return error;
	req.url = url.ptr;
	error = oci_send(&resp, c, repo, NULL, &req, NULL, what);
	ferry_buf_dispose(&url);
	if (error < 0)
		return error;
	if (resp.status == 204 && resp.range && (dash = strchr(resp.range, '-')))
		*offset = strtoull(dash + 1, NULL, 10) + 1;
	ferry_http_response_dispose(&resp);
	return 0;
}

static int upload_start(char **location, oci_ctx *c, const char *repo, const char *digest,
			const char *mount_from, int *mounted, const char *what)
{
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	ferry_buf url = FERRY_BUF_INIT;
	int error;

	*mounted = 0;
	*location = NULL;
	if (mount_from)
		error = oci_url(&url, c, repo, "blobs/uploads/?mount=%s&from=%s", digest,
				mount_from);
	else
		error = oci_url(&url, c, repo, "blobs/uploads/");
	if (error < 0)
		return error;
	req.url = url.ptr;
	req.method = "POST";
	error = oci_send(&resp, c, repo, mount_from, &req, NULL, what);
	ferry_buf_dispose(&url);
	if (error < 0)
		return error;
	if (resp.status == 201 && mount_from) {
		*mounted = 1;
	} else if (resp.status == 202 && resp.location) {
		*location = resp.location;
		resp.location = NULL;
	} else {
		error = unexpected(&resp, what);
	}
	ferry_http_response_dispose(&resp);
	return error;
}

static int push_blob(oci_ctx *c, const char *repo, const char *hex, uint64_t want_size,
		     const char *what_image)
{
	static const char *const octet[] = { "Content-Type: application/octet-stream", NULL };
	ferry_buf path = FERRY_BUF_INIT, item = FERRY_BUF_INIT, uitem = FERRY_BUF_INIT;
	ferry_buf url = FERRY_BUF_INIT, what = FERRY_BUF_INIT, param = FERRY_BUF_INIT;
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	char digest[FERRY_OCI_DIGEST_SIZE], *seen_in = NULL, *location = NULL, *saved = NULL;
	uint64_t size, offset = 0;
	struct stat s;
	int fd = -1, present, mounted, error;

	memset(&resp, 0, sizeof(resp));
	ferry_oci_digest_format(digest, hex);
	if (is_done(c, repo, digest))
		return 0;
	if ((error = ferry_buf_printf(&what, "%s: blob %s", what_image, digest)) < 0 ||
	    (error = ferry_buf_printf(&item, "blob %s", digest)) < 0 ||
	    (error = ferry_buf_printf(&uitem, "upload %s %s", repo, digest)) < 0 ||
	    (error = ferry_store_blob_path(&path, c->st, hex)) < 0 ||
	    (error = ferry_store_progress_get(&seen_in, c->st, c->t->name, item.ptr)) < 0)
		goto done;
	if ((error = oci_head(&present, c, repo, "blobs", digest, what.ptr)) < 0)
		goto done;
	if (present) {
		c->r->blobs_present++;
		goto record;
	}
	if ((fd = open(path.ptr, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &s) < 0) {
		error = ferry_error_set_errno(FERRY_ENOTFOUND, "%s: the store lacks it "
					      "('%s')", what.ptr, path.ptr);
		goto done;
	}
	size = (uint64_t)s.st_size;
	if (want_size && size != want_size) {
		error = ferry_error_set(FERRY_ECORRUPT, "%s: the store's file has %llu bytes, "
					"the descriptor says %llu", what.ptr,
					(unsigned long long)size, (unsigned long long)want_size);
		goto done;
	}
	/* Pushed to another repository of this registry before: mount it. */
	if (seen_in && strcmp(seen_in, repo)) {
		if ((error = upload_start(&location, c, repo, digest, seen_in, &mounted,
					  what.ptr)) < 0)
			goto done;
		if (mounted) {
			c->r->blobs_mounted++;
			goto record;
		}
	}
	/* A chunked upload an earlier run left: continue where the registry
	 * says it stands. */
	if (!location && size > c->chunk && !c->opts->full &&
	    (error = ferry_store_progress_get(&saved, c->st, c->t->name, uitem.ptr)) < 0)
		goto done;
	if (!location && saved) {
		if ((error = upload_status(&offset, c, repo, saved, what.ptr)) < 0)
			goto done;
		if (offset > 0 && offset < size) {
			location = saved;
			saved = NULL;
			ferry_log(FERRY_LOG_INFO, "%s: resuming the upload at byte %llu",
				  what.ptr, (unsigned long long)offset);
		} else {
			offset = 0;
		}
	}
	if (!location && (error = upload_start(&location, c, repo, digest, NULL, &mounted,
					       what.ptr)) < 0)
		goto done;
	req.body_fd = fd;
	if (size > c->chunk) {
		while (offset < size) {
			uint64_t len = size - offset < c->chunk ? size - offset : c->chunk;
			char range[80];
			const char *hdrs[3] = { octet[0], range, NULL };

			snprintf(range, sizeof(range), "Content-Range: %llu-%llu",
				 (unsigned long long)offset,
				 (unsigned long long)(offset + len - 1));
			ferry_buf_clear(&url);
			if ((error = upload_url(&url, c, location, NULL)) < 0)
				goto done;
			req.url = url.ptr;
			req.method = "PATCH";
			req.body_offset = offset;
			req.body_len = (size_t)len;
			if ((error = oci_send(&resp, c, repo, NULL, &req, hdrs, what.ptr)) < 0)
				goto done;
			if (resp.status != 202 || !resp.location) {
				error = unexpected(&resp, what.ptr);
				goto done;
			}
			free(location);
			location = resp.location;
			resp.location = NULL;
			ferry_http_response_dispose(&resp);
			offset += len;
			if (offset < size &&
			    (error = ferry_store_progress_set(c->st, c->t->name, uitem.ptr,
							      location)) < 0)
				goto done;
		}
		req.body_len = 0;
	} else {
		req.body_offset = 0;
		req.body_len = (size_t)size;
	}
	if ((error = ferry_buf_printf(&param, "digest=%s", digest)) < 0)
		goto done;
	ferry_buf_clear(&url);
	if ((error = upload_url(&url, c, location, param.ptr)) < 0)
		goto done;
	req.url = url.ptr;
	req.method = "PUT";
	req.body_offset = 0;
	if ((error = oci_send(&resp, c, repo, NULL, &req, octet, what.ptr)) < 0)
		goto done;
	if (resp.status != 201) {
		error = unexpected(&resp, what.ptr);
		goto done;
	}
	c->r->blobs_pushed++;
	ferry_log(FERRY_LOG_INFO, "%s: pushed (%llu bytes)", what.ptr, (unsigned long long)size);
	if (size > c->chunk &&
	    (error = ferry_store_progress_delete(c->st, c->t->name, uitem.ptr)) < 0)
		goto done;
record:
	if (!seen_in && (error = ferry_store_progress_set(c->st, c->t->name, item.ptr,
							  repo)) < 0)
		goto done;
	error = mark_done(c, repo, digest);
done:
	ferry_http_response_dispose(&resp);
	if (fd >= 0)
		close(fd);
	free(seen_in);
	free(location);
	free(saved);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&item);
	ferry_buf_dispose(&uitem);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&what);
	ferry_buf_dispose(&param);
	return error;
}

/* ---- manifests ---------------------------------------------------------- */

/* Read manifest `hex` from the store into `body`. */
static int read_manifest(ferry_buf *body, oci_ctx *c, const char *hex, const char *what)
{
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_store_blob_path(&path, c->st, hex)) < 0)
		return error;
	error = ferry_fs_read_file(body, path.ptr, FERRY_OCI_MANIFEST_MAX_SIZE);
	ferry_buf_dispose(&path);
	if (error < 0) {
		char digest[FERRY_OCI_DIGEST_SIZE];

		ferry_oci_digest_format(digest, hex);
		return ferry_error_wrap(error, "%s: manifest %s", what, digest);
	}
	return 0;
}

static int remember_referrer(oci_ctx *c, const char *repo, const json_t *doc,
			     const char *mt, const char *hex, uint64_t size)
{
	const char *sd = json_string_value(json_object_get(json_object_get(doc, "subject"),
							   "digest"));
	referrer *grown;
	json_t *desc;
	int error;

	if (!ferry_oci_digest_valid(sd))
		return 0;
	if (!(desc = ferry_oci_referrer_descriptor(doc, mt, hex, size)))
		return ferry_error_oom();
	if ((error = FERRY_ALLOC_GROW(c->refs, c->nrefs + 1, c->allocrefs)) < 0) {
		json_decref(desc);
		return error;
	}
	grown = c->refs;
	memset(&grown[c->nrefs], 0, sizeof(*grown));
	if (!(grown[c->nrefs].repo = strdup(repo))) {
		json_decref(desc);
		return ferry_error_oom();
	}
	snprintf(grown[c->nrefs].subject, sizeof(grown[c->nrefs].subject), "%s", sd);
	grown[c->nrefs++].desc = desc;
	return 0;
}

/*
 * Put manifest `hex` (`body`, of type `mt`; `doc` its JSON, or NULL for a
 * type ferry does not read) into `repo` by digest unless the registry has
 * it, and mark it done. What it refers to is already there.
 */
static int put_manifest(oci_ctx *c, const char *repo, const char *hex, const char *mt,
			const ferry_buf *body, const json_t *doc, const char *what)
{
	ferry_buf url = FERRY_BUF_INIT, ct = FERRY_BUF_INIT;
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	const char *hdrs[2];
	char digest[FERRY_OCI_DIGEST_SIZE];
	int present, error;

	memset(&resp, 0, sizeof(resp));
	ferry_oci_digest_format(digest, hex);
	if (!*mt)
		return ferry_error_set(FERRY_EINVALID, "%s: manifest %s has no media type",
				       what, digest);
	if ((error = oci_head(&present, c, repo, "manifests", digest, what)) < 0)
		goto done;
	if (present) {
		c->r->manifests_present++;
	} else {
		if ((error = oci_url(&url, c, repo, "manifests/%s", digest)) < 0 ||
		    (error = ferry_buf_printf(&ct, "Content-Type: %s", mt)) < 0)
			goto done;
		hdrs[0] = ct.ptr;
		hdrs[1] = NULL;
		req.url = url.ptr;
		req.method = "PUT";
		req.body = body->ptr;
		req.body_len = body->size;
		if ((error = oci_send(&resp, c, repo, NULL, &req, hdrs, what)) < 0)
			goto done;
		if (resp.status != 201) {
			error = unexpected(&resp, what);
			goto done;
		}
		if (resp.oci_subject)
			c->referrers_api = 1;
		c->r->manifests_pushed++;
	}
	if (doc && json_object_get(doc, "subject") &&
	    (error = remember_referrer(c, repo, doc, mt, hex, body->size)) < 0)
		goto done;
	error = mark_done(c, repo, digest);
done:
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&ct);
	return error;
}

typedef struct {
	oci_ctx *c;
	const char *repo;
	const char *what;
} push_ctx;

static int push_load(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload)
{
	push_ctx *p = payload;

	return read_manifest(body, p->c, desc->hex, p->what);
}

/*
 * Blobs are pushed as they are met; a document already confirmed is not
 * opened again; an index entry of a type ferry does not read is put as it
 * is, without looking inside.
 */
static int push_visit(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth,
		      void *payload)
{
	push_ctx *p = payload;
	ferry_buf body = FERRY_BUF_INIT;
	int error;

	(void)depth;
	switch (role) {
	case FERRY_OCI_CONFIG:
		return push_blob(p->c, p->repo, desc->hex, desc->size, p->what);
	case FERRY_OCI_LAYER:
		/* Non-distributable layers live elsewhere (their urls). */
		if (json_object_get(desc->json, "urls") && !ferry_store_has_blob(p->c->st, desc->hex))
			return 0;
		return push_blob(p->c, p->repo, desc->hex, desc->size, p->what);
	case FERRY_OCI_ROOT:
	case FERRY_OCI_MANIFESTS:
		if (is_done(p->c, p->repo, desc->digest))
			return 1;
		if (ferry_oci_is_document(desc->media_type))
			return 0;
		if ((error = read_manifest(&body, p->c, desc->hex, p->what)) == 0)
			error = put_manifest(p->c, p->repo, desc->hex, desc->media_type, &body,
					     NULL, p->what);
		ferry_buf_dispose(&body);
		return error < 0 ? error : 1;
	default:
		return 0;
	}
}

/* A document goes after everything it refers to. */
static int push_leave(const ferry_oci_document *doc, int depth, void *payload)
{
	push_ctx *p = payload;

	(void)depth;
	return put_manifest(p->c, p->repo, doc->hex, doc->media_type, &doc->body, doc->json,
			    p->what);
}

/*
 * Push manifest `hex` (of type `given_mt` as the store records it) and
 * everything it refers to into `repo`: blobs, then child manifests, then
 * the manifest itself by digest. On return the registry holds all of it
 * (confirmed by HEAD or by a 201).
 */
static int push_manifest(oci_ctx *c, const char *repo, const char *hex,
			 const char *given_mt, const char *what)
{
	ferry_oci_walk_options o = FERRY_OCI_WALK_OPTIONS_INIT;
	ferry_oci_descriptor root;
	ferry_buf path = FERRY_BUF_INIT;
	push_ctx p = { c, repo, what };
	char digest[FERRY_OCI_DIGEST_SIZE];
	struct stat st;
	int error;

	ferry_oci_digest_format(digest, hex);
	if (is_done(c, repo, digest))
		return 0;
	if ((error = ferry_store_blob_path(&path, c->st, hex)) < 0)
		return error;
	if (stat(path.ptr, &st) < 0) {
		error = ferry_error_set_errno(FERRY_ENOTFOUND, "%s: manifest %s: the store lacks "
					      "it ('%s')", what, digest, path.ptr);
		ferry_buf_dispose(&path);
		return error;
	}
	ferry_buf_dispose(&path);
	memset(&root, 0, sizeof(root));
	root.media_type = given_mt;
	root.digest = digest;
	memcpy(root.hex, hex, sizeof(root.hex));
	root.size = (uint64_t)st.st_size;
	o.load = push_load;
	o.visit = push_visit;
	o.leave = push_leave;
	o.what = what;
	o.payload = &p;
	return ferry_oci_walk(&o, &root);
}

/* Move tag `tag` of `repo` to manifest `hex`, which is complete there. */
static int put_tag(oci_ctx *c, const char *repo, const char *tag, const char *hex,
		   const char *given_mt, const char *what)
{
	ferry_buf url = FERRY_BUF_INIT, ct = FERRY_BUF_INIT;
	ferry_oci_document doc;
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	const char *hdrs[2];
	char digest[FERRY_OCI_DIGEST_SIZE];
	int error;

	memset(&resp, 0, sizeof(resp));
	memset(&doc, 0, sizeof(doc));
	ferry_oci_digest_format(digest, hex);
	/* The tag moves only to a manifest this run confirmed complete there
	 * (put_manifest marks it done after a HEAD or a 201). */
	if (!is_done(c, repo, digest))
		return ferry_error_set(FERRY_ERROR, "%s: manifest %s was not confirmed on the "
				       "registry; the tag was not moved", what, digest);
	if ((error = read_manifest(&doc.body, c, hex, what)) < 0 ||
	    (error = ferry_oci_document_parse(&doc, given_mt, what)) < 0 ||
	    (error = oci_url(&url, c, repo, "manifests/%s", tag)) < 0 ||
	    (error = ferry_buf_printf(&ct, "Content-Type: %s", doc.media_type)) < 0)
		goto done;
	hdrs[0] = ct.ptr;
	hdrs[1] = NULL;
	req.url = url.ptr;
	req.method = "PUT";
	req.body = doc.body.ptr;
	req.body_len = doc.body.size;
	if ((error = oci_send(&resp, c, repo, NULL, &req, hdrs, what)) < 0)
		goto done;
	if (resp.status != 201)
		error = unexpected(&resp, what);
done:
	ferry_http_response_dispose(&resp);
	ferry_oci_document_dispose(&doc);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&ct);
	return error;
}

/* ---- referrers tag schema ------------------------------------------------ */

static int probe_referrers(oci_ctx *c, const char *repo, const char *subject)
{
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	ferry_buf url = FERRY_BUF_INIT;
	int error;

	if (c->referrers_api >= 0)
		return 0;
	if ((error = oci_url(&url, c, repo, "referrers/%s", subject)) < 0)
		return error;
	req.url = url.ptr;
	error = oci_send(&resp, c, repo, NULL, &req, NULL, "referrers API");
	ferry_buf_dispose(&url);
	if (error < 0)
		return error;
	c->referrers_api = resp.status == 200 && resp.content_type &&
			   !strcmp(resp.content_type, FERRY_OCI_MT_INDEX);
	ferry_http_response_dispose(&resp);
	return 0;
}

/* Add the remembered referrers of (repo, subject) to its sha256-<hex> tag. */
static int update_referrers_tag(oci_ctx *c, size_t first)
{
	static const char *const accept[] = { "Accept: " FERRY_OCI_MT_INDEX, NULL };
	static const char *const ct[] = { "Content-Type: " FERRY_OCI_MT_INDEX, NULL };
	const referrer *ref = &c->refs[first];
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	ferry_buf url = FERRY_BUF_INIT, body = FERRY_BUF_INIT, what = FERRY_BUF_INIT;
	ferry_buf tag = FERRY_BUF_INIT;
	json_t *index = NULL, *list, *d;
	size_t i, j;
	int changed = 0, error;

	memset(&resp, 0, sizeof(resp));
	if ((error = ferry_buf_printf(&what, "%s: referrers of %s", ref->repo,
				      ref->subject)) < 0 ||
	    (error = ferry_oci_referrers_tag(&tag, ferry_oci_digest_hex(ref->subject))) < 0 ||
	    (error = oci_url(&url, c, ref->repo, "manifests/%s", tag.ptr)) < 0)
		goto done;
	req.url = url.ptr;
	req.limit = FERRY_OCI_MANIFEST_MAX_SIZE;
	if ((error = oci_send(&resp, c, ref->repo, NULL, &req, accept, what.ptr)) < 0)
		goto done;
	if (resp.status == 200) {
		if ((error = ferry_json_parse(&index, resp.body.ptr, resp.body.size,
					      what.ptr)) < 0)
			goto done;
	} else if (resp.status == 404) {
		if (!(index = ferry_oci_index_new())) {
			error = ferry_error_oom();
			goto done;
		}
	} else {
		error = unexpected(&resp, what.ptr);
		goto done;
	}
	ferry_http_response_dispose(&resp);
	if (!json_is_array(list = json_object_get(index, "manifests"))) {
		error = ferry_error_set(FERRY_EINVALID, "%s: the referrers tag is not an "
					"index", what.ptr);
		goto done;
	}
	for (i = first; i < c->nrefs; i++) {
		const char *want;
		int have = 0;

		if (strcmp(c->refs[i].repo, ref->repo) || strcmp(c->refs[i].subject, ref->subject))
			continue;
		want = json_string_value(json_object_get(c->refs[i].desc, "digest"));
		json_array_foreach(list, j, d)
			if (!strcmp(json_string_value(json_object_get(d, "digest")) ?
				    json_string_value(json_object_get(d, "digest")) : "", want))
				have = 1;
		if (!have) {
			if (json_array_append(list, c->refs[i].desc) < 0) {
				error = ferry_error_oom();
				goto done;
			}
			changed = 1;
		}
	}
	if (!changed)
		goto done;
	if ((error = ferry_json_dump(&body, index)) < 0)
		goto done;
	req.method = "PUT";
	req.body = body.ptr;
	req.body_len = body.size;
	if ((error = oci_send(&resp, c, ref->repo, NULL, &req, ct, what.ptr)) < 0)
		goto done;
	if (resp.status != 201) {
		error = unexpected(&resp, what.ptr);
		goto done;
	}
	c->r->referrer_indexes++;
done:
	ferry_http_response_dispose(&resp);
	json_decref(index);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&body);
	ferry_buf_dispose(&what);
	ferry_buf_dispose(&tag);
	return error;
}

static int push_referrer_tags(oci_ctx *c)
{
	size_t i, j;
	int error, seen;

	for (i = 0; i < c->nrefs; i++) {
		seen = 0;
		for (j = 0; j < i && !seen; j++)
			seen = !strcmp(c->refs[j].repo, c->refs[i].repo) &&
			       !strcmp(c->refs[j].subject, c->refs[i].subject);
		if (seen)
			continue;
		if ((error = probe_referrers(c, c->refs[i].repo, c->refs[i].subject)) < 0)
			return error;
		if (c->referrers_api == 1)
			return 0;
		if ((error = update_referrers_tag(c, i)) < 0)
			return error;
	}
	return 0;
}

/* ---- the target ---------------------------------------------------------- */

typedef struct {
	char *reference;   /* as the store names it */
	char *repo;        /* repository path on the target */
	char *tag;         /* NULL for name@digest */
	char hex[FERRY_SHA256_HEX_LEN + 1];
	char *media_type;
	int collides;      /* another reference has the same target tag: refused */
} seed_tag;

static void tags_free(seed_tag *tags, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(tags[i].reference);
		free(tags[i].repo);
		free(tags[i].tag);
		free(tags[i].media_type);
	}
	free(tags);
}

/* Split "name:tag" / "name@sha256:hex" and rewrite the name. A reference
 * with a digest is pushed by digest (a tag beside it is not moved). */
static int split_reference(seed_tag *out, const ferry_target *t, const char *reference,
			   const char *digest)
{
	ferry_reference_parts parts;
	const char *hex = ferry_oci_digest_hex(digest);
	char *name = NULL, *enclave = NULL;
	int error = 0;

	if ((error = ferry_reference_split(&parts, reference)) < 0)
		return error;
	if (!hex)
		return ferry_error_set(FERRY_EINVALID, "reference '%.200s': bad digest",
				       reference);
	memcpy(out->hex, hex, sizeof(out->hex));
	if (!(name = strndup(reference, parts.name_len)) ||
	    (!parts.digest && !(out->tag = strndup(parts.tag, parts.tag_len)))) {
		error = ferry_error_oom();
		goto done;
	}
	if ((error = ferry_rewrite_apply(&enclave, &t->rewrite, name)) < 0)
		goto done;
	if (!(out->repo = strdup(ferry_rewrite_repo_path(enclave))) || !*out->repo) {
		error = out->repo ? ferry_error_set(FERRY_EINVALID, "reference '%.200s' "
						    "rewrites to no repository", reference)
				  : ferry_error_oom();
	}
done:
	free(name);
	free(enclave);
	return error;
}

typedef struct {
	oci_ctx *c;
	seed_tag *tags;
	size_t n, alloc;
} tag_list;

static int add_tag(const ferry_store_tag *t, void *payload)
{
	tag_list *l = payload;
	seed_tag *tag;
	int error;

	if ((error = FERRY_ALLOC_GROW(l->tags, l->n + 1, l->alloc)) < 0)
		return error;
	tag = &l->tags[l->n++];
	memset(tag, 0, sizeof(*tag));
	if (!(tag->reference = strdup(t->reference)) ||
	    !(tag->media_type = strdup(t->media_type)))
		return ferry_error_oom();
	return split_reference(tag, l->c->t, tag->reference, t->digest);
}

static int load_tags(seed_tag **out, size_t *n, oci_ctx *c)
{
	tag_list l = { c, NULL, 0, 0 };
	int error;

	if ((error = ferry_store_tag_foreach(c->st, add_tag, &l)) < 0) {
		tags_free(l.tags, l.n);
		return error;
	}
	*out = l.tags;
	*n = l.n;
	return 0;
}

static int target_order(const void *a, const void *b)
{
	const seed_tag *x = *(const seed_tag *const *)a, *y = *(const seed_tag *const *)b;
	int d = strcmp(x->repo, y->repo);

	return d ? d : strcmp(x->tag, y->tag);
}

/*
 * Refuse every tagged reference whose target reference (repository and
 * tag, after rewriting) another reference has too, before anything is
 * pushed: one of them would silently overwrite the other on the registry
 * ("docker.io/library/x:v1" and "library/x:v1" without a rewrite rule).
 * Each is recorded in `r`, naming one reference it collides with.
 */
static int refuse_collisions(ferry_seed_target_result *r, seed_tag *tags, size_t n)
{
	seed_tag **by = NULL;
	ferry_buf why = FERRY_BUF_INIT, as = FERRY_BUF_INIT;
	size_t nby = 0, i, j, k;
	int error = 0;

	if (n && !(by = calloc(n, sizeof(*by))))
		return ferry_error_oom();
	for (i = 0; i < n; i++)
		if (tags[i].tag)
			by[nby++] = &tags[i];
	if (nby)
		qsort(by, nby, sizeof(*by), target_order);
	for (i = 0; i < nby && !error; i = j) {
		for (j = i + 1; j < nby && !target_order(&by[i], &by[j]); j++)
			;
		for (k = i; j - i > 1 && k < j && !error; k++) {
			const seed_tag *other = by[k == i ? i + 1 : i];

			by[k]->collides = 1;
			ferry_buf_clear(&why);
			ferry_buf_clear(&as);
			if ((error = ferry_buf_printf(&as, "(as %s:%s)", by[k]->repo,
						      by[k]->tag)) < 0 ||
			    (error = ferry_buf_printf(&why, "'%s' maps to the same target "
						      "reference; neither is pushed (add a "
						      "rewrite rule that keeps them apart)",
						      other->reference)) < 0)
				break;
			error = ferry_seed__refuse(r, by[k]->reference, as.ptr, why.ptr);
		}
	}
	free(by);
	ferry_buf_dispose(&why);
	ferry_buf_dispose(&as);
	return error;
}

static int ctx_init(oci_ctx *c, ferry_store *st, const ferry_target *t,
		    ferry_seed_target_result *r, const ferry_seed_options *opts)
{
	ferry_oci_client_options co = FERRY_OCI_CLIENT_OPTIONS_INIT;
	ferry_buf host = FERRY_BUF_INIT;
	json_t *chunk = json_object_get(t->options, "chunk-size");
	char *cred = NULL, *userpwd = NULL;
	int error;

	memset(c, 0, sizeof(*c));
	c->st = st;
	c->t = t;
	c->r = r;
	c->opts = opts;
	c->referrers_api = -1;
	c->chunk = json_is_integer(chunk) ? (uint64_t)json_integer_value(chunk) : DEFAULT_CHUNK;
	if ((error = ferry_http_url_host(&host, t->url)) < 0 ||
	    (error = ferry_target_credentials(&cred, t)) < 0)
		goto done;
	if (cred && cred[0] == '{') {
		/* A docker/podman auth.json: the entry for this registry. */
		char what[300];

		snprintf(what, sizeof(what), "target '%.100s': credentials", t->name);
		error = ferry_auth_text_lookup(&userpwd, cred, strlen(cred), what, host.ptr);
	} else if (cred && !strchr(cred, ':')) {
		error = ferry_error_set(FERRY_EINVALID, "target '%s': the credentials must be "
					"'user:password' or an auth.json", t->name);
	} else {
		userpwd = cred;
		cred = NULL;
	}
	if (error < 0)
		goto done;
	co.url = t->url;
	co.host = host.ptr;
	co.ca_file = json_string_value(json_object_get(t->options, "ca-file"));
	co.userpwd = userpwd;
	co.actions = "pull,push";
	co.credentials_hint = "add them to the target with --credentials";
	co.bytes_sent = &r->bytes_sent;
	error = ferry_oci_client_new(&c->client, &co);
done:
	ferry_secret_free(cred);
	ferry_secret_free(userpwd);
	ferry_buf_dispose(&host);
	return error;
}

int ferry_seed__oci(ferry_seed_target_result *r, ferry_store *st, const ferry_target *t,
		    const ferry_seed_options *opts)
{
	seed_tag *tags = NULL;
	ferry_buf item = FERRY_BUF_INIT, what = FERRY_BUF_INIT;
	char *state = NULL, digest[FERRY_OCI_DIGEST_SIZE];
	size_t ntags = 0, i, *pending = NULL, npending = 0;
	oci_ctx c;
	int error;

	if ((error = ctx_init(&c, st, t, r, opts)) < 0 ||
	    (error = load_tags(&tags, &ntags, &c)) < 0 ||
	    (error = refuse_collisions(r, tags, ntags)) < 0)
		goto done;
	if (ntags && !(pending = calloc(ntags, sizeof(*pending)))) {
		error = ferry_error_oom();
		goto done;
	}
	/* Content first, for every reference. */
	for (i = 0; i < ntags; i++) {
		seed_tag *g = &tags[i];

		if (g->collides)
			continue;
		ferry_oci_digest_format(digest, g->hex);
		ferry_buf_clear(&item);
		ferry_buf_clear(&what);
		if ((error = ferry_buf_printf(&what, "%s (as %s)", g->reference, g->repo)) < 0)
			goto done;
		if (g->tag)
			error = ferry_buf_printf(&item, "tag %s:%s", g->repo, g->tag);
		else
			error = ferry_buf_printf(&item, "manifest %s@%s", g->repo, digest);
		if (error < 0)
			goto done;
		free(state);
		state = NULL;
		if (!opts->full &&
		    (error = ferry_store_progress_get(&state, st, t->name, item.ptr)) < 0)
			goto done;
		if (state && !strcmp(state, digest)) {
			r->tags_unchanged++;
			continue;
		}
		if ((error = push_manifest(&c, g->repo, g->hex, g->media_type, what.ptr)) < 0)
			goto done;
		pending[npending++] = i;
	}
	/* Then the tags, each only to content the registry holds. */
	for (i = 0; i < npending; i++) {
		seed_tag *g = &tags[pending[i]];

		if (!g->tag)
			continue;
		ferry_oci_digest_format(digest, g->hex);
		ferry_buf_clear(&item);
		ferry_buf_clear(&what);
		if ((error = ferry_buf_printf(&what, "%s (as %s:%s)", g->reference, g->repo,
					      g->tag)) < 0 ||
		    (error = ferry_buf_printf(&item, "tag %s:%s", g->repo, g->tag)) < 0 ||
		    (error = put_tag(&c, g->repo, g->tag, g->hex, g->media_type, what.ptr)) < 0 ||
		    (error = ferry_store_progress_set(st, t->name, item.ptr, digest)) < 0)
			goto done;
		r->tags_set++;
		ferry_log(FERRY_LOG_INFO, "%s: tag set to %s", what.ptr, digest);
	}
	/* Referrers last (their tag schema index is a tag too); only then are
	 * manifests pushed by digest alone recorded as done, so an
	 * interrupted run lists them again. */
	if ((error = push_referrer_tags(&c)) < 0)
		goto done;
	for (i = 0; i < npending; i++) {
		seed_tag *g = &tags[pending[i]];

		if (g->tag)
			continue;
		ferry_oci_digest_format(digest, g->hex);
		ferry_buf_clear(&item);
		if ((error = ferry_buf_printf(&item, "manifest %s@%s", g->repo, digest)) < 0 ||
		    (error = ferry_store_progress_set(st, t->name, item.ptr, digest)) < 0)
			goto done;
	}
done:
	free(state);
	free(pending);
	tags_free(tags, ntags);
	ferry_buf_dispose(&item);
	ferry_buf_dispose(&what);
	ctx_dispose(&c);
	return error;
}
