/*
 * Parsers for sizes, durations, times and member paths.
 */
#include <string.h>

#include "testlib.h"
#include "util.h"

static void test_core_util__parses_sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(ferry_parse_size(&v, "4294967295"), 0);
	assert_true(v == 4294967295ULL);
	assert_int_equal(ferry_parse_size(&v, "1M"), 0);
	assert_true(v == 1048576);
	assert_int_equal(ferry_parse_size(&v, "2GiB"), 0);
	assert_true(v == 2ULL << 30);
	assert_int_equal(ferry_parse_size(&v, "700MB"), 0);
	assert_true(v == 700000000ULL);
	assert_int_equal(ferry_parse_size(&v, ""), FERRY_EINVALID);
	assert_int_equal(ferry_parse_size(&v, "-1"), FERRY_EINVALID);
	assert_int_equal(ferry_parse_size(&v, "12X"), FERRY_EINVALID);
	assert_int_equal(ferry_parse_size(&v, "99999999999999999999"), FERRY_EINVALID);
	assert_int_equal(ferry_parse_size(&v, "20000000T"), FERRY_EINVALID);
}

static void test_core_util__parses_durations(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(ferry_parse_duration(&v, "30d"), 0);
	assert_true(v == 30 * 86400);
	assert_int_equal(ferry_parse_duration(&v, "90s"), 0);
	assert_true(v == 90);
	assert_int_equal(ferry_parse_duration(&v, "30"), FERRY_EINVALID);
	assert_int_equal(ferry_parse_duration(&v, "d"), FERRY_EINVALID);
	assert_int_equal(ferry_parse_duration(&v, "3dd"), FERRY_EINVALID);
}

static void test_core_util__round_trips_times(void **state)
{
	char buf[32];
	int64_t t;

	(void)state;
	assert_int_equal(ferry_time_parse(&t, "2026-11-22T12:00:00Z"), 0);
	assert_int_equal(ferry_time_format(buf, sizeof(buf), t), 0);
	assert_string_equal(buf, "2026-11-22T12:00:00Z");
	assert_int_equal(ferry_time_parse(&t, "2026-02-31T00:00:00Z"), FERRY_EINVALID);
	assert_int_equal(ferry_time_parse(&t, "2026-11-22T12:00:00+01:00"), FERRY_EINVALID);
	assert_int_equal(ferry_time_parse(&t, "2026-11-22"), FERRY_EINVALID);
}

static void test_core_util__judges_member_paths(void **state)
{
	(void)state;
	assert_true(ferry_path_is_safe("blobs/sha256/abc"));
	assert_true(ferry_path_is_safe("oci-layout"));
	assert_true(ferry_path_is_safe("a..b/c"));
	assert_false(ferry_path_is_safe(""));
	assert_false(ferry_path_is_safe("/etc/passwd"));
	assert_false(ferry_path_is_safe("../x"));
	assert_false(ferry_path_is_safe("a/../x"));
	assert_false(ferry_path_is_safe("a/./x"));
	assert_false(ferry_path_is_safe("a//x"));
	assert_false(ferry_path_is_safe("a/"));
	assert_false(ferry_path_is_safe("a\\..\\x"));
	assert_false(ferry_path_is_safe("a\nb"));
}

static void test_core_util__reserves_array_room(void **state)
{
	uint64_t *items = NULL;
	size_t cap = 0, n;

	(void)state;
	for (n = 0; n < 100; n++) {
		assert_int_equal(ferry_array_reserve(&items, &cap, n, sizeof(*items), 4), 0);
		assert_true(cap > n);
		items[n] = n;
	}
	assert_int_equal(cap, 128);
	for (n = 0; n < 100; n++)
		assert_int_equal(items[n], n);
	/* room left: nothing moves */
	assert_int_equal(ferry_array_reserve(&items, &cap, 100, sizeof(*items), 4), 0);
	assert_int_equal(cap, 128);
	/* a size that cannot be allocated leaves the array as it was */
	assert_int_equal(ferry_array_reserve(&items, &cap, 128, SIZE_MAX / 16, 4), FERRY_ENOMEM);
	assert_int_equal(cap, 128);
	assert_int_equal(items[99], 99);
	free(items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_util__parses_sizes),
		cmocka_unit_test(test_core_util__parses_durations),
		cmocka_unit_test(test_core_util__round_trips_times),
		cmocka_unit_test(test_core_util__judges_member_paths),
		cmocka_unit_test(test_core_util__reserves_array_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
