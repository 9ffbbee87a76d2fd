/*
 * The registry client (see client.h). Export's pulls and seed's pushes
 * used to answer the registry's 401 each with their own loop; this is the
 * one loop, with one token cache. A token is cached under the scope it was
 * asked for ("repository:<name>:<actions>", plus the source of a mount); a
 * request uses the token of its own scope, or of a wider one asked for the
 * same repository. Secrets live in guarded memory and never appear in
 * messages.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "auth.h"
#include "client.h"
#include "banned.h"

#define MAX_HEADERS 8

typedef struct {
	char *scope;
	char *header;   /* "Authorization: Bearer ..." (secret) */
} token;

struct ferry_oci_client {
	ferry_http *http;
	char *base;
	char *host;
	char *ca_file;
	char *userpwd;     /* secret, or NULL */
	char *actions;
	char *hint;
	uint64_t *bytes_sent;
	int basic;         /* the registry asked for Basic credentials */
	token *tokens;
	size_t ntokens, alloctokens;
};

void ferry_oci_client_free(ferry_oci_client *c)
{
	size_t i;

	if (!c)
		return;
	ferry_http_free(c->http);
	free(c->base);
	free(c->host);
	free(c->ca_file);
	ferry_secret_free(c->userpwd);
	free(c->actions);
	free(c->hint);
	for (i = 0; i < c->ntokens; i++) {
		free(c->tokens[i].scope);
		ferry_secret_free(c->tokens[i].header);
	}
	free(c->tokens);
	free(c);
}

static int dup_opt(char **out, const char *s)
{
	if (s && !(*out = strdup(s)))
		return ferry_error_oom();
	return 0;
}

int ferry_oci_client_new(ferry_oci_client **out, const ferry_oci_client_options *opts)
{
	ferry_http_options ho = FERRY_HTTP_OPTIONS_INIT;
	ferry_buf host = FERRY_BUF_INIT;
	ferry_oci_client *c;
	size_t len;
	int error;

	*out = NULL;
	if (!opts || opts->version != FERRY_OCI_CLIENT_OPTIONS_VERSION || !opts->url)
		return ferry_error_set(FERRY_EINVALID, "bad registry client options");
	if (strncmp(opts->url, "https://", 8) && strncmp(opts->url, "http://", 7))
		return ferry_error_set(FERRY_EINVALID, "registry URL '%.200s' is not http:// "
				       "or https://", opts->url);
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	if (!(c = calloc(1, sizeof(*c))))
		return ferry_error_oom();
	c->bytes_sent = opts->bytes_sent;
	if ((error = ferry_http_url_host(&host, opts->url)) < 0 ||
	    (error = dup_opt(&c->base, opts->url)) < 0 ||
	    (error = dup_opt(&c->host, opts->host ? opts->host : host.ptr)) < 0 ||
	    (error = dup_opt(&c->ca_file, opts->ca_file)) < 0 ||
	    (error = dup_opt(&c->actions, opts->actions ? opts->actions : "pull")) < 0 ||
	    (error = dup_opt(&c->hint, opts->credentials_hint ? opts->credentials_hint
				      : "give credentials for it")) < 0)
		goto done;
	if (opts->userpwd && !(c->userpwd = ferry_secret_dup(opts->userpwd))) {
		error = ferry_error_oom();
		goto done;
	}
	len = strlen(c->base);
	while (len && c->base[len - 1] == '/')
		c->base[--len] = '\0';
	ho.ca_file = c->ca_file;
	ho.redirect_hosts = opts->redirect_hosts;
	if ((error = ferry_http_new(&c->http, &ho)) < 0)
		goto done;
	*out = c;
	c = NULL;
done:
	ferry_oci_client_free(c);
	ferry_buf_dispose(&host);
	return error;
}

int ferry_oci_client_url(ferry_buf *out, const ferry_oci_client *c, const char *repository,
			 const char *path)
{
	return ferry_buf_printf(out, "%s/v2/%s/%s", c->base, repository, path);
}

ferry_http *ferry_oci_client_http(ferry_oci_client *c)
{
	return c->http;
}

const char *ferry_oci_client_base(const ferry_oci_client *c)
{
	return c->base;
}

const char *ferry_oci_client_host(const ferry_oci_client *c)
{
	return c->host;
}

const char *ferry_oci_client_userpwd(const ferry_oci_client *c)
{
	return c->userpwd;
}

/* ---- tokens --------------------------------------------------------------- */

static int scope_for(ferry_buf *out, const ferry_oci_client *c, const char *repository,
		     const char *mount_from)
{
	int error = ferry_buf_printf(out, "repository:%s:%s", repository, c->actions);

	if (!error && mount_from && strcmp(mount_from, repository))
		error = ferry_buf_printf(out, " repository:%s:pull", mount_from);
	return error;
}

/* The token for `scope`: asked for it, or for it and more. */
static const token *token_for(const ferry_oci_client *c, const char *scope)
{
	size_t i, n = strlen(scope);
	const token *wider = NULL;

	for (i = 0; i < c->ntokens; i++) {
		if (!strcmp(c->tokens[i].scope, scope))
			return &c->tokens[i];
		if (!wider && !strncmp(c->tokens[i].scope, scope, n) &&
		    c->tokens[i].scope[n] == ' ')
			wider = &c->tokens[i];
	}
	return wider;
}

