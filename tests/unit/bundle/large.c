/*
 * Entries of 1 MiB and more, which the reader reads in place into its
 * hashing pipe: a sink gets every byte in order, on the worker (data_async)
 * or on the caller's thread (data); a flipped byte is a digest mismatch; a
 * cut inside the data, or right after it, is refused and named.
 */
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "testlib.h"
#include "writer.h"

#define NLARGE 2

static const char A[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char B[] = "{\"schemaVersion\":2,\"manifests\":[]}";
/* Not multiples of the pipe's slot: the last chunk of each is short. */
static const size_t SIZES[NLARGE] = { (5u << 20) / 2 + 77, (1u << 20) + 4096 + 3 };

typedef struct {
	char *dir;
	ferry_key *key;
	ferry_pubkey *pub;
	ferry_manifest *m;
	ferry_member_source src[2 + NLARGE];
	unsigned char *large[NLARGE];
	char *path;   /* the bundle */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ferry_write_options wo = FERRY_WRITE_OPTIONS_INIT;
	ferry_write_result res;
	char hex[65], path[100];
	size_t i, k;

	f->dir = test_mkdtemp();
	test_keypair(f->dir, "k", &f->key, &f->pub);
	f->m = forge_manifest(A, B);
	f->m->version = FERRY_BUNDLE_FORMAT_VERSION;
	ferry_manifest_clear_volumes(f->m);
	f->src[0].data = A;
	f->src[1].data = B;
	for (i = 0; i < NLARGE; i++) {
		f->large[i] = malloc(SIZES[i]);
		assert_non_null(f->large[i]);
		for (k = 0; k < SIZES[i]; k++)
			f->large[i][k] = (unsigned char)(k * 13 + i * 5 + k / 4099);
		ferry_sha256_hex(hex, f->large[i], SIZES[i]);
		snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
		assert_int_equal(ferry_manifest_add_member(f->m, path, SIZES[i], hex), 0);
		f->src[2 + i].data = f->large[i];
	}
	wo.out_dir = f->dir;
	wo.basename = "b";
	wo.keys = &f->key;
	wo.nkeys = 1;
	assert_int_equal(ferry_bundle_write(&res, f->m, f->src, &wo), 0);
	assert_int_equal(res.npaths, 1);
	f->path = strdup(res.paths[0]);
	ferry_write_result_dispose(&res);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	size_t i;

	for (i = 0; i < NLARGE; i++)
		free(f->large[i]);
	free(f->path);
	ferry_manifest_free(f->m);
	ferry_key_free(f->key);
	ferry_pubkey_free(f->pub);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* A sink that reassembles members and checks the order of the chunks. */
typedef struct {
	unsigned char *out[2 + NLARGE];
	size_t member;
	uint64_t at;
	size_t async_calls, data_calls, out_of_order;
	pthread_t caller;
	size_t on_caller;   /* data_async calls on the caller's thread */
} assembler;

static int asm_begin(void *p, const ferry_manifest *m, size_t volume,
		     const ferry_part *part)
{
	assembler *a = p;

	(void)volume;
	a->member = part->member;
	a->at = 0;
	a->out[part->member] = calloc(1, m->members[part->member].size + 1);
	return a->out[part->member] ? 0 : FERRY_ENOMEM;
}

static int asm_data(void *p, const void *buf, size_t len)
{
	assembler *a = p;

	a->data_calls++;
	memcpy(a->out[a->member] + a->at, buf, len);
	a->at += len;
	return 0;
}

static void asm_data_async(void *p, const void *buf, size_t len, uint64_t at)
{
	assembler *a = p;

	a->async_calls++;
	if (pthread_equal(pthread_self(), a->caller))
		a->on_caller++;
	if (at != a->at || at % 4096)
		a->out_of_order++;
	memcpy(a->out[a->member] + at, buf, len);
	a->at = at + len;
}

static int asm_end(void *p, int error)
{
	(void)p;
	return error;
}

static int read_into(fixture *f, assembler *a, int async)
{
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	const ferry_pubkey *keys[1] = { f->pub };
	ferry_trust trust = { keys, 1, 1 };
	ferry_bundle_sink sink = { asm_begin, asm_data, asm_end, NULL, NULL };
	ferry_read_result rr;
	int error;

	memset(a, 0, sizeof(*a));
	a->caller = pthread_self();
	sink.payload = a;
	if (async)
		sink.data_async = asm_data_async;
	ro.trust = &trust;
	ro.sink = &sink;
	error = ferry_bundle_read(&rr, f->path, &ro);
	ferry_read_result_dispose(&rr);
	return error;
}

static void free_out(assembler *a)
{
	size_t i;

	for (i = 0; i < 2 + NLARGE; i++)
		free(a->out[i]);
}

static void test_bundle_large__async_sink_gets_every_byte_on_the_worker(void **state)
{
	fixture *f = *state;
	assembler a;
	size_t i;

	assert_int_equal(read_into(f, &a, 1), 0);
	assert_memory_equal(a.out[0], A, sizeof(A) - 1);
	assert_memory_equal(a.out[1], B, sizeof(B) - 1);
	for (i = 0; i < NLARGE; i++)
		assert_memory_equal(a.out[2 + i], f->large[i], SIZES[i]);
	/* small entries through data, large ones through data_async */
	assert_int_equal(a.data_calls > 0, 1);
	assert_int_equal(a.async_calls, 3 + 2);   /* ceil(size / 1 MiB) each */
	assert_int_equal(a.on_caller, 0);
	assert_int_equal(a.out_of_order, 0);
	free_out(&a);
}

static void test_bundle_large__plain_sink_gets_every_byte(void **state)
{
	fixture *f = *state;
	assembler a;
	size_t i;

	assert_int_equal(read_into(f, &a, 0), 0);
	for (i = 0; i < NLARGE; i++)
		assert_memory_equal(a.out[2 + i], f->large[i], SIZES[i]);
	assert_int_equal(a.async_calls, 0);
	free_out(&a);
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
	assembler a;

	assert_true(at > 0);
	patch_byte(f->path, at + (long)SIZES[0] / 2);
	assert_error(read_into(f, &a, 1), FERRY_ECORRUPT, "does not match its digest");
	assert_non_null(strstr(ferry_error_last(), f->m->members[2].path));
	free_out(&a);
	patch_byte(f->path, at + (long)SIZES[0] / 2);   /* as it was */
	assert_int_equal(read_with_key(f->path, f->pub), 0);
}

static void test_bundle_large__cut_inside_the_data_is_named(void **state)
{
	fixture *f = *state;
	long at = large_offset(f);
	assembler a;

	assert_int_equal(truncate(f->path, at + (long)SIZES[0] - 1000), 0);
	assert_error(read_into(f, &a, 1), FERRY_ECORRUPT, "bundle is truncated in member");
	assert_non_null(strstr(ferry_error_last(), f->m->members[2].path));
	free_out(&a);
	/* the same through the plain sink, and with no sink */
	assert_error(read_into(f, &a, 0), FERRY_ECORRUPT, "bundle is truncated in member");
	free_out(&a);
	assert_int_not_equal(read_with_key(f->path, f->pub), 0);
}

static void test_bundle_large__cut_after_the_data_is_refused(void **state)
{
	fixture *f = *state;
	long at = large_offset(f);
	assembler a;

	/* The data is whole; its padding and everything after it are gone. */
	assert_int_equal(truncate(f->path, at + (long)SIZES[0]), 0);
	assert_int_not_equal(read_into(f, &a, 1), 0);
	free_out(&a);
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
