/*
 * Walking manifests and indexes: the one way ferry goes from a document to
 * what it refers to, whether the documents are files of a layout, answers
 * of a registry or blobs of the store.
 *
 * An index's children are the entries of its `manifests` (documents, opened
 * in turn); a manifest's are its `config` and its `layers` (blobs, never
 * opened). Either may have a `subject`, yielded on request and never
 * opened. A document is opened only when its descriptor's media type is an
 * index or manifest type (ferry_oci_is_document); entries of other types
 * are visited and left to the caller.
 *
 * Two levels: ferry_oci_children lists one document's children;
 * ferry_oci_walk follows them down, reading each document through the
 * caller's loader, checking it against its descriptor (size, digest, media
 * type) and calling the caller back for each descriptor and each document.
 * A walk deeper than FERRY_OCI_MAX_DEPTH or a document larger than
 * FERRY_OCI_MANIFEST_MAX_SIZE fails, naming the document and the limit.
 */
#ifndef FERRY_OCI_WALK_H
#define FERRY_OCI_WALK_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "descriptor.h"
#include "oci.h"

/** Where a descriptor was found. */
typedef enum {
	FERRY_OCI_ROOT = 0,   /* the descriptor a walk starts from */
	FERRY_OCI_MANIFESTS,  /* an entry of an index's `manifests` */
	FERRY_OCI_CONFIG,     /* a manifest's `config` */
	FERRY_OCI_LAYER,      /* an entry of a manifest's `layers` */
	FERRY_OCI_SUBJECT     /* a manifest's or index's `subject` */
} ferry_oci_role;

/** Also yield `subject` descriptors (ferry_oci_children, ferry_oci_walk). */
#define FERRY_OCI_SUBJECTS 1u

/* ---- documents ------------------------------------------------------------ */

/** A manifest or an index read whole. */
typedef struct {
	ferry_buf body;
	char hex[FERRY_SHA256_HEX_LEN + 1];    /* digest of body */
	char media_type[FERRY_OCI_MEDIA_TYPE_MAX];
	json_t *json;
} ferry_oci_document;

/**
 * Parse `d->body` (the caller has set `d->hex`): it must be a JSON object.
 * `d->media_type` becomes ferry_oci_media_type(json, given), or, when that
 * tells nothing, `given` (or "" without it): callers that need an index or a
 * manifest check it with ferry_oci_is_document. Messages start with
 * `what`. FERRY_EINVALID.
 */
int ferry_oci_document_parse(ferry_oci_document *d, const char *given, const char *what);
/** Free what `d` holds and zero it. */
void ferry_oci_document_dispose(ferry_oci_document *d);

/* ---- the children of one document ------------------------------------------ */

typedef struct {
	const json_t *json;
	int kind;            /* 1 index, 2 manifest, 0 neither (no children) */
	unsigned flags;
	int stage;
	size_t i;
	const char *what;
} ferry_oci_children;

/**
 * Start listing the children of `doc`, a document of type `media_type`
 * (both borrowed for the iteration). A document of another type has no
 * children. Messages start with `what` (kept, borrowed).
 */
void ferry_oci_children_init(ferry_oci_children *it, const json_t *doc,
			     const char *media_type, unsigned flags, const char *what);
/**
 * The next child into *out (borrowed from the document) and its *role: 1.
 * 0 when there are no more. Negative when the document is malformed (the
 * image spec's required members: an index's `manifests` array, a
 * manifest's `config` object and `layers` array; each descriptor as
 * ferry_oci_descriptor_parse checks it): FERRY_EINVALID, FERRY_EUNSUPPORTED.
 */
int ferry_oci_children_next(ferry_oci_descriptor *out, ferry_oci_role *role,
			    ferry_oci_children *it);

/* ---- the walk ------------------------------------------------------------- */

typedef struct {
	unsigned version;
	/**
	 * Read the document `desc` names into `body` (empty, with its limit set
	 * to FERRY_OCI_MANIFEST_MAX_SIZE). The walk checks size and digest.
	 */
	int (*load)(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload);
	/**
	 * Optional: every descriptor, as it is met, before a document is read.
	 * Return 0 to go on, 1 not to open this document (nor walk below it),
	 * a negative error code to stop the walk with it.
	 */
	int (*visit)(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth,
		     void *payload);
	/** Optional: every document once read and checked, before its children. */
	int (*enter)(const ferry_oci_document *doc, int depth, void *payload);
	/** Optional: every document after all its children. */
	int (*leave)(const ferry_oci_document *doc, int depth, void *payload);
	unsigned flags;       /* FERRY_OCI_SUBJECTS */
	const char *what;     /* required: starts every message ("layout 'dir'") */
	void *payload;
} ferry_oci_walk_options;

#define FERRY_OCI_WALK_OPTIONS_VERSION 1
#define FERRY_OCI_WALK_OPTIONS_INIT { FERRY_OCI_WALK_OPTIONS_VERSION, NULL, NULL, NULL, \
				      NULL, 0, NULL, NULL }

/**
 * Walk from descriptor `root` (depth 0): visit it, and when it is an index
 * or a manifest, read it and walk its children. A document is refused when
 * it is deeper than FERRY_OCI_MAX_DEPTH or larger than
 * FERRY_OCI_MANIFEST_MAX_SIZE (FERRY_ETOOBIG), when its bytes do not match
 * its descriptor's size or digest (FERRY_ECORRUPT), when it declares a media
 * type other than its descriptor's or is malformed (FERRY_EINVALID). The
 * first error of the walk or of a callback stops it and is returned.
 */
int ferry_oci_walk(const ferry_oci_walk_options *opts, const ferry_oci_descriptor *root);

/**
 * Walk below a document the caller read itself (checked and parsed with
 * ferry_oci_document_parse), as if it were met at `depth`: enter, its
 * children, leave. Errors as ferry_oci_walk.
 */
int ferry_oci_walk_document(const ferry_oci_walk_options *opts,
			    const ferry_oci_document *doc, int depth);

#endif
