/*
 * Fuzz target: the reconciler's YAML config parser. Relative paths resolve
 * against a directory that does not exist, so secret files named by
 * relative paths are never found.
 */
#include <stddef.h>
#include <stdint.h>

#include "reconcile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ferry_reconcile_config *cfg = NULL;

	if (ferry_reconcile_config_parse(&cfg, (const char *)data, size,
					 "/nonexistent-ferry-fuzz/reconcile.yaml",
					 "/nonexistent-ferry-fuzz") == 0 && !cfg)
		__builtin_trap();
	ferry_reconcile_config_free(cfg);
	return 0;
}
