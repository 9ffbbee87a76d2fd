/*
 * The OCI distribution pull API over the store: /v2/, manifests and blobs
 * (GET and HEAD, with the stored media type, Docker-Content-Digest and
 * Content-Length; blobs with Range as RFC 9110 has it and sent by the
 * kernel from the file), tags/list with n/last pagination, _catalog, and
 * referrers (with the artifactType filter). A repository serves only what
 * its tags reach (the view knows, see view.h), as a registry does.
 * Everything else under /v2/ is refused: the mirror is read-only. Names,
 * tags, digests, media types and referrer entries are oci/'s.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "buf.h"
#include "descriptor.h"
#include "digest.h"
#include "fs.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "oci.h"
#include "reference.h"
#include "private.h"
#include "store.h"
#include "banned.h"

#define BLOB_DAMAGED (-2)

/* The blob's file, open, and its size: -1 when there is none, BLOB_DAMAGED
 * (logged) when its size is not what a descriptor in the view says: the
 * wrong bytes are never sent under the digest. */
static int blob_fd(ferry_mirror *m, const ferry_view_snapshot *s, const char *hex,
		   uint64_t *size)
{
	ferry_buf path = FERRY_BUF_INIT;
	struct stat st;
	int fd = -1;

	if (ferry_store_path_blob(&path, m->store, hex) == 0)
		fd = open(path.ptr, O_RDONLY | O_CLOEXEC);
	ferry_buf_dispose(&path);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		return -1;
	}
	if (fd >= 0 && s && !ferry_view_size_ok(s, hex, (uint64_t)st.st_size)) {
		ferry_log(FERRY_LOG_ERROR, "not serving blob sha256:%s: its file has %llu "
			  "bytes, which is not the size its descriptor gives (the store is "
			  "damaged: run ferry store fsck)", hex,
			  (unsigned long long)st.st_size);
		close(fd);
		return BLOB_DAMAGED;
	}
	if (fd >= 0)
		*size = (uint64_t)st.st_size;
	return fd;
}

static enum MHD_Result damaged(struct MHD_Connection *c, ferry_request *r)
{
	return ferry_mirror__error(c, r, 500, "UNKNOWN", "blob is damaged in the store");
}

/* The media type a manifest declares, or the one its shape implies. */
static char *manifest_type(int fd, uint64_t size)
{
	char *body, *type = NULL;
	json_t *doc;
	ssize_t n;

	if (size > FERRY_OCI_MANIFEST_MAX_SIZE || !(body = malloc(size ? size : 1)))
		return NULL;
	n = pread(fd, body, size, 0);
	if (n == (ssize_t)size && ferry_json_parse(&doc, body, size, "a stored manifest") == 0) {
		const char *mt = ferry_oci_media_type(doc, NULL);

		if (mt)
			type = strdup(mt);
		json_decref(doc);
	}
	free(body);
	return type;
}

int ferry_mirror__range(uint64_t *first, uint64_t *last, const char *range, uint64_t size)
{
	unsigned long long a = 0, b = 0;
	char tail;
	int ok = 0;

	/* RFC 9110 14.2: a range unit the server does not know is ignored; a
	 * server may ignore a Range of several ranges too (it answers one). */
	if (strncasecmp(range, "bytes=", 6) || strchr(range, ','))
		return 1;
	if (sscanf(range + 6, "%llu-%llu%c", &a, &b, &tail) == 2)
		ok = a <= b && a < size;
	else if (sscanf(range + 6, "%llu-%c", &a, &tail) == 1 &&
		 range[strlen(range) - 1] == '-')
		ok = a < size, b = size - 1;
	else if (sscanf(range + 6, "-%llu%c", &b, &tail) == 1 && b > 0)
		ok = size > 0, a = b >= size ? 0 : size - b, b = size - 1;
	if (!ok)
		return -1;
	if (b >= size)
		b = size - 1;
	*first = a;
	*last = b;
	return 0;
}

