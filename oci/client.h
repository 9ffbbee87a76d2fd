/*
 * The registry client (library ferry_oci_client): one registry's base URL,
 * TLS settings and credentials, and the distribution API's authentication
 * for every request made in a repository's name. A 401 is answered once:
 * with the Basic credentials, or with a bearer token from the challenge's
 * token service (ferry_auth_fetch_token), asked for the repository and the
 * client's actions ("pull" to export, "pull,push" to seed) and cached per
 * scope, so later requests in that repository send it at once. Export's
 * pulls and seed's pushes both go through here.
 */
#ifndef FERRY_OCI_CLIENT_H
#define FERRY_OCI_CLIENT_H

#include <stdint.h>

#include "buf.h"
#include "http.h"

typedef struct ferry_oci_client ferry_oci_client;

typedef struct {
	unsigned version;
	const char *url;               /* "https://host[:port]" (or http://); the API is
					  under <url>/v2/. Trailing '/'s are dropped */
	const char *host;              /* the registry's name in messages and token
					  requests; NULL: host[:port] of url */
	const char *ca_file;           /* PEM bundle of trusted CAs; NULL: system */
	const char *const *redirect_hosts; /* other hosts GETs may be redirected to */
	const char *userpwd;           /* "user:password" (copied into guarded memory),
					  or NULL for anonymous access */
	const char *actions;           /* token actions in a repository; NULL: "pull" */
	const char *credentials_hint;  /* how to give credentials, ending the message
					  when the registry wants Basic and has none */
	uint64_t *bytes_sent;          /* adds the body bytes ferry_oci_client_send
					  sends, or NULL */
} ferry_oci_client_options;

#define FERRY_OCI_CLIENT_OPTIONS_VERSION 1
#define FERRY_OCI_CLIENT_OPTIONS_INIT { FERRY_OCI_CLIENT_OPTIONS_VERSION, NULL, NULL, NULL, \
					NULL, NULL, NULL, NULL, NULL }

/**
 * A client for the registry `opts` names (strings are copied;
 * redirect_hosts must outlive the client). FERRY_EINVALID for bad options
 * or URL, FERRY_ENOMEM.
 */
int ferry_oci_client_new(ferry_oci_client **out, const ferry_oci_client_options *opts);
void ferry_oci_client_free(ferry_oci_client *c);

/** Append "<url>/v2/<repository>/<path>" to `out`. */
int ferry_oci_client_url(ferry_buf *out, const ferry_oci_client *c, const char *repository,
			 const char *path);

/**
 * GET `req->url` (or HEAD with `req->head`) in `repository`'s name with
 * ferry_http_get (redirects followed as its options allow, transient
 * failures retried), sending `req->headers` and the credentials the
 * registry asks for. Any status comes back to the caller except a 401 that
 * persists: FERRY_ERROR naming the registry ("refused the credentials",
 * "refused anonymous access", "wants credentials (Basic); <hint>",
 * "answered HTTP 401 without a challenge"). Other errors as ferry_http_get
 * and ferry_auth_fetch_token. Messages start with `what`.
 */
int ferry_oci_client_get(ferry_http_response *out, ferry_oci_client *c,
			 const char *repository, const ferry_http_request *req,
			 const char *what);

/**
 * The same with ferry_http_send (`req->method` and its body; redirects come
 * back to the caller). `mount_from`, when not NULL and another repository,
 * widens a token's scope to pull from it (a cross-repository blob mount).
 */
int ferry_oci_client_send(ferry_http_response *out, ferry_oci_client *c,
			  const char *repository, const char *mount_from,
			  const ferry_http_request *req, const char *what);

/**
 * What the client would send for a request in `repository` now, for
 * requests made without it (parallel blob downloads): *header an
 * "Authorization: Bearer ..." header or NULL, *userpwd the Basic
 * credentials or NULL. Both borrowed, valid until the client's next request.
 */
void ferry_oci_client_auth(const char **header, const char **userpwd,
			   const ferry_oci_client *c, const char *repository);

/** The client's HTTP connection (borrowed), for requests outside the API. */
ferry_http *ferry_oci_client_http(ferry_oci_client *c);
/** The registry URL without trailing '/', its name, its credentials (all
 *  borrowed; the credentials may be NULL). */
const char *ferry_oci_client_base(const ferry_oci_client *c);
const char *ferry_oci_client_host(const ferry_oci_client *c);
const char *ferry_oci_client_userpwd(const ferry_oci_client *c);

#endif
