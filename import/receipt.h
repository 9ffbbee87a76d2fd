/*
 * Receipts: a signed inventory of what a store holds (per channel the last
 * sequence and bundle; every blob; every repository's refs), signed with
 * the enclave's own key. Where policy allows a return path, the connected
 * side re-bases a channel's export state on it (ferry export --baseline),
 * so the next incremental bundle carries exactly what the enclave lacks.
 *
 * The receipt's envelope and document are bundle-format/payload.h.
 */
#ifndef FERRY_IMPORT_RECEIPT_H
#define FERRY_IMPORT_RECEIPT_H

#include "ferry/bundle.h"
#include "buf.h"
#include "payload.h"
#include "store.h"

/** Write the store's receipt, signed by `key`, to `out`. */
int ferry_receipt_make(ferry_buf *out, ferry_store *st, const ferry_key *key,
		       int64_t now);

#endif
