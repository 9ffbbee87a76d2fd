/*
 * The store's layout view (STORE/index.json): written when a tag moved,
 * whether by the import that moved it or, when that import was killed
 * after its commit, by the next one to open the store for writing; left
 * alone by opens that find it current; written again when it is missing.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "fs.h"
#include "testlib.h"

#define DIGEST "sha256:6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
#define MT "application/vnd.oci.image.manifest.v1+json"

static char *read_view(const char *root)
{
	ferry_buf b = FERRY_BUF_INIT;

	assert_int_equal(ferry_fs_read_file(&b, test_path(root, "index.json"), 1 << 20), 0);
	return ferry_buf_detach(&b);
}

static ino_t view_inode(const char *root)
{
	struct stat st;

	assert_int_equal(stat(test_path(root, "index.json"), &st), 0);
	return st.st_ino;
}

static void test_store_view__follows_the_tags(void **state)
{
	char *dir = test_mkdtemp(), *root = strdup(test_path(dir, "store")), *view;
	ferry_store *st = NULL;
	ino_t ino;

	(void)state;
	assert_int_equal(ferry_store_open(&st, root, FERRY_STORE_CREATE, 0), 0);
	view = read_view(root);
	assert_null(strstr(view, "library/app:v1"));
	free(view);

	/* An import that commits its tag and is killed before it writes the
	 * view: the next open for writing brings the view up to date. */
	assert_int_equal(ferry_store_begin(st, 1), 0);
	assert_int_equal(ferry_store_tag_set(st, "library/app:v1", DIGEST, MT, 10, "c", 1), 0);
	assert_int_equal(ferry_store_commit(st), 0);
	ferry_store_close(st);
	view = read_view(root);
	assert_null(strstr(view, "library/app:v1"));
	free(view);
	assert_int_equal(ferry_store_open(&st, root, FERRY_STORE_WRITE, 0), 0);
	view = read_view(root);
	assert_non_null(strstr(view, "\"org.opencontainers.image.ref.name\":\"library/app:v1\""));
	assert_non_null(strstr(view, DIGEST));
	free(view);
	ferry_store_close(st);

	/* Current: an open leaves it as it is. */
	ino = view_inode(root);
	assert_int_equal(ferry_store_open(&st, root, FERRY_STORE_WRITE, 0), 0);
	assert_true(view_inode(root) == ino);
	assert_int_equal(ferry_store_refresh_layout_view(st), 0);
	assert_true(view_inode(root) == ino);
	ferry_store_close(st);

	/* Missing: written again. */
	assert_int_equal(unlink(test_path(root, "index.json")), 0);
	assert_int_equal(ferry_store_open(&st, root, FERRY_STORE_WRITE, 0), 0);
	view = read_view(root);
	assert_non_null(strstr(view, "library/app:v1"));
	free(view);
	ferry_store_close(st);
	free(root);
	test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_view__follows_the_tags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
