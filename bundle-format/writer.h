/*
 * Writing bundles: lay members out over one or more volumes, sign the
 * manifest, and stream each volume as a pax tar with the signed manifest
 * first, hashing every member as it is copied so that a source that does
 * not match its digest aborts the write. Each file gets a detached
 * minisign signature. Files appear only when complete (lock file, fsync,
 * rename); on failure nothing of the run is left behind.
 */
#ifndef FERRY_BUNDLE_WRITER_H
#define FERRY_BUNDLE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/bundle.h"
#include "manifest.h"
#include "progress.h"

/** Where a member's bytes come from: a file, a file named after the
 *  member's SHA-256 (hex) in a directory, or memory. */
typedef struct {
	const char *file;
	const void *data;
	const char *dir;    /* with `file` NULL: the file `dir`/<sha256 hex> */
} ferry_member_source;

typedef struct {
	unsigned version;
	const char *out_dir;
	const char *basename;      /* <basename>.tar or <basename>.volNNN.tar */
	uint64_t max_volume_size;  /* 0: a single file */
	ferry_key *const *keys;
	size_t nkeys;
	ferry_progress_cb progress;
	void *progress_payload;
	/* Optional: called once every file is written and on disk, just before
	 * the first is named (m->id is set); < 0 stops the write, leaving
	 * nothing named. */
	int (*naming)(void *payload, const ferry_manifest *m);
	void *naming_payload;
} ferry_write_options;

#define FERRY_WRITE_OPTIONS_VERSION 1
#define FERRY_WRITE_OPTIONS_INIT { FERRY_WRITE_OPTIONS_VERSION, NULL, NULL, 0, \
				   NULL, 0, NULL, NULL, NULL, NULL }

typedef struct {
	char **paths;   /* the bundle files written, in volume order */
	size_t npaths;
	uint64_t bytes; /* total size of those files */
} ferry_write_result;

/** Smallest --max-volume-size accepted. */
#define FERRY_MIN_VOLUME_SIZE (64u * 1024)

/**
 * Write `m` (members filled in; the volume layout is computed here) with
 * member i read from sources[i]. The manifest's id is set to the bundle id.
 * FERRY_ECORRUPT when a source does not match its listed digest or size,
 * FERRY_EINVALID when the volume size is too small, FERRY_EIO on I/O.
 */
int ferry_bundle_write(ferry_write_result *out, ferry_manifest *m,
		       const ferry_member_source *sources,
		       const ferry_write_options *opts);
void ferry_write_result_dispose(ferry_write_result *r);

#endif
