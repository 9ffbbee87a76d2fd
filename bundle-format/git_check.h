/*
 * Strict checks on git objects, applied at export to every object that
 * goes into a bundle, so that hostile content never leaves the connected
 * side, and again at import to every new object, so that the receiver does
 * not rely on the sender's checks: malformed commits, tags and trees, `.git`
 * path variants, bad `.gitmodules` and `.gitattributes` files. docs/git-safety.md lists each
 * rule and where it comes from (git's fsck --strict and verify_path).
 *
 * Pure functions over raw object bytes; no libgit2 types. Each check
 * returns NULL when the object passes, or a short static reason.
 */
#ifndef FERRY_BUNDLE_GIT_CHECK_H
#define FERRY_BUNDLE_GIT_CHECK_H

#include <stddef.h>

#define FERRY_GIT_RAWSZ 20          /* SHA-1 object ids */
#define FERRY_GIT_HEXSZ 40

/* git's own limits for the special files (fsck.c). */
#define FERRY_GIT_ATTRIBUTES_MAX_SIZE (100u << 20)
#define FERRY_GIT_ATTRIBUTES_MAX_LINE 2048
#define FERRY_GIT_MODULES_MAX_SIZE (1u << 20)

/* Tree entry modes git writes. */
#define FERRY_GIT_MODE_TREE 0040000
#define FERRY_GIT_MODE_BLOB 0100644
#define FERRY_GIT_MODE_EXEC 0100755
#define FERRY_GIT_MODE_LINK 0120000
#define FERRY_GIT_MODE_GITLINK 0160000

/** One entry of a raw tree; `name` is NUL-terminated inside the tree data. */
typedef struct {
	const char *name;
	size_t namelen;
	unsigned mode;
	const unsigned char *id;   /* FERRY_GIT_RAWSZ bytes */
} ferry_git_tree_entry;

/**
 * Walk the entries of a raw tree object, checking its structure (modes
 * without zero padding and of the five kinds git writes, names that are
 * not empty, ".", ".." or contain '/', entries sorted, no duplicates, no
 * null ids) and each name (no .git variant, no symlinked .gitmodules).
 * `fn` may be NULL; a nonzero return from it stops the walk and is
 * returned. On a failed check, returns 1 and sets *why (and *entry to the
 * offending name, or NULL when the tree itself is malformed).
 */
int ferry_git_tree_walk(const void *data, size_t len, const char **why,
			const char **entry,
			int (*fn)(const ferry_git_tree_entry *e, void *payload),
			void *payload);

/** Parse a raw tree without checks (for delta bases); same callback rules;
 *  returns 1 when it is malformed. */
int ferry_git_tree_parse(const void *data, size_t len,
			 int (*fn)(const ferry_git_tree_entry *e, void *payload),
			 void *payload);

/** A tree entry name git refuses in a checkout (.git and its NTFS/HFS
 *  spellings, ".", "..", empty, containing '/'), or NULL. */
const char *ferry_git_check_entry_name(const char *name, size_t len, unsigned mode);

/** Nonzero when `name` is .gitmodules or a spelling NTFS/HFS+ treat as it. */
int ferry_git_is_gitmodules(const char *name);
/** Nonzero when `name` is .gitattributes or an NTFS/HFS+ spelling of it. */
int ferry_git_is_gitattributes(const char *name);

/**
 * Check a raw commit: header without NUL, "tree", "parent" lines with
 * well-formed ids, exactly one author and one committer with well-formed
 * identities. On success the tree id (hex, 40 digits + NUL) is copied to
 * `tree_hex` when not NULL.
 */
const char *ferry_git_check_commit(const void *data, size_t len, char *tree_hex);
/** Check a raw annotated tag: object, type, tag lines, optional tagger. */
const char *ferry_git_check_tag(const void *data, size_t len);
/**
 * ferry_git_check_tag(), and on success the tag's target: its id (hex, 40
 * digits + NUL) in `target_hex` and its type ("commit", "tree", "blob" or
 * "tag" + NUL, 7 bytes at most) in `target_type`, each when not NULL.
 */
const char *ferry_git_check_tag_target(const void *data, size_t len, char *target_hex,
				       char *target_type);

/** Check one .gitmodules value: submodule `name` and, for key "url",
 *  "path" or "update", its value. */
const char *ferry_git_check_gitmodules_entry(const char *name, const char *key,
					     const char *value);
/**
 * Parse a .gitmodules blob (git's config syntax) and call `fn` for every
 * "submodule.<name>.<key>" value, keys in lower case; values of other
 * sections are skipped, and `include` is never followed. Returns NULL, or
 * the reason the text is malformed; a nonzero return of `fn` stops the
 * parse and is stored in *fn_error.
 */
const char *ferry_git_gitmodules_parse(const void *data, size_t len,
				       int (*fn)(const char *name, const char *key,
						 const char *value, void *payload),
				       void *payload, int *fn_error);

/** Check a .gitattributes blob (size and line length). */
const char *ferry_git_check_gitattributes(const void *data, size_t len);

/**
 * Check the blob a tree names `name` with `mode`: a .gitmodules file (any
 * spelling) must parse and each of its values pass
 * ferry_git_check_gitmodules_entry; a .gitattributes file must pass
 * ferry_git_check_gitattributes; other blobs and symbolic links pass. NULL,
 * or the reason (prefixed ".gitmodules: " for .gitmodules values, in
 * `why_buf` of `why_size` bytes when it is not static).
 */
const char *ferry_git_check_special_blob(const char *name, unsigned mode, const void *data,
					 size_t len, char *why_buf, size_t why_size);

#endif
