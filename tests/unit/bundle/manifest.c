/*
 * Manifest serialisation round trip and the parser's rejections of
 * hostile statements (signature checks are the envelope's job; these
 * manifests would all be validly signed).
 */
#include "hash.h"
#include "testlib.h"

static const char A[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char B[] = "{}";

static ferry_manifest *sample(void)
{
	ferry_manifest *m = forge_manifest(A, B);
	char hex[65];

	assert_int_equal(ferry_sha256_hex(hex, "blob", 4), 0);
	ferry_manifest_clear_volumes(m);
	{
		char path[80];

		snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
		assert_int_equal(ferry_manifest_add_member(m, path, 4, hex), 0);
	}
	assert_int_equal(ferry_manifest_single_volume(m), 0);
	assert_int_equal(ferry_manifest_add_image(m, "library/app:v1",
						  "sha256:0000000000000000000000000000000000000000000000000000000000000000",
						  "application/vnd.oci.image.manifest.v1+json"), 0);
	return m;
}

/* Serialise `m`, apply `edit` (replace the first `from` with `to`), parse. */
static int parse_edited(const ferry_manifest *m, const char *from, const char *to)
{
	ferry_buf json = FERRY_BUF_INIT, edited = FERRY_BUF_INIT;
	ferry_manifest *out = NULL;
	char *at;
	int error;

	assert_int_equal(ferry_manifest_to_json(&json, m), 0);
	at = strstr(json.ptr, from);
	if (!at)
		fail_msg("'%s' not in %s", from, json.ptr);
	assert_int_equal(ferry_buf_put(&edited, json.ptr, (size_t)(at - json.ptr)), 0);
	assert_int_equal(ferry_buf_puts(&edited, to), 0);
	assert_int_equal(ferry_buf_puts(&edited, at + strlen(from)), 0);
	error = ferry_manifest_parse(&out, edited.ptr, edited.size);
	ferry_manifest_free(out);
	ferry_buf_dispose(&json);
	ferry_buf_dispose(&edited);
	return error;
}

static void test_bundle_manifest__round_trips(void **state)
{
	ferry_manifest *m = sample(), *back = NULL;
	ferry_buf json = FERRY_BUF_INIT, again = FERRY_BUF_INIT;

	(void)state;
	m->sequence = 7;
	m->base_sequence = 5;
	assert_int_equal(ferry_manifest_to_json(&json, m), 0);
	assert_int_equal(ferry_manifest_parse(&back, json.ptr, json.size), 0);
	assert_int_equal(back->sequence, 7);
	assert_int_equal(back->base_sequence, 5);
	assert_int_equal(back->nmembers, 3);
	assert_int_equal(back->nvolumes, 1);
	assert_string_equal(back->images[0].reference, "library/app:v1");
	assert_int_equal(ferry_manifest_to_json(&again, back), 0);
	assert_string_equal(json.ptr, again.ptr);
	ferry_manifest_free(back);
	ferry_manifest_free(m);
	ferry_buf_dispose(&json);
	ferry_buf_dispose(&again);
}

static void test_bundle_manifest__rejects_blob_named_for_other_digest(void **state)
{
	ferry_manifest *m = sample();
	char hex[65];

	(void)state;
	ferry_sha256_hex(hex, "blob", 4);
	/* keep the path, change the listed digest */
	assert_int_equal(parse_edited(m, hex, "1111111111111111111111111111111111111111111111111111111111111111\",\"x\":\""),
			 FERRY_EINVALID);
	ferry_manifest_free(m);
}

static void test_bundle_manifest__rejects_duplicate_member(void **state)
{
	ferry_manifest *m = sample();

	(void)state;
	assert_error(parse_edited(m, "\"path\":\"index.json\"", "\"path\":\"oci-layout\""),
		     FERRY_EINVALID, "member 'oci-layout' is listed twice");
	ferry_manifest_free(m);
}

static void test_bundle_manifest__rejects_unsafe_paths(void **state)
{
	ferry_manifest *m = sample();

	(void)state;
	assert_error(parse_edited(m, "\"path\":\"index.json\"", "\"path\":\"../index.json\""),
		     FERRY_EINVALID, "unsafe member path '../index.json'");
	assert_error(parse_edited(m, "\"path\":\"index.json\"", "\"path\":\"/index.json\""),
		     FERRY_EINVALID, "unsafe member path '/index.json'");
	assert_error(parse_edited(m, "\"path\":\"index.json\"",
				  "\"path\":\"ferry-manifest.dsse.json\""),
		     FERRY_EINVALID, "reserved member path");
	ferry_manifest_free(m);
}

static void test_bundle_manifest__rejects_bad_header_fields(void **state)
{
	ferry_manifest *m = sample();

	(void)state;
	assert_error(parse_edited(m, "\"channel\":\"test\"", "\"channel\":\"../x\""),
		     FERRY_EINVALID, "malformed channel name");
	assert_error(parse_edited(m, "\"sequence\":1", "\"sequence\":0"),
		     FERRY_EINVALID, "sequence 0");
	assert_error(parse_edited(m, "\"formatVersion\":1", "\"formatVersion\":2"),
		     FERRY_EUNSUPPORTED, "unsupported bundle format version 2");
	assert_error(parse_edited(m, "https://in-toto.io/Statement/v1",
				  "https://in-toto.io/Statement/v0.1"),
		     FERRY_EUNSUPPORTED, "unsupported statement type");
	assert_error(parse_edited(m, "\"predicateType\":\"urn:ferry:bundle:v1\"",
				  "\"predicateType\":\"https://slsa.dev/provenance/v1\""),
		     FERRY_EINVALID, "is not a ferry bundle");
	assert_error(parse_edited(m, "\"size\":4", "\"size\":-4"),
		     FERRY_EINVALID, "must not be negative");
	assert_error(parse_edited(m, "\"size\":4", "\"size\":\"4\""),
		     FERRY_EINVALID, "field 'size' must be an integer");
	assert_error(parse_edited(m, "\"subject\":[{", "\"subject\":[],\"x\":[{"),
		     FERRY_EINVALID, "subjects do not match the image and git bindings");
	ferry_manifest_free(m);
}

static void test_bundle_manifest__rejects_duplicate_json_keys(void **state)
{
	ferry_manifest *m = sample();

	(void)state;
	assert_error(parse_edited(m, "\"channel\":\"test\"",
				  "\"channel\":\"test\",\"channel\":\"other\""),
		     FERRY_EINVALID, "duplicate object key");
	ferry_manifest_free(m);
}

static void test_bundle_manifest__rejects_bad_volume_layouts(void **state)
{
	ferry_manifest *m = sample();
	char aaa[65];
	ferry_part p;

	(void)state;
	memset(aaa, 'a', 64);
	aaa[64] = '\0';
	/* Two volumes; member 2 (4 bytes) split into pieces of 2 + 2. */
	ferry_manifest_clear_volumes(m);
	memset(&p, 0, sizeof(p));
	p.whole = 1;
	p.member = 0;
	p.path = m->members[0].path;
	p.size = m->members[0].size;
	ferry_manifest_add_part(m, 0, &p);
	p.member = 1;
	p.path = m->members[1].path;
	p.size = m->members[1].size;
	ferry_manifest_add_part(m, 0, &p);
	p.whole = 0;
	p.member = 2;
	p.path = (char *)"ferry-parts/x.001";
	p.offset = 0;
	p.size = 2;
	p.sha256 = aaa;
	ferry_manifest_add_part(m, 0, &p);
	p.path = (char *)"ferry-parts/x.002";
	p.offset = 2;
	ferry_manifest_add_part(m, 1, &p);

	assert_int_equal(parse_edited(m, "\"volumes\"", "\"volumes\""), 0);
	assert_error(parse_edited(m, "\"offset\":2", "\"offset\":1"), FERRY_EINVALID,
		     "does not continue member");
	assert_error(parse_edited(m, "\"path\":\"ferry-parts/x.002\"",
				  "\"path\":\"ferry-parts/x.001\""),
		     FERRY_EINVALID, "appears twice in the volume layout");
	assert_error(parse_edited(m, "\"path\":\"ferry-parts/x.002\"",
				  "\"path\":\"ferry-parts/../../x\""),
		     FERRY_EINVALID, "bad part path");
	assert_error(parse_edited(m, "{\"member\":1}", "{\"member\":9}"),
		     FERRY_EINVALID, "names member 9 of 3");
	assert_error(parse_edited(m, "\"size\":2}]]", "\"size\":1}]]"),
		     FERRY_EINVALID, "is not fully laid out");
	ferry_manifest_free(m);
}

static ferry_manifest *with_repo(void)
{
	ferry_manifest *m = sample();
	ferry_git_repo *r;
	char digest[80];

	snprintf(digest, sizeof(digest), "sha256:%s", m->members[2].sha256);
	assert_int_equal(ferry_manifest_add_repo(&r, m, "org/app", digest), 0);
	assert_int_equal(ferry_git_repo_add_ref(r, "refs/heads/main",
						"1111111111111111111111111111111111111111", 1), 0);
	assert_int_equal(ferry_git_repo_add_ref(r, "refs/tags/v1",
						"2222222222222222222222222222222222222222", 0), 0);
	assert_int_equal(ferry_git_repo_add_deleted(r, "refs/heads/old"), 0);
	assert_int_equal(ferry_git_repo_add_prerequisite(r,
						"3333333333333333333333333333333333333333"), 0);
	return m;
}

static void test_bundle_manifest__round_trips_repositories(void **state)
{
	ferry_manifest *m = with_repo(), *back = NULL;
	ferry_buf json = FERRY_BUF_INIT;

	(void)state;
	assert_int_equal(ferry_manifest_to_json(&json, m), 0);
	assert_non_null(strstr(json.ptr, "\"name\":\"git:org/app@refs/heads/main\""));
	assert_non_null(strstr(json.ptr, "\"gitCommit\":\"1111111111111111111111111111111111111111\""));
	assert_int_equal(ferry_manifest_parse(&back, json.ptr, json.size), 0);
	assert_int_equal(back->nrepos, 1);
	assert_string_equal(back->repos[0].name, "org/app");
	assert_int_equal(back->repos[0].nrefs, 2);
	assert_true(back->repos[0].refs[0].forced);
	assert_false(back->repos[0].refs[1].forced);
	assert_string_equal(back->repos[0].deleted[0], "refs/heads/old");
	assert_string_equal(back->repos[0].prerequisites[0],
			    "3333333333333333333333333333333333333333");
	ferry_manifest_free(back);
	ferry_manifest_free(m);
	ferry_buf_dispose(&json);
}

static void test_bundle_manifest__rejects_bad_repositories(void **state)
{
	ferry_manifest *m = with_repo();

	(void)state;
	assert_error(parse_edited(m, "\"name\":\"org/app\"", "\"name\":\"../app\""),
		     FERRY_EINVALID, "malformed repository name '../app'");
	assert_error(parse_edited(m, "\"name\":\"refs/heads/main\"",
				  "\"name\":\"refs/heads/ma..in\""),
		     FERRY_EINVALID, "malformed ref 'refs/heads/ma..in'");
	assert_error(parse_edited(m, "\"commit\":\"2222", "\"commit\":\"Z222"),
		     FERRY_EINVALID, "malformed ref 'refs/tags/v1'");
	assert_error(parse_edited(m, "\"deleted\":[\"refs/heads/old\"]",
				  "\"deleted\":[\"refs/tags/v1\"]"),
		     FERRY_EINVALID, "both kept and deleted");
	assert_error(parse_edited(m, "\"prerequisites\":[\"3333", "\"prerequisites\":[\"333"),
		     FERRY_EINVALID, "malformed prerequisites entry");
	assert_error(parse_edited(m, "\"bundle\":\"sha256:", "\"bundle\":\"sha256:0"),
		     FERRY_EINVALID, "malformed digest");
	assert_true(ferry_git_ref_name_valid("refs/heads/feature/x-1"));
	assert_false(ferry_git_ref_name_valid("refs/heads/x.lock"));
	assert_false(ferry_git_ref_name_valid("refs/heads/a b"));
	assert_false(ferry_git_ref_name_valid("heads/main"));
	assert_false(ferry_git_ref_name_valid("refs/heads/.hidden"));
	ferry_manifest_free(m);
}

/* A parsed manifest finds its members by path through its index (and a
 * member added afterwards through the linear fallback). */
static void test_bundle_manifest__finds_members_by_path(void **state)
{
	ferry_manifest *m = forge_manifest(A, B), *back = NULL;
	ferry_buf json = FERRY_BUF_INIT;
	char hex[65], path[80];
	size_t i;

	(void)state;
	ferry_manifest_clear_volumes(m);
	for (i = 0; i < 500; i++) {
		snprintf(path, sizeof(path), "blob %zu", i);
		assert_int_equal(ferry_sha256_hex(hex, path, strlen(path)), 0);
		snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
		assert_int_equal(ferry_manifest_add_member(m, path, strlen(path), hex), 0);
	}
	assert_int_equal(ferry_manifest_single_volume(m), 0);
	assert_int_equal(ferry_manifest_to_json(&json, m), 0);
	assert_int_equal(ferry_manifest_parse(&back, json.ptr, json.size), 0);
	assert_non_null(back->by_path);
	for (i = 0; i < back->nmembers; i++)
		assert_int_equal(ferry_manifest_find(back, back->members[i].path), (long)i);
	assert_int_equal(ferry_manifest_find(back, "blobs/sha256/0"), -1);
	assert_int_equal(ferry_manifest_find(back, ""), -1);
	assert_int_equal(ferry_manifest_find(back, "zzz"), -1);
	assert_int_equal(ferry_manifest_add_member(back, "extra", 0, hex), 0);
	assert_int_equal(ferry_manifest_find(back, "extra"), (long)back->nmembers - 1);
	assert_int_equal(ferry_manifest_find(back, back->members[3].path), 3);
	ferry_manifest_free(back);
	ferry_manifest_free(m);
	ferry_buf_dispose(&json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_manifest__round_trips),
		cmocka_unit_test(test_bundle_manifest__rejects_blob_named_for_other_digest),
		cmocka_unit_test(test_bundle_manifest__rejects_duplicate_member),
		cmocka_unit_test(test_bundle_manifest__rejects_unsafe_paths),
		cmocka_unit_test(test_bundle_manifest__rejects_bad_header_fields),
		cmocka_unit_test(test_bundle_manifest__rejects_duplicate_json_keys),
		cmocka_unit_test(test_bundle_manifest__rejects_bad_volume_layouts),
		cmocka_unit_test(test_bundle_manifest__round_trips_repositories),
		cmocka_unit_test(test_bundle_manifest__rejects_bad_repositories),
		cmocka_unit_test(test_bundle_manifest__finds_members_by_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
