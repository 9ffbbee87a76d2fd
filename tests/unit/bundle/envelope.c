/*
 * DSSE envelopes and minisign-format keys: signing and opening, t-of-n
 * thresholds over distinct keys, and rejection of malformed envelopes and
 * key files.
 */
#include <sys/stat.h>

#include <sodium.h>

#include "envelope.h"
#include "fs.h"
#include "testlib.h"

typedef struct {
	char *dir;
	ferry_key *k[3];
	ferry_pubkey *p[3];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char name[8];
	int i;

	f->dir = test_mkdtemp();
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		test_keypair(f->dir, name, &f->k[i], &f->p[i]);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	int i;

	for (i = 0; i < 3; i++) {
		ferry_key_free(f->k[i]);
		ferry_pubkey_free(f->p[i]);
	}
	test_rmdir(f->dir);
	free(f);
	return 0;
}

static int open_with(const ferry_buf *env, fixture *f, size_t nkeys,
		     unsigned threshold, ferry_envelope_info *info)
{
	const ferry_pubkey *keys[3] = { f->p[0], f->p[1], f->p[2] };
	ferry_trust trust = { keys, nkeys, threshold };
	ferry_buf payload = FERRY_BUF_INIT;
	int error = ferry_envelope_open(&payload, info, env->ptr, env->size, &trust);

	if (!error)
		assert_string_equal(payload.ptr, "{\"hello\":1}");
	else
		assert_int_equal(payload.size, 0);
	ferry_buf_dispose(&payload);
	return error;
}

static void test_bundle_envelope__two_of_three(void **state)
{
	fixture *f = *state;
	ferry_buf env = FERRY_BUF_INIT;
	ferry_envelope_info info;
	ferry_key *signers[2] = { f->k[0], f->k[2] };

	assert_int_equal(ferry_envelope_sign(&env, "{\"hello\":1}", 11, signers, 2), 0);
	assert_int_equal(open_with(&env, f, 3, 2, &info), 0);
	assert_int_equal(info.nsigners, 2);
	assert_error(open_with(&env, f, 3, 3, &info), FERRY_EVERIFY,
		     "signature threshold 3 not met");
	/* Trusting only key 1 (which did not sign): nothing counts. */
	{
		const ferry_pubkey *only[1] = { f->p[1] };
		ferry_trust t = { only, 1, 1 };
		ferry_buf payload = FERRY_BUF_INIT;

		assert_error(ferry_envelope_open(&payload, &info, env.ptr, env.size, &t),
			     FERRY_EVERIFY, "0 of 2 signature(s) are from trusted keys");
		ferry_buf_dispose(&payload);
	}
	ferry_buf_dispose(&env);
}

static void test_bundle_envelope__refuses_same_key_twice_when_signing(void **state)
{
	fixture *f = *state;
	ferry_buf env = FERRY_BUF_INIT;
	ferry_key *signers[2] = { f->k[0], f->k[0] };

	assert_error(ferry_envelope_sign(&env, "x", 1, signers, 2), FERRY_EINVALID,
		     "given twice");
	ferry_buf_dispose(&env);
}

static void check_malformed(fixture *f, const char *text, int code, const char *msg)
{
	ferry_buf env = FERRY_BUF_INIT;
	ferry_envelope_info info;

	assert_int_equal(ferry_buf_puts(&env, text), 0);
	assert_error(open_with(&env, f, 1, 1, &info), code, msg);
	ferry_buf_dispose(&env);
}

static void test_bundle_envelope__rejects_malformed(void **state)
{
	fixture *f = *state;

	check_malformed(f, "not json", FERRY_EINVALID, "envelope is not valid JSON");
	check_malformed(f, "[]", FERRY_EINVALID, "not a JSON object");
	check_malformed(f, "{\"payloadType\":\"application/vnd.in-toto+json\","
			   "\"payload\":\"e30=\"}", FERRY_EINVALID,
			"missing field 'signatures'");
	check_malformed(f, "{\"payloadType\":\"application/vnd.in-toto+json\","
			   "\"payload\":\"e30=\",\"signatures\":[]}", FERRY_EINVALID,
			"between 1 and 64 signatures");
	check_malformed(f, "{\"payloadType\":\"application/vnd.in-toto+json\","
			   "\"payload\":\"!!!\",\"signatures\":[{\"keyid\":\"0000000000000000\",\"sig\":\"\"}]}",
			FERRY_EINVALID, "payload is not base64");
	check_malformed(f, "{\"payloadType\":\"application/vnd.in-toto+json\","
			   "\"payload\":\"e30=\",\"signatures\":[{\"keyid\":\"short\",\"sig\":\"\"}]}",
			FERRY_EINVALID, "malformed key id");
	check_malformed(f, "{\"payloadType\":\"text/plain\",\"payload\":\"e30=\","
			   "\"signatures\":[{\"keyid\":\"0000000000000000\",\"sig\":\"\"}]}",
			FERRY_EUNSUPPORTED, "unknown envelope version");
	check_malformed(f, "{\"payloadType\":\"application/vnd.in-toto+json\","
			   "\"payload\":\"e30=\",\"signatures\":[],\"extra\":1}",
			FERRY_EINVALID, "fields other than");
}

