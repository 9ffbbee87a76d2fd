/*
 * Handing bundles to a transfer agent (a data diode's sender, a sync job,
 * media preparation). The agent watches one flat directory, the outbox, and
 * takes every file it finds there, so a file must appear in it only whole:
 * ferry writes into OUTBOX/.ferry-partial on the same filesystem and
 * renames each file into the outbox once it is complete and synced, data
 * files first, checksum sidecars next, signatures last.
 */
#ifndef FERRY_EXPORT_OUTBOX_H
#define FERRY_EXPORT_OUTBOX_H

#include <stdint.h>

#include "buf.h"
#include "writer.h"

/**
 * Make `outbox` and its staging directory, into `staging`. Files a crashed
 * export left in staging are settled first: those of channel `channel`
 * numbered up to `last` (recorded in the export state, so the enclave may
 * already expect them) are handed over now; any other of the channel's
 * (never recorded) are removed. FERRY_EIO.
 */
int ferry_outbox_prepare(ferry_buf *staging, const char *outbox, const char *channel,
			 uint64_t last);

/** Write "<path>.sha256" beside each written file (sha256sum's format). */
int ferry_outbox_write_checksums(const ferry_write_result *w);

/** Where the file staged at `staged` goes in `outbox`. */
int ferry_outbox_final_path(ferry_buf *out, const char *outbox, const char *staged);

/**
 * Move every file of `w` (staged) into `outbox` with its ".sha256" (when
 * present) and ".minisig": data files, then checksums, then signatures,
 * then sync the outbox; `w`'s paths become the final ones. FERRY_EIO.
 */
int ferry_outbox_deliver(ferry_write_result *w, const char *outbox);

#endif
