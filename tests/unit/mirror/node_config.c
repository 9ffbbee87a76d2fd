/*
 * The mirror's node configuration (mirror/node_config.h): registries.conf
 * with a [[registry.mirror]] per upstream host, containerd hosts.toml with
 * override_path under /v2/<host>, plain HTTP against TLS, and the registry
 * name check.
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "node_config.h"
#include "testlib.h"

static void test_mirror_node_config__registries_conf(void **state)
{
	ferry_mirror_node_options o = FERRY_MIRROR_NODE_OPTIONS_INIT;
	ferry_strv regs = FERRY_STRV_INIT;
	ferry_buf out = FERRY_BUF_INIT;

	(void)state;
	assert_int_equal(ferry_mirror_node_registry_add(&regs, "quay.io", 7), 0);
	assert_int_equal(ferry_mirror_node_registry_add(&regs, "docker.io/x", 9), 0);
	assert_int_equal(ferry_mirror_node_registry_add(&regs, "quay.io", 7), 0);
	assert_int_equal(regs.n, 2);
	ferry_mirror_node_registries_sort(&regs);
	assert_string_equal(regs.v[0], "docker.io");
	o.mirror = "mirror.site:5000";
	o.plain_http = 1;
	o.registries = &regs;
	assert_int_equal(ferry_mirror_node_registries_conf(&out, &o), 0);
	assert_non_null(strstr(out.ptr, "[[registry]]\nlocation = \"mirror.site:5000\"\n"
				   "insecure = true\n"));
	assert_non_null(strstr(out.ptr, "[[registry]]\nprefix = \"quay.io\"\nlocation = "
				   "\"quay.io\"\n\n[[registry.mirror]]\nlocation = "
				   "\"mirror.site:5000/quay.io\"\ninsecure = true\n"));
	assert_non_null(strstr(out.ptr, "location = \"mirror.site:5000/docker.io\""));
	ferry_buf_dispose(&out);
	ferry_strv_dispose(&regs);
}

static void test_mirror_node_config__hosts_toml(void **state)
{
	ferry_mirror_node_options o = FERRY_MIRROR_NODE_OPTIONS_INIT;
	ferry_buf out = FERRY_BUF_INIT;

	(void)state;
	o.mirror = "mirror.site:5443";
	o.ca = "/etc/ferry/tls/ca.pem";
	o.comment = "# managed";
	assert_int_equal(ferry_mirror_node_hosts_toml(&out, &o, "docker.io"), 0);
	assert_true(!strncmp(out.ptr, "# managed\n#", 11));
	assert_non_null(strstr(out.ptr, "server = \"https://registry-1.docker.io\"\n"));
	assert_non_null(strstr(out.ptr, "[host.\"https://mirror.site:5443/v2/docker.io\"]\n"
				   "  capabilities = [\"pull\", \"resolve\"]\n"
				   "  ca = \"/etc/ferry/tls/ca.pem\"\n  override_path = true\n"));
	assert_null(strstr(out.ptr, "skip_verify"));
	ferry_buf_clear(&out);
	assert_int_equal(ferry_mirror_node_hosts_toml(&out, &o, NULL), 0);
	assert_non_null(strstr(out.ptr, "server = \"https://mirror.site:5443\"\n\n"
				   "[host.\"https://mirror.site:5443\"]\n"));
	assert_null(strstr(out.ptr, "override_path"));
	ferry_buf_clear(&out);
	o.plain_http = 1;
	o.ca = NULL;
	assert_int_equal(ferry_mirror_node_hosts_toml(&out, &o, "quay.io"), 0);
	assert_non_null(strstr(out.ptr, "server = \"https://quay.io\"\n\n"
				   "[host.\"http://mirror.site:5443/v2/quay.io\"]\n"));
	assert_non_null(strstr(out.ptr, "  skip_verify = true\n  override_path = true\n"));
	ferry_buf_dispose(&out);
}

static void test_mirror_node_config__refuses(void **state)
{
	ferry_mirror_node_options o = FERRY_MIRROR_NODE_OPTIONS_INIT;
	ferry_strv regs = FERRY_STRV_INIT;
	ferry_buf out = FERRY_BUF_INIT;

	(void)state;
	assert_int_equal(ferry_mirror_node_registries_conf(&out, &o), FERRY_EINVALID);
	assert_int_equal(ferry_mirror_node_hosts_toml(&out, &o, NULL), FERRY_EINVALID);
	assert_int_equal(ferry_mirror_node_registry_add(&regs, "a b", 3), FERRY_EINVALID);
	assert_int_equal(ferry_mirror_node_registry_add(&regs, "x\"y", 3), FERRY_EINVALID);
	assert_int_equal(ferry_mirror_node_registry_add(&regs, "", 0), FERRY_EINVALID);
	assert_int_equal(regs.n, 0);
	ferry_buf_dispose(&out);
	ferry_strv_dispose(&regs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_node_config__registries_conf),
		cmocka_unit_test(test_mirror_node_config__hosts_toml),
		cmocka_unit_test(test_mirror_node_config__refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
