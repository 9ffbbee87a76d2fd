/*
 * Fuzz target: a webhook request to the reconciler. The first line is the
 * credential header's value (a bearer token, or a Gitea/GitHub signature:
 * "sha256=<hex>" or "<hex>"), the rest the body: checked against a fixed
 * secret, then read as an import notification and as a push payload.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char secret[] = "fuzz-webhook-secret";
	const char *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - (const char *)data) : 0;
	const char *body = nl ? nl + 1 : (const char *)data;
	size_t blen = size - (size_t)(body - (const char *)data);
	char *header = strndup((const char *)data, hlen), actor[160];

	if (!header)
		return 0;
	(void)ferry_webhook_authentic(secret, sizeof(secret) - 1, header, NULL, body, blen);
	(void)ferry_webhook_authentic(secret, sizeof(secret) - 1, NULL, header, body, blen);
	ferry_webhook_import_actor(actor, sizeof(actor), body, blen, "/hooks/import");
	if (strlen(actor) >= sizeof(actor))
		__builtin_trap();
	ferry_webhook_push_actor(actor, sizeof(actor), body, blen, "/hooks/stacks/app");
	if (strpbrk(actor, "\r\n\033"))
		__builtin_trap();   /* outside text is escaped before it is logged */
	free(header);
	return 0;
}
