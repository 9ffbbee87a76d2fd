/*
 * Files: bounded reads and durable writes. A durable write goes to
 * "<path>.lock" (created exclusively), is fsynced, renamed over <path>, and
 * the directory is fsynced, so a crash leaves the old or the new file whole
 * (after git's lockfile.h).
 */
#ifndef FERRY_CORE_FS_H
#define FERRY_CORE_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

typedef struct {
	char *path;      /* final name */
	char *lock_path; /* "<path>.lock" */
	int fd;          /* -1 when not held */
} ferry_lockfile;

#define FERRY_LOCKFILE_INIT { NULL, NULL, -1 }

/** Create "<path>.lock" exclusively; FERRY_EEXISTS when another holds it. */
int ferry_lockfile_open(ferry_lockfile *lf, const char *path, mode_t mode);
/** fsync, rename over the final name, fsync the directory. */
int ferry_lockfile_commit(ferry_lockfile *lf);
/** Drop the lock file without touching the final name (safe to repeat). */
void ferry_lockfile_rollback(ferry_lockfile *lf);

/** Write `len` bytes to `path` durably and atomically with `mode`. */
int ferry_fs_write_atomic(const char *path, const void *data, size_t len,
			  mode_t mode);
/** Write all of `data` to `fd`, retrying short writes. */
int ferry_fs_write_all(int fd, const void *data, size_t len);
/**
 * Read the whole of `path` into `out` (appended). Files larger than `limit`
 * fail with FERRY_ETOOBIG naming `path`; FERRY_ENOTFOUND when missing.
 */
int ferry_fs_read_file(ferry_buf *out, const char *path, size_t limit);
/** mkdir -p with `mode` for the directories it creates. */
int ferry_fs_mkdir_p(const char *path, mode_t mode);
/** fsync the directory that contains `path`. */
int ferry_fs_fsync_parent(const char *path);
/** rm -rf `path` without following symbolic links. */
int ferry_fs_remove_tree(const char *path);
/** fsync an open file descriptor's file and close it. */
int ferry_fs_sync_close(int fd, const char *path);
/** Nonzero when `path` names an existing file or directory. */
int ferry_fs_exists(const char *path);

#endif
