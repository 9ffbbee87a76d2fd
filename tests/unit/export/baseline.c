/*
 * Reading an enclave receipt's document (ferry_export_receipt_parse): the
 * channel's sequence, the blobs and the refs, and the mistakes refused.
 */
#include <string.h>

#include "baseline.h"
#include "testlib.h"

#define OID "0123456789abcdef0123456789abcdef01234567"
#define HEX "0ceb494373df14663cd6338a9f08e4be4ecc8ccd8fa574d64fe63578063e134a"

static int parse(ferry_export_receipt *r, const char *text, uint64_t last_sent)
{
	return ferry_export_receipt_parse(r, text, strlen(text), "site-a", last_sent);
}

static void test_export_baseline__reads_receipts(void **state)
{
	ferry_export_receipt r;

	(void)state;
	assert_int_equal(parse(&r, "{\"_type\":\"urn:ferry:receipt:v1\",\"channels\":["
			       "{\"channel\":\"other\",\"sequence\":9},"
			       "{\"channel\":\"site-a\",\"sequence\":3,\"bundle\":\"b\"}],"
			       "\"blobs\":[\"" HEX "\"],\"repositories\":[{\"name\":\"org/app\","
			       "\"refs\":[{\"name\":\"refs/heads/main\",\"commit\":\"" OID "\"}]}]}",
			       3), 0);
	assert_int_equal(r.sequence, 3);
	assert_int_equal(r.ndigests, 1);
	assert_string_equal(r.digests[0], HEX);
	assert_int_equal(r.nrefs, 1);
	assert_string_equal(r.refs[0].repo, "org/app");
	assert_string_equal(r.refs[0].ref, "refs/heads/main");
	assert_string_equal(r.refs[0].commit, OID);
	ferry_export_receipt_dispose(&r);

	assert_int_equal(parse(&r, "{\"_type\":\"urn:ferry:receipt:v1\",\"channels\":[],"
			       "\"blobs\":[],\"repositories\":[]}", 0), 0);
	assert_int_equal(r.sequence, 0);
	ferry_export_receipt_dispose(&r);
}

static void test_export_baseline__refuses_mistakes(void **state)
{
	ferry_export_receipt r;

	(void)state;
	assert_error(parse(&r, "{\"_type\":\"urn:ferry:receipt:v1\",\"channels\":["
			   "{\"channel\":\"site-a\",\"sequence\":4}],\"blobs\":[],"
			   "\"repositories\":[]}", 3), FERRY_EINVALID, "sent only 3");
	assert_error(parse(&r, "{\"_type\":\"urn:other\",\"channels\":[],\"blobs\":[],"
			   "\"repositories\":[]}", 3), FERRY_EUNSUPPORTED,
		     "unsupported receipt type");
	assert_error(parse(&r, "{\"_type\":\"urn:ferry:receipt:v1\",\"channels\":[],"
			   "\"blobs\":[\"zz\"],\"repositories\":[]}", 3), FERRY_EINVALID,
		     "malformed blob digest");
	assert_error(parse(&r, "{\"_type\":\"urn:ferry:receipt:v1\",\"channels\":[],"
			   "\"blobs\":[],\"repositories\":[{\"name\":\"../x\",\"refs\":["
			   "{\"name\":\"refs/heads/main\",\"commit\":\"" OID "\"}]}]}", 3),
		     FERRY_EINVALID, "malformed ref");
	assert_error(parse(&r, "{\"_type\":\"urn:ferry:receipt:v1\"}", 3), FERRY_EINVALID,
		     "channels");
	assert_error(parse(&r, "", 3), FERRY_EINVALID, "receipt");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export_baseline__reads_receipts),
		cmocka_unit_test(test_export_baseline__refuses_mistakes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
