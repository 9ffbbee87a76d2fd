/*
 * The git command runner of the export side: its input and output, the
 * message of a failing command (its last line of standard error), a
 * missing command named as such, and a child ended early.
 */
#include <fcntl.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "git_cmd.h"
#include "testlib.h"

static void test_core_git_cmd__input_and_output(void **state)
{
	char *dir = test_mkdtemp();
	const char *out = test_path(dir, "out");
	const char *argv[] = { "git", "hash-object", "--stdin", NULL };
	ferry_buf got = FERRY_BUF_INIT;
	int fd;

	(void)state;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ferry_git_run(argv, fd, "hello\n", 6), 0);
	close(fd);
	assert_int_equal(ferry_fs_read_file(&got, out, 1024), 0);
	/* git's id of the blob "hello\n" */
	assert_string_equal(got.ptr, "ce013625030ba8dba906f756967f9e9ca394464a\n");
	ferry_buf_dispose(&got);
	test_rmdir(dir);
}

static void test_core_git_cmd__failure_names_git_message(void **state)
{
	char *dir = test_mkdtemp();
	const char *argv[] = { "git", "--git-dir", dir, "-c", "core.x=1", "rev-parse",
			       "--verify", "nosuchref", NULL };

	(void)state;
	assert_int_equal(ferry_git_run(argv, -1, NULL, 0), FERRY_ERROR);
	/* the subcommand, then git's own last line */
	assert_non_null(strstr(ferry_error_last(), "git rev-parse: "));
	assert_non_null(strstr(ferry_error_last(), "fatal"));
	test_rmdir(dir);
}

static void test_core_git_cmd__missing_command(void **state)
{
	const char *argv[] = { "ferry-test-no-such-git", "--version", NULL };

	(void)state;
	assert_int_equal(ferry_git_run(argv, -1, NULL, 0), FERRY_ENOTFOUND);
	assert_non_null(strstr(ferry_error_last(), "needs git on the connected side"));
	assert_non_null(strstr(ferry_error_last(), "ferry-test-no-such-git"));
}

static void test_core_git_cmd__abort(void **state)
{
	/* ended (or reaped, if it ended already) without waiting for its status */
	const char *argv[] = { "git", "hash-object", "--stdin", NULL };
	ferry_git_child c;

	(void)state;
	assert_int_equal(ferry_git_start(&c, argv, -1, NULL, 0), 0);
	ferry_git_abort(&c);
	assert_int_equal(c.pid, -1);
	assert_null(c.err);
	/* aborting twice, or after finishing, is harmless */
	ferry_git_abort(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_git_cmd__input_and_output),
		cmocka_unit_test(test_core_git_cmd__failure_names_git_message),
		cmocka_unit_test(test_core_git_cmd__missing_command),
		cmocka_unit_test(test_core_git_cmd__abort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
