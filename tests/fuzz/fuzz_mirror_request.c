/*
 * Fuzz target: what a client sends the mirror, as the mirror reads it
 * itself (libmicrohttpd splits the request). Lines: the URL path, a Range
 * header value, the tags/list page size. The path is routed as the OCI API
 * or git smart HTTP does; the range is checked against a few blob sizes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of *p (of *left bytes), NUL-terminated, or NULL at the end. */
static char *next_line(const char **p, size_t *left)
{
	const char *nl;
	size_t n;
	char *line;

	if (!*p)
		return NULL;
	nl = memchr(*p, '\n', *left);
	n = nl ? (size_t)(nl - *p) : *left;
	line = strndup(*p, n);
	*left -= nl ? n + 1 : n;
	*p = nl ? nl + 1 : NULL;
	return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = { 0, 1, 1000, UINT64_MAX };
	const char *p = (const char *)data, *rest;
	size_t left = size, i;
	char *url = next_line(&p, &left), *range = next_line(&p, &left),
	     *page = next_line(&p, &left), name[256];
	unsigned long n;

	if (url && !strncmp(url, "/v2/", 4) && url[4] && strcmp(url + 4, "_catalog")) {
		int k = ferry_mirror__oci_route(name, sizeof(name), &rest, url + 4);

		if (k >= 0 && (strlen(name) >= sizeof(name) || rest < url || !name[0]))
			__builtin_trap();
	}
	if (url && !strncmp(url, "/git/", 5) &&
	    ferry_mirror__git_split_url(url, name, sizeof(name), &rest) == 0 &&
	    strlen(name) >= sizeof(name))
		__builtin_trap();
	for (i = 0; range && i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t first = 0, last = 0;

		if (ferry_mirror__range(&first, &last, range, sizes[i]) == 0 &&
		    (first > last || last >= sizes[i]))
			__builtin_trap();   /* never a byte outside the blob */
	}
	if (page && ferry_mirror__page_size(&n, page) == 0 && n > 100000)
		__builtin_trap();
	free(url);
	free(range);
	free(page);
	return 0;
}
