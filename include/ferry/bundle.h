/*
 * libferry-bundle: signing keys and verification of ferry bundles.
 *
 * A bundle is a pax tar whose first member is a DSSE envelope around an
 * in-toto Statement (the manifest) that lists every other member with its
 * size and sha256; docs/bundle-format.md is the normative specification.
 * This header is the part other programs need to check bundles: load the
 * trusted keys, then call ferry_bundle_verify_file(). The library that
 * implements it (libferry-bundle, pkg-config ferry-bundle) holds no
 * network or git code.
 */
#ifndef FERRY_BUNDLE_H
#define FERRY_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An Ed25519 public key in minisign's format. */
typedef struct ferry_pubkey ferry_pubkey;
/** An Ed25519 secret key in minisign's (unencrypted) format. */
typedef struct ferry_key ferry_key;

/**
 * Generate a key pair and write `<prefix>.pub` (mode 0644) and
 * `<prefix>.key` (mode 0600), both readable by stock minisign.
 * FERRY_EEXISTS when either file exists and `force` is 0.
 */
int ferry_key_generate(const char *prefix, int force);

/** Load a minisign public key file. Free with ferry_pubkey_free(). */
int ferry_pubkey_load(ferry_pubkey **out, const char *path);
void ferry_pubkey_free(ferry_pubkey *key);
/** The key id as minisign prints it (16 upper-case hex digits); borrowed. */
const char *ferry_pubkey_id(const ferry_pubkey *key);

/** Decode a public key from the base64 line of a .pub file. */
int ferry_pubkey_from_base64(ferry_pubkey **out, const char *b64);
/** Append the base64 line of a .pub file for `key` to a NUL-terminated
 *  string buffer of at least 64 bytes. */
void ferry_pubkey_to_base64(char out[64], const ferry_pubkey *key);

/** Load a secret key file (held in guarded memory). */
int ferry_key_load(ferry_key **out, const char *path);
void ferry_key_free(ferry_key *key);
/** The public half of a secret key; borrowed, valid while `key` lives. */
const ferry_pubkey *ferry_key_public(const ferry_key *key);

/** Who must have signed: `threshold` distinct keys among `keys`. */
typedef struct {
	const ferry_pubkey *const *keys;
	size_t nkeys;
	unsigned threshold;
} ferry_trust;

/** The most signatures an envelope may carry, and so the most signers. */
#define FERRY_BUNDLE_MAX_SIGNERS 64

/** What ferry_bundle_verify_file() learnt about a bundle file. */
typedef struct {
	char id[65];             /**< bundle id: sha256 (hex) of the signed
				      manifest; "" when the manifest did not verify */
	char channel[65];        /**< the bundle's channel */
	uint64_t sequence;       /**< its sequence number on the channel */
	uint64_t base_sequence;  /**< 0 for a full bundle, else the sequence an
				      incremental bundle builds on */
	int64_t created;         /**< creation time, seconds since the epoch */
	int64_t expires;         /**< expiry time, seconds since the epoch */
	size_t volume;           /**< which volume this file is, 0-based */
	size_t nvolumes;         /**< how many volumes the bundle has */
	size_t nmembers;         /**< members listed, over all volumes */
	uint64_t bytes;          /**< size of the file */
	size_t nsigners;         /**< distinct trusted keys that signed */
	char signers[FERRY_BUNDLE_MAX_SIGNERS][17];  /**< their key ids */
} ferry_bundle_verify_result;

/**
 * Verify one bundle file, or one volume of a split bundle, completely:
 * the signed manifest against `trust` (at least `trust->threshold`
 * distinct keys among `trust->keys`), its expiry against the clock, then
 * every member's size and sha256 as it streams, the order and shape of
 * every tar entry, and that nothing follows the end of the archive. Memory
 * use does not depend on the size of the file. A volume verifies on its
 * own; whether all volumes of a bundle are present is the caller's check
 * (compare `id` and `nvolumes` across files).
 *
 * `out` is caller-owned and holds no pointers; it is cleared first and,
 * on failure, still describes the bundle when its manifest verified (`id`
 * is "" otherwise). The message of any failure is ferry_error_last(),
 * naming the file, the member or the key.
 *
 * Returns 0 when the file verified, or:
 *   FERRY_EVERIFY      a signature, the threshold or the expiry check failed
 *   FERRY_ECORRUPT     a member does not match its size or digest, or the
 *                      file is truncated
 *   FERRY_EINVALID     not a bundle, a member unlisted, duplicate, out of
 *                      order or not a plain file; or `trust` is NULL, empty
 *                      or its threshold is 0 or above its keys
 *   FERRY_ETOOBIG, FERRY_EUNSUPPORTED  a limit exceeded, an unknown version
 *   FERRY_ENOTFOUND, FERRY_EIO         the file cannot be read
 */
int ferry_bundle_verify_file(ferry_bundle_verify_result *out, const char *path,
			     const ferry_trust *trust);

#ifdef __cplusplus
}
#endif
#endif
