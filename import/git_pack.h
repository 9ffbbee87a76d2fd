/*
 * Size limits on the objects of a git pack, checked as the pack streams in,
 * before libgit2 indexes it. A pack entry's header states the inflated size
 * of a whole object; a delta's data starts with the base size and the result
 * size, so inflating the first bytes of each delta tells what it builds
 * without building it. A small pack whose deltas expand to hundreds of
 * megabytes (a "delta bomb") is refused here, with the memory the check
 * itself needs bounded by a fixed scratch buffer.
 */
#ifndef FERRY_IMPORT_GIT_PACK_H
#define FERRY_IMPORT_GIT_PACK_H

#include <stddef.h>
#include <stdint.h>

/* Defaults: a single object (blob, tree, commit, tag, or what a delta
 * builds) and all the objects of one pack together, inflated. */
#define FERRY_GIT_PACK_OBJECT_MAX ((uint64_t)256 << 20)
#define FERRY_GIT_PACK_TOTAL_MAX ((uint64_t)64 << 30)
/* More objects than any repository we know of holds (Linux: ~10M). */
#define FERRY_GIT_PACK_COUNT_MAX ((uint64_t)1 << 26)

typedef struct {
	uint64_t max_object;    /* 0: FERRY_GIT_PACK_OBJECT_MAX */
	uint64_t max_total;     /* 0: FERRY_GIT_PACK_TOTAL_MAX; UINT64_MAX: none */
} ferry_git_pack_limits;

#define FERRY_GIT_PACK_LIMITS_INIT { 0, 0 }

typedef struct ferry_git_pack_scan ferry_git_pack_scan;

/**
 * A scanner for one pack (starting at its "PACK" signature) under
 * `limits` (NULL: the defaults). *out is owned by the caller and freed
 * with ferry_git_pack_scan_free. FERRY_ENOMEM.
 */
int ferry_git_pack_scan_new(ferry_git_pack_scan **out, const ferry_git_pack_limits *limits);

/**
 * Feed the next `len` bytes of the pack. Returns FERRY_ETOOBIG when an
 * object (or the sum of them) exceeds a limit, FERRY_EINVALID when the
 * entry headers are malformed; the message names the entry (its number
 * and offset in the pack, and for a delta its base) and the sizes. After
 * an error every later call returns it again.
 */
int ferry_git_pack_scan_feed(ferry_git_pack_scan *s, const void *data, size_t len);

/** After the last byte: FERRY_EINVALID when the pack ended inside an entry. */
int ferry_git_pack_scan_finish(ferry_git_pack_scan *s);

/** The number of objects and their total inflated size seen so far. */
void ferry_git_pack_scan_totals(const ferry_git_pack_scan *s, uint64_t *objects,
				uint64_t *inflated);

void ferry_git_pack_scan_free(ferry_git_pack_scan *s);

#endif
