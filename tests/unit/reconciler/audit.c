/*
 * The JSON form of a reconcile event, shared by the audit line and
 * `ferry reconcile history --json`.
 */
#include <string.h>

#include "testlib.h"
#include "reconcile.h"

static void test_reconciler_audit__event_json(void **state)
{
	ferry_store_stack_event ev = { 0 };
	json_t *o;
	char *text;

	(void)state;
	ev.id = 7;
	ev.time = 0;
	ev.stack = "web";
	ev.trigger = "poll";
	ev.actor = "ferry";
	ev.source = "git:app";
	ev.revision = "abc";
	ev.images = "[\"nginx@sha256:00\"]";
	ev.runtime = "podman";
	ev.outcome = "applied";
	ev.drift = 1;
	o = ferry_audit__event_json(&ev, "id", json_integer(ev.id));
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 18);
	text = json_dumps(o, JSON_COMPACT);
	assert_string_equal(text,
		"{\"id\":7,\"time\":\"1970-01-01T00:00:00Z\",\"stack\":\"web\",\"trigger\":\"poll\","
		"\"actor\":\"ferry\",\"source\":\"git:app\",\"ref\":null,\"revision\":\"abc\","
		"\"images\":[\"nginx@sha256:00\"],\"bundle\":null,\"channel\":null,"
		"\"sequence\":null,\"target\":\"podman\",\"outcome\":\"applied\",\"drift\":true,"
		"\"detail\":null,\"error\":null,\"reason\":null}");
	free(text);
	json_decref(o);

	/* an unreadable stored image list is shown as none */
	ev.images = "[1,";
	ev.sequence = 3;
	o = ferry_audit__event_json(&ev, "event", json_string("reconcile"));
	assert_non_null(o);
	assert_int_equal(json_array_size(json_object_get(o, "images")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "sequence")), 3);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "reconcile");
	json_decref(o);

	/* an operator's reason */
	ev.reason = "CHG-7: approved";
	o = ferry_audit__event_json(&ev, "id", json_integer(1));
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "reason")), "CHG-7: approved");
	json_decref(o);
}

static void test_reconciler_audit__reason_check(void **state)
{
	char big[FERRY_REASON_MAX + 2];

	(void)state;
	assert_int_equal(ferry_reason_check("CHG-1234 approved by CAB"), 0);
	assert_int_equal(ferry_reason_check("geprüft — ok"), 0);
	assert_int_equal(ferry_reason_check(""), FERRY_EINVALID);
	assert_int_equal(ferry_reason_check(NULL), FERRY_EINVALID);
	assert_int_equal(ferry_reason_check("a\nb"), FERRY_EINVALID);
	assert_int_equal(ferry_reason_check("a\x1b" "[2Kb"), FERRY_EINVALID);
	assert_int_equal(ferry_reason_check("a\xff" "b"), FERRY_EINVALID);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ferry_reason_check(big), FERRY_EINVALID);
	big[FERRY_REASON_MAX] = '\0';
	assert_int_equal(ferry_reason_check(big), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconciler_audit__event_json),
		cmocka_unit_test(test_reconciler_audit__reason_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
