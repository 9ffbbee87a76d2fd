/*
 * A map of git object ids to a few flag bits: the set of objects a walk has
 * seen (import's checks, the fsck of a repository) or what an export knows
 * of each object. Open addressing with linear probing over one array of
 * 21-byte slots, grown at three quarters full; ids are uniform, so their
 * first bytes are the hash.
 */
#ifndef FERRY_CORE_GIT_OIDMAP_H
#define FERRY_CORE_GIT_OIDMAP_H

#include <stddef.h>

#include <git2/oid.h>

#define FERRY_OIDMAP_USED 0x80u   /* the slot holds an id; the caller's bits are 0x7f */

typedef struct {
	unsigned char id[GIT_OID_RAWSZ];
	unsigned char flags;
} ferry_oidmap_slot;

typedef struct {
	ferry_oidmap_slot *slots;
	size_t cap, n;   /* cap: 0 or a power of two */
} ferry_oidmap;

#define FERRY_OIDMAP_INIT { NULL, 0, 0 }

/**
 * The slot of `id` in *out (when `out` is not NULL), added with no caller
 * bits when it was missing. 1 when added, 0 when present, FERRY_ENOMEM. A
 * slot pointer is valid until the next add.
 */
int ferry_oidmap_add(ferry_oidmap_slot **out, ferry_oidmap *m, const git_oid *id);

/** The slot of `id`, or NULL. */
ferry_oidmap_slot *ferry_oidmap_get(const ferry_oidmap *m, const git_oid *id);

void ferry_oidmap_dispose(ferry_oidmap *m);

#endif
