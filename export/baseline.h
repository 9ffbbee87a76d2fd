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

#include "ferry/bundle.h"
#include "export_state.h"
#include "payload.h"


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
