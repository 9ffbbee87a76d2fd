/*
 * Fuzz target: an enclave's receipt, as the exporter re-bases on it: the
 * envelope (not verified) and its document, and the bytes as the bare
 * document.
 */
#include <stddef.h>
#include <stdint.h>

#include "baseline.h"
#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const void *doc, size_t len)
{
	ferry_export_receipt r;

	if (ferry_export_receipt_parse(&r, doc, len, "site-a", 1000) == 0) {
		if (r.sequence > 1000 || (r.ndigests && !r.digests) || (r.nrefs && !r.refs))
			__builtin_trap();
		ferry_export_receipt_dispose(&r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ferry_buf payload = FERRY_BUF_INIT;
	ferry_envelope_info info;

	if (ferry_envelope_open_type(&payload, &info, data, size, NULL,
				     FERRY_RECEIPT_PAYLOAD_TYPE) == 0)
		parse(payload.ptr, payload.size);
	ferry_buf_dispose(&payload);
	parse(data, size);
	return 0;
}
