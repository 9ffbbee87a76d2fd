/*
 * The streaming size check of git packs (import/git_pack.c), over packs
 * built here byte by byte: a well-formed pack passes whether fed whole or
 * one byte at a time; a whole object above the limit is refused at its
 * header; a delta is refused from its first bytes when what it builds is
 * above the limit, its base named; the total counts what deltas build;
 * malformed headers and streams are refused.
 */
#include <zlib.h>

#include "ferry/errors.h"
#include "git_pack.h"
#include "testlib.h"

typedef struct {
	unsigned char data[4096];
	size_t len;
	uint32_t count;
} pack;

static void put(pack *p, const void *d, size_t n)
{
	assert_true(p->len + n <= sizeof(p->data));
	memcpy(p->data + p->len, d, n);
	p->len += n;
}

static void pack_init(pack *p, uint32_t count)
{
	unsigned char h[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };

	h[8] = (unsigned char)(count >> 24);
	h[9] = (unsigned char)(count >> 16);
	h[10] = (unsigned char)(count >> 8);
	h[11] = (unsigned char)count;
	p->len = 0;
	p->count = count;
	put(p, h, sizeof(h));
}

/* An entry header: type and size as git writes them; returns its offset. */
static size_t entry(pack *p, int type, uint64_t size)
{
	size_t at = p->len;
	unsigned char c = (unsigned char)((type << 4) | (size & 15));

	size >>= 4;
	while (size) {
		c |= 0x80;
		put(p, &c, 1);
		c = size & 0x7f;
		size >>= 7;
	}
	put(p, &c, 1);
	return at;
}

static void ofs(pack *p, uint64_t distance)
{
	unsigned char buf[16];
	int pos = (int)sizeof(buf) - 1;

	buf[pos] = distance & 127;
	while (distance >>= 7)
		buf[--pos] = (unsigned char)(128 | (--distance & 127));
	put(p, buf + pos, sizeof(buf) - (size_t)pos);
}

static void deflated(pack *p, const void *d, size_t n)
{
	unsigned char out[2048];
	uLongf len = sizeof(out);

	assert_int_equal(compress2(out, &len, d, (uLong)n, 6), Z_OK);
	put(p, out, len);
}

