/*
 * The mirror's reading of what clients send (mirror/request.h): routes,
 * Range headers, page sizes, gzip bodies and upload-pack pkt-lines.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "request.h"
#include "testlib.h"

static void test_mirror_request__range(void **state)
{
	uint64_t a = 7, b = 7;

	(void)state;
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=0-99", 1000), 0);
	assert_true(a == 0 && b == 99);
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=990-2000", 1000), 0);
	assert_true(a == 990 && b == 999);
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=10-", 1000), 0);
	assert_true(a == 10 && b == 999);
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=-100", 1000), 0);
	assert_true(a == 900 && b == 999);
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=-5000", 1000), 0);
	assert_true(a == 0 && b == 999);
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=1000-", 1000), -1);
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=5-4", 1000), -1);
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=-0", 1000), -1);
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=0-0", 0), -1);
	/* RFC 9110 14.2: several ranges and unknown units are ignored (200) */
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=0-1,3-4", 1000), 1);
	assert_int_equal(ferry_mirror__range(&a, &b, "bytes=0-1, 5000-6000", 1000), 1);
	assert_int_equal(ferry_mirror__range(&a, &b, "items=0-1", 1000), 1);
	assert_int_equal(ferry_mirror__range(&a, &b, "BYTES=0-1", 1000), 0);
	assert_true(a == 0 && b == 1);
}

