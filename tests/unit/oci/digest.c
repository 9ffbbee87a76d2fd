/*
 * Digests and blob names: the "sha256:<hex>" grammar, formatting, and the
 * names of a blob in a layout and in a bundle.
 */
#include "digest.h"
#include "testlib.h"

#define HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_oci_digest__parses_sha256_only(void **state)
{
	char d[65];

	(void)state;
	assert_int_equal(ferry_oci_digest_parse(d, "sha256:" HEX), 0);
	assert_string_equal(d, HEX);
	assert_int_equal(ferry_oci_digest_parse(d, "sha512:abcd"), FERRY_EUNSUPPORTED);
	assert_int_equal(ferry_oci_digest_parse(d, "sha256:BA7816"), FERRY_EINVALID);
	assert_int_equal(ferry_oci_digest_parse(d, "nocolon"), FERRY_EINVALID);
	assert_error(ferry_oci_digest_parse(d, ":" HEX), FERRY_EINVALID, "malformed digest");
	assert_error(ferry_oci_digest_parse(d, "sha256:" HEX "0"), FERRY_EINVALID,
		     "malformed digest");
	assert_error(ferry_oci_digest_parse(d, "sha256:../../etc/passwd"), FERRY_EINVALID,
		     "malformed digest");

	assert_true(ferry_oci_digest_valid("sha256:" HEX));
	assert_false(ferry_oci_digest_valid("sha256:" HEX "\n"));
	assert_false(ferry_oci_digest_valid(HEX));
	assert_false(ferry_oci_digest_valid(NULL));
	assert_string_equal(ferry_oci_digest_hex("sha256:" HEX), HEX);
	assert_null(ferry_oci_digest_hex("sha256:" "ba78"));
	assert_null(ferry_oci_digest_hex("SHA256:" HEX));
}

static void test_oci_digest__formats_digests_and_blob_names(void **state)
{
	char d[FERRY_OCI_DIGEST_SIZE], member[FERRY_OCI_BLOB_MEMBER_SIZE];
	ferry_buf b = FERRY_BUF_INIT;

	(void)state;
	ferry_oci_digest_format(d, HEX);
	assert_string_equal(d, "sha256:" HEX);
	assert_int_equal(ferry_oci_digest_put(&b, HEX), 0);
	assert_string_equal(b.ptr, "sha256:" HEX);
	ferry_buf_clear(&b);
	assert_int_equal(ferry_oci_referrers_tag(&b, HEX), 0);
	assert_string_equal(b.ptr, "sha256-" HEX);
	ferry_buf_clear(&b);

	assert_int_equal(ferry_oci_blob_dir(&b, "/store"), 0);
	assert_string_equal(b.ptr, "/store/blobs/sha256");
	ferry_buf_clear(&b);
	assert_int_equal(ferry_oci_blob_path(&b, "/store", HEX), 0);
	assert_string_equal(b.ptr, "/store/blobs/sha256/" HEX);
	ferry_buf_dispose(&b);

	ferry_oci_blob_member(member, HEX);
	assert_string_equal(member, "blobs/sha256/" HEX);
	assert_string_equal(ferry_oci_blob_member_hex(member), HEX);
	/* Not checked: the caller compares it with the digest it expects. */
	assert_string_equal(ferry_oci_blob_member_hex("blobs/sha256/x"), "x");
	assert_null(ferry_oci_blob_member_hex("blobs/sha512/" HEX));
	assert_null(ferry_oci_blob_member_hex("index.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oci_digest__parses_sha256_only),
		cmocka_unit_test(test_oci_digest__formats_digests_and_blob_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
