/*
 * Format 2's contents entry: the lines a writer makes read back to the same
 * manifest through a real bundle file, and the reader refuses every hostile
 * line, naming it, and names bytes that do not match the signed digest as
 * such before it blames any line.
 */
#include <unistd.h>

#include "contents.h"
#include "hash.h"
#include "testlib.h"
#include "writer.h"

#define HEXA "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
#define MT "application/vnd.oci.image.manifest.v1+json"

typedef struct {
	char *dir;
	ferry_key *key;
	ferry_pubkey *pub;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	f->dir = test_mkdtemp();
	test_keypair(f->dir, "k", &f->key, &f->pub);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ferry_key_free(f->key);
	ferry_pubkey_free(f->pub);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* A format 2 manifest with forge_manifest's two members and two images. */
static ferry_manifest *sample(void)
{
	ferry_manifest *m = forge_manifest(TEST_LAYOUT_JSON, TEST_INDEX_JSON);

	m->version = FERRY_BUNDLE_FORMAT_VERSION;
	assert_int_equal(ferry_manifest_add_image(m, "library/b:v1", "sha256:" HEXA, MT), 0);
	assert_int_equal(ferry_manifest_add_image(m, "library/a:v1", "sha256:" HEXA, MT), 0);
	return m;
}

static void test_bundle_contents__round_trips_through_a_bundle(void **state)
{
	fixture *f = *state;
	ferry_manifest *m = sample();
	ferry_member_source src[2] = { { NULL, TEST_LAYOUT_JSON, NULL }, { NULL, TEST_INDEX_JSON, NULL } };
	ferry_write_options wo = FERRY_WRITE_OPTIONS_INIT;
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	const ferry_pubkey *keys[1] = { f->pub };
	ferry_trust trust = { keys, 1, 1 };
	ferry_write_result w;
	ferry_read_result r;
	char state_hex[FERRY_SHA256_HEX_LEN + 1];

	(void)state;
	wo.out_dir = f->dir;
	wo.basename = "b";
	wo.keys = &f->key;
	wo.nkeys = 1;
	assert_int_equal(ferry_bundle_write(&w, m, src, &wo), 0);
	ro.trust = &trust;
	assert_int_equal(ferry_bundle_read(&r, w.paths[0], &ro), 0);
	assert_int_equal(r.manifest->version, 2);
	assert_false(r.manifest->contents_pending);
	assert_int_equal(r.manifest->nmembers, 2);
	assert_string_equal(r.manifest->members[1].path, "index.json");
	assert_int_equal(r.manifest->nimages, 2);
	assert_string_equal(r.manifest->images[0].reference, "library/b:v1");
	assert_string_equal(r.manifest->images[1].media_type, MT);
	assert_true(r.manifest->bindings_all);
	/* The state is the bindings' own, whatever their order. */
	assert_int_equal(ferry_manifest_images_state(state_hex, m), 0);
	assert_string_equal(r.manifest->state_sha256, state_hex);
	assert_int_equal(r.manifest->state_images, 2);
	assert_int_equal(r.manifest->nvolumes, 1);
	assert_int_equal(r.manifest->volumes[0].nparts, 2);
	assert_string_equal(r.manifest->id, m->id);
	ferry_read_result_dispose(&r);
	ferry_write_result_dispose(&w);
	ferry_manifest_free(m);
}

/* Read `text` as the contents of a manifest whose envelope states its size
 * and digest (or those of `signed_text` when given). */
static int read_text(int all, const char *text, const char *signed_text, size_t chunk)
{
	const char *s = signed_text ? signed_text : text;
	ferry_contents_reader *r = NULL;
	ferry_manifest *m = NULL;
	size_t len = strlen(text), at = 0;
	int error = 0;

	assert_int_equal(ferry_manifest_new(&m, "t"), 0);
	m->sequence = 2;
	m->bindings_all = all;
	m->base_sequence = all ? 0 : 1;
	m->contents_pending = 1;
	m->contents_size = strlen(s);
	assert_int_equal(ferry_sha256_hex(m->contents_sha256, s, strlen(s)), 0);
	/* The state of the one binding the tests that carry all of them use. */
	{
		ferry_binding_state st;

		assert_int_equal(ferry_binding_state_init(&st), 0);
		assert_int_equal(ferry_binding_state_add(&st, "library/a:v1", "sha256:" HEXA), 0);
		assert_int_equal(ferry_binding_state_final(&st, m->state_sha256), 0);
		m->state_images = st.count;
		ferry_binding_state_dispose(&st);
	}
	assert_int_equal(ferry_contents_reader_new(&r, m), 0);
	while (at < len && !error) {
		size_t n = len - at < chunk ? len - at : chunk;

		error = ferry_contents_reader_data(r, text + at, n);
		at += n;
	}
	if (!error)
		error = ferry_contents_reader_end(r);
	ferry_contents_reader_free(r);
	ferry_manifest_free(m);
	return error;
}

#define MEMBER(path) "{\"member\":\"" path "\",\"size\":1,\"sha256\":\"" HEXA "\"}\n"
#define IMAGE(ref) "{\"image\":\"" ref "\",\"digest\":\"sha256:" HEXA "\",\"mediaType\":\"" MT "\"}\n"

static void test_bundle_contents__reads_lines_cut_anywhere(void **state)
{
	const char *text = MEMBER("a") MEMBER("blobs/sha256/" HEXA) IMAGE("library/a:v1");
	size_t chunk;

	(void)state;
	for (chunk = 1; chunk < 200; chunk += 7)
		assert_int_equal(read_text(1, text, NULL, chunk), 0);
	assert_int_equal(read_text(0, MEMBER("a") IMAGE("library/a:v2")
				   "{\"removed\":\"library/a:v1\"}\n"
				   "{\"prerequisite\":\"sha256:" HEXA "\"}\n", NULL, 5), 0);
}

static void test_bundle_contents__rejects_hostile_lines(void **state)
{
	static const struct {
		int all;
		const char *text;
		int error;
		const char *message;
	} cases[] = {
		{ 1, "{\"member\":\"a\",\"size\":1}\n", FERRY_EINVALID,
		  "contents line 1 is not a member, an image" },
		{ 1, MEMBER("a") "{\"blob\":\"a\"}\n", FERRY_EINVALID,
		  "contents line 2 is not a member, an image" },
		{ 1, MEMBER("a") "{\"removed\":\"x\",\"y\":1}\n", FERRY_EINVALID,
		  "contents line 2 is not a member" },
		{ 1, IMAGE("library/a:v1") MEMBER("a"), FERRY_EINVALID,
		  "contents line 2: a line of kind 'member' after one of kind 'image'" },
		{ 1, "[]\n", FERRY_EINVALID, "contents line 1 is not a JSON object" },
		{ 1, MEMBER("a") "{\n", FERRY_EINVALID, "contents line 2" },
		{ 1, MEMBER("a") "{\"member\":\"a\",\"member\":\"b\",\"size\":1}\n",
		  FERRY_EINVALID, "contents line 2" },
		{ 1, MEMBER("a") IMAGE("library/a:v1") "{}", FERRY_EINVALID,
		  "the last line has no end" },
		{ 1, MEMBER("ferry-contents.jsonl"), FERRY_EINVALID,
		  "reserved member path 'ferry-contents.jsonl'" },
		{ 1, MEMBER("ferry-parts/a"), FERRY_EINVALID, "reserved member path" },
		{ 1, MEMBER("../a"), FERRY_EINVALID, "unsafe member path '../a'" },
		{ 1, MEMBER("blobs/sha256/0000"), FERRY_EINVALID,
		  "member 'blobs/sha256/0000' lists sha256" },
		{ 1, MEMBER("a") MEMBER("a") IMAGE("library/a:v1"), FERRY_EINVALID,
		  "member 'a' is listed twice" },
		{ 1, IMAGE("library/a:v1"), FERRY_EINVALID, "lists no member" },
		{ 1, MEMBER("a") IMAGE("library/a b"), FERRY_EINVALID,
		  "malformed image reference" },
		{ 1, MEMBER("a") IMAGE("library/a:v2"), FERRY_EINVALID,
		  "the bindings do not make the state the envelope states" },
		{ 1, MEMBER("a") IMAGE("library/a:v1") IMAGE("library/a:v1"), FERRY_EINVALID,
		  "'library/a:v1' is bound twice" },
		{ 1, MEMBER("a") IMAGE("library/a:v1") "{\"removed\":\"library/b:v1\"}\n",
		  FERRY_EINVALID, "a bundle with all its bindings removes none" },
		{ 0, MEMBER("a") "{\"removed\":\"x\"}\n{\"removed\":\"x\"}\n", FERRY_EINVALID,
		  "'x' is bound or removed twice" },
		{ 0, MEMBER("a") IMAGE("library/a:v1") "{\"removed\":\"library/a:v1\"}\n",
		  FERRY_EINVALID, "'library/a:v1' is bound or removed twice" },
		{ 0, MEMBER("a") "{\"prerequisite\":\"sha256:12\"}\n", FERRY_EINVALID,
		  "digest" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int error = read_text(cases[i].all, cases[i].text, NULL, 3);

		if (error != cases[i].error || !strstr(ferry_error_last(), cases[i].message))
			fail_msg("case %zu: got %d '%s', want %d containing '%s'", i, error,
				 ferry_error_last(), cases[i].error, cases[i].message);
	}
}

static void test_bundle_contents__rejects_a_line_too_long(void **state)
{
	char *text = malloc(FERRY_CONTENTS_LINE_MAX + 64);

	(void)state;
	memset(text, ' ', FERRY_CONTENTS_LINE_MAX + 10);
	strcpy(text + FERRY_CONTENTS_LINE_MAX + 10, "{}\n");
	assert_error(read_text(1, text, NULL, 1000), FERRY_ETOOBIG,
		     "contents line 1 is longer than 4096 bytes");
	free(text);
}

/* Bytes that are not the signed ones are named as such, not by the first
 * line they garble. */
static void test_bundle_contents__names_tampering_before_lines(void **state)
{
	const char *good = MEMBER("a") IMAGE("library/a:v1");

	(void)state;
	assert_error(read_text(1, MEMBER("a") "{\"imagX\":1}\n", MEMBER("a") "{\"image\":1}\n",
			       4), FERRY_ECORRUPT, "the contents entry does not match its digest");
	assert_error(read_text(1, MEMBER("b") IMAGE("library/a:v1"), good, 4),
		     FERRY_ECORRUPT, "does not match its digest");
	assert_error(read_text(1, MEMBER("a"), good, 4), FERRY_ECORRUPT,
		     "bytes, the envelope states");
	{
		char longer[512];

		snprintf(longer, sizeof(longer), "%s%s", good, MEMBER("z"));
		assert_error(read_text(1, longer, good, 4), FERRY_ECORRUPT,
			     "larger than the");
	}
}

static int collect(void *arg, const void *buf, size_t len)
{
	return ferry_buf_put(arg, buf, len);
}

/* Bundle files: the contents entry must come right after the envelope,
 * once, with the size the envelope states. */
static void test_bundle_contents__reader_wants_the_entry_after_the_envelope(void **state)
{
	fixture *f = *state;
	ferry_manifest *m = sample();
	ferry_buf env = FERRY_BUF_INIT, contents = FERRY_BUF_INIT;
	const char *path = test_path(f->dir, "forged.tar");

	(void)state;
	forge_envelope(&env, m, &f->key, 1);
	assert_int_equal(ferry_contents_write(m, collect, &contents), 0);
	{
		forge_entry e[] = { { FERRY_MANIFEST_MEMBER, env.ptr, env.size, 0, NULL, NULL, 0, 0, NULL },
				    { "oci-layout", TEST_LAYOUT_JSON, strlen(TEST_LAYOUT_JSON), 0, NULL, NULL, 0, 0, NULL },
				    { "index.json", TEST_INDEX_JSON, strlen(TEST_INDEX_JSON), 0, NULL, NULL, 0, 0, NULL } };

		forge_tar(path, e, 3);
		assert_error(read_with_key(path, f->pub), FERRY_EINVALID,
			     "member after the signed manifest is 'oci-layout', not the "
			     "contents list 'ferry-contents.jsonl'");
	}
	{
		forge_entry e[] = { { FERRY_MANIFEST_MEMBER, env.ptr, env.size, 0, NULL, NULL, 0, 0, NULL },
				    { FERRY_CONTENTS_MEMBER, contents.ptr, contents.size - 1, 0, NULL, NULL, 0, 0, NULL },
				    { "oci-layout", TEST_LAYOUT_JSON, strlen(TEST_LAYOUT_JSON), 0, NULL, NULL, 0, 0, NULL },
				    { "index.json", TEST_INDEX_JSON, strlen(TEST_INDEX_JSON), 0, NULL, NULL, 0, 0, NULL } };

		forge_tar(path, e, 4);
		assert_error(read_with_key(path, f->pub), FERRY_ECORRUPT,
			     "member 'ferry-contents.jsonl' is");
	}
	{
		forge_entry e[] = { { FERRY_MANIFEST_MEMBER, env.ptr, env.size, 0, NULL, NULL, 0, 0, NULL },
				    { FERRY_CONTENTS_MEMBER, contents.ptr, contents.size, 0, NULL, NULL, 0, 0, NULL },
				    { "oci-layout", TEST_LAYOUT_JSON, strlen(TEST_LAYOUT_JSON), 0, NULL, NULL, 0, 0, NULL },
				    { FERRY_CONTENTS_MEMBER, contents.ptr, contents.size, 0, NULL, NULL, 0, 0, NULL },
				    { "index.json", TEST_INDEX_JSON, strlen(TEST_INDEX_JSON), 0, NULL, NULL, 0, 0, NULL } };

		forge_tar(path, e, 5);
		assert_error(read_with_key(path, f->pub), FERRY_EINVALID,
			     "duplicate member 'ferry-contents.jsonl'");
	}
	{
		forge_entry e[] = { { FERRY_MANIFEST_MEMBER, env.ptr, env.size, 0, NULL, NULL, 0, 0, NULL },
				    { FERRY_CONTENTS_MEMBER, contents.ptr, contents.size, 0, NULL, NULL, 0, 0, NULL },
				    { "oci-layout", TEST_LAYOUT_JSON, strlen(TEST_LAYOUT_JSON), 0, NULL, NULL, 0, 0, NULL },
				    { "index.json", TEST_INDEX_JSON, strlen(TEST_INDEX_JSON), 0, NULL, NULL, 0, 0, NULL } };

		forge_tar(path, e, 4);
		assert_int_equal(read_with_key(path, f->pub), 0);
	}
	ferry_buf_dispose(&env);
	ferry_buf_dispose(&contents);
	ferry_manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bundle_contents__round_trips_through_a_bundle,
						setup, teardown),
		cmocka_unit_test(test_bundle_contents__reads_lines_cut_anywhere),
		cmocka_unit_test(test_bundle_contents__rejects_hostile_lines),
		cmocka_unit_test(test_bundle_contents__rejects_a_line_too_long),
		cmocka_unit_test(test_bundle_contents__names_tampering_before_lines),
		cmocka_unit_test_setup_teardown(
			test_bundle_contents__reader_wants_the_entry_after_the_envelope,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
