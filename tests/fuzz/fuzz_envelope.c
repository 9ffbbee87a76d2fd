/*
 * Fuzz target: DSSE envelope parsing and signature checking against a
 * fixed trusted key (so the verification path runs, not only parsing).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "envelope.h"
#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ferry_pubkey key;
	const ferry_pubkey *keys[1] = { &key };
	ferry_trust trust = { keys, 1, 1 };
	ferry_envelope_info info;
	ferry_buf payload = FERRY_BUF_INIT;

	if (!key.id[0]) {
		memset(key.keynum, 0x11, sizeof(key.keynum));
		memset(key.pk, 0x22, sizeof(key.pk));
		ferry_keynum__format(key.id, key.keynum);
	}
	ferry_envelope_open(&payload, &info, data, size, &trust);
	ferry_buf_dispose(&payload);
	ferry_envelope_open(&payload, &info, data, size, NULL);
	ferry_buf_dispose(&payload);
	return 0;
}
