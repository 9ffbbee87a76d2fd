/*
 * What the reconciler's webhook reads from a request: its credentials
 * (ferry_webhook_authentic) and, for the audit trail, who asked
 * (ferry_webhook_import_actor, ferry_webhook_push_actor).
 */
#include <string.h>

#include <openssl/hmac.h>

#include "testlib.h"
#include "webhook.h"

static void test_reconciler_webhook__authentic(void **state)
{
	static const unsigned char secret[] = "s3cret";
	static const char body[] = "{\"ref\":\"refs/heads/main\"}";
	unsigned char mac[32];
	unsigned int len = 0;
	char sig[80];
	size_t i;

	(void)state;
	assert_int_equal(ferry_webhook_authentic(secret, 6, "s3cret", NULL, "", 0), 1);
	assert_int_equal(ferry_webhook_authentic(secret, 6, "s3cre", NULL, "", 0), 0);
	assert_int_equal(ferry_webhook_authentic(NULL, 0, "", NULL, "", 0), 0);
	assert_non_null(HMAC(EVP_sha256(), secret, 6, (const unsigned char *)body,
			     strlen(body), mac, &len));
	strcpy(sig, "sha256=");
	for (i = 0; i < 32; i++)
		snprintf(sig + 7 + 2 * i, 3, "%02X", mac[i]);
	assert_int_equal(ferry_webhook_authentic(secret, 6, NULL, sig, body, strlen(body)), 1);
	assert_int_equal(ferry_webhook_authentic(secret, 6, NULL, sig + 7, body, strlen(body)), 1);
	sig[10] = 'g';
	assert_int_equal(ferry_webhook_authentic(secret, 6, NULL, sig, body, strlen(body)), 0);
	assert_int_equal(ferry_webhook_authentic(secret, 6, NULL, "sha256=00", body, 1), 0);
}

static void test_reconciler_webhook__actors(void **state)
{
	static const char imp[] = "{\"channel\":\"site-a\",\"sequence\":42}";
	static const char gitea[] = "{\"pusher\":{\"login\":\"alice\"},\"sender\":{\"login\":\"x\"}}";
	static const char github[] = "{\"sender\":{\"login\":\"bob\\u001b[31m\"}}";
	static const char dup[] = "{\"pusher\":{\"login\":\"a\",\"login\":\"b\"}}";
	char actor[160];

	(void)state;
	ferry_webhook_import_actor(actor, sizeof(actor), imp, strlen(imp), "/hooks/import");
	assert_string_equal(actor, "importer:site-a#42");
	ferry_webhook_import_actor(actor, sizeof(actor), NULL, 0, "/hooks/import");
	assert_string_equal(actor, "importer:?#0");
	{
		const char *evil = "{\"channel\":\"c\\u001b[2K\\nok\",\"sequence\":3}";

		ferry_webhook_import_actor(actor, sizeof(actor), evil, strlen(evil), "/hooks/import");
		assert_string_equal(actor, "importer:c\\x1b[2K\\x0aok#3");
	}
	ferry_webhook_push_actor(actor, sizeof(actor), gitea, strlen(gitea), "/hooks/stacks/a");
	assert_string_equal(actor, "webhook:alice");
	ferry_webhook_push_actor(actor, sizeof(actor), github, strlen(github), "/hooks/stacks/a");
	assert_null(strchr(actor, '\033'));
	assert_true(!strncmp(actor, "webhook:bob", 11));
	/* a repeated key names nobody: a forged duplicate cannot choose */
	ferry_webhook_push_actor(actor, sizeof(actor), dup, strlen(dup), "/hooks/stacks/a");
	assert_string_equal(actor, "webhook:token");
	ferry_webhook_push_actor(actor, sizeof(actor), "{", 1, "/hooks/stacks/a");
	assert_string_equal(actor, "webhook:token");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconciler_webhook__authentic),
		cmocka_unit_test(test_reconciler_webhook__actors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
