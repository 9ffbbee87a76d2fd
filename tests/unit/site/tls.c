/*
 * The site's TLS material: a CA, a server certificate it signs with the
 * names asked for as DNS and IP subject alternative names, and refusals
 * (no name, a name that would split the list, a key of another CA).
 */
#include <string.h>

#include "testlib.h"
#include "tls.h"

static void test_site_tls__ca_signs_server_with_names(void **state)
{
	ferry_buf ca = FERRY_BUF_INIT, cakey = FERRY_BUF_INIT;
	ferry_buf cert = FERRY_BUF_INIT, key = FERRY_BUF_INIT, names = FERRY_BUF_INIT;
	const char *const n[] = { "mirror.test", "10.0.0.5", "::1" };

	(void)state;
	assert_int_equal(ferry_site_tls_make_ca(&ca, &cakey, "test CA"), 0);
	assert_non_null(strstr(ca.ptr, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(cakey.ptr, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(ferry_site_tls_make_server(&cert, &key, ca.ptr, cakey.ptr, n, 3), 0);
	assert_int_equal(ferry_site_tls_names(&names, cert.ptr), 0);
	assert_string_equal(names.ptr, "DNS:mirror.test, IP Address:10.0.0.5, "
			    "IP Address:0:0:0:0:0:0:0:1");
	ferry_buf_clear(&names);
	assert_int_equal(ferry_site_tls_first_name(&names, cert.ptr), 0);
	assert_string_equal(names.ptr, "mirror.test");
	ferry_buf_clear(&names);
	/* The CA itself carries no names. */
	assert_int_equal(ferry_site_tls_names(&names, ca.ptr), 0);
	assert_int_equal(names.size, 0);
	assert_int_equal(ferry_site_tls_first_name(&names, ca.ptr), FERRY_ENOTFOUND);
	ferry_buf_clear(&cert);
	ferry_site_tls_wipe(&key);
	assert_int_equal(ferry_site_tls_make_server(&cert, &key, ca.ptr, cakey.ptr, n + 1, 2), 0);
	assert_int_equal(ferry_site_tls_first_name(&names, cert.ptr), 0);
	assert_string_equal(names.ptr, "10.0.0.5");
	ferry_buf_dispose(&ca);
	ferry_site_tls_wipe(&cakey);
	ferry_buf_dispose(&cert);
	ferry_site_tls_wipe(&key);
	ferry_buf_dispose(&names);
}

static void test_site_tls__refusals(void **state)
{
	ferry_buf ca = FERRY_BUF_INIT, cakey = FERRY_BUF_INIT, ca2 = FERRY_BUF_INIT;
	ferry_buf cakey2 = FERRY_BUF_INIT, cert = FERRY_BUF_INIT, key = FERRY_BUF_INIT;
	const char *const good[] = { "mirror.test" };
	const char *const split[] = { "a.test,DNS:evil.test" };

	(void)state;
	assert_int_equal(ferry_site_tls_make_ca(&ca, &cakey, "one"), 0);
	assert_int_equal(ferry_site_tls_make_ca(&ca2, &cakey2, "two"), 0);
	assert_int_equal(ferry_site_tls_make_server(&cert, &key, ca.ptr, cakey.ptr, good, 0),
			 FERRY_EINVALID);
	assert_int_equal(ferry_site_tls_make_server(&cert, &key, ca.ptr, cakey.ptr, split, 1),
			 FERRY_EINVALID);
	assert_int_equal(ferry_site_tls_make_server(&cert, &key, ca.ptr, cakey2.ptr, good, 1),
			 FERRY_EINVALID);
	assert_non_null(strstr(ferry_error_last(), "do not belong together"));
	assert_int_equal(ferry_site_tls_names(&cert, "not a certificate"), FERRY_EINVALID);
	assert_int_equal(key.size, 0);
	ferry_buf_dispose(&ca);
	ferry_buf_dispose(&ca2);
	ferry_site_tls_wipe(&cakey);
	ferry_site_tls_wipe(&cakey2);
	ferry_buf_dispose(&cert);
	ferry_buf_dispose(&key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_site_tls__ca_signs_server_with_names),
		cmocka_unit_test(test_site_tls__refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
