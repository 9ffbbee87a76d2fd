/*
 * Fuzz target: a .gitmodules blob, through git's config syntax parser (each
 * url resolved against a few superproject URLs, as the exporter does) and
 * the checks a bundle's special blobs get.
 */
#include <stddef.h>
#include <stdint.h>

#include <stdlib.h>
#include <string.h>

#include "git_check.h"
#include "git_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int entry(const char *name, const char *key, const char *value, void *payload)
{
	size_t *n = payload;

	if (!name || !key || !value)
		__builtin_trap();
	(*n)++;
	if (!strcmp(key, "url")) {   /* as the exporter follows a submodule */
		static const char *const supers[] = {
			"https://git.example.com/org/app.git", "/srv/git/app", "ssh://h/a/b/"
		};
		size_t i;

		for (i = 0; i < sizeof(supers) / sizeof(supers[0]); i++) {
			char *url = NULL;

			if (ferry_git_resolve_url(&url, supers[i], value) == 0 && !url)
				__builtin_trap();
			free(url);
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	size_t n = 0;
	int fn_error = 0;

	(void)ferry_git_gitmodules_parse(data, size, entry, &n, &fn_error);
	(void)ferry_git_check_special_blob(".gitmodules", 0100644, data, size, why,
					   sizeof(why));
	(void)ferry_git_check_special_blob(".gitattributes", 0100644, data, size, why,
					   sizeof(why));
	return 0;
}
