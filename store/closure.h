/*
 * The closure of a tag in the store: every blob an image or chart
 * reference reaches through indexes, manifests, configs, layers and
 * subjects, found with the one OCI walk (oci/walk.h) within its depth and
 * size limits (oci/oci.h). One closure accumulates the blobs of as many
 * tags as its caller adds, reading each document once.
 *
 * Who uses it: gc marks what it keeps with it (a tag whose documents cannot
 * be read whole stops gc); import checks, before it publishes anything,
 * that every tag of a bundle reaches only content that is held, with the
 * sizes its descriptors state (a locator makes staged content visible);
 * fsck checks the same of every tag of the store.
 */
#ifndef FERRY_STORE_CLOSURE_H
#define FERRY_STORE_CLOSURE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "digest.h"
#include "store.h"

/** A set of blobs (sha256 hex): a hash table of `cap` slots (a power of
 *  two, at most half full), an empty string in a free slot; `n` held. */
typedef struct {
	char (*hex)[FERRY_SHA256_HEX_LEN + 1];
	size_t n, cap;
} ferry_store_closure;

#define FERRY_STORE_CLOSURE_INIT { NULL, 0, 0 }

/** Every blob reached must be held, with the size its descriptor states
 *  (subjects excepted: a referrer may name an image the store lacks). */
#define FERRY_STORE_CLOSURE_HELD 1u

typedef struct {
	unsigned version;
	unsigned flags;       /* FERRY_STORE_CLOSURE_HELD */
	/**
	 * Optional: where blob `hex` is, appended to `path` (empty); 0, or
	 * FERRY_ENOTFOUND when it is not held, or another negative error to
	 * stop. Without it, blobs are the store's files.
	 */
	int (*locate)(ferry_buf *path, const char *hex, void *payload);
	/** Where a blob is when it is not held, for messages ("in the store"). */
	const char *where;
	/** Required: starts every message ("tag 'library/app:v1'"). */
	const char *what;
	void *payload;
} ferry_store_closure_options;

#define FERRY_STORE_CLOSURE_OPTIONS_VERSION 1
#define FERRY_STORE_CLOSURE_OPTIONS_INIT { FERRY_STORE_CLOSURE_OPTIONS_VERSION, 0, NULL, \
					   NULL, NULL, NULL }

/**
 * Add to `cl` the blobs reached from document `digest` ("sha256:<hex>") of
 * type `media_type` (a tag's binding). The root must be held and every
 * document below it must be read whole: a missing root is FERRY_ENOTFOUND,
 * a document larger than FERRY_OCI_MANIFEST_MAX_SIZE or nested deeper than
 * FERRY_OCI_MAX_DEPTH FERRY_ETOOBIG, one that does not match its
 * descriptor FERRY_ECORRUPT, a malformed one FERRY_EINVALID; messages name
 * `opts->what` and the document. With FERRY_STORE_CLOSURE_HELD, a blob not
 * held is FERRY_ENOTFOUND and one of another size FERRY_ECORRUPT. On error
 * `cl` may hold part of the closure. `st` is read only.
 */
int ferry_store_closure_add(ferry_store_closure *cl, const ferry_store *st,
			    const ferry_store_closure_options *opts, const char *digest,
			    const char *media_type);

/** Add `hex` to the set; 1 when it was new, 0 when present, FERRY_ENOMEM. */
int ferry_store_closure_insert(ferry_store_closure *cl, const char *hex);
/** Nonzero when the set holds `hex`. */
int ferry_store_closure_has(const ferry_store_closure *cl, const char *hex);
/** Free the set; it is empty again. */
void ferry_store_closure_dispose(ferry_store_closure *cl);

#endif
