/*
 * Fuzz target: a docker/podman auth.json, looked up for a few registry
 * spellings (plain host, host:port, a host with a path).
 */
#include <stddef.h>
#include <stdint.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const registries[] = {
		"registry.example", "localhost:5000", "docker.io", "quay.io/org"
	};
	size_t i;

	for (i = 0; i < sizeof(registries) / sizeof(registries[0]); i++) {
		char *userpwd = NULL;

		if (ferry_auth_text_lookup(&userpwd, (const char *)data, size, "auth.json",
					   registries[i]) < 0)
			break;
		ferry_secret_free(userpwd);
	}
	return 0;
}
