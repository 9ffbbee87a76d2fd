/*
 * git over HTTP (the smart protocol, version 0/1, stateless) for every
 * repository in the store: clients clone and fetch with stock git.
 *
 *   GET  /git/<name>.git/info/refs?service=git-upload-pack   ref advertisement
 *   POST /git/<name>.git/git-upload-pack                       negotiation + pack
 *
 * Clients asking for protocol v2 fall back to this. Negotiation follows
 * upload-pack without multi_ack: the first common "have" is ACKed, a batch
 * with none is NAKed, and after "done" the pack holds what the wants reach
 * minus what the common haves reach, sent over side-band-64k.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>
#include <zlib.h>

#include "buf.h"
#include "fs.h"
#include "manifest.h"
#include "private.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#define REQUEST_MAX (8u << 20)    /* an upload-pack request, inflated */
#define CAPS "side-band-64k ofs-delta agent=ferry/" FERRY_VERSION

static int pkt(ferry_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int pkt(ferry_buf *out, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || n + 4 > (int)sizeof(line))
		return -1;
	/* the line may hold a NUL (before the capabilities): copy its bytes */
	if (ferry_buf_printf(out, "%04x", n + 4) < 0)
		return -1;
	return ferry_buf_put(out, line, (size_t)n);
}

int ferry_mirror__git_split_url(const char *url, char *name, size_t len, const char **rest)
{
	const char *p = url + 5, *end = strstr(p, ".git/");

	if (!end || (size_t)(end - p) >= len)
		return -1;
	memcpy(name, p, (size_t)(end - p));
	name[end - p] = '\0';
	*rest = end + 5;
	return ferry_git_repo_name_valid(name) ? 0 : -1;
}

static int open_repo(git_repository **out, ferry_mirror *m, const char *name)
{
	ferry_buf path = FERRY_BUF_INIT;
	int rc = -1;

	if (ferry_store_path_repo(&path, m->store, name) == 0 &&
	    ferry_fs_exists(path.ptr))
		rc = git_repository_open_bare(out, path.ptr);
	ferry_buf_dispose(&path);
	return rc;
}

static enum MHD_Result send_buf(struct MHD_Connection *c, ferry_request *r,
				ferry_buf *b, const char *type)
{
	size_t len = b->size;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, ferry_buf_detach(b), MHD_RESPMEM_MUST_FREE);

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return ferry_mirror__send(c, r, 200, resp, len);
}

static enum MHD_Result advertise(ferry_mirror *m, struct MHD_Connection *c,
				 ferry_request *r, const char *name)
{
	const char *service = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "service");
	git_repository *repo = NULL;
	git_reference_iterator *it = NULL;
	git_reference *ref, *head = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	char hex[GIT_OID_HEXSZ + 1], symref[300] = "";
	git_oid oid;
	int first = 1;
	enum MHD_Result ret;

	if (!service || strcmp(service, "git-upload-pack"))
		return ferry_mirror__error(c, r, 403, "DENIED",
					   "only the smart protocol's git-upload-pack is served");
	if (open_repo(&repo, m, name) < 0)
		return ferry_mirror__error(c, r, 404, "NAME_UNKNOWN", "no such repository");
	pkt(&out, "# service=git-upload-pack\n");
	ferry_buf_puts(&out, "0000");
	if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
		snprintf(symref, sizeof(symref), " symref=HEAD:%s", git_reference_symbolic_target(head));
	if (git_reference_name_to_id(&oid, repo, "HEAD") == 0) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		pkt(&out, "%s HEAD%c%s%s\n", hex, '\0', CAPS, symref);
		first = 0;
	}
	if (git_reference_iterator_new(&it, repo) == 0) {
		while (git_reference_next(&ref, it) == 0) {
			git_object *peeled = NULL;

			if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
			    !strncmp(git_reference_name(ref), "refs/", 5)) {
				git_oid_tostr(hex, sizeof(hex), git_reference_target(ref));
				if (first)
					pkt(&out, "%s %s%c%s\n", hex, git_reference_name(ref), '\0', CAPS);
				else
					pkt(&out, "%s %s\n", hex, git_reference_name(ref));
				first = 0;
				/* annotated tags: also advertise what they point at */
				if (git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) == 0 &&
				    git_oid_cmp(git_object_id(peeled), git_reference_target(ref))) {
					git_oid_tostr(hex, sizeof(hex), git_object_id(peeled));
					pkt(&out, "%s %s^{}\n", hex, git_reference_name(ref));
				}
				git_object_free(peeled);
			}
			git_reference_free(ref);
		}
	}
	if (first)   /* an empty repository still names its capabilities */
		pkt(&out, "%s capabilities^{}%c%s\n",
		    "0000000000000000000000000000000000000000", '\0', CAPS);
	ferry_buf_puts(&out, "0000");
	git_reference_iterator_free(it);
	git_reference_free(head);
	git_repository_free(repo);
	ret = send_buf(c, r, &out, "application/x-git-upload-pack-advertisement");
	ferry_buf_dispose(&out);
	return ret;
}

