/*
 * ferry_buf: growth, formatting, the size cap and its error, and the
 * best-effort append for messages.
 */
#include <string.h>

#include "testlib.h"

static void test_core_buf__appends_and_terminates(void **state)
{
	ferry_buf b = FERRY_BUF_INIT;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(ferry_buf_printf(&b, "%d,", i), 0);
	assert_int_equal(b.ptr[b.size], '\0');
	assert_int_equal(strncmp(b.ptr, "0,1,2,", 6), 0);
	assert_int_equal(strlen(b.ptr), b.size);
	ferry_buf_dispose(&b);
	assert_null(b.ptr);
}

static void test_core_buf__limit_rejects_growth_and_keeps_content(void **state)
{
	ferry_buf b = FERRY_BUF_INIT;

	(void)state;
	b.limit = 8;
	assert_int_equal(ferry_buf_puts(&b, "12345678"), 0);
	assert_int_equal(ferry_buf_puts(&b, "9"), FERRY_ETOOBIG);
	assert_non_null(strstr(ferry_error_last(), "limit of 8 bytes"));
	assert_string_equal(b.ptr, "12345678");
	ferry_buf_dispose(&b);
	assert_int_equal(b.limit, 8);
}

static void test_core_buf__detach_hands_over(void **state)
{
	ferry_buf b = FERRY_BUF_INIT;
	char *s;

	(void)state;
	s = ferry_buf_detach(&b);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(ferry_buf_puts(&b, "abc"), 0);
	s = ferry_buf_detach(&b);
	assert_string_equal(s, "abc");
	assert_null(b.ptr);
	free(s);
}

static void test_core_buf__best_effort_keeps_the_last_error(void **state)
{
	ferry_buf b = FERRY_BUF_INIT;

	(void)state;
	b.limit = 8;
	ferry_buf_printf_best_effort(&b, "%s", "12345");
	assert_string_equal(b.ptr, "12345");
	/* a failed append leaves the text and the error being described */
	ferry_error_set(FERRY_EVERIFY, "signature threshold not met");
	ferry_buf_printf_best_effort(&b, "; %s", ferry_error_last());
	assert_string_equal(b.ptr, "12345");
	assert_int_equal(ferry_error_last_code(), FERRY_EVERIFY);
	assert_string_equal(ferry_error_last(), "signature threshold not met");
	ferry_error_clear();
	ferry_buf_printf_best_effort(&b, "%s", "6789");
	assert_string_equal(b.ptr, "12345");
	assert_int_equal(ferry_error_last_code(), FERRY_OK);
	assert_string_equal(ferry_error_last(), "");
	ferry_buf_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_buf__appends_and_terminates),
		cmocka_unit_test(test_core_buf__limit_rejects_growth_and_keeps_content),
		cmocka_unit_test(test_core_buf__detach_hands_over),
		cmocka_unit_test(test_core_buf__best_effort_keeps_the_last_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
