/*
 * The public verification call (include/ferry/bundle.h): a good bundle is
 * described in the result; a tampered one, a wrong key, a threshold that
 * cannot be met and a missing file fail with the documented codes, and
 * the message names the file.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "testlib.h"

typedef struct {
	char *dir;
	ferry_key *key, *key2;
	ferry_pubkey *pub, *pub2;
	const char *bundle;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ferry_member_source src[2] = { { NULL, TEST_LAYOUT_JSON, NULL }, { NULL, TEST_INDEX_JSON, NULL } };

	f->dir = test_mkdtemp();
	test_keypair(f->dir, "k1", &f->key, &f->pub);
	test_keypair(f->dir, "k2", &f->key2, &f->pub2);
	f->bundle = strdup(test_write_bundle(forge_manifest(TEST_LAYOUT_JSON, TEST_INDEX_JSON),
					     src, f->dir, "b", f->key));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ferry_key_free(f->key);
	ferry_key_free(f->key2);
	ferry_pubkey_free(f->pub);
	ferry_pubkey_free(f->pub2);
	free((char *)f->bundle);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

static int verify(ferry_bundle_verify_result *res, const char *path,
		  const ferry_pubkey *a, const ferry_pubkey *b, unsigned threshold)
{
	const ferry_pubkey *keys[2] = { a, b };
	ferry_trust trust = { keys, b ? 2 : 1, threshold };

	return ferry_bundle_verify_file(res, path, &trust);
}

static void test_bundle_verify__describes_a_good_bundle(void **state)
{
	fixture *f = *state;
	ferry_bundle_verify_result res;

	assert_int_equal(verify(&res, f->bundle, f->pub2, f->pub, 1), 0);
	assert_int_equal(strlen(res.id), 64);
	assert_string_equal(res.channel, "test");
	assert_int_equal(res.sequence, 1);
	assert_int_equal(res.volume, 0);
	assert_int_equal(res.nvolumes, 1);
	assert_int_equal(res.nmembers, 2);
	assert_true(res.bytes > 0);
	assert_int_equal(res.nsigners, 1);
	assert_string_equal(res.signers[0], ferry_pubkey_id(f->pub));
}

static void test_bundle_verify__refuses_tampered_bundle(void **state)
{
	fixture *f = *state;
	ferry_bundle_verify_result res;
	ferry_buf data = FERRY_BUF_INIT;
	char *at = NULL;
	size_t i;
	FILE *w;

	/* Change one byte of a member's content. */
	assert_int_equal(ferry_fs_read_file(&data, f->bundle, 1u << 20), 0);
	for (i = 0; !at && i + 13 <= data.size; i++)
		if (!memcmp(data.ptr + i, "schemaVersion", 13))
			at = data.ptr + i;
	assert_non_null(at);
	at[0] = 'S';
	assert_non_null(w = fopen(f->bundle, "wb"));
	assert_int_equal(fwrite(data.ptr, 1, data.size, w), data.size);
	fclose(w);
	assert_error(verify(&res, f->bundle, f->pub, NULL, 1), FERRY_ECORRUPT,
		     "'index.json' does not match its digest");
	assert_non_null(strstr(ferry_error_last(), f->bundle));
	/* The manifest verified: the result still says which bundle. */
	assert_int_equal(strlen(res.id), 64);
	assert_int_equal(res.nvolumes, 1);
	ferry_buf_dispose(&data);
}

static void test_bundle_verify__refuses_untrusted_or_unmet(void **state)
{
	fixture *f = *state;
	ferry_bundle_verify_result res;
	ferry_trust empty = { NULL, 0, 1 };

	assert_error(verify(&res, f->bundle, f->pub2, NULL, 1), FERRY_EVERIFY, "");
	assert_string_equal(res.id, "");
	assert_error(verify(&res, f->bundle, f->pub, f->pub2, 2), FERRY_EVERIFY, "");
	assert_error(verify(&res, f->bundle, f->pub, NULL, 2), FERRY_EINVALID,
		     "trusted keys");
	assert_error(ferry_bundle_verify_file(&res, f->bundle, NULL), FERRY_EINVALID,
		     "trusted keys");
	assert_error(ferry_bundle_verify_file(&res, f->bundle, &empty), FERRY_EINVALID,
		     "trusted keys");
	assert_error(verify(&res, test_path(f->dir, "none.tar"), f->pub, NULL, 1),
		     FERRY_ENOTFOUND, "none.tar");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_bundle_verify__describes_a_good_bundle),
		T(test_bundle_verify__refuses_tampered_bundle),
		T(test_bundle_verify__refuses_untrusted_or_unmet),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
