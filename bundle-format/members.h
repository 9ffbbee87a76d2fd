/*
 * The names a bundle's members and files go by: the one place they are
 * spelled (docs/bundle-format.md, section 3). A bundle file is a tar whose
 * first member is the signed manifest; extracted, it is an OCI image layout
 * (the layout files and every blob, git bundle files included, under
 * "blobs/sha256/<hex>", named by oci/digest.h), plus ferry's own members.
 */
#ifndef FERRY_BUNDLE_MEMBERS_H
#define FERRY_BUNDLE_MEMBERS_H

#include "digest.h"
#include "oci.h"

/** Name of the first member of every bundle file: the signed manifest. */
#define FERRY_MANIFEST_MEMBER "ferry-manifest.dsse.json"
/** Format 2: the entry after the envelope in every bundle file: the
 *  members, the image bindings and the prerequisites, as JSON lines. */
#define FERRY_CONTENTS_MEMBER "ferry-contents.jsonl"
/** Directory that holds pieces of members split across volumes. */
#define FERRY_PARTS_DIR "ferry-parts/"
/** The member that carries a new trust root (a trust-root envelope). */
#define FERRY_TRUST_ROOT_MEMBER "ferry-trust-root.dsse.json"

/** The image layout's marker file and its index, and the marker's content. */
#define FERRY_LAYOUT_MEMBER FERRY_OCI_LAYOUT_NAME
#define FERRY_INDEX_MEMBER FERRY_OCI_INDEX_NAME
#define FERRY_LAYOUT_MEMBER_CONTENT FERRY_OCI_LAYOUT_FILE

/** Room for a blob member's name ("blobs/sha256/<hex>") and its NUL. */
#define FERRY_BLOB_MEMBER_SIZE FERRY_OCI_BLOB_MEMBER_SIZE

/** Bundle files: "<basename>.tar" or "<basename>.volNNN.tar", the basename
 *  made from the channel and the sequence, each with a detached minisign
 *  signature "<file>.minisig" beside it and, when asked for, a checksum
 *  line "<file>.sha256" in sha256sum's format. */
#define FERRY_BUNDLE_BASENAME_FORMAT "ferry-%s-%06llu"
#define FERRY_BUNDLE_FILE_SUFFIX ".tar"
#define FERRY_BUNDLE_VOLUME_FORMAT ".vol%03zu"
#define FERRY_BUNDLE_SIGNATURE_SUFFIX ".minisig"
#define FERRY_BUNDLE_CHECKSUM_SUFFIX ".sha256"

/**
 * "blobs/sha256/<hex>": the member holding blob `hex` (an image layer,
 * config, manifest, or a git repository's bundle file). `hex` must be 64
 * lowercase hex digits.
 */
void ferry_bundle_blob_member(char out[FERRY_BLOB_MEMBER_SIZE], const char *hex);

/**
 * The digest hex of a blob member (borrowed from `member`), or NULL when
 * `member` is not a blob member. Not checked to be hex: callers compare it
 * with the digest they expect.
 */
const char *ferry_bundle_blob_member_hex(const char *member);

#endif
