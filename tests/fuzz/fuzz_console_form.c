/*
 * Fuzz target: what a browser sends the console, read as the console reads
 * it: a form body's fields (the first line of the input is a Cookie header,
 * the rest the body), the session cookie, and each decoded value written
 * into a page, which must never carry markup or a control byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_page(const char *value)
{
	ferry_html h = FERRY_HTML_INIT;
	size_t i;

	ferry_html_printf(&h, "<td>%s</td><td>%.12s</td>", value, value);
	if (h.error)
		__builtin_trap();
	/* between the cells' own tags: no markup, no quote, no control byte */
	for (i = 4; i + 5 < h.b.size; i++) {
		unsigned char c = (unsigned char)h.b.ptr[i];

		if (!strncmp(h.b.ptr + i, "</td><td>", 9)) {
			i += 8;
			continue;
		}
		if (c == '<' || c == '>' || c == '"' || c == '\'' || c < 0x20 || c == 0x7f)
			__builtin_trap();
	}
	ferry_html_dispose(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "user", "password", "csrf", "reason", "confirm",
					    "to" };
	const char *nl = memchr(data, '\n', size);
	char *header, *value;
	char token[FERRY_SESSION_TOKEN_LEN + 1];
	size_t hlen = nl ? (size_t)(nl - (const char *)data) : 0, i;

	if (size > 65536)
		return 0;
	if (!(header = strndup((const char *)data, hlen)))
		return 0;
	if (ferry_cookie_value(token, sizeof(token), header, "ferry_console") == 0 &&
	    strlen(token) > FERRY_SESSION_TOKEN_LEN)
		__builtin_trap();
	free(header);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *body = nl ? nl + 1 : (const char *)data;
		size_t blen = nl ? size - hlen - 1 : size;

		if (ferry_form_value(&value, body, blen, keys[i]) < 0)
			continue;
		if (strlen(value) > blen)
			__builtin_trap();
		check_page(value);
		free(value);
	}
	return 0;
}
