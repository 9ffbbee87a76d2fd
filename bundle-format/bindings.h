/*
 * A channel's image bindings (its state, docs/bundle-format.md section
 * 6.3), held sorted by reference: built in that order from what a side
 * records, moved by bundles as a receiver publishes them, and digested to
 * compare with the state a bundle states.
 */
#ifndef FERRY_BUNDLE_BINDINGS_H
#define FERRY_BUNDLE_BINDINGS_H

#include <stddef.h>

#include "hash.h"
#include "manifest.h"

typedef struct {
	char *reference;
	char *digest;
} ferry_binding;

typedef struct {
	ferry_binding *items;   /* strcmp order of the references */
	size_t n, alloc;
} ferry_bindings;

/** Append a binding; references come in strcmp order (FERRY_EINVALID
 *  otherwise). */
int ferry_bindings_add(ferry_bindings *b, const char *reference, const char *digest);
/** Index of `reference` in `b`, or -1. */
long ferry_bindings_find(const ferry_bindings *b, const char *reference);
/** Move `b` as bundle `m` does: all its bindings, or its changes. */
int ferry_bindings_apply(ferry_bindings *b, const ferry_manifest *m);
/** The state digest of `b` (ferry_binding_state). */
int ferry_bindings_digest(char hex[FERRY_SHA256_HEX_LEN + 1], const ferry_bindings *b);
void ferry_bindings_dispose(ferry_bindings *b);

#endif
