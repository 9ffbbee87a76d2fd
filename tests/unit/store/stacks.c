/*
 * The reconciler's records in the store: a stack's suspension is set,
 * replaced, read back with who and why, and lifted once; and the schema
 * step that adds it may run twice (ferry 0.1.0 sets user_version back).
 */
#include <sqlite3.h>

#include "ferry/errors.h"
#include "stacks.h"
#include "testlib.h"

static void test_store_stacks__suspend_resume(void **state)
{
	char *dir = test_mkdtemp();
	ferry_store_stack_suspension s;
	ferry_store *st = NULL;
	int suspended = -1;

	(void)state;
	assert_int_equal(ferry_store_open(&st, test_path(dir, "store"), FERRY_STORE_CREATE, 0), 0);
	assert_int_equal(ferry_store_stack_suspension_load(&suspended, &s, st, "web"), 0);
	assert_int_equal(suspended, 0);
	assert_null(s.actor);
	assert_int_equal(ferry_store_stack_resume(st, "web"), FERRY_ENOTFOUND);

	assert_int_equal(ferry_store_stack_suspend(st, "web", "operator:a", NULL, 10), 0);
	assert_int_equal(ferry_store_stack_suspend(st, "web", "operator:b", "incident 42", 20), 0);
	assert_int_equal(ferry_store_stack_suspension_load(&suspended, &s, st, "web"), 0);
	assert_int_equal(suspended, 1);
	assert_string_equal(s.actor, "operator:b");
	assert_string_equal(s.reason, "incident 42");
	assert_int_equal(s.time, 20);
	ferry_store_stack_suspension_dispose(&s);
	assert_int_equal(ferry_store_stack_suspension_load(&suspended, NULL, st, "db"), 0);
	assert_int_equal(suspended, 0);

	assert_int_equal(ferry_store_stack_resume(st, "web"), 0);
	assert_int_equal(ferry_store_stack_resume(st, "web"), FERRY_ENOTFOUND);
	assert_int_equal(ferry_store_stack_suspension_load(&suspended, NULL, st, "web"), 0);
	assert_int_equal(suspended, 0);
	ferry_store_close(st);
	test_rmdir(dir);
}

static void test_store_stacks__schema_step_runs_twice(void **state)
{
	char *dir = test_mkdtemp();
	ferry_store *st = NULL;
	sqlite3 *db = NULL;
	int suspended = 0;

	(void)state;
	assert_int_equal(ferry_store_open(&st, test_path(dir, "store"), FERRY_STORE_CREATE, 0), 0);
	assert_int_equal(ferry_store_stack_suspend(st, "web", "operator:a", "why", 1), 0);
	ferry_store_close(st);
	/* What ferry 0.1.0 does to a store it opens. */
	assert_int_equal(sqlite3_open(test_path(dir, "store/ferry.db"), &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(ferry_store_open(&st, test_path(dir, "store"), FERRY_STORE_WRITE, 0), 0);
	assert_int_equal(ferry_store_stack_suspension_load(&suspended, NULL, st, "web"), 0);
	assert_int_equal(suspended, 1);
	ferry_store_close(st);
	test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_stacks__suspend_resume),
		cmocka_unit_test(test_store_stacks__schema_step_runs_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
