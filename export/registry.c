/*
 * Registry sources (see registry.h): the OCI distribution pull API on the
 * HTTP client of core/http.c, with the anonymous and bearer-token flows
 * (WWW-Authenticate challenge, token endpoint), Basic auth, credentials from
 * an auth.json file, custom CAs and plain HTTP when a source says
 * `insecure`. Every manifest is checked against the digest that names it
 * (or, fetched by tag, against the registry's Docker-Content-Digest), its
 * size is capped and its media type must be one ferry knows. Messages name
 * the image and the problem.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "auth.h"
#include "buf.h"
#include "digest.h"
#include "fs.h"
#include "hash.h"
#include "helm_repo.h"
#include "http.h"
#include "json.h"
#include "manifest.h"
#include "reference.h"
#include "registry.h"
#include "banned.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

#define ACCEPT_MANIFESTS "Accept: " MT_OCI_INDEX ", " MT_OCI_MANIFEST ", " \
	MT_DOCKER_LIST ", " MT_DOCKER_MANIFEST

#define MAX_DEPTH 8

/* One repository on one registry with its settings and credentials. */
typedef struct {
	char *key;          /* base URL + settings, to share tokens */
	char *base;         /* "https://host/v2/<repo>" or a chart repository URL */
	char *host;         /* registry name for auth.json lookup */
	char *repository;
	ferry_http *http;
	char *ca_file;
	char *userpwd;      /* secret ("user:pass") or NULL */
	char *auth_header;  /* "Authorization: Bearer ..." (secret) or NULL */
	int basic;          /* the registry asked for Basic auth */
	const char *headers[3];
	char **redirect_hosts;
} repo_ctx;

typedef struct {
	repo_ctx *repo;
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
	repo_ctx **repos;
	size_t nrepos;
	queued_blob *queue;
	size_t nqueue;
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

/* A fetched manifest or index. */
typedef struct {
	ferry_buf body;
	char media_type[96];
	char hex[FERRY_SHA256_HEX_LEN + 1];
	json_t *json;
} doc;

static int oom(void)
{
	return ferry_error_set(FERRY_ENOMEM, "out of memory");
}

static void doc_dispose(doc *d)
{
	ferry_buf_dispose(&d->body);
	json_decref(d->json);
	memset(d, 0, sizeof(*d));
}

static int is_index_type(const char *mt)
{
	return !strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST);
}

static int is_manifest_type(const char *mt)
{
	return !strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIFEST);
}

/* ---- lifecycle ---------------------------------------------------------- */

char *ferry_registry_default_cache(void)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	ferry_buf b = FERRY_BUF_INIT;

	if (x && *x)
		ferry_buf_printf(&b, "%s/ferry", x);
	else
		ferry_buf_printf(&b, "%s/.cache/ferry", home && *home ? home : ".");
	return ferry_buf_detach(&b);
}

int ferry_registry_new(ferry_registry **out, const ferry_registry_options *opts)
{
	ferry_registry *r;
	ferry_buf b = FERRY_BUF_INIT;
	int error;

	if (!opts || opts->version != FERRY_REGISTRY_OPTIONS_VERSION || !opts->cache_dir)
		return ferry_error_set(FERRY_EINVALID, "bad registry options");
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	if (!(r = calloc(1, sizeof(*r))))
		return oom();
	r->opts = *opts;
	if (!(r->cache_dir = strdup(opts->cache_dir)) ||
	    (error = ferry_buf_printf(&b, "%s/oci/blobs/sha256", opts->cache_dir)) < 0) {
		free(r->cache_dir);
		free(r);
		return oom();
	}
	r->blob_dir = ferry_buf_detach(&b);
	r->opts.cache_dir = r->cache_dir;
	*out = r;
	return 0;
}

static void repo_free(repo_ctx *rc)
{
	char **p;

	if (!rc)
		return;
	free(rc->key);
	free(rc->base);
	free(rc->host);
	free(rc->repository);
	ferry_http_free(rc->http);
	free(rc->ca_file);
	ferry_secret_free(rc->userpwd);
	ferry_secret_free(rc->auth_header);
	for (p = rc->redirect_hosts; p && *p; p++)
		free(*p);
	free(rc->redirect_hosts);
	free(rc);
}

