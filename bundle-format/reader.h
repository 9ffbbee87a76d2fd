/*
 * Reading and verifying bundles. One pass per file: the signed manifest
 * (first member) is checked against the trust keys and threshold before
 * anything else is read, then every entry is matched against the signed
 * volume layout and hashed as it streams to an optional sink. Memory use
 * does not depend on the size of the bundle.
 */
#ifndef FERRY_BUNDLE_READER_H
#define FERRY_BUNDLE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/bundle.h"
#include "envelope.h"
#include "manifest.h"
#include "progress.h"

/**
 * Receives each entry's bytes as they are read. `end` is told whether the
 * entry verified (0) or not; a sink must discard what it staged for an
 * entry that did not. Any callback returning < 0 stops the read.
 *
 * `data_async` (optional) takes the place of `data` for large entries: it
 * runs on a worker thread of the reader, alongside the hashing, with the
 * entry's bytes in order (`at`: their offset in the entry) straight from
 * the reader's buffers, which stay the reader's. Chunks start at multiples
 * of 4096 bytes in aligned buffers. It cannot stop the read: the sink
 * keeps its own error for `end`, which comes once every chunk was given.
 */
typedef struct {
	int (*begin)(void *payload, const ferry_manifest *m, size_t volume,
		     const ferry_part *part);
	int (*data)(void *payload, const void *buf, size_t len);
	int (*end)(void *payload, int error);
	void *payload;
	void (*data_async)(void *payload, const void *buf, size_t len, uint64_t at);
} ferry_bundle_sink;

typedef struct {
	unsigned version;
	const ferry_trust *trust;     /* NULL: nothing verified (display only) */
	int64_t now;                  /* expiry reference; 0: the clock */
	int ignore_expiry;
	int manifest_only;            /* stop once the manifest is read and the
					 volume identified (no data read) */
	const ferry_bundle_sink *sink;
	ferry_progress_cb progress;
	void *progress_payload;
	uint64_t in_place_min;        /* entries at least this large are read in
					 place and hashed on a worker; 0: 1 MiB */
} ferry_read_options;

#define FERRY_READ_OPTIONS_VERSION 1
#define FERRY_READ_OPTIONS_INIT { FERRY_READ_OPTIONS_VERSION, NULL, 0, 0, 0, \
				  NULL, NULL, NULL, 0 }

typedef struct {
	ferry_manifest *manifest;     /* owned; NULL when the manifest failed */
	size_t volume;                /* which volume this file is (0-based) */
	int volume_known;             /* volume was identified */
	ferry_envelope_info signatures;
	uint64_t bytes;               /* file size */
} ferry_read_result;

/**
 * Read one bundle file (a whole bundle or one volume). On failure
 * `out->manifest` is still set when the manifest itself verified, so the
 * caller can say which bundle and volume the bad file belongs to.
 * Returns FERRY_EVERIFY, FERRY_EINVALID, FERRY_ECORRUPT, FERRY_ETOOBIG,
 * FERRY_EUNSUPPORTED for bad bundles and FERRY_EIO/FERRY_ENOTFOUND for
 * files that cannot be read.
 */
int ferry_bundle_read(ferry_read_result *out, const char *path,
		      const ferry_read_options *opts);
void ferry_read_result_dispose(ferry_read_result *r);

/** One file given to ferry_bundle_verify(). */
typedef struct {
	const char *path;
	int error;
	char message[1024];
	long bundle;        /* index into bundles, -1 when unknown */
	size_t volume;
	int volume_known;   /* the file could be placed as a volume */
	uint64_t bytes;
	ferry_envelope_info signatures;
} ferry_verify_file;

/** One bundle found among the files. */
typedef struct {
	ferry_manifest *manifest;  /* owned */
	long *volume_file;         /* per volume: index into files, -1 missing */
	int *volume_ok;            /* per volume: 1 verified */
	int complete;              /* every volume present and verified */
} ferry_verify_bundle;

typedef struct {
	ferry_verify_file *files;
	size_t nfiles;
	ferry_verify_bundle *bundles;
	size_t nbundles;
} ferry_verify_report;

/**
 * Verify files that together hold one or more bundles; volumes may come in
 * any order. Returns 0 when every file verified and every bundle is
 * complete; otherwise the first failure, with the thread's message naming
 * the file, bundle and volume (missing volumes are named exactly).
 */
int ferry_bundle_verify(ferry_verify_report *out, const char *const *paths,
			size_t npaths, const ferry_read_options *opts);
void ferry_verify_report_dispose(ferry_verify_report *r);

#endif
