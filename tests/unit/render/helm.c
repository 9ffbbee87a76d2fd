/*
 * The helm format against a stand-in helm (a shell script that records its
 * arguments): the flags `helm template` gets (release, chart, --skip-tests,
 * --include-crds, values, namespace), how the chart is found (the
 * directory, its one subdirectory with a Chart.yaml, or a given chart),
 * the version kept for the audit trail, and the mistakes it names.
 */
#include <sys/stat.h>

#include "ferry/errors.h"
#include "fs.h"
#include "render.h"
#include "testlib.h"

static char *dir;

static void put(const char *name, const char *text)
{
	const char *path = test_path(dir, name);
	char *slash = strrchr(path, '/');

	*slash = '\0';
	assert_int_equal(ferry_fs_mkdir_p(path, 0700), 0);
	*slash = '/';
	assert_int_equal(ferry_fs_write_atomic(path, text, strlen(text), 0700), 0);
}

static int setup(void **state)
{
	char script[4096];

	(void)state;
	dir = test_mkdtemp();
	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "if [ \"$1\" = version ]; then echo 'v3.99.0+gtest'; exit 0; fi\n"
		 "printf '%%s\\n' \"$@\" >'%s/args'\n"
		 "printf 'kind: Pod\\nmetadata: {name: p}\\n"
		 "spec: {containers: [{name: c, image: app:1}]}\\n'\n", dir);
	put("bin/helm", script);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_rmdir(dir);
	return 0;
}

static ferry_render_params params(void)
{
	static char helm[4096];
	ferry_render_params p;

	snprintf(helm, sizeof(helm), "%s/bin/helm", dir);
	memset(&p, 0, sizeof(p));
	p.kind_word = "stack";
	p.name = "web";
	p.format = FERRY_FMT_HELM;
	p.helm = helm;
	return p;
}

/* The arguments the stand-in helm got, one a line, `dir` written as D. */
static void assert_args(const char *want)
{
	ferry_buf got = FERRY_BUF_INIT, norm = FERRY_BUF_INIT;
	size_t n = strlen(dir);
	const char *s;

	assert_int_equal(ferry_fs_read_file(&got, test_path(dir, "args"), 1 << 16), 0);
	for (s = got.ptr; *s;) {
		if (!strncmp(s, dir, n)) {
			assert_int_equal(ferry_buf_puts(&norm, "D"), 0);
			s += n;
		} else {
			assert_int_equal(ferry_buf_put(&norm, s++, 1), 0);
		}
	}
	assert_string_equal(norm.ptr, want);
	ferry_buf_dispose(&got);
	ferry_buf_dispose(&norm);
}

static void test_render_helm__template_flags(void **state)
{
	ferry_render_params p = params();
	ferry_rendered r;

	(void)state;
	put("src/Chart.yaml", "name: web\n");
	put("src/prod.yaml", "x: 1\n");
	p.values = "prod.yaml";
	p.namespace_ = "shop";
	p.release = "rel";
	assert_int_equal(ferry_render_dir(&r, &p, test_path(dir, "src")), 0);
	assert_args("template\nrel\nD/src\n--skip-tests\n--include-crds\n"
		    "--values\nD/src/prod.yaml\n--namespace\nshop\n");
	assert_string_equal(r.renderer, "helm v3.99.0+gtest");
	assert_int_equal(r.nimages, 1);
	assert_string_equal(r.images[0], "app:1");
	ferry_rendered_dispose(&r);
}

static void test_render_helm__finds_the_chart(void **state)
{
	ferry_render_params p = params();
	ferry_rendered r;

	(void)state;
	/* an OCI chart's layer unpacks as NAME/Chart.yaml */
	put("oci/web/Chart.yaml", "name: web\n");
	assert_int_equal(ferry_render_dir(&r, &p, test_path(dir, "oci")), 0);
	assert_args("template\nweb\nD/oci/web\n--skip-tests\n--include-crds\n");
	ferry_rendered_dispose(&r);
	/* a chart given apart from the directory: a .tgz as it is, a
	 * directory searched the same way */
	put("vals/v.yaml", "x: 1\n");
	put("web-1.0.0.tgz", "not really");
	p.chart = test_path(dir, "web-1.0.0.tgz");
	p.values = "v.yaml";
	assert_int_equal(ferry_render_dir(&r, &p, test_path(dir, "vals")), 0);
	assert_args("template\nweb\nD/web-1.0.0.tgz\n--skip-tests\n--include-crds\n"
		    "--values\nD/vals/v.yaml\n");
	ferry_rendered_dispose(&r);
	p.chart = test_path(dir, "oci");
	assert_int_equal(ferry_render_dir(&r, &p, test_path(dir, "vals")), 0);
	assert_args("template\nweb\nD/oci/web\n--skip-tests\n--include-crds\n"
		    "--values\nD/vals/v.yaml\n");
	ferry_rendered_dispose(&r);
}

static void test_render_helm__names_mistakes(void **state)
{
	ferry_render_params p = params();
	ferry_rendered r;

	(void)state;
	put("two/a/Chart.yaml", "name: a\n");
	put("two/b/Chart.yaml", "name: b\n");
	assert_error(ferry_render_dir(&r, &p, test_path(dir, "two")), FERRY_EINVALID,
		     "holds more than one chart");
	put("none/README", "x\n");
	assert_error(ferry_render_dir(&r, &p, test_path(dir, "none")), FERRY_ENOTFOUND,
		     "stack 'web': no Chart.yaml in");
	put("one/Chart.yaml", "name: one\n");
	p.values = "missing.yaml";
	assert_error(ferry_render_dir(&r, &p, test_path(dir, "one")), FERRY_ENOTFOUND,
		     "stack 'web': values file 'missing.yaml' is not in the source");
	p.values = NULL;
	p.helm = test_path(dir, "no-such/helm");
	assert_error(ferry_render_dir(&r, &p, test_path(dir, "one")), FERRY_EUNSUPPORTED,
		     "stack 'web': the helm format needs '");
	assert_null(r.renderer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_helm__template_flags),
		cmocka_unit_test(test_render_helm__finds_the_chart),
		cmocka_unit_test(test_render_helm__names_mistakes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