static size_t varint(unsigned char *out, uint64_t v)
{
	size_t n = 0;

	do {
		out[n] = v & 0x7f;
		if (v >>= 7)
			out[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/* A delta from a base of base_size bytes to result_size bytes: header only,
 * plus one literal insert of `extra` bytes. */
static size_t delta(unsigned char *out, uint64_t base_size, uint64_t result_size, size_t extra)
{
	size_t n = varint(out, base_size);

	n += varint(out + n, result_size);
	if (extra) {
		out[n++] = (unsigned char)extra;
		memset(out + n, 'x', extra);
		n += extra;
	}
	return n;
}

static void trailer(pack *p)
{
	unsigned char sha[20] = { 0 };

	put(p, sha, sizeof(sha));
}

static int scan(const pack *p, const ferry_git_pack_limits *limits, size_t chunk)
{
	ferry_git_pack_scan *s = NULL;
	size_t at;
	int error = 0;

	assert_int_equal(ferry_git_pack_scan_new(&s, limits), 0);
	for (at = 0; at < p->len && !error; at += chunk)
		error = ferry_git_pack_scan_feed(s, p->data + at,
						 at + chunk > p->len ? p->len - at : chunk);
	if (!error)
		error = ferry_git_pack_scan_finish(s);
	ferry_git_pack_scan_free(s);
	return error;
}

/* A blob "hello world" and a delta of 11 bytes on it. */
static void good_pack(pack *p)
{
	unsigned char d[64];
	size_t base, n;

	n = delta(d, 11, 11, 11);
	pack_init(p, 2);
	base = entry(p, 3, 11);
	deflated(p, "hello world", 11);
	{
		size_t at = entry(p, 6, n);

		ofs(p, at - base);
	}
	deflated(p, d, n);
	trailer(p);
}

static void test_import_git_pack__accepts_a_wellformed_pack(void **state)
{
	pack p;
	ferry_git_pack_limits big = { 11, 22 };

	(void)state;
	good_pack(&p);
	assert_int_equal(scan(&p, NULL, p.len), 0);
	assert_int_equal(scan(&p, NULL, 1), 0);
	assert_int_equal(scan(&p, NULL, 7), 0);
	assert_int_equal(scan(&p, &big, 3), 0);
}

static void test_import_git_pack__refuses_a_large_object_at_its_header(void **state)
{
	ferry_git_pack_limits lim = { 1 << 20, 0 };
	pack p;

	(void)state;
	pack_init(&p, 1);
	entry(&p, 3, 300000000);   /* no data: refused before it */
	assert_int_equal(scan(&p, &lim, p.len), FERRY_ETOOBIG);
	assert_non_null(strstr(ferry_error_last(), "object 0 at offset 12 of the pack (a blob) "
				"inflates to 300000000 bytes, above the limit of 1048576 bytes"));
}

static void test_import_git_pack__refuses_a_delta_bomb_from_its_first_bytes(void **state)
{
	ferry_git_pack_limits lim = { 1 << 20, 0 };
	unsigned char d[32];
	size_t base, at, n;
	pack p;

	(void)state;
	pack_init(&p, 2);
	base = entry(&p, 3, 11);
	deflated(&p, "hello world", 11);
	n = delta(d, 11, (uint64_t)1 << 30, 3);
	at = entry(&p, 6, n);
	ofs(&p, at - base);
	deflated(&p, d, n);
	trailer(&p);
	assert_int_equal(scan(&p, &lim, 1), FERRY_ETOOBIG);
	assert_non_null(strstr(ferry_error_last(), "(a delta on the object at offset 12) "
				"inflates to 1073741824 bytes"));

	/* a reference delta names its base by id */
	pack_init(&p, 1);
	entry(&p, 7, n);
	{
		unsigned char id[20];

		memset(id, 0xab, sizeof(id));
		put(&p, id, sizeof(id));
	}
	n = delta(d, 11, (uint64_t)1 << 30, 3);
	deflated(&p, d, n);
	trailer(&p);
	assert_int_equal(scan(&p, &lim, p.len), FERRY_ETOOBIG);
	assert_non_null(strstr(ferry_error_last(), "(a delta on abababababababababababababababababababab)"));
}

static void test_import_git_pack__counts_what_deltas_build_in_the_total(void **state)
{
	ferry_git_pack_limits lim = { 0, 21 };
	pack p;

	(void)state;
	good_pack(&p);   /* 11 + 11 bytes */
	assert_int_equal(scan(&p, &lim, 5), FERRY_ETOOBIG);
	assert_non_null(strstr(ferry_error_last(), "limit of 21 bytes in all"));
	assert_non_null(strstr(ferry_error_last(), "(11 bytes before object 1"));
}

static void test_import_git_pack__refuses_malformed_packs(void **state)
{
	pack p;

	(void)state;
	pack_init(&p, 1);
	p.data[0] = 'X';
	assert_int_equal(scan(&p, NULL, p.len), FERRY_EINVALID);

	pack_init(&p, 1);
	entry(&p, 5, 3);
	assert_int_equal(scan(&p, NULL, p.len), FERRY_EINVALID);
	assert_non_null(strstr(ferry_error_last(), "bad object type"));

	/* more data than the header states */
	pack_init(&p, 1);
	entry(&p, 3, 5);
	deflated(&p, "hello world", 11);
	trailer(&p);
	assert_int_equal(scan(&p, NULL, 4), FERRY_EINVALID);
	assert_non_null(strstr(ferry_error_last(), "inflates to more than its header states"));

	/* an offset delta reaching before the pack */
	pack_init(&p, 1);
	entry(&p, 6, 3);
	ofs(&p, 1000);
	assert_int_equal(scan(&p, NULL, p.len), FERRY_EINVALID);
	assert_non_null(strstr(ferry_error_last(), "delta base offset out of the pack"));

	/* truncated inside an entry */
	good_pack(&p);
	p.len -= 25;
	assert_int_equal(scan(&p, NULL, p.len), FERRY_EINVALID);
	assert_non_null(strstr(ferry_error_last(), "the pack ends inside object 1 of 2"));

	/* too many objects */
	pack_init(&p, (uint32_t)FERRY_GIT_PACK_COUNT_MAX + 1);
	assert_int_equal(scan(&p, NULL, p.len), FERRY_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_git_pack__accepts_a_wellformed_pack),
		cmocka_unit_test(test_import_git_pack__refuses_a_large_object_at_its_header),
		cmocka_unit_test(test_import_git_pack__refuses_a_delta_bomb_from_its_first_bytes),
		cmocka_unit_test(test_import_git_pack__counts_what_deltas_build_in_the_total),
		cmocka_unit_test(test_import_git_pack__refuses_malformed_packs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
