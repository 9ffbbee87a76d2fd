/*
 * The render part's image collector on tricky YAML: several documents in
 * one text, block and flow lists, init and ephemeral containers, CronJob
 * job templates, controllers' pod templates, compose services, and where
 * each image is first used.
 */
#include "render.h"
#include "testlib.h"

static ferry_render_params params(ferry_format f)
{
	ferry_render_params p;

	memset(&p, 0, sizeof(p));
	p.kind_word = "deployment";
	p.name = "web";
	p.format = f;
	return p;
}

static int render(ferry_rendered *r, ferry_format f, const char *text)
{
	ferry_render_params p = params(f);

	memset(r, 0, sizeof(*r));
	return ferry_render_text(r, &p, text, strlen(text), "app.yaml");
}

static void assert_image(const ferry_rendered *r, size_t i, const char *image,
			 const char *where)
{
	assert_true(i < r->nimages);
	assert_string_equal(r->images[i], image);
	assert_string_equal(r->image_where[i], where);
}

static void test_render_render__multi_document_workloads(void **state)
{
	ferry_rendered r;
	static const char text[] =
		"# a comment before the first document\n"
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"
		"data: {image: not/an-image:1}\n"
		"---\n"
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
		"spec:\n  template:\n    spec:\n"
		"      initContainers:\n        - name: migrate\n          image: reg.example/migrate:2\n"
		"      containers:\n        - name: web\n          image: reg.example/web:1\n"
		"        - {name: sidecar, image: \"reg.example/proxy@sha256:"
		"0000000000000000000000000000000000000000000000000000000000000000\"}\n"
		"      ephemeralContainers: [{name: debug, image: reg.example/debug:1}]\n"
		"---\n"
		"---\n"
		"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\n"
		"spec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n"
		"        spec:\n          containers: [{name: j, image: reg.example/job:3},"
		" {name: w, image: reg.example/web:1}]\n"
		"...\n"
		"---\n"
		"kind: StatefulSet\napiVersion: apps/v1\nmetadata: {name: db}\n"
		"spec: {template: {spec: {containers: [{name: db, image: 'db:5'}]}}}\n"
		"---\n"
		"kind: Pod\napiVersion: v1\nmetadata: {name: lone}\n"
		"spec:\n  containers:\n  - name: p\n    image: busybox\n";

	(void)state;
	assert_int_equal(render(&r, FERRY_FMT_MANIFESTS, text), 0);
	assert_int_equal(r.nimages, 7);
	assert_image(&r, 0, "reg.example/migrate:2", "app.yaml: Deployment/web");
	assert_image(&r, 1, "reg.example/web:1", "app.yaml: Deployment/web");
	assert_string_equal(r.images[2], "reg.example/proxy@sha256:"
			    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_image(&r, 3, "reg.example/debug:1", "app.yaml: Deployment/web");
	assert_image(&r, 4, "reg.example/job:3", "app.yaml: CronJob/nightly");
	assert_image(&r, 5, "db:5", "app.yaml: StatefulSet/db");
	assert_image(&r, 6, "busybox", "app.yaml: Pod/lone");
	/* the workload lists its containers, not init or ephemeral ones */
	assert_int_equal(r.nworkloads, 4);
	assert_int_equal(r.workloads[0].ncontainers, 2);
	ferry_rendered_dispose(&r);
}

static void test_render_render__compose_services(void **state)
{
	ferry_rendered r;
	static const char text[] =
		"services:\n"
		"  db:\n    image: postgres:16\n"
		"  app:\n    build: .\n"
		"  cache: {image: \"redis:7\", ports: ['6379:6379']}\n"
		"volumes: {data: {}}\n";

	(void)state;
	assert_int_equal(render(&r, FERRY_FMT_COMPOSE, text), 0);
	assert_int_equal(r.nimages, 2);
	assert_image(&r, 0, "postgres:16", "app.yaml: service db");
	assert_image(&r, 1, "redis:7", "app.yaml: service cache");
	ferry_rendered_dispose(&r);
}

static void test_render_render__names_mistakes(void **state)
{
	ferry_rendered r;
	ferry_render_params p = params(FERRY_FMT_MANIFESTS);
	static const char no_image[] =
		"kind: Job\nmetadata: {name: j}\n"
		"spec: {template: {spec: {containers: [{name: x}]}}}\n";
	static const char tag_only[] =
		"kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: x, image: a:1}]}\n";

	(void)state;
	assert_error(render(&r, FERRY_FMT_MANIFESTS, no_image), FERRY_EINVALID,
		     "Job/j: a container has no image");
	ferry_rendered_dispose(&r);
	assert_error(render(&r, FERRY_FMT_MANIFESTS, "kind: Deployment\nmetadata: {name: d}\n"
						   "spec: {}\n"),
		     FERRY_EINVALID, "Deployment/d has no spec.template");
	ferry_rendered_dispose(&r);
	assert_error(render(&r, FERRY_FMT_MANIFESTS, "a: [\n"), FERRY_EINVALID, "app.yaml:");
	ferry_rendered_dispose(&r);
	assert_error(render(&r, FERRY_FMT_COMPOSE, "version: '3'\n"), FERRY_EINVALID,
		     "no services");
	ferry_rendered_dispose(&r);
	p.require_digests = 1;
	memset(&r, 0, sizeof(r));
	assert_error(ferry_render_text(&r, &p, tag_only, strlen(tag_only), "x.yaml"),
		     FERRY_EVERIFY, "deployment 'web': image 'a:1' in Pod/p has no digest");
	ferry_rendered_dispose(&r);
}

static void test_render_render__formats(void **state)
{
	ferry_format f;

	(void)state;
	assert_int_equal(ferry_render_format_parse(&f, "kustomize"), 0);
	assert_int_equal(f, FERRY_FMT_KUSTOMIZE);
	assert_string_equal(ferry_render_format_name(FERRY_FMT_COMPOSE), "compose");
	assert_error(ferry_render_format_parse(&f, "jsonnet"), FERRY_EINVALID, "'jsonnet'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_render__multi_document_workloads),
		cmocka_unit_test(test_render_render__compose_services),
		cmocka_unit_test(test_render_render__names_mistakes),
		cmocka_unit_test(test_render_render__formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
