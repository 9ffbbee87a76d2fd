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
	assert_int_equal(json_object_size(o), 17);
	text = json_dumps(o, JSON_COMPACT);
	assert_string_equal(text,
		"{\"id\":7,\"time\":\"1970-01-01T00:00:00Z\",\"stack\":\"web\",\"trigger\":\"poll\","
		"\"actor\":\"ferry\",\"source\":\"git:app\",\"ref\":null,\"revision\":\"abc\","
		"\"images\":[\"nginx@sha256:00\"],\"bundle\":null,\"channel\":null,"
		"\"sequence\":null,\"target\":\"podman\",\"outcome\":\"applied\",\"drift\":true,"
		"\"detail\":null,\"error\":null}");
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconciler_audit__event_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
