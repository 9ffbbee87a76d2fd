/*
 * Fuzz target: a git upload-pack request body as the mirror reads it
 * (pkt-lines of want/have/done), inflated first when it is gzip. libgit2 is
 * initialised once, as the mirror does when it starts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	ferry_buf body = FERRY_BUF_INIT;
	size_t at = 0, lines = 0;
	char *line;
	int rc;

	if (!initialised)   /* as the mirror does when it starts: git's errors need it */
		initialised = git_libgit2_init() > 0;
	body.limit = 8u << 20;
	if (ferry_buf_put(&body, data, size) < 0)
		return 0;
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b &&
	    ferry_mirror__gunzip(&body) < 0) {
		ferry_buf_dispose(&body);
		return 0;
	}
	while ((rc = ferry_mirror__pkt_next(&line, &body, &at)) > 0) {
		git_oid oid;
		int sideband;
		long long number;

		if (at > body.size || ++lines > body.size)
			__builtin_trap();   /* always forward, never past the body */
		(void)ferry_mirror__upload_line(&oid, &sideband, line);
		(void)ferry_mirror__upload_number(&number, line);
		free(line);
	}
	ferry_buf_dispose(&body);
	return 0;
}
