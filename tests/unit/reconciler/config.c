/*
 * The reconciler config parsed from bytes (ferry_reconcile_config_parse):
 * relative paths against the directory given, mistakes named with the
 * config's name and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconcile.h"
#include "testlib.h"

static void test_reconciler_config__parses_bytes(void **state)
{
	static const char text[] = "store: s\nstacks:\n  - name: web\n"
				   "    source: {git: deploy, branch: main, path: web}\n";
	ferry_reconcile_config *cfg = NULL;

	(void)state;
	assert_int_equal(ferry_reconcile_config_parse(&cfg, text, strlen(text), "/etc/r.yaml",
						      "/srv"), 0);
	assert_string_equal(cfg->store, "/srv/s");
	assert_int_equal(cfg->nstacks, 1);
	assert_string_equal(cfg->stacks[0].name, "web");
	assert_non_null(ferry_reconcile_config_stack(cfg, "web"));
	ferry_reconcile_config_free(cfg);

	/* a helm stack's chart from the store, its values from git */
	{
		static const char chart[] = "store: s\nstacks:\n  - name: web\n"
					    "    source: {git: deploy, branch: main, path: web}\n"
					    "    chart: charts/web:1.0\n    format: helm\n"
					    "    values: v.yaml\n";
		static const char not_helm[] = "store: s\nstacks:\n  - name: web\n"
					       "    source: {oci: charts/web:1.0}\n"
					       "    chart: charts/web:1.0\n    format: helm\n";
		static const char bad_ref[] = "store: s\nstacks:\n  - name: web\n"
					      "    source: {git: deploy, branch: main}\n"
					      "    chart: \"oci://x/y\"\n    format: helm\n";

		assert_int_equal(ferry_reconcile_config_parse(&cfg, chart, strlen(chart),
							      "/etc/r.yaml", "/srv"), 0);
		assert_string_equal(cfg->stacks[0].chart, "charts/web:1.0");
		ferry_reconcile_config_free(cfg);
		assert_error(ferry_reconcile_config_parse(&cfg, not_helm, strlen(not_helm),
							  "/etc/r.yaml", "/srv"),
			     FERRY_EINVALID, "chart is for the helm format with a git source");
		assert_error(ferry_reconcile_config_parse(&cfg, bad_ref, strlen(bad_ref),
							  "/etc/r.yaml", "/srv"),
			     FERRY_EINVALID, "a chart is an OCI artifact of the store");
	}
	assert_error(ferry_reconcile_config_parse(&cfg, "store: s\n", 9, "/etc/r.yaml", "/srv"),
		     FERRY_EINVALID, "/etc/r.yaml: the config has no stacks");
	assert_null(cfg);
	assert_error(ferry_reconcile_config_parse(&cfg, "stacks: []\nstacks: []\n", 22,
						  "/etc/r.yaml", "/srv"),
		     FERRY_EINVALID, "/etc/r.yaml:2");
	assert_error(ferry_reconcile_config_parse(&cfg, "webhook: {token-file: t}\nstacks: []\n",
						  36, "/etc/r.yaml", "/nonexistent-ferry"),
		     FERRY_ENOTFOUND, "/etc/r.yaml:1");
}

/* The console's reading: secret files are named but not read. */
static void test_reconciler_config__public_leaves_secrets(void **state)
{
	static const char text[] = "webhook: {listen: \"127.0.0.1:0\", token-file: no-such-token}\n"
				   "stacks: []\n";
	char dir[] = "/tmp/ferry-config-XXXXXX", path[64];
	ferry_reconcile_config *cfg = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/r.yaml", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	assert_error(ferry_reconcile_config_load(&cfg, path), FERRY_ENOTFOUND, "r.yaml:1");
	assert_int_equal(ferry_reconcile_config_load_public(&cfg, path), 0);
	assert_null(cfg->token);
	assert_string_equal(cfg->listen, "127.0.0.1:0");
	ferry_reconcile_config_free(cfg);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconciler_config__parses_bytes),
		cmocka_unit_test(test_reconciler_config__public_leaves_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
