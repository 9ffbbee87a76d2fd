/*
 * The enclave store (see store.h): opening and creating it, the write
 * lock, paths inside it, transactions, settings and the OCI layout view of
 * its tags.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "fs.h"
#include "descriptor.h"
#include "digest.h"
#include "json.h"
#include "oci.h"
#include "private.h"
#include "banned.h"

/* ---- paths ---------------------------------------------------------------- */

int ferry_store_path(ferry_buf *out, const char *root, const char *name)
{
	return ferry_buf_printf(out, "%s/%s", root, name);
}

int ferry_store_path_blob(ferry_buf *out, const char *root, const char *hex)
{
	return ferry_oci_blob_path(out, root, hex);
}

int ferry_store_path_repo(ferry_buf *out, const char *root, const char *name)
{
	return ferry_buf_printf(out, "%s/git/%s.git", root, name);
}

int ferry_store_blob_path(ferry_buf *out, const ferry_store *st, const char *hex)
{
	return ferry_store_path_blob(out, st->root, hex);
}

int ferry_store_repo_path(ferry_buf *out, const ferry_store *st, const char *name)
{
	return ferry_store_path_repo(out, st->root, name);
}

int ferry_store_has_blob(const ferry_store *st, const char *hex)
{
	/* No allocation: a failed one must not read as "not held" (an import
	 * would refuse a bundle for a prerequisite the store has). */
	char member[FERRY_OCI_BLOB_MEMBER_SIZE], path[PATH_MAX];
	struct stat s;
	int n;

	ferry_oci_blob_member(member, hex);
	n = snprintf(path, sizeof(path), "%s/%s", st->root, member);
	return n > 0 && (size_t)n < sizeof(path) && stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

int ferry_store_read_document(ferry_buf *body, const char *root, const char *hex)
{
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_store_path_blob(&path, root, hex)) == 0)
		error = ferry_fs_read_file(body, path.ptr, FERRY_OCI_MANIFEST_MAX_SIZE);
	ferry_buf_dispose(&path);
	return error;
}

const char *ferry_store_root(const ferry_store *st)
{
	return st->root;
}

int ferry_store_writable(const ferry_store *st)
{
	return st->lock_fd >= 0;
}

int ferry_store_schema_version(int *out, ferry_store *st)
{
	return ferry_db_version(out, &st->db);
}

int ferry_store_schema_latest(void)
{
	return ferry_store__schema[ferry_store__schema_steps - 1].to;
}

/* ---- opening ---------------------------------------------------------------- */

/* Take the write lock; report who holds it when it is taken. */
static int take_lock(ferry_store *st, int wait)
{
	ferry_buf path = FERRY_BUF_INIT;
	char pid[32];
	int error = 0;

	if ((error = ferry_store_path(&path, st->root, FERRY_STORE_LOCK)) < 0)
		return error;
	st->lock_fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (st->lock_fd < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", path.ptr);
		goto done;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(st->lock_fd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (!wait) {
			error = ferry_error_set(FERRY_EEXISTS,
						"store '%s' is being written by another "
						"process (pid %s)", st->root,
						*pid ? pid : "unknown");
			goto done;
		}
		while (flock(st->lock_fd, LOCK_EX) < 0)
			if (errno != EINTR) {
				error = ferry_error_set_errno(FERRY_EIO, "cannot lock '%s'",
							      path.ptr);
				goto done;
			}
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(st->lock_fd, 0) < 0 ||
	    pwrite(st->lock_fd, pid, strlen(pid), 0) < 0) {
		/* the pid is only informative */
	}
done:
	if (error && st->lock_fd >= 0) {
		close(st->lock_fd);
		st->lock_fd = -1;
	}
	ferry_buf_dispose(&path);
	return error;
}

/* Remove what an interrupted import left in staging (under the lock). */
static int clean_staging(ferry_store *st)
{
	ferry_buf dir = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_store_path(&dir, st->root, FERRY_STORE_STAGING)) < 0)
		goto done;
	if (ferry_fs_exists(dir.ptr)) {
		if ((error = ferry_fs_remove_tree(dir.ptr)) < 0)
			goto done;
	}
	error = ferry_fs_mkdir_p(dir.ptr, 0700);