void ferry_registry_free(ferry_registry *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nrepos; i++)
		repo_free(r->repos[i]);
	free(r->repos);
	for (i = 0; i < r->nqueue; i++) {
		free(r->queue[i].url);
		free(r->queue[i].path);
		free(r->queue[i].what);
	}
	free(r->queue);
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

/* ---- repositories and authentication ----------------------------------- */

static int repo_get_ctx(repo_ctx **out, ferry_registry *r, const char *base,
			const char *host, const char *repository,
			const src_opts *o)
{
	ferry_http_options ho = FERRY_HTTP_OPTIONS_INIT;
	ferry_buf key = FERRY_BUF_INIT;
	const char *auth_file = o->auth_file ? o->auth_file : r->opts.auth_file;
	repo_ctx *rc = NULL, **grown;
	json_t *e;
	size_t i;
	int error;

	if ((error = ferry_buf_printf(&key, "%s\n%s\n%s\n", base,
				      o->ca_file ? o->ca_file : "",
				      auth_file ? auth_file : "")) < 0)
		return error;
	json_array_foreach(o->redirect_hosts, i, e)
		if ((error = ferry_buf_printf(&key, "%s,", json_string_value(e))) < 0)
			goto done;
	for (i = 0; i < r->nrepos; i++)
		if (!strcmp(r->repos[i]->key, key.ptr)) {
			*out = r->repos[i];
			goto done;
		}
	if (!(rc = calloc(1, sizeof(*rc))) ||
	    !(rc->redirect_hosts = calloc(json_array_size(o->redirect_hosts) + 1,
					  sizeof(char *)))) {
		error = oom();
		goto done;
	}
	json_array_foreach(o->redirect_hosts, i, e)
		if (!(rc->redirect_hosts[i] = strdup(json_string_value(e)))) {
			error = oom();
			goto done;
		}
	rc->key = ferry_buf_detach(&key);
	if (!(rc->base = strdup(base)) || !(rc->host = strdup(host)) ||
	    !(rc->repository = strdup(repository))) {
		error = oom();
		goto done;
	}
	if (o->ca_file && !(rc->ca_file = strdup(o->ca_file))) {
		error = oom();
		goto done;
	}
	ho.ca_file = rc->ca_file;
	ho.redirect_hosts = (const char *const *)rc->redirect_hosts;
	if ((error = ferry_http_new(&rc->http, &ho)) < 0)
		goto done;
	if (auth_file && (error = ferry_auth_file_lookup(&rc->userpwd, auth_file, host)) < 0)
		goto done;
	if (!(grown = realloc(r->repos, (r->nrepos + 1) * sizeof(*grown)))) {
		error = oom();
		goto done;
	}
	r->repos = grown;
	r->repos[r->nrepos++] = rc;
	*out = rc;
	rc = NULL;
done:
	repo_free(rc);
	ferry_buf_dispose(&key);
	return error;
}

/* Ask the token endpoint of a Bearer challenge for a pull token. */
static int fetch_token(repo_ctx *rc, const ferry_auth_challenge *ch, const char *what)
{
	ferry_buf scope = FERRY_BUF_INIT;
	char *header = NULL;
	int error;

	if ((error = ferry_buf_printf(&scope, "repository:%s:pull", rc->repository)) < 0)
		return error;
	error = ferry_auth_fetch_token(&header, rc->http, ch, scope.ptr, rc->userpwd,
				       rc->host, what);
	ferry_buf_dispose(&scope);
	if (error < 0)
		return error;
	ferry_secret_free(rc->auth_header);
	rc->auth_header = header;
	return 0;
}

static const char *const *repo_headers(repo_ctx *rc, const char *accept)
{
	size_t n = 0;

	if (accept)
		rc->headers[n++] = accept;
	if (rc->auth_header)
		rc->headers[n++] = rc->auth_header;
	rc->headers[n] = NULL;
	return rc->headers;
}

/*
 * GET (or HEAD) `url` in the repository's name, answering one 401
 * challenge: a Bearer token (anonymous, or with the credentials) or Basic
 * credentials. Any status comes back to the caller except a 401 that
 * persists, which is an error naming the registry.
 */
