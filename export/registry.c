/*
 * Registry sources (see registry.h): the OCI distribution pull API through
 * the registry client of oci/client.h (anonymous and bearer-token flows,
 * Basic auth, credentials from an auth.json file, custom CAs, plain HTTP
 * when a source says `insecure`) and the manifest walk of oci/walk.h.
 * Every manifest is checked against the digest that names it (or, fetched
 * by tag, against the registry's Docker-Content-Digest), its size is capped
 * and its media type must be one ferry knows. Messages name the image and
 * the problem.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "helm_repo.h"
#include "json.h"
#include "manifest.h"
#include "reference.h"
#include "registry.h"
#include "walk.h"
#include "banned.h"

#define ACCEPT_MANIFESTS "Accept: " FERRY_OCI_MT_ACCEPT

/* One registry (or chart repository) with its settings and credentials:
 * sources that share them share the client and its tokens. */
typedef struct {
	char *key;          /* URL + settings */
	ferry_oci_client *client;
	char **redirect_hosts;
} endpoint;

typedef struct {
	ferry_oci_client *client;
	char *repository;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t size;
	char *url;
	char *path;
	char *what;
} queued_blob;

struct ferry_registry {
	ferry_registry_options opts;
	char *cache_dir;
	char *blob_dir;
	endpoint **endpoints;
	size_t nendpoints, allocendpoints;
	queued_blob *queue;
	size_t nqueue, allocqueue;
	size_t *queued;     /* open addressing over queue: index + 1, 0 free */
	size_t queuedcap;   /* 0 or a power of two */
};

/* Per-source settings. */
typedef struct {
	json_t *platforms;
	int referrers;
	int require_pinned;
	int insecure;
	char *ca_file;
	char *auth_file;
	json_t *redirect_hosts;
} src_opts;

/* ---- lifecycle ---------------------------------------------------------- */

char *ferry_registry_default_cache(void)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	ferry_buf b = FERRY_BUF_INIT;
	int error;

	if (x && *x)
		error = ferry_buf_printf(&b, "%s/ferry", x);
	else
		error = ferry_buf_printf(&b, "%s/.cache/ferry", home && *home ? home : ".");
	if (error < 0) {
		ferry_buf_dispose(&b);
		return NULL;
	}
	return ferry_buf_detach(&b);
}

int ferry_registry_new(ferry_registry **out, const ferry_registry_options *opts)
{
	ferry_registry *r;
	ferry_buf layout = FERRY_BUF_INIT, b = FERRY_BUF_INIT;

	if (!opts || opts->version != FERRY_REGISTRY_OPTIONS_VERSION || !opts->cache_dir)
		return ferry_error_set(FERRY_EINVALID, "bad registry options");
	if (!(r = calloc(1, sizeof(*r))))
		return ferry_error_oom();
	r->opts = *opts;
	/* The cache is an image layout: <cache_dir>/oci. */
	if (!(r->cache_dir = strdup(opts->cache_dir)) ||
	    ferry_buf_printf(&layout, "%s/oci", opts->cache_dir) < 0 ||
	    ferry_oci_blob_dir(&b, layout.ptr) < 0) {
		ferry_buf_dispose(&layout);
		ferry_buf_dispose(&b);
		free(r->cache_dir);
		free(r);
		return ferry_error_oom();
	}
	ferry_buf_dispose(&layout);
	r->blob_dir = ferry_buf_detach(&b);
	r->opts.cache_dir = r->cache_dir;
	*out = r;
	return 0;
}

static void endpoint_free(endpoint *e)
{
	char **p;

	if (!e)
		return;
	free(e->key);
	ferry_oci_client_free(e->client);
	for (p = e->redirect_hosts; p && *p; p++)
		free(*p);
	free(e->redirect_hosts);
	free(e);
}

void ferry_registry_free(ferry_registry *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nendpoints; i++)
		endpoint_free(r->endpoints[i]);
	free(r->endpoints);
	for (i = 0; i < r->nqueue; i++) {
		free(r->queue[i].repository);
		free(r->queue[i].url);
		free(r->queue[i].path);
		free(r->queue[i].what);
	}
	free(r->queue);
	free(r->queued);
	free(r->cache_dir);
	free(r->blob_dir);
	free(r);
}

/* ---- options ------------------------------------------------------------ */

static void src_opts_dispose(src_opts *o)
{
	free(o->ca_file);
	free(o->auth_file);
	memset(o, 0, sizeof(*o));
}

static int resolve_spec_path(char **out, const ferry_export_spec *spec, const char *p)
{
	ferry_buf b = FERRY_BUF_INIT;
	int error;

	error = p[0] == '/' ? ferry_buf_puts(&b, p)
			    : ferry_buf_printf(&b, "%s/%s", spec->dir, p);
	if (error < 0)
		return error;
	*out = ferry_buf_detach(&b);
	return 0;
}

static int parse_opts(src_opts *o, const ferry_export_spec *spec,
		      const ferry_source *src, const char *const *allowed)
{
	const char *s;
	json_t *e;
	size_t i;
	int error;

	memset(o, 0, sizeof(*o));
	if ((error = ferry_source_check_options(spec, src, allowed)) < 0)
		return error;
	if ((error = ferry_source_option_strings(&o->platforms, spec, src, "platforms")) < 0 ||
	    (error = ferry_source_option_bool(&o->referrers, spec, src, "referrers", 1)) < 0 ||
	    (error = ferry_source_option_bool(&o->require_pinned, spec, src,
					      "require-pinned", 0)) < 0 ||
	    (error = ferry_source_option_bool(&o->insecure, spec, src, "insecure", 0)) < 0 ||
	    (error = ferry_source_option_strings(&o->redirect_hosts, spec, src,
						 "redirect-hosts")) < 0)
		return error;
	json_array_foreach(o->platforms, i, e)
		if (!ferry_platform_valid(json_string_value(e)))
			return ferry_source_error(spec, src, "platform '%.100s' is not "
						  "os/architecture[/variant] (e.g. linux/arm64)",
						  json_string_value(e));
	if (o->platforms && json_array_size(o->platforms) == 0)
		return ferry_source_error(spec, src, "'platforms' lists no platform");
	if ((error = ferry_source_option_string(&s, spec, src, "ca-file")) < 0)
		return error;
	if (s && (error = resolve_spec_path(&o->ca_file, spec, s)) < 0)
		goto fail;
	if ((error = ferry_source_option_string(&s, spec, src, "auth-file")) < 0)
		goto fail;
	if (s && (error = resolve_spec_path(&o->auth_file, spec, s)) < 0)
		goto fail;
	return 0;
fail:
	src_opts_dispose(o);
	return error;
}

