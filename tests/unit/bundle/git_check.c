/*
 * Git safety checks and the pure helpers of the git source: entry names
 * (.git and its NTFS/HFS+ spellings), trees, commits, tags, .gitmodules
 * parsing and values, ref patterns, repository names from URLs, relative
 * submodule URLs, and the delta encoder.
 */
#include "git_bundle.h"
#include "git_check.h"
#include "git_source.h"
#include "testlib.h"

static void test_bundle_git_check__entry_names(void **state)
{
	static const char *const bad[] = {
		".git", ".GIT", ".gIt", "git~1", "GIT~1", ".git ", ".git.", ".git. . .",
		".git::$INDEX_ALLOCATION", ".g\xe2\x80\x8cit", "\xef\xbb\xbf.git",
		".git\xe2\x80\x8d", ".", "..", "a/b", NULL };
	static const char *const good[] = {
		".gitignore", ".github", "git", "git~2", ".git-x", "gitx", "..a", ".gi", "x.git",
		".gitmodules", NULL };
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++)
		if (!ferry_git_check_entry_name(bad[i], strlen(bad[i]), FERRY_GIT_MODE_TREE))
			fail_msg("'%s' was accepted", bad[i]);
	for (i = 0; good[i]; i++)
		if (ferry_git_check_entry_name(good[i], strlen(good[i]), FERRY_GIT_MODE_BLOB))
			fail_msg("'%s' was refused", good[i]);
	assert_non_null(ferry_git_check_entry_name("", 0, FERRY_GIT_MODE_BLOB));
	/* .gitmodules as a symlink, in every spelling */
	assert_non_null(ferry_git_check_entry_name(".gitmodules", 11, FERRY_GIT_MODE_LINK));
	assert_non_null(ferry_git_check_entry_name(".GITMODULES ", 12, FERRY_GIT_MODE_LINK));
	assert_non_null(ferry_git_check_entry_name("gitmod~1", 8, FERRY_GIT_MODE_LINK));
	assert_non_null(ferry_git_check_entry_name("GI7EBA~9", 8, FERRY_GIT_MODE_LINK));
	assert_null(ferry_git_check_entry_name(".gitmodulesx", 12, FERRY_GIT_MODE_LINK));
	/* NTFS short names may start with '~' (git's is_ntfs_dot_generic) */
	assert_true(ferry_git_is_gitmodules("~1234567"));
	assert_true(ferry_git_is_gitattributes("~1234567"));
	assert_non_null(ferry_git_check_entry_name("~1234567", 8, FERRY_GIT_MODE_LINK));
	assert_null(ferry_git_check_entry_name("~1234567", 8, FERRY_GIT_MODE_BLOB));
	/* and names that cannot be one are passed over */
	assert_false(ferry_git_is_gitmodules("Makefile"));
	assert_false(ferry_git_is_gitattributes("src"));
	assert_true(ferry_git_is_gitattributes(".gitattributes"));
	assert_true(ferry_git_is_gitattributes("gitatt~1"));
	assert_false(ferry_git_is_gitattributes(".gitattribute"));
}

static size_t put_entry(unsigned char *p, const char *mode, const char *name,
			unsigned char fill)
{
	size_t n = 0;

	memcpy(p, mode, strlen(mode));
	n += strlen(mode);
	p[n++] = ' ';
	memcpy(p + n, name, strlen(name) + 1);
	n += strlen(name) + 1;
	memset(p + n, fill, FERRY_GIT_RAWSZ);
	return n + FERRY_GIT_RAWSZ;
}

static const char *tree_why(const unsigned char *t, size_t len)
{
	const char *why = NULL, *entry = NULL;

	return ferry_git_tree_walk(t, len, &why, &entry, NULL, NULL) ? why : NULL;
}

static void test_bundle_git_check__trees(void **state)
{
	unsigned char t[512];
	size_t n;

	(void)state;
	n = put_entry(t, "100644", "a", 1);
	n += put_entry(t + n, "40000", "a-b", 2);
	n += put_entry(t + n, "40000", "b", 3);
	assert_null(tree_why(t, n));
	assert_string_equal(tree_why(t, n - 1), "malformed tree");

	n = put_entry(t, "100644", "b", 1);
	n += put_entry(t + n, "100644", "a", 1);
	assert_string_equal(tree_why(t, n), "entries not sorted");
	/* "a" (file), "a-b", "a/" (tree): ordered, but a duplicate */
	n = put_entry(t, "100644", "a", 1);
	n += put_entry(t + n, "100644", "a-b", 1);
	n += put_entry(t + n, "40000", "a", 1);
	assert_string_equal(tree_why(t, n), "duplicate entry");
	n = put_entry(t, "100664", "a", 1);
	assert_string_equal(tree_why(t, n), "bad file mode");
	n = put_entry(t, "040000", "a", 1);
	assert_string_equal(tree_why(t, n), "zero-padded file mode");
	n = put_entry(t, "100644", "a", 0);
	assert_string_equal(tree_why(t, n), "null object id");
	n = put_entry(t, "160000", "sub", 7);
	assert_null(tree_why(t, n));
	assert_int_equal(ferry_git_tree_parse(t, n - 3, NULL, NULL), 1);
}

