/*
 * Fuzz target: the export spec (YAML) parser, on bytes as if read from a
 * spec file; nothing is read from disk.
 */
#include <stddef.h>
#include <stdint.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ferry_export_spec *spec = NULL;

	if (ferry_export_spec_parse(&spec, (const char *)data, size,
				    "/fuzz/export.yaml") == 0 && !spec)
		__builtin_trap();
	ferry_export_spec_free(spec);
	return 0;
}
