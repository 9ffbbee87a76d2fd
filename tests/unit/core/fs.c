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

/* A lock file nobody holds was left by a writer that died: it goes. */
static void test_core_fs__lock_file_of_a_dead_writer_is_removed(void **state)
{
	char *dir = test_mkdtemp();
	const char *p = test_path(dir, "f");
	ferry_buf b = FERRY_BUF_INIT;
	int fd = open(test_path(dir, "f.lock"), O_WRONLY | O_CREAT | O_EXCL, 0644);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "half", 4), 4);
	close(fd);
	assert_int_equal(ferry_fs_write_atomic(p, "whole", 5, 0644), 0);
	assert_int_equal(ferry_fs_read_file(&b, p, 100), 0);
	assert_memory_equal(b.ptr, "whole", 5);
	assert_int_equal(access(test_path(dir, "f.lock"), F_OK), -1);
	ferry_buf_dispose(&b);
	test_rmdir(dir);
}

/* A new file is invisible until it is complete, and never replaces one. */
static void test_core_fs__new_file_is_named_at_commit(void **state)
{
	char *dir = test_mkdtemp();
	const char *p = test_path(dir, "n");
	ferry_lockfile a = FERRY_LOCKFILE_INIT, b = FERRY_LOCKFILE_INIT;
	ferry_buf got = FERRY_BUF_INIT;

	(void)state;
	assert_int_equal(ferry_lockfile_open_new(&a, p, 0640), 0);
	assert_int_equal(write(a.fd, "data", 4), 4);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(ferry_lockfile_commit(&a), 0);
	assert_int_equal(ferry_fs_read_file(&got, p, 100), 0);
	assert_memory_equal(got.ptr, "data", 4);
	/* A second one of the same name is refused when it is named. */
	assert_int_equal(ferry_lockfile_open_new(&b, p, 0640), 0);
	assert_int_equal(write(b.fd, "other", 5), 5);
	assert_int_equal(ferry_lockfile_commit(&b), FERRY_EEXISTS);
	ferry_buf_clear(&got);
	assert_int_equal(ferry_fs_read_file(&got, p, 100), 0);
	assert_memory_equal(got.ptr, "data", 4);
	ferry_buf_dispose(&got);
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

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_core_fs__modes_do_not_follow_the_umask(void **state)
{
	static const mode_t masks[] = { 0, 077 };
	char *dir = test_mkdtemp();
	char sub[4096];
	mode_t old;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		old = umask(masks[i]);
		snprintf(sub, sizeof(sub), "%s/u%zu/a/b", dir, i);
		assert_int_equal(ferry_fs_mkdir_p(sub, 0755), 0);
		assert_int_equal(ferry_fs_write_atomic(test_path(sub, "f"), "x", 1, 0644), 0);
		assert_int_equal(ferry_fs_write_atomic(test_path(sub, "secret"), "x", 1, 0600), 0);
		umask(old);
		assert_int_equal(mode_of(sub), 0755);
		assert_int_equal(mode_of(test_path(sub, "f")), 0644);
		assert_int_equal(mode_of(test_path(sub, "secret")), 0600);
	}
	test_rmdir(dir);
}

static void test_core_fs__fix_modes_sets_store_modes(void **state)
{
	char *dir = test_mkdtemp();
	char tree[4096], sub[4200];

	(void)state;
	snprintf(tree, sizeof(tree), "%s/repo.git", dir);
	snprintf(sub, sizeof(sub), "%s/objects", tree);
	assert_int_equal(mkdir(tree, 0777), 0);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(tree, 0777), 0);
	assert_int_equal(ferry_fs_write_atomic(test_path(tree, "HEAD"), "x", 1, 0666), 0);
	assert_int_equal(ferry_fs_write_atomic(test_path(sub, "pack"), "x", 1, 0444), 0);
	assert_int_equal(symlink("HEAD", test_path(tree, "link")), 0);
	assert_int_equal(ferry_fs_fix_modes(tree), 0);
	assert_int_equal(mode_of(tree), 0755);
	assert_int_equal(mode_of(sub), 0755);
	assert_int_equal(mode_of(test_path(tree, "HEAD")), 0644);
	assert_int_equal(mode_of(test_path(sub, "pack")), 0444);
	test_rmdir(dir);
}

static void test_core_fs__output_refuses_what_is_not_a_file(void **state)
{
	char *dir = test_mkdtemp();
	const char *fifo = test_path(dir, "fifo"), *d = test_path(dir, "dir");
	char link[4096], file[4096];
	ferry_buf b = FERRY_BUF_INIT;
	struct stat st;

	(void)state;
	snprintf(link, sizeof(link), "%s", test_path(dir, "link"));
	snprintf(file, sizeof(file), "%s", test_path(dir, "file"));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(ferry_fs_write_atomic(file, "old", 3, 0644), 0);
	assert_int_equal(symlink(file, link), 0);
	assert_error(ferry_fs_write_output(fifo, "x", 1, 0644), FERRY_EEXISTS, "not a regular file");
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_error(ferry_fs_write_output(d, "x", 1, 0644), FERRY_EEXISTS, "not a regular file");
	assert_error(ferry_fs_write_output(link, "x", 1, 0644), FERRY_EEXISTS, "not a regular file");
	assert_int_equal(ferry_fs_read_file(&b, file, 10), 0);
	assert_string_equal(b.ptr, "old");
	ferry_buf_clear(&b);
	assert_int_equal(ferry_fs_write_output(file, "new", 3, 0644), 0);
	assert_int_equal(ferry_fs_read_file(&b, file, 10), 0);
	assert_string_equal(b.ptr, "new");
	ferry_buf_dispose(&b);
	test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_fs__atomic_write_replaces_whole_file),
		cmocka_unit_test(test_core_fs__lock_file_excludes_second_writer),
		cmocka_unit_test(test_core_fs__lock_file_of_a_dead_writer_is_removed),
		cmocka_unit_test(test_core_fs__new_file_is_named_at_commit),
		cmocka_unit_test(test_core_fs__read_file_enforces_limit),
		cmocka_unit_test(test_core_fs__sha256_matches_known_vector),
		cmocka_unit_test(test_core_fs__modes_do_not_follow_the_umask),
		cmocka_unit_test(test_core_fs__fix_modes_sets_store_modes),
		cmocka_unit_test(test_core_fs__output_refuses_what_is_not_a_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
