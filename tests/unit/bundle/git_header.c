/*
 * The git bundle header codec: what the writer emits byte for byte, that
 * parsing what it wrote gives the same header back (from memory and from a
 * file, which is left at the pack), and that malformed, unsupported and
 * oversized headers are refused with the error that names them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git_header.h"
#include "testlib.h"

#define C1 "1111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222"
#define C3 "abcdefabcdefabcdefabcdefabcdefabcdefabcd"

static const char written[] =
	"# v2 git bundle\n"
	"-" C1 " first line second line\n"
	"-" C2 "\n"
	C3 " refs/heads/main\n"
	C1 " refs/tags/v1\n"
	C3 " HEAD\n"
	"\n";

static void build(ferry_git_header *h)
{
	ferry_git_header_init(h);
	assert_int_equal(ferry_git_header_add_prereq(h, C1, "first line\nsecond line"), 0);
	assert_int_equal(ferry_git_header_add_prereq(h, C2, NULL), 0);
	assert_int_equal(ferry_git_header_add_ref(h, C3, "refs/heads/main"), 0);
	assert_int_equal(ferry_git_header_add_ref(h, C1, "refs/tags/v1"), 0);
	assert_int_equal(ferry_git_header_add_ref(h, C3, "HEAD"), 0);
}

static void assert_same(const ferry_git_header *a, const ferry_git_header *b)
{
	size_t i;

	assert_int_equal(a->nprereqs, b->nprereqs);
	assert_int_equal(a->nrefs, b->nrefs);
	for (i = 0; i < a->nprereqs; i++) {
		assert_string_equal(a->prereqs[i].oid, b->prereqs[i].oid);
		if (a->prereqs[i].comment || b->prereqs[i].comment)
			assert_string_equal(a->prereqs[i].comment, b->prereqs[i].comment);
	}
	for (i = 0; i < a->nrefs; i++) {
		assert_string_equal(a->refs[i].oid, b->refs[i].oid);
		assert_string_equal(a->refs[i].name, b->refs[i].name);
	}
}

static void test_bundle_git_header__writes_git_v2(void **state)
{
	ferry_git_header h;
	ferry_buf out = FERRY_BUF_INIT;

	(void)state;
	build(&h);
	assert_int_equal(ferry_git_header_write(&out, &h), 0);
	assert_int_equal(out.size, strlen(written));
	assert_memory_equal(out.ptr, written, out.size);
	ferry_git_header_dispose(&h);
	ferry_buf_dispose(&out);
}

static void test_bundle_git_header__round_trips(void **state)
{
	ferry_git_header h, back;
	ferry_buf out = FERRY_BUF_INIT;

	(void)state;
	build(&h);
	assert_int_equal(ferry_git_header_write(&out, &h), 0);
	/* The pack follows: the parser stops at the blank line. */
	assert_int_equal(ferry_buf_put(&out, "PACK\0\0\0\2\n\n", 10), 0);
	assert_int_equal(ferry_git_header_parse(&back, out.ptr, out.size), 0);
	assert_int_equal(back.version, 2);
	assert_int_equal(back.pack_offset, strlen(written));
	assert_same(&h, &back);
	ferry_git_header_dispose(&back);
	ferry_git_header_dispose(&h);
	ferry_buf_dispose(&out);
}

static void test_bundle_git_header__reads_file_up_to_pack(void **state)
{
	ferry_git_header h, back;
	ferry_buf out = FERRY_BUF_INIT;
	FILE *f = tmpfile();

	(void)state;
	assert_non_null(f);
	build(&h);
	assert_int_equal(ferry_git_header_write(&out, &h), 0);
	assert_int_equal(fwrite(out.ptr, 1, out.size, f), out.size);
	assert_int_equal(fwrite("PACK", 1, 4, f), 4);
	rewind(f);
	assert_int_equal(ferry_git_header_read(&back, f), 0);
	assert_same(&h, &back);
	assert_int_equal(back.pack_offset, out.size);
	assert_int_equal(ftell(f), (long)out.size);
	fclose(f);
	ferry_git_header_dispose(&back);
	ferry_git_header_dispose(&h);
	ferry_buf_dispose(&out);
}

static void test_bundle_git_header__reads_v3_sha1(void **state)
{
	static const char v3[] = "# v3 git bundle\n@object-format=sha1\n" C1 " refs/heads/x\n\n";
	ferry_git_header h;

	(void)state;
	assert_int_equal(ferry_git_header_parse(&h, v3, strlen(v3)), 0);
	assert_int_equal(h.version, 3);
	assert_int_equal(h.nrefs, 1);
	assert_string_equal(h.refs[0].name, "refs/heads/x");
	ferry_git_header_dispose(&h);
}

static void refused(const char *text, size_t len, int code, const char *msg)
{
	ferry_git_header h;

	assert_error(ferry_git_header_parse(&h, text, len), code, msg);
	assert_int_equal(h.nrefs, 0);
	assert_int_equal(h.nprereqs, 0);
	assert_null(h.refs);
}

#define REFUSED(text, code, msg) refused(text, sizeof(text) - 1, code, msg)