static enum MHD_Result send_file(ferry_mirror *m, struct MHD_Connection *c,
				 ferry_request *r, int fd, uint64_t size,
				 const char *type, const char *digest, int ranges)
{
	const char *range = ranges ? MHD_lookup_connection_value(c, MHD_HEADER_KIND,
								  MHD_HTTP_HEADER_RANGE) : NULL;
	uint64_t first = 0, last = size ? size - 1 : 0;
	unsigned status = MHD_HTTP_OK;
	struct MHD_Response *resp;
	char buf[96], etag[FERRY_OCI_DIGEST_SIZE + 2];
	int whole = range ? ferry_mirror__range(&first, &last, range, size) : 1;

	(void)m;
	if (whole != 1) {
		if (whole < 0) {
			close(fd);
			resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
			snprintf(buf, sizeof(buf), "bytes */%" PRIu64, size);
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
			return ferry_mirror__send(c, r, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp, 0);
		}
		status = MHD_HTTP_PARTIAL_CONTENT;
	}
	resp = MHD_create_response_from_fd_at_offset64(size ? last - first + 1 : 0, fd,
						       first);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "Docker-Content-Digest", digest);
	snprintf(etag, sizeof(etag), "\"%s\"", digest);   /* an entity tag is quoted */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	if (ranges)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (status == MHD_HTTP_PARTIAL_CONTENT) {
		snprintf(buf, sizeof(buf), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first,
			 last, size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
	}
	return ferry_mirror__send(c, r, status, resp, size ? last - first + 1 : 0);
}

static enum MHD_Result manifests(ferry_mirror *m, struct MHD_Connection *c,
				 ferry_request *r, const char *name, const char *ref)
{
	ferry_view_snapshot *s = ferry_view_get(&m->view);
	char hex[FERRY_SHA256_HEX_LEN + 1], digest[FERRY_OCI_DIGEST_SIZE];
	const ferry_view_tag *t = NULL;
	char *type = NULL;
	uint64_t size = 0;
	int fd;
	enum MHD_Result ret;

	if (!s)
		return ferry_mirror__error(c, r, 500, "UNKNOWN", "out of memory");
	if (ferry_view_first(s, name) < 0) {
		ferry_view_release(&m->view, s);
		return ferry_mirror__error(c, r, 404, "NAME_UNKNOWN",
					   "repository name not known to registry");
	}
	if (strchr(ref, ':')) {   /* a digest: tags have no ':' */
		if (ferry_oci_digest_parse(hex, ref) < 0) {
			ferry_view_release(&m->view, s);
			return ferry_mirror__error(c, r, 400, "DIGEST_INVALID",
						   "provided digest did not match uploaded content");
		}
		if (!ferry_view_reaches(s, name, hex)) {
			ferry_view_release(&m->view, s);
			return ferry_mirror__error(c, r, 404, "MANIFEST_UNKNOWN",
						   "manifest unknown to repository");
		}
	} else if (!ferry_reference_tag_valid(ref)) {
		ferry_view_release(&m->view, s);
		return ferry_mirror__error(c, r, 400, "TAG_INVALID", "manifest tag did not "
					   "match URI");
	} else if (!(t = ferry_view_find(s, name, ref))) {
		ferry_view_release(&m->view, s);
		return ferry_mirror__error(c, r, 404, "MANIFEST_UNKNOWN", "manifest unknown");
	} else {
		memcpy(hex, ferry_oci_digest_hex(t->digest), sizeof(hex));
		type = strdup(t->media_type);
	}
	fd = blob_fd(m, s, hex, &size);
	ferry_view_release(&m->view, s);
	if (fd < 0) {
		free(type);
		return fd == BLOB_DAMAGED ? damaged(c, r)
		       : ferry_mirror__error(c, r, 404, "MANIFEST_UNKNOWN", "manifest unknown");
	}
	if (!type && !(type = manifest_type(fd, size))) {
		close(fd);
		return ferry_mirror__error(c, r, 404, "MANIFEST_UNKNOWN",
					   "blob is not a manifest");
	}
	ferry_oci_digest_format(digest, hex);
	ret = send_file(m, c, r, fd, size, type, digest, 0);
	free(type);
	return ret;
}

