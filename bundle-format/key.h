/*
 * Internal view of keys: raw Ed25519 material and minisign key numbers.
 */
#ifndef FERRY_BUNDLE_KEY_H
#define FERRY_BUNDLE_KEY_H

#include <stddef.h>

#include "ferry/bundle.h"

#define FERRY_KEYNUM_BYTES 8
#define FERRY_KEYID_LEN 16

struct ferry_pubkey {
	unsigned char keynum[FERRY_KEYNUM_BYTES];
	unsigned char pk[32];
	char id[FERRY_KEYID_LEN + 1];
};

struct ferry_key {
	ferry_pubkey pub;
	unsigned char *sk; /* 64 bytes of sodium_malloc memory */
};

/** Ed25519-sign `len` bytes into `sig` (64 bytes). */
int ferry_key__sign(unsigned char sig[64], const ferry_key *key,
		    const void *data, size_t len);
/** 0 when `sig` is a valid signature of `data` by `key`. */
int ferry_pubkey__verify(const ferry_pubkey *key, const unsigned char sig[64],
			 const void *data, size_t len);
/** Format a key number the way minisign prints it. */
void ferry_keynum__format(char out[FERRY_KEYID_LEN + 1],
			  const unsigned char keynum[FERRY_KEYNUM_BYTES]);

#endif
