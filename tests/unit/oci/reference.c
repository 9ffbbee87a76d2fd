/*
 * Names and the parsers for registry sources: image references, repository
 * names, store references, WWW-Authenticate challenges, image lists,
 * platforms and auth.json files.
 */
#include <sodium.h>

#include "auth.h"
#include "fs.h"
#include "reference.h"
#include "testlib.h"

static void test_oci_reference__parses_references(void **state)
{
	ferry_reference r;

	(void)state;
	assert_int_equal(ferry_reference_parse(&r, "nginx"), 0);
	assert_string_equal(r.registry, "docker.io");
	assert_string_equal(r.api_host, "registry-1.docker.io");
	assert_string_equal(r.repository, "library/nginx");
	assert_string_equal(r.tag, "latest");
	assert_true(r.implicit_tag);
	assert_null(r.digest);
	ferry_reference_dispose(&r);

	assert_int_equal(ferry_reference_parse(&r, "127.0.0.1:5000/team/app:v1.2_3"), 0);
	assert_string_equal(r.registry, "127.0.0.1:5000");
	assert_string_equal(r.api_host, "127.0.0.1:5000");
	assert_string_equal(r.repository, "team/app");
	assert_string_equal(r.tag, "v1.2_3");
	assert_false(r.implicit_tag);
	ferry_reference_dispose(&r);

	assert_int_equal(ferry_reference_parse(&r, "ghcr.io/org/a__b/c-d@sha256:"
					       "0123456789abcdef0123456789abcdef"
					       "0123456789abcdef0123456789abcdef"), 0);
	assert_string_equal(r.repository, "org/a__b/c-d");
	assert_null(r.tag);
	assert_string_equal(r.digest, "sha256:0123456789abcdef0123456789abcdef"
				      "0123456789abcdef0123456789abcdef");
	ferry_reference_dispose(&r);

	assert_int_equal(ferry_reference_parse(&r, "localhost/x:1@sha256:"
					       "0123456789abcdef0123456789abcdef"
					       "0123456789abcdef0123456789abcdef"), 0);
	assert_string_equal(r.registry, "localhost");
	assert_string_equal(r.tag, "1");
	assert_non_null(r.digest);
	ferry_reference_dispose(&r);

	assert_int_equal(ferry_reference_parse(&r, "docker.io/bitnami/redis:7"), 0);
	assert_string_equal(r.api_host, "registry-1.docker.io");
	assert_string_equal(r.repository, "bitnami/redis");
	ferry_reference_dispose(&r);
}

static void test_oci_reference__rejects_bad_references(void **state)
{
	ferry_reference r;

	(void)state;
	assert_error(ferry_reference_parse(&r, ""), FERRY_EINVALID, "not an image reference");
	assert_error(ferry_reference_parse(&r, "Upper/case"), FERRY_EINVALID,
		     "invalid repository name");
	assert_error(ferry_reference_parse(&r, "a b"), FERRY_EINVALID, "space");
	assert_error(ferry_reference_parse(&r, "x/y:-bad"), FERRY_EINVALID, "invalid tag");
	assert_error(ferry_reference_parse(&r, "x/y@sha256:abc"), FERRY_EINVALID,
		     "invalid digest");
	assert_error(ferry_reference_parse(&r, "x/y@md5:0123"), FERRY_EUNSUPPORTED,
		     "invalid digest");
	assert_error(ferry_reference_parse(&r, "x//y"), FERRY_EINVALID,
		     "invalid repository name");
	assert_error(ferry_reference_parse(&r, "x/y-"), FERRY_EINVALID,
		     "invalid repository name");
}

