/*
 * Parsers for what registry sources are written in and answered with:
 * image references ("registry/repo:tag@sha256:..."), WWW-Authenticate
 * challenges, image list files (images.txt), platform strings and
 * docker/podman auth.json files. Pure functions over bytes: no network.
 */
#ifndef FERRY_EXPORT_REFERENCE_H
#define FERRY_EXPORT_REFERENCE_H

#include <stddef.h>

#include <jansson.h>

/** A parsed image reference. */
typedef struct {
	char *registry;    /* "127.0.0.1:5000", "ghcr.io", "docker.io" */
	char *api_host;    /* host[:port] the API is on ("registry-1.docker.io"
			      for docker.io) */
	char *repository;  /* "library/nginx" */
	char *tag;         /* "v1"; "latest" when the reference has neither
			      tag nor digest (then implicit_tag is set) */
	char *digest;      /* "sha256:<hex>", or NULL */
	int implicit_tag;
} ferry_reference;

#define FERRY_REFERENCE_MAX 512
#define FERRY_REFERENCE_NAME_MAX 255

/**
 * Parse `text` as distribution's reference grammar. A first component
 * with a '.' or ':' or equal to "localhost" names the registry; otherwise
 * the registry is docker.io and one-component names get "library/".
 * FERRY_EINVALID names the problem; FERRY_EUNSUPPORTED for a digest
 * algorithm other than sha256.
 */
int ferry_reference_parse(ferry_reference *out, const char *text);
void ferry_reference_dispose(ferry_reference *r);

/** Nonzero for a valid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
int ferry_reference_tag_valid(const char *tag);

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

#define FERRY_IMAGE_LIST_MAX_SIZE (1u << 20)
#define FERRY_IMAGE_LIST_MAX_ENTRIES 10000

/**
 * Parse an image list: one reference per line; blank lines and lines
 * starting with '#' (after spaces) are skipped, and " #" starts a trailing
 * comment. Each reference is checked with ferry_reference_parse. Errors are
 * FERRY_EINVALID "<what>:<line>: ...". *out is a NULL-terminated array the
 * caller frees with ferry_image_list_free.
 */
int ferry_image_list_parse(char ***out, size_t *count, const char *text,
			   size_t len, const char *what);
void ferry_image_list_free(char **list);

/**
 * Nonzero when `platform` (an index entry's "platform" object) is the one
 * `want` names: "os/architecture" or "os/architecture/variant".
 */
int ferry_platform_matches(const char *want, const json_t *platform);
/** Nonzero when `s` has the form os/arch[/variant] of [a-z0-9_.-]. */
int ferry_platform_valid(const char *s);

/**
 * Look up `registry` in the auth.json at `path` ({"auths": {"host": {"auth":
 * base64(user:pass)}}} or "username"/"password"; keys may carry an
 * https:// prefix and a path). *out is "user:password" in guarded memory
 * (free with ferry_secret_free), or NULL when the file has no entry.
 * FERRY_ENOTFOUND when the file is missing, FERRY_EINVALID when malformed.
 * Secrets never appear in messages.
 */
int ferry_auth_file_lookup(char **out, const char *path, const char *registry);
void ferry_secret_free(char *secret);

#endif
