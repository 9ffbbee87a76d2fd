/*
 * Git repositories through import: git bundle files made by stock git are
 * published into the store's bare repositories (refs last), incremental
 * thin packs resolve against what the store holds, a missing prerequisite
 * is named, a bundle file that disagrees with the signed manifest is
 * rejected, and so is a damaged pack. Stock git checks the result (clone +
 * fsck --strict). Every test runs twice: with git on PATH (the pack is
 * indexed by `git index-pack`) and without (libgit2's indexer).
 */
#include <time.h>

#include "fs.h"
#include "git_store.h"
#include "hash.h"
#include "import.h"
#include "testlib.h"
#include "trust.h"
#include "writer.h"

typedef struct {
	char *dir;
	ferry_key *key;
	ferry_pubkey *pub;
	ferry_store *st;
} fixture;

static void sh(const char *dir, const char *cmd)
{
	char full[8192];

	snprintf(full, sizeof(full), "cd '%s' && ( %s ) >/dev/null 2>&1", dir, cmd);
	if (system(full) != 0)
		fail_msg("command failed: %s", cmd);
}

static void sh_out(char *out, size_t len, const char *dir, const char *cmd)
{
	char full[8192];
	FILE *p;

	snprintf(full, sizeof(full), "cd '%s' && %s", dir, cmd);
	assert_non_null(p = popen(full, "r"));
	assert_non_null(fgets(out, (int)len, p));
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ferry_trust_root *root = NULL;

	f->dir = test_mkdtemp();
	test_keypair(f->dir, "k", &f->key, &f->pub);
	assert_int_equal(ferry_store_open(&f->st, test_path(f->dir, "store"),
					  FERRY_STORE_CREATE, 0), 0);
	assert_int_equal(ferry_trust_root_new(&root, 1, time(NULL) + 86400, 1, &f->pub, 1), 0);
	assert_int_equal(ferry_trust_init(f->st, root), 0);
	ferry_trust_root_free(root);
	sh(f->dir, "git init -q -b main src && cd src && git config user.email t@t && "
		   "git config user.name t && echo a > a && git add a && "
		   "git commit -qm one && git tag v1 && echo b > b && git add b && "
		   "git commit -qm two");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ferry_store_close(f->st);
	ferry_key_free(f->key);
	ferry_pubkey_free(f->pub);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* A manifest (sequence `seq`) carrying git bundle file `gb` as repository
 * org/app; refs are added to *r by the caller. */
static ferry_manifest *git_manifest(uint64_t seq, const char *gb, ferry_git_repo **r)
{
	ferry_manifest *m = NULL;
	char hex[65], path[80], digest[80];
	uint64_t size;

	assert_int_equal(ferry_sha256_file(hex, &size, gb), 0);
	assert_int_equal(ferry_manifest_new(&m, "git"), 0);
	m->sequence = seq;
	m->created = time(NULL) - 10 + (int64_t)seq;
	m->expires = m->created + 86400;
	snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	assert_int_equal(ferry_manifest_add_member(m, path, size, hex), 0);
	assert_int_equal(ferry_manifest_add_repo(r, m, "org/app", digest), 0);
	return m;
}

/* Wrap git bundle file `gb` in a ferry bundle binding repo org/app to
 * main=`main_commit` (and v1 when `with_tag`), with `prereq` if given. */
static const char *wrap(fixture *f, const char *name, uint64_t seq, const char *gb,
			const char *main_commit, const char *tag_commit,
			const char *prereq)
{
	ferry_member_source src[1] = { { .file = gb } };
	ferry_git_repo *r;
	ferry_manifest *m = git_manifest(seq, gb, &r);

	m->base_sequence = prereq ? seq - 1 : 0;
	assert_int_equal(ferry_git_repo_add_ref(r, "refs/heads/main", main_commit, 0), 0);
	if (tag_commit)
		assert_int_equal(ferry_git_repo_add_ref(r, "refs/tags/v1", tag_commit, 0), 0);
	if (prereq)
		assert_int_equal(ferry_git_repo_add_prerequisite(r, prereq), 0);
	return test_write_bundle(m, src, f->dir, name, f->key);
}

/* 0: the imports below run with no git command on PATH */
static int with_git = 1;

static int import_one(fixture *f, const char *path)
{
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	ferry_import_result res;
	const char *paths[1] = { path };
	char *saved = NULL;
	int error;

	if (!with_git) {
		assert_non_null(saved = strdup(getenv("PATH")));
		assert_int_equal(setenv("PATH", test_path(f->dir, "no-such-dir"), 1), 0);
	}
	ferry_error_clear();
	error = ferry_import(&res, f->st, paths, 1, &io);
	ferry_import_result_dispose(&res);
	if (saved) {
		assert_int_equal(setenv("PATH", saved, 1), 0);
		free(saved);
	}
	return error;
}

static void test_import_git__full_then_incremental(void **state)
{
	fixture *f = *state;
	char one[64], two[64], three[64], got[65], bundle[4096];
	char src[4200];

	snprintf(src, sizeof(src), "%s/src", f->dir);
	sh_out(one, sizeof(one), src, "git rev-parse v1");
	sh_out(two, sizeof(two), src, "git rev-parse main");
	sh(src, "git bundle create ../full.gb main v1");
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap(f, "full", 1, test_path(f->dir, "full.gb"), two, one, NULL));
	assert_int_equal(import_one(f, bundle), 0);
	assert_int_equal(ferry_git_store_ref(got, f->st, "org/app", "refs/heads/main"), 0);
	assert_string_equal(got, two);
	sh(f->dir, "git clone -q store/git/org/app.git clone1 && cd clone1 && "
		   "git fsck --strict && test \"$(git rev-parse HEAD)\" = \"$(git rev-parse origin/main)\"");

	/* One more commit: a thin pack with prerequisite `two`. */
	sh(src, "echo c > c && git add c && git commit -qm three");
	sh_out(three, sizeof(three), src, "git rev-parse main");
	sh(src, "git bundle create ../inc.gb main ^v1 ^HEAD~1");
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap(f, "inc", 2, test_path(f->dir, "inc.gb"), three, one, two));
	assert_int_equal(import_one(f, bundle), 0);
	assert_int_equal(ferry_git_store_ref(got, f->st, "org/app", "refs/heads/main"), 0);
	assert_string_equal(got, three);
	sh(f->dir, "git clone -q store/git/org/app.git clone2 && cd clone2 && "
		   "git fsck --strict && test -f c");
}

