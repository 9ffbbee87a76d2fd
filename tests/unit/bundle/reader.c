/*
 * The bundle reader against forged bundles: one test per rejection the
 * format requires, each asserting the error code and the message that
 * names the problem, plus the valid baseline.
 */
#include <stdlib.h>
#include <string.h>

#include <archive_entry.h>
#include <jansson.h>
#include <unistd.h>

#include "envelope.h"
#include "testlib.h"

static const char A[] = TEST_LAYOUT_JSON;
static const char B[] = TEST_INDEX_JSON;

typedef struct {
	char *dir;
	ferry_key *key, *key2;
	ferry_pubkey *pub, *pub2;
	ferry_manifest *m;
	ferry_buf env;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	f->dir = test_mkdtemp();
	test_keypair(f->dir, "k1", &f->key, &f->pub);
	test_keypair(f->dir, "k2", &f->key2, &f->pub2);
	f->m = forge_manifest(A, B);
	forge_envelope(&f->env, f->m, &f->key, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ferry_buf_dispose(&f->env);
	ferry_manifest_free(f->m);
	ferry_key_free(f->key);
	ferry_key_free(f->key2);
	ferry_pubkey_free(f->pub);
	ferry_pubkey_free(f->pub2);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

#define MANIFEST(f) { "ferry-manifest.dsse.json", (f)->env.ptr, (f)->env.size, 0, NULL, NULL }
#define FILE_A { "oci-layout", A, sizeof(A) - 1, 0, NULL, NULL }
#define FILE_B { "index.json", B, sizeof(B) - 1, 0, NULL, NULL }

static long file_size(const char *path)
{
	FILE *fp = fopen(path, "rb");
	long size;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fclose(fp);
	return size;
}

static int read_forged(fixture *f, const forge_entry *e, size_t n)
{
	const char *path = test_path(f->dir, "b.tar");

	forge_tar(path, e, n);
	return read_with_key(path, f->pub);
}

static void test_bundle_reader__accepts_valid_bundle(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A, FILE_B };

	assert_int_equal(read_forged(f, e, 3), 0);
}

static void test_bundle_reader__rejects_unlisted_member(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A, FILE_B,
			    { "extra", "x", 1, 0, NULL, NULL } };

	assert_error(read_forged(f, e, 4), FERRY_EINVALID, "unlisted member 'extra'");
}

static void test_bundle_reader__rejects_duplicate_member(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A, FILE_B, FILE_A };

	assert_error(read_forged(f, e, 4), FERRY_EINVALID,
		     "duplicate member 'oci-layout'");
}

static void test_bundle_reader__rejects_duplicate_manifest(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A, MANIFEST(f), FILE_B };

	assert_error(read_forged(f, e, 4), FERRY_EINVALID,
		     "duplicate member 'ferry-manifest.dsse.json'");
}

static void test_bundle_reader__rejects_missing_member(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A };

	assert_error(read_forged(f, e, 2), FERRY_EINVALID,
		     "missing member 'index.json'");
}

static void test_bundle_reader__rejects_oversized_member(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", B, sizeof(B), 0, NULL, NULL } };

	assert_error(read_forged(f, e, 3), FERRY_ECORRUPT,
		     "oversized member 'index.json'");
}

static void test_bundle_reader__rejects_short_member(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", B, sizeof(B) - 2, 0, NULL, NULL } };

	assert_error(read_forged(f, e, 3), FERRY_ECORRUPT,
		     "member 'index.json' is 33 bytes, the manifest lists 34");
}

static void test_bundle_reader__rejects_out_of_order_member(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_B, FILE_A };

	/* index.json first: it is listed, but not where oci-layout is. The
	 * first entry picks the volume, so it is named as not starting one. */
	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "out-of-order member 'index.json' (expected 'oci-layout')");
}