static enum MHD_Result blobs(ferry_mirror *m, struct MHD_Connection *c, ferry_request *r,
			     const char *name, const char *ref)
{
	ferry_view_snapshot *s = ferry_view_get(&m->view);
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t size = 0;
	int known, fd = -1;

	/* Only what the repository's tags reach is its content. */
	known = s && ferry_view_first(s, name) >= 0;
	if (known && ferry_oci_digest_parse(hex, ref) == 0 && ferry_view_reaches(s, name, hex))
		fd = blob_fd(m, s, hex, &size);
	ferry_view_release(&m->view, s);
	if (!known)
		return ferry_mirror__error(c, r, 404, "NAME_UNKNOWN",
					   "repository name not known to registry");
	if (ferry_oci_digest_parse(hex, ref) < 0)
		return ferry_mirror__error(c, r, 400, "DIGEST_INVALID",
					   "provided digest did not match uploaded content");
	if (fd == BLOB_DAMAGED)
		return damaged(c, r);
	if (fd < 0)
		return ferry_mirror__error(c, r, 404, "BLOB_UNKNOWN", "blob unknown to registry");
	return send_file(m, c, r, fd, size, "application/octet-stream", ref, 1);
}

/* Send `o` (consumed) as `type`, with header `header`: `value` when set. */
static enum MHD_Result send_json(struct MHD_Connection *c, ferry_request *r,
				 json_t *o, const char *type, const char *header,
				 const char *value)
{
	char *text = ferry_json_dumps(o, JSON_COMPACT);
	struct MHD_Response *resp;
	size_t len;

	json_decref(o);
	if (!text)
		return MHD_NO;
	len = strlen(text);
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (value)
		MHD_add_response_header(resp, header, value);
	return ferry_mirror__send(c, r, 200, resp, len);
}

int ferry_mirror__page_size(unsigned long *n, const char *ns)
{
	char *end;

	*n = 0;
	if (ns) {
		errno = 0;
		*n = strtoul(ns, &end, 10);
		if (errno || *end || !*ns || *n > 100000)
			return -1;
	}
	return 0;
}

/* n and last: pagination as the distribution spec describes it. *limited
 * is set when n is given: n=0 asks for an empty page (and no Link). */
static int page_args(struct MHD_Connection *c, unsigned long *n, int *limited,
		     const char **last)
{
	const char *ns = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");

	*last = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last");
	*limited = ns != NULL;
	return ferry_mirror__page_size(n, ns);
}

static enum MHD_Result tags_list(ferry_mirror *m, struct MHD_Connection *c,
				 ferry_request *r, const char *name)
{
	ferry_view_snapshot *s = ferry_view_get(&m->view);
	json_t *tags = json_array();
	unsigned long n;
	const char *last;
	char link[600];
	long i;
	size_t count = 0;
	int more = 0, limited;

	if (!s || page_args(c, &n, &limited, &last) < 0) {
		ferry_view_release(&m->view, s);
		json_decref(tags);
		return ferry_mirror__error(c, r, 400, "PAGINATION_NUMBER_INVALID",
					   "invalid number of results requested");
	}
	if ((i = ferry_view_first(s, name)) < 0) {
		ferry_view_release(&m->view, s);
		json_decref(tags);
		return ferry_mirror__error(c, r, 404, "NAME_UNKNOWN",
					   "repository name not known to registry");
	}
	for (; (size_t)i < s->ntags && !strcmp(s->tags[i].name, name); i++) {
		if (!s->tags[i].tag)
			continue;   /* a reference by digest */
		if (last && strcmp(s->tags[i].tag, last) <= 0)
			continue;
		if (limited && count == n) {
			more = n > 0;   /* n=0: an empty list, no Link */
			break;
		}
		json_array_append_new(tags, json_string(s->tags[i].tag));
		count++;
	}
	if (more)
		snprintf(link, sizeof(link), "</v2/%s/tags/list?n=%lu&last=%s>; rel=\"next\"",
			 name, n, json_string_value(json_array_get(tags, count - 1)));
	ferry_view_release(&m->view, s);
	return send_json(c, r, json_pack("{s:s,s:o}", "name", name, "tags", tags),
			 "application/json", "Link", more ? link : NULL);
}