/* The base and an incremental bundle given in one import: the second's
 * prerequisites come from the first, which is published before it. */
static void test_import_git__base_and_incremental_in_one_import(void **state)
{
	fixture *f = *state;
	char one[64], two[64], three[64], got[65], full[4096], inc[4096], src[4200];
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	ferry_import_result res;
	const char *paths[2];

	snprintf(src, sizeof(src), "%s/src", f->dir);
	sh_out(one, sizeof(one), src, "git rev-parse v1");
	sh_out(two, sizeof(two), src, "git rev-parse main");
	sh(src, "git bundle create ../full.gb main v1 && echo c > c && git add c && "
		"git commit -qm three && git bundle create ../inc.gb main ^v1 ^HEAD~1");
	sh_out(three, sizeof(three), src, "git rev-parse main");
	snprintf(full, sizeof(full), "%s", wrap(f, "full", 1, test_path(f->dir, "full.gb"), two, one, NULL));
	snprintf(inc, sizeof(inc), "%s", wrap(f, "inc", 2, test_path(f->dir, "inc.gb"), three, one, two));
	paths[0] = inc;
	paths[1] = full;
	assert_int_equal(ferry_import(&res, f->st, paths, 2, &io), 0);
	ferry_import_result_dispose(&res);
	assert_int_equal(ferry_git_store_ref(got, f->st, "org/app", "refs/heads/main"), 0);
	assert_string_equal(got, three);
	sh(f->dir, "git clone -q store/git/org/app.git c3 && cd c3 && git fsck --strict && test -f c");
}

static void test_import_git__missing_prerequisite_is_named(void **state)
{
	fixture *f = *state;
	char one[64], two[64], bundle[4096], src[4200];

	snprintf(src, sizeof(src), "%s/src", f->dir);
	sh_out(one, sizeof(one), src, "git rev-parse v1");
	sh_out(two, sizeof(two), src, "git rev-parse main");
	sh(src, "git bundle create ../inc.gb main ^v1");
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap(f, "inc", 2, test_path(f->dir, "inc.gb"), two, NULL, one));
	assert_error(import_one(f, bundle), FERRY_EVERIFY,
		     "repository 'org/app': the store lacks prerequisite commit");
	assert_non_null(strstr(ferry_error_last(), one));
	assert_false(ferry_fs_exists(test_path(f->dir, "store/git/org/app.git")));
}

