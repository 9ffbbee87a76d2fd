/*
 * The git command runner: its input and output, given at once or fed in
 * pieces, the message of a failing command (its last line of standard
 * error), a missing command named as such, a child ended early, and a
 * command run with none of the host's configuration or GIT_* variables.
 */
#include <fcntl.h>
#include <stdlib.h>
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

static void test_core_git_cmd__fed(void **state)
{
	char *dir = test_mkdtemp();
	const char *out = test_path(dir, "out");
	const char *argv[] = { "git", "hash-object", "--stdin", NULL };
	ferry_buf got = FERRY_BUF_INIT;
	ferry_git_child c;
	int fd;

	(void)state;
	assert_true((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_int_equal(ferry_git_start_fed(&c, argv, fd, 0), 0);
	close(fd);
	assert_int_equal(ferry_git_write(&c, "hel", 3), 0);
	assert_int_equal(ferry_git_write(&c, "lo\n", 3), 0);
	assert_int_equal(ferry_git_finish(&c), 0);
	assert_int_equal(ferry_fs_read_file(&got, out, 1024), 0);
	assert_string_equal(got.ptr, "ce013625030ba8dba906f756967f9e9ca394464a\n");
	ferry_buf_dispose(&got);
	test_rmdir(dir);
}

/* A setting given through GIT_CONFIG_* variables and one in the global
 * configuration file reach git, except with FERRY_GIT_NO_CONFIG. */
static void test_core_git_cmd__no_config(void **state)
{
	char *dir = test_mkdtemp();
	const char *repo = test_path(dir, "r.git"), *global = test_path(dir, "gitconfig");
	const char *init[] = { "git", "init", "-q", "--bare", repo, NULL };
	const char *by_env[] = { "git", "--git-dir", repo, "config", "--get", "ferry.env", NULL };
	const char *by_file[] = { "git", "--git-dir", repo, "config", "--get", "ferry.file",
				  NULL };
	ferry_git_child c;
	int i;

	(void)state;
	assert_int_equal(ferry_git_run(init, -1, NULL, 0), 0);
	assert_int_equal(ferry_fs_write_atomic(global, "[ferry]\n\tfile = yes\n", 20, 0644), 0);
	setenv("GIT_CONFIG_COUNT", "1", 1);
	setenv("GIT_CONFIG_KEY_0", "ferry.env", 1);
	setenv("GIT_CONFIG_VALUE_0", "yes", 1);
	setenv("GIT_CONFIG_GLOBAL", global, 1);
	for (i = 0; i < 2; i++) {
		const char *const *argv = i ? by_file : by_env;

		assert_int_equal(ferry_git_run(argv, -1, NULL, 0), 0);
		assert_int_equal(ferry_git_start_fed(&c, argv, -1, FERRY_GIT_NO_CONFIG), 0);
		/* `git config --get` of an unknown key exits 1 */
		assert_int_equal(ferry_git_finish(&c), FERRY_ERROR);
	}
	unsetenv("GIT_CONFIG_COUNT");
	unsetenv("GIT_CONFIG_KEY_0");
	unsetenv("GIT_CONFIG_VALUE_0");
	unsetenv("GIT_CONFIG_GLOBAL");
	test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_git_cmd__input_and_output),
		cmocka_unit_test(test_core_git_cmd__failure_names_git_message),
		cmocka_unit_test(test_core_git_cmd__missing_command),
		cmocka_unit_test(test_core_git_cmd__abort),
		cmocka_unit_test(test_core_git_cmd__fed),
		cmocka_unit_test(test_core_git_cmd__no_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
