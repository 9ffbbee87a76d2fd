/*
 * FERRY_ALLOC_GROW: growth, reuse of room, and refusal of sizes that would
 * overflow, leaving the array as it was.
 */
#include <stdint.h>
#include <string.h>

#include "testlib.h"
#include "alloc.h"

typedef struct {
	char name[24];
	uint64_t n;
} item;

static void test_core_alloc__grows_and_keeps_contents(void **state)
{
	item *v = NULL;
	size_t nr = 0, alloc = 0, i, before;

	(void)state;
	for (i = 0; i < 1000; i++) {
		assert_int_equal(FERRY_ALLOC_GROW(v, nr + 1, alloc), 0);
		assert_true(alloc >= nr + 1);
		v[nr].n = i;
		nr++;
	}
	for (i = 0; i < nr; i++)
		assert_true(v[i].n == i);
	/* enough room: nothing changes */
	before = alloc;
	assert_int_equal(FERRY_ALLOC_GROW(v, nr, alloc), 0);
	assert_true(alloc == before);
	/* a jump beyond the geometric step gets at least what was asked */
	assert_int_equal(FERRY_ALLOC_GROW(v, alloc * 4, alloc), 0);
	assert_true(alloc >= before * 4);
	assert_true(v[999].n == 999);
	free(v);
}

static void test_core_alloc__refuses_overflow(void **state)
{
	item *v = NULL;
	size_t alloc = 0;

	(void)state;
	assert_int_equal(FERRY_ALLOC_GROW(v, 4, alloc), 0);
	v[0].n = 42;
	ferry_error_clear();
	assert_int_equal(FERRY_ALLOC_GROW(v, SIZE_MAX / sizeof(item) + 1, alloc), FERRY_ETOOBIG);
	assert_int_equal(ferry_error_last_code(), FERRY_ETOOBIG);
	assert_true(strlen(ferry_error_last()) > 0);
	assert_int_equal(FERRY_ALLOC_GROW(v, SIZE_MAX, alloc), FERRY_ETOOBIG);
	/* unchanged after the refusal */
	assert_true(alloc >= 4 && alloc < 100);
	assert_true(v[0].n == 42);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_alloc__grows_and_keeps_contents),
		cmocka_unit_test(test_core_alloc__refuses_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
