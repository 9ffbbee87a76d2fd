/*
 * The enclave's inbox: a directory where bundles, volumes of split bundles
 * and their sidecar files land (from a diode, a share, removable media),
 * in any order and over any number of days. Each file is taken once it has
 * settled, checked, staged beside its bundle's other volumes, and once a
 * bundle is complete and its channel is at the sequence it builds on, it is
 * imported (ferry_import) and its files move to done/; a file that cannot
 * be used moves to rejected/ with a "<file>.reason" saying what to send
 * again. Every step is stage -> import -> move, each idempotent, so a run
 * killed at any point converges on the next one.
 *
 * Layout under DIR:
 *   .ferry-inbox/lock            held (flock) by the one inbox working on DIR
 *   .ferry-inbox/staging/<id>/   verified volumes of bundle <id> ("NNNN-<file>")
 *   .ferry-inbox/status.json     what waits, what was imported or rejected
 *   .ferry-inbox/history.jsonl   one line per outcome
 *   done/  rejected/             processed files (rejected ones with .reason)
 */
#ifndef FERRY_IMPORT_INBOX_H
#define FERRY_IMPORT_INBOX_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "import.h"
#include "store.h"

#define FERRY_INBOX_STATE_DIR ".ferry-inbox"
#define FERRY_INBOX_STATUS_FILE FERRY_INBOX_STATE_DIR "/status.json"
#define FERRY_INBOX_DONE_DIR "done"
#define FERRY_INBOX_REJECTED_DIR "rejected"
#define FERRY_INBOX_REASON_SUFFIX ".reason"

typedef struct {
	unsigned version;
	int64_t settle;         /* seconds a file must be left unchanged (5) */
	int64_t keep_done;      /* seconds done/ files are kept; 0: forever */
	int64_t interval;       /* ferry_inbox_run: seconds between rescans (60) */
	int64_t now;            /* 0: the clock (tests) */
	int no_wait;            /* fail instead of waiting for the store lock */
	FILE *audit_log;        /* passed to ferry_import */
	/* Called after each bundle import with the store still open and the
	 * import's result (the caller seeds and notifies): the import stands
	 * whatever it does. */
	void (*imported)(ferry_store *st, const ferry_import_result *res, void *payload);
	void *payload;
} ferry_inbox_options;

#define FERRY_INBOX_OPTIONS_VERSION 1
#define FERRY_INBOX_OPTIONS_INIT { FERRY_INBOX_OPTIONS_VERSION, 5, 0, 60, 0, 0, NULL, \
				   NULL, NULL }

/** What one pass did and left. */
typedef struct {
	size_t imported;        /* bundles published */
	size_t skipped;         /* already imported or superseded: to done/ */
	size_t rejected;        /* files moved to rejected/ */
	size_t waiting;         /* bundles waiting for volumes or a sequence */
	size_t settling;        /* files not yet left alone long enough */
	size_t ignored;         /* files that are no bundle (left in place) */
} ferry_inbox_counts;

/**
 * One pass over `dir` with the store at `store`: take what settled, import
 * what is complete and in order, move processed files, write the status.
 * Takes the inbox lock (FERRY_EEXISTS when another inbox works on `dir`)
 * and, when there is work, the store's write lock. 0 when the pass ran
 * (rejections are outcomes, counted in `out`, not errors); FERRY_EIO,
 * FERRY_ENOTFOUND (no store, no directory) or a store error otherwise,
 * leaving every file where the next pass finds it.
 */
int ferry_inbox_once(ferry_inbox_counts *out, const char *dir, const char *store,
		     const ferry_inbox_options *opts);

/**
 * Passes over `dir` until `*stop` is set: at start, whenever a file lands
 * (inotify), `settle` seconds after a pass that left files settling, and
 * every `interval` seconds. Holds the inbox lock throughout. A failed pass
 * is logged and retried; returns 0 once stopped, or the error that
 * prevents running at all (FERRY_EEXISTS: another inbox; FERRY_EIO).
 */
int ferry_inbox_run(const char *dir, const char *store, const ferry_inbox_options *opts,
		    volatile sig_atomic_t *stop);

/** The status file's path for `dir` into `out` (appended). */
int ferry_inbox_status_path(ferry_buf *out, const char *dir);

/* ---- the pure parts, exposed for tests ----------------------------------- */

typedef enum {
	FERRY_INBOX_SKIP = 0,   /* never taken: dot-file, *.part, *.tmp */
	FERRY_INBOX_BUNDLE,     /* "*.tar": a bundle or a volume */
	FERRY_INBOX_SIDECAR,    /* "*.minisig", "*.sha256" beside a bundle file */
	FERRY_INBOX_OTHER       /* anything else: noted, left in place */
} ferry_inbox_kind;

/** What a file named `name` (no directory) is to the inbox. */
ferry_inbox_kind ferry_inbox_classify(const char *name);

/**
 * Has a file settled: neither its data nor its name changed for `settle`
 * seconds before `now`? `mtime` later than `now` (a clock ahead, a copy
 * keeping its time) counts as `now` minus nothing, so only the local
 * change time `ctime` decides then. 1 settled, 0 not.
 */
int ferry_inbox_settled(int64_t mtime, int64_t ctime, int64_t now, int64_t settle);

typedef enum {
	FERRY_INBOX_READY = 1,          /* complete, in order: import now */
	FERRY_INBOX_WAIT_VOLUMES,       /* volumes missing */
	FERRY_INBOX_WAIT_SEQUENCE       /* complete; builds on a sequence not in */
} ferry_inbox_state;

/** A bundle in staging, as the planner sees it. */
typedef struct {
	char id[65];
	char *channel;                  /* owned */
	uint64_t sequence, base_sequence;
	size_t nvolumes;
	unsigned char *have;            /* owned; per volume: staged */
	size_t nhave;
	ferry_inbox_state state;        /* set by ferry_inbox_plan */
	uint64_t waits_for;             /* FERRY_INBOX_WAIT_SEQUENCE: which */
} ferry_inbox_bundle;

/** Can a complete bundle go to ferry_import when its channel is at
 *  `current`: a full bundle, one whose base is in, or one the import
 *  will skip (at or below `current`)? */
int ferry_inbox_in_order(const ferry_inbox_bundle *b, uint64_t current);

/**
 * Sort `b` by channel and sequence and set each one's state, assuming the
 * ready ones import: `channel_sequence` gives a channel's current
 * sequence (0 when none). Returns 0 or the callback's error.
 */
int ferry_inbox_plan(ferry_inbox_bundle *b, size_t n,
		     int (*channel_sequence)(uint64_t *out, const char *channel,
					     void *payload),
		     void *payload);

#endif