#define TREE "tree 0123456789012345678901234567890123456789\n"
#define ID "A U Thor <a@example.com> 1700000000 +0100\n"

static void test_bundle_git_check__commits_and_tags(void **state)
{
	static const struct { const char *text, *why; } cases[] = {
		{ TREE "author " ID "committer " ID "\nmsg\n", NULL },
		{ TREE "parent 0123456789012345678901234567890123456789\nauthor " ID
		  "committer " ID "\nmsg\n", NULL },
		{ "tree 01234\nauthor " ID "committer " ID "\n", "bad tree id" },
		{ TREE "committer " ID "\n", "missing author" },
		{ TREE "author " ID "author " ID "committer " ID "\n", "multiple authors" },
		{ TREE "author " ID "\n", "missing committer" },
		{ TREE "author A <a@example.com 1 +0000\ncommitter " ID "\n", "bad email" },
		{ TREE "author <a@example.com> 1 +0000\ncommitter " ID "\n",
		  "missing name before email" },
		{ TREE "author A<a@example.com> 1 +0000\ncommitter " ID "\n",
		  "missing space before email" },
		{ TREE "author A <a@example.com> 01 +0000\ncommitter " ID "\n",
		  "zero-padded date" },
		{ TREE "author A <a@example.com> x +0000\ncommitter " ID "\n", "bad date" },
		{ TREE "author A <a@example.com> 1 0000\ncommitter " ID "\n", "bad time zone" },
		{ TREE "author A <a@example.com> 123456789012345678901 +0000\ncommitter " ID "\n",
		  "date overflows" },
		{ TREE "author " ID "committer A <a@example.com> 1 +0000", "unterminated object header" },
	};
	char tree[41];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = ferry_git_check_commit(cases[i].text, strlen(cases[i].text), tree);

		if (cases[i].why ? !why || strcmp(why, cases[i].why) : why != NULL)
			fail_msg("case %zu: got '%s', want '%s'", i, why ? why : "(ok)",
				 cases[i].why ? cases[i].why : "(ok)");
	}
	ferry_git_check_commit(cases[0].text, strlen(cases[0].text), tree);
	assert_string_equal(tree, "0123456789012345678901234567890123456789");
	{
		const char nul[] = TREE "author " ID "com\0mitter " ID "\n";

		assert_string_equal(ferry_git_check_commit(nul, sizeof(nul) - 1, NULL),
				    "NUL byte in the object header");
	}
	assert_null(ferry_git_check_tag("object 0123456789012345678901234567890123456789\n"
					"type commit\ntag v1\ntagger " ID "\nmsg\n", 91 + 42 - 1));
	assert_string_equal(ferry_git_check_tag("object 0123456789012345678901234567890123456789\n"
						"type bogus\ntag v1\n\n", 69),
			    "bad type");
	assert_string_equal(ferry_git_check_tag("type commit\n\n", 13), "missing object");
	{
		const char tag[] = "object 0123456789012345678901234567890123456789\n"
				   "type tree\ntag v1\n\nmsg\n";
		char hex[FERRY_GIT_HEXSZ + 1], type[8];

		assert_null(ferry_git_check_tag_target(tag, sizeof(tag) - 1, hex, type));
		assert_string_equal(hex, "0123456789012345678901234567890123456789");
		assert_string_equal(type, "tree");
	}
}

typedef struct {
	char seen[1024];
} gm_seen;

static int gm_cb(const char *name, const char *key, const char *value, void *payload)
{
	gm_seen *s = payload;
	size_t n = strlen(s->seen);

	snprintf(s->seen + n, sizeof(s->seen) - n, "%s.%s=%s;", name, key, value);
	return 0;
}

