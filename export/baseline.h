/*
 * Re-basing a channel on a receipt from the enclave (where policy allows a
 * return path): the receipt, signed with the enclave's key, lists what the
 * store holds. Recorded in the export state as held as of the channel's
 * sequence in the receipt, it makes the next incremental bundle carry
 * exactly what the enclave lacks, even when bundles were lost on the way.
 * The receipt format is bundle-format/payload.h (docs/man/ferry-receipt.md).
 */
#ifndef FERRY_EXPORT_BASELINE_H
#define FERRY_EXPORT_BASELINE_H

#include <stdint.h>

#include <jansson.h>

#include "ferry/bundle.h"
#include "export_state.h"
#include "payload.h"


/** A receipt's inventory as ferry_export_receipt_parse reads it. */
typedef struct {
	uint64_t sequence;          /* the channel's sequence the enclave holds, or 0 */
	const char **digests;       /* every blob's sha256 hex (borrowed from doc) */
	size_t ndigests;
	ferry_sent_ref *refs;       /* every ref of every repository (borrowed from doc) */
	size_t nrefs;
	json_t *doc;                /* the document the strings belong to */
} ferry_export_receipt;

/**
 * Read a receipt's document (the envelope's payload, `len` bytes, not
 * verified here) for `channel`. FERRY_EINVALID when it is malformed or
 * names a sequence above `last_sent`, FERRY_EUNSUPPORTED for another
 * "_type". On success release *out with ferry_export_receipt_dispose();
 * on failure there is nothing to release.
 */
int ferry_export_receipt_parse(ferry_export_receipt *out, const void *payload, size_t len,
			       const char *channel, uint64_t last_sent);
void ferry_export_receipt_dispose(ferry_export_receipt *r);

/**
 * Verify the receipt at `path` against `trust` (the enclave's keys) and
 * record its inventory for `channel`. *sequence is the channel's sequence
 * the enclave holds (0 when it has imported none of this channel).
 * FERRY_EVERIFY when the signature does not verify, FERRY_EINVALID when
 * the receipt is malformed or names a sequence this exporter never sent.
 */
int ferry_export_baseline(uint64_t *sequence, ferry_export_state *st,
			  const char *channel, uint64_t last_sent, const char *path,
			  const ferry_trust *trust);

#endif