static enum MHD_Result catalog(ferry_mirror *m, struct MHD_Connection *c, ferry_request *r)
{
	ferry_view_snapshot *s = ferry_view_get(&m->view);
	json_t *repos = json_array();
	unsigned long n;
	const char *last, *prev = NULL;
	char link[600];
	size_t i, count = 0;
	int more = 0, limited;

	if (!s || page_args(c, &n, &limited, &last) < 0) {
		ferry_view_release(&m->view, s);
		json_decref(repos);
		return ferry_mirror__error(c, r, 400, "PAGINATION_NUMBER_INVALID",
					   "invalid number of results requested");
	}
	for (i = 0; i < s->ntags; i++) {
		if (prev && !strcmp(prev, s->tags[i].name))
			continue;
		prev = s->tags[i].name;
		if (last && strcmp(prev, last) <= 0)
			continue;
		if (limited && count == n) {
			more = n > 0;
			break;
		}
		json_array_append_new(repos, json_string(prev));
		count++;
	}
	if (more)
		snprintf(link, sizeof(link), "</v2/_catalog?n=%lu&last=%s>; rel=\"next\"", n,
			 json_string_value(json_array_get(repos, count - 1)));
	ferry_view_release(&m->view, s);
	return send_json(c, r, json_pack("{s:o}", "repositories", repos),
			 "application/json", "Link", more ? link : NULL);
}

/* Nonzero when `list` has an entry for `digest` already. */
static int listed(const json_t *list, const char *digest)
{
	const json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "digest")), digest))
			return 1;
	return 0;
}

/* The referrers entry of tag `t` (its manifest is read from the store),
 * appended to `list` unless `want` is set and is not its artifact type. */
static int add_referrer(json_t *list, ferry_mirror *m, const ferry_view_snapshot *s,
			const ferry_view_tag *t, const char *want)
{
	const char *thex = ferry_oci_digest_hex(t->digest);
	uint64_t size = 0;
	int fd = blob_fd(m, s, thex, &size), error = 0;
	char *body = NULL;
	json_t *doc = NULL, *desc;
	const char *at;

	if (fd < 0)
		return 0;
	if (size > FERRY_OCI_MANIFEST_MAX_SIZE || !(body = malloc(size ? size : 1)) ||
	    pread(fd, body, size, 0) != (ssize_t)size ||
	    ferry_json_parse(&doc, body, size, "a stored manifest") < 0)
		goto done;
	at = ferry_oci_artifact_type(doc);
	if (want && (!at || strcmp(at, want)))
		goto done;
	if (!(desc = ferry_oci_referrer_descriptor(doc, t->media_type, thex, size)) ||
	    json_array_append_new(list, desc) < 0)
		error = -1;
done:
	ferry_error_clear();
	json_decref(doc);
	free(body);
	close(fd);
	return error;
}

/* Referrers: every manifest among the repository's references whose
 * subject is `digest` (signatures, SBOMs, attestations carried with the
 * image), each listed once, with its artifactType and annotations; with
 * ?artifactType=, only those of that type (and OCI-Filters-Applied says
 * so). The view knows each tag's subject: only referrers are read. */
