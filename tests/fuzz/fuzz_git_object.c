/*
 * Fuzz target: a git object's raw bytes, as the export and import checks
 * read them from a hostile pack: as a commit, as a tag, as a tree (each
 * entry's name and mode through the name checks and the .gitmodules and
 * .gitattributes spellings), and as a tree entry name.
 */
#include <stddef.h>
#include <stdint.h>

#include <stdlib.h>
#include <string.h>

#include "git_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int entry(const ferry_git_tree_entry *e, void *payload)
{
	size_t *n = payload;

	if (!e->name || strlen(e->name) != e->namelen || !e->id)
		__builtin_trap();
	(void)ferry_git_is_gitmodules(e->name);
	(void)ferry_git_is_gitattributes(e->name);
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char tree_hex[FERRY_GIT_HEXSZ + 1], type[8];
	const char *why = NULL, *name = NULL;
	size_t n = 0;
	char *s;

	if (!ferry_git_check_commit(data, size, tree_hex) && strlen(tree_hex) != FERRY_GIT_HEXSZ)
		__builtin_trap();
	if (!ferry_git_check_tag_target(data, size, tree_hex, type) &&
	    (strlen(tree_hex) != FERRY_GIT_HEXSZ || strlen(type) < 3 || strlen(type) > 6))
		__builtin_trap();
	if (ferry_git_tree_walk(data, size, &why, &name, entry, &n) == 1 && !why)
		__builtin_trap();
	(void)ferry_git_tree_parse(data, size, entry, &n);
	/* the bytes as one name (up to the first NUL, as a tree holds it) */
	if ((s = malloc(size + 1))) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)ferry_git_check_entry_name(s, strlen(s), FERRY_GIT_MODE_LINK);
		(void)ferry_git_check_entry_name(s, strlen(s), FERRY_GIT_MODE_TREE);
		free(s);
	}
	return 0;
}