static void test_bundle_git_check__gitmodules(void **state)
{
	const char text[] =
		"# comment\n"
		"[submodule \"libs/a b\"]\n"
		"\tpath = libs/a b ; trailing comment\n"
		"\tURL = \"https://example.com/a.git\"\n"
		"[core]\n\tbare = false\n"
		"[include]\n\tpath = /etc/passwd\n"
		"[submodule \"q\\\"x\"]\n  path=x\\\n y\n  active\n";
	gm_seen s;
	int fn_error;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_null(ferry_git_gitmodules_parse(text, strlen(text), gm_cb, &s, &fn_error));
	assert_string_equal(s.seen, "libs/a b.path=libs/a b;libs/a b.url=https://example.com/a.git;"
				    "q\"x.path=x y;q\"x.active=true;");
	assert_non_null(ferry_git_gitmodules_parse("[submodule \"x\"\n", 15, gm_cb, &s, &fn_error));
	assert_non_null(ferry_git_gitmodules_parse("path = x\n", 9, gm_cb, &s, &fn_error));
	assert_non_null(ferry_git_gitmodules_parse("[s]\nk = \"x\n", 11, gm_cb, &s, &fn_error));

	assert_null(ferry_git_check_gitmodules_entry("libs/x", "url", "https://e.com/x.git"));
	assert_null(ferry_git_check_gitmodules_entry("x..y", "path", "x..y"));
	assert_non_null(ferry_git_check_gitmodules_entry("../../hooks", "path", "x"));
	assert_non_null(ferry_git_check_gitmodules_entry("a/..", "path", "x"));
	assert_non_null(ferry_git_check_gitmodules_entry("a\\..\\b", "path", "x"));
	assert_non_null(ferry_git_check_gitmodules_entry("", "path", "x"));
	assert_non_null(ferry_git_check_gitmodules_entry("x", "url", "--upload-pack=x"));
	assert_non_null(ferry_git_check_gitmodules_entry("x", "url", "https://e.com/%0a"));
	assert_non_null(ferry_git_check_gitmodules_entry("x", "url", "https://e.com/\n"));
	assert_non_null(ferry_git_check_gitmodules_entry("x", "path", "-x"));
	assert_non_null(ferry_git_check_gitmodules_entry("x", "update", "!sh"));
	assert_null(ferry_git_check_gitmodules_entry("x", "update", "rebase"));

	{
		char *big = malloc(FERRY_GIT_ATTRIBUTES_MAX_LINE + 10);

		memset(big, 'a', FERRY_GIT_ATTRIBUTES_MAX_LINE + 10);
		assert_non_null(ferry_git_check_gitattributes(big, FERRY_GIT_ATTRIBUTES_MAX_LINE + 1));
		big[100] = '\n';
		assert_null(ferry_git_check_gitattributes(big, FERRY_GIT_ATTRIBUTES_MAX_LINE));
		free(big);
	}
}

static void test_export_git_source__ref_patterns(void **state)
{
	(void)state;
	assert_true(ferry_git_ref_pattern_match("main", "refs/heads/main"));
	assert_true(ferry_git_ref_pattern_match("v1", "refs/tags/v1"));
	assert_false(ferry_git_ref_pattern_match("main", "refs/heads/mainline"));
	assert_true(ferry_git_ref_pattern_match("release/*", "refs/heads/release/1.0"));
	assert_true(ferry_git_ref_pattern_match("refs/tags/v*", "refs/tags/v1.2"));
	assert_false(ferry_git_ref_pattern_match("refs/tags/v*", "refs/heads/v1"));
	assert_true(ferry_git_ref_pattern_match("refs/heads/*", "refs/heads/a/b"));
	assert_false(ferry_git_ref_pattern_match("main", "refs/remotes/origin/main"));
}

static void check_name(const char *url, const char *want)
{
	char *name = NULL;
	int rc = ferry_git_name_from_url(&name, url);

	if (want) {
		if (rc != 0 || strcmp(name, want))
			fail_msg("'%s': got %d '%s', want '%s'", url, rc, name ? name : "", want);
	} else if (rc != FERRY_EINVALID) {
		fail_msg("'%s': got '%s', want an error", url, name ? name : "");
	}
	free(name);
}

static void test_export_git_source__names(void **state)
{
	(void)state;
	check_name("https://git.example.com/org/app.git", "org/app");
	check_name("https://git.example.com/org/app.git/", "org/app");
	check_name("http://127.0.0.1:8080/git/web", "git/web");
	check_name("git://host/app.git", "app");
	check_name("ssh://git@host:22/org/team/app.git", "org/team/app");
	check_name("git@github.com:org/app.git", "org/app");
	check_name("/srv/git/app.git", "app");
	check_name("repos/local.git/", "local");
	check_name("file:///srv/git/tools.git", "tools");
	check_name("https://host/", NULL);
	check_name("https://host/a b.git", NULL);
	check_name("https://host/a/../b.git", NULL);
	check_name("/", NULL);
}

static void check_url(const char *super, const char *url, const char *want)
{
	char *out = NULL;
	int rc = ferry_git_resolve_url(&out, super, url);

	if (want) {
		if (rc != 0 || strcmp(out, want))
			fail_msg("'%s' + '%s': got %d '%s', want '%s'", super, url, rc,
				 out ? out : "", want);
	} else if (rc == 0) {
		fail_msg("'%s' + '%s': got '%s', want an error", super, url, out);
	}
	free(out);
}

static void test_export_git_source__relative_urls(void **state)
{
	(void)state;
	check_url("https://h/org/app.git", "../lib.git", "https://h/org/lib.git");
	check_url("https://h/org/app.git/", "../../x/lib", "https://h/x/lib");
	check_url("https://h/org/app.git", "./sub", "https://h/org/app.git/sub");
	check_url("https://h/org/app.git", "https://o/x.git", "https://o/x.git");
	check_url("git@h:org/app.git", "../lib.git", "git@h:org/lib.git");
	check_url("/srv/git/app.git", "../lib.git", "/srv/git/lib.git");
	check_url("https://h/app.git", "../../up.git", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_git_check__entry_names),
		cmocka_unit_test(test_bundle_git_check__trees),
		cmocka_unit_test(test_bundle_git_check__commits_and_tags),
		cmocka_unit_test(test_bundle_git_check__gitmodules),
		cmocka_unit_test(test_export_git_source__ref_patterns),
		cmocka_unit_test(test_export_git_source__names),
		cmocka_unit_test(test_export_git_source__relative_urls),
			};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
