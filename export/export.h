/*
 * ferry export: read the spec, collect every source, take the channel's
 * next sequence number, and write the signed bundle.
 */
#ifndef FERRY_EXPORT_EXPORT_H
#define FERRY_EXPORT_EXPORT_H

#include <stdint.h>

#include "ferry/bundle.h"
#include "image_closure.h"
#include "manifest.h"
#include "progress.h"
#include "writer.h"

typedef struct {
	unsigned version;
	const char *spec_path;
	const char *out_dir;
	const char *state_path;       /* NULL: ferry_export_state_default_path() */
	ferry_key *const *keys;
	size_t nkeys;
	uint64_t max_volume_size;     /* 0: one file */
	int64_t now;                  /* creation time; 0: the clock */
	ferry_progress_cb progress;
	void *progress_payload;
	int full;                     /* ignore what the channel was sent before */
	uint64_t since_sequence;      /* 0: the channel's last bundle; N: assume the
					 receiver holds bundles up to N only */
	const char *cache_dir;        /* registry blobs and git mirrors; NULL: the
					 per-user cache ($XDG_CACHE_HOME/ferry) */
	const char *auth_file;        /* credentials for registry sources */
	ferry_progress_cb download_progress;
	void *download_progress_payload;
	const char *baseline;         /* a receipt from the enclave: re-base on it */
	const ferry_trust *baseline_trust;  /* the enclave's key(s) */
	/* Hand the files to a transfer agent: write them in OUTBOX/.ferry-partial
	 * (same filesystem) and rename each into OUTBOX only once it is whole,
	 * data files first, signatures last. Instead of out_dir. */
	const char *outbox;
	int checksums;                /* also a "<file>.sha256" (sha256sum format) */
	/* Write nothing when the content (image bindings, git refs, trust root,
	 * sources) is what the channel's last bundle carried... */
	int if_changed;
	/* ...unless that bundle is at least this many seconds old (0: never):
	 * a small bundle then says the link is alive. */
	int64_t heartbeat;
} ferry_export_options;

#define FERRY_EXPORT_OPTIONS_VERSION 1
#define FERRY_EXPORT_OPTIONS_INIT { FERRY_EXPORT_OPTIONS_VERSION, NULL, NULL, \
				    NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0, \
				    NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }

/** The directory inside an outbox where files are written before they are
 *  handed over (transfer agents must ignore it). */
#define FERRY_OUTBOX_STAGING ".ferry-partial"

typedef struct {
	ferry_manifest *manifest;   /* owned: what was written */
	ferry_write_result files;
	char **skipped;             /* submodules left out as the spec allows */
	size_t nskipped;
	int unchanged;              /* if_changed: nothing written; manifest NULL */
	uint64_t last_sequence;     /* the channel's last bundle (when unchanged) */
	ferry_closure closure;      /* the deployments' images (the spec's deployments) */
} ferry_export_result;

/** Run an export. Nothing is written and no sequence is used on failure. */
int ferry_export_run(ferry_export_result *out, const ferry_export_options *opts);
void ferry_export_result_dispose(ferry_export_result *r);

#endif
