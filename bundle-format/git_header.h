/*
 * The header of a git bundle file, the codec both sides of the gap use:
 * the exporter writes it in front of each repository's pack, the importer
 * parses it before it indexes the pack. git's bundle format
 * (gitformat-bundle(5)):
 *
 *   "# v2 git bundle\n"                     or "# v3 git bundle\n" followed
 *                                           by "@<capability>\n" lines
 *   "-<oid>[ <comment>]\n"                  a prerequisite, per commit
 *   "<oid> <refname>\n"                     a ref, per ref (and HEAD)
 *   "\n"                                    then the pack
 *
 * ferry writes v2 and reads v2 and v3 with the one capability
 * "@object-format=sha1". Object ids are lowercase hex, 40 digits (or 64).
 */
#ifndef FERRY_BUNDLE_GIT_HEADER_H
#define FERRY_BUNDLE_GIT_HEADER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

#define FERRY_GIT_HEADER_V2 "# v2 git bundle"
#define FERRY_GIT_HEADER_V3 "# v3 git bundle"
/** The one v3 capability accepted. */
#define FERRY_GIT_HEADER_SHA1 "@object-format=sha1"
/** The largest header read or written, in bytes. */
#define FERRY_GIT_HEADER_MAX (16u << 20)

typedef struct {
	char *oid;      /* hex */
	char *comment;  /* NULL when none (the commit's summary, as git writes) */
} ferry_git_header_prereq;

typedef struct {
	char *oid;      /* hex */
	char *name;     /* "refs/heads/main", or "HEAD" */
} ferry_git_header_ref;

typedef struct {
	unsigned version;                 /* 2 or 3 */
	ferry_git_header_prereq *prereqs;
	size_t nprereqs;
	ferry_git_header_ref *refs;
	size_t nrefs;
	uint64_t pack_offset;             /* header size: where the pack starts */
} ferry_git_header;

/** An empty v2 header. Release with ferry_git_header_dispose(). */
void ferry_git_header_init(ferry_git_header *h);
/** Free what `h` holds and leave it empty; the struct itself is the caller's. */
void ferry_git_header_dispose(ferry_git_header *h);

/**
 * Add a prerequisite commit, copied. `comment` may be NULL; line breaks in
 * it become spaces. FERRY_EINVALID when `oid` is not an object id.
 */
int ferry_git_header_add_prereq(ferry_git_header *h, const char *oid,
				const char *comment);
/**
 * Add a ref, copied. FERRY_EINVALID when `oid` is not an object id or
 * `name` is empty or holds a control character.
 */
int ferry_git_header_add_ref(ferry_git_header *h, const char *oid, const char *name);

/**
 * Append the v2 header (signature, prerequisites, refs, blank line) to
 * `out`. FERRY_ETOOBIG when it would exceed FERRY_GIT_HEADER_MAX.
 */
int ferry_git_header_write(ferry_buf *out, const ferry_git_header *h);

/**
 * Parse a header from the first `len` bytes of a git bundle file (more
 * bytes may follow: the pack). *out is initialised here and owned by the
 * caller on success; on failure it is left empty. Stops at the first bad
 * line: FERRY_EINVALID (not a v2/v3 bundle, a malformed prerequisite or ref
 * line, no blank line before the pack), FERRY_EUNSUPPORTED (a capability
 * other than sha1), FERRY_ETOOBIG (no end within FERRY_GIT_HEADER_MAX).
 */
int ferry_git_header_parse(ferry_git_header *out, const void *data, size_t len);

/**
 * The same, reading from `f` at its current position, at most
 * FERRY_GIT_HEADER_MAX bytes; `f` is left after the header. Also
 * FERRY_EIO when reading fails.
 */
int ferry_git_header_read(ferry_git_header *out, FILE *f);

#endif
