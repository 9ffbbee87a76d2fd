/*
 * The closure's blob set: a hash table that must hold every digest once
 * however many are added (it grows while adding), answer for digests it
 * lacks, and not be fooled by names that are not digests (gc asks it about
 * every file name in the blob directory).
 */
#include <stdio.h>
#include <string.h>

#include "closure.h"
#include "hash.h"
#include "testlib.h"

static void digest_of(char hex[FERRY_SHA256_HEX_LEN + 1], size_t i)
{
	char text[32];

	snprintf(text, sizeof(text), "blob %zu", i);
	assert_int_equal(ferry_sha256_hex(hex, text, strlen(text)), 0);
}

static void test_store_closure__set_holds_each_digest_once(void **state)
{
	ferry_store_closure cl = FERRY_STORE_CLOSURE_INIT;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	size_t i;

	(void)state;
	assert_false(ferry_store_closure_has(&cl, "00"));
	for (i = 0; i < 5000; i++) {
		digest_of(hex, i);
		assert_int_equal(ferry_store_closure_insert(&cl, hex), 1);
	}
	assert_int_equal(cl.n, 5000);
	for (i = 0; i < 5000; i++) {
		digest_of(hex, i);
		assert_int_equal(ferry_store_closure_insert(&cl, hex), 0);
		assert_true(ferry_store_closure_has(&cl, hex));
	}
	assert_int_equal(cl.n, 5000);
	for (i = 5000; i < 6000; i++) {
		digest_of(hex, i);
		assert_false(ferry_store_closure_has(&cl, hex));
	}
	assert_false(ferry_store_closure_has(&cl, ""));
	assert_false(ferry_store_closure_has(&cl, "not-a-digest.tmp"));
	digest_of(hex, 1);
	hex[10] = '\0';   /* a prefix of a held digest is not held */
	assert_false(ferry_store_closure_has(&cl, hex));
	ferry_store_closure_dispose(&cl);
	assert_int_equal(cl.n, 0);
	assert_false(ferry_store_closure_has(&cl, "00"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_closure__set_holds_each_digest_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
