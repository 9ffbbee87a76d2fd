/*
 * Names: distribution's reference grammar for what registry sources are
 * written in ("registry/repo:tag@sha256:..."), repository names and tags,
 * the references the store and bundles bind ("name:tag", "name@digest"),
 * image list files (images.txt) and platform strings. Pure functions over
 * bytes: no network. Challenges and auth.json files are in core/net/auth.h.
 */
#ifndef FERRY_OCI_REFERENCE_H
#define FERRY_OCI_REFERENCE_H

#include <stddef.h>

#include <jansson.h>

#include "hash.h"

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

/**
 * Nonzero when the `len` bytes at `name` are a repository name in
 * distribution's grammar: components [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
 * joined by '/', at most FERRY_REFERENCE_NAME_MAX bytes in all.
 */
int ferry_reference_name_valid(const char *name, size_t len);

/**
 * The length of the first component of `name` when it names a registry
 * host (it is followed by '/' and has a '.' or a ':' or is "localhost"),
 * else 0.
 */
size_t ferry_reference_host_len(const char *name);

/** A reference as the store and bundles name images: its parts, borrowed. */
typedef struct {
	size_t name_len;      /* the repository: the first name_len bytes */
	const char *tag;      /* the tag (tag_len bytes), or NULL */
	size_t tag_len;
	const char *digest;   /* "sha256:<hex>" after '@' (to the end), or NULL */
	char hex[FERRY_SHA256_HEX_LEN + 1];   /* the digest's hex when it is set */
} ferry_reference_parts;

/**
 * Split "name:tag", "name@sha256:<hex>" or "name:tag@sha256:<hex>". A tag
 * follows the last ':' of what precedes any '@', and only when that ':'
 * comes after the last '/' (a ':' before it belongs to a registry host:
 * "localhost:5000/app:v1"). The name's grammar is not checked (it may
 * start with a registry host); the digest's is. FERRY_EINVALID when the
 * reference has no name, an empty tag or neither tag nor digest, or a
 * malformed digest; FERRY_EUNSUPPORTED for a digest algorithm other than
 * sha256.
 */
int ferry_reference_split(ferry_reference_parts *out, const char *reference);

/**
 * Check `reference` as the store binds it (a bundle's image bindings, the
 * store's tags): ferry_reference_split's shape, an optional registry host
 * (DNS labels or a bracketed IPv6 address, an optional port), a repository
 * name in distribution's grammar (ferry_reference_name_valid) and a tag in
 * its grammar (ferry_reference_tag_valid). Refuses "Library/App:v1", "app",
 * "app:v1?x=1", "../../etc/x:v1" and "library/../../v2/other/app:v1".
 * FERRY_EINVALID with the reason, FERRY_EUNSUPPORTED for a digest algorithm
 * other than sha256.
 */
int ferry_reference_check(const char *reference);

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

#endif
