/*
 * Source kind `oci-layout`: every manifest and index that a layout's
 * index.json lists, recursively, with every blob they reference.
 */
#ifndef FERRY_EXPORT_OCI_LAYOUT_H
#define FERRY_EXPORT_OCI_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "digest.h"
#include "hash.h"
#include "oci.h"

typedef struct {
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t size;
	const char *dir;/* its bytes are in the file dir/<hex> (the content's
			   strings) ... */
	char *file;     /* ... or, when dir is NULL, in this one */
	int manifest;   /* a manifest or index (always carried) */
	int prereq;     /* sent on the channel before: not carried, listed as a
			   prerequisite (set by export) */
	int skip;       /* only roots the receiver holds unchanged reach it: not
			   carried, not listed (ferry_oci_content_prune) */
} ferry_oci_blob;

/* A root keeps its descriptor as text, not as a JSON tree: at tens of
 * thousands of images the trees alone cost more than everything else the
 * export holds. */
typedef struct {
	char *reference;   /* "name:tag" or "name@sha256:..." */
	char *descriptor;  /* its descriptor for the bundle's index.json, with
			      the reference as org.opencontainers.image.ref.name:
			      compact JSON, keys sorted */
	const char *media_type;  /* the descriptor's (the content's) */
	char digest[FERRY_OCI_DIGEST_SIZE];   /* the descriptor's, "sha256:<hex>" */
	int unchanged;     /* the receiver holds this binding: not carried */
} ferry_oci_root;

typedef struct {
	ferry_oci_blob *blobs;   /* unique by digest after ferry_oci_content_finish */
	size_t nblobs, allocblobs;
	ferry_oci_root *roots;
	size_t nroots, allocroots;
	char **strings;          /* the blobs' directories and the roots' media
				    types, each once */
	size_t nstrings, allocstrings;
	const char *current_dir;  /* the layout being collected, for messages */
} ferry_oci_content;

/**
 * Add everything the layout at `dir` holds to `c`, naming references after
 * repository `name`, with the walk of oci/walk.h (its depth and size
 * limits). Manifests and indexes are read and checked against their
 * digests here; other blobs are checked by size here and by digest while
 * the bundle is written. FERRY_EINVALID / FERRY_ECORRUPT /
 * FERRY_ENOTFOUND name the layout and the blob.
 */
int ferry_oci_layout_collect(ferry_oci_content *c, const char *dir,
			     const char *name);
/** Append a blob whose bytes are in `file` (copied; a file named after the
 *  blob's hex costs only its directory, kept once per content). */
int ferry_oci_content_add_blob(ferry_oci_content *c, const char *hex,
			       uint64_t size, const char *file, int manifest);
/**
 * Append a root: `reference` (checked with ferry_manifest_reference_valid)
 * and its descriptor (checked with ferry_oci_descriptor_parse), to which the
 * ref.name annotation is added; its text is kept, the caller keeps `desc`.
 */
int ferry_oci_content_add_root(ferry_oci_content *c, const char *reference,
			       const json_t *desc);
/** Sort and de-duplicate the blobs; reject references listed twice. */
int ferry_oci_content_finish(ferry_oci_content *c);
/** The file holding the bytes of `b`, into `out`. */
int ferry_oci_blob_file(ferry_buf *out, const ferry_oci_blob *b);
/** The blob `hex` after ferry_oci_content_finish, or NULL. */
ferry_oci_blob *ferry_oci_content_find(const ferry_oci_content *c, const char *hex);
/**
 * Keep only what the roots not marked unchanged reach: every other blob is
 * marked skip. Reads the documents below those roots from their files.
 */
int ferry_oci_content_prune(ferry_oci_content *c);
/** The bundle's index.json: every root, or (`carried`) those not marked
 *  unchanged. */
int ferry_oci_content_index(ferry_buf *out, const ferry_oci_content *c, int carried);
/** Free the roots' descriptor texts, once the indexes are made: neither
 *  ferry_oci_content_prune nor ferry_oci_content_index may follow. */
void ferry_oci_content_drop_descriptors(ferry_oci_content *c);
void ferry_oci_content_dispose(ferry_oci_content *c);

#endif