static void test_bundle_envelope__bad_signature_from_trusted_key(void **state)
{
	fixture *f = *state;
	ferry_buf env = FERRY_BUF_INIT;
	ferry_envelope_info info;
	char *sig;

	assert_int_equal(ferry_envelope_sign(&env, "{\"hello\":1}", 11, &f->k[0], 1), 0);
	sig = strstr(env.ptr, "\"sig\":\"") + 7;
	sig[5] = sig[5] == 'A' ? 'B' : 'A';
	assert_error(open_with(&env, f, 1, 1, &info), FERRY_EVERIFY, "does not verify");
	ferry_buf_dispose(&env);
}

static void test_bundle_key__files_are_minisign_shaped(void **state)
{
	fixture *f = *state;
	ferry_buf text = FERRY_BUF_INIT;
	struct stat st;
	char line[128];

	assert_int_equal(stat(test_path(f->dir, "k0.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ferry_fs_read_file(&text, test_path(f->dir, "k0.pub"), 4096), 0);
	snprintf(line, sizeof(line), "untrusted comment: minisign public key %s\n",
		 ferry_pubkey_id(f->p[0]));
	assert_int_equal(strncmp(text.ptr, line, strlen(line)), 0);
	assert_string_equal(ferry_pubkey_id(ferry_key_public(f->k[0])),
			    ferry_pubkey_id(f->p[0]));
	assert_int_equal(ferry_key_generate(test_path(f->dir, "k0"), 0), FERRY_EEXISTS);
	ferry_buf_dispose(&text);
}

/* Rewrite key file `from` into `to` with raw byte `at` set to `value`. */
static void damage_key(const char *from, const char *to, size_t at,
		       unsigned char value)
{
	ferry_buf text = FERRY_BUF_INIT, out = FERRY_BUF_INIT;
	unsigned char raw[256];
	char b64[512];
	size_t len = 0;
	char *line;

	assert_int_equal(ferry_fs_read_file(&text, from, 4096), 0);
	line = strchr(text.ptr, '\n') + 1;
	line[strcspn(line, "\n")] = '\0';
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), line, strlen(line), NULL,
					   &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_true(at < len);
	raw[at] = value;
	sodium_bin2base64(b64, sizeof(b64), raw, len, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(ferry_buf_printf(&out, "untrusted comment: damaged\n%s\n", b64), 0);
	remove(to);
	assert_int_equal(ferry_fs_write_atomic(to, out.ptr, out.size, 0600), 0);
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&out);
}

static void test_bundle_key__rejects_damaged_or_encrypted_keys(void **state)
{
	fixture *f = *state;
	ferry_key *key = NULL;
	ferry_pubkey *pub = NULL;
	const char *good = test_path(f->dir, "k1.key"), *bad = test_path(f->dir, "bad.key");

	damage_key(good, bad, 2, 'S');          /* kdf "S\0": encrypted */
	assert_error(ferry_key_load(&key, bad), FERRY_EUNSUPPORTED, "password-protected");
	damage_key(good, bad, 0, 'X');          /* algorithm */
	assert_error(ferry_key_load(&key, bad), FERRY_EUNSUPPORTED,
		     "unsupported signature algorithm");
	damage_key(good, bad, 54 + 8 + 10, 0);  /* inside the secret key */
	assert_error(ferry_key_load(&key, bad), FERRY_ECORRUPT, "checksum mismatch");
	/* minisign -G -W leaves the checksum zero: accepted when the key is whole */
	{
		size_t i;

		damage_key(good, bad, 54 + 8 + 64, 0);
		for (i = 1; i < 32; i++)
			damage_key(bad, bad, 54 + 8 + 64 + i, 0);
		assert_int_equal(ferry_key_load(&key, bad), 0);
		ferry_key_free(key);
		key = NULL;
		damage_key(bad, bad, 54 + 8 + 40, 0x5a);  /* public half of sk */
		assert_error(ferry_key_load(&key, bad), FERRY_ECORRUPT,
			     "public half does not match its seed");
	}
	damage_key(test_path(f->dir, "k1.pub"), bad, 0, 'X');
	assert_error(ferry_pubkey_load(&pub, bad), FERRY_EUNSUPPORTED,
		     "unsupported signature algorithm");
	assert_error(ferry_pubkey_load(&pub, test_path(f->dir, "k1.key")), FERRY_EINVALID,
		     "does not hold a key of the expected kind");
	assert_error(ferry_pubkey_load(&pub, test_path(f->dir, "missing.pub")),
		     FERRY_ENOTFOUND, "cannot open");
	assert_null(key);
	assert_null(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_bundle_envelope__two_of_three),
		T(test_bundle_envelope__refuses_same_key_twice_when_signing),
		T(test_bundle_envelope__rejects_malformed),
		T(test_bundle_envelope__bad_signature_from_trusted_key),
		T(test_bundle_key__files_are_minisign_shaped),
		T(test_bundle_key__rejects_damaged_or_encrypted_keys),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
