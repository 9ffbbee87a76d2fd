/*
 * The console's sessions and login throttle: fresh random tokens, lookups
 * that refuse unknown, malformed and expired tokens, logout, the oldest
 * session dropped at the cap, and password guessing refused per address
 * and per user until the window passes.
 */
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "session.h"
#include "ferry/errors.h"

static ferry_sessions *table(size_t max)
{
	ferry_sessions_options o = FERRY_SESSIONS_OPTIONS_INIT;
	ferry_sessions *s;

	o.idle = 100;
	o.lifetime = 1000;
	o.max_sessions = max;
	o.max_failures = 3;
	o.window = 60;
	assert_int_equal(ferry_sessions_new(&s, &o), 0);
	return s;
}

static void test_console_session__create_get_drop(void **state)
{
	ferry_sessions *s = table(8);
	char t1[FERRY_SESSION_TOKEN_LEN + 1], t2[FERRY_SESSION_TOKEN_LEN + 1];
	ferry_session a, b, got;

	(void)state;
	assert_int_equal(ferry_sessions_create(t1, &a, s, "otto", FERRY_ROLE_OPERATOR, 10), 0);
	assert_int_equal(ferry_sessions_create(t2, &b, s, "otto", FERRY_ROLE_OPERATOR, 10), 0);
	assert_int_equal(strlen(t1), FERRY_SESSION_TOKEN_LEN);
	assert_int_equal(strspn(t1, "0123456789abcdef"), FERRY_SESSION_TOKEN_LEN);
	assert_string_not_equal(t1, t2);
	assert_string_not_equal(a.csrf, b.csrf);
	assert_string_not_equal(a.csrf, t1);
	assert_int_equal(ferry_sessions_get(&got, s, t1, 50), 0);
	assert_string_equal(got.user, "otto");
	assert_int_equal(got.role, FERRY_ROLE_OPERATOR);
	assert_string_equal(got.csrf, a.csrf);
	/* unknown, malformed and empty tokens */
	t1[0] = t1[0] == 'a' ? 'b' : 'a';
	assert_int_equal(ferry_sessions_get(&got, s, t1, 50), FERRY_ENOTFOUND);
	assert_int_equal(ferry_sessions_get(&got, s, "abc", 50), FERRY_ENOTFOUND);
	assert_int_equal(ferry_sessions_get(&got, s, "", 50), FERRY_ENOTFOUND);
	assert_int_equal(ferry_sessions_get(&got, s, NULL, 50), FERRY_ENOTFOUND);
	/* logout */
	ferry_sessions_drop(s, t2);
	assert_int_equal(ferry_sessions_get(&got, s, t2, 50), FERRY_ENOTFOUND);
	ferry_sessions_free(s);
}

static void test_console_session__expiry(void **state)
{
	ferry_sessions *s = table(8);
	char t[FERRY_SESSION_TOKEN_LEN + 1];
	ferry_session a, got;
	int64_t now;

	(void)state;
	assert_int_equal(ferry_sessions_create(t, &a, s, "vera", FERRY_ROLE_VIEWER, 0), 0);
	/* used every 90 s (idle limit 100): alive until the lifetime (1000) */
	for (now = 90; now <= 990; now += 90)
		assert_int_equal(ferry_sessions_get(&got, s, t, now), 0);
	assert_int_equal(ferry_sessions_get(&got, s, t, 1001), FERRY_ENOTFOUND);
	assert_int_equal(ferry_sessions_create(t, &a, s, "vera", FERRY_ROLE_VIEWER, 0), 0);
	assert_int_equal(ferry_sessions_get(&got, s, t, 101), FERRY_ENOTFOUND);
	ferry_sessions_free(s);
}

static void test_console_session__cap_drops_the_oldest(void **state)
{
	ferry_sessions *s = table(2);
	char t1[FERRY_SESSION_TOKEN_LEN + 1], t2[FERRY_SESSION_TOKEN_LEN + 1];
	char t3[FERRY_SESSION_TOKEN_LEN + 1];
	ferry_session a, got;

	(void)state;
	assert_int_equal(ferry_sessions_create(t1, &a, s, "a", FERRY_ROLE_VIEWER, 1), 0);
	assert_int_equal(ferry_sessions_create(t2, &a, s, "b", FERRY_ROLE_VIEWER, 2), 0);
	assert_int_equal(ferry_sessions_get(&got, s, t1, 3), 0);   /* t1 used last */
	assert_int_equal(ferry_sessions_create(t3, &a, s, "c", FERRY_ROLE_VIEWER, 4), 0);
	assert_int_equal(ferry_sessions_get(&got, s, t2, 5), FERRY_ENOTFOUND);
	assert_int_equal(ferry_sessions_get(&got, s, t1, 5), 0);
	assert_int_equal(ferry_sessions_get(&got, s, t3, 5), 0);
	ferry_sessions_free(s);
}

