/*
 * libgit2's last error carried into the ferry error, with the caller's
 * context first.
 */
#include <string.h>

#include <git2.h>

#include "testlib.h"
#include "git_error.h"

static void test_core_git_error__appends_libgit2_message(void **state)
{
	git_repository *repo = NULL;
	char *dir = test_mkdtemp();

	(void)state;
	git_libgit2_init();
	assert_true(git_repository_open_bare(&repo, test_path(dir, "absent.git")) < 0);
	assert_int_equal(ferry_git_error(FERRY_ENOTFOUND, "repository '%s'", "absent"),
			 FERRY_ENOTFOUND);
	assert_int_equal(ferry_error_last_code(), FERRY_ENOTFOUND);
	assert_true(strncmp(ferry_error_last(), "repository 'absent': ", 21) == 0);
	assert_true(strlen(ferry_error_last()) > 21);
	git_libgit2_shutdown();
	test_rmdir(dir);
}

static void test_core_git_error__without_libgit2_message(void **state)
{
	(void)state;
	git_libgit2_init();
	git_error_clear();
	assert_int_equal(ferry_git_error(FERRY_EIO, "cannot %s", "walk"), FERRY_EIO);
	assert_string_equal(ferry_error_last(), "cannot walk: unknown libgit2 error");
	git_libgit2_shutdown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_git_error__appends_libgit2_message),
		cmocka_unit_test(test_core_git_error__without_libgit2_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
