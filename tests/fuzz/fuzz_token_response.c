/*
 * Fuzz target: a token service's answer (JSON with "token" or
 * "access_token"), as the registry client reads it after a Bearer challenge.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *header = NULL;

	if (ferry_auth_token_parse(&header, (const char *)data, size, "registry.fuzz",
				   "fuzz") == 0) {
		/* what is sent back must be one header line */
		if (!header || strpbrk(header, "\r\n"))
			__builtin_trap();
	}
	ferry_secret_free(header);
	return 0;
}