static void test_mirror_request__page_size(void **state)
{
	unsigned long n = 9;

	(void)state;
	assert_int_equal(ferry_mirror__page_size(&n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ferry_mirror__page_size(&n, "100000"), 0);
	assert_int_equal(n, 100000);
	assert_int_equal(ferry_mirror__page_size(&n, "100001"), -1);
	assert_int_equal(ferry_mirror__page_size(&n, ""), -1);
	assert_int_equal(ferry_mirror__page_size(&n, "5x"), -1);
	assert_int_equal(ferry_mirror__page_size(&n, "99999999999999999999999"), -1);
}

/* A git URL splits into `name` and `rest`, or (both NULL) is refused. */
static void split_is(const char *url, const char *name, const char *rest)
{
	char got[64];
	const char *after = NULL;

	assert_int_equal(ferry_mirror__git_split_url(url, got, sizeof(got), &after),
			 name ? 0 : -1);
	if (name) {
		assert_string_equal(got, name);
		assert_string_equal(after, rest);
	}
}

static void test_mirror_request__routes(void **state)
{
	char name[256];
	const char *rest = NULL;

	(void)state;
	assert_int_equal(ferry_mirror__oci_route(name, sizeof(name), &rest,
						 "org/app/manifests/1.0"),
			 FERRY_MIRROR_ROUTE_MANIFESTS);
	assert_string_equal(name, "org/app");
	assert_string_equal(rest, "1.0");
	/* the last occurrence: a name may hold the word */
	assert_int_equal(ferry_mirror__oci_route(name, sizeof(name), &rest,
						 "blobs/x/blobs/sha256:00"),
			 FERRY_MIRROR_ROUTE_BLOBS);
	assert_string_equal(name, "blobs/x");
	assert_int_equal(ferry_mirror__oci_route(name, sizeof(name), &rest, "a/tags/list"),
			 FERRY_MIRROR_ROUTE_TAGS);
	assert_string_equal(rest, "");
	assert_int_equal(ferry_mirror__oci_route(name, sizeof(name), &rest, "a/referrers/d"),
			 FERRY_MIRROR_ROUTE_REFERRERS);
	assert_int_equal(ferry_mirror__oci_route(name, sizeof(name), &rest, "a/b/c"),
			 FERRY_MIRROR_ROUTE_NONE);
	assert_int_equal(ferry_mirror__oci_route(name, sizeof(name), &rest,
						 "../a/manifests/x"),
			 FERRY_MIRROR_ROUTE_BAD_NAME);
	assert_int_equal(ferry_mirror__oci_route(name, 4, &rest, "abcd/manifests/x"),
			 FERRY_MIRROR_ROUTE_BAD_NAME);

	split_is("/git/org/app.git/info/refs", "org/app", "info/refs");
	split_is("/git/../x.git/info/refs", NULL, NULL);
	/* without ".git", as git http-backend finds it too */
	split_is("/git/org/app/info/refs", "org/app", "info/refs");
	split_is("/git/app/git-upload-pack", "app", "git-upload-pack");
	split_is("/git/app/objects/info/packs", NULL, NULL);
	split_is("/git/info/refs", NULL, NULL);
	split_is("/git/../x/info/refs", NULL, NULL);
}

static void body_of(ferry_buf *b, const char *text, size_t len)
{
	ferry_buf_dispose(b);
	assert_int_equal(ferry_buf_put(b, text, len), 0);
}

static void test_mirror_request__pkt_lines(void **state)
{
	static const char oid[] = "0123456789abcdef0123456789abcdef01234567";
	ferry_buf body = FERRY_BUF_INIT;
	char *line = NULL, text[256];
	git_oid o;
	size_t at = 0;
	int caps;

	(void)state;
	assert_true(git_libgit2_init() > 0);   /* as the mirror does when it starts */
	snprintf(text, sizeof(text), "%04zxwant %s side-band-64k\n0000%04zxhave %s\n0009done\n",
		 (size_t)(4 + 5 + 40 + 15), oid, (size_t)(4 + 5 + 40 + 1), oid);
	body_of(&body, text, strlen(text));
	assert_int_equal(ferry_mirror__pkt_next(&line, &body, &at), 1);
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, line), FERRY_UPLOAD_WANT);
	assert_int_equal(caps, 1);
	free(line);
	assert_int_equal(ferry_mirror__pkt_next(&line, &body, &at), 1);
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, line), FERRY_UPLOAD_HAVE);
	assert_int_equal(caps, 0);
	free(line);
	assert_int_equal(ferry_mirror__pkt_next(&line, &body, &at), 1);
	assert_string_equal(line, "done");
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, line), FERRY_UPLOAD_DONE);
	free(line);
	assert_int_equal(ferry_mirror__pkt_next(&line, &body, &at), 0);
	assert_null(line);

	assert_int_equal(ferry_mirror__upload_line(&o, &caps, "shallow x"), FERRY_UPLOAD_REFUSED);
	snprintf(text, sizeof(text), "shallow %s", oid);
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, text), FERRY_UPLOAD_SHALLOW);
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, "deepen 1"), FERRY_UPLOAD_DEEPEN);
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, "deepen-since 1700000000"),
			 FERRY_UPLOAD_DEEPEN_SINCE);
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, "deepen-not refs/heads/x"),
			 FERRY_UPLOAD_REFUSED);
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, "filter blob:none"),
			 FERRY_UPLOAD_FILTER);
	snprintf(text, sizeof(text), "want %s deepen-relative side-band-64k-x", oid);
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, text), FERRY_UPLOAD_WANT);
	assert_int_equal(caps, FERRY_UPLOAD_CAP_DEEPEN_RELATIVE);
	{
		long long n = 0;

		assert_int_equal(ferry_mirror__upload_number(&n, "deepen 2147483647"), 0);
		assert_true(n == 2147483647LL);
		assert_int_equal(ferry_mirror__upload_number(&n, "deepen -1"), -1);
		assert_int_equal(ferry_mirror__upload_number(&n, "deepen "), -1);
		assert_int_equal(ferry_mirror__upload_number(&n, "deepen 1x"), -1);
		assert_int_equal(ferry_mirror__upload_number(&n, "deepen 99999999999999999999"),
				 -1);
	}
	assert_int_equal(ferry_mirror__upload_line(&o, &caps, "want zz"), FERRY_UPLOAD_IGNORED);

	/* a length with a sign once moved the parse backwards, for ever */
	at = 0;
	body_of(&body, "0000-004want", 12);
	assert_int_equal(ferry_mirror__pkt_next(&line, &body, &at), -1);
	at = 0;
	body_of(&body, "0x10want 1234567", 16);
	assert_int_equal(ferry_mirror__pkt_next(&line, &body, &at), -1);
	at = 0;
	body_of(&body, "0003", 4);
	assert_int_equal(ferry_mirror__pkt_next(&line, &body, &at), -1);
	at = 0;
	body_of(&body, "ffffwant", 8);
	assert_int_equal(ferry_mirror__pkt_next(&line, &body, &at), -1);
	at = 0;
	body_of(&body, "000", 3);   /* a trailing partial length is not read */
	assert_int_equal(ferry_mirror__pkt_next(&line, &body, &at), 0);
	ferry_buf_dispose(&body);
	git_libgit2_shutdown();
}

static void test_mirror_request__gunzip(void **state)
{
	static const char text[] = "0009done\n";
	ferry_buf body = FERRY_BUF_INIT;
	unsigned char gz[256];
	z_stream z;

	(void)state;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)text;
	z.avail_in = sizeof(text) - 1;
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	body_of(&body, (const char *)gz, sizeof(gz) - z.avail_out);
	deflateEnd(&z);
	assert_int_equal(ferry_mirror__gunzip(&body), 0);
	assert_int_equal(body.size, sizeof(text) - 1);
	assert_memory_equal(body.ptr, text, body.size);
	body_of(&body, (const char *)gz, 10);
	assert_int_equal(ferry_mirror__gunzip(&body), -1);
	ferry_buf_dispose(&body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_request__range),
		cmocka_unit_test(test_mirror_request__page_size),
		cmocka_unit_test(test_mirror_request__routes),
		cmocka_unit_test(test_mirror_request__pkt_lines),
		cmocka_unit_test(test_mirror_request__gunzip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
