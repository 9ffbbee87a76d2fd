/*
 * Fuzz target: a whole bundle file through the streaming reader, without
 * signature checks so that the tar and layout paths are reached. The input
 * is held in an in-memory file (memfd), read through its /proc path, so
 * that an execution costs no disk I/O. Each input is read twice: as
 * libarchive hands entries out, and with every entry read in place at the
 * offset the raw headers give (the path of large entries).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	ferry_read_result res;
	size_t done = 0;

	if (fd < 0) {
		if ((fd = memfd_create("ferry-fuzz-bundle", 0)) < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0)
		abort();
	while (done < size) {
		ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	ro.ignore_expiry = 1;
	ferry_bundle_read(&res, path, &ro);
	ferry_read_result_dispose(&res);
	ro.in_place_min = 1;
	ferry_bundle_read(&res, path, &ro);
	ferry_read_result_dispose(&res);
	return 0;
}
