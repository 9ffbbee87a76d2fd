/*
 * The bundle manifest: an in-toto Statement whose predicate lists every
 * member of the bundle (path, size, sha256), how members are laid out over
 * volumes, the channel and sequence, creation and expiry times, and the
 * content bindings (image reference -> digest). See docs/bundle-format.md.
 */
#ifndef FERRY_BUNDLE_MANIFEST_H
#define FERRY_BUNDLE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hash.h"
#include "members.h"

/* Format 2 moves the member list, the image bindings and the prerequisites
 * out of the envelope into the contents entry (contents.h); format 1 keeps
 * them in the envelope. Both are read; ferry writes format 2. */
#define FERRY_BUNDLE_FORMAT_VERSION 2
#define FERRY_BUNDLE_FORMAT_V1 1
#define FERRY_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define FERRY_PREDICATE_PREFIX "urn:ferry:bundle:"
#define FERRY_PREDICATE_TYPE "urn:ferry:bundle:v2"
#define FERRY_PREDICATE_TYPE_V1 "urn:ferry:bundle:v1"

/* Limits on untrusted manifests. */
#define FERRY_MANIFEST_MAX_SIZE (16u << 20)
#define FERRY_CONTENTS_MAX_SIZE (256u << 20)
#define FERRY_CONTENTS_LINE_MAX 4096
#define FERRY_MANIFEST_MAX_MEMBERS 200000
#define FERRY_MANIFEST_MAX_IMAGES 200000
#define FERRY_MANIFEST_MAX_VOLUMES 10000
#define FERRY_PATH_MAX 255
#define FERRY_CHANNEL_MAX 64

typedef struct {
	char *path;
	uint64_t size;
	char sha256[FERRY_SHA256_HEX_LEN + 1];
} ferry_member;

/** One tar entry of one volume: a whole member or a piece of one. */
typedef struct {
	char *path;     /* entry name in the tar: the member's own (borrowed)
			   when whole */
	size_t member;  /* index into members */
	uint64_t offset;
	uint64_t size;
	char *sha256;   /* a piece's digest (hex); NULL when whole: the
			   member's (ferry_part_sha256 gives either) */
	int whole;      /* the entry is the whole member */
} ferry_part;

typedef struct {
	ferry_part *parts;
	size_t nparts;
} ferry_volume;

/** A content binding: an image or chart reference and its digest. */
typedef struct {
	char *reference;  /* "name:tag" or "name@sha256:..." */
	char *digest;     /* "sha256:<hex>" */
	char *media_type;
} ferry_image_ref;

/** A git ref as a repository holds it after the bundle. */
typedef struct {
	char *name;     /* "refs/heads/main", "refs/tags/v1" */
	char *commit;   /* hex object id (40, or 64 for SHA-256 repositories) */
	int forced;     /* not a fast-forward of the base: history was rewritten */
} ferry_git_ref;

/** A git repository the bundle carries. */
typedef struct {
	char *name;             /* "org/app" */
	char *bundle;           /* "sha256:<hex>" of its git bundle member; NULL
				   when no new objects are needed */
	ferry_git_ref *refs;    /* every ref after this bundle */
	size_t nrefs;
	char **deleted;         /* refs removed since the base */
	size_t ndeleted;
	char **prerequisites;   /* commits the receiver must already hold */
	size_t nprerequisites;
} ferry_git_repo;

/** Where content came from on the connected side (informative). */
typedef struct {
	char *kind;      /* "oci-layout", ... */
	char *name;      /* repository name its references use */
	char *location;  /* as written in the export spec */
} ferry_source_info;

typedef struct {
	unsigned version;
	char *channel;
	uint64_t sequence;
	uint64_t base_sequence;  /* 0 for a full bundle */
	int64_t created;
	int64_t expires;
	ferry_member *members;
	size_t nmembers;
	ferry_volume *volumes;   /* always >= 1 */
	size_t nvolumes;
	ferry_image_ref *images;
	size_t nimages;
	char **prereq_blobs;     /* "sha256:<hex>" the receiver must hold */
	size_t nprereq_blobs;
	ferry_source_info *sources;
	size_t nsources;
	ferry_git_repo *repos;
	size_t nrepos;
	/* Format 2. The images are the channel's whole binding state
	 * (bindings_all, always so in a full bundle) or the bindings added or
	 * moved since the base, with `removed` the references the base bound
	 * and this bundle no longer does. state_* name the channel's bindings
	 * after this bundle (ferry_binding_state); a writer leaves them unset
	 * when bindings_all, and they are computed from `images`. */
	int bindings_all;
	char **removed;
	size_t nremoved;
	size_t state_images;
	char state_sha256[FERRY_SHA256_HEX_LEN + 1];
	/* Format 2: the contents entry's size and digest, as the envelope
	 * states them; contents_pending while a reader has not yet read it. */
	uint64_t contents_size;
	char contents_sha256[FERRY_SHA256_HEX_LEN + 1];
	int contents_pending;
	void *pending_volumes;   /* format 2: the envelope's `volumes` (a
				    json_t) until the members are known */
	/* sha256 of the signed payload: the bundle's identity */
	char id[FERRY_SHA256_HEX_LEN + 1];
	/* Member indexes in path order, for ferry_manifest_find; set by the
	 * parser, and valid while nby_path == nmembers. */
	size_t *by_path;
	size_t nby_path;
} ferry_manifest;

