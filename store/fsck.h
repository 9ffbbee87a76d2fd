/*
 * Checking the store against itself: every blob rehashed against its
 * name, every tag's closure walked, the database's integrity and its
 * agreement with the blob files, and (through a hook, since the store does
 * not speak git) every repository's objects and recorded refs. The result
 * is a typed report of faults, each naming what is wrong and what refers
 * to it, that the command prints and that repair works through.
 */
#ifndef FERRY_STORE_FSCK_H
#define FERRY_STORE_FSCK_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "strv.h"

/** What is wrong. */
typedef enum {
	FERRY_FSCK_DAMAGED = 0,    /* present, but not what its name or record says */
	FERRY_FSCK_MISSING,        /* recorded or referenced, and absent */
	FERRY_FSCK_UNRECORDED,     /* a blob file that ferry.db has no row for */
	FERRY_FSCK_INVALID         /* a document or database that cannot be read */
} ferry_fsck_kind;

/** What it is wrong with. */
typedef enum {
	FERRY_FSCK_BLOB = 0,       /* id: sha256 hex */
	FERRY_FSCK_TAG,            /* id: the reference; a closure that cannot be walked */
	FERRY_FSCK_DATABASE,       /* id: "ferry.db" */
	FERRY_FSCK_REPOSITORY,     /* id: the repository name */
	FERRY_FSCK_GIT_OBJECT,     /* id: object id; repo set */
	FERRY_FSCK_REF             /* id: ref name; repo set */
} ferry_fsck_object;

typedef struct {
	ferry_fsck_kind kind;
	ferry_fsck_object object;
	char *id;
	char *repo;                /* the repository of a git fault, else NULL */
	char *detail;              /* one line */
	ferry_strv referrers;      /* what refers to it: "tag 'app:v1' (layer)" */
	int repaired;              /* set by repair */
} ferry_fsck_fault;

typedef struct {
	ferry_fsck_fault *faults;
	size_t nfaults, cap;
	/* what was checked */
	size_t blobs, tags, repos, refs, git_objects;
} ferry_fsck_report;

#define FERRY_FSCK_REPORT_INIT { NULL, 0, 0, 0, 0, 0, 0, 0 }

/** Names used in reports ("damaged", "blob", ...); never NULL. */
const char *ferry_fsck_kind_name(ferry_fsck_kind kind);
const char *ferry_fsck_object_name(ferry_fsck_object object);

/**
 * Add a fault, or find the one already there for the same kind, object,
 * repository and id (its detail is kept). `*out` (may be NULL) is borrowed
 * from the report until the next add. FERRY_ENOMEM.
 */
int ferry_fsck_report_add(ferry_fsck_fault **out, ferry_fsck_report *r,
			  ferry_fsck_kind kind, ferry_fsck_object object,
			  const char *repo, const char *id, const char *detail);
/** Add `referrer` to the fault unless it is there already; FERRY_ENOMEM. */
int ferry_fsck_fault_refer(ferry_fsck_fault *f, const char *referrer);
/** Faults not repaired. */
size_t ferry_fsck_report_remaining(const ferry_fsck_report *r);
/** Free what the report holds and make it empty (reusable). */
void ferry_fsck_report_dispose(ferry_fsck_report *r);

typedef struct {
	unsigned version;
	/**
	 * Optional: check repository `repo` (which ferry.db records refs of),
	 * adding its faults to `r` and counting into r->refs and
	 * r->git_objects. A negative return stops fsck with that error.
	 */
	int (*check_repo)(ferry_fsck_report *r, ferry_store *st, const char *repo,
			  void *payload);
	void *payload;
} ferry_fsck_options;

#define FERRY_FSCK_OPTIONS_VERSION 1
#define FERRY_FSCK_OPTIONS_INIT { FERRY_FSCK_OPTIONS_VERSION, NULL, NULL }

/**
 * Check `st` (open in any mode; nothing is changed) into `out`, which the
 * caller initialised with FERRY_FSCK_REPORT_INIT and disposes. Faults
 * found are not errors: 0 is returned with them in the report. Negative
 * only when the check itself could not run (FERRY_EIO reading the store,
 * FERRY_ENOMEM, or the hook's error); the report then holds what was
 * found so far.
 */
int ferry_store_fsck(ferry_fsck_report *out, ferry_store *st, const ferry_fsck_options *opts);

/**
 * Rehash the held blob `hex`: 0 when its file hashes to its name (and has
 * `size` bytes, unless `size` is UINT64_MAX), FERRY_ECORRUPT when it does
 * not, FERRY_ENOTFOUND when there is no such regular file, FERRY_EIO when
 * it cannot be read. The message names the blob.
 */
int ferry_store_blob_verify(ferry_store *st, const char *hex, uint64_t size);

/**
 * Put the file `staged` (already verified to hash to `hex` and synced by
 * the caller, on the store's filesystem) in place of blob `hex`, whatever
 * is there now: one rename, then the directory is synced. The caller
 * holds the write lock. FERRY_EIO.
 */
int ferry_store_blob_replace(ferry_store *st, const char *hex, const char *staged);

#endif