static void test_bundle_git_header__refuses_malformed(void **state)
{
	(void)state;
	REFUSED("", FERRY_EINVALID, "git bundle has no pack");
	REFUSED("# v4 git bundle\n\n", FERRY_EINVALID, "not a git bundle (v2 or v3)");
	REFUSED("PACK\n", FERRY_EINVALID, "not a git bundle");
	REFUSED("# v3 git bundle\n@object-format=sha256\n\n", FERRY_EUNSUPPORTED,
		"capability '@object-format=sha256' is not supported");
	REFUSED("# v2 git bundle\n-" C1 "x comment\n\n", FERRY_EINVALID,
		"malformed prerequisite line");
	REFUSED("# v2 git bundle\n-ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD\n\n",
		FERRY_EINVALID, "malformed prerequisite line");
	REFUSED("# v2 git bundle\n" C1 "\n\n", FERRY_EINVALID, "malformed ref line");
	REFUSED("# v2 git bundle\n" C1 " \n\n", FERRY_EINVALID, "malformed ref line");
	REFUSED("# v2 git bundle\n123 refs/heads/main\n\n", FERRY_EINVALID,
		"malformed ref line");
	REFUSED("# v2 git bundle\n" C1 " refs/heads/main\n", FERRY_EINVALID,
		"git bundle has no pack");
	REFUSED("# v2 git bundle\n" C1 " refs/heads/main", FERRY_EINVALID,
		"git bundle header is truncated");
	REFUSED("# v2 git bundle\n" C1 " refs/heads/m\0ain\n\n", FERRY_EINVALID,
		"holds a NUL byte");
}

/* A header of `n` ref lines of 90 bytes, then the blank line. */
static char *many_refs(size_t n, size_t *len)
{
	static const char line[] = C1 " refs/heads/0123456789012345678901234567890123456\n";
	char *p = malloc(16 + n * (sizeof(line) - 1) + 2), *q = p;
	size_t i;

	assert_non_null(p);
	memcpy(q, "# v2 git bundle\n", 16);
	q += 16;
	for (i = 0; i < n; i++, q += sizeof(line) - 1)
		memcpy(q, line, sizeof(line) - 1);
	*q++ = '\n';
	*len = (size_t)(q - p);
	return p;
}

static void test_bundle_git_header__refuses_oversized(void **state)
{
	size_t n = FERRY_GIT_HEADER_MAX / 80 + 1, len;
	char *text = many_refs(n, &len);
	ferry_git_header h;
	FILE *f = tmpfile();

	(void)state;
	assert_true(len > FERRY_GIT_HEADER_MAX);
	assert_error(ferry_git_header_parse(&h, text, len), FERRY_ETOOBIG,
		     "git bundle header is too large");
	assert_int_equal(h.nrefs, 0);
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	rewind(f);
	assert_error(ferry_git_header_read(&h, f), FERRY_ETOOBIG,
		     "git bundle header is too large");
	fclose(f);
	/* One long line is refused as soon as it passes the limit. */
	memset(text + 16, 'a', len - 16);
	assert_error(ferry_git_header_parse(&h, text, len), FERRY_ETOOBIG,
		     "git bundle header is too large");
	free(text);
}

static void test_bundle_git_header__refuses_to_write_bad_input(void **state)
{
	ferry_git_header h;
	ferry_buf out = FERRY_BUF_INIT;
	size_t i;

	(void)state;
	ferry_git_header_init(&h);
	assert_error(ferry_git_header_add_prereq(&h, "1234", NULL), FERRY_EINVALID,
		     "is not an object id");
	assert_error(ferry_git_header_add_ref(&h, C1 "0", "refs/heads/x"), FERRY_EINVALID,
		     "not an object id");
	assert_error(ferry_git_header_add_ref(&h, C1, "refs/heads/a\nb"), FERRY_EINVALID,
		     "control character");
	assert_error(ferry_git_header_add_ref(&h, C1, ""), FERRY_EINVALID, "empty");
	assert_int_equal(h.nrefs + h.nprereqs, 0);
	/* More refs than fit under the limit: nothing is appended. */
	for (i = 0; i <= FERRY_GIT_HEADER_MAX / 80; i++)
		assert_int_equal(ferry_git_header_add_ref(&h, C1,
				 "refs/heads/0123456789012345678901234567890123456"), 0);
	assert_int_equal(ferry_buf_puts(&out, "kept"), 0);
	assert_error(ferry_git_header_write(&out, &h), FERRY_ETOOBIG, "git bundle header");
	assert_int_equal(out.size, 4);
	assert_string_equal(out.ptr, "kept");
	ferry_git_header_dispose(&h);
	ferry_buf_dispose(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_git_header__writes_git_v2),
		cmocka_unit_test(test_bundle_git_header__round_trips),
		cmocka_unit_test(test_bundle_git_header__reads_file_up_to_pack),
		cmocka_unit_test(test_bundle_git_header__reads_v3_sha1),
		cmocka_unit_test(test_bundle_git_header__refuses_malformed),
		cmocka_unit_test(test_bundle_git_header__refuses_oversized),
		cmocka_unit_test(test_bundle_git_header__refuses_to_write_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
