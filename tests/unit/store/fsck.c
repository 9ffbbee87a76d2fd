/*
 * fsck of the store: a store built by hand (blob files, rows, one tag on a
 * manifest with a config and a layer) is clean; each fault put into it is
 * reported once, with the tag and role that reach it; the report merges
 * referrers; rehashing one blob and replacing it behave as documented.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "digest.h"
#include "fs.h"
#include "fsck.h"
#include "hash.h"
#include "testlib.h"

typedef struct {
	char *dir;
	const char *root;
	ferry_store *st;
	char config[65], layer[65], manifest[65];
} fixture;

static const char CONFIG[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
static const char LAYER[] = "the bytes of a layer, which are not looked into";

static void put_blob(fixture *f, char hex[65], const char *data, int record)
{
	ferry_buf path = FERRY_BUF_INIT;
	ferry_store_blob b = { NULL, 0, "c", 1 };

	assert_int_equal(ferry_sha256_hex(hex, data, strlen(data)), 0);
	assert_int_equal(ferry_store_blob_path(&path, f->st, hex), 0);
	assert_int_equal(ferry_fs_write_atomic(path.ptr, data, strlen(data), 0644), 0);
	ferry_buf_dispose(&path);
	b.hex = hex;
	b.size = strlen(data);
	if (record)
		assert_int_equal(ferry_store_blob_add(f->st, &b), 0);
}

static const char *blob_file(fixture *f, const char *hex)
{
	static ferry_buf path = FERRY_BUF_INIT;

	ferry_buf_clear(&path);
	assert_int_equal(ferry_store_blob_path(&path, f->st, hex), 0);
	return path.ptr;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char manifest[1024], digest[80];

	f->dir = test_mkdtemp();
	f->root = strdup(test_path(f->dir, "store"));
	assert_int_equal(ferry_store_open(&f->st, f->root, FERRY_STORE_CREATE, 0), 0);
	put_blob(f, f->config, CONFIG, 1);
	put_blob(f, f->layer, LAYER, 1);
	snprintf(manifest, sizeof(manifest),
		 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
		 "\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:%s\","
		 "\"size\":%zu}]}", FERRY_OCI_MT_MANIFEST, FERRY_OCI_MT_CONFIG, f->config,
		 strlen(CONFIG), f->layer, strlen(LAYER));
	put_blob(f, f->manifest, manifest, 1);
	snprintf(digest, sizeof(digest), "sha256:%s", f->manifest);
	assert_int_equal(ferry_store_tag_set(f->st, "library/app:v1", digest,
					     FERRY_OCI_MT_MANIFEST, strlen(manifest), "c", 1), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ferry_store_close(f->st);
	test_rmdir(f->dir);
	free((char *)f->root);
	free(f);
	return 0;
}

static void fsck(ferry_fsck_report *r, fixture *f)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(ferry_store_fsck(r, f->st, NULL), 0);
}

static const ferry_fsck_fault *find(const ferry_fsck_report *r, ferry_fsck_kind kind,
				    const char *id)
{
	size_t i;

	for (i = 0; i < r->nfaults; i++)
		if (r->faults[i].kind == kind && !strcmp(r->faults[i].id, id))
			return &r->faults[i];
	return NULL;
}

static void test_store_fsck__clean_store_has_no_faults(void **state)
{
	fixture *f = *state;
	ferry_fsck_report r;

	fsck(&r, f);
	assert_int_equal(r.nfaults, 0);
	assert_int_equal(r.blobs, 3);
	assert_int_equal(r.tags, 1);
	assert_int_equal(ferry_fsck_report_remaining(&r), 0);
	ferry_fsck_report_dispose(&r);
}

static void test_store_fsck__flipped_layer_is_damaged_with_its_tag(void **state)
{
	fixture *f = *state;
	ferry_fsck_report r;
	const ferry_fsck_fault *x;
	int fd = open(blob_file(f, f->layer), O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 3), 1);
	close(fd);
	fsck(&r, f);
	assert_int_equal(r.nfaults, 1);
	assert_non_null(x = find(&r, FERRY_FSCK_DAMAGED, f->layer));
	assert_int_equal(x->object, FERRY_FSCK_BLOB);
	assert_int_equal(x->referrers.n, 1);
	assert_string_equal(x->referrers.v[0], "tag 'library/app:v1' (layer)");
	assert_int_equal(ferry_store_blob_verify(f->st, f->layer, strlen(LAYER)), FERRY_ECORRUPT);
	ferry_fsck_report_dispose(&r);
}

static void test_store_fsck__truncated_manifest_is_damaged_and_not_walked(void **state)
{
	fixture *f = *state;
	ferry_fsck_report r;
	const ferry_fsck_fault *x;

	assert_int_equal(truncate(blob_file(f, f->manifest), 10), 0);
	fsck(&r, f);
	assert_non_null(x = find(&r, FERRY_FSCK_DAMAGED, f->manifest));
	assert_string_equal(x->referrers.v[0], "tag 'library/app:v1'");
	/* a damaged document is not opened: nothing below it is reported */
	assert_int_equal(r.nfaults, 1);
	ferry_fsck_report_dispose(&r);
}

