/*
 * The bundle writer: single files and volumes. Volumes must each stay
 * within the size limit, verify on their own in any order, and together
 * reassemble every member byte for byte; a source that does not match its
 * digest must leave no file behind.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "testlib.h"
#include "writer.h"

#define NBIG 3
#define BIG (300 * 1024)

typedef struct {
	char *dir;
	ferry_key *key;
	ferry_pubkey *pub;
	ferry_manifest *m;
	ferry_member_source src[2 + NBIG];
	unsigned char *big[NBIG];
} fixture;

static const char A[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char B[] = "{\"schemaVersion\":2,\"manifests\":[]}";

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char hex[65], path[100];
	int i;
	size_t k;

	f->dir = test_mkdtemp();
	test_keypair(f->dir, "k", &f->key, &f->pub);
	f->m = forge_manifest(A, B);
	f->m->version = FERRY_BUNDLE_FORMAT_VERSION;   /* what ferry writes */
	ferry_manifest_clear_volumes(f->m);
	f->src[0].data = A;
	f->src[1].data = B;
	for (i = 0; i < NBIG; i++) {
		f->big[i] = malloc(BIG);
		for (k = 0; k < BIG; k++)
			f->big[i][k] = (unsigned char)(k * 31 + (size_t)i * 7 + k / 251);
		ferry_sha256_hex(hex, f->big[i], BIG);
		snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
		assert_int_equal(ferry_manifest_add_member(f->m, path, BIG, hex), 0);
		f->src[2 + i].data = f->big[i];
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	int i;

	for (i = 0; i < NBIG; i++)
		free(f->big[i]);
	ferry_manifest_free(f->m);
	ferry_key_free(f->key);
	ferry_pubkey_free(f->pub);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

static int write_bundle(fixture *f, uint64_t max, ferry_write_result *res)
{
	ferry_write_options wo = FERRY_WRITE_OPTIONS_INIT;

	wo.out_dir = f->dir;
	wo.basename = "b";
	wo.max_volume_size = max;
	wo.keys = &f->key;
	wo.nkeys = 1;
	return ferry_bundle_write(res, f->m, f->src, &wo);
}

static void test_bundle_writer__single_file_round_trip(void **state)
{
	fixture *f = *state;
	ferry_write_result res;

	assert_int_equal(write_bundle(f, 0, &res), 0);
	assert_int_equal(res.npaths, 1);
	assert_string_equal(res.paths[0], test_path(f->dir, "b.tar"));
	assert_int_equal(read_with_key(res.paths[0], f->pub), 0);
	assert_true(access(test_path(f->dir, "b.tar.minisig"), F_OK) == 0);
	ferry_write_result_dispose(&res);
}

static void test_bundle_writer__volumes_respect_limit_and_reassemble(void **state)
{
	fixture *f = *state;
	const uint64_t max = 256 * 1024;
	ferry_write_result res;
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	const ferry_pubkey *keys[1] = { f->pub };
	ferry_trust trust = { keys, 1, 1 };
	test_assembler a;
	ferry_bundle_sink sink = test_assembler_sink(&a, 0);
	ferry_verify_report rep;
	const char *order[16];
	size_t i, n;
	struct stat st;

	assert_int_equal(write_bundle(f, max, &res), 0);
	assert_true(res.npaths >= 3);
	for (i = 0; i < res.npaths; i++) {
		assert_int_equal(stat(res.paths[i], &st), 0);
		assert_true((uint64_t)st.st_size <= max);
	}

	/* Every volume verifies alone and feeds the sink; read in reverse. */
	ro.trust = &trust;
	ro.sink = &sink;
	for (i = res.npaths; i-- > 0;) {
		ferry_read_result rr;

		assert_int_equal(ferry_bundle_read(&rr, res.paths[i], &ro), 0);
		assert_int_equal(rr.volume, i);
		ferry_read_result_dispose(&rr);
	}
	assert_true(a.pieces > 0);
	assert_memory_equal(a.out[0], A, sizeof(A) - 1);
	assert_memory_equal(a.out[1], B, sizeof(B) - 1);
	for (i = 0; i < NBIG; i++) {
		assert_memory_equal(a.out[2 + i], f->big[i], BIG);
	}
	test_assembler_dispose(&a);

	/* A set given out of order verifies; one missing volume is named. */
	n = res.npaths;
	for (i = 0; i < n; i++)
		order[i] = res.paths[(i + 1) % n];
	ro.sink = NULL;
	assert_int_equal(ferry_bundle_verify(&rep, order, n, &ro), 0);
	assert_int_equal(rep.nbundles, 1);
	assert_true(rep.bundles[0].complete);
	ferry_verify_report_dispose(&rep);
	order[0] = res.paths[0];
	assert_error(ferry_bundle_verify(&rep, order, n - 1, &ro), FERRY_EVERIFY,
		     "volume 2 of");
	assert_non_null(strstr(ferry_error_last(), "is missing"));
	ferry_verify_report_dispose(&rep);
	ferry_write_result_dispose(&res);
}

static void test_bundle_writer__rejects_tiny_volumes(void **state)
{
	fixture *f = *state;
	ferry_write_result res;

	assert_error(write_bundle(f, 1000, &res), FERRY_EINVALID, "is too small");
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while ((e = readdir(d)))
		if (strncmp(e->d_name, "b.", 2) == 0)
			n++;
	closedir(d);
	return n;
}

static void test_bundle_writer__corrupt_source_leaves_nothing(void **state)
{
	fixture *f = *state;
	ferry_write_result res;

	f->big[1][1000] ^= 0xff;
	assert_error(write_bundle(f, 0, &res), FERRY_ECORRUPT,
		     "does not match its digest");
	assert_int_equal(count_files(f->dir), 0);
	assert_error(write_bundle(f, 256 * 1024, &res), FERRY_ECORRUPT,
		     "does not match its digest");
	assert_int_equal(count_files(f->dir), 0);
	f->big[1][1000] ^= 0xff;
}

static void test_bundle_writer__refuses_to_overwrite(void **state)
{
	fixture *f = *state;
	ferry_write_result res;

	assert_int_equal(write_bundle(f, 0, &res), 0);
	ferry_write_result_dispose(&res);
	assert_error(write_bundle(f, 0, &res), FERRY_EEXISTS, "already exists");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_bundle_writer__single_file_round_trip),
		T(test_bundle_writer__volumes_respect_limit_and_reassemble),
		T(test_bundle_writer__rejects_tiny_volumes),
		T(test_bundle_writer__corrupt_source_leaves_nothing),
		T(test_bundle_writer__refuses_to_overwrite),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
