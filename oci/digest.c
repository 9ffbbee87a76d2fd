/*
 * Digests and blob names (see digest.h). Parsing is strict (lowercase hex,
 * exact length) because a digest names a file: nothing that parses may
 * reach outside blobs/sha256/.
 */
#include <stdio.h>
#include <string.h>

#include "ferry/errors.h"
#include "digest.h"
#include "banned.h"

#define ALGORITHM "sha256"
#define PREFIX ALGORITHM ":"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define BLOBS "blobs/" ALGORITHM
#define MEMBER_PREFIX BLOBS "/"
#define MEMBER_PREFIX_LEN (sizeof(MEMBER_PREFIX) - 1)

int ferry_oci_digest_parse(char hex_out[FERRY_SHA256_HEX_LEN + 1], const char *digest)
{
	const char *colon = strchr(digest, ':');

	if (!colon || colon == digest)
		return ferry_error_set(FERRY_EINVALID, "malformed digest '%.80s'", digest);
	if ((size_t)(colon - digest) != PREFIX_LEN - 1 ||
	    strncmp(digest, ALGORITHM, PREFIX_LEN - 1) != 0)
		return ferry_error_set(FERRY_EUNSUPPORTED,
				       "unsupported digest algorithm in '%.80s'", digest);
	if (!ferry_sha256_hex_valid(colon + 1))
		return ferry_error_set(FERRY_EINVALID, "malformed digest '%.80s'", digest);
	memcpy(hex_out, colon + 1, FERRY_SHA256_HEX_LEN + 1);
	return 0;
}

const char *ferry_oci_digest_hex(const char *digest)
{
	if (!digest || strncmp(digest, PREFIX, PREFIX_LEN) ||
	    !ferry_sha256_hex_valid(digest + PREFIX_LEN))
		return NULL;
	return digest + PREFIX_LEN;
}

int ferry_oci_digest_valid(const char *digest)
{
	return ferry_oci_digest_hex(digest) != NULL;
}

void ferry_oci_digest_format(char out[FERRY_OCI_DIGEST_SIZE], const char *hex)
{
	snprintf(out, FERRY_OCI_DIGEST_SIZE, PREFIX "%.64s", hex);
}

int ferry_oci_digest_put(ferry_buf *out, const char *hex)
{
	return ferry_buf_printf(out, PREFIX "%s", hex);
}

int ferry_oci_referrers_tag(ferry_buf *out, const char *hex)
{
	return ferry_buf_printf(out, ALGORITHM "-%s", hex);
}

int ferry_oci_blob_dir(ferry_buf *out, const char *dir)
{
	return ferry_buf_printf(out, "%s/" BLOBS, dir);
}

int ferry_oci_blob_path(ferry_buf *out, const char *dir, const char *hex)
{
	return ferry_buf_printf(out, "%s/" MEMBER_PREFIX "%s", dir, hex);
}

void ferry_oci_blob_member(char out[FERRY_OCI_BLOB_MEMBER_SIZE], const char *hex)
{
	snprintf(out, FERRY_OCI_BLOB_MEMBER_SIZE, MEMBER_PREFIX "%.64s", hex);
}

const char *ferry_oci_blob_member_hex(const char *member)
{
	return strncmp(member, MEMBER_PREFIX, MEMBER_PREFIX_LEN) ? NULL
								: member + MEMBER_PREFIX_LEN;
}
