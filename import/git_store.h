/*
 * Git repositories in the store. A bundle's git bundle file is indexed into
 * a quarantine repository in staging whose alternates point at the store's
 * repository, so a thin pack resolves against what the store holds and a
 * bad pack never touches it. Publishing moves the quarantined pack into the
 * store's repository and then moves the refs.
 */
#ifndef FERRY_IMPORT_GIT_STORE_H
#define FERRY_IMPORT_GIT_STORE_H

#include "fsck.h"
#include "git_pack.h"
#include "manifest.h"
#include "store.h"

typedef struct ferry_git_staged ferry_git_staged;

/**
 * Check and stage one repository of a bundle: parse its git bundle file
 * (`bundle_file`, NULL when the bundle carries no objects for it), check
 * every prerequisite commit is in the store, index the pack in quarantine
 * under `staging_dir`, and check every ref's target and its history are
 * complete. `borrow` lists object directories of earlier bundles of the
 * same import (published before this one) that may supply prerequisites.
 * The pack's objects must keep within `limits` (NULL: the defaults of
 * git_pack.h), checked before they are indexed.
 * FERRY_EVERIFY names a missing prerequisite (and the base
 * sequence); FERRY_EINVALID/FERRY_ECORRUPT a malformed bundle file or pack;
 * FERRY_ETOOBIG an object or the pack above the limits.
 */
int ferry_git_stage(ferry_git_staged **out, ferry_store *st, const char *staging_dir,
		    const ferry_git_repo *repo, const char *bundle_file,
		    uint64_t base_sequence, const char *const *borrow, size_t nborrow,
		    const ferry_git_pack_limits *limits);

/** The quarantine's object directory (to lend to later bundles of the same
 *  import), or NULL when this stage carries no objects. */
const char *ferry_git_staged_objects(const ferry_git_staged *s);

/**
 * Move the quarantined objects into the store's repository (creating it
 * when missing) and leave every ref as it is. An import moves the refs
 * after recording them (ferry_git_reset_refs with `prune`), so ferry.db is
 * the one place where the import is decided; repair brings back content an
 * older bundle carried without moving refs backwards. FERRY_EIO.
 */
int ferry_git_publish_objects(ferry_git_staged *s);

/**
 * Restore the objects of repository `r` from its full git bundle file
 * `bundle_file` (the repair of a store repository whose objects are lost or
 * damaged): the pack is indexed (each object hashed) in a scratch
 * repository under `staging_dir` that borrows nothing from the store, then
 * moved into the store's repository, replacing a pack of the same name;
 * refs are not touched. FERRY_EUNSUPPORTED for an incremental git bundle
 * (use ferry_git_stage and ferry_git_publish_objects), FERRY_EINVALID or
 * FERRY_ECORRUPT for a bad one, FERRY_ETOOBIG for one above `limits` (NULL:
 * the defaults), FERRY_EIO.
 */
int ferry_git_restore_objects(ferry_store *st, const char *staging_dir,
			      const ferry_git_repo *r, const char *bundle_file,
			      const ferry_git_pack_limits *limits);

void ferry_git_staged_free(ferry_git_staged *s);

/**
 * fsck of repository `repo` of the store, with the signature of
 * ferry_fsck_options.check_repo (`payload` unused): every object the
 * repository holds is read back with its hash checked; every ref ferry.db
 * records must exist with the recorded commit; the history behind those
 * commits, every tree and file of it, must be held. Faults go into `r`;
 * the return is negative only when the check cannot run (FERRY_ENOMEM).
 */
int ferry_git_fsck(ferry_fsck_report *r, ferry_store *st, const char *repo, void *payload);

/**
 * Point every ref of `repo` that ferry.db records at its recorded commit
 * (or tag object), where the repository holds it; with `prune`, first
 * delete the refs ferry.db does not record, so that the repository's refs
 * are the record's: an import moves refs so after its commit, and the next
 * import so finishes one that failed or was killed before moving them.
 * `*reset` counts the refs moved or deleted. The caller holds the write
 * lock. FERRY_EIO, FERRY_ENOMEM.
 */
int ferry_git_reset_refs(size_t *reset, ferry_store *st, const char *repo, int prune);

/** The commit the store's repository `repo` has for `ref` (hex), if any. */
int ferry_git_store_ref(char out[65], ferry_store *st, const char *repo, const char *ref);

#endif