/* ---- registries and authentication ------------------------------------- */

/* The client for `url` (a registry "scheme://host[:port]" or a chart
 * repository) with the source's settings, made on first use. */
static int get_client(ferry_oci_client **out, ferry_registry *r, const char *url,
		      const char *host, const src_opts *o)
{
	ferry_oci_client_options co = FERRY_OCI_CLIENT_OPTIONS_INIT;
	ferry_buf key = FERRY_BUF_INIT, hint = FERRY_BUF_INIT;
	const char *auth_file = o->auth_file ? o->auth_file : r->opts.auth_file;
	endpoint *e = NULL;
	char *userpwd = NULL;
	json_t *h;
	size_t i;
	int error;

	if ((error = ferry_buf_printf(&key, "%s\n%s\n%s\n", url,
				      o->ca_file ? o->ca_file : "",
				      auth_file ? auth_file : "")) < 0)
		return error;
	json_array_foreach(o->redirect_hosts, i, h)
		if ((error = ferry_buf_printf(&key, "%s,", json_string_value(h))) < 0)
			goto done;
	for (i = 0; i < r->nendpoints; i++)
		if (!strcmp(r->endpoints[i]->key, key.ptr)) {
			*out = r->endpoints[i]->client;
			goto done;
		}
	if (!(e = calloc(1, sizeof(*e))) ||
	    !(e->redirect_hosts = calloc(json_array_size(o->redirect_hosts) + 1,
					 sizeof(char *)))) {
		error = ferry_error_oom();
		goto done;
	}
	json_array_foreach(o->redirect_hosts, i, h)
		if (!(e->redirect_hosts[i] = strdup(json_string_value(h)))) {
			error = ferry_error_oom();
			goto done;
		}
	e->key = ferry_buf_detach(&key);
	if (auth_file && (error = ferry_auth_file_lookup(&userpwd, auth_file, host)) < 0)
		goto done;
	if ((error = ferry_buf_printf(&hint, "give an auth-file with an entry for '%s'",
				      host)) < 0)
		goto done;
	co.url = url;
	co.host = host;
	co.ca_file = o->ca_file;
	co.redirect_hosts = (const char *const *)e->redirect_hosts;
	co.userpwd = userpwd;
	co.actions = "pull";
	co.credentials_hint = hint.ptr;
	if ((error = ferry_oci_client_new(&e->client, &co)) < 0)
		goto done;
	if ((error = FERRY_ALLOC_GROW(r->endpoints, r->nendpoints + 1,
				      r->allocendpoints)) < 0)
		goto done;
	r->endpoints[r->nendpoints++] = e;
	*out = e->client;
	e = NULL;
done:
	endpoint_free(e);
	ferry_secret_free(userpwd);
	ferry_buf_dispose(&key);
	ferry_buf_dispose(&hint);
	return error;
}

/* GET (or HEAD) `path` of `repository` through the client. */
static int repo_get(ferry_http_response *resp, ferry_oci_client *cl, const char *repository,
		    const char *path, const char *accept, size_t limit, const char *what)
{
	const char *headers[2] = { accept, NULL };
	ferry_http_request req = { 0 };
	ferry_buf url = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_oci_client_url(&url, cl, repository, path)) < 0)
		return error;
	req.url = url.ptr;
	req.headers = headers;
	req.limit = limit;
	error = ferry_oci_client_get(resp, cl, repository, &req, what);
	ferry_buf_dispose(&url);
	return error;
}

/* ---- the cache ---------------------------------------------------------- */

static int cache_path(ferry_buf *out, const ferry_registry *r, const char *hex)
{
	return ferry_buf_printf(out, "%s/%s", r->blob_dir, hex);
}

