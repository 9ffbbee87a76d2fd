/*
 * Fuzz target: a trust root, both as a root file (its envelope, not
 * verified, then its JSON) and as the bare JSON document. Whatever parses
 * must serialise and parse again.
 */
#include <stddef.h>
#include <stdint.h>

#include "trust_root.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const void *json, size_t len)
{
	ferry_trust_root *root = NULL, *again = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	ferry_trust view;

	if (ferry_trust_root_parse(&root, json, len) < 0)
		return;
	ferry_trust_root_view(&view, root);
	if (ferry_trust_root_to_json(&out, root) < 0 ||
	    ferry_trust_root_parse(&again, out.ptr, out.size) < 0 ||
	    again->nkeys != root->nkeys || again->threshold != root->threshold)
		__builtin_trap();
	ferry_trust_root_free(again);
	ferry_buf_dispose(&out);
	ferry_trust_root_free(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ferry_buf payload = FERRY_BUF_INIT;
	ferry_envelope_info info;

	if (ferry_trust_root_file_open(&payload, &info, data, size, NULL) == 0)
		parse(payload.ptr, payload.size);
	ferry_buf_dispose(&payload);
	parse(data, size);
	return 0;
}
