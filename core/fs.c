/*
 * Bounded file reads and crash-safe writes (lock file, fsync, rename, fsync
 * of the directory).
 */
#define _GNU_SOURCE   /* syncfs, sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "fs.h"
#include "banned.h"

int ferry_fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ferry_error_set_errno(FERRY_EIO, "write failed");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void ferry_fs_start_writeback(int fd, uint64_t *flushed, uint64_t end)
{
	if (end > *flushed && end - *flushed >= FERRY_FS_WRITEBACK_STEP) {
		(void)sync_file_range(fd, (off_t)*flushed, (off_t)(end - *flushed),
				      SYNC_FILE_RANGE_WRITE);
		*flushed = end;
	}
}

int ferry_fs_fsync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, error = 0;

	if (!copy)
		return ferry_error_oom();
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		error = ferry_error_set_errno(FERRY_EIO,
					      "cannot sync directory of '%s'",
					      path);
	if (fd >= 0)
		close(fd);
	free(copy);
	return error;
}

/*
 * A lock file whose writer died (killed, or the machine stopped) is held
 * by nobody: remove it. 0 when it was removed (or is gone), -1 when a live
 * writer holds it or it cannot be judged. The file is removed only while
 * this process holds its lock and the name still names it, so a writer
 * that created a new one meanwhile keeps it.
 */
static int remove_stale(const char *lock_path)
{
	struct stat held, named;
	int fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), gone = -1;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &held) == 0) {
		if (stat(lock_path, &named) < 0)
			gone = errno == ENOENT ? 0 : -1;
		else if (held.st_dev == named.st_dev && held.st_ino == named.st_ino &&
			 S_ISREG(held.st_mode))
			gone = unlink(lock_path) == 0 || errno == ENOENT ? 0 : -1;
	}
	close(fd);
	return gone;
}

/* Does the lock file's name still name the file we hold? */
static int names_fd(const ferry_lockfile *lf)
{
	struct stat held, named;

	return fstat(lf->fd, &held) == 0 && stat(lf->lock_path, &named) == 0 &&
	       held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

int ferry_lockfile_open(ferry_lockfile *lf, const char *path, mode_t mode)
{
	size_t len = strlen(path);

	lf->fd = -1;
	lf->noreplace = 0;
	lf->path = strdup(path);
	lf->lock_path = malloc(len + sizeof(".lock"));
	if (!lf->path || !lf->lock_path) {
		ferry_lockfile_rollback(lf);
		return ferry_error_oom();
	}
	memcpy(lf->lock_path, path, len);
	memcpy(lf->lock_path + len, ".lock", sizeof(".lock"));
	lf->fd = open(lf->lock_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		      mode);
	if (lf->fd < 0 && errno == EEXIST) {
		if (remove_stale(lf->lock_path) == 0)
			lf->fd = open(lf->lock_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				      mode);
		else
			errno = EEXIST;   /* a live writer holds it */
	}
	/* Held while the file is written and until it is renamed: a lock
	 * file nobody holds was left by a writer that died. Between creating
	 * and locking it another writer may have taken it for such and
	 * replaced it: then the name is not ours, and is left alone. */
	if (lf->fd >= 0 && (flock(lf->fd, LOCK_EX | LOCK_NB) < 0 || !names_fd(lf))) {
		close(lf->fd);
		lf->fd = -1;
		errno = EEXIST;
	}
	/* The mode asked for, whatever the umask: a restrictive one would hide
	 * store files from the mirror, a permissive one would open them. */
	if (lf->fd >= 0 && fchmod(lf->fd, mode) < 0) {
		ferry_error_set_errno(FERRY_EIO, "cannot set the mode of '%s'", lf->lock_path);
		ferry_lockfile_rollback(lf);
		return FERRY_EIO;
	}
	if (lf->fd < 0) {
		int code = errno == EEXIST ? FERRY_EEXISTS : FERRY_EIO;

		ferry_error_set_errno(code, "cannot create lock file '%s'",
				      lf->lock_path);
		free(lf->path);
		free(lf->lock_path);
		lf->path = lf->lock_path = NULL;
		return code;
	}
	return 0;
}

int ferry_lockfile_open_new(ferry_lockfile *lf, const char *path, mode_t mode)
{
	char *copy = strdup(path);
	int fd = -1;

	if (!copy)
		return ferry_error_oom();
	/* Naming it later goes through /proc: without it, a named lock file. */
	if (access("/proc/self/fd", X_OK) == 0)
		fd = open(dirname(copy), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	free(copy);
	if (fd < 0) {  /* no O_TMPFILE here (EOPNOTSUPP, EISDIR on old kernels) */
		int error = ferry_lockfile_open(lf, path, mode);

		lf->noreplace = 1;
		return error;
	}
	if (fchmod(fd, mode) < 0 || !(lf->path = strdup(path))) {
		close(fd);
		return ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", path);
	}
	lf->lock_path = NULL;
	lf->fd = fd;
	lf->noreplace = 1;
	return 0;
}

/* rename, but never over an existing file (FERRY_EEXISTS). */
static int rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOSYS) {   /* no RENAME_NOREPLACE here */
		if (link(from, to) == 0) {
			unlink(from);
			return 0;
		}
	}
	if (errno == EEXIST)
		return ferry_error_set(FERRY_EEXISTS, "'%s' already exists", to);
	return ferry_error_set_errno(FERRY_EIO, "cannot rename '%s' to '%s'", from, to);
}