static void test_console_session__per_user_cap(void **state)
{
	ferry_sessions *s = table(64);
	char other[FERRY_SESSION_TOKEN_LEN + 1], t[FERRY_SESSION_TOKEN_LEN + 1];
	char first[FERRY_SESSION_TOKEN_LEN + 1];
	ferry_session a, got;
	int i;

	(void)state;
	assert_int_equal(ferry_sessions_create(other, &a, s, "otto", FERRY_ROLE_OPERATOR, 1), 0);
	assert_int_equal(ferry_sessions_create(first, &a, s, "vera", FERRY_ROLE_VIEWER, 2), 0);
	/* vera logs in again and again: her oldest session goes, otto's stays */
	for (i = 0; i < 3 * FERRY_SESSIONS_PER_USER; i++)
		assert_int_equal(ferry_sessions_create(t, &a, s, "vera", FERRY_ROLE_VIEWER, 3 + i), 0);
	assert_int_equal(ferry_sessions_get(&got, s, other, 60), 0);
	assert_int_equal(ferry_sessions_get(&got, s, first, 60), FERRY_ENOTFOUND);
	assert_int_equal(ferry_sessions_get(&got, s, t, 60), 0);
	ferry_sessions_free(s);
}

static void test_console_session__throttle(void **state)
{
	ferry_sessions *s = table(8);
	int64_t wait = 0;
	int i;

	(void)state;
	/* each attempt counts before its password is judged */
	for (i = 0; i < 3; i++)
		assert_true(ferry_sessions_login_attempt(&wait, s, "10.0.0.1", "otto", 100 + i));
	/* the address is spent, for any name; the name is spent, from any address */
	assert_false(ferry_sessions_login_attempt(&wait, s, "10.0.0.1", "vera", 110));
	assert_int_equal(wait, 50);
	assert_false(ferry_sessions_login_attempt(&wait, s, "10.0.0.2", "otto", 110));
	assert_true(ferry_sessions_login_attempt(&wait, s, "10.0.0.2", "vera", 110));
	assert_int_equal(wait, 0);
	ferry_sessions_login_succeeded(s, "10.0.0.2", "vera", 110);
	/* the window passes */
	assert_true(ferry_sessions_login_attempt(&wait, s, "10.0.0.1", "otto", 160));
	ferry_sessions_login_succeeded(s, "10.0.0.1", "otto", 160);
	/* successes give the address's count back: logins from one address
	 * (a site behind NAT) never lock it */
	for (i = 0; i < 10; i++) {
		assert_true(ferry_sessions_login_attempt(&wait, s, "10.0.0.9", "vera", 170));
		ferry_sessions_login_succeeded(s, "10.0.0.9", "vera", 170);
	}
	/* a success clears the name's count */
	assert_true(ferry_sessions_login_attempt(&wait, s, "10.0.0.3", "vera", 200));
	assert_true(ferry_sessions_login_attempt(&wait, s, "10.0.0.3", "vera", 200));
	assert_true(ferry_sessions_login_attempt(&wait, s, "10.0.0.4", "vera", 201));
	ferry_sessions_login_succeeded(s, "10.0.0.4", "vera", 201);
	assert_true(ferry_sessions_login_attempt(&wait, s, "10.0.0.5", "vera", 202));
	assert_true(ferry_sessions_login_attempt(&wait, s, "10.0.0.6", "vera", 203));
	ferry_sessions_free(s);
}

static void test_console_session__throttle_table_is_bounded(void **state)
{
	ferry_sessions *s = table(8);
	char addr[32];
	int64_t wait = 0;
	int i;

	(void)state;
	/* a flood of addresses and names: the table evicts, never grows or
	 * loses the entry being counted */
	for (i = 0; i < 20000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		assert_true(ferry_sessions_login_attempt(&wait, s, addr, addr, 1000));
	}
	for (i = 0; i < 3; i++)
		ferry_sessions_login_attempt(&wait, s, "10.9.9.9", "otto", 1001);
	assert_false(ferry_sessions_login_attempt(&wait, s, "10.9.9.9", "otto", 1002));
	/* the address was counted too: another name from it waits as well */
	assert_false(ferry_sessions_login_attempt(&wait, s, "10.9.9.9", "vera", 1002));
	ferry_sessions_free(s);
}

static void test_console_session__token_equal(void **state)
{
	char a[FERRY_SESSION_TOKEN_LEN + 1], b[FERRY_SESSION_TOKEN_LEN + 1];

	(void)state;
	memset(a, 'a', FERRY_SESSION_TOKEN_LEN);
	a[FERRY_SESSION_TOKEN_LEN] = '\0';
	memcpy(b, a, sizeof(a));
	assert_true(ferry_sessions_token_equal(a, b));
	b[10] = 'b';
	assert_false(ferry_sessions_token_equal(a, b));
	assert_false(ferry_sessions_token_equal(a, NULL));
	assert_false(ferry_sessions_token_equal("aaa", "aaa"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_console_session__create_get_drop),
		cmocka_unit_test(test_console_session__expiry),
		cmocka_unit_test(test_console_session__cap_drops_the_oldest),
		cmocka_unit_test(test_console_session__per_user_cap),
		cmocka_unit_test(test_console_session__throttle),
		cmocka_unit_test(test_console_session__throttle_table_is_bounded),
		cmocka_unit_test(test_console_session__token_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
