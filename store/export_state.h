/*
 * Export state: what each channel has been sent, kept in SQLite on the
 * connected side (WAL, synchronous=FULL). A sequence number is taken for
 * a bundle and recorded only once the bundle is completely written.
 */
#ifndef FERRY_STORE_EXPORT_STATE_H
#define FERRY_STORE_EXPORT_STATE_H

#include <stdint.h>

#include "hash.h"

typedef struct ferry_export_state ferry_export_state;

/** Open (creating it and its directory if needed) the state database, and
 *  hold it for this export: FERRY_EEXISTS while another export holds it. */
int ferry_export_state_open(ferry_export_state **out, const char *path);
void ferry_export_state_close(ferry_export_state *st);

/** The last sequence recorded for `channel` (0 when none). */
int ferry_export_state_last_sequence(uint64_t *out, ferry_export_state *st,
				     const char *channel);

/** A git ref tip as sent on a channel. */
typedef struct {
	const char *repo;    /* repository name in the bundle */
	const char *ref;     /* "refs/heads/main" */
	const char *commit;  /* hex object id */
} ferry_sent_ref;

/** An image binding as a channel holds it. */
typedef struct {
	const char *reference;
	const char *digest;   /* "sha256:<hex>" */
} ferry_sent_image;

/** What one written bundle carried, recorded in one transaction. */
typedef struct {
	const char *channel;
	uint64_t sequence;
	const char *bundle_id;
	int64_t created;
	const char *files;            /* newline-separated paths */
	const char *const *blobs;     /* sha256 hex of every blob the bundle carries */
	size_t nblobs;
	const ferry_sent_ref *refs;   /* every ref of every repository exported, as
					 the receiver holds them after this bundle */
	size_t nrefs;
	const char *fingerprint;      /* the content's fingerprint (hex), or NULL */
	const ferry_sent_image *images; /* every binding of the channel after this
					   bundle, in strcmp order of the
					   references; NULL: not recorded */
	size_t nimages;
} ferry_export_record;

/** The newest bundle written on a channel. */
typedef struct {
	uint64_t sequence;            /* 0: none yet */
	int64_t created;
	char fingerprint[FERRY_SHA256_HEX_LEN + 1];   /* "" when not recorded */
} ferry_export_last;

/** The channel's newest bundle into *out (zeroed when there is none). */
int ferry_export_state_last(ferry_export_last *out, ferry_export_state *st,
			    const char *channel);

/** Record a written bundle; FERRY_EEXISTS if the sequence is taken. */
int ferry_export_state_record(ferry_export_state *st, const ferry_export_record *rec);

/**
 * Is blob `hex` held by a receiver that imported the channel's bundles up
 * to and including `upto` (UINT64_MAX: all)? Sets *out to 1 or 0.
 */
int ferry_export_state_blob_sent(int *out, ferry_export_state *st,
				 const char *channel, uint64_t upto,
				 const char *hex);

/**
 * Call `fn` for each ref of repository `repo` as the receiver holds it after
 * the newest bundle at or before `upto` that carried the repository.
 * Nothing is called when the repository was never sent.
 */
int ferry_export_state_refs(ferry_export_state *st, const char *channel,
			    uint64_t upto, const char *repo,
			    int (*fn)(const char *ref, const char *commit, void *payload),
			    void *payload);

/**
 * Record that the receiver holds `blobs` and, for each repository named in
 * `refs`, exactly those refs, as of `sequence` of `channel` (a baseline from
 * a receipt). Blobs assumed held up to that sequence are forgotten first,
 * and what was recorded for those repositories at that sequence replaced.
 */
int ferry_export_state_rebase(ferry_export_state *st, const char *channel,
			      uint64_t sequence, const char *const *blobs, size_t nblobs,
			      const ferry_sent_ref *refs, size_t nrefs);

/**
 * The image bindings of `channel` after bundle `upto`, in strcmp order of
 * the references, each to `fn`. *known is 0 (and nothing is called) when
 * the state does not record them: the bundle was written before it did.
 */
int ferry_export_state_images(int *known, ferry_export_state *st, const char *channel,
			      uint64_t upto,
			      int (*fn)(const char *reference, const char *digest,
					void *payload),
			      void *payload);

/**
 * Bundle `bundle_id`, sequence `sequence` of `channel`, is being named in
 * `dir`: files of it found there by a later export, while the sequence is
 * still not recorded (ferry_export_state_record clears this), were left by
 * an export killed between naming and recording them. (Exports of one
 * state run one at a time: ferry_export_state_open holds a lock.)
 */
int ferry_export_state_pending_set(ferry_export_state *st, const char *channel,
				   uint64_t sequence, const char *dir, const char *bundle_id);
/** The bundle id set for that channel, sequence and directory, or "". */
int ferry_export_state_pending(char id[FERRY_SHA256_HEX_LEN + 1], ferry_export_state *st,
			       const char *channel, uint64_t sequence, const char *dir);

/** The default path: $FERRY_STATE_DIR, $XDG_STATE_HOME/ferry or
 *  ~/.local/state/ferry, + "/export.db". Caller frees. */
char *ferry_export_state_default_path(void);

#endif