/* Keep `header` (taken) as the token for `scope`. */
static int token_store(ferry_oci_client *c, const char *scope, char *header)
{
	token *grown;
	size_t i;
	int error;

	for (i = 0; i < c->ntokens; i++)
		if (!strcmp(c->tokens[i].scope, scope)) {
			ferry_secret_free(c->tokens[i].header);
			c->tokens[i].header = header;
			return 0;
		}
	if ((error = FERRY_ALLOC_GROW(c->tokens, c->ntokens + 1, c->alloctokens)) < 0) {
		ferry_secret_free(header);
		return error;
	}
	grown = c->tokens;
	if (!(grown[c->ntokens].scope = strdup(scope))) {
		ferry_secret_free(header);
		return ferry_error_oom();
	}
	grown[c->ntokens++].header = header;
	return 0;
}

void ferry_oci_client_auth(const char **header, const char **userpwd,
			   const ferry_oci_client *c, const char *repository)
{
	ferry_buf scope = FERRY_BUF_INIT;
	const token *t;

	*header = NULL;
	*userpwd = c->basic ? c->userpwd : NULL;
	if (!c->basic && scope_for(&scope, c, repository, NULL) == 0 &&
	    (t = token_for(c, scope.ptr)))
		*header = t->header;
	ferry_buf_dispose(&scope);
}

/* ---- requests ------------------------------------------------------------- */

/*
 * Send `req` with the credentials in hand; on a first 401, take what the
 * challenge asks for (Basic credentials or a token for `scope`) and send
 * it once more.
 */
static int request(ferry_http_response *resp, ferry_oci_client *c, const char *scope,
		   const ferry_http_request *req, int send, const char *what)
{
	const char *headers[MAX_HEADERS + 2];
	ferry_http_request r = *req;
	ferry_auth_challenge ch;
	const token *t;
	size_t n;
	int error, tried = 0;

	for (;;) {
		for (n = 0; req->headers && req->headers[n]; n++) {
			if (n == MAX_HEADERS)
				return ferry_error_set(FERRY_EINVALID, "%s: too many headers", what);
			headers[n] = req->headers[n];
		}
		if (!c->basic && (t = token_for(c, scope)))
			headers[n++] = t->header;
		headers[n] = NULL;
		r.headers = headers;
		r.userpwd = c->basic ? c->userpwd : NULL;
		error = send ? ferry_http_send(resp, c->http, &r, c->bytes_sent)
			     : ferry_http_get(resp, c->http, &r);
		if (error < 0)
			return ferry_error_wrap(error, "%s", what);
		if (resp->status != 401 || tried)
			break;
		tried = 1;
		if (!resp->www_authenticate) {
			ferry_http_response_dispose(resp);
			return ferry_error_set(FERRY_ERROR, "%s: registry '%s' answered HTTP 401 "
					       "without a challenge", what, c->host);
		}
		if ((error = ferry_auth_challenge_parse(&ch, resp->www_authenticate)) < 0) {
			ferry_http_response_dispose(resp);
			return ferry_error_wrap(error, "%s", what);
		}
		ferry_http_response_dispose(resp);
		if (ch.scheme == FERRY_AUTH_BASIC) {
			ferry_auth_challenge_dispose(&ch);
			if (!c->userpwd)
				return ferry_error_set(FERRY_ERROR, "%s: registry '%s' wants "
						       "credentials (Basic); %s", what, c->host,
						       c->hint);
			c->basic = 1;
		} else {
			char *header = NULL;

			error = ferry_auth_fetch_token(&header, c->http, &ch, scope, c->userpwd,
						       c->host, what);
			ferry_auth_challenge_dispose(&ch);
			if (error < 0 || (error = token_store(c, scope, header)) < 0)
				return error;
		}
	}
	if (resp->status == 401) {
		ferry_http_response_dispose(resp);
		return ferry_error_set(FERRY_ERROR, "%s: registry '%s' refused %s (HTTP 401)",
				       what, c->host,
				       c->userpwd ? "the credentials" : "anonymous access");
	}
	return 0;
}

static int scoped_request(ferry_http_response *resp, ferry_oci_client *c,
			  const char *repository, const char *mount_from,
			  const ferry_http_request *req, int send, const char *what)
{
	ferry_buf scope = FERRY_BUF_INIT;
	int error;

	if ((error = scope_for(&scope, c, repository, mount_from)) == 0)
		error = request(resp, c, scope.ptr, req, send, what);
	ferry_buf_dispose(&scope);
	return error;
}

int ferry_oci_client_get(ferry_http_response *out, ferry_oci_client *c,
			 const char *repository, const ferry_http_request *req,
			 const char *what)
{
	return scoped_request(out, c, repository, NULL, req, 0, what);
}

int ferry_oci_client_send(ferry_http_response *out, ferry_oci_client *c,
			  const char *repository, const char *mount_from,
			  const ferry_http_request *req, const char *what)
{
	return scoped_request(out, c, repository, mount_from, req, 1, what);
}