static void test_bundle_reader__rejects_digest_mismatch(void **state)
{
	fixture *f = *state;
	char bad[sizeof(B)];
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", bad, sizeof(B) - 1, 0, NULL, NULL } };

	memcpy(bad, B, sizeof(B));
	bad[3] ^= 1;
	assert_error(read_forged(f, e, 3), FERRY_ECORRUPT,
		     "member 'index.json' does not match its digest");
}

static void test_bundle_reader__rejects_symlink(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", NULL, 0, AE_IFLNK, "/etc/passwd", NULL } };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "member 'index.json' is a symlink");
}

static void test_bundle_reader__rejects_hardlink(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", NULL, 0, 0, NULL, "oci-layout" } };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "member 'index.json' is a hard link");
}

static void test_bundle_reader__rejects_device(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", NULL, 0, AE_IFCHR, NULL, NULL } };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "member 'index.json' is a character device");
}

static void test_bundle_reader__rejects_fifo(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", NULL, 0, AE_IFIFO, NULL, NULL } };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "member 'index.json' is a FIFO");
}

static void test_bundle_reader__rejects_directory(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", NULL, 0, AE_IFDIR, NULL, NULL } };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "member 'index.json/' is a directory");
}

static void test_bundle_reader__rejects_absolute_path(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A, FILE_B,
			    { "/etc/cron.d/x", "x", 1, 0, NULL, NULL } };

	assert_error(read_forged(f, e, 4), FERRY_EINVALID,
		     "unsafe member path '/etc/cron.d/x'");
}

static void test_bundle_reader__rejects_dotdot_path(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "blobs/../../evil", "x", 1, 0, NULL, NULL } };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "unsafe member path 'blobs/../../evil'");
}

static void test_bundle_reader__rejects_oversized_manifest(void **state)
{
	fixture *f = *state;
	size_t len = FERRY_MANIFEST_MAX_SIZE + 1;
	char *big = calloc(1, len);
	forge_entry e[] = { { "ferry-manifest.dsse.json", big, len, 0, NULL, NULL },
			    FILE_A, FILE_B };

	assert_error(read_forged(f, e, 3), FERRY_ETOOBIG,
		     "signed manifest is 16777217 bytes, over the 16777216 byte limit");
	free(big);
}

static void test_bundle_reader__rejects_manifest_not_first(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { FILE_A, MANIFEST(f), FILE_B };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "first member is 'oci-layout', not the signed manifest");
}

static void test_bundle_reader__rejects_untrusted_key(void **state)
{
	fixture *f = *state;
	ferry_buf env = FERRY_BUF_INIT;
	forge_entry e[] = { { "ferry-manifest.dsse.json", NULL, 0, 0, NULL, NULL },
			    FILE_A, FILE_B };

	forge_envelope(&env, f->m, &f->key2, 1);
	e[0].data = env.ptr;
	e[0].len = env.size;
	assert_error(read_forged(f, e, 3), FERRY_EVERIFY,
		     "signature threshold 1 not met");
	ferry_buf_dispose(&env);
}

/* Replace the signature list of an envelope with `n` copies of its first
 * signature: one key signing "twice". */
static void duplicate_signature(ferry_buf *env)
{
	json_error_t jerr;
	json_t *o = json_loadb(env->ptr, env->size, 0, &jerr);
	json_t *sigs = json_object_get(o, "signatures");
	char *text;

	json_array_append(sigs, json_array_get(sigs, 0));
	text = json_dumps(o, JSON_COMPACT);
	ferry_buf_clear(env);
	assert_int_equal(ferry_buf_puts(env, text), 0);
	free(text);
	json_decref(o);
}

