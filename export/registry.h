/*
 * Source kinds `image`, `images` and `chart`: OCI images and Helm charts
 * pulled from registries through the OCI distribution API, and charts from
 * classic Helm repositories (index.yaml), all collected into the same
 * ferry_oci_content as local layouts so export lays them out as one OCI
 * image layout. docs/export-spec.md documents the options.
 *
 * Collection happens in two phases. ferry_registry_collect resolves each
 * reference to a digest and fetches every manifest and index (small; kept
 * in the cache and verified against their digests), and queues the config
 * and layer blobs. ferry_registry_download then fetches the queued blobs
 * that the bundle will carry, in parallel, resuming partial files, and
 * verifying size and digest as they stream. Blobs the channel already has
 * are never downloaded.
 */
#ifndef FERRY_EXPORT_REGISTRY_H
#define FERRY_EXPORT_REGISTRY_H

#include <stdint.h>

#include "buf.h"
#include "digest.h"
#include "oci_layout.h"
#include "progress.h"
#include "spec.h"

typedef struct ferry_registry ferry_registry;

typedef struct {
	unsigned version;
	const char *cache_dir;     /* blobs go to the image layout <cache_dir>/oci/ */
	const char *auth_file;     /* credentials for sources without auth-file */
	unsigned parallel;         /* concurrent blob downloads; 0: 4 */
	ferry_progress_cb progress;
	void *progress_payload;
} ferry_registry_options;

#define FERRY_REGISTRY_OPTIONS_VERSION 1
#define FERRY_REGISTRY_OPTIONS_INIT { FERRY_REGISTRY_OPTIONS_VERSION, NULL, NULL, \
				      0, NULL, NULL }

/* Limits on what chart repositories send (manifests from registries are
 * capped at FERRY_OCI_MANIFEST_MAX_SIZE, tokens at FERRY_AUTH_TOKEN_MAX_SIZE). */
#define FERRY_HELM_INDEX_MAX_SIZE (64u << 20)
#define FERRY_HELM_CHART_MAX_SIZE (64u << 20)
#define FERRY_HELM_CHART_YAML_MAX_SIZE (1u << 20)

/* Annotations ferry adds to the descriptors of the bundle's index.json. */
#define FERRY_ANNOTATION_SOURCE "io.ferry.source"
#define FERRY_ANNOTATION_ORIGINAL_DIGEST "io.ferry.original-digest"
#define FERRY_ANNOTATION_PLATFORMS "io.ferry.platforms"

/** Create a collector; the cache directory is created when needed. */
int ferry_registry_new(ferry_registry **out, const ferry_registry_options *opts);
void ferry_registry_free(ferry_registry *r);

/**
 * Collect an `image`, `images` or `chart` source into `c`. Options are
 * checked first (FERRY_EINVALID naming the spec line). Network and content
 * problems name the image and the problem: FERRY_ENOTFOUND, FERRY_ECORRUPT
 * (wrong digest or size), FERRY_ETOOBIG, FERRY_ERROR (credentials),
 * FERRY_EINVALID (refused redirect, malformed answers), FERRY_EUNSUPPORTED
 * (media type), FERRY_EIO.
 */
int ferry_registry_collect(ferry_registry *r, ferry_oci_content *c,
			   const ferry_export_spec *spec, const ferry_source *src);

/**
 * The digest of the manifest or index that `image` source `src` names
 * (its location is the reference), into `digest` ("sha256:<hex>"), with
 * the source's registry settings; the document is fetched and verified
 * (and cached), nothing is queued. Errors as ferry_registry_collect.
 */
int ferry_registry_resolve(char digest[FERRY_OCI_DIGEST_SIZE], ferry_registry *r,
			   const ferry_export_spec *spec, const ferry_source *src);
/**
 * Like ferry_registry_resolve, and also fetch the Helm chart archive (the
 * .tgz as `helm push` stored it, at most FERRY_HELM_CHART_MAX_SIZE) that
 * the manifest carries into `tgz` (caller disposes), checked against the
 * layer's digest; nothing is queued. FERRY_EUNSUPPORTED when the manifest
 * has no layer of Helm's chart media type; other errors as above.
 */
int ferry_registry_fetch_chart(ferry_buf *tgz, char digest[FERRY_OCI_DIGEST_SIZE],
			       ferry_registry *r, const ferry_export_spec *spec,
			       const ferry_source *src);
/**
 * Download the queued blobs that `c` carries (not those marked as
 * prerequisites) and are not in the cache yet. Errors as above.
 */
int ferry_registry_download(ferry_registry *r, const ferry_oci_content *c);

/**
 * The default cache: $XDG_CACHE_HOME/ferry or ~/.cache/ferry. Caller frees;
 * NULL when out of memory.
 */
char *ferry_registry_default_cache(void);

#endif
