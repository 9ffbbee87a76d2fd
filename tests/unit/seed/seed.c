/*
 * Seeding without a network: the rewrite map (longest prefix wins, host
 * component dropped), target options checked per kind, credentials stored
 * with mode 0600 and read back, progress rows, and the node configuration
 * emitted for an OCI target.
 */
#include <sys/stat.h>

#include <sodium.h>

#include "auth.h"
#include "seed.h"
#include "targets.h"
#include "testlib.h"

static void test_seed_seed__rewrite_longest_prefix(void **state)
{
	ferry_rewrite_map m = { NULL, 0 };
	char *out = NULL;

	(void)state;
	assert_int_equal(ferry_rewrite_map_add(&m, "docker.io/", "mirror.site/hub/"), 0);
	assert_int_equal(ferry_rewrite_map_add(&m, "docker.io/library/", "mirror.site/library/"), 0);
	assert_int_equal(ferry_rewrite_map_add(&m, "github.com/org/", "gitea.site/org/"), 0);
	assert_int_equal(ferry_rewrite_apply(&out, &m, "docker.io/library/nginx"), 0);
	assert_string_equal(out, "mirror.site/library/nginx");
	assert_string_equal(ferry_rewrite_repo_path(out), "library/nginx");
	free(out);
	assert_int_equal(ferry_rewrite_apply(&out, &m, "docker.io/bitnami/redis"), 0);
	assert_string_equal(out, "mirror.site/hub/bitnami/redis");
	free(out);
	assert_int_equal(ferry_rewrite_apply(&out, &m, "github.com/org/app"), 0);
	assert_string_equal(ferry_rewrite_repo_path(out), "org/app");
	free(out);
	/* No rule: kept; no host component: nothing dropped. */
	assert_int_equal(ferry_rewrite_apply(&out, &m, "library/app"), 0);
	assert_string_equal(out, "library/app");
	assert_string_equal(ferry_rewrite_repo_path(out), "library/app");
	free(out);
	assert_string_equal(ferry_rewrite_repo_path("localhost/a/b"), "a/b");
	assert_string_equal(ferry_rewrite_repo_path("host:5000/a"), "a");
	assert_int_equal(ferry_rewrite_map_add(&m, "x/", ""), FERRY_EINVALID);
	ferry_rewrite_map_dispose(&m);
}

static void test_seed_seed__targets_and_credentials(void **state)
{
	char *dir = test_mkdtemp(), *cred = NULL, *item = NULL;
	ferry_store *st = NULL;
	ferry_target *t = NULL;
	ferry_buf conf = FERRY_BUF_INIT;
	json_t *opts;
	struct stat s;
	FILE *f;

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	assert_int_equal(ferry_store_open(&st, test_path(dir, "store"), FERRY_STORE_CREATE, 0), 0);
	assert_non_null(f = fopen(test_path(dir, "c"), "w"));
	fputs("alice:pw\n", f);
	fclose(f);
	opts = json_pack("{s:[{s:s,s:s}],s:s}", "rewrite", "from", "docker.io/library/", "to",
			 "mirror.site/library/", "host", "mirror.site");
	assert_int_equal(ferry_target_add(st, "reg", FERRY_TARGET_OCI, "http://127.0.0.1:5000",
					  opts, test_path(dir, "c"), NULL, 0), 0);
	assert_int_equal(ferry_target_add(st, "reg", FERRY_TARGET_OCI, "http://x", opts, NULL,
					  NULL, 0), FERRY_EEXISTS);
	json_decref(opts);
	opts = json_pack("{s:b}", "prune", 1);
	assert_int_equal(ferry_target_add(st, "bad", FERRY_TARGET_OCI, "http://x", opts, NULL,
					  NULL, 0), FERRY_EINVALID);
	assert_int_equal(ferry_target_add(st, "g", FERRY_TARGET_GIT, "ftp://x", opts, NULL,
					  NULL, 0), FERRY_EINVALID);
	assert_int_equal(ferry_target_add(st, "../x", FERRY_TARGET_GIT, "git://x", opts, NULL,
					  NULL, 0), FERRY_EINVALID);
	json_decref(opts);
	assert_int_equal(stat(test_path(dir, "store/targets/reg.cred"), &s), 0);
	assert_int_equal(s.st_mode & 0777, 0600);
	assert_int_equal(ferry_target_load(&t, st, "reg"), 0);
	assert_int_equal(ferry_target_credentials(&cred, t), 0);
	assert_string_equal(cred, "alice:pw");
	ferry_secret_free(cred);

	assert_int_equal(ferry_target_node_config(&conf, t), 0);
	assert_non_null(strstr(conf.ptr, "prefix = \"docker.io/library\""));
	assert_non_null(strstr(conf.ptr, "location = \"mirror.site/library\""));
	assert_non_null(strstr(conf.ptr, "certs.d/docker.io/hosts.toml"));
	assert_non_null(strstr(conf.ptr, "server = \"https://registry-1.docker.io\""));
	assert_non_null(strstr(conf.ptr, "[host.\"http://mirror.site\"]"));
	ferry_buf_dispose(&conf);

	assert_int_equal(ferry_store_progress_set(st, "reg", "tag a:b", "sha256:1"), 0);
	assert_int_equal(ferry_store_progress_set(st, "reg", "tag a:b", "sha256:2"), 0);
	assert_int_equal(ferry_store_progress_get(&item, st, "reg", "tag a:b"), 0);
	assert_string_equal(item, "sha256:2");
	free(item);
	assert_int_equal(ferry_target_remove(st, "reg"), 0);
	assert_int_equal(ferry_store_progress_get(&item, st, "reg", "tag a:b"), 0);
	assert_null(item);
	assert_int_equal(stat(test_path(dir, "store/targets/reg.cred"), &s), -1);
	assert_int_equal(ferry_target_remove(st, "reg"), FERRY_ENOTFOUND);
	ferry_target_free(t);
	ferry_store_close(st);
	test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_seed__rewrite_longest_prefix),
		cmocka_unit_test(test_seed_seed__targets_and_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
