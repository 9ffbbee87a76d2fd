/*
 * Fuzz target: a git bundle's header (v2/v3: prerequisites, refs, the
 * blank line before the pack). Whatever parses must write out and parse
 * again to the same prerequisites and refs.
 */
#include <stddef.h>
#include <stdint.h>

#include "git_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ferry_git_header h, again;
	ferry_buf out = FERRY_BUF_INIT;

	if (ferry_git_header_parse(&h, data, size) < 0)
		return 0;
	if (h.pack_offset > size)
		__builtin_trap();
	if (ferry_git_header_write(&out, &h) == 0) {
		if (ferry_git_header_parse(&again, out.ptr, out.size) < 0 ||
		    again.nprereqs != h.nprereqs || again.nrefs != h.nrefs)
			__builtin_trap();
		ferry_git_header_dispose(&again);
	}
	ferry_buf_dispose(&out);
	ferry_git_header_dispose(&h);
	return 0;
}