static void test_oci_reference__parses_challenges(void **state)
{
	ferry_auth_challenge c;

	(void)state;
	assert_int_equal(ferry_auth_challenge_parse(&c,
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		"scope=\"repository:library/nginx:pull\""), 0);
	assert_int_equal(c.scheme, FERRY_AUTH_BEARER);
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:library/nginx:pull");
	ferry_auth_challenge_dispose(&c);

	assert_int_equal(ferry_auth_challenge_parse(&c,
		"bearer  Realm=\"http://h/t?x=\\\"y\\\"\" , service=plain, error=\"insufficient_scope\""), 0);
	assert_string_equal(c.realm, "http://h/t?x=\"y\"");
	assert_string_equal(c.service, "plain");
	assert_null(c.scope);
	ferry_auth_challenge_dispose(&c);

	assert_int_equal(ferry_auth_challenge_parse(&c, "Basic realm=\"basic-realm\""), 0);
	assert_int_equal(c.scheme, FERRY_AUTH_BASIC);
	assert_string_equal(c.realm, "basic-realm");
	ferry_auth_challenge_dispose(&c);

	assert_error(ferry_auth_challenge_parse(&c, "Digest realm=\"x\""), FERRY_EUNSUPPORTED,
		     "unsupported authentication scheme");
	assert_error(ferry_auth_challenge_parse(&c, "Bearer service=\"x\""), FERRY_EINVALID,
		     "without a realm");
	assert_error(ferry_auth_challenge_parse(&c, "Bearer realm=\"https://x"), FERRY_EINVALID,
		     "unterminated");
	assert_error(ferry_auth_challenge_parse(&c, "Bearer realm=\"file:///etc\""),
		     FERRY_EINVALID, "not an HTTP(S) URL");
}

static void test_oci_reference__parses_image_lists(void **state)
{
	static const char text[] = "# enclave images\n\n  nginx:1.25  # web\n"
				   "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef"
				   "0123456789abcdef0123456789abcdef\n\t\nquay.io/x/y";
	char **list;
	size_t n;

	(void)state;
	assert_int_equal(ferry_image_list_parse(&list, &n, text, strlen(text), "images.txt"), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0], "nginx:1.25");
	assert_string_equal(list[2], "quay.io/x/y");
	assert_null(list[3]);
	ferry_image_list_free(list);

	assert_error(ferry_image_list_parse(&list, &n, "a\nb c\n", 6, "l.txt"), FERRY_EINVALID,
		     "l.txt:2: one reference per line");
	assert_error(ferry_image_list_parse(&list, &n, "ok\nBAD\n", 7, "l.txt"), FERRY_EINVALID,
		     "l.txt:2: image reference 'BAD'");
	assert_error(ferry_image_list_parse(&list, &n, "# only\n", 7, "l.txt"), FERRY_EINVALID,
		     "l.txt lists no images");
}

static void test_oci_reference__matches_platforms(void **state)
{
	json_t *p = json_pack("{s:s,s:s,s:s}", "os", "linux", "architecture", "arm", "variant", "v7");

	(void)state;
	assert_true(ferry_platform_matches("linux/arm", p));
	assert_true(ferry_platform_matches("linux/arm/v7", p));
	assert_false(ferry_platform_matches("linux/arm/v6", p));
	assert_false(ferry_platform_matches("linux/arm64", p));
	assert_false(ferry_platform_matches("windows/arm", p));
	assert_true(ferry_platform_valid("linux/amd64"));
	assert_true(ferry_platform_valid("linux/arm/v7"));
	assert_false(ferry_platform_valid("linux"));
	assert_false(ferry_platform_valid("linux//x"));
	assert_false(ferry_platform_valid("Linux/amd64"));
	json_decref(p);
}

