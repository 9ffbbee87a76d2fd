/*
 * Detached signatures in minisign's pre-hashed ("ED") format: an Ed25519
 * signature of the file's BLAKE2b-512 hash, plus a signed trusted comment.
 * Stock `minisign -Vm FILE -p KEY.pub` checks them.
 */
#ifndef FERRY_BUNDLE_MINISIG_H
#define FERRY_BUNDLE_MINISIG_H

#include <stdint.h>

#include "ferry/bundle.h"

#define FERRY_MINISIG_HASH_BYTES 64

/**
 * Write `sig_path` (atomically) signing a file whose BLAKE2b-512 hash is
 * `hash`. `trusted_comment` must be one line.
 */
int ferry_minisig_write(const char *sig_path, const ferry_key *key,
			const unsigned char hash[FERRY_MINISIG_HASH_BYTES],
			const char *trusted_comment);
/** The text ferry_minisig_write writes, appended to `text`. */
int ferry_minisig_text(ferry_buf *text, const ferry_key *key,
		       const unsigned char hash[FERRY_MINISIG_HASH_BYTES],
		       const char *trusted_comment);

/**
 * Hash the file at `path` in one read: its BLAKE2b-512 hash (what a
 * minisign signature signs) into `hash`, and when `sha256_hex` is not NULL
 * its SHA-256 in hex (what a checksum sidecar holds). FERRY_EIO when the
 * file cannot be read.
 */
int ferry_minisig_hash_file(unsigned char hash[FERRY_MINISIG_HASH_BYTES],
			    char *sha256_hex, const char *path);

/**
 * Check the detached signature `sig_path` (minisign's pre-hashed format)
 * of a file whose BLAKE2b-512 hash is `hash`: made by one of `trust`'s
 * keys, over this hash, with its trusted comment signed too.
 * FERRY_EVERIFY when the signature is by no trusted key or does not
 * match, FERRY_EINVALID when the file is not a minisign signature,
 * FERRY_EIO/FERRY_ENOTFOUND when it cannot be read.
 */
int ferry_minisig_verify(const char *sig_path,
			 const unsigned char hash[FERRY_MINISIG_HASH_BYTES],
			 const ferry_trust *trust);

/**
 * Sign the file at `path` (its BLAKE2b-512 hash, read in one pass) into
 * `sig_path` as ferry_minisig_write() does: for files written by others,
 * such as a kit's SHA256SUMS. FERRY_ENOTFOUND, FERRY_EIO, FERRY_EINVALID.
 */
int ferry_minisig_sign_file(const char *sig_path, const ferry_key *key, const char *path,
			    const char *trusted_comment);

#endif
