/*
 * A git tree written out as files, with the limits of tree_write.h. Blob
 * sizes are read from the object header (for a delta, from the delta's
 * first bytes) before a blob is loaded, so an oversized file is refused
 * without being inflated.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "git_error.h"
#include "tree_write.h"
#include "banned.h"

#define TREE_DEPTH_MAX 64

int ferry_checkout_admit(uint64_t *total, const char *owner, const char *name,
			 uint64_t size)
{
	if (size > FERRY_CHECKOUT_FILE_MAX)
		return ferry_error_set(FERRY_ETOOBIG, "%s: '%s' is too large (%llu bytes, "
				       "above the limit of %llu bytes for one file)", owner,
				       name, (unsigned long long)size,
				       (unsigned long long)FERRY_CHECKOUT_FILE_MAX);
	if (size > FERRY_CHECKOUT_TOTAL_MAX - *total)
		return ferry_error_set(FERRY_ETOOBIG, "%s: the checkout is too large "
				       "(more than %llu bytes in all at '%s')", owner,
				       (unsigned long long)FERRY_CHECKOUT_TOTAL_MAX, name);
	*total += size;
	return 0;
}

static int write_blob(git_repository *repo, const git_tree_entry *e, const char *path,
		      const char *owner, uint64_t *total, const char *name)
{
	git_blob *blob = NULL;
	git_odb *odb = NULL;
	git_object_t type;
	size_t size;
	int fd, error = 0;
	mode_t mode = git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644;

	if (git_repository_odb(&odb, repo) < 0 ||
	    git_odb_read_header(&size, &type, odb, git_tree_entry_id(e)) < 0) {
		git_odb_free(odb);
		return ferry_git_error(FERRY_EIO, "%s: cannot read a blob", owner);
	}
	git_odb_free(odb);
	if ((error = ferry_checkout_admit(total, owner, name, (uint64_t)size)) < 0)
		return error;
	if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0)
		return ferry_git_error(FERRY_EIO, "%s: cannot read a blob", owner);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", path);
	} else {
		error = ferry_fs_write_all(fd, git_blob_rawcontent(blob),
					   (size_t)git_blob_rawsize(blob));
		close(fd);
	}
	git_blob_free(blob);
	return error;
}

static int write_tree(git_repository *repo, const git_tree *tree, const char *dir,
		      const char *owner, int depth, uint64_t *total, size_t root)
{
	ferry_buf path = FERRY_BUF_INIT;
	size_t i, n = git_tree_entrycount(tree);
	int error = 0;

	if (depth > TREE_DEPTH_MAX)
		return ferry_error_set(FERRY_EINVALID, "%s: tree nested too deep", owner);
	for (i = 0; i < n && !error; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(e);

		if (!strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/') ||
		    !strcmp(name, ".git"))
			continue;
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir, name)) < 0)
			break;
		switch (git_tree_entry_type(e)) {
		case GIT_OBJECT_BLOB:
			/* symbolic links are not followed nor written */
			if (git_tree_entry_filemode(e) != GIT_FILEMODE_LINK)
				error = write_blob(repo, e, path.ptr, owner, total,
						   path.ptr + root);
			break;
		case GIT_OBJECT_TREE: {
			git_tree *sub = NULL;

			if (mkdir(path.ptr, 0755) < 0) {
				error = ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", path.ptr);
				break;
			}
			if (git_tree_lookup(&sub, repo, git_tree_entry_id(e)) < 0) {
				error = ferry_git_error(FERRY_EIO, "%s: cannot read a tree", owner);
				break;
			}
			error = write_tree(repo, sub, path.ptr, owner, depth + 1, total, root);
			git_tree_free(sub);
			break;
		}
		default:
			break;   /* submodules are not part of the checkout */
		}
	}
	ferry_buf_dispose(&path);
	return error;
}

int ferry_git_tree_write(git_repository *repo, const git_tree *tree, const char *dir,
			 const char *owner, uint64_t *total)
{
	return write_tree(repo, tree, dir, owner, 0, total, strlen(dir) + 1);
}