static int repo_get(ferry_http_response *resp, repo_ctx *rc, const char *url,
		    const char *accept, size_t limit, int head, const char *what)
{
	ferry_http_request req = { 0 };
	ferry_auth_challenge ch;
	int error, tried = 0;

	for (;;) {
		req.url = url;
		req.headers = repo_headers(rc, accept);
		req.userpwd = rc->basic ? rc->userpwd : NULL;
		req.limit = limit;
		req.head = head;
		if ((error = ferry_http_get(resp, rc->http, &req)) < 0)
			return ferry_error_wrap(error, "%s", what);
		if (resp->status != 401 || tried)
			break;
		tried = 1;
		if (!resp->www_authenticate) {
			ferry_http_response_dispose(resp);
			return ferry_error_set(FERRY_ERROR, "%s: registry '%s' answered "
					       "HTTP 401 without a challenge", what, rc->host);
		}
		if ((error = ferry_auth_challenge_parse(&ch, resp->www_authenticate)) < 0) {
			ferry_http_response_dispose(resp);
			return ferry_error_wrap(error, "%s", what);
		}
		ferry_http_response_dispose(resp);
		if (ch.scheme == FERRY_AUTH_BASIC) {
			ferry_auth_challenge_dispose(&ch);
			if (!rc->userpwd)
				return ferry_error_set(FERRY_ERROR, "%s: registry '%s' wants "
						       "credentials (Basic); give an auth-file "
						       "with an entry for '%s'", what, rc->host,
						       rc->host);
			rc->basic = 1;
			continue;
		}
		error = fetch_token(rc, &ch, what);
		ferry_auth_challenge_dispose(&ch);
		if (error < 0)
			return error;
	}
	if (resp->status == 401) {
		ferry_http_response_dispose(resp);
		return ferry_error_set(FERRY_ERROR, "%s: registry '%s' refused %s (HTTP 401)",
				       what, rc->host,
				       rc->userpwd ? "the credentials" : "anonymous access");
	}
	return 0;
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

static int queue_blob(ferry_registry *r, ferry_oci_content *c, repo_ctx *rc,
		      const char *hex, uint64_t size, const char *what)
{
	ferry_buf path = FERRY_BUF_INIT, url = FERRY_BUF_INIT, w = FERRY_BUF_INIT;
	queued_blob *grown;
	size_t i;
	int error;

	if ((error = cache_path(&path, r, hex)) < 0 ||
	    (error = ferry_oci_content_add_blob(c, hex, size, path.ptr, 0)) < 0)
		goto done;
	for (i = 0; i < r->nqueue; i++)
		if (!strcmp(r->queue[i].hex, hex))
			goto done;
	if ((error = ferry_buf_printf(&url, "%s/blobs/sha256:%s", rc->base, hex)) < 0 ||
	    (error = ferry_buf_printf(&w, "%s: blob sha256:%s", what, hex)) < 0)
		goto done;
	if (!(grown = realloc(r->queue, (r->nqueue + 1) * sizeof(*grown)))) {
		error = oom();
		goto done;
	}
	r->queue = grown;
	memset(&grown[r->nqueue], 0, sizeof(*grown));
	grown[r->nqueue].repo = rc;
	memcpy(grown[r->nqueue].hex, hex, sizeof(grown[r->nqueue].hex));
	grown[r->nqueue].size = size;
	grown[r->nqueue].url = ferry_buf_detach(&url);
	grown[r->nqueue].path = ferry_buf_detach(&path);
	grown[r->nqueue].what = ferry_buf_detach(&w);
	r->nqueue++;
done:
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&w);
	return error;
}

/* ---- manifests ---------------------------------------------------------- */

/*
 * Fetch manifest `ref` (a tag or "sha256:<hex>") and check it: status,
 * size, digest, JSON, schema version and media type. FERRY_ENOTFOUND on
 * 404 (the message names the manifest).
 */