static void test_import_git__bundle_disagreeing_with_manifest(void **state)
{
	fixture *f = *state;
	char one[64], bundle[4096], src[4200];

	snprintf(src, sizeof(src), "%s/src", f->dir);
	sh_out(one, sizeof(one), src, "git rev-parse v1");
	sh(src, "git bundle create ../full.gb main");
	/* The manifest claims main is at v1; the bundle file says otherwise. */
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap(f, "bad", 1, test_path(f->dir, "full.gb"), one, NULL, NULL));
	assert_error(import_one(f, bundle), FERRY_EINVALID,
		     "the git bundle's ref 'refs/heads/main' disagrees with the signed manifest");
	assert_false(ferry_fs_exists(test_path(f->dir, "store/git/org/app.git")));
}

static void test_import_git__incomplete_pack_is_refused(void **state)
{
	fixture *f = *state;
	char two[64], tree[64], bundle[4096], src[4200], cmd[512];

	snprintf(src, sizeof(src), "%s/src", f->dir);
	sh_out(two, sizeof(two), src, "git rev-parse main");
	sh_out(tree, sizeof(tree), src, "git rev-parse main^{tree}");
	/* A pack of the commit and its tree only: no parent, no blobs. */
	snprintf(cmd, sizeof(cmd), "{ printf '# v2 git bundle\n%s refs/heads/main\n\n'; "
		 "printf '%s\n%s\n' | git pack-objects --stdout; } > ../thin.gb", two, two, tree);
	sh(src, cmd);
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap(f, "thin", 1, test_path(f->dir, "thin.gb"), two, NULL, NULL));
	assert_error(import_one(f, bundle), FERRY_EVERIFY, "incomplete");
	assert_false(ferry_fs_exists(test_path(f->dir, "store/git/org/app.git")));
}

/* A pack whose checksum (its last 20 bytes) is wrong: the indexer refuses
 * it, as damage in the bundle, and the store is not touched. */
static void test_import_git__damaged_pack_is_refused(void **state)
{
	fixture *f = *state;
	char one[64], two[64], bundle[4096], src[4200];

	snprintf(src, sizeof(src), "%s/src", f->dir);
	sh_out(one, sizeof(one), src, "git rev-parse v1");
	sh_out(two, sizeof(two), src, "git rev-parse main");
	sh(src, "git bundle create ../bad.gb main v1 && perl -e 'open F, \"+<\", $ARGV[0] "
		"or die; seek F, -1, 2; read F, $c, 1; seek F, -1, 2; print F chr(ord($c) ^ 1)' "
		"../bad.gb");
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap(f, "bad", 1, test_path(f->dir, "bad.gb"), two, one, NULL));
	assert_error(import_one(f, bundle), FERRY_ECORRUPT, "bad pack");
	if (with_git)   /* and git's reason */
		assert_non_null(strstr(ferry_error_last(), "git index-pack"));
	assert_false(ferry_fs_exists(test_path(f->dir, "store/git/org/app.git")));
	/* the same pack, whole, goes in */
	sh(src, "git bundle create ../good.gb main v1");
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap(f, "good", 2, test_path(f->dir, "good.gb"), two, one, NULL));
	assert_int_equal(import_one(f, bundle), 0);
}

/* Wrap `gb` with the refs "name=commit" given, and deletions. */
static const char *wrap_refs(fixture *f, const char *name, uint64_t seq, const char *gb,
			     const char *const *refs, size_t nrefs,
			     const char *const *deleted, size_t ndeleted)
{
	ferry_member_source src[1] = { { .file = gb } };
	ferry_git_repo *r;
	ferry_manifest *m = git_manifest(seq, gb, &r);
	size_t i;

	for (i = 0; i < nrefs; i++) {
		char ref[256];
		const char *eq = strchr(refs[i], '=');

		snprintf(ref, sizeof(ref), "%.*s", (int)(eq - refs[i]), refs[i]);
		assert_int_equal(ferry_git_repo_add_ref(r, ref, eq + 1, 0), 0);
	}
	for (i = 0; i < ndeleted; i++)
		assert_int_equal(ferry_git_repo_add_deleted(r, deleted[i]), 0);
	return test_write_bundle(m, src, f->dir, name, f->key);
}

/* An incremental pack with the new commit and its top tree, but not the
 * file it adds: the ref must not move to it. */
