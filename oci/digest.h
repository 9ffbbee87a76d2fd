/*
 * Digests and where a blob lives. A digest is "sha256:<64 lowercase hex>"
 * (the only algorithm ferry accepts); hashing bytes stays in core/hash.h.
 * A blob of an image layout (a bundle, the store, an exporter's cache) is
 * "<dir>/blobs/sha256/<hex>"; inside a bundle its member name is
 * "blobs/sha256/<hex>". This file is the one place those names are spelled.
 */
#ifndef FERRY_OCI_DIGEST_H
#define FERRY_OCI_DIGEST_H

#include "buf.h"
#include "hash.h"

/** Room for "sha256:<hex>" and its NUL. */
#define FERRY_OCI_DIGEST_SIZE (7 + FERRY_SHA256_HEX_LEN + 1)
/** Room for "blobs/sha256/<hex>" and its NUL. */
#define FERRY_OCI_BLOB_MEMBER_SIZE (13 + FERRY_SHA256_HEX_LEN + 1)

/**
 * Parse "sha256:<64 lowercase hex>" into `hex_out`. FERRY_EUNSUPPORTED for
 * another algorithm, FERRY_EINVALID for anything malformed; the message
 * quotes (the start of) `digest`.
 */
int ferry_oci_digest_parse(char hex_out[FERRY_SHA256_HEX_LEN + 1], const char *digest);
/** Nonzero when `digest` parses. Sets no error. */
int ferry_oci_digest_valid(const char *digest);
/** The hex part of a digest that parses (borrowed from `digest`), else
 *  NULL. Sets no error. */
const char *ferry_oci_digest_hex(const char *digest);
/** "sha256:<hex>" for 64 hex digits `hex`. */
void ferry_oci_digest_format(char out[FERRY_OCI_DIGEST_SIZE], const char *hex);
/** Append "sha256:<hex>" to `out`. */
int ferry_oci_digest_put(ferry_buf *out, const char *hex);

/**
 * The tag the referrers tag schema (distribution spec) gives the referrers
 * of `hex`: "sha256-<hex>", appended to `out`.
 */
int ferry_oci_referrers_tag(ferry_buf *out, const char *hex);

/** Append "<dir>/blobs/sha256", the directory of a layout's blobs. */
int ferry_oci_blob_dir(ferry_buf *out, const char *dir);
/** Append "<dir>/blobs/sha256/<hex>", the file of blob `hex` in a layout. */
int ferry_oci_blob_path(ferry_buf *out, const char *dir, const char *hex);
/** "blobs/sha256/<hex>": blob `hex` as a member of a bundle (or any path
 *  relative to a layout). */
void ferry_oci_blob_member(char out[FERRY_OCI_BLOB_MEMBER_SIZE], const char *hex);
/**
 * What follows "blobs/sha256/" in `member` (borrowed), or NULL when
 * `member` is not under that directory. It is not checked to be hex:
 * callers compare it with the digest they expect.
 */
const char *ferry_oci_blob_member_hex(const char *member);

#endif