static int fetch_manifest(doc *out, repo_ctx *rc, const char *ref, const char *what)
{
	ferry_http_response resp;
	ferry_buf url = FERRY_BUF_INIT;
	const char *mt, *ct;
	char want[FERRY_SHA256_HEX_LEN + 1] = "";
	char dwhat[200];
	json_t *sv;
	int error, by_digest = !strncmp(ref, "sha256:", 7);

	memset(out, 0, sizeof(*out));
	memset(&resp, 0, sizeof(resp));
	if (by_digest && (error = ferry_oci_digest_parse(want, ref)) < 0)
		return ferry_error_wrap(error, "%s", what);
	if ((error = ferry_buf_printf(&url, "%s/manifests/%s", rc->base, ref)) < 0)
		return error;
	error = repo_get(&resp, rc, url.ptr, ACCEPT_MANIFESTS,
			 FERRY_REGISTRY_MANIFEST_MAX_SIZE, 0, what);
	ferry_buf_dispose(&url);
	if (error == FERRY_ETOOBIG)
		return ferry_error_set(error, "%s: manifest '%.80s' is larger than %u bytes "
				       "(oversized manifest)", what, ref,
				       FERRY_REGISTRY_MANIFEST_MAX_SIZE);
	if (error < 0)
		return error;
	if (resp.status == 404) {
		error = ferry_error_set(FERRY_ENOTFOUND, "%s: manifest '%.80s' not found "
					"(HTTP 404)", what, ref);
		goto done;
	}
	if (resp.status == 403) {
		error = ferry_error_set(FERRY_ERROR, "%s: registry '%s' denied access "
					"(HTTP 403)", what, rc->host);
		goto done;
	}
	if (resp.status != 200) {
		error = ferry_error_set(FERRY_EIO, "%s: manifest '%.80s': registry answered "
					"HTTP %ld", what, ref, resp.status);
		goto done;
	}
	out->body = resp.body;
	memset(&resp.body, 0, sizeof(resp.body));
	if ((error = ferry_sha256_hex(out->hex, out->body.ptr, out->body.size)) < 0)
		goto done;
	if (by_digest && strcmp(out->hex, want)) {
		error = ferry_error_set(FERRY_ECORRUPT, "%s: manifest %s came back with "
					"digest sha256:%s (wrong digest)", what, ref, out->hex);
		goto done;
	}
	if (resp.docker_content_digest &&
	    !strncmp(resp.docker_content_digest, "sha256:", 7) &&
	    strcmp(resp.docker_content_digest + 7, out->hex)) {
		error = ferry_error_set(FERRY_ECORRUPT, "%s: manifest '%.80s' has digest "
					"sha256:%s but the registry says %.80s (wrong digest)",
					what, ref, out->hex, resp.docker_content_digest);
		goto done;
	}
	snprintf(dwhat, sizeof(dwhat), "%s: manifest '%.80s'", what, ref);
	if ((error = ferry_json_parse(&out->json, out->body.ptr, out->body.size, dwhat)) < 0)
		goto done;
	if (!json_is_object(out->json)) {
		error = ferry_error_set(FERRY_EINVALID, "%s is not a JSON object", dwhat);
		goto done;
	}
	sv = json_object_get(out->json, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		error = ferry_error_set(FERRY_EUNSUPPORTED, "%s: schemaVersion must be 2",
					dwhat);
		goto done;
	}
	mt = json_string_value(json_object_get(out->json, "mediaType"));
	ct = resp.content_type;
	if (!mt) {
		/* OCI allows leaving mediaType out; judge by the header, then shape. */
		if (ct && (is_index_type(ct) || is_manifest_type(ct)))
			mt = ct;
		else if (json_object_get(out->json, "manifests"))
			mt = MT_OCI_INDEX;
		else if (json_object_get(out->json, "config"))
			mt = MT_OCI_MANIFEST;
	}
	if (!mt || (!is_index_type(mt) && !is_manifest_type(mt))) {
		error = ferry_error_set(FERRY_EUNSUPPORTED, "%s has unknown media type "
					"'%.100s'", dwhat, mt ? mt : ct ? ct : "(none)");
		goto done;
	}
	snprintf(out->media_type, sizeof(out->media_type), "%s", mt);
done:
	ferry_http_response_dispose(&resp);
	if (error < 0)
		doc_dispose(out);
	return error;
}