int ferry_manifest_new(ferry_manifest **out, const char *channel);
void ferry_manifest_free(ferry_manifest *m);

int ferry_manifest_add_member(ferry_manifest *m, const char *path,
			      uint64_t size, const char *sha256_hex);
int ferry_manifest_add_image(ferry_manifest *m, const char *reference,
			     const char *digest, const char *media_type);
/** Add a reference the base bound and this incremental bundle drops. */
int ferry_manifest_add_removed(ferry_manifest *m, const char *reference);
int ferry_manifest_add_source(ferry_manifest *m, const char *kind,
			      const char *name, const char *location);
/** Add a repository; *out points into m->repos until the next add. */
int ferry_manifest_add_repo(ferry_git_repo **out, ferry_manifest *m,
			    const char *name, const char *bundle_digest);
int ferry_git_repo_add_ref(ferry_git_repo *r, const char *name,
			   const char *commit, int forced);
int ferry_git_repo_add_deleted(ferry_git_repo *r, const char *name);
int ferry_git_repo_add_prerequisite(ferry_git_repo *r, const char *commit);

/** Nonzero for a full ref name git would accept ("refs/..."). */
int ferry_git_ref_name_valid(const char *name);
/** Nonzero for a lowercase hex object id of 40 or 64 digits. */
int ferry_git_oid_valid(const char *hex);
/** Nonzero for a repository name: safe relative path of [A-Za-z0-9._-/]. */
int ferry_git_repo_name_valid(const char *name);

/** Index of the member named `path`, or -1: a binary search in a parsed
 *  manifest, a linear one in a manifest members were added to since. */
long ferry_manifest_find(const ferry_manifest *m, const char *path);

/** Lay the members out as one volume of whole entries. */
int ferry_manifest_single_volume(ferry_manifest *m);
/** Append an entry to volume `v` (creating volumes up to `v`). */
int ferry_manifest_add_part(ferry_manifest *m, size_t v, const ferry_part *p);
/** The digest (hex) of the bytes `p` holds: a piece's own, or its member's. */
const char *ferry_part_sha256(const ferry_manifest *m, const ferry_part *p);
/** Drop all volume layout. */
void ferry_manifest_clear_volumes(ferry_manifest *m);

/** Nonzero when `s` is a valid channel name: 1-64 of [A-Za-z0-9._-], not
 *  starting with a dot. */
int ferry_manifest_channel_valid(const char *s);

/** Nonzero when `s` is a valid image reference for a binding: 1-512
 *  printable ASCII characters, no spaces. */
int ferry_manifest_reference_valid(const char *s);

/**
 * The digest of a channel's binding state: SHA-256 over one line
 * "<reference> <digest>\n" per binding, in strcmp order of the references.
 * Feed the bindings in that order; ferry_binding_state_add refuses one
 * out of order or repeated (FERRY_EINVALID).
 */
typedef struct {
	ferry_sha256 *sha;
	char *last;
	size_t count;
} ferry_binding_state;

int ferry_binding_state_init(ferry_binding_state *s);
int ferry_binding_state_add(ferry_binding_state *s, const char *reference,
			    const char *digest);
int ferry_binding_state_final(ferry_binding_state *s,
			      char hex[FERRY_SHA256_HEX_LEN + 1]);
void ferry_binding_state_dispose(ferry_binding_state *s);

/** The binding state of `images` taken as a whole (any order; references
 *  must be unique). */
int ferry_manifest_images_state(char hex[FERRY_SHA256_HEX_LEN + 1],
				const ferry_manifest *m);

/** Serialise as an in-toto Statement (compact JSON) appended to `out`: in
 *  the format m->version names. Format 2 states m->contents_size and
 *  m->contents_sha256 when set (the writer sets them just before), and
 *  computes them otherwise. */
int ferry_manifest_to_json(ferry_buf *out, const ferry_manifest *m);

/**
 * Parse and validate a Statement. Everything is checked: types, versions,
 * paths, digests, that blob paths match their digests, that volume parts
 * cover each member exactly once, that the subjects match the bindings.
 * FERRY_EINVALID or FERRY_EUNSUPPORTED with a message naming the problem.
 * A format 2 manifest comes back with contents_pending set: its members,
 * bindings, prerequisites and volume layout are complete only once the
 * contents entry has been read into it (contents.h).
 */
int ferry_manifest_parse(ferry_manifest **out, const void *data, size_t len);

/** An incremental bundle's changes: each reference bound once, removed
 *  once, and not both (FERRY_EINVALID naming it). */
int ferry_manifest_check_changes(const ferry_manifest *m);

/* ---- for contents.c ---- */

/** Check a member as a manifest lists it (safe path, not reserved, digest,
 *  a blob named by its digest) and add it. */
int ferry_manifest__member(ferry_manifest *m, const char *path, uint64_t size,
			   const char *sha256_hex);
/** Check an image binding (reference grammar, digest) and add it. */
int ferry_manifest__image(ferry_manifest *m, const char *reference,
			  const char *digest, const char *media_type);
/** Check a prerequisite blob digest and add it. */
int ferry_manifest__prerequisite(ferry_manifest *m, const char *digest);
/** What the members make checkable: unique paths, the volume layout,
 *  the repositories' bundle members. */
int ferry_manifest__complete(ferry_manifest *m);

#endif
