/*
 * The mirror's view of the store: the tags of the store's OCI layout view
 * (STORE/index.json, which an import replaces atomically only after its
 * blobs are in place), kept in memory and reloaded when the file changes,
 * so a request sees the old or the new set of tags and never a half state.
 * Each snapshot also knows which blobs each repository's tags reach (the
 * mirror serves content only under those repositories, as a registry
 * does) and the subject each tagged manifest names (for referrers), so a
 * request costs a binary search, never a walk.
 */
#ifndef FERRY_MIRROR_VIEW_H
#define FERRY_MIRROR_VIEW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"

typedef struct {
	char *name;        /* repository: "library/app" */
	char *tag;         /* "v1"; NULL for a reference by digest */
	char digest[FERRY_OCI_DIGEST_SIZE];   /* "sha256:<hex>" */
	char *media_type;
	uint64_t size;
	uint32_t repo;     /* the repository's number: tags of one name share it */
	char subject[FERRY_OCI_DIGEST_SIZE];  /* the manifest's subject, or "" */
} ferry_view_tag;

/** No repository: a size a subject descriptor gives (a subject is not
 *  content of the repository that names it). */
#define FERRY_VIEW_NO_REPO UINT32_MAX

/** A blob reached from the tags of repository `repo`, with the size a
 *  descriptor gives it. */
typedef struct {
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint32_t repo;
	uint64_t size;
} ferry_view_blob;

/** An immutable snapshot; reference-counted so a reload never frees one
 *  that a request still uses. */
typedef struct ferry_view_snapshot {
	ferry_view_tag *tags;   /* sorted by name, then tag (references by digest
				   first) */
	size_t ntags;
	ferry_view_blob *blobs; /* sorted by hex, repo, size; duplicates dropped */
	size_t nblobs;
	int refs;
} ferry_view_snapshot;

typedef struct {
	char *root;
	pthread_mutex_t lock;
	ferry_view_snapshot *current;
	ino_t ino;
	int64_t mtime_ns;
	off_t size;
} ferry_view;

int ferry_view_init(ferry_view *v, const char *store_root);
void ferry_view_dispose(ferry_view *v);
/** The current snapshot (reloaded if the file changed); release it after. */
ferry_view_snapshot *ferry_view_get(ferry_view *v);
void ferry_view_release(ferry_view *v, ferry_view_snapshot *s);
/** Forget the snapshot's file identity so the next get reloads it. */
void ferry_view_invalidate(ferry_view *v);
/** Find `name`:`tag`; NULL when absent. */
const ferry_view_tag *ferry_view_find(const ferry_view_snapshot *s, const char *name,
				      const char *tag);
/**
 * Whether a blob file of `size` bytes may be served as `hex`: 0 when a
 * descriptor reachable from a tag (the tag's own, or one in the manifests
 * and indexes below it) gives `hex` another size, 1 otherwise (also when
 * no descriptor names it). The sizes are read when the snapshot loads.
 */
int ferry_view_size_ok(const ferry_view_snapshot *s, const char *hex, uint64_t size);
/**
 * Nonzero when a tag of repository `name` reaches blob `hex` (the tag's
 * manifest or index, or one below it, or a config or layer of those), or
 * when `name` is a repository and no tag of any repository reaches `hex`
 * (content a moved tag left behind, held until gc): what the mirror may
 * serve under `name`.
 */
int ferry_view_reaches(const ferry_view_snapshot *s, const char *name, const char *hex);
/** Index of the first tag of `name`, or -1. */
long ferry_view_first(const ferry_view_snapshot *s, const char *name);

#endif