typedef struct {
	ferry_registry *r;
	ferry_oci_content *c;
	repo_ctx *rc;
	const char *what;
} walk_ctx;

static int check_desc(const char **mt, char hex[FERRY_SHA256_HEX_LEN + 1],
		      uint64_t *size, const json_t *d, const char *what)
{
	const char *digest;
	int error;

	if ((error = ferry_json_get_string(mt, d, "mediaType", "descriptor")) < 0 ||
	    (error = ferry_json_get_string(&digest, d, "digest", "descriptor")) < 0 ||
	    (error = ferry_json_get_u64(size, d, "size", "descriptor")) < 0 ||
	    (error = ferry_oci_digest_parse(hex, digest)) < 0)
		return ferry_error_wrap(error, "%s", what);
	return 0;
}

static int walk_doc(walk_ctx *w, doc *d, int depth);

/* Fetch a child manifest by digest, check it against its descriptor, walk it. */
static int walk_child(walk_ctx *w, const json_t *desc, int depth)
{
	const char *mt;
	char hex[FERRY_SHA256_HEX_LEN + 1], ref[80];
	uint64_t size;
	doc d;
	int error;

	if ((error = check_desc(&mt, hex, &size, desc, w->what)) < 0)
		return error;
	if (!is_index_type(mt) && !is_manifest_type(mt))
		return ferry_error_set(FERRY_EUNSUPPORTED, "%s: the index lists sha256:%.12s "
				       "with unknown media type '%.100s'", w->what, hex, mt);
	if (size > FERRY_REGISTRY_MANIFEST_MAX_SIZE)
		return ferry_error_set(FERRY_ETOOBIG, "%s: manifest sha256:%s is larger "
				       "than %u bytes (oversized manifest)", w->what, hex,
				       FERRY_REGISTRY_MANIFEST_MAX_SIZE);
	snprintf(ref, sizeof(ref), "sha256:%s", hex);
	if ((error = fetch_manifest(&d, w->rc, ref, w->what)) < 0)
		return error;
	if (d.body.size != size)
		error = ferry_error_set(FERRY_ECORRUPT, "%s: manifest %s is %zu bytes, its "
					"descriptor says %llu", w->what, ref, d.body.size,
					(unsigned long long)size);
	else if (strcmp(d.media_type, mt))
		error = ferry_error_set(FERRY_EINVALID, "%s: manifest %s is a '%s', its "
					"descriptor says '%.100s'", w->what, ref,
					d.media_type, mt);
	else
		error = walk_doc(w, &d, depth + 1);
	doc_dispose(&d);
	return error;
}

/* Store a checked manifest and queue (or walk) everything it references. */
static int walk_doc(walk_ctx *w, doc *d, int depth)
{
	ferry_buf path = FERRY_BUF_INIT;
	json_t *list, *e, *config;
	const char *mt;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t size;
	size_t i;
	int error;

	if (depth > MAX_DEPTH)
		return ferry_error_set(FERRY_EINVALID, "%s: manifests nest deeper than %d",
				       w->what, MAX_DEPTH);
	if ((error = cache_put(&path, w->r, d->hex, d->body.ptr, d->body.size)) < 0 ||
	    (error = ferry_oci_content_add_blob(w->c, d->hex, d->body.size, path.ptr, 1)) < 0)
		goto done;
	if (is_index_type(d->media_type)) {
		if ((error = ferry_json_get_array(&list, d->json, "manifests", w->what)) < 0) {
			error = ferry_error_wrap(error, "%s", w->what);
			goto done;
		}
		json_array_foreach(list, i, e)
			if ((error = walk_child(w, e, depth)) < 0)
				goto done;
		goto done;
	}
	if ((error = ferry_json_get_object(&config, d->json, "config", "manifest")) < 0 ||
	    (error = ferry_json_get_array(&list, d->json, "layers", "manifest")) < 0) {
		error = ferry_error_wrap(error, "%s", w->what);
		goto done;
	}
	if ((error = check_desc(&mt, hex, &size, config, w->what)) < 0 ||
	    (error = queue_blob(w->r, w->c, w->rc, hex, size, w->what)) < 0)
		goto done;
	json_array_foreach(list, i, e)
		if ((error = check_desc(&mt, hex, &size, e, w->what)) < 0 ||
		    (error = queue_blob(w->r, w->c, w->rc, hex, size, w->what)) < 0)
			goto done;
done:
	ferry_buf_dispose(&path);
	return error;
}

