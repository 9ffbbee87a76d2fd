/*
 * Fuzz target: a classic Helm repository's index.yaml (looked up for a
 * chart and version), and the same bytes as a chart's Chart.yaml.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "helm_repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ferry_buf config = FERRY_BUF_INIT;
	char *url = NULL, *digest = NULL;

	if (ferry_helm_index_find(&url, &digest, (const char *)data, size, "app", "1.2.3",
				  "fuzz index.yaml") == 0 && !url)
		__builtin_trap();
	free(url);
	free(digest);
	ferry_helm_config_from_chart_yaml(&config, (const char *)data, size, "app", "1.2.3",
					  "fuzz Chart.yaml");
	ferry_buf_dispose(&config);
	return 0;
}
