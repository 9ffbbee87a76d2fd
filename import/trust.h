/*
 * The store's trust root, after TUF's root role: a set of Ed25519 keys, a
 * threshold of them that must sign each bundle, a version and an expiry.
 * Version 1 is installed by the operator (`ferry trust init`). A new root
 * is accepted only when it is exactly one version higher and signed by a
 * threshold of the current keys AND a threshold of its own keys; revoking a
 * key is a rotation that leaves it out.
 *
 * A root file is a DSSE envelope, payload type
 * application/vnd.ferry.trust-root+json, around:
 *   {"_type": "urn:ferry:trust-root:v1", "version": 2,
 *    "expires": "2027-11-22T00:00:00Z", "threshold": 2,
 *    "keys": [{"keyid": "A1AE...", "publicKey": "RWQ..."}]}
 */
#ifndef FERRY_IMPORT_TRUST_H
#define FERRY_IMPORT_TRUST_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/bundle.h"
#include "buf.h"
#include "store.h"

#define FERRY_TRUST_ROOT_PAYLOAD_TYPE "application/vnd.ferry.trust-root+json"
#define FERRY_TRUST_ROOT_TYPE "urn:ferry:trust-root:v1"
#define FERRY_TRUST_ROOT_MAX_SIZE (1u << 20)
#define FERRY_TRUST_MAX_KEYS 64

typedef struct {
	uint64_t version;
	int64_t expires;
	unsigned threshold;
	ferry_pubkey **keys;
	size_t nkeys;
} ferry_trust_root;

/** Build a root from keys; checks threshold <= keys and distinct keys. */
int ferry_trust_root_new(ferry_trust_root **out, uint64_t version, int64_t expires,
			 unsigned threshold, ferry_pubkey *const *keys, size_t nkeys);
void ferry_trust_root_free(ferry_trust_root *r);
int ferry_trust_root_to_json(ferry_buf *out, const ferry_trust_root *r);
int ferry_trust_root_parse(ferry_trust_root **out, const void *json, size_t len);
/** The root as the trust the reader checks bundles against (borrows keys). */
void ferry_trust_root_view(ferry_trust *out, const ferry_trust_root *r);

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

/** The member of a bundle that carries a new trust root. */
#define FERRY_TRUST_ROOT_MEMBER "ferry-trust-root.dsse.json"

/**
 * Verify a root file against the current root and install it.
 * FERRY_EVERIFY naming the failure (version not exactly one higher, a
 * threshold of old or new keys not met, expired).
 */
int ferry_trust_rotate(ferry_trust_root **installed, ferry_store *st,
		       const void *file, size_t len, int64_t now);

/** A root file for `root`, signed by `keys`. */
int ferry_trust_root_file(ferry_buf *out, const ferry_trust_root *root,
			  ferry_key *const *keys, size_t nkeys);

#endif
