/*
 * Durable writes and bounded reads.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "hash.h"
#include "testlib.h"

static void test_core_fs__atomic_write_replaces_whole_file(void **state)
{
	char *dir = test_mkdtemp();
	const char *p = test_path(dir, "f");
	ferry_buf b = FERRY_BUF_INIT;
	struct stat st;

	(void)state;
	assert_int_equal(ferry_fs_write_atomic(p, "one", 3, 0600), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	remove(p);
	assert_int_equal(ferry_fs_write_atomic(p, "second", 6, 0644), 0);
	assert_int_equal(ferry_fs_read_file(&b, p, 100), 0);
	assert_string_equal(b.ptr, "second");
	assert_int_equal(access(test_path(dir, "f.lock"), F_OK), -1);
	ferry_buf_dispose(&b);
	test_rmdir(dir);
}

static void test_core_fs__lock_file_excludes_second_writer(void **state)
{
	char *dir = test_mkdtemp();
	ferry_lockfile a = FERRY_LOCKFILE_INIT, b = FERRY_LOCKFILE_INIT;
	const char *p = test_path(dir, "f");

	(void)state;
	assert_int_equal(ferry_lockfile_open(&a, p, 0644), 0);
	assert_int_equal(ferry_lockfile_open(&b, p, 0644), FERRY_EEXISTS);
	ferry_lockfile_rollback(&a);
	assert_int_equal(access(test_path(dir, "f.lock"), F_OK), -1);
	assert_int_equal(access(p, F_OK), -1);
	test_rmdir(dir);
}

static void test_core_fs__read_file_enforces_limit(void **state)
{
	char *dir = test_mkdtemp();
	const char *p = test_path(dir, "f");
	ferry_buf b = FERRY_BUF_INIT;

	(void)state;
	assert_int_equal(ferry_fs_write_atomic(p, "0123456789", 10, 0644), 0);
	assert_int_equal(ferry_fs_read_file(&b, p, 9), FERRY_ETOOBIG);
	assert_non_null(strstr(ferry_error_last(), "larger than 9 bytes"));
	assert_int_equal(ferry_fs_read_file(&b, test_path(dir, "none"), 9),
			 FERRY_ENOTFOUND);
	ferry_buf_dispose(&b);
	test_rmdir(dir);
}

static void test_core_fs__sha256_matches_known_vector(void **state)
{
	char hex[65];

	(void)state;
	assert_int_equal(ferry_sha256_hex(hex, "abc", 3), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_fs__atomic_write_replaces_whole_file),
		cmocka_unit_test(test_core_fs__lock_file_excludes_second_writer),
		cmocka_unit_test(test_core_fs__read_file_enforces_limit),
		cmocka_unit_test(test_core_fs__sha256_matches_known_vector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