/* Name the unnamed file: through /proc (any user), or by its descriptor
 * (which needs CAP_DAC_READ_SEARCH). Never over an existing name. */
static int name_new(ferry_lockfile *lf)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", lf->fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, lf->path, AT_SYMLINK_FOLLOW) == 0 ||
	    (errno != EEXIST && linkat(lf->fd, "", AT_FDCWD, lf->path, AT_EMPTY_PATH) == 0))
		return 0;
	if (errno == EEXIST)
		return ferry_error_set(FERRY_EEXISTS, "'%s' already exists", lf->path);
	return ferry_error_set_errno(FERRY_EIO, "cannot name '%s'", lf->path);
}

static int lockfile_finish(ferry_lockfile *lf, int durable)
{
	int error = 0;

	if (lf->fd < 0)
		return ferry_error_set(FERRY_ERROR, "lock file not held");
	if (durable && fsync(lf->fd) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot sync '%s'",
					      lf->lock_path ? lf->lock_path : lf->path);
	/* Named while still held (closing lets go of the lock), so that no
	 * one takes it for a dead writer's in between: an unnamed new file
	 * by a link, a lock file by a rename (never over a file when new). */
	if (!error)
		error = !lf->lock_path ? name_new(lf)
			: lf->noreplace ? rename_new(lf->lock_path, lf->path)
			: rename(lf->lock_path, lf->path) < 0
				? ferry_error_set_errno(FERRY_EIO, "cannot rename '%s' to '%s'",
							lf->lock_path, lf->path)
				: 0;
	if (error && lf->lock_path)
		unlink(lf->lock_path);
	if (close(lf->fd) < 0 && !error)
		error = ferry_error_set_errno(FERRY_EIO, "cannot close '%s'", lf->path);
	lf->fd = -1;
	if (!error && durable)
		error = ferry_fs_fsync_parent(lf->path);
	free(lf->path);
	free(lf->lock_path);
	lf->path = lf->lock_path = NULL;
	return error;
}

int ferry_fs_pwrite_all(int fd, const void *data, size_t len, uint64_t at)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno ? errno : EIO;
		p += n;
		len -= (size_t)n;
		at += (uint64_t)n;
	}
	return 0;
}

int ferry_lockfile_commit(ferry_lockfile *lf)
{
	return lockfile_finish(lf, 1);
}

int ferry_lockfile_sync(ferry_lockfile *lf)
{
	if (lf->fd >= 0 && fsync(lf->fd) < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot sync '%s'",
					     lf->lock_path ? lf->lock_path : lf->path);
	return 0;
}

int ferry_lockfile_name(ferry_lockfile *lf)
{
	return lockfile_finish(lf, 0);
}

void ferry_lockfile_rollback(ferry_lockfile *lf)
{
	if (lf->fd >= 0) {
		/* Removed while still held, so no one else's file goes. */
		if (lf->lock_path)
			unlink(lf->lock_path);
		close(lf->fd);
		lf->fd = -1;
	}
	free(lf->path);
	free(lf->lock_path);
	lf->path = lf->lock_path = NULL;
}

static int write_whole(const char *path, const void *data, size_t len, mode_t mode,
		       int durable)
{
	ferry_lockfile lf = FERRY_LOCKFILE_INIT;
	int error;

	if ((error = ferry_lockfile_open(&lf, path, mode)) < 0)
		return error;
	if ((error = ferry_fs_write_all(lf.fd, data, len)) < 0) {
		ferry_lockfile_rollback(&lf);
		return error;
	}
	return lockfile_finish(&lf, durable);
}