done:
	ferry_buf_dispose(&dir);
	return error;
}

static int create_layout(ferry_store *st)
{
	static const char layout[] = FERRY_OCI_LAYOUT_FILE;
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_oci_blob_dir(&path, st->root)) < 0 ||
	    (error = ferry_fs_mkdir_p(path.ptr, 0755)) < 0)
		goto done;
	ferry_buf_clear(&path);
	if ((error = ferry_store_path(&path, st->root, "git")) < 0 ||
	    (error = ferry_fs_mkdir_p(path.ptr, 0755)) < 0)
		goto done;
	ferry_buf_clear(&path);
	if ((error = ferry_store_path(&path, st->root, FERRY_STORE_LAYOUT)) < 0)
		goto done;
	if (!ferry_fs_exists(path.ptr))
		error = ferry_fs_write_atomic(path.ptr, layout, strlen(layout), 0644);
done:
	ferry_buf_dispose(&path);
	return error;
}

/* The database's name in messages. */
static int db_name(ferry_buf *out, const char *root)
{
	return ferry_buf_printf(out, "store '%s'", root);
}

int ferry_store_open(ferry_store **out, const char *root, ferry_store_mode mode,
		     int wait)
{
	ferry_store *st = calloc(1, sizeof(*st));
	ferry_buf db = FERRY_BUF_INIT, name = FERRY_BUF_INIT;
	int error;

	*out = NULL;
	if (!st || !(st->root = strdup(root))) {
		free(st);
		return ferry_error_oom();
	}
	st->lock_fd = -1;
	if ((error = ferry_store_path(&db, root, FERRY_STORE_DB)) < 0 ||
	    (error = db_name(&name, root)) < 0)
		goto fail;
	if (mode != FERRY_STORE_CREATE && !ferry_fs_exists(db.ptr)) {
		error = ferry_error_set(FERRY_ENOTFOUND,
					"'%s' is not a ferry store (create one with "
					"'ferry trust init --store %s')", root, root);
		goto fail;
	}
	if (mode != FERRY_STORE_CREATE) {
		/* Judge the database before the lock, the layout or an upgrade
		 * create anything: a directory that holds no store, or a store
		 * of a newer ferry, stays as it was. */
		int version;

		if ((error = ferry_db_inspect(&version, db.ptr, name.ptr,
					      ferry_store_schema_latest())) < 0)
			goto fail;
	}
	if (mode != FERRY_STORE_READ) {
		if ((error = ferry_fs_mkdir_p(root, 0755)) < 0 ||
		    (error = take_lock(st, wait)) < 0)
			goto fail;
	}
	if ((error = ferry_db_open(&st->db, db.ptr, name.ptr,
				   mode == FERRY_STORE_CREATE ? FERRY_DB_CREATE : FERRY_DB_WRITE,
				   ferry_store__schema, ferry_store__schema_steps)) < 0)
		goto fail;
	/* An import killed between its commit and rewriting the layout view
	 * left the view behind the database: whoever writes next repairs it. */
	if (mode != FERRY_STORE_READ &&
	    ((error = create_layout(st)) < 0 || (error = clean_staging(st)) < 0 ||
	     (error = ferry_store_refresh_layout_view(st)) < 0))
		goto fail;
	ferry_buf_dispose(&db);
	ferry_buf_dispose(&name);
	*out = st;
	return 0;
fail:
	ferry_buf_dispose(&db);
	ferry_buf_dispose(&name);
	ferry_store_close(st);
	return error;
}

void ferry_store_close(ferry_store *st)
{
	if (!st)
		return;
	ferry_db_close(&st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st->root);
	free(st);
}

/* ---- transactions and settings ---------------------------------------------- */

int ferry_store_begin(ferry_store *st, int write)
{
	return ferry_db_begin(&st->db, write);
}

int ferry_store_commit(ferry_store *st)
{
	return ferry_db_commit(&st->db);
}

void ferry_store_rollback(ferry_store *st)
{
	ferry_db_rollback(&st->db);
}