static void test_import_git__pack_missing_a_file_is_refused(void **state)
{
	fixture *f = *state;
	char one[64], two[64], three[64], tree[64], got[65], bundle[4096], src[4200], cmd[600];

	snprintf(src, sizeof(src), "%s/src", f->dir);
	sh_out(one, sizeof(one), src, "git rev-parse v1");
	sh_out(two, sizeof(two), src, "git rev-parse main");
	sh(src, "git bundle create ../full.gb main v1");
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap(f, "full", 1, test_path(f->dir, "full.gb"), two, one, NULL));
	assert_int_equal(import_one(f, bundle), 0);
	sh(src, "echo new-content > c && git add c && git commit -qm three");
	sh_out(three, sizeof(three), src, "git rev-parse main");
	sh_out(tree, sizeof(tree), src, "git rev-parse main^{tree}");
	snprintf(cmd, sizeof(cmd), "{ printf '# v2 git bundle\n-%s x\n%s refs/heads/main\n\n'; "
		 "printf '%s\n%s\n' | git pack-objects --stdout; } > ../nofile.gb",
		 two, three, three, tree);
	sh(src, cmd);
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap(f, "nofile", 2, test_path(f->dir, "nofile.gb"), three, one, two));
	assert_error(import_one(f, bundle), FERRY_EVERIFY, "content is incomplete: file");
	assert_int_equal(ferry_git_store_ref(got, f->st, "org/app", "refs/heads/main"), 0);
	assert_string_equal(got, two);
}

/* Deleting refs/heads/x and creating refs/heads/x/y in one bundle works:
 * deletions go first. Two refs that clash in one state are refused. */
static void test_import_git__branch_becomes_directory(void **state)
{
	fixture *f = *state;
	char one[64], two[64], got[65], bundle[4096], src[4200];
	char r1[2][100], r2[2][100];
	const char *refs1[2] = { r1[0], r1[1] }, *refs2[2] = { r2[0], r2[1] };
	const char *gone[1] = { "refs/heads/x" };

	snprintf(src, sizeof(src), "%s/src", f->dir);
	sh_out(one, sizeof(one), src, "git rev-parse v1");
	sh_out(two, sizeof(two), src, "git rev-parse main");
	sh(src, "git branch x v1 && git bundle create ../b1.gb main x && "
		"git branch -D x && git branch x/y main && git bundle create ../b2.gb main x/y");
	snprintf(r1[0], 100, "refs/heads/main=%s", two);
	snprintf(r1[1], 100, "refs/heads/x=%s", one);
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap_refs(f, "b1", 1, test_path(f->dir, "b1.gb"), refs1, 2, NULL, 0));
	assert_int_equal(import_one(f, bundle), 0);

	/* x and x/y in one state cannot both exist */
	snprintf(r2[0], 100, "refs/heads/main=%s", two);
	snprintf(r2[1], 100, "refs/heads/x/y=%s", two);
	snprintf(bundle, sizeof(bundle), "%s",
		 wrap_refs(f, "bad", 2, test_path(f->dir, "b2.gb"), refs2, 2, NULL, 0));
	assert_error(import_one(f, bundle), FERRY_EINVALID,
		     "ref 'refs/heads/x' and ref 'refs/heads/x/y' cannot both exist");

	snprintf(bundle, sizeof(bundle), "%s",
		 wrap_refs(f, "b2", 2, test_path(f->dir, "b2.gb"), refs2, 2, gone, 1));
	assert_int_equal(import_one(f, bundle), 0);
	assert_int_equal(ferry_git_store_ref(got, f->st, "org/app", "refs/heads/x/y"), 0);
	assert_string_equal(got, two);
	assert_int_equal(ferry_git_store_ref(got, f->st, "org/app", "refs/heads/x"),
			 FERRY_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_import_git__full_then_incremental),
		T(test_import_git__base_and_incremental_in_one_import),
		T(test_import_git__missing_prerequisite_is_named),
		T(test_import_git__bundle_disagreeing_with_manifest),
		T(test_import_git__incomplete_pack_is_refused),
		T(test_import_git__pack_missing_a_file_is_refused),
		T(test_import_git__branch_becomes_directory),
		T(test_import_git__damaged_pack_is_refused),
#undef T
	};
	int failed = cmocka_run_group_tests_name("with git index-pack", tests, NULL, NULL);

	with_git = 0;
	return failed + cmocka_run_group_tests_name("with libgit2's indexer", tests, NULL, NULL);
}
