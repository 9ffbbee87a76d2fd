/*
 * Writing git bundle files (git's bundle format v2: the header of
 * bundle-format/git_header.h, then a pack) from a
 * repository, for the objects reachable from the given tips and not from
 * the prerequisites. Every object that goes into the pack passes the strict
 * checks of git_check.h first; git pack-objects writes the pack.
 *
 * Internal to the git source module (libgit2 types appear here).
 */
#ifndef FERRY_EXPORT_GIT_BUNDLE_H
#define FERRY_EXPORT_GIT_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "hash.h"

#define FERRY_GIT_MAX_TREE_DEPTH 2048   /* trees nested deeper are refused */

typedef struct {
	const char *repo_name;        /* for messages */
	git_repository *repo;
	const char *const *ref_names; /* the bundle's refs... */
	const git_oid *ref_targets;   /* ...and the objects they point to */
	size_t nrefs;
	const char *head;             /* a ref name for a HEAD line, or NULL */
	const git_oid *prereqs;       /* commits the receiver holds (must exist) */
	size_t nprereqs;
	const git_oid *known;         /* other objects the receiver holds (tags) */
	size_t nknown;
	const char *path;             /* the file to write */
	/* called, parents first, for each commit that goes into the pack
	 * whose root tree is new to the pack and has a .gitmodules file */
	int (*commit_cb)(const git_oid *commit, void *payload);
	void *payload;
} ferry_git__bundle_spec;

typedef struct {
	size_t nobjects;              /* 0: nothing new; no file was written */
	uint64_t size;                /* of the bundle file */
	char sha256[FERRY_SHA256_HEX_LEN + 1];
} ferry_git__bundle_result;

/**
 * Check every object new to the receiver (see git_bundle.c), then write
 * the bundle file with `git pack-objects` (thin when there are
 * prerequisites). FERRY_EINVALID names the repository, the object and the
 * check it failed; FERRY_ENOTFOUND when there is no git command;
 * FERRY_ERROR when git fails; FERRY_EIO on write errors. Nothing is left
 * at spec->path on failure or when nothing is new (out->nobjects 0).
 */
int ferry_git__bundle_write(ferry_git__bundle_result *out,
			    const ferry_git__bundle_spec *spec);

#endif