/* Store a verified manifest or generated blob under its digest. */
static int cache_put(ferry_buf *path, ferry_registry *r, const char *hex,
		     const void *data, size_t len)
{
	ferry_buf partial = FERRY_BUF_INIT;
	struct stat st;
	int fd = -1, error;

	if ((error = ferry_fs_mkdir_p(r->blob_dir, 0755)) < 0 ||
	    (error = cache_path(path, r, hex)) < 0)
		return error;
	if (stat(path->ptr, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len)
		return 0;
	if ((error = ferry_buf_printf(&partial, "%s.partial", path->ptr)) < 0)
		return error;
	fd = open(partial.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", partial.ptr);
		goto done;
	}
	if ((error = ferry_fs_write_all(fd, data, len)) < 0)
		goto done;
	if (fdatasync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		error = ferry_error_set_errno(FERRY_EIO, "cannot write '%s'", partial.ptr);
		goto done;
	}
	fd = -1;
	if (rename(partial.ptr, path->ptr) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot rename '%s'", partial.ptr);
done:
	if (fd >= 0)
		close(fd);
	if (error < 0)
		unlink(partial.ptr);
	ferry_buf_dispose(&partial);
	return error;
}

/* ---- the download queue ------------------------------------------------ */

/* Digests are uniform: their first hex digits make the hash. */
static size_t queued_slot(const ferry_registry *r, const char *hex)
{
	size_t h = 0, i;

	for (i = 0; i < 16; i++)
		h = h << 4 | (size_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
	return h & (r->queuedcap - 1);
}

/* Is blob `hex` queued already? (Each blob is downloaded once, whichever
 * images name it.) */
static int queue_has(const ferry_registry *r, const char *hex)
{
	size_t i;

	if (!r->queuedcap)
		return 0;
	for (i = queued_slot(r, hex); r->queued[i]; i = (i + 1) & (r->queuedcap - 1))
		if (!strcmp(r->queue[r->queued[i] - 1].hex, hex))
			return 1;
	return 0;
}

/* Index queue entry `k` (the last one added). */
static int queue_index(ferry_registry *r, size_t k)
{
	size_t i;

	if ((r->nqueue + 1) * 2 > r->queuedcap) {
		size_t cap = r->queuedcap ? r->queuedcap * 2 : 256, *old = r->queued, n;

		if (!(r->queued = calloc(cap, sizeof(*r->queued)))) {
			r->queued = old;
			return ferry_error_oom();
		}
		r->queuedcap = cap;
		for (n = 0; n < k; n++) {
			for (i = queued_slot(r, r->queue[n].hex); r->queued[i];
			     i = (i + 1) & (cap - 1))
				;
			r->queued[i] = n + 1;
		}
		free(old);
	}
	for (i = queued_slot(r, r->queue[k].hex); r->queued[i]; i = (i + 1) & (r->queuedcap - 1))
		;
	r->queued[i] = k + 1;
	return 0;
}

static int queue_blob(ferry_registry *r, ferry_oci_content *c, ferry_oci_client *cl,
		      const char *repository, const ferry_oci_descriptor *desc, const char *what)
{
	ferry_buf path = FERRY_BUF_INIT, url = FERRY_BUF_INIT, w = FERRY_BUF_INIT;
	ferry_buf sub = FERRY_BUF_INIT;
	queued_blob *grown;
	int error;

	if ((error = cache_path(&path, r, desc->hex)) < 0 ||
	    (error = ferry_oci_content_add_blob(c, desc->hex, desc->size, path.ptr, 0)) < 0)
		goto done;
	if (queue_has(r, desc->hex))
		goto done;
	if ((error = ferry_buf_printf(&sub, "blobs/%s", desc->digest)) < 0 ||
	    (error = ferry_oci_client_url(&url, cl, repository, sub.ptr)) < 0 ||
	    (error = ferry_buf_printf(&w, "%s: blob %s", what, desc->digest)) < 0)
		goto done;
	if ((error = FERRY_ALLOC_GROW(r->queue, r->nqueue + 1, r->allocqueue)) < 0)
		goto done;
	grown = r->queue;
	memset(&grown[r->nqueue], 0, sizeof(*grown));
	if (!(grown[r->nqueue].repository = strdup(repository))) {
		error = ferry_error_oom();
		goto done;
	}
	grown[r->nqueue].client = cl;
	memcpy(grown[r->nqueue].hex, desc->hex, sizeof(grown[r->nqueue].hex));
	grown[r->nqueue].size = desc->size;
	grown[r->nqueue].url = ferry_buf_detach(&url);
	grown[r->nqueue].path = ferry_buf_detach(&path);
	grown[r->nqueue].what = ferry_buf_detach(&w);
	if ((error = queue_index(r, r->nqueue)) < 0) {
		free(grown[r->nqueue].repository);
		free(grown[r->nqueue].url);
		free(grown[r->nqueue].path);
		free(grown[r->nqueue].what);
		goto done;
	}
	r->nqueue++;
done:
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&w);
	ferry_buf_dispose(&sub);
	return error;
}

/* ---- manifests ---------------------------------------------------------- */

/*
 * Fetch the bytes of manifest `ref` (a tag or "sha256:<hex>") and check
 * status, size and digest; *content_type (caller frees, may be NULL) is what
 * the registry said it is. FERRY_ENOTFOUND on 404 (the message names the
 * manifest).
 */
static int fetch_body(ferry_buf *body, char hex[FERRY_SHA256_HEX_LEN + 1],
		      char **content_type, ferry_oci_client *cl, const char *repository,
		      const char *ref, const char *what)
{
	ferry_http_response resp;
	ferry_buf path = FERRY_BUF_INIT;
	char want[FERRY_SHA256_HEX_LEN + 1] = "", got[FERRY_OCI_DIGEST_SIZE];
	char said[FERRY_SHA256_HEX_LEN + 1];
	int error, by_digest = strchr(ref, ':') != NULL;   /* tags have no ':' */

	memset(&resp, 0, sizeof(resp));
	if (by_digest && (error = ferry_oci_digest_parse(want, ref)) < 0)
		return ferry_error_wrap(error, "%s", what);
	if ((error = ferry_buf_printf(&path, "manifests/%s", ref)) < 0)
		return error;
	error = repo_get(&resp, cl, repository, path.ptr, ACCEPT_MANIFESTS,
			 FERRY_OCI_MANIFEST_MAX_SIZE, what);
	ferry_buf_dispose(&path);
	if (error == FERRY_ETOOBIG)
		return ferry_error_set(error, "%s: manifest '%.80s' is larger than %u bytes "
				       "(oversized manifest)", what, ref,
				       FERRY_OCI_MANIFEST_MAX_SIZE);
	if (error < 0)
		return error;
	if (resp.status == 404) {
		error = ferry_error_set(FERRY_ENOTFOUND, "%s: manifest '%.80s' not found "
					"(HTTP 404)", what, ref);
		goto done;
	}
	if (resp.status == 403) {
		error = ferry_error_set(FERRY_ERROR, "%s: registry '%s' denied access "
					"(HTTP 403)", what, ferry_oci_client_host(cl));
		goto done;
	}
	if (resp.status != 200) {
		error = ferry_error_set(FERRY_EIO, "%s: manifest '%.80s': registry answered "
					"HTTP %ld", what, ref, resp.status);
		goto done;
	}
	if ((error = ferry_sha256_hex(hex, resp.body.ptr ? resp.body.ptr : "",
				      resp.body.size)) < 0)
		goto done;
	ferry_oci_digest_format(got, hex);
	if (by_digest && strcmp(hex, want)) {
		error = ferry_error_set(FERRY_ECORRUPT, "%s: manifest %s came back with "
					"digest %s (wrong digest)", what, ref, got);
		goto done;
	}
	/* A Docker-Content-Digest of another algorithm says nothing; a
	 * malformed or different sha256 one is a lie. */
	if (resp.docker_content_digest &&
	    (error = ferry_oci_digest_parse(said, resp.docker_content_digest)) !=
		    FERRY_EUNSUPPORTED &&
	    (error < 0 || strcmp(said, hex))) {
		error = ferry_error_set(FERRY_ECORRUPT, "%s: manifest '%.80s' has digest "
					"%s but the registry says %.80s (wrong digest)",
					what, ref, got, resp.docker_content_digest);
		goto done;
	}
	ferry_error_clear();
	error = 0;
	*body = resp.body;
	memset(&resp.body, 0, sizeof(resp.body));
	if (content_type) {
		*content_type = resp.content_type;
		resp.content_type = NULL;
	}
done:
	ferry_http_response_dispose(&resp);
	return error;
}

/* What registries send must be schema version 2 (image spec, Docker v2). */
static int check_schema(const ferry_oci_document *d, const char *what)
{
	json_t *sv = json_object_get(d->json, "schemaVersion");

	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return ferry_error_set(FERRY_EUNSUPPORTED, "%s: schemaVersion must be 2", what);
	return 0;
}

/*
 * Fetch manifest `ref` (a tag or "sha256:<hex>") and check it: status,
 * size, digest, JSON, schema version and media type (its own, else the
 * Content-Type, else its shape: ferry_oci_media_type).
 */
static int fetch_manifest(ferry_oci_document *out, ferry_oci_client *cl,
			  const char *repository, const char *ref, const char *what)
{
	ferry_buf dwhat = FERRY_BUF_INIT;
	char *ct = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = fetch_body(&out->body, out->hex, &ct, cl, repository, ref, what)) < 0 ||
	    (error = ferry_buf_printf(&dwhat, "%s: manifest '%.80s'", what, ref)) < 0 ||
	    (error = ferry_oci_document_parse(out, ct, dwhat.ptr)) < 0 ||
	    (error = check_schema(out, dwhat.ptr)) < 0)
		goto done;
	if (!ferry_oci_is_document(out->media_type))
		error = ferry_error_set(FERRY_EUNSUPPORTED, "%s has unknown media type "
					"'%.100s'", dwhat.ptr,
					out->media_type[0] ? out->media_type : "(none)");
done:
	free(ct);
	ferry_buf_dispose(&dwhat);
	if (error < 0)
		ferry_oci_document_dispose(out);
	return error;
}

