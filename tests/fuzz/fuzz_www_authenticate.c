/*
 * Fuzz target: a registry's WWW-Authenticate challenge header, as the
 * registry client parses it after a 401.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ferry_auth_challenge ch;
	char *header = strndup((const char *)data, size);

	if (!header)
		return 0;
	if (ferry_auth_challenge_parse(&ch, header) == 0) {
		if (ch.scheme == FERRY_AUTH_BEARER && !ch.realm)
			__builtin_trap();   /* Bearer needs a realm */
		ferry_auth_challenge_dispose(&ch);
	}
	free(header);
	return 0;
}