/* Keep only the index entries for `platforms`; new bytes, new digest. */
static int filter_platforms(doc *d, const json_t *platforms, const char *what)
{
	json_t *copy = NULL, *list, *kept, *e, *p;
	ferry_buf out = FERRY_BUF_INIT, have = FERRY_BUF_INIT;
	size_t i, k;
	int error = 0;

	if (!(copy = json_deep_copy(d->json)) || !(kept = json_array()))
		return oom();
	list = json_object_get(copy, "manifests");
	json_array_foreach(list, i, e) {
		const json_t *plat = json_object_get(e, "platform");
		const char *os = json_string_value(json_object_get(plat, "os"));
		const char *arch = json_string_value(json_object_get(plat, "architecture"));

		if (os && arch)
			ferry_buf_printf(&have, "%s%s/%s", have.size ? ", " : "", os, arch);
		json_array_foreach(platforms, k, p)
			if (ferry_platform_matches(json_string_value(p), plat)) {
				json_array_append(kept, e);
				break;
			}
	}
	if (json_array_size(kept) == 0) {
		ferry_buf want = FERRY_BUF_INIT;

		json_array_foreach(platforms, k, p)
			ferry_buf_printf(&want, "%s%s", k ? ", " : "", json_string_value(p));
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

static int add_root(ferry_oci_content *c, const char *reference, const doc *d,
		    const char *source, const char *original, const json_t *platforms,
		    const char *what)
{
	json_t *desc, *ann;
	char digest[80];
	int error;

	snprintf(digest, sizeof(digest), "sha256:%s", d->hex);
	desc = json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType", d->media_type, "digest",
			 digest, "size", (json_int_t)d->body.size, "annotations",
			 FERRY_ANNOTATION_SOURCE, source);
	if (!desc)
		return oom();
	ann = json_object_get(desc, "annotations");
	if (original && (error = ferry_json_set(ann, FERRY_ANNOTATION_ORIGINAL_DIGEST,
						json_string(original))) < 0)
		goto done;
	if (platforms) {
		ferry_buf b = FERRY_BUF_INIT;
		json_t *p;
		size_t i;

		json_array_foreach(platforms, i, p)
			ferry_buf_printf(&b, "%s%s", i ? "," : "", json_string_value(p));
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
static int collect_referrers(walk_ctx *w, const char *name, const char *hex,
			     const char *source)
{
	static const char *const suffixes[] = { ".sig", ".att", ".sbom", "" };
	ferry_http_response resp;
	ferry_buf url = FERRY_BUF_INIT, ref = FERRY_BUF_INIT, tag = FERRY_BUF_INIT;
	json_t *idx = NULL, *list, *e;
	int error, api = 0;
	size_t i;

	memset(&resp, 0, sizeof(resp));
	if ((error = ferry_buf_printf(&url, "%s/referrers/sha256:%s", w->rc->base, hex)) < 0)
		return error;
	error = repo_get(&resp, w->rc, url.ptr, "Accept: " MT_OCI_INDEX,
			 FERRY_REGISTRY_MANIFEST_MAX_SIZE, 0, w->what);
	if (error < 0)
		goto done;
	if (resp.status == 200 && resp.content_type &&
	    !strcmp(resp.content_type, MT_OCI_INDEX)) {
		api = 1;
		if ((error = ferry_json_parse(&idx, resp.body.ptr, resp.body.size,
					      "referrers index")) < 0 ||
		    (error = ferry_json_get_array(&list, idx, "manifests",
						  "referrers index")) < 0) {
			error = ferry_error_wrap(error, "%s", w->what);
			goto done;
		}
		json_array_foreach(list, i, e) {
			const char *mt;
			char h[FERRY_SHA256_HEX_LEN + 1];
			uint64_t size;
			doc d;

			if ((error = check_desc(&mt, h, &size, e, w->what)) < 0)
				goto done;
			if (!is_manifest_type(mt) && !is_index_type(mt))
				continue;   /* an artifact type ferry cannot walk */
			ferry_buf_clear(&ref);
			if ((error = ferry_buf_printf(&ref, "sha256:%s", h)) < 0 ||
			    (error = fetch_manifest(&d, w->rc, ref.ptr, w->what)) < 0)
				goto done;
			ferry_buf_clear(&tag);
			if ((error = walk_doc(w, &d, 1)) == 0 &&
			    (error = ferry_buf_printf(&tag, "%s@sha256:%s", name, h)) == 0)
				error = add_root(w->c, tag.ptr, &d, source, NULL, NULL, w->what);
			doc_dispose(&d);
			if (error < 0)
				goto done;
		}
	}
	/* cosign's tags, and the referrers tag schema when the API is missing. */
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		doc d;

		if (api && !*suffixes[i])
			continue;
		ferry_buf_clear(&ref);
		if ((error = ferry_buf_printf(&ref, "sha256-%s%s", hex, suffixes[i])) < 0)
			goto done;
		if ((error = fetch_manifest(&d, w->rc, ref.ptr, w->what)) == FERRY_ENOTFOUND) {
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
		doc_dispose(&d);
		if (error < 0)
			goto done;
	}
done:
	json_decref(idx);
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&ref);
	ferry_buf_dispose(&tag);
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
	char original[80] = "";
	repo_ctx *rc;
	walk_ctx w;
	doc d;
	int error;

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
	    (error = ferry_buf_printf(&base, "%s://%s/v2/%s", o->insecure ? "http" : "https",
				      ref.api_host, ref.repository)) < 0 ||
	    (error = repo_get_ctx(&rc, r, base.ptr, ref.registry, ref.repository, o)) < 0)
		goto done;
	if ((error = fetch_manifest(&d, rc, ref.digest ? ref.digest : ref.tag,
				    what.ptr)) < 0)
		goto done;
	snprintf(original, sizeof(original), "sha256:%s", d.hex);
	if (o->platforms && is_index_type(d.media_type) &&
	    (error = filter_platforms(&d, o->platforms, what.ptr)) < 0)
		goto done;
	w.r = r;
	w.c = c;
	w.rc = rc;
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
	if ((error = add_root(c, bound.ptr, &d, text,
			      strcmp(original + 7, d.hex) ? original : NULL,
			      strcmp(original + 7, d.hex) ? o->platforms : NULL,
			      what.ptr)) < 0)
		goto done;
	if (o->referrers)
		error = collect_referrers(&w, name, original + 7, text);
done:
	doc_dispose(&d);
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
	repo_ctx *rc;
	doc d;
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
	    (error = repo_get_ctx(&rc, r, url, host.ptr, chart, o)) < 0)
		goto done;
	if ((error = ferry_helm_repo_fetch(&hc, rc->http, url, chart, version,
					   rc->userpwd, what.ptr)) < 0)
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
	snprintf(d.media_type, sizeof(d.media_type), "%s", MT_OCI_MANIFEST);
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
	doc_dispose(&d);
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

/* ---- downloads ---------------------------------------------------------- */

static const ferry_oci_blob *find_blob(const ferry_oci_content *c, const char *hex)
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
		error = oom();
		goto done;
	}
	for (i = 0; i < r->nqueue; i++) {
		const queued_blob *q = &r->queue[i];
		const ferry_oci_blob *b = find_blob(c, q->hex);
		struct stat st;

		if (!b || b->prereq)
			continue;   /* the receiver has it already */
		if (stat(q->path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size == q->size)
			continue;   /* cached; the writer checks its digest */
		if (!(hdrs[n] = calloc(2, sizeof(char *)))) {
			error = oom();
			goto done;
		}
		hdrs[n][0] = q->repo->auth_header;
		dl[n].client = q->repo->http;
		dl[n].url = q->url;
		dl[n].headers = hdrs[n];
		dl[n].userpwd = q->repo->basic ? q->repo->userpwd : NULL;
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
