/*
 * Trust roots as a value, after TUF's root role: a set of Ed25519 keys, a
 * threshold of them that must sign each bundle, a version and an expiry;
 * their JSON (payload.h) and their signed file. What a store does with
 * roots (install, rotate) is import/trust.h; a bundle may carry a root as
 * member FERRY_TRUST_ROOT_MEMBER (members.h).
 */
#ifndef FERRY_BUNDLE_TRUST_ROOT_H
#define FERRY_BUNDLE_TRUST_ROOT_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/bundle.h"
#include "buf.h"
#include "envelope.h"
#include "payload.h"

typedef struct {
	uint64_t version;
	int64_t expires;
	unsigned threshold;
	ferry_pubkey **keys;
	size_t nkeys;
} ferry_trust_root;

/**
 * Build a root from copies of `keys`. FERRY_EINVALID unless 1 to
 * FERRY_TRUST_MAX_KEYS distinct keys (by id and by key) and a threshold
 * between 1 and their number. Free *out with ferry_trust_root_free().
 */
int ferry_trust_root_new(ferry_trust_root **out, uint64_t version, int64_t expires,
			 unsigned threshold, ferry_pubkey *const *keys, size_t nkeys);
/** Free a root; accepts NULL. */
void ferry_trust_root_free(ferry_trust_root *r);
/** Append the root's JSON document to `out`. */
int ferry_trust_root_to_json(ferry_buf *out, const ferry_trust_root *r);
/**
 * Parse a root's JSON document (untrusted). FERRY_ETOOBIG over
 * FERRY_TRUST_ROOT_MAX_SIZE, FERRY_EUNSUPPORTED for another "_type",
 * FERRY_EINVALID for anything malformed.
 */
int ferry_trust_root_parse(ferry_trust_root **out, const void *json, size_t len);
/** The root as the trust the reader checks bundles against (borrows keys). */
void ferry_trust_root_view(ferry_trust *out, const ferry_trust_root *r);

/** A root file for `root`: its JSON in an envelope signed by `keys`. */
int ferry_trust_root_file(ferry_buf *out, const ferry_trust_root *root,
			  ferry_key *const *keys, size_t nkeys);
/**
 * Open a root file: append its JSON to `payload` once the envelope is of
 * the trust-root payload type and, unless `trust` is NULL, signed by a
 * threshold of `trust`. Errors as ferry_envelope_open_type().
 */
int ferry_trust_root_file_open(ferry_buf *payload, ferry_envelope_info *info,
			       const void *file, size_t len, const ferry_trust *trust);

#endif
