/*
 * Export state: what each channel has been sent, kept in SQLite on the
 * connected side (WAL, synchronous=FULL). A sequence number is taken for
 * a bundle and recorded only once the bundle is completely written.
 */
#ifndef FERRY_EXPORT_STATE_H
#define FERRY_EXPORT_STATE_H

#include <stdint.h>

typedef struct ferry_export_state ferry_export_state;

/** Open (creating it and its directory if needed) the state database. */
int ferry_export_state_open(ferry_export_state **out, const char *path);
void ferry_export_state_close(ferry_export_state *st);

/** The last sequence recorded for `channel` (0 when none). */
int ferry_export_state_last_sequence(uint64_t *out, ferry_export_state *st,
				     const char *channel);

/** Record a written bundle; FERRY_EEXISTS if the sequence is taken. */
int ferry_export_state_record(ferry_export_state *st, const char *channel,
			      uint64_t sequence, const char *bundle_id,
			      int64_t created, const char *files);

/** The default path: $FERRY_STATE_DIR, $XDG_STATE_HOME/ferry or
 *  ~/.local/state/ferry, + "/export.db". Caller frees. */
char *ferry_export_state_default_path(void);

#endif
