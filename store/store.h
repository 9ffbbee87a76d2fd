/*
 * The enclave store: one directory holding content-addressed blobs, bare
 * git repositories and ferry.db (SQLite, WAL, synchronous=FULL). The store
 * root is also an OCI image layout (oci-layout, index.json, blobs/sha256/)
 * that stock tools read.
 *
 *   STORE/ferry.db         the database (schema and migrations: schema.c)
 *   STORE/blobs/sha256/    blobs, named by digest
 *   STORE/git/<name>.git   bare repositories
 *   STORE/staging/         work area of an import (same filesystem)
 *   STORE/oci-layout, STORE/index.json   the OCI layout view of the tags
 *   STORE/lock             held by whoever writes the store
 *   STORE/targets/         seeding targets' credentials (mode 0600) and
 *                          per-target locks
 *
 * The handle is opaque: other parts read and write the store through the
 * typed operations of store.h, catalog.h (channels, imports, blobs, tags,
 * refs, trust roots, audit), targets.h (seeding) and stacks.h (the
 * reconciler); nothing outside store/ speaks SQL.
 */
#ifndef FERRY_STORE_STORE_H
#define FERRY_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "oci.h"
#include "strv.h"

#define FERRY_STORE_DEFAULT "/var/lib/ferry"

/** Names inside a store directory. */
#define FERRY_STORE_DB "ferry.db"
#define FERRY_STORE_INDEX FERRY_OCI_INDEX_NAME
#define FERRY_STORE_LAYOUT FERRY_OCI_LAYOUT_NAME
#define FERRY_STORE_STAGING "staging"
#define FERRY_STORE_TARGETS "targets"
#define FERRY_STORE_LOCK "lock"

typedef struct ferry_store ferry_store;

typedef enum {
	FERRY_STORE_READ = 0,   /* an existing store, without the write lock: content
				   is not changed, but records of work done on it
				   (seed progress, reconcile events) may be written */
	FERRY_STORE_WRITE = 1,  /* an existing store, with the write lock */
	FERRY_STORE_CREATE = 2, /* the same, creating the store when missing */
} ferry_store_mode;

/**
 * Open the store at `root`. With FERRY_STORE_WRITE or _CREATE the write
 * lock is taken: when another process holds it, `wait` says whether to
 * block until it is released (FERRY_EEXISTS otherwise, naming the holder's
 * pid). An older schema is upgraded in one transaction; a newer one is
 * FERRY_EUNSUPPORTED. FERRY_ENOTFOUND when `root` holds no store, and
 * nothing is created then (only FERRY_STORE_CREATE makes one).
 */
int ferry_store_open(ferry_store **out, const char *root, ferry_store_mode mode,
		     int wait);
void ferry_store_close(ferry_store *st);

/** The store's directory; borrowed. */
const char *ferry_store_root(const ferry_store *st);
/** Nonzero when this handle holds the write lock. */
int ferry_store_writable(const ferry_store *st);
/** The schema version of ferry.db, and the version this ferry writes. */
int ferry_store_schema_version(int *out, ferry_store *st);
int ferry_store_schema_latest(void);

/* ---- paths -------------------------------------------------------------- */

/* Paths inside a store directory, appended to `out`. They need no open
 * handle: the mirror serves files by them. */
int ferry_store_path(ferry_buf *out, const char *root, const char *name);
int ferry_store_path_blob(ferry_buf *out, const char *root, const char *hex);
int ferry_store_path_repo(ferry_buf *out, const char *root, const char *name);
/**
 * Append the manifest or index blob `hex` of the store at `root` to `body`,
 * for an OCI walk's loader: FERRY_ETOOBIG beyond
 * FERRY_OCI_MANIFEST_MAX_SIZE, FERRY_ENOTFOUND, FERRY_EIO.
 */
int ferry_store_read_document(ferry_buf *body, const char *root, const char *hex);

/** The same for an open store. */
int ferry_store_blob_path(ferry_buf *out, const ferry_store *st, const char *hex);
int ferry_store_repo_path(ferry_buf *out, const ferry_store *st, const char *name);
/** Nonzero when the store holds blob `hex` (a regular file by that name). */
int ferry_store_has_blob(const ferry_store *st, const char *hex);

/* ---- transactions and settings -------------------------------------------- */

/**
 * Group writes: everything between begin and commit is one SQLite
 * transaction (`write`: taken for writing at once). Rollback never fails
 * and is safe without a transaction.
 */
int ferry_store_begin(ferry_store *st, int write);
int ferry_store_commit(ferry_store *st);
void ferry_store_rollback(ferry_store *st);

/** Integer settings kept in the meta table (0 when unset). */
int ferry_store_meta_get(int64_t *out, ferry_store *st, const char *key);
int ferry_store_meta_set(ferry_store *st, const char *key, int64_t value);

/* ---- the OCI layout view -------------------------------------------------- */

/**
 * Rewrite STORE/index.json (atomically) from the tags, so the store root is
 * an OCI layout naming every stored image and chart by reference.
 */
int ferry_store_write_layout_view(ferry_store *st);
/**
 * Rewrite the view only when it is behind the tags: a tag was set since it
 * was last written (ferry_store_tag_set marks it in the same transaction,
 * so an import killed after its commit is caught), or it is missing.
 */
int ferry_store_refresh_layout_view(ferry_store *st);

/* ---- garbage collection --------------------------------------------------- */

/** What gc deleted (or, in a dry run, would delete). */
typedef struct {
	ferry_strv removed;       /* the blobs' hex digests, sorted */
	uint64_t removed_bytes;
	size_t kept;              /* blobs a tag reaches */
} ferry_store_gc_result;

/**
 * Delete the blobs that no tag reaches (through indexes, manifests,
 * configs, layers and subjects), each record before its file; files in
 * blobs/sha256/ not named by a digest are left alone. The caller holds the
 * write lock, so no import runs meanwhile. With `dry_run` nothing is
 * deleted and `out` lists exactly what a run would delete. Before deleting
 * anything gc refuses a store without a trust root (FERRY_ENOTFOUND) and
 * stops on a tag whose documents cannot be read whole: missing
 * (FERRY_ENOTFOUND), not matching their descriptor (FERRY_ECORRUPT),
 * larger than FERRY_OCI_MANIFEST_MAX_SIZE or deeper than
 * FERRY_OCI_MAX_DEPTH (FERRY_ETOOBIG), malformed (FERRY_EINVALID); the
 * message names the tag and the document. `out` is the caller's to dispose
 * on success and empty on failure.
 */
int ferry_store_gc(ferry_store_gc_result *out, ferry_store *st, int dry_run);
void ferry_store_gc_result_dispose(ferry_store_gc_result *r);

#endif
