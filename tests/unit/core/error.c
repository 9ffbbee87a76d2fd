/*
 * The thread-local last error: setting, wrapping and the out-of-memory
 * shorthand every allocation failure goes through.
 */
#include <string.h>

#include "testlib.h"

static void test_core_error__set_and_wrap(void **state)
{
	(void)state;
	ferry_error_clear();
	assert_int_equal(ferry_error_last_code(), FERRY_OK);
	assert_string_equal(ferry_error_last(), "");
	assert_int_equal(ferry_error_set(FERRY_EINVALID, "bad '%s'", "x"), FERRY_EINVALID);
	assert_string_equal(ferry_error_last(), "bad 'x'");
	assert_int_equal(ferry_error_wrap(FERRY_EIO, "cannot read %d", 3), FERRY_EIO);
	assert_string_equal(ferry_error_last(), "cannot read 3: bad 'x'");
	assert_int_equal(ferry_error_last_code(), FERRY_EIO);
}

static void test_core_error__oom(void **state)
{
	(void)state;
	ferry_error_clear();
	assert_int_equal(ferry_error_oom(), FERRY_ENOMEM);
	assert_int_equal(ferry_error_last_code(), FERRY_ENOMEM);
	assert_string_equal(ferry_error_last(), "out of memory");
	assert_string_equal(ferry_error_name(FERRY_ENOMEM), "out of memory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_error__set_and_wrap),
		cmocka_unit_test(test_core_error__oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
