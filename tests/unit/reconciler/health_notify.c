/*
 * Notification health transitions and the RFC 5424 line: one event per
 * change of health, none for repeats or for outcomes that say nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "health_notify.h"

static void test_reconciler_notify__once_per_change(void **state)
{
	ferry_health h = FERRY_HEALTH_UNKNOWN;

	(void)state;
	assert_int_equal(ferry_notify_transition(&h, "applied", 0), 0);  /* first, healthy */
	assert_int_equal(ferry_notify_transition(&h, "failed", 0), FERRY_EVENT_FAILED);
	assert_int_equal(ferry_notify_transition(&h, "failed", 0), 0);
	assert_int_equal(ferry_notify_transition(&h, "suspended", 0), 0);
	assert_int_equal(ferry_notify_transition(&h, "frozen", 0), 0);
	assert_int_equal(ferry_notify_transition(&h, "refused", 0), FERRY_EVENT_REFUSED);
	assert_int_equal(ferry_notify_transition(&h, "unchanged", 0), FERRY_EVENT_RECOVERED);
	assert_int_equal(ferry_notify_transition(&h, "drift-reported", 1), FERRY_EVENT_DRIFT);
	assert_int_equal(ferry_notify_transition(&h, "drift-reported", 1), 0);
	assert_int_equal(ferry_notify_transition(&h, "applied", 0), FERRY_EVENT_RECOVERED);
	assert_int_equal(ferry_notify_transition(&h, NULL, 0), FERRY_EVENT_FAILED);
	h = FERRY_HEALTH_UNKNOWN;
	assert_int_equal(ferry_notify_transition(&h, "failed", 0), FERRY_EVENT_FAILED);
	/* a revision the pre-flight blocked is a failed stack, told once */
	h = FERRY_HEALTH_OK;
	assert_int_equal(ferry_notify_transition(&h, "blocked", 0), FERRY_EVENT_FAILED);
	assert_int_equal(ferry_notify_transition(&h, "blocked", 0), 0);
	assert_int_equal(ferry_notify_transition(&h, "applied", 0), FERRY_EVENT_RECOVERED);
}

static void test_reconciler_notify__names(void **state)
{
	(void)state;
	assert_string_equal(ferry_notify_event_name(FERRY_EVENT_DRIFT), "drift");
	assert_int_equal(ferry_notify_event_parse("recovered"), FERRY_EVENT_RECOVERED);
	assert_int_equal(ferry_notify_event_parse("boom"), 0);
	assert_int_equal(ferry_notify_event_parse(NULL), 0);
	assert_null(ferry_notify_event_name(3));
}

static void test_reconciler_notify__syslog_line(void **state)
{
	ferry_buf b = FERRY_BUF_INIT;
	ferry_notify_event ev = { FERRY_EVENT_FAILED, "web", "failed", "abc",
				  "line one\nline two \x1b[2K", 0 };

	(void)state;
	assert_int_equal(ferry_notify_syslog_format(&b, &ev, "host1", 42), 0);
	assert_non_null(strstr(b.ptr, "<27>1 1970-01-01T00:00:00Z host1 ferry-reconcile 42 failed - {"));
	assert_null(strchr(b.ptr, '\n'));
	assert_null(strchr(b.ptr, '\x1b'));
	ferry_buf_dispose(&b);
	ev.event = FERRY_EVENT_RECOVERED;
	ev.message = "bad \xff utf-8";
	assert_int_equal(ferry_notify_syslog_format(&b, &ev, "", 1), 0);
	assert_non_null(strstr(b.ptr, "<29>1 1970-01-01T00:00:00Z - ferry-reconcile 1 recovered - "));
	assert_non_null(strstr(b.ptr, "\"message\":\"bad \\\\xff utf-8\""));
	ferry_buf_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconciler_notify__once_per_change),
		cmocka_unit_test(test_reconciler_notify__names),
		cmocka_unit_test(test_reconciler_notify__syslog_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
