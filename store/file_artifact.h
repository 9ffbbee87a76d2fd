/*
 * File artifacts in the store (export's `file:` source): an OCI manifest
 * whose layers each carry one file, named by its title annotation. This
 * writes them back out as files.
 */
#ifndef FERRY_STORE_FILE_ARTIFACT_H
#define FERRY_STORE_FILE_ARTIFACT_H

#include "store.h"
#include "strv.h"

/**
 * Write the files of artifact `reference` ("name:tag" or "name@sha256:...")
 * into directory `dir` (created when missing), each under its title, and
 * append their names to `written` (the caller's, disposed by the caller).
 * Everything is checked before the first file is written: the reference
 * names a manifest the store holds whole; every layer has a title that may
 * name a file (ferry_oci_title_valid), no two the same; every layer's blob
 * is held with its size. Each file is copied with its hash checked while it
 * streams, to "<title>.lock", then renamed: a file that exists is replaced
 * only when it is a regular file. FERRY_ENOTFOUND (no such reference),
 * FERRY_EINVALID (not a file artifact, and why), FERRY_ECORRUPT (a blob
 * that does not match its digest), FERRY_EEXISTS (a name in `dir` that is
 * not a regular file, or a "<title>.lock" another writer holds), FERRY_EIO.
 */
int ferry_store_files_get(ferry_strv *written, ferry_store *st, const char *reference,
			  const char *dir);

#endif