typedef struct {
	ferry_registry *r;
	ferry_oci_content *c;
	ferry_oci_client *cl;
	const char *repository;
	const char *what;
} walk_ctx;

/* Configs and layers are queued; an index may list only documents. */
static int pull_visit(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth,
		      void *payload)
{
	walk_ctx *w = payload;

	(void)depth;
	if (role == FERRY_OCI_MANIFESTS && !ferry_oci_is_document(desc->media_type))
		return ferry_error_set(FERRY_EUNSUPPORTED, "%s: the index lists %.19s "
				       "with unknown media type '%.100s'", w->what,
				       desc->digest, desc->media_type);
	if (role == FERRY_OCI_CONFIG || role == FERRY_OCI_LAYER)
		return queue_blob(w->r, w->c, w->cl, w->repository, desc, w->what);
	return 0;
}

/* A child manifest, by digest. */
static int pull_load(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload)
{
	walk_ctx *w = payload;
	char hex[FERRY_SHA256_HEX_LEN + 1];

	return fetch_body(body, hex, NULL, w->cl, w->repository, desc->digest, w->what);
}

/* Each checked manifest is stored and carried. */
static int pull_enter(const ferry_oci_document *d, int depth, void *payload)
{
	walk_ctx *w = payload;
	ferry_buf path = FERRY_BUF_INIT, dwhat = FERRY_BUF_INIT;
	char digest[FERRY_OCI_DIGEST_SIZE];
	int error;

	(void)depth;
	ferry_oci_digest_format(digest, d->hex);
	if ((error = ferry_buf_printf(&dwhat, "%s: manifest %s", w->what, digest)) < 0 ||
	    (error = check_schema(d, dwhat.ptr)) < 0 ||
	    (error = cache_put(&path, w->r, d->hex, d->body.ptr, d->body.size)) < 0)
		goto done;
	error = ferry_oci_content_add_blob(w->c, d->hex, d->body.size, path.ptr, 1);
done:
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&dwhat);
	return error;
}

/* Store a checked manifest and queue (or walk) everything it references. */
static int walk_doc(walk_ctx *w, const ferry_oci_document *d, int depth)
{
	ferry_oci_walk_options o = FERRY_OCI_WALK_OPTIONS_INIT;

	o.load = pull_load;
	o.visit = pull_visit;
	o.enter = pull_enter;
	o.what = w->what;
	o.payload = w;
	return ferry_oci_walk_document(&o, d, depth);
}