static void test_store_fsck__missing_and_unrecorded_blobs(void **state)
{
	fixture *f = *state;
	ferry_fsck_report r;
	const ferry_fsck_fault *x;
	char stray[65];

	assert_int_equal(unlink(blob_file(f, f->config)), 0);       /* row, no file */
	put_blob(f, stray, "a file nobody recorded", 0);            /* file, no row */
	fsck(&r, f);
	assert_int_equal(r.nfaults, 2);
	assert_non_null(x = find(&r, FERRY_FSCK_MISSING, f->config));
	/* one fault, referred to by the database and by the tag */
	assert_int_equal(x->referrers.n, 2);
	assert_string_equal(x->referrers.v[0], "ferry.db");
	assert_string_equal(x->referrers.v[1], "tag 'library/app:v1' (config)");
	assert_non_null(x = find(&r, FERRY_FSCK_UNRECORDED, stray));
	assert_int_equal(x->referrers.n, 0);
	assert_int_equal(ferry_store_blob_verify(f->st, f->config, UINT64_MAX), FERRY_ENOTFOUND);
	assert_int_equal(ferry_store_blob_verify(f->st, stray, UINT64_MAX), 0);
	ferry_fsck_report_dispose(&r);
}

static void test_store_fsck__wrong_size_is_damage(void **state)
{
	fixture *f = *state;
	ferry_fsck_report r;
	ferry_buf path = FERRY_BUF_INIT;
	ferry_store_blob b = { NULL, 0, "c", 1 };
	char hex[65];
	const char *big = "one more blob";

	/* the row says another size than the file holds */
	assert_int_equal(ferry_sha256_hex(hex, big, strlen(big)), 0);
	assert_int_equal(ferry_store_blob_path(&path, f->st, hex), 0);
	assert_int_equal(ferry_fs_write_atomic(path.ptr, big, strlen(big), 0644), 0);
	b.hex = hex;
	b.size = 3;
	assert_int_equal(ferry_store_blob_add(f->st, &b), 0);
	fsck(&r, f);
	assert_int_equal(r.nfaults, 1);
	assert_non_null(find(&r, FERRY_FSCK_DAMAGED, hex));
	assert_int_equal(ferry_store_blob_verify(f->st, hex, 3), FERRY_ECORRUPT);
	assert_int_equal(ferry_store_blob_verify(f->st, hex, strlen(big)), 0);
	ferry_fsck_report_dispose(&r);
	ferry_buf_dispose(&path);
}

static void test_store_fsck__malformed_manifest_makes_an_invalid_tag(void **state)
{
	fixture *f = *state;
	ferry_fsck_report r;
	char hex[65], digest[80];
	const char *doc = "{\"schemaVersion\":2,\"mediaType\":\"" FERRY_OCI_MT_MANIFEST "\"}";

	put_blob(f, hex, doc, 1);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	assert_int_equal(ferry_store_tag_set(f->st, "library/app:bad", digest,
					     FERRY_OCI_MT_MANIFEST, strlen(doc), "c", 1), 0);
	fsck(&r, f);
	assert_int_equal(r.nfaults, 1);
	assert_int_equal(r.faults[0].kind, FERRY_FSCK_INVALID);
	assert_int_equal(r.faults[0].object, FERRY_FSCK_TAG);
	assert_string_equal(r.faults[0].id, "library/app:bad");
	ferry_fsck_report_dispose(&r);
}

static int count_repos(ferry_fsck_report *r, ferry_store *st, const char *repo, void *payload)
{
	(void)st;
	(*(int *)payload)++;
	return ferry_fsck_report_add(NULL, r, FERRY_FSCK_MISSING, FERRY_FSCK_REF, repo,
				     "refs/heads/main", "hook");
}