int ferry_store_meta_get(int64_t *out, ferry_store *st, const char *key)
{
	static const char sql[] = "SELECT value FROM meta WHERE key = ?";
	sqlite3_stmt *q = NULL;
	int error;

	*out = 0;
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read meta")) < 0)
		return error;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read meta")) > 0) {
		*out = sqlite3_column_int64(q, 0);
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_meta_set(ferry_store *st, const char *key, int64_t value)
{
	static const char sql[] =
		"INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
		"DO UPDATE SET value = excluded.value";
	return ferry_db_run(&st->db, sql, "write meta", "si", key, (int64_t)value);
}

/* ---- the layout view --------------------------------------------------------- */

/* The view is written as it is made, a descriptor at a time: a store of
 * 20,000 tags would otherwise hold its whole document and its text. */
typedef struct {
	ferry_buf text;
	int fd;
	size_t n;
} view_out;

static int view_flush(view_out *o)
{
	int error = ferry_fs_write_all(o->fd, o->text.ptr, o->text.size);

	ferry_buf_clear(&o->text);
	return error;
}

static int add_view_entry(const ferry_store_tag *t, void *payload)
{
	view_out *o = payload;
	json_t *d = ferry_oci_descriptor_new(t->media_type, ferry_oci_digest_hex(t->digest),
					     t->size);
	int error;

	if (!d || json_object_set_new(d, "annotations",
				      json_pack("{s:s}", FERRY_OCI_REF_NAME, t->reference)) < 0) {
		json_decref(d);
		return ferry_error_oom();
	}
	if ((error = ferry_buf_puts(&o->text, o->n++ ? "," : "")) == 0)
		error = ferry_json_dump(&o->text, d);
	json_decref(d);
	if (!error && o->text.size >= 65536)
		error = view_flush(o);
	return error;
}

int ferry_store_refresh_layout_view(ferry_store *st)
{
	ferry_buf path = FERRY_BUF_INIT;
	int64_t stale = 1;
	int error;

	if ((error = ferry_store_meta_get(&stale, st, FERRY_STORE_VIEW_STALE)) < 0 ||
	    (error = ferry_store_path(&path, st->root, FERRY_STORE_INDEX)) < 0)
		goto done;
	if (stale || !ferry_fs_exists(path.ptr))
		error = ferry_store_write_layout_view(st);
done:
	ferry_buf_dispose(&path);
	return error;
}

int ferry_store_write_layout_view(ferry_store *st)
{
	json_t *index = ferry_oci_index_new();
	ferry_buf frame = FERRY_BUF_INIT, path = FERRY_BUF_INIT, lock = FERRY_BUF_INIT;
	ferry_lockfile lf = FERRY_LOCKFILE_INIT;
	view_out o = { FERRY_BUF_INIT, -1, 0 };
	char *hole;
	int error;

	/* The index without its descriptors, cut where they go: the same
	 * bytes as the whole document serialised at once. */
	if (!index)
		return ferry_error_oom();
	if ((error = ferry_json_dump(&frame, index)) < 0 ||
	    (error = ferry_store_path(&path, st->root, FERRY_STORE_INDEX)) < 0 ||
	    (error = ferry_buf_printf(&lock, "%s.lock", path.ptr)) < 0)
		goto done;
	if (!(hole = strstr(frame.ptr, "\"manifests\":[]"))) {
		error = ferry_error_set(FERRY_ERROR, "the index has no list of manifests");
		goto done;
	}
	hole += strlen("\"manifests\":[");
	/* The view is derived: replace it whole, whatever a crash left. */
	unlink(lock.ptr);
	if ((error = ferry_lockfile_open(&lf, path.ptr, 0644)) < 0)
		goto done;
	o.fd = lf.fd;
	if ((error = ferry_buf_put(&o.text, frame.ptr, (size_t)(hole - frame.ptr))) < 0 ||
	    (error = ferry_store_tag_foreach(st, add_view_entry, &o)) < 0 ||
	    (error = ferry_buf_puts(&o.text, hole)) < 0 || (error = view_flush(&o)) < 0 ||
	    (error = ferry_lockfile_commit(&lf)) < 0)
		goto done;
	error = ferry_store_meta_set(st, FERRY_STORE_VIEW_STALE, 0);
done:
	ferry_lockfile_rollback(&lf);
	json_decref(index);
	ferry_buf_dispose(&frame);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&lock);
	ferry_buf_dispose(&o.text);
	return error;
}