static int filter_platforms(ferry_oci_document *d, const json_t *platforms, const char *what)
{
	json_t *copy = NULL, *list, *kept, *e, *p;
	ferry_buf out = FERRY_BUF_INIT, have = FERRY_BUF_INIT;
	size_t i, k;
	int error = 0;

	if (!(copy = json_deep_copy(d->json)) || !(kept = json_array()))
		return ferry_error_oom();
	list = json_object_get(copy, "manifests");
	json_array_foreach(list, i, e) {
		const json_t *plat = json_object_get(e, "platform");
		const char *os = json_string_value(json_object_get(plat, "os"));
		const char *arch = json_string_value(json_object_get(plat, "architecture"));

		if (os && arch)
			ferry_buf_printf_best_effort(&have, "%s%s/%s", have.size ? ", " : "", os,
						     arch);
		json_array_foreach(platforms, k, p)
			if (ferry_platform_matches(json_string_value(p), plat)) {
				json_array_append(kept, e);
				break;
			}
	}
	if (json_array_size(kept) == 0) {
		ferry_buf want = FERRY_BUF_INIT;

		json_array_foreach(platforms, k, p)
			ferry_buf_printf_best_effort(&want, "%s%s", k ? ", " : "",
						     json_string_value(p));
		error = ferry_error_set(FERRY_ENOTFOUND, "%s: the index has no manifest for "
					"%s (it has %s)", what, want.ptr ? want.ptr : "",
					have.ptr ? have.ptr : "none");
		ferry_buf_dispose(&want);
		json_decref(kept);
		goto done;
	}
	if ((error = ferry_json_set(copy, "manifests", kept)) < 0 ||
	    (error = ferry_json_dump(&out, copy)) < 0)
		goto done;
	ferry_buf_dispose(&d->body);
	d->body = out;
	memset(&out, 0, sizeof(out));
	json_decref(d->json);
	d->json = copy;
	copy = NULL;
	error = ferry_sha256_hex(d->hex, d->body.ptr, d->body.size);
done:
	json_decref(copy);
	ferry_buf_dispose(&out);
	ferry_buf_dispose(&have);
	return error;
}

static int add_root(ferry_oci_content *c, const char *reference, const ferry_oci_document *d,
		    const char *source, const char *original, const json_t *platforms,
		    const char *what)
{
	json_t *desc = ferry_oci_descriptor_new(d->media_type, d->hex, d->body.size), *ann;
	int error;

	if (!desc || !(ann = json_pack("{s:s}", FERRY_ANNOTATION_SOURCE, source)) ||
	    json_object_set_new(desc, "annotations", ann) < 0) {
		json_decref(desc);
		return ferry_error_oom();
	}
	if (original && (error = ferry_json_set(ann, FERRY_ANNOTATION_ORIGINAL_DIGEST,
						json_string(original))) < 0)
		goto done;
	if (platforms) {
		ferry_buf b = FERRY_BUF_INIT;
		json_t *p;
		size_t i;

		error = 0;
		json_array_foreach(platforms, i, p)
			if ((error = ferry_buf_printf(&b, "%s%s", i ? "," : "",
						      json_string_value(p))) < 0)
				break;
		if (!error)
			error = ferry_json_set(ann, FERRY_ANNOTATION_PLATFORMS,
					       json_string(b.ptr ? b.ptr : ""));
		ferry_buf_dispose(&b);
		if (error < 0)
			goto done;
	}
	if ((error = ferry_oci_content_add_root(c, reference, desc)) < 0)
		error = ferry_error_wrap(error, "%s", what);
done:
	json_decref(desc);
	return error;
}

/* Signatures, attestations and SBOMs that refer to `digest`. */
static int collect_referrers(walk_ctx *w, const char *name, const char *digest,
			     const char *source)
{
	static const char *const suffixes[] = { ".sig", ".att", ".sbom", "" };
	ferry_http_response resp;
	ferry_buf path = FERRY_BUF_INIT, ref = FERRY_BUF_INIT, tag = FERRY_BUF_INIT;
	ferry_buf iwhat = FERRY_BUF_INIT;
	json_t *idx = NULL;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	int error, api = 0;
	size_t i;

	memset(&resp, 0, sizeof(resp));
	if ((error = ferry_oci_digest_parse(hex, digest)) < 0 ||
	    (error = ferry_buf_printf(&path, "referrers/%s", digest)) < 0)
		return error;
	error = repo_get(&resp, w->cl, w->repository, path.ptr, "Accept: " FERRY_OCI_MT_INDEX,
			 FERRY_OCI_MANIFEST_MAX_SIZE, w->what);
	if (error < 0)
		goto done;
	if (resp.status == 200 && resp.content_type &&
	    !strcmp(resp.content_type, FERRY_OCI_MT_INDEX)) {
		ferry_oci_children it;
		ferry_oci_descriptor desc;
		ferry_oci_role role;

		api = 1;
		if ((error = ferry_buf_printf(&iwhat, "%s: referrers index", w->what)) < 0 ||
		    (error = ferry_json_parse(&idx, resp.body.ptr, resp.body.size,
					      iwhat.ptr)) < 0)
			goto done;
		ferry_oci_children_init(&it, idx, FERRY_OCI_MT_INDEX, 0, iwhat.ptr);
		while ((error = ferry_oci_children_next(&desc, &role, &it)) > 0) {
			ferry_oci_document d;

			if (!ferry_oci_is_document(desc.media_type))
				continue;   /* an artifact type ferry cannot walk */
			if ((error = fetch_manifest(&d, w->cl, w->repository, desc.digest,
						    w->what)) < 0)
				goto done;
			ferry_buf_clear(&tag);
			if ((error = walk_doc(w, &d, 1)) == 0 &&
			    (error = ferry_buf_printf(&tag, "%s@%s", name, desc.digest)) == 0)
				error = add_root(w->c, tag.ptr, &d, source, NULL, NULL, w->what);
			ferry_oci_document_dispose(&d);
			if (error < 0)
				goto done;
		}
		if (error < 0)
			goto done;
	}
	/* cosign's tags, and the referrers tag schema when the API is missing. */
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		ferry_oci_document d;

		if (api && !*suffixes[i])
			continue;
		ferry_buf_clear(&ref);
		if ((error = ferry_oci_referrers_tag(&ref, hex)) < 0 ||
		    (error = ferry_buf_puts(&ref, suffixes[i])) < 0)
			goto done;
		if ((error = fetch_manifest(&d, w->cl, w->repository, ref.ptr,
					    w->what)) == FERRY_ENOTFOUND) {
			ferry_error_clear();
			error = 0;
			continue;
		}
		if (error < 0)
			goto done;
		ferry_buf_clear(&tag);
		if ((error = walk_doc(w, &d, 1)) == 0 &&
		    (error = ferry_buf_printf(&tag, "%s:%s", name, ref.ptr)) == 0)
			error = add_root(w->c, tag.ptr, &d, source, NULL, NULL, w->what);
		ferry_oci_document_dispose(&d);
		if (error < 0)
			goto done;
	}
