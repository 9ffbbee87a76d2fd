/*
 * Detached minisign signatures: one written by ferry_minisig_write checks
 * with ferry_minisig_verify against the file's hash and a trust holding
 * the key; another file's hash, an untrusted key, an edited trusted
 * comment and a file that is no signature are each refused.
 */
#include <sodium.h>

#include "fs.h"
#include "hash.h"
#include "minisig.h"
#include "testlib.h"

static void test_bundle_minisig__verifies_what_it_writes(void **state)
{
	unsigned char hash[FERRY_MINISIG_HASH_BYTES], other[FERRY_MINISIG_HASH_BYTES];
	char hex[FERRY_SHA256_HEX_LEN + 1], want[FERRY_SHA256_HEX_LEN + 1];
	ferry_key *key, *key2;
	ferry_pubkey *pub, *pub2;
	const ferry_pubkey *keys[1], *keys2[1];
	ferry_trust trust = { keys, 1, 1 }, untrusted = { keys2, 1, 1 };
	ferry_buf text = FERRY_BUF_INIT;
	char *dir = test_mkdtemp();
	const char *file = strdup(test_path(dir, "f.tar"));
	const char *sig = strdup(test_path(dir, "f.tar.minisig"));
	char *p;

	(void)state;
	test_keypair(dir, "k", &key, &pub);
	test_keypair(dir, "k2", &key2, &pub2);
	keys[0] = pub;
	keys2[0] = pub2;
	assert_int_equal(ferry_fs_write_atomic(file, "bundle bytes", 12, 0644), 0);
	assert_int_equal(ferry_minisig_hash_file(hash, hex, file), 0);
	assert_int_equal(ferry_sha256_hex(want, "bundle bytes", 12), 0);
	assert_string_equal(hex, want);
	crypto_generichash(other, sizeof(other), (const unsigned char *)"bundle bytes", 12,
			   NULL, 0);
	assert_memory_equal(hash, other, sizeof(hash));
	assert_int_equal(ferry_minisig_write(sig, key, hash, "file:f.tar"), 0);
	assert_int_equal(ferry_minisig_verify(sig, hash, &trust), 0);

	other[0] ^= 1;
	assert_error(ferry_minisig_verify(sig, other, &trust), FERRY_EVERIFY,
		     "does not match the file it signs");
	assert_error(ferry_minisig_verify(sig, hash, &untrusted), FERRY_EVERIFY,
		     "which is not trusted");

	/* the trusted comment is signed too */
	assert_int_equal(ferry_fs_read_file(&text, sig, 4096), 0);
	assert_non_null(p = strstr(text.ptr, "file:f.tar"));
	p[5] = 'g';
	remove(sig);
	assert_int_equal(ferry_fs_write_atomic(sig, text.ptr, text.size, 0644), 0);
	assert_error(ferry_minisig_verify(sig, hash, &trust), FERRY_EVERIFY,
		     "does not match the file it signs");

	remove(sig);
	assert_int_equal(ferry_fs_write_atomic(sig, "hello\n", 6, 0644), 0);
	assert_error(ferry_minisig_verify(sig, hash, &trust), FERRY_EINVALID,
		     "is not a minisign signature");
	assert_int_equal(ferry_minisig_hash_file(hash, NULL, test_path(dir, "none")),
			 FERRY_ENOTFOUND);

	ferry_buf_dispose(&text);
	ferry_key_free(key);
	ferry_key_free(key2);
	ferry_pubkey_free(pub);
	ferry_pubkey_free(pub2);
	free((char *)file);
	free((char *)sig);
	test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_minisig__verifies_what_it_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
