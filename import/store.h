/*
 * The enclave store: one directory holding content-addressed blobs, bare
 * git repositories and ferry.db (SQLite, WAL, synchronous=FULL) with the
 * trust roots, channels and their sequences, tags, refs, imports and the
 * audit trail. The store root is also an OCI image layout (oci-layout,
 * index.json, blobs/sha256/) that stock tools read.
 *
 *   STORE/ferry.db         the database
 *   STORE/blobs/sha256/    blobs, named by digest
 *   STORE/git/<name>.git   bare repositories
 *   STORE/staging/         work area of an import (same filesystem)
 *   STORE/oci-layout, STORE/index.json   the OCI layout view of the tags
 *   STORE/lock             held by whoever writes the store
 *   STORE/targets/         seeding targets' credentials (mode 0600) and
 *                          per-target locks (see seed.h)
 */
#ifndef FERRY_IMPORT_STORE_H
#define FERRY_IMPORT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "buf.h"

#define FERRY_STORE_DEFAULT "/var/lib/ferry"

typedef struct {
	char *root;
	sqlite3 *db;
	int lock_fd;   /* -1 when the write lock is not held */
} ferry_store;

typedef enum {
	FERRY_STORE_READ = 0,   /* open an existing store for reading */
	FERRY_STORE_WRITE = 1,  /* open an existing store, take the write lock */
	FERRY_STORE_CREATE = 2, /* the same, creating the store when missing */
} ferry_store_mode;

/**
 * Open the store at `root`. With FERRY_STORE_WRITE the directory is created
 * when missing and the write lock is taken: when another process holds it,
 * `wait` says whether to block until it is released (FERRY_EEXISTS
 * otherwise, naming the holder's pid). FERRY_ENOTFOUND when reading a store
 * that does not exist.
 */
int ferry_store_open(ferry_store **out, const char *root, ferry_store_mode mode,
		     int wait);
void ferry_store_close(ferry_store *st);

/** "<root>/blobs/sha256/<hex>" into `out` (appended). */
int ferry_store_blob_path(ferry_buf *out, const ferry_store *st, const char *hex);
/** Nonzero when the store holds blob `hex`. */
int ferry_store_has_blob(const ferry_store *st, const char *hex);
/** "<root>/git/<name>.git" into `out` (appended). */
int ferry_store_repo_path(ferry_buf *out, const ferry_store *st, const char *name);

/** Run SQL with no result; errors name `what`. */
int ferry_store_exec(ferry_store *st, const char *sql, const char *what);
/** A sqlite failure as a ferry error naming `what`. */
int ferry_store_db_error(const ferry_store *st, const char *what);

/** Integer settings kept in the meta table (0 when unset). */
int ferry_store_meta_get(int64_t *out, ferry_store *st, const char *key);
int ferry_store_meta_set(ferry_store *st, const char *key, int64_t value);

/** Record an audit event that no import makes (a rotation by hand). */
int ferry_store_audit(ferry_store *st, const char *event, const char *outcome,
		      const char *reason);

/**
 * Rewrite STORE/index.json (atomically) from the tags table, so the store
 * root is an OCI layout naming every stored image and chart by reference.
 */
int ferry_store_write_layout_view(ferry_store *st);

/**
 * Delete blobs that no tag reaches (through indexes, manifests, configs and
 * layers). The caller holds the write lock, so no import runs meanwhile.
 * With `dry_run` nothing is deleted; the counts say what would be.
 */
int ferry_store_gc(ferry_store *st, int dry_run, size_t *removed,
		   uint64_t *removed_bytes, size_t *kept);

#endif
