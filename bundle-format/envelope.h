/*
 * DSSE envelopes: {"payloadType", "payload" (base64), "signatures":
 * [{"keyid", "sig"}]}, each signature an Ed25519 signature over the
 * pre-authentication encoding PAE(payloadType, payload).
 */
#ifndef FERRY_BUNDLE_ENVELOPE_H
#define FERRY_BUNDLE_ENVELOPE_H

#include <stddef.h>

#include "ferry/bundle.h"
#include "buf.h"

#define FERRY_ENVELOPE_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define FERRY_ENVELOPE_MAX_SIGNATURES FERRY_BUNDLE_MAX_SIGNERS

/** Sign `payload` with every key (distinct keys only) into envelope JSON. */
int ferry_envelope_sign(ferry_buf *out, const void *payload, size_t len,
			ferry_key *const *keys, size_t nkeys);
/** The same with another payload type. */
int ferry_envelope_sign_type(ferry_buf *out, const char *payload_type,
			     const void *payload, size_t len,
			     ferry_key *const *keys, size_t nkeys);
/**
 * Add `key`'s signature to an existing envelope of `payload_type` (its
 * existing signatures are kept unchecked). FERRY_EEXISTS when `key` has
 * signed already.
 */
int ferry_envelope_add_signature(ferry_buf *out, const void *data, size_t len,
				 const char *payload_type, const ferry_key *key);

/** What opening an envelope found. */
typedef struct {
	size_t nsigners;                                  /* verified keys */
	char signers[FERRY_ENVELOPE_MAX_SIGNATURES][17];  /* their key ids */
	size_t nsignatures;                               /* as listed */
	char listed[FERRY_ENVELOPE_MAX_SIGNATURES][17];   /* key ids listed */
} ferry_envelope_info;

/**
 * Check an envelope: its shape, its payload type, then each signature whose
 * key id is trusted, then the threshold of distinct trusted keys. The
 * decoded payload is appended to `payload` only when all checks pass.
 * With `trust` NULL nothing is verified (for display only).
 *
 * Returns FERRY_EINVALID (malformed), FERRY_EUNSUPPORTED (unknown payload
 * type) or FERRY_EVERIFY (a bad signature or the threshold not met).
 */
int ferry_envelope_open(ferry_buf *payload, ferry_envelope_info *info,
			const void *data, size_t len, const ferry_trust *trust);
/** The same for envelopes of another payload type. */
int ferry_envelope_open_type(ferry_buf *payload, ferry_envelope_info *info,
			     const void *data, size_t len, const ferry_trust *trust,
			     const char *payload_type);

#endif