static void test_oci_reference__reads_auth_files(void **state)
{
	char *dir = test_mkdtemp(), *secret;
	const char *path = test_path(dir, "auth.json");
	static const char json[] = "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"YWxpY2U6czNjcjp0\"},"
				   "\"https://index.docker.io/v1/\":{\"username\":\"bob\","
				   "\"password\":\"pw\"},\"bad.example\":{\"auth\":\"!!\"}}}";

	(void)state;
	assert_true(sodium_init() >= 0);
	assert_int_equal(ferry_fs_write_atomic(path, json, strlen(json), 0600), 0);
	assert_int_equal(ferry_auth_file_lookup(&secret, path, "127.0.0.1:5000"), 0);
	assert_string_equal(secret, "alice:s3cr:t");
	ferry_secret_free(secret);
	assert_int_equal(ferry_auth_file_lookup(&secret, path, "docker.io"), 0);
	assert_string_equal(secret, "bob:pw");
	ferry_secret_free(secret);
	assert_int_equal(ferry_auth_file_lookup(&secret, path, "other:1"), 0);
	assert_null(secret);
	assert_error(ferry_auth_file_lookup(&secret, path, "bad.example"), FERRY_EINVALID,
		     "is not base64 of user:password");
	assert_false(strstr(ferry_error_last(), "!!"));
	assert_error(ferry_auth_file_lookup(&secret, test_path(dir, "none.json"), "x"),
		     FERRY_ENOTFOUND, "none.json");
	test_rmdir(dir);
}

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_oci_reference__checks_repository_names(void **state)
{
	static const char *const good[] = { "a", "library/app", "a.b/c_d/e__f/g-h/i---j",
					    "0/9", NULL };
	static const char *const bad[] = { "", "A", "a/", "/a", "a//b", "a-", "_a", "a.-b",
					   "a___b", "a._b", "a@b", "a:b", NULL };
	char longest[300];
	size_t i;

	(void)state;
	for (i = 0; good[i]; i++)
		assert_true(ferry_reference_name_valid(good[i], strlen(good[i])));
	for (i = 0; bad[i]; i++)
		if (ferry_reference_name_valid(bad[i], strlen(bad[i])))
			fail_msg("'%s' passed as a repository name", bad[i]);
	/* The length counts, not the NUL: a prefix of a longer text. */
	assert_true(ferry_reference_name_valid("library/app:v1", 11));
	memset(longest, 'a', sizeof(longest));
	assert_true(ferry_reference_name_valid(longest, 255));
	assert_false(ferry_reference_name_valid(longest, 256));
	assert_true(ferry_reference_tag_valid("v1.2_3-rc"));
	assert_true(ferry_reference_tag_valid("_x"));
	assert_false(ferry_reference_tag_valid("-x"));
	assert_false(ferry_reference_tag_valid("a+b"));
	assert_false(ferry_reference_tag_valid("\xc3\xa9"));
	assert_int_equal(ferry_reference_host_len("127.0.0.1:5000/app"), 14);
	assert_int_equal(ferry_reference_host_len("localhost/app"), 9);
	assert_int_equal(ferry_reference_host_len("library/app"), 0);
	assert_int_equal(ferry_reference_host_len("ghcr.io"), 0);
}

static void test_oci_reference__splits_store_references(void **state)
{
	ferry_reference_parts p;

	(void)state;
	assert_int_equal(ferry_reference_split(&p, "library/app:v1"), 0);
	assert_int_equal(p.name_len, 11);
	assert_int_equal(p.tag_len, 2);
	assert_memory_equal(p.tag, "v1", 2);
	assert_null(p.digest);

	/* A digest only: the ':' of the digest is no tag (it used to make
	 * the repository "library/app@sha256"). */
	assert_int_equal(ferry_reference_split(&p, "library/app@sha256:" HEX), 0);
	assert_int_equal(p.name_len, 11);
	assert_null(p.tag);
	assert_string_equal(p.digest, "sha256:" HEX);
	assert_string_equal(p.hex, HEX);

	assert_int_equal(ferry_reference_split(&p, "library/app:v1@sha256:" HEX), 0);
	assert_int_equal(p.name_len, 11);
	assert_int_equal(p.tag_len, 2);
	assert_memory_equal(p.tag, "v1", 2);
	assert_string_equal(p.hex, HEX);

	/* A registry host's port is no tag. */
	assert_int_equal(ferry_reference_split(&p, "localhost:5000/app:v1"), 0);
	assert_int_equal(p.name_len, 18);
	assert_memory_equal(p.tag, "v1", 2);
	assert_int_equal(ferry_reference_split(&p, "localhost:5000/app@sha256:" HEX), 0);
	assert_int_equal(p.name_len, 18);
	assert_null(p.tag);
	assert_int_equal(ferry_reference_split(&p, "app:sha256-" HEX ".sig"), 0);
	assert_int_equal(p.name_len, 3);

	assert_error(ferry_reference_split(&p, "localhost:5000/app"), FERRY_EINVALID,
		     "has neither tag nor digest");
	assert_error(ferry_reference_split(&p, "library/app"), FERRY_EINVALID,
		     "has neither tag nor digest");
	assert_error(ferry_reference_split(&p, ":v1"), FERRY_EINVALID, "names no repository");
	assert_error(ferry_reference_split(&p, "@sha256:" HEX), FERRY_EINVALID,
		     "names no repository");
	assert_error(ferry_reference_split(&p, "app:"), FERRY_EINVALID, "empty tag");
	assert_error(ferry_reference_split(&p, "app@sha256:abc"), FERRY_EINVALID,
		     "reference 'app@sha256:abc': malformed digest");
	assert_error(ferry_reference_split(&p, "app@md5:abc"), FERRY_EUNSUPPORTED,
		     "unsupported digest algorithm");
}

