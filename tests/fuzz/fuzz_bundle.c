/*
 * Fuzz target: a whole bundle file through the streaming reader, without
 * signature checks so that the tar and layout paths are reached.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	ferry_read_result res;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/ferry-fuzz-%d.tar", (int)getpid());
	if (!(f = fopen(path, "wb")))
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	ro.ignore_expiry = 1;
	ferry_bundle_read(&res, path, &ro);
	ferry_read_result_dispose(&res);
	unlink(path);
	return 0;
}
