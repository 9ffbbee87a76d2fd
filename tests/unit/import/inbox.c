/*
 * The inbox's pure parts: which names it takes, when a file has settled,
 * and the plan that orders complete bundles per channel, keeps incomplete
 * ones waiting for their volumes and holds one whose base sequence is not
 * in until it is.
 */
#include "inbox.h"
#include "testlib.h"

static void test_import_inbox__classifies_names(void **state)
{
	(void)state;
	assert_int_equal(ferry_inbox_classify("ferry-a-000001.tar"), FERRY_INBOX_BUNDLE);
	assert_int_equal(ferry_inbox_classify("ferry-a-000002.vol003.tar"), FERRY_INBOX_BUNDLE);
	assert_int_equal(ferry_inbox_classify("ferry-a-000001.tar.minisig"), FERRY_INBOX_SIDECAR);
	assert_int_equal(ferry_inbox_classify("ferry-a-000001.tar.sha256"), FERRY_INBOX_SIDECAR);
	assert_int_equal(ferry_inbox_classify(".ferry-a-000001.tar"), FERRY_INBOX_SKIP);
	assert_int_equal(ferry_inbox_classify("ferry-a-000001.tar.part"), FERRY_INBOX_SKIP);
	assert_int_equal(ferry_inbox_classify("ferry-a-000001.tar.tmp"), FERRY_INBOX_SKIP);
	assert_int_equal(ferry_inbox_classify(".ferry-inbox"), FERRY_INBOX_SKIP);
	assert_int_equal(ferry_inbox_classify("notes.txt"), FERRY_INBOX_OTHER);
	assert_int_equal(ferry_inbox_classify("ferry-a-000001.tar.reason"), FERRY_INBOX_OTHER);
	assert_int_equal(ferry_inbox_classify(".tar"), FERRY_INBOX_SKIP);
	assert_int_equal(ferry_inbox_classify(".minisig"), FERRY_INBOX_SKIP);
}

static void test_import_inbox__settles_after_the_interval(void **state)
{
	(void)state;
	/* changed just now: not yet; changed settle seconds ago: yes */
	assert_false(ferry_inbox_settled(1000, 1000, 1000, 5));
	assert_false(ferry_inbox_settled(996, 996, 1000, 5));
	assert_true(ferry_inbox_settled(995, 995, 1000, 5));
	/* an old mtime kept by the copy, a fresh change time (rename, write):
	 * the change time counts */
	assert_false(ferry_inbox_settled(10, 999, 1000, 5));
	assert_true(ferry_inbox_settled(10, 990, 1000, 5));
	/* written to after its last change of name */
	assert_false(ferry_inbox_settled(998, 900, 1000, 5));
	/* an mtime in the future (a clock ahead) does not hold it forever */
	assert_true(ferry_inbox_settled(5000, 990, 1000, 5));
	/* settle 0: anything not changed in the future */
	assert_true(ferry_inbox_settled(1000, 1000, 1000, 0));
}

static ferry_inbox_bundle make(const char *channel, uint64_t seq, uint64_t base,
			       size_t nvolumes, size_t have)
{
	ferry_inbox_bundle b;
	size_t v;

	memset(&b, 0, sizeof(b));
	snprintf(b.id, sizeof(b.id), "%s-%llu", channel, (unsigned long long)seq);
	b.channel = strdup(channel);
	b.sequence = seq;
	b.base_sequence = base;
	b.nvolumes = b.nhave = nvolumes;
	b.have = calloc(nvolumes, 1);
	assert_non_null(b.channel);
	assert_non_null(b.have);
	for (v = 0; v < have; v++)
		b.have[v] = 1;
	return b;
}

/* Channel "a" is at sequence 1, "b" at 5, others at 0. */
static int channel_at(uint64_t *out, const char *channel, void *payload)
{
	int *calls = payload;

	(*calls)++;
	*out = !strcmp(channel, "a") ? 1 : !strcmp(channel, "b") ? 5 : 0;
	return 0;
}