static void test_oci_reference__checks_store_references(void **state)
{
	static const char *const good[] = {
		"library/app:v1", "app:v1", "org/team/app:1.2.3-rc_1",
		"localhost:5000/app:v1", "registry.example.com/a/b:v1", "[::1]:5000/app:v1",
		"library/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
		"library/app:v1@sha256:0000000000000000000000000000000000000000000000000000000000000000",
	};
	static const char *const bad[][2] = {
		{ "Library/App:v1", "invalid repository name" },
		{ "app", "neither tag nor digest" },
		{ "app:v1?x=1", "invalid tag" },
		{ "../../etc/x:v1", "invalid registry host '..'" },
		{ "library/../../v2/other/app:v1", "invalid repository name" },
		{ "a..b/app:v1", "invalid registry host" },
		{ "host:99999999/app:v1", "invalid registry host" },
		{ "library//app:v1", "invalid repository name" },
		{ "library/app:", "empty tag" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ferry_error_clear();
		if (ferry_reference_check(good[i]) != 0)
			fail_msg("'%s' refused: %s", good[i], ferry_error_last());
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ferry_error_clear();
		assert_int_equal(ferry_reference_check(bad[i][0]), FERRY_EINVALID);
		if (!strstr(ferry_error_last(), bad[i][1]))
			fail_msg("'%s': %s", bad[i][0], ferry_error_last());
	}
}

static void test_oci_reference__reads_token_answers(void **state)
{
	char *h = NULL;

	(void)state;
	assert_int_equal(ferry_auth_token_parse(&h, "{\"token\":\"abc\",\"expires_in\":60}", 31,
						"reg", "pull"), 0);
	assert_string_equal(h, "Authorization: Bearer abc");
	ferry_secret_free(h);
	assert_int_equal(ferry_auth_token_parse(&h, "{\"token\":\"\",\"access_token\":\"x\"}",
						31, "reg", "pull"), 0);
	assert_string_equal(h, "Authorization: Bearer x");
	ferry_secret_free(h);
	assert_error(ferry_auth_token_parse(&h, "{\"token\":\"a\\r\\nX: y\"}", 21, "reg",
					    "pull"), FERRY_EINVALID, "no usable token");
	assert_null(h);
	assert_error(ferry_auth_token_parse(&h, "{}", 2, "reg", "pull"), FERRY_EINVALID,
		     "no usable token");
	assert_error(ferry_auth_token_parse(&h, "[", 1, "reg", "pull"), FERRY_EINVALID,
		     "pull");
	assert_error(ferry_auth_token_parse(&h, NULL, 0, "reg", "pull"), FERRY_EINVALID, "pull");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oci_reference__parses_references),
		cmocka_unit_test(test_oci_reference__rejects_bad_references),
		cmocka_unit_test(test_oci_reference__parses_challenges),
		cmocka_unit_test(test_oci_reference__parses_image_lists),
		cmocka_unit_test(test_oci_reference__matches_platforms),
		cmocka_unit_test(test_oci_reference__reads_auth_files),
		cmocka_unit_test(test_oci_reference__checks_repository_names),
		cmocka_unit_test(test_oci_reference__splits_store_references),
		cmocka_unit_test(test_oci_reference__checks_store_references),
		cmocka_unit_test(test_oci_reference__reads_token_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
