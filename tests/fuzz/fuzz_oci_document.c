/*
 * Fuzz target: an OCI manifest, index or config as a registry or a layout
 * sends it: parsed as a document under each kind of announced media type,
 * its children listed (with subjects), its artifact type read.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const given[] = {
		NULL, FERRY_OCI_MT_MANIFEST, FERRY_OCI_MT_INDEX,
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.oci.image.config.v1+json"
	};
	size_t g;

	for (g = 0; g < sizeof(given) / sizeof(given[0]); g++) {
		ferry_oci_document d;
		ferry_oci_children it;
		ferry_oci_descriptor desc;
		ferry_oci_role role;
		int n = 0;

		memset(&d, 0, sizeof(d));
		if (ferry_buf_put(&d.body, data, size) == 0 &&
		    ferry_oci_document_parse(&d, given[g], "fuzz document") == 0) {
			(void)ferry_oci_artifact_type(d.json);
			ferry_oci_children_init(&it, d.json, d.media_type, FERRY_OCI_SUBJECTS,
						"fuzz document");
			while (n++ < 100000 && ferry_oci_children_next(&desc, &role, &it) > 0)
				;
		}
		ferry_oci_document_dispose(&d);
	}
	return 0;
}
