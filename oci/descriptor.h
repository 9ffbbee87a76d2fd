/*
 * Descriptors (image-spec descriptor.md): the typed, sized, digested
 * pointers manifests and indexes are made of. Parsing checks what ferry
 * relies on (a media type, a sha256 digest, a size); building gives the
 * shapes ferry writes (index entries, empty indexes, referrer entries).
 */
#ifndef FERRY_OCI_DESCRIPTOR_H
#define FERRY_OCI_DESCRIPTOR_H

#include <stdint.h>

#include <jansson.h>

#include "hash.h"

/** A parsed descriptor; strings and objects are borrowed from `json`. */
typedef struct {
	const char *media_type;
	const char *digest;               /* "sha256:<hex>" */
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t size;
	const char *artifact_type;        /* NULL when absent */
	const json_t *annotations;        /* an object, or NULL */
	const json_t *json;               /* the descriptor object; NULL in one a
					     caller filled in itself (a walk's root
					     known from elsewhere) */
} ferry_oci_descriptor;

/**
 * Parse descriptor object `obj`: `mediaType` (string), `digest` (sha256)
 * and `size` (non-negative integer) are required; `artifactType` and
 * `annotations` are taken when they have the right type. Messages start
 * with `what` (the document the descriptor is in). FERRY_EINVALID,
 * FERRY_EUNSUPPORTED (another digest algorithm).
 */
int ferry_oci_descriptor_parse(ferry_oci_descriptor *out, const json_t *obj,
			       const char *what);

/** A new descriptor object {mediaType, digest, size}; NULL when out of memory. */
json_t *ferry_oci_descriptor_new(const char *media_type, const char *hex, uint64_t size);

/** A new empty OCI image index (schemaVersion 2, no manifests); NULL when
 *  out of memory. */
json_t *ferry_oci_index_new(void);

/**
 * The entry the referrers API lists for manifest `doc` (of type
 * `media_type`, digest `hex`, `size` bytes): its descriptor with the
 * artifact type (ferry_oci_artifact_type) and the manifest's annotations,
 * as the distribution spec requires. NULL when out of memory.
 */
json_t *ferry_oci_referrer_descriptor(const json_t *doc, const char *media_type,
				      const char *hex, uint64_t size);

#endif
