/*
 * Descriptors (see descriptor.h). The required members are checked the
 * same way for every document ferry reads, so a malformed descriptor is
 * refused with the same message whether it came from a layout on disk, a
 * registry or the store.
 */
#include <string.h>

#include "ferry/errors.h"
#include "descriptor.h"
#include "digest.h"
#include "json.h"
#include "oci.h"
#include "banned.h"

int ferry_oci_descriptor_parse(ferry_oci_descriptor *out, const json_t *obj,
			       const char *what)
{
	const json_t *ann;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_json_get_string(&out->media_type, obj, "mediaType",
					   "descriptor")) < 0 ||
	    (error = ferry_json_get_string(&out->digest, obj, "digest", "descriptor")) < 0 ||
	    (error = ferry_json_get_u64(&out->size, obj, "size", "descriptor")) < 0 ||
	    (error = ferry_oci_digest_parse(out->hex, out->digest)) < 0)
		return what ? ferry_error_wrap(error, "%s", what) : error;
	out->artifact_type = json_string_value(json_object_get(obj, "artifactType"));
	ann = json_object_get(obj, "annotations");
	out->annotations = json_is_object(ann) ? ann : NULL;
	out->json = obj;
	return 0;
}

json_t *ferry_oci_descriptor_new(const char *media_type, const char *hex, uint64_t size)
{
	char digest[FERRY_OCI_DIGEST_SIZE];

	ferry_oci_digest_format(digest, hex);
	return json_pack("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest,
			 "size", (json_int_t)size);
}

json_t *ferry_oci_index_new(void)
{
	return json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType",
			 FERRY_OCI_MT_INDEX, "manifests");
}

json_t *ferry_oci_referrer_descriptor(const json_t *doc, const char *media_type,
				      const char *hex, uint64_t size)
{
	json_t *desc = ferry_oci_descriptor_new(media_type, hex, size);
	const char *at = ferry_oci_artifact_type(doc);
	json_t *ann = json_object_get(doc, "annotations");

	if (desc && ((at && json_object_set_new(desc, "artifactType", json_string(at)) < 0) ||
		     (json_is_object(ann) && json_object_set(desc, "annotations", ann) < 0))) {
		json_decref(desc);
		return NULL;
	}
	return desc;
}
