/*
 * Media types: which ones ferry walks, and the one answer to "what type is
 * a document that does not say" (it used to be guessed three ways).
 */
#include "oci.h"
#include "testlib.h"

static json_t *doc(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void test_oci_media_type__knows_indexes_and_manifests(void **state)
{
	(void)state;
	assert_true(ferry_oci_is_index(FERRY_OCI_MT_INDEX));
	assert_true(ferry_oci_is_index(FERRY_OCI_MT_DOCKER_LIST));
	assert_false(ferry_oci_is_index(FERRY_OCI_MT_MANIFEST));
	assert_true(ferry_oci_is_manifest(FERRY_OCI_MT_MANIFEST));
	assert_true(ferry_oci_is_manifest(FERRY_OCI_MT_DOCKER_MANIFEST));
	assert_false(ferry_oci_is_manifest(FERRY_OCI_MT_CONFIG));
	assert_false(ferry_oci_is_document(FERRY_OCI_MT_HELM_CHART));
	assert_false(ferry_oci_is_document(NULL));
	assert_false(ferry_oci_is_document(""));
}

static void test_oci_media_type__infers_the_type_of_a_document(void **state)
{
	json_t *declared = doc("{\"mediaType\":\"application/x-odd\",\"manifests\":[]}");
	json_t *index = doc("{\"schemaVersion\":2,\"manifests\":[]}");
	json_t *manifest = doc("{\"schemaVersion\":2,\"config\":{},\"layers\":[]}");
	json_t *neither = doc("{\"schemaVersion\":2}");

	(void)state;
	/* What the document declares comes first, whatever it is. */
	assert_string_equal(ferry_oci_media_type(declared, FERRY_OCI_MT_MANIFEST),
			    "application/x-odd");
	/* Then what named it, when that is a type ferry walks. */
	assert_string_equal(ferry_oci_media_type(index, FERRY_OCI_MT_DOCKER_LIST),
			    FERRY_OCI_MT_DOCKER_LIST);
	assert_string_equal(ferry_oci_media_type(manifest, FERRY_OCI_MT_DOCKER_MANIFEST),
			    FERRY_OCI_MT_DOCKER_MANIFEST);
	/* A generic Content-Type says nothing: the shape decides. */
	assert_string_equal(ferry_oci_media_type(index, "application/json"), FERRY_OCI_MT_INDEX);
	assert_string_equal(ferry_oci_media_type(manifest, NULL), FERRY_OCI_MT_MANIFEST);
	assert_null(ferry_oci_media_type(neither, NULL));
	assert_null(ferry_oci_media_type(neither, "application/octet-stream"));
	json_decref(declared);
	json_decref(index);
	json_decref(manifest);
	json_decref(neither);
}

static void test_oci_media_type__reports_artifact_types(void **state)
{
	json_t *a = doc("{\"artifactType\":\"application/x-sbom\",\"config\":"
			"{\"mediaType\":\"application/vnd.oci.empty.v1+json\"}}");
	json_t *b = doc("{\"config\":{\"mediaType\":\"application/x-sig\"}}");
	json_t *c = doc("{\"manifests\":[]}");

	(void)state;
	assert_string_equal(ferry_oci_artifact_type(a), "application/x-sbom");
	assert_string_equal(ferry_oci_artifact_type(b), "application/x-sig");
	assert_null(ferry_oci_artifact_type(c));
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void test_oci_media_type__titles_name_files_only(void **state)
{
	char longest[FERRY_OCI_TITLE_MAX + 2];

	(void)state;
	assert_true(ferry_oci_title_valid("hello_1.0_all.deb"));
	assert_true(ferry_oci_title_valid("kubectl"));
	assert_true(ferry_oci_title_valid("a b.iso"));
	assert_false(ferry_oci_title_valid(NULL));
	assert_false(ferry_oci_title_valid(""));
	assert_false(ferry_oci_title_valid("."));
	assert_false(ferry_oci_title_valid(".."));
	assert_false(ferry_oci_title_valid("../etc/passwd"));
	assert_false(ferry_oci_title_valid("dir/file"));
	assert_false(ferry_oci_title_valid(".bashrc"));
	assert_false(ferry_oci_title_valid("-rf"));
	assert_false(ferry_oci_title_valid("a\nb"));
	assert_false(ferry_oci_title_valid("\x1b[2Kok"));
	assert_false(ferry_oci_title_valid("del\x7f"));
	memset(longest, 'a', sizeof(longest));
	longest[FERRY_OCI_TITLE_MAX] = '\0';
	assert_true(ferry_oci_title_valid(longest));
	longest[FERRY_OCI_TITLE_MAX] = 'a';
	longest[FERRY_OCI_TITLE_MAX + 1] = '\0';
	assert_false(ferry_oci_title_valid(longest));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oci_media_type__knows_indexes_and_manifests),
		cmocka_unit_test(test_oci_media_type__infers_the_type_of_a_document),
		cmocka_unit_test(test_oci_media_type__reports_artifact_types),
		cmocka_unit_test(test_oci_media_type__titles_name_files_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
