/*
 * Registry authentication shared by the exporter (pull) and the seeder
 * (push): parsing WWW-Authenticate challenges, reading docker/podman
 * auth.json files, the distribution token exchange, and secrets held in
 * guarded memory (libsodium). Secrets never appear in messages or logs.
 */
#ifndef FERRY_CORE_AUTH_H
#define FERRY_CORE_AUTH_H

#include <stddef.h>

#include "http.h"

typedef enum {
	FERRY_AUTH_BASIC = 1,
	FERRY_AUTH_BEARER = 2
} ferry_auth_scheme;

typedef struct {
	ferry_auth_scheme scheme;
	char *realm;      /* may be NULL for Basic */
	char *service;    /* may be NULL */
	char *scope;      /* may be NULL */
} ferry_auth_challenge;

#define FERRY_CHALLENGE_MAX 4096

/**
 * Parse the first challenge of a WWW-Authenticate header value:
 * `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
 * Parameter names are case-insensitive; quoted values may use backslash
 * escapes; unknown parameters are ignored. FERRY_EUNSUPPORTED for another
 * scheme, FERRY_EINVALID when malformed (or Bearer without a realm).
 */
int ferry_auth_challenge_parse(ferry_auth_challenge *out, const char *header);
void ferry_auth_challenge_dispose(ferry_auth_challenge *c);

/**
 * Look up `registry` in the auth.json at `path` ({"auths": {"host": {"auth":
 * base64(user:pass)}}} or "username"/"password"; keys may carry an
 * https:// prefix and a path). *out is "user:password" in guarded memory
 * (free with ferry_secret_free), or NULL when the file has no entry.
 * FERRY_ENOTFOUND when the file is missing, FERRY_EINVALID when malformed.
 * Secrets never appear in messages.
 */
int ferry_auth_file_lookup(char **out, const char *path, const char *registry);
/** The same for auth.json text already in memory; `what` names it in errors. */
int ferry_auth_text_lookup(char **out, const char *text, size_t len, const char *what,
			   const char *registry);
void ferry_secret_free(char *secret);

/** A copy of `s` in guarded memory (free with ferry_secret_free); NULL on OOM. */
char *ferry_secret_dup(const char *s);

#define FERRY_AUTH_TOKEN_MAX_SIZE (1u << 20)

/**
 * Ask the token endpoint of Bearer challenge `ch` for a token with `scope`
 * (e.g. "repository:org/app:pull,push"; NULL: the challenge's own scope),
 * sending `userpwd` ("user:password", may be NULL) as Basic credentials.
 * *out is "Authorization: Bearer <token>" in guarded memory (free with
 * ferry_secret_free). `host` and `what` name the registry and the operation
 * in messages. FERRY_ERROR when the token service refuses (401/403),
 * FERRY_EIO for other statuses, FERRY_EINVALID for an unusable answer.
 */
int ferry_auth_fetch_token(char **out, ferry_http *http, const ferry_auth_challenge *ch,
			   const char *scope, const char *userpwd, const char *host,
			   const char *what);

/**
 * Read the token from a token service's answer of `len` bytes of `body`
 * (JSON with "token" or "access_token"). *out as ferry_auth_fetch_token.
 * FERRY_EINVALID for an unusable answer; `host` and `what` as there.
 */
int ferry_auth_token_parse(char **out, const char *body, size_t len, const char *host,
			   const char *what);

#endif
