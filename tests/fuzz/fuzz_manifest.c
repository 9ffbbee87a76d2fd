/*
 * Fuzz target: the manifest (in-toto Statement) parser.
 */
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ferry_manifest *m = NULL;

	if (ferry_manifest_parse(&m, data, size) == 0) {
		ferry_buf again = FERRY_BUF_INIT;

		/* Whatever parses must serialise again. */
		if (ferry_manifest_to_json(&again, m) != 0)
			__builtin_trap();
		ferry_buf_dispose(&again);
	}
	ferry_manifest_free(m);
	return 0;
}