done:
	json_decref(idx);
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&ref);
	ferry_buf_dispose(&tag);
	ferry_buf_dispose(&iwhat);
	return error;
}

/* One reference from an `image`, `images` or `chart: oci://` source. */
static int collect_one(ferry_registry *r, ferry_oci_content *c,
		       const ferry_export_spec *spec, const ferry_source *src,
		       const char *text, const char *name_opt, const src_opts *o,
		       const char *kind_word)
{
	ferry_reference ref;
	ferry_buf base = FERRY_BUF_INIT, what = FERRY_BUF_INIT, bound = FERRY_BUF_INIT;
	const char *name;
	char original[FERRY_OCI_DIGEST_SIZE] = "";
	ferry_oci_client *cl;
	walk_ctx w;
	ferry_oci_document d;
	int error, filtered;

	memset(&d, 0, sizeof(d));
	if ((error = ferry_reference_parse(&ref, text)) < 0)
		return ferry_source_error(spec, src, "%s", ferry_error_last());
	if (o->require_pinned && !ref.digest) {
		error = ferry_source_error(spec, src, "'%s' is not pinned: require-pinned "
					   "wants a digest (%s@sha256:...)%s", text, text,
					   ref.implicit_tag ? "; no tag means 'latest'" : "");
		goto done;
	}
	name = name_opt ? name_opt : ref.repository;
	if ((error = ferry_buf_printf(&what, "%s '%s'", kind_word, text)) < 0 ||
	    (error = ferry_buf_printf(&base, "%s://%s", o->insecure ? "http" : "https",
				      ref.api_host)) < 0 ||
	    (error = get_client(&cl, r, base.ptr, ref.registry, o)) < 0)
		goto done;
	if ((error = fetch_manifest(&d, cl, ref.repository, ref.digest ? ref.digest : ref.tag,
				    what.ptr)) < 0)
		goto done;
	ferry_oci_digest_format(original, d.hex);
	if (o->platforms && ferry_oci_is_index(d.media_type) &&
	    (error = filter_platforms(&d, o->platforms, what.ptr)) < 0)
		goto done;
	filtered = strcmp(ferry_oci_digest_hex(original), d.hex) != 0;
	w.r = r;
	w.c = c;
	w.cl = cl;
	w.repository = ref.repository;
	w.what = what.ptr;
	if ((error = walk_doc(&w, &d, 0)) < 0)
		goto done;
	if (ref.tag && !ref.implicit_tag)
		error = ferry_buf_printf(&bound, "%s:%s", name, ref.tag);
	else if (ref.digest)
		error = ferry_buf_printf(&bound, "%s@%s", name, ref.digest);
	else
		error = ferry_buf_printf(&bound, "%s:%s", name, ref.tag);
	if (error < 0)
		goto done;
	if ((error = add_root(c, bound.ptr, &d, text, filtered ? original : NULL,
			      filtered ? o->platforms : NULL, what.ptr)) < 0)
		goto done;
	if (o->referrers)
		error = collect_referrers(&w, name, original, text);
done:
	ferry_oci_document_dispose(&d);
	ferry_reference_dispose(&ref);
	ferry_buf_dispose(&base);
	ferry_buf_dispose(&what);
	ferry_buf_dispose(&bound);
	return error;
}

static const char *const image_options[] = {
	"platforms", "referrers", "require-pinned", "insecure", "ca-file",
	"auth-file", "redirect-hosts", NULL
};
static const char *const helm_options[] = {
	"chart-name", "version", "insecure", "ca-file", "auth-file",
	"redirect-hosts", NULL
};

static int collect_list(ferry_registry *r, ferry_oci_content *c,
			const ferry_export_spec *spec, const ferry_source *src,
			const src_opts *o)
{
	ferry_buf text = FERRY_BUF_INIT;
	char **list = NULL;
	size_t n, i;
	int error;

	if (src->name) {
		error = ferry_source_error(spec, src, "'name' does not apply to a list "
					   "(each image keeps its repository path)");
		goto done;
	}
	if ((error = ferry_fs_read_file(&text, src->location, FERRY_IMAGE_LIST_MAX_SIZE)) < 0 ||
	    (error = ferry_image_list_parse(&list, &n, text.ptr ? text.ptr : "", text.size,
					    src->location)) < 0) {
		error = ferry_source_error(spec, src, "%s", ferry_error_last());
		goto done;
	}
	for (i = 0; i < n; i++)
		if ((error = collect_one(r, c, spec, src, list[i], NULL, o, "image")) < 0)
			goto done;
done:
	ferry_image_list_free(list);
	ferry_buf_dispose(&text);
	return error;
}