static enum MHD_Result referrers(ferry_mirror *m, struct MHD_Connection *c,
				 ferry_request *r, const char *name, const char *digest)
{
	ferry_view_snapshot *s = ferry_view_get(&m->view);
	const char *want = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						       "artifactType");
	char hex[FERRY_SHA256_HEX_LEN + 1];
	json_t *list = json_array(), *index;
	long i;
	int error = list ? 0 : -1;

	if (want && !*want)
		want = NULL;
	if (ferry_oci_digest_parse(hex, digest) < 0) {
		ferry_view_release(&m->view, s);
		json_decref(list);
		ferry_error_clear();
		return ferry_mirror__error(c, r, 400, "DIGEST_INVALID", "invalid digest");
	}
	for (i = s ? ferry_view_first(s, name) : -1; error == 0 && i >= 0 &&
	     (size_t)i < s->ntags && !strcmp(s->tags[i].name, name); i++)
		if (!strcmp(s->tags[i].subject, digest) && !listed(list, s->tags[i].digest))
			error = add_referrer(list, m, s, &s->tags[i], want);
	ferry_view_release(&m->view, s);
	if (error < 0 || !(index = ferry_oci_index_new())) {
		json_decref(list);
		return MHD_NO;
	}
	if (json_object_set_new(index, "manifests", list) < 0) {
		json_decref(index);
		return MHD_NO;
	}
	return send_json(c, r, index, FERRY_OCI_MT_INDEX, "OCI-Filters-Applied",
			 want ? "artifactType" : NULL);
}

int ferry_mirror__oci_route(char *name, size_t size, const char **rest, const char *path)
{
	static const char *const kinds[] = { "/manifests/", "/blobs/", "/referrers/",
					     "/tags/list" };
	const char *at = NULL;
	size_t nlen;
	int k;

	for (k = 0; k < 4; k++) {
		/* the last occurrence: names may contain these words */
		const char *p = path, *hit;

		while ((hit = strstr(p, kinds[k]))) {
			at = hit;
			p = hit + 1;
		}
		if (at)
			break;
	}
	if (!at)
		return FERRY_MIRROR_ROUTE_NONE;
	nlen = (size_t)(at - path);
	if (!ferry_reference_name_valid(path, nlen) || nlen >= size)
		return FERRY_MIRROR_ROUTE_BAD_NAME;
	memcpy(name, path, nlen);
	name[nlen] = '\0';
	*rest = at + strlen(kinds[k]);
	return k;
}

enum MHD_Result ferry_mirror__oci(ferry_mirror *m, struct MHD_Connection *c,
				  ferry_request *r, const char *url, const char *method)
{
	const char *path = url + 4;   /* after "/v2/" */
	const char *at = NULL;
	char name[256];
	int k;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return ferry_mirror__error(c, r, 405, "UNSUPPORTED",
					   "this registry is read-only");
	if (!*path) {
		struct MHD_Response *resp =
			MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);

		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
		return ferry_mirror__send(c, r, 200, resp, 2);
	}
	if (!strcmp(path, "_catalog"))
		return catalog(m, c, r);
	k = ferry_mirror__oci_route(name, sizeof(name), &at, path);
	if (k == FERRY_MIRROR_ROUTE_NONE)
		return ferry_mirror__error(c, r, 404, "NOT_FOUND", "no such endpoint");
	if (k == FERRY_MIRROR_ROUTE_BAD_NAME)
		return ferry_mirror__error(c, r, 400, "NAME_INVALID", "invalid repository name");
	switch (k) {
	case FERRY_MIRROR_ROUTE_MANIFESTS: return manifests(m, c, r, name, at);
	case FERRY_MIRROR_ROUTE_BLOBS: return blobs(m, c, r, name, at);
	case FERRY_MIRROR_ROUTE_REFERRERS: return referrers(m, c, r, name, at);
	default:
		if (*at)
			return ferry_mirror__error(c, r, 404, "NOT_FOUND", "no such endpoint");
		return tags_list(m, c, r, name);
	}
}
