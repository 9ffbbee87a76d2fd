/*
 * libferry-bundle: signing keys and verification of ferry bundles.
 *
 * A bundle is a pax tar whose first member is a DSSE envelope around an
 * in-toto Statement (the manifest) that lists every other member with its
 * size and sha256; docs/bundle-format.md is the normative specification.
 * This header is the part other programs need to check bundles.
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

#ifdef __cplusplus
}
#endif
#endif
