/*
 * What the store holds, as records in ferry.db: channels and their last
 * sequence, the imports that brought each bundle, the blobs, the image and
 * chart tags, the git refs, the trust roots and the audit trail. Import
 * writes them in one transaction per bundle (ferry_store_begin/commit);
 * everyone else reads them.
 *
 * Lists are walked with callbacks: a record's strings are borrowed for the
 * call only. A callback returning non-zero stops the walk, and that value
 * is returned. Single records are copied into owned structures that the
 * caller disposes.
 */
#ifndef FERRY_STORE_CATALOG_H
#define FERRY_STORE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "store.h"
#include "strv.h"

/* ---- channels and imports ------------------------------------------------- */

typedef struct {
	char *name;
	uint64_t sequence;      /* the last sequence accepted */
	char *bundle_id;        /* the bundle of that sequence */
	int64_t created;        /* its creation time */
	int64_t imported;       /* when it was imported (0: unknown) */
} ferry_store_channel;

void ferry_store_channel_dispose(ferry_store_channel *c);
/** The channel's record; FERRY_ENOTFOUND for a channel never imported. */
int ferry_store_channel_get(ferry_store_channel *out, ferry_store *st, const char *name);
/** Set the channel's last sequence, bundle and creation time. */
int ferry_store_channel_set(ferry_store *st, const char *name, uint64_t sequence,
			    const char *bundle_id, int64_t created);
/** Every channel, by name. */
int ferry_store_channel_foreach(ferry_store *st,
				int (*cb)(const ferry_store_channel *c, void *payload),
				void *payload);

typedef struct {
	const char *bundle_id, *channel;
	uint64_t sequence, base_sequence;
	int64_t created, expires, imported;
	const char *signers;    /* key ids, comma-separated */
	const char *files;      /* the bundle's files, newline-separated */
} ferry_store_import;

/** Record an imported bundle. */
int ferry_store_import_add(ferry_store *st, const ferry_store_import *imp);
/** *out nonzero when the bundle `bundle_id` was imported before. */
int ferry_store_import_seen(int *out, ferry_store *st, const char *bundle_id);

/* ---- blobs ---------------------------------------------------------------- */

typedef struct {
	const char *hex;        /* sha256, lowercase hex */
	uint64_t size;
	const char *channel;    /* the first bundle that brought it */
	uint64_t sequence;
} ferry_store_blob;

/** Record a blob (kept as it is when already recorded). */
int ferry_store_blob_add(ferry_store *st, const ferry_store_blob *b);
/** Forget a blob's record (the file is the caller's). */
int ferry_store_blob_forget(ferry_store *st, const char *hex);
/** Every recorded blob, by digest. */
int ferry_store_blob_foreach(ferry_store *st,
			     int (*cb)(const ferry_store_blob *b, void *payload),
			     void *payload);
/** How many blobs are recorded and their total size. */
int ferry_store_blob_totals(uint64_t *count, uint64_t *bytes, ferry_store *st);

/* ---- tags ----------------------------------------------------------------- */

typedef struct {
	char *reference;        /* "name:tag" or "name@sha256:..." */
	char *digest;           /* "sha256:<hex>" */
	char *media_type;
	uint64_t size;
	char *channel;          /* the bundle that set it */
	uint64_t sequence;
	int64_t created;        /* that bundle's creation time (0: unknown) */
} ferry_store_tag;

void ferry_store_tag_dispose(ferry_store_tag *t);
/** The tag `reference`; FERRY_ENOTFOUND when the store has none. */
int ferry_store_tag_get(ferry_store_tag *out, ferry_store *st, const char *reference);
/** Set tag `reference` to `digest`, recording the bundle that set it. */
int ferry_store_tag_set(ferry_store *st, const char *reference, const char *digest,
			const char *media_type, uint64_t size, const char *channel,
			uint64_t sequence);
/*
 * A channel's image bindings as its bundles left them (its state,
 * docs/bundle-format.md section 6.3): what the channel's sender assumes
 * the store holds, whatever tags other channels moved since.
 */
/** Forget every binding of `channel`. */
int ferry_store_channel_images_clear(ferry_store *st, const char *channel);
/** Bind `reference` to `digest` in the state of `channel`. */
int ferry_store_channel_image_set(ferry_store *st, const char *channel,
				  const char *reference, const char *digest);
/** Drop `reference` from the state of `channel`. */
int ferry_store_channel_image_remove(ferry_store *st, const char *channel,
				     const char *reference);
/** Each binding of `channel`, in strcmp order of the references; a
 *  non-zero return of `cb` stops and is returned. */
int ferry_store_channel_images_foreach(ferry_store *st, const char *channel,
				       int (*cb)(const char *reference, const char *digest,
						 void *payload),
				       void *payload);

/** Every tag, by reference. */
int ferry_store_tag_foreach(ferry_store *st,
			    int (*cb)(const ferry_store_tag *t, void *payload),
			    void *payload);