static void test_bundle_reader__rejects_threshold_met_by_one_key_twice(void **state)
{
	fixture *f = *state;
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	const ferry_pubkey *keys[2] = { f->pub, f->pub2 };
	ferry_trust trust = { keys, 2, 2 };
	ferry_read_result res;
	ferry_buf env = FERRY_BUF_INIT;
	const char *path = test_path(f->dir, "dup.tar");
	forge_entry e[] = { { "ferry-manifest.dsse.json", NULL, 0, 0, NULL, NULL },
			    FILE_A, FILE_B };

	forge_envelope(&env, f->m, &f->key, 1);
	duplicate_signature(&env);
	e[0].data = env.ptr;
	e[0].len = env.size;
	forge_tar(path, e, 3);
	ro.trust = &trust;
	assert_error(ferry_bundle_read(&res, path, &ro), FERRY_EVERIFY,
		     "a key that signs twice counts once");
	ferry_read_result_dispose(&res);

	/* Both keys signing meets the same threshold. */
	{
		ferry_key *both[2] = { f->key, f->key2 };

		ferry_buf_clear(&env);
		forge_envelope(&env, f->m, both, 2);
		e[0].data = env.ptr;
		e[0].len = env.size;
		forge_tar(path, e, 3);
		assert_int_equal(ferry_bundle_read(&res, path, &ro), 0);
		assert_int_equal(res.signatures.nsigners, 2);
		ferry_read_result_dispose(&res);
	}
	ferry_buf_dispose(&env);
}

static void test_bundle_reader__rejects_unknown_envelope_version(void **state)
{
	fixture *f = *state;
	ferry_buf env = FERRY_BUF_INIT;
	json_error_t jerr;
	json_t *o = json_loadb(f->env.ptr, f->env.size, 0, &jerr);
	char *text;
	forge_entry e[] = { { "ferry-manifest.dsse.json", NULL, 0, 0, NULL, NULL },
			    FILE_A, FILE_B };

	json_object_set_new(o, "payloadType",
			    json_string("application/vnd.ferry.manifest.v9+json"));
	text = json_dumps(o, JSON_COMPACT);
	assert_int_equal(ferry_buf_puts(&env, text), 0);
	e[0].data = env.ptr;
	e[0].len = env.size;
	assert_error(read_forged(f, e, 3), FERRY_EUNSUPPORTED,
		     "unknown envelope version: payload type "
		     "'application/vnd.ferry.manifest.v9+json'");
	free(text);
	json_decref(o);
	ferry_buf_dispose(&env);
}

static void test_bundle_reader__rejects_unknown_format_version(void **state)
{
	fixture *f = *state;
	ferry_buf payload = FERRY_BUF_INIT, env = FERRY_BUF_INIT;
	char *at;
	forge_entry e[] = { { "ferry-manifest.dsse.json", NULL, 0, 0, NULL, NULL },
			    FILE_A, FILE_B };

	/* A correctly signed statement of a future format version. */
	assert_int_equal(ferry_manifest_to_json(&payload, f->m), 0);
	at = strstr(payload.ptr, "urn:ferry:bundle:v1");
	assert_non_null(at);
	at[strlen("urn:ferry:bundle:v")] = '3';
	assert_int_equal(ferry_envelope_sign(&env, payload.ptr, payload.size,
					     &f->key, 1), 0);
	e[0].data = env.ptr;
	e[0].len = env.size;
	assert_error(read_forged(f, e, 3), FERRY_EUNSUPPORTED,
		     "unsupported bundle format version 'urn:ferry:bundle:v3'");
	ferry_buf_dispose(&payload);
	ferry_buf_dispose(&env);
}

static void test_bundle_reader__rejects_tampered_payload(void **state)
{
	fixture *f = *state;
	ferry_buf env = FERRY_BUF_INIT;
	char *p;
	forge_entry e[] = { { "ferry-manifest.dsse.json", NULL, 0, 0, NULL, NULL },
			    FILE_A, FILE_B };

	assert_int_equal(ferry_buf_put(&env, f->env.ptr, f->env.size), 0);
	p = strstr(env.ptr, "\"payload\":\"") + 20;
	*p = *p == 'A' ? 'B' : 'A';
	e[0].data = env.ptr;
	e[0].len = env.size;
	assert_error(read_forged(f, e, 3), FERRY_EVERIFY, "does not verify");
	ferry_buf_dispose(&env);
}

