/*
 * The checked JSON readers: parsing that refuses repeated keys, and the
 * optional getters that tell a missing member from one of the wrong type.
 */
#include <string.h>

#include "testlib.h"
#include "json.h"

static json_t *parse(const char *text)
{
	json_t *v = NULL;

	assert_int_equal(ferry_json_parse(&v, text, strlen(text), "doc"), 0);
	return v;
}

static void test_core_json__parse_refuses_repeated_keys(void **state)
{
	const char *text = "{\"a\":1,\"a\":2}";
	json_t *v = NULL;

	(void)state;
	assert_int_equal(ferry_json_parse(&v, text, strlen(text), "doc"), FERRY_EINVALID);
	assert_null(v);
	assert_true(strncmp(ferry_error_last(), "doc is not valid JSON", 21) == 0);
}

static void test_core_json__optional_members(void **state)
{
	json_t *o = parse("{\"arr\":[1],\"obj\":{},\"t\":true,\"f\":false,\"n\":-5,"
			  "\"s\":\"x\",\"nul\":null}");
	json_t *v = NULL;
	int64_t i = 0;
	int b = 0;

	(void)state;
	assert_int_equal(ferry_json_get_array_opt(&v, o, "arr", "doc"), 0);
	assert_int_equal(json_array_size(v), 1);
	assert_int_equal(ferry_json_get_array_opt(&v, o, "none", "doc"), 0);
	assert_null(v);
	assert_int_equal(ferry_json_get_array_opt(&v, o, "obj", "doc"), FERRY_EINVALID);
	assert_string_equal(ferry_error_last(), "doc: field 'obj' must be an array");

	assert_int_equal(ferry_json_get_object_opt(&v, o, "obj", "doc"), 0);
	assert_true(json_is_object(v));
	assert_int_equal(ferry_json_get_object_opt(&v, o, "none", "doc"), 0);
	assert_null(v);
	assert_int_equal(ferry_json_get_object_opt(&v, o, "nul", "doc"), FERRY_EINVALID);

	assert_int_equal(ferry_json_get_bool_opt(&b, o, "t", 0, "doc"), 0);
	assert_int_equal(b, 1);
	assert_int_equal(ferry_json_get_bool_opt(&b, o, "f", 1, "doc"), 0);
	assert_int_equal(b, 0);
	assert_int_equal(ferry_json_get_bool_opt(&b, o, "none", 1, "doc"), 0);
	assert_int_equal(b, 1);
	assert_int_equal(ferry_json_get_bool_opt(&b, o, "s", 0, "doc"), FERRY_EINVALID);
	assert_string_equal(ferry_error_last(), "doc: field 's' must be true or false");

	assert_int_equal(ferry_json_get_int_opt(&i, o, "n", 7, "doc"), 0);
	assert_true(i == -5);
	assert_int_equal(ferry_json_get_int_opt(&i, o, "none", 7, "doc"), 0);
	assert_true(i == 7);
	assert_int_equal(ferry_json_get_int_opt(&i, o, "s", 7, "doc"), FERRY_EINVALID);
	assert_string_equal(ferry_error_last(), "doc: field 's' must be an integer");

	/* not an object at all: every member is absent */
	assert_int_equal(ferry_json_get_object_opt(&v, json_array_get(json_object_get(o, "arr"), 0),
						   "x", "doc"), 0);
	assert_null(v);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_json__parse_refuses_repeated_keys),
		cmocka_unit_test(test_core_json__optional_members),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
