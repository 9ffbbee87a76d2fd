/*
 * oci/: what ferry knows about OCI content, in one place.
 *
 * Two libraries. ferry_oci links only the base core (no libcurl, no
 * libgit2), so the bundle verifier may use it:
 *
 *   oci.h         this overview; media types and what they mean
 *                 (ferry_oci_is_index, ferry_oci_is_manifest, the type of
 *                 a document that does not say), the walk's limits, and the
 *                 names an image layout gives things
 *   digest.h      the "sha256:<hex>" digest grammar, and the only code that
 *                 spells a blob's place in a layout ("blobs/sha256/<hex>")
 *   descriptor.h  descriptors: parsing them with checks, building them,
 *                 empty indexes, referrer descriptors
 *   walk.h        manifests and indexes read whole (ferry_oci_document), the
 *                 children of one document, and the one recursive walk over
 *                 a graph of them with a caller's loader, bounded in depth
 *                 and document size
 *   reference.h   names: distribution's reference grammar, repository names
 *                 and tags, store references ("name:tag", "name@digest"),
 *                 image lists and platforms
 *
 * ferry_oci_client (client.h) links ferry_oci and the network core: the one
 * registry client that pulls (export) and pushes (seed) use, with the 401
 * challenge, Basic credentials and bearer tokens cached per repository and
 * scope.
 *
 * Everything here is pure over its inputs except the client and the
 * loaders callers pass to the walk; every input has a named limit.
 */
#ifndef FERRY_OCI_H
#define FERRY_OCI_H

#include <jansson.h>

/* ---- media types ---------------------------------------------------------- */

#define FERRY_OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define FERRY_OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define FERRY_OCI_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define FERRY_OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define FERRY_OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define FERRY_OCI_MT_HELM_CONFIG "application/vnd.cncf.helm.config.v1+json"
#define FERRY_OCI_MT_HELM_CHART "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
/* Artifacts that are not images (image-spec manifest.md, "Guidelines for
 * artifact usage"): the empty config, and the types of ferry's file
 * artifacts (one layer per file, named by its title annotation). */
#define FERRY_OCI_MT_EMPTY "application/vnd.oci.empty.v1+json"
#define FERRY_OCI_EMPTY_JSON "{}"
#define FERRY_OCI_MT_FILES "application/vnd.ferry.files.v1"
#define FERRY_OCI_MT_FILE "application/octet-stream"

/* The manifest and index types ferry reads, for an Accept header. */
#define FERRY_OCI_MT_ACCEPT FERRY_OCI_MT_INDEX ", " FERRY_OCI_MT_MANIFEST ", " \
	FERRY_OCI_MT_DOCKER_LIST ", " FERRY_OCI_MT_DOCKER_MANIFEST

/** Longest media type ferry keeps (RFC 6838 allows 127 + '/' + 127). */
#define FERRY_OCI_MEDIA_TYPE_MAX 256

/** Nonzero for an OCI image index or a Docker manifest list. */
int ferry_oci_is_index(const char *media_type);
/** Nonzero for an OCI image manifest or a Docker image manifest. */
int ferry_oci_is_manifest(const char *media_type);
/** Nonzero for either: a document ferry reads and walks. */
int ferry_oci_is_document(const char *media_type);

/**
 * The media type of manifest or index `doc`: its own `mediaType`; when it
 * has none, `given` (the type of the descriptor or the Content-Type that
 * came with it) if that is an index or manifest type; otherwise its shape:
 * `manifests` makes an OCI index, `config` an OCI manifest (the members the
 * image spec requires of each). NULL when nothing tells. The result is
 * borrowed from `doc`, `given` or a constant. A `mediaType` the document
 * declares is returned whatever it is: callers check it.
 */
const char *ferry_oci_media_type(const json_t *doc, const char *given);

/**
 * The artifact type of manifest `doc` as the referrers API reports it: its
 * `artifactType`, else its config's media type; NULL when neither. Borrowed.
 */
const char *ferry_oci_artifact_type(const json_t *doc);

/* ---- limits --------------------------------------------------------------- */

/** How deep indexes and manifests may nest below the document a walk
 *  starts from (which is at depth 0). */
#define FERRY_OCI_MAX_DEPTH 8
/** The largest manifest or index ferry reads, from anywhere. */
#define FERRY_OCI_MANIFEST_MAX_SIZE (4u << 20)
/** The largest index.json of an image layout ferry reads. */
#define FERRY_OCI_INDEX_MAX_SIZE (8u << 20)

/* ---- image layouts ---------------------------------------------------------- */

/** The annotation naming an index entry's reference (image-spec). */
#define FERRY_OCI_REF_NAME "org.opencontainers.image.ref.name"
/** The annotation naming a layer's file (image-spec annotations.md). */
#define FERRY_OCI_TITLE "org.opencontainers.image.title"
/** The longest file name a title may give. */
#define FERRY_OCI_TITLE_MAX 255

/**
 * Nonzero when `title` may name a file in a directory: 1 to
 * FERRY_OCI_TITLE_MAX bytes, no '/', no control bytes, not "." or "..",
 * not starting with '.' or '-'. A file artifact's titles come from outside:
 * anything else is refused rather than written.
 */
int ferry_oci_title_valid(const char *title);
/** An image layout's marker file and its index (image-spec image-layout.md). */
#define FERRY_OCI_LAYOUT_NAME "oci-layout"
#define FERRY_OCI_INDEX_NAME "index.json"
/** The layout version ferry reads and writes, and its oci-layout file. */
#define FERRY_OCI_LAYOUT_VERSION "1.0.0"
#define FERRY_OCI_LAYOUT_FILE "{\"imageLayoutVersion\":\"" FERRY_OCI_LAYOUT_VERSION "\"}"

#endif
