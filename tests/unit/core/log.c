/*
 * Library logging: the sink receives messages at or above its level, and
 * arguments of filtered messages are never evaluated for formatting.
 */
#include "log.h"
#include "testlib.h"

typedef struct {
	int calls;
	ferry_log_level last_level;
	char last[256];
} capture;

static void sink(ferry_log_level level, const char *message, void *payload)
{
	capture *c = payload;

	c->calls++;
	c->last_level = level;
	snprintf(c->last, sizeof(c->last), "%s", message);
}

static int side_effects;

static const char *counted(void)
{
	side_effects++;
	return "x";
}

static void test_core_log__filters_by_level(void **state)
{
	capture c = { 0, FERRY_LOG_ERROR, "" };

	(void)state;
	ferry_log_set_sink(sink, FERRY_LOG_WARN, &c);
	ferry_log(FERRY_LOG_ERROR, "cannot open '%s'", "a");
	assert_int_equal(c.calls, 1);
	assert_string_equal(c.last, "cannot open 'a'");
	ferry_log(FERRY_LOG_WARN, "w%d", 2);
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.last_level, FERRY_LOG_WARN);
	ferry_log(FERRY_LOG_DEBUG, "%s", counted());
	assert_int_equal(c.calls, 2);
	assert_int_equal(side_effects, 0);
	assert_false(ferry_log_enabled(FERRY_LOG_INFO));
	ferry_log_set_sink(NULL, FERRY_LOG_DEBUG, NULL);
	assert_false(ferry_log_enabled(FERRY_LOG_ERROR));
	ferry_log(FERRY_LOG_ERROR, "dropped");
	assert_int_equal(c.calls, 2);
}

static void test_core_log__error_slot_keeps_last_message(void **state)
{
	(void)state;
	ferry_error_clear();
	assert_string_equal(ferry_error_last(), "");
	assert_int_equal(ferry_error_set(FERRY_ENOTFOUND, "no '%s'", "x"), FERRY_ENOTFOUND);
	assert_string_equal(ferry_error_last(), "no 'x'");
	assert_int_equal(ferry_error_last_code(), FERRY_ENOTFOUND);
	assert_string_equal(ferry_error_name(FERRY_EVERIFY), "verification failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_log__filters_by_level),
		cmocka_unit_test(test_core_log__error_slot_keeps_last_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