int ferry_mirror__gunzip(ferry_buf *body)
{
	ferry_buf out = FERRY_BUF_INIT;
	z_stream z;
	unsigned char chunk[65536];
	int rc;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)body->ptr;
	z.avail_in = (uInt)body->size;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		if ((rc != Z_OK && rc != Z_STREAM_END) ||
		    ferry_buf_put(&out, chunk, sizeof(chunk) - z.avail_out) < 0 ||
		    out.size > REQUEST_MAX) {
			rc = Z_DATA_ERROR;
			break;
		}
	} while (rc != Z_STREAM_END);
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		ferry_buf_dispose(&out);
		return -1;
	}
	ferry_buf_dispose(body);
	*body = out;
	return 0;
}

typedef struct {
	ferry_buf *out;
	int sideband;
} pack_sink;

static int pack_chunk(void *buf, size_t len, void *payload)
{
	pack_sink *s = payload;
	const char *p = buf;

	if (!s->sideband)
		return ferry_buf_put(s->out, buf, len) < 0 ? -1 : 0;
	while (len > 0) {
		size_t n = len < 65515 ? len : 65515;

		if (ferry_buf_printf(s->out, "%04zx\001", n + 5) < 0 ||
		    ferry_buf_put(s->out, p, n) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int ferry_mirror__pkt_next(char **line, const ferry_buf *body, size_t *at)
{
	*line = NULL;
	while (*at + 4 <= body->size) {
		size_t n = 0, i;

		/* Exactly four hex digits: strtoul would also take a sign, spaces
		 * or "0x", and "-004" would move *at backwards (for ever). */
		for (i = 0; i < 4; i++) {
			int d = ferry_hex_digit(body->ptr[*at + i]);

			if (d < 0)
				return -1;
			n = n << 4 | (size_t)d;
		}
		if (n == 0) {   /* flush */
			*at += 4;
			continue;
		}
		if (n < 4 || n > body->size - *at)
			return -1;
		if (!(*line = strndup(body->ptr + *at + 4, n - 4)))
			return -1;
		*at += n;
		(*line)[strcspn(*line, "\n")] = '\0';
		return 1;
	}
	return 0;
}

int ferry_mirror__upload_line(git_oid *oid, int *sideband, const char *line)
{
	*sideband = 0;
	if (!strncmp(line, "want ", 5) && git_oid_fromstrn(oid, line + 5, GIT_OID_HEXSZ) == 0) {
		*sideband = strstr(line + 5, " side-band-64k") != NULL;
		return FERRY_UPLOAD_WANT;
	}
	if (!strncmp(line, "have ", 5) && git_oid_fromstrn(oid, line + 5, GIT_OID_HEXSZ) == 0)
		return FERRY_UPLOAD_HAVE;
	if (!strcmp(line, "done"))
		return FERRY_UPLOAD_DONE;
	if (strncmp(line, "shallow ", 8) && strncmp(line, "deepen", 6))
		return FERRY_UPLOAD_IGNORED;   /* as upload-pack ignores what it does not ask for */
	return FERRY_UPLOAD_REFUSED;
}

static enum MHD_Result upload_pack(ferry_mirror *m, struct MHD_Connection *c,
				   ferry_request *r, const char *name, ferry_buf *body)
{
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
	git_repository *repo = NULL;
	git_revwalk *walk = NULL;
	git_packbuilder *pb = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	git_oid oid, common;
	size_t at = 0;
	int done = 0, sideband = 0, have_common = 0, nwants = 0, bad = 0;
	enum MHD_Result ret;

	if (enc && !strcmp(enc, "gzip") && ferry_mirror__gunzip(body) < 0)
		return ferry_mirror__error(c, r, 400, "BAD_REQUEST", "bad gzip request body");
	if (open_repo(&repo, m, name) < 0)
		return ferry_mirror__error(c, r, 404, "NAME_UNKNOWN", "no such repository");
	if (git_revwalk_new(&walk, repo) < 0 || git_packbuilder_new(&pb, repo) < 0) {
		bad = 1;
		goto respond;
	}
	/* pkt-lines: want*, flush, have*, (flush | done) */
	while (!bad) {
		char *line = NULL;
		int caps = 0, kind = ferry_mirror__pkt_next(&line, body, &at);

		if (kind <= 0) {
			bad = kind < 0;
			break;
		}
		kind = ferry_mirror__upload_line(&oid, &caps, line);
		free(line);
		if (kind == FERRY_UPLOAD_WANT) {
			git_object *obj = NULL, *commit = NULL;

			if (nwants == 0 && caps)
				sideband = 1;
			if (git_object_lookup(&obj, repo, &oid, GIT_OBJECT_ANY) < 0) {
				bad = 1;
			} else {
				if (git_object_type(obj) == GIT_OBJECT_TAG)
					git_packbuilder_insert(pb, &oid, NULL);
				if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) == 0)
					git_revwalk_push(walk, git_object_id(commit));
				else
					git_packbuilder_insert_recur(pb, &oid, NULL);
			}
			git_object_free(commit);
			git_object_free(obj);
			nwants++;
		} else if (kind == FERRY_UPLOAD_HAVE) {
			git_commit *commit = NULL;

			if (git_commit_lookup(&commit, repo, &oid) == 0) {
				git_revwalk_hide(walk, &oid);
				if (!have_common) {
					have_common = 1;
					common = oid;
				}
			}
			git_commit_free(commit);
		} else if (kind == FERRY_UPLOAD_DONE) {
			done = 1;
		} else if (kind == FERRY_UPLOAD_REFUSED) {
			bad = 1;   /* shallow clones are not offered */
		}
	}
respond:
	if (bad || nwants == 0) {
		git_packbuilder_free(pb);
		git_revwalk_free(walk);
		git_repository_free(repo);
		return ferry_mirror__error(c, r, 400, "BAD_REQUEST",
					   "malformed upload-pack request, or unknown object wanted");
	}
	if (have_common) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), &common);
		pkt(&out, "ACK %s\n", hex);
	} else {
		pkt(&out, "NAK\n");
	}
	if (done) {
		pack_sink sink = { &out, sideband };

		if (git_packbuilder_insert_walk(pb, walk) < 0 ||
		    git_packbuilder_foreach(pb, pack_chunk, &sink) < 0) {
			ferry_buf_dispose(&out);
			git_packbuilder_free(pb);
			git_revwalk_free(walk);
			git_repository_free(repo);
			return ferry_mirror__error(c, r, 500, "UNKNOWN", "cannot build the pack");
		}
		if (sideband)
			ferry_buf_puts(&out, "0000");
	}
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_repository_free(repo);
	ret = send_buf(c, r, &out, "application/x-git-upload-pack-result");
	ferry_buf_dispose(&out);
	return ret;
}

enum MHD_Result ferry_mirror__git(ferry_mirror *m, struct MHD_Connection *c,
				  ferry_request *r, const char *url, const char *method,
				  ferry_buf *body)
{
	char name[256];
	const char *rest;

	if (ferry_mirror__git_split_url(url, name, sizeof(name), &rest) < 0)
		return ferry_mirror__error(c, r, 404, "NAME_INVALID", "no such repository");
	if (!strcmp(method, "GET") && !strcmp(rest, "info/refs"))
		return advertise(m, c, r, name);
	if (!strcmp(method, "POST") && !strcmp(rest, "git-upload-pack"))
		return upload_pack(m, c, r, name, body);
	if (!strcmp(rest, "git-receive-pack") || !strcmp(method, "POST"))
		return ferry_mirror__error(c, r, 403, "DENIED", "this server is read-only");
	return ferry_mirror__error(c, r, 404, "NOT_FOUND", "no such endpoint");
}
