/*
 * Parsers for sizes, durations, times and member paths.
 */
#include <stdlib.h>
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

static void test_core_util__escapes_outside_text(void **state)
{
	char buf[128], small[9];
	const char hostile[] = "\x1b[2K\rgood.tar: OK\n";
	char *dup;

	(void)state;
	/* control bytes: ESC, CR, LF, TAB, DEL, NUL in the middle */
	assert_int_equal(ferry_escape_bytes(buf, sizeof(buf), hostile, strlen(hostile)),
			 strlen("\\x1b[2K\\x0dgood.tar: OK\\x0a"));
	assert_string_equal(buf, "\\x1b[2K\\x0dgood.tar: OK\\x0a");
	ferry_escape_bytes(buf, sizeof(buf), "a\tb\x7f" "c\0d", 7);
	assert_string_equal(buf, "a\\x09b\\x7fc\\x00d");
	/* valid UTF-8 is kept; C1 controls (U+0085, U+009B) are not */
	ferry_escape_bytes(buf, sizeof(buf), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14);
	assert_string_equal(buf, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	ferry_escape_bytes(buf, sizeof(buf), "x\xc2\x9b" "1m\xc2\x85", 7);
	assert_string_equal(buf, "x\\xc2\\x9b1m\\xc2\\x85");
	/* invalid UTF-8: lone continuation, overlong, surrogate, truncated,
	 * beyond U+10FFFF, a raw C1 byte */
	ferry_escape_bytes(buf, sizeof(buf), "\x80\xc0\xaf\xed\xa0\x80\xe2\x82\xf4\x90\x80\x80\x9b", 13);
	assert_string_equal(buf, "\\x80\\xc0\\xaf\\xed\\xa0\\x80\\xe2\\x82"
				 "\\xf4\\x90\\x80\\x80\\x9b");
	/* idempotent: backslashes are kept, so escaping twice changes nothing */
	ferry_escape_bytes(buf, sizeof(buf), hostile, strlen(hostile));
	dup = ferry_escape_dup(buf);
	assert_non_null(dup);
	assert_string_equal(dup, buf);
	free(dup);
	/* truncation never splits an escape; the full length is returned */
	assert_int_equal(ferry_escape_bytes(small, sizeof(small), "ab\x1b" "cd", 5), 8);
	assert_string_equal(small, "ab\\x1bcd");
	assert_int_equal(ferry_escape_bytes(small, 6, "ab\x1b" "cd", 5), 8);
	assert_string_equal(small, "ab");
	assert_int_equal(ferry_escape_bytes(NULL, 0, "\x1b", 1), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_util__parses_sizes),
		cmocka_unit_test(test_core_util__parses_durations),
		cmocka_unit_test(test_core_util__round_trips_times),
		cmocka_unit_test(test_core_util__judges_member_paths),
		cmocka_unit_test(test_core_util__escapes_outside_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
