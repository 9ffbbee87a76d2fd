/*
 * The pre-flight's judgement of rendered images: the config's `preflight`
 * section; images on a mirror host looked for in the store as the mirror
 * serves it (a tag that names a held manifest, a manifest by digest in a
 * repository the store has); a registry that cannot be asked counts the
 * image missing; other hosts are not checked; the message names each
 * missing image, its workload and the bundle of the revision.
 */
#include <string.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "fs.h"
#include "reconcile.h"
#include "testlib.h"

#define HELD_DIGEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define GONE_DIGEST "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static void test_reconciler_preflight__config(void **state)
{
	static const char text[] =
		"preflight:\n"
		"  mirror: [mirror.site, \"127.0.0.1:5000\"]\n"
		"  registries:\n"
		"    registry.site: {url: \"http://10.0.0.1:5000\", ca-file: ca.pem, auth-file: auth.json}\n"
		"    other.site: {}\n"
		"stacks: []\n";
	ferry_reconcile_config *cfg = NULL;

	(void)state;
	assert_int_equal(ferry_reconcile_config_parse(&cfg, text, strlen(text), "/etc/r.yaml",
						      "/srv"), 0);
	assert_int_equal(cfg->preflight.nmirror, 2);
	assert_string_equal(cfg->preflight.mirror[1], "127.0.0.1:5000");
	assert_int_equal(cfg->preflight.nregistries, 2);
	assert_string_equal(cfg->preflight.registries[0].host, "registry.site");
	assert_string_equal(cfg->preflight.registries[0].url, "http://10.0.0.1:5000");
	assert_string_equal(cfg->preflight.registries[0].ca_file, "/srv/ca.pem");
	assert_string_equal(cfg->preflight.registries[0].auth_file, "/srv/auth.json");
	assert_string_equal(cfg->preflight.registries[1].host, "other.site");
	assert_null(cfg->preflight.registries[1].url);
	ferry_reconcile_config_free(cfg);

	assert_error(ferry_reconcile_config_parse(&cfg, "preflight: {mirrors: [a]}\nstacks: []\n",
						  37, "/etc/r.yaml", "/srv"),
		     FERRY_EINVALID, "/etc/r.yaml:1: unknown key in preflight: 'mirrors'");
	assert_error(ferry_reconcile_config_parse(&cfg, "preflight: {mirror: a}\nstacks: []\n", 34,
						  "/etc/r.yaml", "/srv"),
		     FERRY_EINVALID, "preflight mirror must be a list of hosts");
	assert_error(ferry_reconcile_config_parse(
			     &cfg, "preflight: {registries: {r.site: {url: ftp://r}}}\nstacks: []\n",
			     61, "/etc/r.yaml", "/srv"),
		     FERRY_EINVALID, "a registry url must start with https:// or http://, not 'ftp://r'");
	assert_null(cfg);
}

/* A Deployment using each of `images` (NULL-terminated), rendered. */
static void render_images(ferry_rendered *r, const char *const *images)
{
	ferry_render_params p;
	ferry_buf text = FERRY_BUF_INIT;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.name = "web";
	assert_int_equal(ferry_buf_puts(&text, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n"
					       "spec:\n  template:\n    spec:\n      containers:\n"), 0);
	for (i = 0; images[i]; i++)
		assert_int_equal(ferry_buf_printf(&text, "        - {name: c%zu, image: \"%s\"}\n", i,
						  images[i]), 0);
	memset(r, 0, sizeof(*r));
	assert_int_equal(ferry_render_text(r, &p, text.ptr, text.size, "app.yaml"), 0);
	ferry_buf_dispose(&text);
}