int ferry_fs_write_atomic(const char *path, const void *data, size_t len,
			  mode_t mode)
{
	return write_whole(path, data, len, mode, 1);
}

int ferry_fs_write_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_whole(path, data, len, mode, 0);
}

int ferry_fs_write_output(const char *path, const void *data, size_t len, mode_t mode)
{
	struct stat st;

	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return ferry_error_set(FERRY_EEXISTS, "refusing to replace '%s': it is not a "
				       "regular file", path);
	return ferry_fs_write_atomic(path, data, len, mode);
}

int ferry_fs_read_file(ferry_buf *out, const char *path, size_t limit)
{
	struct stat st;
	char chunk[65536];
	size_t total = 0;
	int fd, error = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ferry_error_set_errno(errno == ENOENT ? FERRY_ENOTFOUND
							     : FERRY_EIO,
					     "cannot open '%s'", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ferry_error_set(FERRY_EINVALID,
				       "'%s' is not a regular file", path);
	}
	if (st.st_size > 0 && (size_t)st.st_size > limit) { /* the loop caps a growing file */
		close(fd);
		return ferry_error_set(FERRY_ETOOBIG, "'%s' is larger than %zu bytes", path,
				       limit);
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = ferry_error_set_errno(FERRY_EIO,
						      "cannot read '%s'", path);
			break;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > limit) {
			error = ferry_error_set(FERRY_ETOOBIG,
						"'%s' is larger than %zu bytes",
						path, limit);
			break;
		}
		if ((error = ferry_buf_put(out, chunk, (size_t)n)) < 0)
			break;
	}
	close(fd);
	return error;
}

int ferry_fs_mkdir_p(const char *path, mode_t mode)
{
	char *copy = strdup(path), *p;
	int error = 0;

	if (!copy)
		return ferry_error_oom();
	for (p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, mode) == 0) {
			/* what it creates has `mode`, whatever the umask */
			if (chmod(copy, mode) < 0) {
				error = ferry_error_set_errno(FERRY_EIO, "cannot set the mode "
							      "of '%s'", copy);
				break;
			}
		} else if (errno != EEXIST) {
			error = ferry_error_set_errno(FERRY_EIO,
						      "cannot create directory '%s'",
						      copy);
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return error;
}

static int fix_mode(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	mode_t want;

	(void)ftw;
	if (type == FTW_D || type == FTW_DP)
		want = 0755;
	else if (type == FTW_F)
		want = (st->st_mode & S_IWUSR) ? 0644 : 0444;
	else
		return 0;   /* symbolic links have no mode of their own */
	if ((st->st_mode & 07777) != want && chmod(path, want) < 0) {
		ferry_error_set_errno(FERRY_EIO, "cannot set the mode of '%s'", path);
		return 1;   /* stops the walk; the message is set */
	}
	return 0;
}

int ferry_fs_fix_modes(const char *path)
{
	int rc = nftw(path, fix_mode, 16, FTW_PHYS);

	if (rc < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot walk '%s'", path);
	return rc ? FERRY_EIO : 0;
}

int ferry_fs_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP ? rmdir(path) : unlink(path))
		return errno == ENOENT ? 0 : -1;
	return 0;
}

int ferry_fs_remove_tree(const char *path)
{
	if (nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return ferry_error_set_errno(FERRY_EIO, "cannot remove '%s'", path);
	return 0;
}

int ferry_fs_sync_filesystem(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), error = 0;

	if (fd < 0 || syncfs(fd) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot sync the filesystem of '%s'",
					      path);
	if (fd >= 0)
		close(fd);
	return error;
}

int ferry_fs_sync_close(int fd, const char *path)
{
	int error = 0;

	if (fsync(fd) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot sync '%s'", path);
	if (close(fd) < 0 && !error)
		error = ferry_error_set_errno(FERRY_EIO, "cannot close '%s'", path);
	return error;
}

int ferry_fs_pipe_cloexec(int fds[2])
{
	if (pipe(fds) < 0)
		return -1;
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

int ferry_fs_rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOSYS) {
		/* a filesystem without RENAME_NOREPLACE: link refuses an
		 * existing name the same way */
		if (link(from, to) == 0) {
			if (unlink(from) < 0)
				return ferry_error_set_errno(FERRY_EIO, "cannot remove '%s'", from);
			return 0;
		}
	}
	if (errno == EEXIST)
		return FERRY_EEXISTS;
	return ferry_error_set_errno(FERRY_EIO, "cannot rename '%s' to '%s'", from, to);
}
