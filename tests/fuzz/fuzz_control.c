/*
 * Fuzz target: a request line on the reconciler daemon's control socket,
 * read as the daemon reads it (one JSON object with a string "op"), then
 * the actor it is recorded under, which must never carry a control byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *req = NULL;
	char actor[128];
	size_t i;

	if (size > FERRY_CONTROL_MAX_REQUEST)
		return 0;
	if (ferry_control_request_parse(&req, (const char *)data, size) < 0)
		return 0;
	if (!json_is_string(json_object_get(req, "op")))
		__builtin_trap();
	ferry_control_actor(actor, sizeof(actor), req, 1000);
	if (strncmp(actor, "operator:", 9))
		__builtin_trap();
	for (i = 0; actor[i]; i++)
		if ((unsigned char)actor[i] < 0x21 || (unsigned char)actor[i] > 0x7e)
			__builtin_trap();   /* recorded as given: printable only */
	json_decref(req);
	return 0;
}