static void test_reconciler_preflight__store_and_hosts(void **state)
{
	static const char text[] =
		"preflight:\n"
		"  mirror: [mirror.site]\n"
		"  registries: {\"127.0.0.1:1\": {url: \"http://127.0.0.1:1\"}}\n"
		"stacks: []\n";
	const char *const images[] = {
		"mirror.site/library/app:v1",                            /* tag, manifest held */
		"mirror.site/library/app@" HELD_DIGEST,                  /* digest, held */
		"mirror.site/library/app:v2",                            /* no such tag */
		"mirror.site/library/app:broken",                        /* tag, manifest not held */
		"mirror.site/library/nope@" HELD_DIGEST,                 /* no such repository */
		"mirror.site/library/app@" GONE_DIGEST,                  /* manifest not held */
		"docker.io/library/busybox:1",                           /* not checked */
		"127.0.0.1:1/library/app:v1",                            /* registry down */
		NULL
	};
	static const ferry_preflight_status want[] = {
		FERRY_PREFLIGHT_PRESENT, FERRY_PREFLIGHT_PRESENT, FERRY_PREFLIGHT_MISSING,
		FERRY_PREFLIGHT_MISSING, FERRY_PREFLIGHT_MISSING, FERRY_PREFLIGHT_MISSING,
		FERRY_PREFLIGHT_UNCHECKED, FERRY_PREFLIGHT_MISSING
	};
	char *dir = test_mkdtemp();
	ferry_reconcile_config *cfg = NULL;
	ferry_store *st = NULL;
	ferry_buf blob = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
	ferry_rendered r;
	ferry_preflight pf;
	ferry_revision rev;
	json_t *o;
	size_t i;

	(void)state;
	assert_int_equal(ferry_reconcile_config_parse(&cfg, text, strlen(text), "/etc/r.yaml",
						      "/srv"), 0);
	assert_int_equal(ferry_store_open(&st, test_path(dir, "store"), FERRY_STORE_CREATE, 0), 0);
	assert_int_equal(ferry_store_blob_path(&blob, st, strchr(HELD_DIGEST, ':') + 1), 0);
	assert_int_equal(ferry_fs_mkdir_p(test_path(dir, "store/blobs/sha256"), 0755), 0);
	assert_int_equal(ferry_fs_write_atomic(blob.ptr, "{}", 2, 0644), 0);
	assert_int_equal(ferry_store_tag_set(st, "library/app:v1", HELD_DIGEST,
					     "application/vnd.oci.image.manifest.v1+json", 2, "c", 1), 0);
	assert_int_equal(ferry_store_tag_set(st, "library/app:broken", GONE_DIGEST,
					     "application/vnd.oci.image.manifest.v1+json", 2, "c", 1), 0);

	render_images(&r, images);
	assert_int_equal(ferry_preflight_check(&pf, cfg, st, &r, NULL), 0);
	assert_int_equal(pf.nimages, 8);
	for (i = 0; i < pf.nimages; i++) {
		if (pf.images[i].status != want[i])
			fail_msg("%s: %s, want %s (%s)", pf.images[i].image,
				 ferry_preflight_status_name(pf.images[i].status),
				 ferry_preflight_status_name(want[i]),
				 pf.images[i].why ? pf.images[i].why : "");
		assert_string_equal(pf.images[i].where, "app.yaml: Deployment/app");
	}
	assert_int_equal(pf.missing, 5);
	assert_int_equal(pf.unchecked, 1);
	assert_string_equal(pf.images[0].place, "store");
	assert_null(pf.images[0].why);
	assert_string_equal(pf.images[2].why, "the store has no tag 'library/app:v2'");
	assert_string_equal(pf.images[3].why, "the store's tag 'library/app:broken' names " GONE_DIGEST
					      ", which it does not hold");
	assert_string_equal(pf.images[4].why, "the store has no repository 'library/nope'");
	assert_string_equal(pf.images[5].why, "the store has no manifest " GONE_DIGEST);
	assert_null(pf.images[6].place);
	assert_string_equal(pf.images[6].why, "'docker.io' is neither a mirror nor a registry of "
					      "the preflight config");
	assert_string_equal(pf.images[7].place, "registry 127.0.0.1:1");
	assert_non_null(pf.images[7].why);

	/* the message: each missing image with its workload, then the bundle */
	memset(&rev, 0, sizeof(rev));
	snprintf(rev.id, sizeof(rev.id), "0123456789abcdef0123456789abcdef01234567");
	rev.bundle_id = strdup("b1");
	rev.channel = strdup("c");
	rev.sequence = 2;
	assert_int_equal(ferry_preflight_message(&msg, &pf, "web", &rev), 0);
	assert_non_null(strstr(msg.ptr, "pre-flight blocked the apply: image "
				       "'mirror.site/library/app:v2' used by app.yaml: Deployment/app "
				       "is missing (the store has no tag 'library/app:v2'); image "));
	assert_non_null(strstr(msg.ptr, "; revision 0123456789ab came with bundle b1 (channel 'c', "
				       "sequence 2), which did not carry them"));
	assert_null(strstr(msg.ptr, "busybox"));
	o = ferry_preflight_json(&pf, "web", &rev);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "missing")), 5);
	assert_int_equal(json_integer_value(json_object_get(o, "sequence")), 2);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(o, "images"), 6), "status")), "unchecked");
	json_decref(o);
	/* a workload named with bytes that are not UTF-8 (from a manifest):
	 * escaped, the document still made */
	free(pf.images[0].where);
	pf.images[0].where = strdup("app.yaml: Deployment/\xff\x1b[2K");
	assert_non_null(o = ferry_preflight_json(&pf, "web", &rev));
	assert_null(strchr(json_string_value(json_object_get(
		json_array_get(json_object_get(o, "images"), 0), "where")), '\x1b'));
	json_decref(o);

	ferry_revision_dispose(&rev);
	ferry_buf_dispose(&msg);
	ferry_buf_dispose(&blob);
	ferry_preflight_dispose(&pf);
	ferry_rendered_dispose(&r);
	ferry_store_close(st);
	ferry_reconcile_config_free(cfg);
	test_rmdir(dir);
}

static void test_reconciler_preflight__nothing_configured(void **state)
{
	const char *const images[] = { "mirror.local/library/app:v1", NULL };
	ferry_reconcile_config *cfg = NULL;
	ferry_rendered r;
	ferry_preflight pf;
	ferry_buf msg = FERRY_BUF_INIT;

	(void)state;
	assert_int_equal(ferry_reconcile_config_parse(&cfg, "stacks: []\n", 11, "r.yaml", "/srv"), 0);
	render_images(&r, images);
	/* no host is named: nothing is looked for, so the store is not used */
	assert_int_equal(ferry_preflight_check(&pf, cfg, NULL, &r, NULL), 0);
	assert_int_equal(pf.missing, 0);
	assert_int_equal(pf.unchecked, 1);
	assert_int_equal(ferry_preflight_message(&msg, &pf, "web", NULL), 0);
	assert_int_equal(msg.size, 0);
	ferry_preflight_dispose(&pf);
	ferry_rendered_dispose(&r);
	ferry_reconcile_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconciler_preflight__config),
		cmocka_unit_test(test_reconciler_preflight__store_and_hosts),
		cmocka_unit_test(test_reconciler_preflight__nothing_configured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
