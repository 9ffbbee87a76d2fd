/*
 * Repair of the store from bundles: the blobs and git objects an fsck
 * found damaged or missing are taken from bundles that carry them, after
 * each bundle verified against the store's trust root, and put in place
 * atomically. Refs go back to the commits ferry.db records.
 */
#ifndef FERRY_IMPORT_REPAIR_H
#define FERRY_IMPORT_REPAIR_H

#include <stddef.h>

#include "fsck.h"
#include "store.h"

typedef struct {
	size_t blobs;      /* blob files replaced or restored */
	size_t records;    /* blob rows restored for files ferry.db lacked */
	size_t repos;      /* repositories that received objects */
	size_t refs;       /* refs pointed back at their recorded commit */
} ferry_repair_counts;

/**
 * Repair what `report` (an fsck of `st`) lists from the bundle files
 * `paths` (whole bundles; any that fails verification stops the repair
 * with its error before anything of it is used). `st` is open for
 * writing. Blob members are staged only when a fault needs them, whole,
 * verified by the reader, synced, and renamed over the blob; a blob file
 * without a row gets the row of the bundle that carries it; a repository
 * with faults gets the objects of the git bundle a bundle carries for it
 * (refs untouched), then every recorded ref points back at its commit
 * where that commit is held. Expiry is not checked: an old bundle is as
 * good a source of content as a new one, and the content is checked by
 * its digest. Run fsck again to see what remains. FERRY_EVERIFY,
 * FERRY_ECORRUPT, FERRY_EINVALID for a bundle that does not verify;
 * FERRY_EIO.
 */
int ferry_import_repair(ferry_repair_counts *out, ferry_store *st,
			const ferry_fsck_report *report, const char *const *paths,
			size_t npaths);

#endif
