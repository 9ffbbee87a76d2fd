/*
 * Import of incremental bundles: a bundle whose prerequisites the store
 * lacks names each missing blob and the base sequence, and changes nothing;
 * with its base imported first (or given in the same import) it publishes.
 */
#include <dirent.h>
#include <time.h>

#include "hash.h"
#include "import.h"
#include "testlib.h"
#include "trust.h"
#include "writer.h"

typedef struct {
	char *dir;
	ferry_key *key;
	ferry_pubkey *pub;
	ferry_store *st;
	char base_blob[65], new_blob[65];
} fixture;

/* Two blobs; each is an empty image index, so a binding to it is well
 * formed and complete. */
#define EMPTY_INDEX(what) "{\"schemaVersion\":2,\"mediaType\":" \
	"\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]," \
	"\"annotations\":{\"what\":\"" what "\"}}"
static const char BASE[] = EMPTY_INDEX("blob that the base bundle carried");
static const char NEW[] = EMPTY_INDEX("blob added by the incremental bundle");
static const char LAYOUT[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ferry_trust_root *root = NULL;

	f->dir = test_mkdtemp();
	test_keypair(f->dir, "k", &f->key, &f->pub);
	assert_int_equal(ferry_store_open(&f->st, test_path(f->dir, "store"),
					  FERRY_STORE_CREATE, 0), 0);
	assert_int_equal(ferry_trust_root_new(&root, 1, time(NULL) + 86400, 1, &f->pub, 1), 0);
	assert_int_equal(ferry_trust_init(f->st, root), 0);
	ferry_trust_root_free(root);
	ferry_sha256_hex(f->base_blob, BASE, strlen(BASE));
	ferry_sha256_hex(f->new_blob, NEW, strlen(NEW));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ferry_store_close(f->st);
	ferry_key_free(f->key);
	ferry_pubkey_free(f->pub);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* Write bundle `name`: sequence `seq` carrying `blob` (and requiring
 * `prereq` when given). */
static const char *write_bundle(fixture *f, const char *name, uint64_t seq,
				const char *content, const char *blob_hex,
				const char *prereq_hex)
{
	ferry_manifest *m = NULL;
	ferry_member_source src[2];
	char hex[65], path[80];

	assert_int_equal(ferry_manifest_new(&m, "inc"), 0);
	m->sequence = seq;
	m->base_sequence = prereq_hex ? seq - 1 : 0;
	m->created = time(NULL) - 10 + (int64_t)seq;
	m->expires = m->created + 86400;
	ferry_sha256_hex(hex, LAYOUT, strlen(LAYOUT));
	assert_int_equal(ferry_manifest_add_member(m, "oci-layout", strlen(LAYOUT), hex), 0);
	snprintf(path, sizeof(path), "blobs/sha256/%s", blob_hex);
	assert_int_equal(ferry_manifest_add_member(m, path, strlen(content), blob_hex), 0);
	if (prereq_hex) {
		char *p = malloc(80);

		snprintf(p, 80, "sha256:%s", prereq_hex);
		m->prereq_blobs = malloc(sizeof(char *));
		m->prereq_blobs[0] = p;
		m->nprereq_blobs = 1;
	}
	memset(src, 0, sizeof(src));
	src[0].data = LAYOUT;
	src[1].data = content;
	return test_write_bundle(m, src, f->dir, name, f->key);
}

static size_t count_blobs(fixture *f)
{
	DIR *d = opendir(test_path(f->dir, "store/blobs/sha256"));
	struct dirent *e;
	size_t n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int import_files(fixture *f, const char *const *paths, size_t n)
{
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	ferry_import_result res;
	int error;

	ferry_error_clear();
	error = ferry_import(&res, f->st, paths, n, &io);
	ferry_import_result_dispose(&res);
	return error;
}

static void test_import__incremental_without_base_names_what_is_missing(void **state)
{
	fixture *f = *state;
	char inc[4096], want[200];
	const char *paths[1];
	int64_t seq;

	snprintf(inc, sizeof(inc), "%s", write_bundle(f, "inc2", 2, NEW, f->new_blob,
							f->base_blob));
	paths[0] = inc;
	snprintf(want, sizeof(want), "lacks 1 blob(s) it needs: sha256:%s", f->base_blob);
	assert_error(import_files(f, paths, 1), FERRY_EVERIFY, want);
	assert_non_null(strstr(ferry_error_last(), "builds on sequence 1"));
	assert_non_null(strstr(ferry_error_last(), "import the channel's bundles up to sequence 1 first"));
	assert_int_equal(count_blobs(f), 0);
	assert_int_equal(ferry_store_meta_get(&seq, f->st, "newest_created"), 0);
	assert_int_equal(seq, 0);
}

static void test_import__incremental_after_its_base(void **state)
{
	fixture *f = *state;
	char base[4096], inc[4096];
	const char *paths[2];

	snprintf(base, sizeof(base), "%s", write_bundle(f, "base1", 1, BASE, f->base_blob, NULL));
	snprintf(inc, sizeof(inc), "%s", write_bundle(f, "inc2", 2, NEW, f->new_blob,
							f->base_blob));
	paths[0] = base;
	assert_int_equal(import_files(f, paths, 1), 0);
	paths[0] = inc;
	assert_int_equal(import_files(f, paths, 1), 0);
	assert_int_equal(count_blobs(f), 2);
	assert_true(ferry_store_has_blob(f->st, f->new_blob));
}

static void test_import__incremental_with_its_base_in_one_import(void **state)
{
	fixture *f = *state;
	char base[4096], inc[4096];
	const char *paths[2];

	snprintf(base, sizeof(base), "%s", write_bundle(f, "base1", 1, BASE, f->base_blob, NULL));
	snprintf(inc, sizeof(inc), "%s", write_bundle(f, "inc2", 2, NEW, f->new_blob,
							f->base_blob));
	paths[0] = inc;   /* order given does not matter */
	paths[1] = base;
	assert_int_equal(import_files(f, paths, 2), 0);
	assert_int_equal(count_blobs(f), 2);
}

/* A bundle on `channel` created at `created`, carrying BASE and binding
 * `ref` to `digest_hex` (which it carries only when it is BASE's). */
static const char *write_bound(fixture *f, const char *name, const char *channel,
			       int64_t created, const char *ref, const char *digest_hex)
{
	/* carry the content the binding names when it is one of ours */
	const char *content = !strcmp(digest_hex, f->new_blob) ? NEW : BASE;
	const char *content_hex = content == NEW ? f->new_blob : f->base_blob;
	ferry_manifest *m = NULL;
	ferry_member_source src[1];
	char path[80], digest[80];

	assert_int_equal(ferry_manifest_new(&m, channel), 0);
	m->sequence = 1;
	m->created = created;
	m->expires = created + 86400 * 10;
	snprintf(path, sizeof(path), "blobs/sha256/%s", content_hex);
	assert_int_equal(ferry_manifest_add_member(m, path, strlen(content), content_hex), 0);
	snprintf(digest, sizeof(digest), "sha256:%s", digest_hex);
	assert_int_equal(ferry_manifest_add_image(m, ref, digest,
						  "application/vnd.oci.image.index.v1+json"), 0);
	memset(src, 0, sizeof(src));
	src[0].data = content;
	return test_write_bundle(m, src, f->dir, name, f->key);
}

static void test_import__binding_to_absent_content_is_refused(void **state)
{
	fixture *f = *state;
	char b[4096];
	const char *paths[1] = { b };

	snprintf(b, sizeof(b), "%s", write_bound(f, "ghost", "g", time(NULL) - 5,
						 "library/ghost:v1",
						 "1111111111111111111111111111111111111111111111111111111111111111"));
	assert_error(import_files(f, paths, 1), FERRY_EVERIFY,
		     "binds 'library/ghost:v1' to sha256:");
	assert_non_null(strstr(ferry_error_last(), "neither the bundle nor the store holds"));
	assert_int_equal(count_blobs(f), 0);
}

static void test_import__creation_far_in_the_future_is_refused(void **state)
{
	fixture *f = *state;
	char b[4096];
	const char *paths[1] = { b };

	snprintf(b, sizeof(b), "%s", write_bound(f, "future", "fut", time(NULL) + 3 * 86400,
						 "library/app:v1", f->base_blob));
	assert_error(import_files(f, paths, 1), FERRY_EVERIFY,
		     "more than a day after this machine's clock");
}

static void test_import__tag_rollback_across_channels_is_refused(void **state)
{
	fixture *f = *state;
	char newer[4096], older[4096];
	const char *paths[1];
	ferry_buf seven = FERRY_BUF_INIT;

	/* Channel "a" sets library/app:v1 with a bundle made now; channel "b"
	 * tries to move it to other content with a bundle made an hour ago. */
	snprintf(newer, sizeof(newer), "%s", write_bound(f, "newer", "a", time(NULL) - 5,
							 "library/app:v1", f->base_blob));
	paths[0] = newer;
	assert_int_equal(import_files(f, paths, 1), 0);
	snprintf(older, sizeof(older), "%s", write_bound(f, "older", "b", time(NULL) - 3600,
							 "library/app:v1", f->new_blob));
	paths[0] = older;
	assert_error(import_files(f, paths, 1), FERRY_EVERIFY,
		     "rollback: 'library/app:v1' was set by a newer bundle of channel 'a'");
	ferry_buf_dispose(&seven);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_import__incremental_without_base_names_what_is_missing),
		T(test_import__incremental_after_its_base),
		T(test_import__incremental_with_its_base_in_one_import),
		T(test_import__binding_to_absent_content_is_refused),
		T(test_import__creation_far_in_the_future_is_refused),
		T(test_import__tag_rollback_across_channels_is_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
