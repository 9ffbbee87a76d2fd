/*
 * The store's trust root. Version 1 is installed by the operator (`ferry
 * trust init`). A new root is accepted only when it is exactly one version
 * higher and signed by a threshold of the current keys AND a threshold of
 * its own keys; revoking a key is a rotation that leaves it out. The root
 * itself (struct, JSON, file) is bundle-format/trust_root.h.
 */
#ifndef FERRY_IMPORT_TRUST_H
#define FERRY_IMPORT_TRUST_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/bundle.h"
#include "buf.h"
#include "store.h"
#include "trust_root.h"

/** The installed root with the highest version; FERRY_ENOTFOUND if none. */
int ferry_trust_current(ferry_trust_root **out, ferry_store *st);
/** Install version 1; FERRY_EEXISTS if the store has a root. */
int ferry_trust_init(ferry_store *st, const ferry_trust_root *root);
/**
 * Check a root file against the current root without installing it; *next
 * is the root it carries. Same failures as ferry_trust_rotate().
 */
int ferry_trust_check_rotation(ferry_trust_root **next, ferry_store *st,
			       const void *file, size_t len, int64_t now);
/** Install a root checked by ferry_trust_check_rotation(). */
int ferry_trust_install(ferry_store *st, const ferry_trust_root *root);

/**
 * Verify a root file against the current root and install it.
 * FERRY_EVERIFY naming the failure (version not exactly one higher, a
 * threshold of old or new keys not met, expired).
 */
int ferry_trust_rotate(ferry_trust_root **installed, ferry_store *st,
		       const void *file, size_t len, int64_t now);

#endif
