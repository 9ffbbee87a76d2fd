/*
 * The mirror's own reading of what clients send, apart from the server so
 * that it can be tested and fuzzed without one: routes of the OCI API and
 * of git smart HTTP, Range headers, page sizes, and upload-pack request
 * bodies (gzip, pkt-lines). libmicrohttpd splits requests into method,
 * URL and headers; everything after that is here. Internal to mirror/.
 */
#ifndef FERRY_MIRROR_REQUEST_H
#define FERRY_MIRROR_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "buf.h"

/**
 * The byte range a Range header value asks of a `size`-byte blob ("bytes=A-B",
 * "bytes=A-", "bytes=-N"), clamped to the blob: 0 and *first, *last; 1 when
 * the header is to be ignored and the whole body sent with 200 (a unit
 * other than bytes, or several ranges: RFC 9110 section 14.2); -1 when a
 * single byte range is malformed or not satisfiable (416).
 */
int ferry_mirror__range(uint64_t *first, uint64_t *last, const char *range, uint64_t size);
/** A tags/list page size `ns` (NULL: none, *n = 0): 0, or -1 when malformed
 *  or above 100000. */
int ferry_mirror__page_size(unsigned long *n, const char *ns);

enum {
	FERRY_MIRROR_ROUTE_MANIFESTS = 0,  /* NAME/manifests/REST */
	FERRY_MIRROR_ROUTE_BLOBS = 1,      /* NAME/blobs/REST */
	FERRY_MIRROR_ROUTE_REFERRERS = 2,  /* NAME/referrers/REST */
	FERRY_MIRROR_ROUTE_TAGS = 3,       /* NAME/tags/listREST */
	FERRY_MIRROR_ROUTE_NONE = -1,      /* no such endpoint */
	FERRY_MIRROR_ROUTE_BAD_NAME = -2   /* an invalid repository name */
};
/**
 * Route `path` (a URL after "/v2/", neither empty nor "_catalog"): the
 * endpoint (FERRY_MIRROR_ROUTE_*), `name` (of `size` bytes) the repository
 * and *rest what follows the endpoint's word (borrowed from `path`).
 */
int ferry_mirror__oci_route(char *name, size_t size, const char **rest, const char *path);

/** Split "/git/<name>.git/<rest>", or "/git/<name>/<rest>" when <rest> is
 *  one of the smart protocol's endpoints (info/refs, git-upload-pack,
 *  git-receive-pack): 0 with `name` (`len` bytes) and *rest (borrowed from
 *  `url`), or -1 when it is not that or the name is invalid. */
int ferry_mirror__git_split_url(const char *url, char *name, size_t len, const char **rest);
/** Inflate a gzip request body in place (git compresses large requests);
 *  -1 when it is not gzip or inflates past the request limit. */
int ferry_mirror__gunzip(ferry_buf *body);
/**
 * The next pkt-line of `body` from *at on (flush packets skipped): 1 with
 * *line (caller frees, cut at its first newline), 0 at the end, -1 when a
 * length is malformed or runs past the body (or on OOM).
 */
int ferry_mirror__pkt_next(char **line, const ferry_buf *body, size_t *at);

enum {
	FERRY_UPLOAD_IGNORED = 0,  /* a line upload-pack does not ask for */
	FERRY_UPLOAD_WANT,         /* "want OID [capabilities]" */
	FERRY_UPLOAD_HAVE,         /* "have OID" */
	FERRY_UPLOAD_DONE,         /* "done" */
	FERRY_UPLOAD_REFUSED,      /* a request the mirror does not offer (deepen-not) */
	FERRY_UPLOAD_SHALLOW,      /* "shallow OID": a client's shallow boundary */
	FERRY_UPLOAD_DEEPEN,       /* "deepen N" */
	FERRY_UPLOAD_DEEPEN_SINCE, /* "deepen-since TIME" */
	FERRY_UPLOAD_FILTER        /* "filter SPEC": refused (no partial clones) */
};
/* The capabilities of a want line the mirror acts on (a bit set). */
#define FERRY_UPLOAD_CAP_SIDEBAND 1          /* side-band-64k */
#define FERRY_UPLOAD_CAP_DEEPEN_RELATIVE 2   /* deepen-relative */
/**
 * What an upload-pack request line asks (FERRY_UPLOAD_*): *oid for want,
 * have and shallow; *caps the FERRY_UPLOAD_CAP_* bits a want line names.
 * The number of deepen and deepen-since is read with
 * ferry_mirror__upload_number().
 */
int ferry_mirror__upload_line(git_oid *oid, int *caps, const char *line);
/** The positive decimal number after the first space of a deepen or
 *  deepen-since line into *out; -1 when there is none or it is too large. */
int ferry_mirror__upload_number(long long *out, const char *line);

#endif