static void test_bundle_reader__rejects_expired(void **state)
{
	fixture *f = *state;
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	const ferry_pubkey *keys[1] = { f->pub };
	ferry_trust trust = { keys, 1, 1 };
	ferry_read_result res;
	const char *path = test_path(f->dir, "b.tar");
	forge_entry e[] = { MANIFEST(f), FILE_A, FILE_B };

	forge_tar(path, e, 3);
	ro.trust = &trust;
	ro.now = f->m->expires;
	assert_error(ferry_bundle_read(&res, path, &ro), FERRY_EVERIFY,
		     "bundle expired at");
	/* The manifest itself verified, so the caller learns what expired. */
	assert_non_null(res.manifest);
	ferry_read_result_dispose(&res);
}

static void test_bundle_reader__rejects_trailing_garbage(void **state)
{
	fixture *f = *state;
	const char *path = test_path(f->dir, "b.tar");
	forge_entry e[] = { MANIFEST(f), FILE_A, FILE_B };
	FILE *fp;

	forge_tar(path, e, 3);
	fp = fopen(path, "ab");
	fputs("garbage", fp);
	fclose(fp);
	assert_error(read_with_key(path, f->pub), FERRY_EINVALID,
		     "unexpected bytes after the end of the archive");
}

static void test_bundle_reader__rejects_truncation(void **state)
{
	fixture *f = *state;
	const char *path = test_path(f->dir, "b.tar");
	forge_entry e[] = { MANIFEST(f), FILE_A, FILE_B };
	long size;

	forge_tar(path, e, 3);
	size = file_size(path);
	/* Cut inside the last member's data: drop its block and the trailer. */
	assert_int_equal(truncate(path, size - 1024 - 512 + 10), 0);
	assert_int_not_equal(read_with_key(path, f->pub), 0);
	assert_non_null(strstr(ferry_error_last(), "index.json"));
}

static void test_bundle_reader__rejects_setuid_mode(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", B, sizeof(B) - 1, 0, NULL, NULL, 04755, 0 } };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "member 'index.json' has mode 4755 (bundles use 0644)");
}

static void test_bundle_reader__rejects_foreign_owner(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", B, sizeof(B) - 1, 0, NULL, NULL, 0, 1000 } };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "member 'index.json' is owned by 1000:0");
}

static void test_bundle_reader__rejects_owner_names(void **state)
{
	fixture *f = *state;
	forge_entry e[] = { MANIFEST(f), FILE_A,
			    { "index.json", B, sizeof(B) - 1, 0, NULL, NULL, 0, 0, "nobody" } };

	assert_error(read_forged(f, e, 3), FERRY_EINVALID,
		     "member 'index.json' names an owner (nobody:)");
}

static void test_bundle_reader__rejects_missing_end_marker(void **state)
{
	fixture *f = *state;
	const char *path = test_path(f->dir, "b.tar");
	forge_entry e[] = { MANIFEST(f), FILE_A, FILE_B };
	long size;

	forge_tar(path, e, 3);
	size = file_size(path);
	assert_int_equal(read_with_key(path, f->pub), 0);
	assert_int_equal(truncate(path, size - 512), 0);
	assert_error(read_with_key(path, f->pub), FERRY_ECORRUPT,
		     "the end-of-archive marker is missing");
	assert_int_equal(truncate(path, size - 1024), 0);
	assert_error(read_with_key(path, f->pub), FERRY_ECORRUPT,
		     "the end-of-archive marker is missing");
}

