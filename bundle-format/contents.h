/*
 * The contents entry of a format 2 bundle (docs/bundle-format.md, section
 * 6.8): the members, the image bindings, the references an incremental
 * bundle drops and the prerequisite blobs, one JSON object per line. The
 * envelope signs its size and digest; every bundle file carries it as the
 * entry after the envelope, so that each volume verifies alone.
 *
 * Writing streams the lines to a callback (twice: once for the digest the
 * envelope states, once into each file); reading parses them as they
 * stream past, line by line, so no document of the whole list is ever
 * held: what stays is the manifest's own arrays.
 */
#ifndef FERRY_BUNDLE_CONTENTS_H
#define FERRY_BUNDLE_CONTENTS_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "manifest.h"

typedef int (*ferry_contents_fn)(void *arg, const void *buf, size_t len);

/** Write the contents lines of `m`, in chunks, to `fn`. */
int ferry_contents_write(const ferry_manifest *m, ferry_contents_fn fn, void *arg);

/** The size and SHA-256 of the contents of `m`. */
int ferry_contents_digest(uint64_t *size, char hex[FERRY_SHA256_HEX_LEN + 1],
			  const ferry_manifest *m);

typedef struct ferry_contents_reader ferry_contents_reader;

/**
 * Read the contents entry into `m`, a format 2 manifest just parsed (its
 * contents_pending set): feed the entry's bytes as they come, then end.
 * The lines are parsed as they stream, but a problem is reported only
 * after the digest: bytes that do not match the signed digest are named
 * as such, not by the first line they garble.
 */
int ferry_contents_reader_new(ferry_contents_reader **out, ferry_manifest *m);
int ferry_contents_reader_data(ferry_contents_reader *r, const void *buf, size_t len);
/** Check size and digest, then the lines, then complete `m`
 *  (ferry_manifest__complete). FERRY_ECORRUPT for bytes that do not match
 *  the envelope; FERRY_EINVALID, FERRY_ETOOBIG naming the line otherwise. */
int ferry_contents_reader_end(ferry_contents_reader *r);
void ferry_contents_reader_free(ferry_contents_reader *r);

#endif
