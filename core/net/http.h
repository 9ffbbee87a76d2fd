/*
 * HTTP client on libcurl for talking to registries and chart repositories.
 * libcurl's types stay inside http.c: callers see ferry types only.
 *
 * Every request has a body size cap. Redirects are followed by hand, and
 * only to the same host (scheme, host and port) or to a host the client's
 * options list; a redirect anywhere else fails naming both hosts. Transient
 * failures (connection errors, 5xx, 429) are retried with bounded
 * exponential backoff. Blob downloads stream into "<path>.partial" while
 * hashing, resume a partial file with a Range request, check size and
 * SHA-256 as the bytes arrive, and are renamed to <path> only when both
 * match: a file under the final name always has the right content.
 */
#ifndef FERRY_CORE_HTTP_H
#define FERRY_CORE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "progress.h"

typedef struct ferry_http ferry_http;

typedef struct {
	unsigned version;
	const char *ca_file;            /* PEM bundle of trusted CAs; NULL: system */
	const char *const *redirect_hosts; /* other hosts redirects may go to
					      ("host" or "host:port"), NULL-terminated */
	long connect_timeout_s;         /* 0: 30 */
	long stall_timeout_s;           /* abort below 1 KiB/s for this long; 0: 60 */
	unsigned max_retries;           /* 0: default 4; further attempts after the first */
	unsigned backoff_ms;            /* first retry delay, doubled each time; 0: 200 */
} ferry_http_options;

#define FERRY_HTTP_OPTIONS_VERSION 1
#define FERRY_HTTP_OPTIONS_INIT { FERRY_HTTP_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0 }
#define FERRY_HTTP_MAX_REDIRECTS 5
#define FERRY_HTTP_MAX_HEADER 8192

typedef struct {
	const char *url;
	const char *const *headers;  /* "Name: value", NULL-terminated, or NULL */
	const char *userpwd;         /* "user:password" for Basic auth, or NULL */
	size_t limit;                /* body cap (FERRY_ETOOBIG past it); 0: 1 MiB */
	int head;                    /* HEAD instead of GET */
	const void *post;            /* POST this body instead of GET, or NULL */
	size_t post_len;
	/* Requests that send (ferry_http_send): */
	const char *method;          /* "PUT", "POST", "PATCH", "DELETE"; NULL: GET */
	const void *body;            /* request body in memory, or NULL */
	size_t body_len;
	int body_fd;                 /* with body == NULL and body_len > 0: send
					body_len bytes of this file from body_offset */
	uint64_t body_offset;
} ferry_http_request;

typedef struct {
	long status;
	ferry_buf body;
	char *content_type;          /* without parameters, lower case; may be NULL */
	char *docker_content_digest; /* may be NULL */
	char *www_authenticate;      /* the first challenge header; may be NULL */
	char *url;                   /* the URL that answered (after redirects) */
	char *location;              /* Location of a response that was not
					followed (201, 202, ...); may be NULL */
	char *range;                 /* Range header of the response; may be NULL */
	char *oci_subject;           /* OCI-Subject header (referrers API); may be NULL */
} ferry_http_response;

/** Create a client with `opts` (copied; strings must outlive the client). */
int ferry_http_new(ferry_http **out, const ferry_http_options *opts);
void ferry_http_free(ferry_http *h);

/**
 * Perform one request (GET, HEAD, or POST when `post` is set), retrying transient failures. Any HTTP status is a
 * success for this function (the caller judges it) except 5xx and 429 that
 * persist after the retries. FERRY_EIO (cannot connect, timeout),
 * FERRY_ETOOBIG (body over the limit), FERRY_EINVALID (redirect to another
 * host, with both hosts named).
 */
int ferry_http_get(ferry_http_response *out, ferry_http *h,
		   const ferry_http_request *req);
void ferry_http_response_dispose(ferry_http_response *r);

/**
 * Perform one request with `req->method` and its body (in memory or a
 * range of a file). Redirects are not followed (the status and Location
 * come back); PUT and DELETE are retried like GET on connection errors,
 * 5xx and 429, POST and PATCH are sent once (they are not idempotent in
 * the distribution upload protocol). `bytes_sent`, when not NULL, adds the
 * body bytes sent. Errors as ferry_http_get.
 */
int ferry_http_send(ferry_http_response *out, ferry_http *h,
		    const ferry_http_request *req, uint64_t *bytes_sent);

/** One blob to download. */
typedef struct {
	ferry_http *client;          /* options (CA, redirect hosts) for it */
	const char *url;
	const char *const *headers;
	const char *userpwd;
	const char *path;            /* final file; bytes go to "<path>.partial" */
	const char *hex;             /* expected SHA-256 */
	uint64_t size;               /* expected size */
	const char *what;            /* for messages: "image 'x': blob sha256:..." */
} ferry_http_download;

/**
 * Download every entry with at most `parallel` transfers at a time. Each
 * file is verified as it streams; a body longer than `size` is cut off at
 * once. The first failure stops everything: FERRY_ECORRUPT (digest or size
 * mismatch), FERRY_EIO, FERRY_EINVALID (redirect), FERRY_ENOTFOUND (404),
 * with `what` in the message. `progress` sees bytes written of the total.
 */
int ferry_http_download_all(const ferry_http_download *dl, size_t n,
			    unsigned parallel, ferry_progress_cb progress,
			    void *payload);

/** "host" or "host:port" of an http(s) URL into `out`. */
int ferry_http_url_host(ferry_buf *out, const char *url);

/** Append `s` percent-encoded (all but RFC 3986 unreserved characters). */
int ferry_http_url_escape(ferry_buf *out, const char *s);

/** Resolve `ref` (absolute or relative) against `base` into `out`. */
int ferry_http_url_resolve(ferry_buf *out, const char *base, const char *ref);

#endif