static void test_bundle_reader__manifest_only_names_volume(void **state)
{
	fixture *f = *state;
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	ferry_read_result res;
	ferry_part p;
	ferry_buf env = FERRY_BUF_INIT;
	const char *path = test_path(f->dir, "v2.tar");
	forge_entry e[] = { { "ferry-manifest.dsse.json", NULL, 0, 0, NULL, NULL, 0, 0 },
			    FILE_B };

	/* oci-layout alone in volume 1, index.json alone in volume 2. */
	ferry_manifest_clear_volumes(f->m);
	memset(&p, 0, sizeof(p));
	p.whole = 1;
	p.path = f->m->members[0].path;
	p.size = f->m->members[0].size;
	ferry_manifest_add_part(f->m, 0, &p);
	p.member = 1;
	p.path = f->m->members[1].path;
	p.size = f->m->members[1].size;
	ferry_manifest_add_part(f->m, 1, &p);
	forge_envelope(&env, f->m, &f->key, 1);
	e[0].data = env.ptr;
	e[0].len = env.size;
	forge_tar(path, e, 2);
	ro.manifest_only = 1;
	assert_int_equal(ferry_bundle_read(&res, path, &ro), 0);
	assert_int_equal(res.volume, 1);
	assert_int_equal(res.manifest->nvolumes, 2);
	ferry_read_result_dispose(&res);
	assert_int_equal(read_with_key(path, f->pub), 0);
	/* An expired volume is still named as that volume. */
	ro.manifest_only = 0;
	ro.now = f->m->expires + 1;
	assert_error(ferry_bundle_read(&res, path, &ro), FERRY_EVERIFY, "bundle expired");
	assert_int_equal(res.volume, 1);
	ferry_read_result_dispose(&res);
	ferry_buf_dispose(&env);
}

static void test_bundle_reader__rejects_non_tar(void **state)
{
	fixture *f = *state;
	const char *path = test_path(f->dir, "b.tar");
	FILE *fp = fopen(path, "wb");

	fputs("this is not a tar archive at all, not even close", fp);
	fclose(fp);
	assert_error(read_with_key(path, f->pub), FERRY_EINVALID, "is not a tar archive");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_bundle_reader__accepts_valid_bundle),
		T(test_bundle_reader__rejects_unlisted_member),
		T(test_bundle_reader__rejects_duplicate_member),
		T(test_bundle_reader__rejects_duplicate_manifest),
		T(test_bundle_reader__rejects_missing_member),
		T(test_bundle_reader__rejects_oversized_member),
		T(test_bundle_reader__rejects_short_member),
		T(test_bundle_reader__rejects_out_of_order_member),
		T(test_bundle_reader__rejects_digest_mismatch),
		T(test_bundle_reader__rejects_symlink),
		T(test_bundle_reader__rejects_hardlink),
		T(test_bundle_reader__rejects_device),
		T(test_bundle_reader__rejects_fifo),
		T(test_bundle_reader__rejects_directory),
		T(test_bundle_reader__rejects_absolute_path),
		T(test_bundle_reader__rejects_dotdot_path),
		T(test_bundle_reader__rejects_oversized_manifest),
		T(test_bundle_reader__rejects_manifest_not_first),
		T(test_bundle_reader__rejects_untrusted_key),
		T(test_bundle_reader__rejects_threshold_met_by_one_key_twice),
		T(test_bundle_reader__rejects_unknown_envelope_version),
		T(test_bundle_reader__rejects_unknown_format_version),
		T(test_bundle_reader__rejects_tampered_payload),
		T(test_bundle_reader__rejects_expired),
		T(test_bundle_reader__rejects_trailing_garbage),
		T(test_bundle_reader__rejects_truncation),
		T(test_bundle_reader__rejects_setuid_mode),
		T(test_bundle_reader__rejects_foreign_owner),
		T(test_bundle_reader__rejects_owner_names),
		T(test_bundle_reader__rejects_missing_end_marker),
		T(test_bundle_reader__manifest_only_names_volume),
		T(test_bundle_reader__rejects_non_tar),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