static int collect_helm(ferry_registry *r, ferry_oci_content *c,
			const ferry_export_spec *spec, const ferry_source *src,
			const src_opts *o)
{
	const char *chart, *version, *url = src->location;
	ferry_helm_chart hc;
	ferry_buf host = FERRY_BUF_INIT, what = FERRY_BUF_INIT, path = FERRY_BUF_INIT;
	ferry_buf bound = FERRY_BUF_INIT, tag = FERRY_BUF_INIT;
	ferry_oci_client *cl;
	ferry_oci_document d;
	char *p;
	int error;

	memset(&hc, 0, sizeof(hc));
	memset(&d, 0, sizeof(d));
	if ((error = ferry_source_option_string(&chart, spec, src, "chart-name")) < 0 ||
	    (error = ferry_source_option_string(&version, spec, src, "version")) < 0)
		return error;
	if (!chart || !version)
		return ferry_source_error(spec, src, "a chart repository needs 'chart-name' "
					  "and 'version'");
	if (!strncmp(url, "http://", 7) && !o->insecure)
		return ferry_source_error(spec, src, "'%s' is plain HTTP; set 'insecure: "
					  "true' to allow it", url);
	if ((error = ferry_http_url_host(&host, url)) < 0)
		return ferry_source_error(spec, src, "%s", ferry_error_last());
	if ((error = ferry_buf_printf(&what, "chart '%s' %s from '%s'", chart, version,
				      url)) < 0 ||
	    (error = get_client(&cl, r, url, host.ptr, o)) < 0)
		goto done;
	if ((error = ferry_helm_repo_fetch(&hc, ferry_oci_client_http(cl), url, chart, version,
					   ferry_oci_client_userpwd(cl), what.ptr)) < 0)
		goto done;
	/* The chart archive, its config and the manifest, as `helm push` makes them. */
	if ((error = cache_put(&path, r, hc.chart_hex, hc.chart.ptr, hc.chart.size)) < 0 ||
	    (error = ferry_oci_content_add_blob(c, hc.chart_hex, hc.chart.size, path.ptr,
						0)) < 0)
		goto done;
	ferry_buf_clear(&path);
	if ((error = cache_put(&path, r, hc.config_hex, hc.config.ptr, hc.config.size)) < 0 ||
	    (error = ferry_oci_content_add_blob(c, hc.config_hex, hc.config.size, path.ptr,
						0)) < 0)
		goto done;
	ferry_buf_clear(&path);
	d.body = hc.manifest;
	memset(&hc.manifest, 0, sizeof(hc.manifest));
	memcpy(d.hex, hc.manifest_hex, sizeof(d.hex));
	snprintf(d.media_type, sizeof(d.media_type), "%s", FERRY_OCI_MT_MANIFEST);
	if ((error = cache_put(&path, r, d.hex, d.body.ptr, d.body.size)) < 0 ||
	    (error = ferry_oci_content_add_blob(c, d.hex, d.body.size, path.ptr, 1)) < 0)
		goto done;
	/* OCI tags cannot hold '+': Helm writes it as '_'. */
	if ((error = ferry_buf_puts(&tag, version)) < 0)
		goto done;
	for (p = tag.ptr; *p; p++)
		if (*p == '+')
			*p = '_';
	if (!ferry_reference_tag_valid(tag.ptr)) {
		error = ferry_source_error(spec, src, "version '%s' cannot be an OCI tag",
					   version);
		goto done;
	}
	if ((error = ferry_buf_printf(&bound, "%s:%s", src->name ? src->name : chart,
				      tag.ptr)) < 0)
		goto done;
	error = add_root(c, bound.ptr, &d, src->written, NULL, NULL, what.ptr);
done:
	ferry_helm_chart_dispose(&hc);
	ferry_oci_document_dispose(&d);
	ferry_buf_dispose(&host);
	ferry_buf_dispose(&what);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&bound);
	ferry_buf_dispose(&tag);
	return error;
}

int ferry_registry_collect(ferry_registry *r, ferry_oci_content *c,
			   const ferry_export_spec *spec, const ferry_source *src)
{
	src_opts o;
	const char *loc = src->location;
	int error, helm = 0;

	if (src->kind == FERRY_SOURCE_CHART && (!strncmp(loc, "https://", 8) ||
						!strncmp(loc, "http://", 7)))
		helm = 1;
	if ((error = parse_opts(&o, spec, src, helm ? helm_options : image_options)) < 0)
		return error;
	switch (src->kind) {
	case FERRY_SOURCE_IMAGE:
		error = collect_one(r, c, spec, src, loc, src->name, &o, "image");
		break;
	case FERRY_SOURCE_IMAGES:
		error = collect_list(r, c, spec, src, &o);
		break;
	case FERRY_SOURCE_CHART:
		if (helm)
			error = collect_helm(r, c, spec, src, &o);
		else if (strncmp(loc, "oci://", 6))
			error = ferry_source_error(spec, src, "'%s' is neither oci://REFERENCE "
						   "nor a chart repository URL (https://...)",
						   loc);
		else
			error = collect_one(r, c, spec, src, loc + 6, src->name, &o, "chart");
		break;
	default:
		error = ferry_source_error(spec, src, "not a registry source");
	}
	src_opts_dispose(&o);
	return error;
}

/* The Helm chart archive that manifest `d` names (its one layer of Helm's
 * chart media type), fetched and checked against its digest. */