static void release(ferry_inbox_bundle *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(b[i].channel);
		free(b[i].have);
	}
}

static void test_import_inbox__plans_in_order_per_channel(void **state)
{
	ferry_inbox_bundle b[7];
	int calls = 0;

	(void)state;
	b[0] = make("a", 4, 3, 1, 1);   /* builds on 3, which is complete */
	b[1] = make("a", 3, 2, 1, 1);   /* builds on 2, which lacks a volume */
	b[2] = make("a", 2, 1, 4, 3);   /* one volume of four missing */
	b[3] = make("b", 4, 3, 1, 1);   /* at or below the channel: for the import to skip */
	b[4] = make("b", 7, 6, 1, 1);   /* builds on 6, never seen */
	b[5] = make("c", 1, 0, 2, 2);   /* full, complete */
	b[6] = make("c", 2, 1, 1, 1);   /* builds on c1, ready in the same pass */
	assert_int_equal(ferry_inbox_plan(b, 7, channel_at, &calls), 0);
	assert_int_equal(calls, 3);   /* once per channel */
	assert_string_equal(b[0].id, "a-2");
	assert_int_equal(b[0].state, FERRY_INBOX_WAIT_VOLUMES);
	assert_string_equal(b[1].id, "a-3");
	assert_int_equal(b[1].state, FERRY_INBOX_WAIT_SEQUENCE);
	assert_int_equal(b[1].waits_for, 2);
	assert_string_equal(b[2].id, "a-4");
	assert_int_equal(b[2].state, FERRY_INBOX_WAIT_SEQUENCE);
	assert_int_equal(b[2].waits_for, 3);
	assert_string_equal(b[3].id, "b-4");
	assert_int_equal(b[3].state, FERRY_INBOX_READY);
	assert_string_equal(b[4].id, "b-7");
	assert_int_equal(b[4].state, FERRY_INBOX_WAIT_SEQUENCE);
	assert_int_equal(b[4].waits_for, 6);
	assert_string_equal(b[5].id, "c-1");
	assert_int_equal(b[5].state, FERRY_INBOX_READY);
	assert_string_equal(b[6].id, "c-2");
	assert_int_equal(b[6].state, FERRY_INBOX_READY);
	release(b, 7);
}

static void test_import_inbox__a_full_bundle_needs_no_base(void **state)
{
	ferry_inbox_bundle b[2];
	int calls = 0;

	(void)state;
	b[0] = make("d", 9, 0, 1, 1);   /* full: ready whatever came before */
	b[1] = make("d", 10, 9, 3, 3);  /* builds on 9: ready after it */
	assert_int_equal(ferry_inbox_plan(b, 2, channel_at, &calls), 0);
	assert_int_equal(b[0].state, FERRY_INBOX_READY);
	assert_int_equal(b[1].state, FERRY_INBOX_READY);
	assert_true(ferry_inbox_in_order(&b[1], 9));
	assert_false(ferry_inbox_in_order(&b[1], 8));
	assert_true(ferry_inbox_in_order(&b[0], 0));
	release(b, 2);
}

static int failing(uint64_t *out, const char *channel, void *payload)
{
	(void)out;
	(void)channel;
	(void)payload;
	return FERRY_EIO;
}

static void test_import_inbox__plan_passes_on_a_store_error(void **state)
{
	ferry_inbox_bundle b = make("a", 1, 0, 1, 1);

	(void)state;
	assert_int_equal(ferry_inbox_plan(&b, 1, failing, NULL), FERRY_EIO);
	assert_int_equal(ferry_inbox_plan(NULL, 0, failing, NULL), 0);
	release(&b, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_inbox__classifies_names),
		cmocka_unit_test(test_import_inbox__settles_after_the_interval),
		cmocka_unit_test(test_import_inbox__plans_in_order_per_channel),
		cmocka_unit_test(test_import_inbox__a_full_bundle_needs_no_base),
		cmocka_unit_test(test_import_inbox__plan_passes_on_a_store_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
