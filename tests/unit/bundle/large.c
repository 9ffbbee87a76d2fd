/*
 * Entries of 1 MiB and more, which the reader reads in place into its
 * hashing pipe: a sink gets every byte in order, on the worker (data_async)
 * or on the caller's thread (data); a flipped byte is a digest mismatch; a
 * cut inside the data, or right after it, is refused and named.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "members.h"
#include "testlib.h"

#define NLARGE 2

static const char A[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char B[] = "{\"schemaVersion\":2,\"manifests\":[]}";
/* Not multiples of the pipe's slot: the last chunk of each is short. */
static const size_t SIZES[NLARGE] = { (5u << 20) / 2 + 77, (1u << 20) + 4096 + 3 };

typedef struct {
	char *dir;
	ferry_key *key;
	ferry_pubkey *pub;
	unsigned char *large[NLARGE];
	char member[NLARGE][FERRY_BLOB_MEMBER_SIZE];   /* their member paths */
	const char *path;           /* the bundle */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ferry_member_source src[2 + NLARGE];
	ferry_manifest *m;
	char hex[65];
	size_t i, k;

	f->dir = test_mkdtemp();
	test_keypair(f->dir, "k", &f->key, &f->pub);
	m = forge_manifest(A, B);
	m->version = FERRY_BUNDLE_FORMAT_VERSION;
	ferry_manifest_clear_volumes(m);
	memset(src, 0, sizeof(src));
	src[0].data = A;
	src[1].data = B;
	for (i = 0; i < NLARGE; i++) {
		f->large[i] = malloc(SIZES[i]);
		assert_non_null(f->large[i]);
		for (k = 0; k < SIZES[i]; k++)
			f->large[i][k] = (unsigned char)(k * 13 + i * 5 + k / 4099);
		ferry_sha256_hex(hex, f->large[i], SIZES[i]);
		ferry_bundle_blob_member(f->member[i], hex);
		assert_int_equal(ferry_manifest_add_member(m, f->member[i], SIZES[i], hex), 0);
		src[2 + i].data = f->large[i];
	}
	f->path = test_write_bundle(m, src, f->dir, "b", f->key);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	size_t i;

	for (i = 0; i < NLARGE; i++)
		free(f->large[i]);
	ferry_key_free(f->key);
	ferry_pubkey_free(f->pub);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

static int read_into(fixture *f, test_assembler *a, int async)
{
	ferry_bundle_sink sink = test_assembler_sink(a, async);

	return read_with_sink(f->path, f->pub, &sink);
}

static void test_bundle_large__async_sink_gets_every_byte_on_the_worker(void **state)
{
	fixture *f = *state;
	test_assembler a;
	size_t i;

	assert_int_equal(read_into(f, &a, 1), 0);
	assert_memory_equal(a.out[0], A, sizeof(A) - 1);
	assert_memory_equal(a.out[1], B, sizeof(B) - 1);
	for (i = 0; i < NLARGE; i++)
		assert_memory_equal(a.out[2 + i], f->large[i], SIZES[i]);
	/* small entries through data, large ones through data_async */
	assert_true(a.data_calls > 0);
	assert_int_equal(a.async_calls, 3 + 2);   /* ceil(size / 1 MiB) each */
	assert_int_equal(a.on_caller, 0);
	assert_int_equal(a.out_of_order, 0);
	test_assembler_dispose(&a);
}

static void test_bundle_large__plain_sink_gets_every_byte(void **state)
{
	fixture *f = *state;
	test_assembler a;
	size_t i;

	assert_int_equal(read_into(f, &a, 0), 0);
	for (i = 0; i < NLARGE; i++)
		assert_memory_equal(a.out[2 + i], f->large[i], SIZES[i]);
	assert_int_equal(a.async_calls, 0);
	test_assembler_dispose(&a);
}

/* Offset of the first large member's data in the bundle file. */
static long large_offset(fixture *f)
{
	FILE *fp = fopen(f->path, "rb");
	unsigned char block[512];
	long at = 0;

	assert_non_null(fp);
	while (fread(block, 1, sizeof(block), fp) == sizeof(block)) {
		if (!memcmp(block, f->large[0], sizeof(block)))
			break;
		at += (long)sizeof(block);
	}
	fclose(fp);
	return at;
}

static void patch_byte(const char *path, long at)
{
	FILE *fp = fopen(path, "r+b");
	int c;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, at, SEEK_SET), 0);
	c = fgetc(fp);
	assert_int_equal(fseek(fp, at, SEEK_SET), 0);
	fputc(c ^ 0x20, fp);
	fclose(fp);
}

static void test_bundle_large__flipped_byte_is_a_digest_mismatch(void **state)
{
	fixture *f = *state;
	long at = large_offset(f);
	test_assembler a;

	assert_true(at > 0);
	patch_byte(f->path, at + (long)SIZES[0] / 2);
	assert_error(read_into(f, &a, 1), FERRY_ECORRUPT, "does not match its digest");
	assert_non_null(strstr(ferry_error_last(), f->member[0]));
	test_assembler_dispose(&a);
	patch_byte(f->path, at + (long)SIZES[0] / 2);   /* as it was */
	assert_int_equal(read_with_key(f->path, f->pub), 0);
}

static void test_bundle_large__cut_inside_the_data_is_named(void **state)
{
	fixture *f = *state;
	long at = large_offset(f);
	test_assembler a;

	assert_int_equal(truncate(f->path, at + (long)SIZES[0] - 1000), 0);
	assert_error(read_into(f, &a, 1), FERRY_ECORRUPT, "bundle is truncated in member");
	assert_non_null(strstr(ferry_error_last(), f->member[0]));
	test_assembler_dispose(&a);
	/* the same through the plain sink, and with no sink */
	assert_error(read_into(f, &a, 0), FERRY_ECORRUPT, "bundle is truncated in member");
	test_assembler_dispose(&a);
	assert_int_not_equal(read_with_key(f->path, f->pub), 0);
}

static void test_bundle_large__cut_after_the_data_is_refused(void **state)
{
	fixture *f = *state;
	long at = large_offset(f);
	test_assembler a;

	/* The data is whole; its padding and everything after it are gone. */
	assert_int_equal(truncate(f->path, at + (long)SIZES[0]), 0);
	assert_int_not_equal(read_into(f, &a, 1), 0);
	test_assembler_dispose(&a);
	assert_int_not_equal(read_with_key(f->path, f->pub), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bundle_large__async_sink_gets_every_byte_on_the_worker,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_large__plain_sink_gets_every_byte,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_large__flipped_byte_is_a_digest_mismatch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_large__cut_inside_the_data_is_named,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_large__cut_after_the_data_is_refused,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
