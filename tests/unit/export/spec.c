/*
 * The export spec parser: a good spec, and each class of mistake named
 * with its line.
 */
#include "fs.h"
#include "image_closure.h"
#include "spec.h"
#include "testlib.h"

static int load(const char *dir, const char *text, ferry_export_spec **out)
{
	const char *path = test_path(dir, "spec.yaml");

	remove(path);
	assert_int_equal(ferry_fs_write_atomic(path, text, strlen(text), 0644), 0);
	*out = NULL;
	return ferry_export_spec_load(out, path);
}

static void test_export_spec__parses_sources(void **state)
{
	char *dir = test_mkdtemp();
	ferry_export_spec *s;

	(void)state;
	assert_int_equal(load(dir, "channel: site-a\nexpires: 12h\nsources:\n"
				   "  - oci-layout: images/app\n    name: library/app\n"
				   "  - oci-layout: /abs/other\n", &s), 0);
	assert_string_equal(s->channel, "site-a");
	assert_int_equal(s->expires_in, 12 * 3600);
	assert_int_equal(s->nsources, 2);
	assert_string_equal(s->sources[0].location, test_path(dir, "images/app"));
	assert_string_equal(s->sources[0].name, "library/app");
	assert_string_equal(s->sources[1].location, "/abs/other");
	assert_string_equal(s->sources[1].name, "other");
	ferry_export_spec_free(s);

	assert_int_equal(load(dir, "channel: c\nexpires: 2030-01-01T00:00:00Z\n"
				   "sources: [{oci-layout: x}]\n", &s), 0);
	assert_int_equal(s->expires_in, 0);
	assert_true(s->expires_at > 0);
	ferry_export_spec_free(s);
	test_rmdir(dir);
}

static void test_export_spec__names_mistakes(void **state)
{
	char *dir = test_mkdtemp();
	ferry_export_spec *s;

	(void)state;
	assert_error(load(dir, "chanel: x\nsources: [{oci-layout: a}]\n", &s),
		     FERRY_EINVALID, ":1: unknown key 'chanel'");
	assert_error(load(dir, "sources: [{oci-layout: a}]\n", &s),
		     FERRY_EINVALID, "missing 'channel'");
	assert_error(load(dir, "channel: x\nsources: []\n", &s),
		     FERRY_EINVALID, "missing or empty 'sources'");
	assert_error(load(dir, "channel: ../x\nsources: [{oci-layout: a}]\n", &s),
		     FERRY_EINVALID, "channel names use");
	assert_error(load(dir, "channel: x\nexpires: soon\nsources: [{oci-layout: a}]\n", &s),
		     FERRY_EINVALID, ":2: invalid duration");
	assert_int_equal(load(dir, "channel: x\nsources:\n  - oci-layout: a\n    extra: {k: [v, w]}\n", &s), 0);
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(json_object_get(s->sources[0].options, "extra"), "k"), 1)), "w");
	assert_error(ferry_source_check_options(s, &s->sources[0], NULL), FERRY_EINVALID,
		     ":3: oci-layout source: unknown key 'extra'");
	ferry_export_spec_free(s);
	assert_error(load(dir, "channel: x\nsources:\n  - name: a\n", &s),
		     FERRY_EINVALID, "source has no kind (one of 'oci-layout', 'image', 'images', 'chart', 'git', 'file')");
	assert_error(load(dir, "channel: x\nsources: {a: b}\n", &s),
		     FERRY_EINVALID, "'sources' must be a list");
	assert_error(load(dir, "channel: [x\n", &s), FERRY_EINVALID, "spec.yaml:");
	assert_error(load(dir, "channel: a\nsources: [{oci-layout: a}]\nchannel: b\n", &s),
		     FERRY_EINVALID, ":3: duplicate key 'channel'");
	assert_error(load(dir, "channel: x\nsources:\n  - oci-layout: a\n    name: b\n    name: c\n", &s),
		     FERRY_EINVALID, ":5: duplicate key 'name'");
	assert_error(load(dir, "sources: [{oci-layout: a}]\n\nchannel: ../x\n", &s),
		     FERRY_EINVALID, ":3: channel names use");
	assert_error(load(dir, "- a\n- b\n", &s), FERRY_EINVALID, "must be a mapping");
	assert_error(load(dir, "# only a comment\n", &s), FERRY_EINVALID, "the spec is empty");
	assert_null(s);
	test_rmdir(dir);
}

static void test_export_spec__parses_bytes(void **state)
{
	static const char text[] = "channel: c\nsources: [{oci-layout: x}]\n";
	ferry_export_spec *s = NULL;

	(void)state;
	assert_int_equal(ferry_export_spec_parse(&s, text, sizeof(text) - 1,
						 "/nowhere/spec.yaml"), 0);
	assert_string_equal(s->sources[0].location, "/nowhere/x");
	assert_string_equal(s->path, "/nowhere/spec.yaml");
	ferry_export_spec_free(s);
	s = NULL;
	assert_error(ferry_export_spec_parse(&s, text, 0, "/nowhere/spec.yaml"), FERRY_EINVALID,
		     "the spec is empty");
	assert_error(ferry_export_spec_parse(&s, "channel: [", 10, "/nowhere/spec.yaml"),
		     FERRY_EINVALID, "/nowhere/spec.yaml:");
	assert_null(s);
}

