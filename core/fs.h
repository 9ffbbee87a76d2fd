/*
 * Files: bounded reads and durable writes. A durable write goes to
 * "<path>.lock" (created exclusively), is fsynced, renamed over <path>, and
 * the directory is fsynced, so a crash leaves the old or the new file whole
 * (after git's lockfile.h).
 */
#ifndef FERRY_CORE_FS_H
#define FERRY_CORE_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

typedef struct {
	char *path;      /* final name */
	char *lock_path; /* "<path>.lock"; NULL for an unnamed new file */
	int fd;          /* -1 when not held */
	int noreplace;   /* a new file: never named over an existing one */
} ferry_lockfile;

#define FERRY_LOCKFILE_INIT { NULL, NULL, -1, 0 }

/** Create "<path>.lock" exclusively and hold a lock on it (flock) until
 *  commit or rollback; one that no process holds, left by a writer that
 *  died, is removed first. FERRY_EEXISTS when a live writer holds it. */
int ferry_lockfile_open(ferry_lockfile *lf, const char *path, mode_t mode);
/**
 * A new file `path` that must not exist yet: written unnamed (O_TMPFILE)
 * where the file system allows, so that a writer that dies leaves nothing
 * behind, and named only by ferry_lockfile_commit, which then fails with
 * FERRY_EEXISTS if `path` appeared meanwhile. Elsewhere, as
 * ferry_lockfile_open.
 */
int ferry_lockfile_open_new(ferry_lockfile *lf, const char *path, mode_t mode);
/** fsync, rename over the final name (or name the new file), fsync the
 *  directory. */
int ferry_lockfile_commit(ferry_lockfile *lf);
/** For a set of files named together: fsync one now ... */
int ferry_lockfile_sync(ferry_lockfile *lf);
/** ... then name each (no fsync), then fsync their directory once. */
int ferry_lockfile_name(ferry_lockfile *lf);
/** Drop the lock file without touching the final name (safe to repeat). */
void ferry_lockfile_rollback(ferry_lockfile *lf);

/** Write `len` bytes to `path` durably and atomically with `mode` (set
 *  whatever the umask). */
int ferry_fs_write_atomic(const char *path, const void *data, size_t len,
			  mode_t mode);
/**
 * Write `len` bytes to `path` atomically (a reader sees the old file or the
 * new one whole) but not yet durably: no fsync. For callers that write many
 * small files and then make them durable at once with
 * ferry_fs_sync_filesystem before relying on them.
 */
int ferry_fs_write_replace(const char *path, const void *data, size_t len, mode_t mode);
/**
 * Write an output file a user named (a port file, a receipt, a key): as
 * ferry_fs_write_atomic, after refusing to replace anything at `path` that
 * is not a regular file (a device, a directory, a symbolic link, a FIFO):
 * FERRY_EEXISTS. A regular file there is replaced whole, by rename.
 */
int ferry_fs_write_output(const char *path, const void *data, size_t len, mode_t mode);
/** Write all of `data` to `fd`, retrying short writes. */
int ferry_fs_write_all(int fd, const void *data, size_t len);
/** Write all of `data` at offset `at` of `fd`, retrying short writes and
 *  EINTR: 0, or the errno value of the failure (for writer threads, which
 *  hand errno values to core/pipe.h). */
int ferry_fs_pwrite_all(int fd, const void *data, size_t len, uint64_t at);

/** Writeback is started in steps of this many bytes. */
#define FERRY_FS_WRITEBACK_STEP (8u << 20)

/**
 * Start writeback (sync_file_range, no wait) of what was written to `fd`
 * from `*flushed` up to `end` once that is a step or more, and move
 * `*flushed`: a file written in order this way leaves its final fsync
 * little to wait for. Nothing is reported: the fsync is what checks.
 */
void ferry_fs_start_writeback(int fd, uint64_t *flushed, uint64_t end);
/**
 * Read the whole of `path` into `out` (appended). Files larger than `limit`
 * fail with FERRY_ETOOBIG naming `path`; FERRY_ENOTFOUND when missing.
 */
int ferry_fs_read_file(ferry_buf *out, const char *path, size_t limit);
/** mkdir -p with `mode` (whatever the umask) for the directories it creates. */
int ferry_fs_mkdir_p(const char *path, mode_t mode);
/** fsync the directory that contains `path`. */
int ferry_fs_fsync_parent(const char *path);
/** rm -rf `path` without following symbolic links. */
int ferry_fs_remove_tree(const char *path);
/**
 * Make durable everything written to the filesystem that holds directory
 * `path` (syncfs(2)): one flush for many files written without an fsync
 * each. A write-back failure on that filesystem since the last sync is
 * reported; FERRY_EIO.
 */
int ferry_fs_sync_filesystem(const char *path);
/** fsync an open file descriptor's file and close it. */
int ferry_fs_sync_close(int fd, const char *path);
/**
 * Give the tree at `path` the store's modes, whatever the umask of whoever
 * wrote it (libgit2 honours the umask only): directories 0755, files 0644,
 * or 0444 when their owner cannot write them (git's objects and packs).
 * Symbolic links are not followed. FERRY_EIO.
 */
int ferry_fs_fix_modes(const char *path);
/** Nonzero when `path` names an existing file or directory. */
int ferry_fs_exists(const char *path);
/**
 * Rename `from` to `to` unless `to` exists: 0 when moved; FERRY_EEXISTS
 * when `to` exists (`from` is left); FERRY_EIO otherwise. One call where
 * a check then a rename would be two (renameat2 RENAME_NOREPLACE; link and
 * unlink where the filesystem lacks it).
 */
int ferry_fs_rename_noreplace(const char *from, const char *to);

/** pipe(2) with both ends close-on-exec (for child processes that must not
 *  inherit other children's pipes); -1 with errno on failure. */
int ferry_fs_pipe_cloexec(int fds[2]);

#endif
