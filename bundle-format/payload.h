/*
 * The payloads ferry signs besides the manifest, each a DSSE envelope
 * (envelope.h) of its own payload type around a JSON document with a
 * "_type". Both sides of the gap read and write them, so they are defined
 * here once.
 *
 * A trust root (docs/trust-root.md), payload type
 * application/vnd.ferry.trust-root+json, around:
 *   {"_type": "urn:ferry:trust-root:v1", "version": 2,
 *    "expires": "2027-11-22T00:00:00Z", "threshold": 2,
 *    "keys": [{"keyid": "A1AE...", "publicKey": "RWQ..."}]}
 * The root as a struct, its JSON and its file are in trust_root.h.
 *
 * A receipt (docs/man/ferry-receipt.md), signed with the enclave's key,
 * payload type application/vnd.ferry.receipt+json, around:
 *   {"_type": "urn:ferry:receipt:v1", "created": "...Z",
 *    "channels": [{"channel": "c", "sequence": 3, "bundle": "<id>"}],
 *    "blobs": ["<hex>", ...],
 *    "repositories": [{"name": "org/app", "refs": [{"name", "commit"}]}]}
 */
#ifndef FERRY_BUNDLE_PAYLOAD_H
#define FERRY_BUNDLE_PAYLOAD_H

#define FERRY_TRUST_ROOT_PAYLOAD_TYPE "application/vnd.ferry.trust-root+json"
#define FERRY_TRUST_ROOT_TYPE "urn:ferry:trust-root:v1"
/** The largest trust root file read. */
#define FERRY_TRUST_ROOT_MAX_SIZE (1u << 20)
/** The most keys a trust root lists. */
#define FERRY_TRUST_MAX_KEYS 64

#define FERRY_RECEIPT_PAYLOAD_TYPE "application/vnd.ferry.receipt+json"
#define FERRY_RECEIPT_TYPE "urn:ferry:receipt:v1"
/** The largest receipt file read. */
#define FERRY_RECEIPT_MAX_SIZE (256u << 20)

#endif
