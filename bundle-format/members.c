/*
 * Member names of a bundle (see members.h). A bundle's blobs are named as
 * an OCI image layout names them, so the names come from oci/digest.h; the
 * bundle's own code asks for them here, under the bundle's vocabulary.
 */
#include "members.h"
#include "banned.h"

void ferry_bundle_blob_member(char out[FERRY_BLOB_MEMBER_SIZE], const char *hex)
{
	ferry_oci_blob_member(out, hex);
}

const char *ferry_bundle_blob_member_hex(const char *member)
{
	return ferry_oci_blob_member_hex(member);
}