/* ---- git refs --------------------------------------------------------------- */

typedef struct {
	char *repo;             /* "org/app" */
	char *name;             /* "refs/heads/main" */
	char *commit;           /* hex object id */
	char *channel;          /* the bundle that set it */
	uint64_t sequence;
	int64_t created;        /* that bundle's creation time (0: unknown) */
} ferry_store_ref;

void ferry_store_ref_dispose(ferry_store_ref *r);
/** The ref; FERRY_ENOTFOUND when the repository has no such ref. */
int ferry_store_ref_get(ferry_store_ref *out, ferry_store *st, const char *repo,
			const char *name);
/** Set a ref to `commit`, recording the bundle that set it. */
int ferry_store_ref_set(ferry_store *st, const char *repo, const char *name,
			const char *commit, const char *channel, uint64_t sequence);
/** Delete a ref; nothing happens when it does not exist. */
int ferry_store_ref_delete(ferry_store *st, const char *repo, const char *name);
/** The refs of `repo` (every repository: NULL), by repository and name. */
int ferry_store_ref_foreach(ferry_store *st, const char *repo,
			    int (*cb)(const ferry_store_ref *r, void *payload),
			    void *payload);
/** Every repository that has refs, by name. */
int ferry_store_repo_foreach(ferry_store *st,
			     int (*cb)(const char *repo, void *payload), void *payload);
/** The same names, appended to `out`. */
int ferry_store_repo_names(ferry_strv *out, ferry_store *st);

/* ---- provenance: which bundle brought something ---------------------------- */

typedef struct {
	char *bundle_id;        /* NULL when the import record is gone */
	char *channel;
	uint64_t sequence;
} ferry_store_origin;

void ferry_store_origin_dispose(ferry_store_origin *o);
/** The earliest bundle whose refs of `repo` name `commit`; FERRY_ENOTFOUND. */
int ferry_store_ref_origin(ferry_store_origin *out, ferry_store *st, const char *repo,
			   const char *commit);
/** The bundle that brought blob `hex`; FERRY_ENOTFOUND. */
int ferry_store_blob_origin(ferry_store_origin *out, ferry_store *st, const char *hex);

/* ---- trust roots ------------------------------------------------------------ */

/** The installed root file body with the highest version; FERRY_ENOTFOUND. */
int ferry_store_trust_root_latest(ferry_buf *body, ferry_store *st);
/** Install a root body as `version`; FERRY_EEXISTS when that version exists. */
int ferry_store_trust_root_add(ferry_store *st, uint64_t version, const char *body,
			       size_t len);

/* ---- audit ------------------------------------------------------------------ */

typedef struct {
	int64_t time;           /* 0: now */
	const char *event;      /* "import", "verify", "rotation", ... */
	const char *bundle_id, *channel;  /* may be NULL */
	uint64_t sequence;      /* with channel */
	const char *signers;    /* may be NULL */
	const char *outcome;    /* "imported", "rejected", "alarm", ... */
	const char *reason;     /* may be NULL */
} ferry_store_audit_entry;

/** Append an entry to the audit trail. */
int ferry_store_audit_add(ferry_store *st, const ferry_store_audit_entry *e);
/** Append an entry that concerns no bundle (a rotation by hand, say). */
int ferry_store_audit(ferry_store *st, const char *event, const char *outcome,
		      const char *reason);
/**
 * Call `cb` with each entry whose id is above `after`, oldest first, and
 * whose outcome is `outcome` (NULL: any); strings are borrowed for the
 * call. A nonzero return from `cb` stops the walk and is returned.
 */
int ferry_store_audit_foreach(ferry_store *st, int64_t after, const char *outcome,
			      int (*cb)(int64_t id, const ferry_store_audit_entry *e,
					void *payload),
			      void *payload);
/**
 * The JSON line of an entry, as `--audit-log` writes it: time (UTC text),
 * event, outcome, signers, then bundle, channel and sequence when the entry
 * has a channel, and reason when it has one. A new reference; NULL when
 * out of memory.
 */
json_t *ferry_store_audit_json(const ferry_store_audit_entry *e);

/** What an audit query keeps (each NULL or 0: any). */
typedef struct {
	const char *stack;      /* reconcile events only */
	const char *channel;
	const char *outcome;
	int64_t since;          /* Unix seconds: at or after */
} ferry_store_event_filter;

/**
 * Call `cb` with the newest `limit` entries (0: all) that `filter` keeps
 * (NULL: every one; its stack is not looked at), oldest first. A nonzero
 * return from `cb` stops the walk and is returned.
 */
int ferry_store_audit_query(ferry_store *st, const ferry_store_event_filter *filter,
			    size_t limit,
			    int (*cb)(int64_t id, const ferry_store_audit_entry *e,
				      void *payload),
			    void *payload);
/** The id of the newest entry into `*id`, 0 when the trail is empty. */
int ferry_store_audit_last(int64_t *id, ferry_store *st);

#endif
