/*
 * Media types (see oci.h): which ones ferry walks, and the type of a
 * document that does not name its own. Three parts of ferry used to guess
 * that type each in its own way; this is the one answer, in the order the
 * image spec gives authority: the document, then what named it, then the
 * members the spec requires of an index or a manifest. Also whether a
 * file artifact's title annotation may name a file.
 */
#include <string.h>

#include "oci.h"
#include "banned.h"

int ferry_oci_is_index(const char *mt)
{
	return mt && (!strcmp(mt, FERRY_OCI_MT_INDEX) || !strcmp(mt, FERRY_OCI_MT_DOCKER_LIST));
}

int ferry_oci_is_manifest(const char *mt)
{
	return mt && (!strcmp(mt, FERRY_OCI_MT_MANIFEST) ||
		      !strcmp(mt, FERRY_OCI_MT_DOCKER_MANIFEST));
}

int ferry_oci_is_document(const char *mt)
{
	return ferry_oci_is_index(mt) || ferry_oci_is_manifest(mt);
}

const char *ferry_oci_media_type(const json_t *doc, const char *given)
{
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));

	if (mt)
		return mt;
	if (ferry_oci_is_document(given))
		return given;
	if (json_object_get(doc, "manifests"))
		return FERRY_OCI_MT_INDEX;
	if (json_object_get(doc, "config"))
		return FERRY_OCI_MT_MANIFEST;
	return NULL;
}

const char *ferry_oci_artifact_type(const json_t *doc)
{
	const char *at = json_string_value(json_object_get(doc, "artifactType"));

	if (at)
		return at;
	return json_string_value(json_object_get(json_object_get(doc, "config"), "mediaType"));
}

int ferry_oci_title_valid(const char *title)
{
	size_t n = title ? strlen(title) : 0;
	const unsigned char *p;

	if (n == 0 || n > FERRY_OCI_TITLE_MAX || title[0] == '.' || title[0] == '-')
		return 0;
	for (p = (const unsigned char *)title; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}