static void test_store_fsck__repositories_go_through_the_hook(void **state)
{
	fixture *f = *state;
	ferry_fsck_options o = FERRY_FSCK_OPTIONS_INIT;
	ferry_fsck_report r = FERRY_FSCK_REPORT_INIT;
	int calls = 0;

	assert_int_equal(ferry_store_ref_set(f->st, "org/a", "refs/heads/main",
					     "0123456789012345678901234567890123456789", "c", 1), 0);
	assert_int_equal(ferry_store_ref_set(f->st, "org/b", "refs/heads/main",
					     "0123456789012345678901234567890123456789", "c", 1), 0);
	o.check_repo = count_repos;
	o.payload = &calls;
	assert_int_equal(ferry_store_fsck(&r, f->st, &o), 0);
	assert_int_equal(calls, 2);
	assert_int_equal(r.repos, 2);
	assert_int_equal(r.nfaults, 2);
	assert_string_equal(r.faults[0].repo, "org/a");
	ferry_fsck_report_dispose(&r);
}

static void test_store_fsck__report_merges_faults_and_referrers(void **state)
{
	ferry_fsck_report r = FERRY_FSCK_REPORT_INIT;
	ferry_fsck_fault *a, *b;
	size_t i;

	(void)state;
	assert_int_equal(ferry_fsck_report_add(&a, &r, FERRY_FSCK_MISSING, FERRY_FSCK_BLOB,
					       NULL, "ab", "first"), 0);
	assert_int_equal(ferry_fsck_fault_refer(a, "tag 'x'"), 0);
	assert_int_equal(ferry_fsck_report_add(&b, &r, FERRY_FSCK_MISSING, FERRY_FSCK_BLOB,
					       NULL, "ab", "second"), 0);
	assert_ptr_equal(a, b);
	assert_string_equal(b->detail, "first");
	assert_int_equal(ferry_fsck_fault_refer(b, "tag 'x'"), 0);
	assert_int_equal(b->referrers.n, 1);
	/* same id, other repository or kind: other faults; the array grows */
	for (i = 0; i < 40; i++) {
		char repo[16];

		snprintf(repo, sizeof(repo), "r%zu", i);
		assert_int_equal(ferry_fsck_report_add(NULL, &r, FERRY_FSCK_MISSING,
						       FERRY_FSCK_BLOB, repo, "ab", NULL), 0);
	}
	assert_int_equal(ferry_fsck_report_add(NULL, &r, FERRY_FSCK_DAMAGED, FERRY_FSCK_BLOB,
					       NULL, "ab", NULL), 0);
	assert_int_equal(r.nfaults, 42);
	r.faults[0].repaired = 1;
	assert_int_equal(ferry_fsck_report_remaining(&r), 41);
	assert_string_equal(ferry_fsck_kind_name(FERRY_FSCK_UNRECORDED), "unrecorded");
	assert_string_equal(ferry_fsck_object_name(FERRY_FSCK_GIT_OBJECT), "git-object");
	ferry_fsck_report_dispose(&r);
	assert_int_equal(r.nfaults, 0);
}

static void test_store_fsck__replace_needs_the_lock_and_renames(void **state)
{
	fixture *f = *state;
	ferry_store *ro = NULL;
	const char *staged = test_path(f->dir, "staged");
	ferry_fsck_report r;

	assert_int_equal(truncate(blob_file(f, f->layer), 1), 0);
	assert_int_equal(ferry_fs_write_atomic(staged, LAYER, strlen(LAYER), 0644), 0);
	assert_int_equal(ferry_store_open(&ro, f->root, FERRY_STORE_READ, 0), 0);
	assert_int_equal(ferry_store_blob_replace(ro, f->layer, staged), FERRY_EINVALID);
	ferry_store_close(ro);
	assert_int_equal(ferry_store_blob_replace(f->st, f->layer, staged), 0);
	assert_int_equal(access(staged, F_OK), -1);
	assert_int_equal(ferry_store_blob_verify(f->st, f->layer, strlen(LAYER)), 0);
	fsck(&r, f);
	assert_int_equal(r.nfaults, 0);
	ferry_fsck_report_dispose(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_fsck__clean_store_has_no_faults, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_fsck__flipped_layer_is_damaged_with_its_tag,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_store_fsck__truncated_manifest_is_damaged_and_not_walked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_fsck__missing_and_unrecorded_blobs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_fsck__wrong_size_is_damage, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_store_fsck__malformed_manifest_makes_an_invalid_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_fsck__repositories_go_through_the_hook,
						setup, teardown),
		cmocka_unit_test(test_store_fsck__report_merges_faults_and_referrers),
		cmocka_unit_test_setup_teardown(test_store_fsck__replace_needs_the_lock_and_renames,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
