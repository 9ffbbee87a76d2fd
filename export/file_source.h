/*
 * Source kind `file`: any files (packages, binaries, tarballs, ISO images)
 * carried as one OCI artifact, as `oras push` makes them: an empty config,
 * one layer per file with the file's name as its title annotation, the
 * artifact type FERRY_OCI_MT_FILES. Stock OCI clients see an ordinary
 * artifact; `ferry store get` writes the files back by name.
 *
 *   - file: ./debs               # a file, or every regular file of a directory
 *     name: tools/debs           # the repository (required)
 *     tag: "2026.12"             # the tag (required)
 *     artifact-type: application/vnd.example.debs.v1   # optional
 */
#ifndef FERRY_EXPORT_FILE_SOURCE_H
#define FERRY_EXPORT_FILE_SOURCE_H

#include "oci_layout.h"
#include "spec.h"

/** Most files one source may carry. */
#define FERRY_FILES_MAX 4096

/**
 * Add the files `src` names to `c`: each file as a blob read from where it
 * is (hashed here; the bundle writer checks the digest again while it
 * copies), the empty config and the artifact's manifest written under
 * `cache_dir`/files, and the root `name:tag`. Files are taken in name
 * order, so the same files give the same digest. FERRY_EINVALID names the
 * source's line (a missing name or tag, a name a title cannot hold, a
 * directory entry that is not a regular file); FERRY_ENOTFOUND, FERRY_EIO.
 */
int ferry_files_collect(ferry_oci_content *c, const char *cache_dir,
			const ferry_export_spec *spec, const ferry_source *src);

#endif