static int fetch_chart(ferry_buf *tgz, ferry_oci_client *cl, const char *repository,
		       const ferry_oci_document *d, const char *what)
{
	const json_t *layers = json_object_get(d->json, "layers"), *l, *found = NULL;
	const char *digest;
	ferry_http_response resp;
	ferry_buf path = FERRY_BUF_INIT;
	char want[FERRY_SHA256_HEX_LEN + 1], got[FERRY_SHA256_HEX_LEN + 1];
	size_t i;
	int error;

	memset(&resp, 0, sizeof(resp));
	json_array_foreach(layers, i, l) {
		const char *mt = json_string_value(json_object_get(l, "mediaType"));

		if (mt && !strcmp(mt, FERRY_OCI_MT_HELM_CHART)) {
			if (found)
				return ferry_error_set(FERRY_EINVALID, "%s has more than one chart "
						       "layer", what);
			found = l;
		}
	}
	if (!found)
		return ferry_error_set(FERRY_EUNSUPPORTED, "%s is not a Helm chart (no layer "
				       "of type %s)", what, FERRY_OCI_MT_HELM_CHART);
	digest = json_string_value(json_object_get(found, "digest"));
	if (!digest || ferry_oci_digest_parse(want, digest) < 0)
		return ferry_error_set(FERRY_EINVALID, "%s: the chart layer has no sha256 digest",
				       what);
	if ((error = ferry_buf_printf(&path, "blobs/%s", digest)) < 0 ||
	    (error = repo_get(&resp, cl, repository, path.ptr, "*/*", FERRY_HELM_CHART_MAX_SIZE,
			      what)) < 0)
		goto done;
	if (resp.status != 200) {
		error = ferry_error_set(resp.status == 404 ? FERRY_ENOTFOUND : FERRY_EIO,
					"%s: chart layer %s: registry answered HTTP %ld", what,
					digest, resp.status);
		goto done;
	}
	if ((error = ferry_sha256_hex(got, resp.body.ptr ? resp.body.ptr : "",
				      resp.body.size)) < 0)
		goto done;
	if (strcmp(got, want)) {
		error = ferry_error_set(FERRY_ECORRUPT, "%s: chart layer %s came back with "
					"digest sha256:%s (wrong digest)", what, digest, got);
		goto done;
	}
	*tgz = resp.body;
	memset(&resp.body, 0, sizeof(resp.body));
done:
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&path);
	return error;
}

/* Resolve `src` to its manifest's digest; with `tgz`, also fetch the Helm
 * chart archive the manifest carries. */
static int resolve(char digest[FERRY_OCI_DIGEST_SIZE], ferry_buf *tgz, ferry_registry *r,
		   const ferry_export_spec *spec, const ferry_source *src)
{
	ferry_reference ref;
	ferry_buf base = FERRY_BUF_INIT, what = FERRY_BUF_INIT;
	ferry_oci_client *cl;
	ferry_oci_document d;
	src_opts o;
	int error;

	memset(&d, 0, sizeof(d));
	if ((error = parse_opts(&o, spec, src, image_options)) < 0)
		return error;
	if ((error = ferry_reference_parse(&ref, src->location)) < 0) {
		src_opts_dispose(&o);
		return ferry_source_error(spec, src, "%s", ferry_error_last());
	}
	if ((error = ferry_buf_printf(&what, "%s '%s'", tgz ? "chart" : "image",
				      src->location)) < 0 ||
	    (error = ferry_buf_printf(&base, "%s://%s", o.insecure ? "http" : "https",
				      ref.api_host)) < 0 ||
	    (error = get_client(&cl, r, base.ptr, ref.registry, &o)) < 0 ||
	    (error = fetch_manifest(&d, cl, ref.repository, ref.digest ? ref.digest : ref.tag,
				    what.ptr)) < 0)
		goto done;
	ferry_oci_digest_format(digest, d.hex);
	if (tgz && !ferry_oci_is_manifest(d.media_type))
		error = ferry_error_set(FERRY_EUNSUPPORTED, "%s is an index, not a Helm chart",
					what.ptr);
	else if (tgz)
		error = fetch_chart(tgz, cl, ref.repository, &d, what.ptr);
done:
	ferry_oci_document_dispose(&d);
	ferry_reference_dispose(&ref);
	ferry_buf_dispose(&base);
	ferry_buf_dispose(&what);
	src_opts_dispose(&o);
	return error;
}

int ferry_registry_resolve(char digest[FERRY_OCI_DIGEST_SIZE], ferry_registry *r,
			   const ferry_export_spec *spec, const ferry_source *src)
{
	return resolve(digest, NULL, r, spec, src);
}

int ferry_registry_fetch_chart(ferry_buf *tgz, char digest[FERRY_OCI_DIGEST_SIZE],
			       ferry_registry *r, const ferry_export_spec *spec,
			       const ferry_source *src)
{
	return resolve(digest, tgz, r, spec, src);
}

/* ---- downloads ---------------------------------------------------------- */

int ferry_registry_download(ferry_registry *r, const ferry_oci_content *c)
{
	ferry_http_download *dl = NULL;
	const char ***hdrs = NULL;
	size_t i, n = 0;
	int error = 0;

	if (r->nqueue == 0)
		return 0;
	if ((error = ferry_fs_mkdir_p(r->blob_dir, 0755)) < 0)
		return error;
	if (!(dl = calloc(r->nqueue, sizeof(*dl))) ||
	    !(hdrs = calloc(r->nqueue, sizeof(*hdrs)))) {
		error = ferry_error_oom();
		goto done;
	}
	for (i = 0; i < r->nqueue; i++) {
		const queued_blob *q = &r->queue[i];
		const ferry_oci_blob *b = ferry_oci_content_find(c, q->hex);
		struct stat st;

		if (!b || b->prereq || b->skip)
			continue;   /* the receiver has it already */
		if (stat(q->path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size == q->size)
			continue;   /* cached; the writer checks its digest */
		if (!(hdrs[n] = calloc(2, sizeof(char *)))) {
			error = ferry_error_oom();
			goto done;
		}
		ferry_oci_client_auth(&hdrs[n][0], &dl[n].userpwd, q->client, q->repository);
		dl[n].client = ferry_oci_client_http(q->client);
		dl[n].url = q->url;
		dl[n].headers = hdrs[n];
		dl[n].path = q->path;
		dl[n].hex = q->hex;
		dl[n].size = q->size;
		dl[n].what = q->what;
		n++;
	}
	error = ferry_http_download_all(dl, n, r->opts.parallel, r->opts.progress,
					r->opts.progress_payload);
done:
	for (i = 0; hdrs && i < r->nqueue; i++)
		free(hdrs[i]);
	free(hdrs);
	free(dl);
	return error;
}