static void test_export_spec__deployments(void **state)
{
	char *dir = test_mkdtemp();
	ferry_export_spec *s;
	static const char good[] =
		"channel: c\nclosure: check\n"
		"sources:\n  - git: https://git.example/platform/deploy.git\n"
		"  - git: https://git.example/other.git\n    name: team/other\n"
		"deployments:\n"
		"  - name: web\n"
		"    source: {git: https://git.example/platform/deploy.git, branch: main, path: apps/web}\n"
		"    format: kustomize\n"
		"  - name: chart\n    source: {git: team/other, tag: v1}\n"
		"    format: helm\n    values: values-prod.yaml\n"
		"registries:\n  \"127.0.0.1:5000\": {insecure: true}\n";

	(void)state;
	assert_int_equal(load(dir, good, &s), 0);
	assert_int_equal(ferry_closure_match(s), 0);
	assert_int_equal(s->closure_check, 1);
	assert_int_equal(s->ndeployments, 2);
	assert_string_equal(s->deployments[0].repo, "platform/deploy");
	assert_int_equal(s->deployments[0].format, FERRY_FMT_KUSTOMIZE);
	assert_string_equal(s->deployments[0].path, "apps/web");
	assert_string_equal(s->deployments[1].repo, "team/other");
	assert_int_equal(s->deployments[1].ref_kind, FERRY_DEPLOY_TAG);
	assert_string_equal(s->deployments[1].values, "values-prod.yaml");
	assert_non_null(json_object_get(s->registries, "127.0.0.1:5000"));
	ferry_export_spec_free(s);

	assert_int_equal(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {git: /elsewhere, branch: m}, format: compose}\n",
			      &s), 0);
	assert_error(ferry_closure_match(s), FERRY_EINVALID,
		     ":4: deployment 'a': no git source of this spec is '/elsewhere'");
	ferry_export_spec_free(s);
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {git: /r, branch: m, tag: t}, format: compose}\n", &s),
		     FERRY_EINVALID, "found a second: 'tag'");
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {git: /r, branch: m}, format: jsonnet}\n", &s),
		     FERRY_EINVALID, "format must be");
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {git: /r, branch: m, path: ../x}, format: compose}\n", &s),
		     FERRY_EINVALID, "'path' must be a relative path");
	/* charts from a registry: alone, or with the values of a git source */
	assert_int_equal(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {oci: \"oci://r.example/charts/a:1\"}, format: helm}\n"
				"  - {name: b, source: {git: /r, branch: m}, chart: r.example/c@sha256:"
				"0000000000000000000000000000000000000000000000000000000000000000,\n"
				"     format: helm, values: v.yaml, release: rel, namespace: ns}\n", &s), 0);
	assert_int_equal(ferry_closure_match(s), 0);
	assert_string_equal(s->deployments[0].chart, "r.example/charts/a:1");
	assert_null(s->deployments[0].git);
	assert_null(s->deployments[0].repo);
	assert_string_equal(s->deployments[1].repo, "r");
	assert_string_equal(s->deployments[1].release, "rel");
	assert_string_equal(s->deployments[1].namespace_, "ns");
	ferry_export_spec_free(s);
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {oci: r.example/a:1, branch: m}, format: helm}\n", &s),
		     FERRY_EINVALID, "an oci source takes no branch, tag, commit or path");
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {oci: r.example/a:1, git: /r}, format: helm}\n", &s),
		     FERRY_EINVALID, "either git or oci");
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {oci: r.example/a:1}, chart: r.example/b:1, format: helm}\n", &s),
		     FERRY_EINVALID, "names one chart; found a second");
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {git: /r, branch: m}, chart: \"https://r/a\", format: helm}\n", &s),
		     FERRY_EINVALID, "a chart must be an OCI reference");
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\ndeployments:\n"
				"  - {name: a, source: {git: /r, branch: m}, chart: r.example/b:1, format: manifests}\n", &s),
		     FERRY_EINVALID, "'chart' applies to format helm only");
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\nclosure: maybe\n", &s),
		     FERRY_EINVALID, "'closure' must be add or check");
	assert_error(load(dir, "channel: c\nsources: [{git: /r}]\nregistries: {h: {proxy: x}}\n",
			  &s), FERRY_EINVALID, "unknown registry setting 'proxy'");
	test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export_spec__parses_sources),
		cmocka_unit_test(test_export_spec__names_mistakes),
		cmocka_unit_test(test_export_spec__parses_bytes),
		cmocka_unit_test(test_export_spec__deployments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
