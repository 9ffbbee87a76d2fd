/*
 * Receipts: a signed inventory of what a store holds (per channel the last
 * sequence and bundle; every blob; every repository's refs), signed with
 * the enclave's own key. Where policy allows a return path, the connected
 * side re-bases a channel's export state on it (ferry export --baseline),
 * so the next incremental bundle carries exactly what the enclave lacks.
 *
 * A receipt is a DSSE envelope, payload type
 * application/vnd.ferry.receipt+json, around:
 *   {"_type": "urn:ferry:receipt:v1", "created": "...Z",
 *    "channels": [{"channel": "c", "sequence": 3, "bundle": "<id>"}],
 *    "blobs": ["<hex>", ...],
 *    "repositories": [{"name": "org/app", "refs": [{"name", "commit"}]}]}
 */
#ifndef FERRY_IMPORT_RECEIPT_H
#define FERRY_IMPORT_RECEIPT_H

#include "ferry/bundle.h"
#include "buf.h"
#include "store.h"

#define FERRY_RECEIPT_PAYLOAD_TYPE "application/vnd.ferry.receipt+json"
#define FERRY_RECEIPT_TYPE "urn:ferry:receipt:v1"
#define FERRY_RECEIPT_MAX_SIZE (256u << 20)

/** Write the store's receipt, signed by `key`, to `out`. */
int ferry_receipt_make(ferry_buf *out, ferry_store *st, const ferry_key *key,
		       int64_t now);

#endif
