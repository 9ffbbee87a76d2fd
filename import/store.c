/*
 * The enclave store (see store.h): opening and creating it, its schema,
 * the write lock, and the OCI layout view of its tags.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "fs.h"
#include "hash.h"
#include "json.h"
#include "store.h"
#include "banned.h"

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"PRAGMA foreign_keys=ON;"
	"CREATE TABLE IF NOT EXISTS meta ("
	"  key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS trust_roots ("
	"  version INTEGER PRIMARY KEY, body TEXT NOT NULL, installed INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS channels ("
	"  name TEXT PRIMARY KEY, sequence INTEGER NOT NULL,"
	"  bundle_id TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS imports ("
	"  id INTEGER PRIMARY KEY, bundle_id TEXT NOT NULL, channel TEXT NOT NULL,"
	"  sequence INTEGER NOT NULL, base_sequence INTEGER NOT NULL,"
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  imported INTEGER NOT NULL, signers TEXT NOT NULL, files TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS blobs ("
	"  digest TEXT PRIMARY KEY, size INTEGER NOT NULL,"
	"  channel TEXT NOT NULL, sequence INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS tags ("
	"  reference TEXT PRIMARY KEY, digest TEXT NOT NULL, media_type TEXT NOT NULL,"
	"  size INTEGER NOT NULL, channel TEXT NOT NULL, sequence INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS refs ("
	"  repo TEXT NOT NULL, ref TEXT NOT NULL, commit_id TEXT NOT NULL,"
	"  channel TEXT NOT NULL, sequence INTEGER NOT NULL,"
	"  PRIMARY KEY (repo, ref));"
	"CREATE TABLE IF NOT EXISTS audit ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, event TEXT NOT NULL,"
	"  bundle_id TEXT, channel TEXT, sequence INTEGER, signers TEXT,"
	"  outcome TEXT NOT NULL, reason TEXT);"
	/* Seeding (import/seed.h): the servers content is pushed to, and per
	 * target, per item progress so an interrupted seed continues. */
	"CREATE TABLE IF NOT EXISTS targets ("
	"  name TEXT PRIMARY KEY, kind TEXT NOT NULL, url TEXT NOT NULL,"
	"  options TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS seed_progress ("
	"  target TEXT NOT NULL, item TEXT NOT NULL, state TEXT NOT NULL,"
	"  updated INTEGER NOT NULL, PRIMARY KEY (target, item));"
	"CREATE TABLE IF NOT EXISTS reconcile_events ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, stack TEXT NOT NULL,"
	"  trigger TEXT NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL, ref TEXT,"
	"  revision TEXT, images TEXT, bundle_id TEXT, channel TEXT, sequence INTEGER,"
	"  target TEXT NOT NULL, outcome TEXT NOT NULL, drift INTEGER NOT NULL,"
	"  detail TEXT, error TEXT);"
	"CREATE INDEX IF NOT EXISTS reconcile_events_stack ON reconcile_events(stack, id);"
	"CREATE INDEX IF NOT EXISTS reconcile_events_revision ON reconcile_events(revision);"
	"CREATE INDEX IF NOT EXISTS reconcile_events_quiet ON reconcile_events(time)"
	"  WHERE outcome = 'unchanged' AND drift = 0;"
	"CREATE INDEX IF NOT EXISTS reconcile_events_provenance ON reconcile_events("
	"  revision, source, sequence) WHERE bundle_id IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS reconcile_state ("
	"  stack TEXT PRIMARY KEY, applied TEXT, previous TEXT, images TEXT, expected TEXT,"
	"  file TEXT, hold TEXT, drift TEXT, outcome TEXT, applied_time INTEGER,"
	"  last_cycle INTEGER, next_poll INTEGER);"
	"PRAGMA user_version=1;";

int ferry_store_db_error(const ferry_store *st, const char *what)
{
	return ferry_error_set(FERRY_EIO, "store '%s': %s: %s", st->root, what,
			       sqlite3_errmsg(st->db));
}

int ferry_store_exec(ferry_store *st, const char *sql, const char *what)
{
	char *err = NULL;
	int error = 0;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK)
		error = ferry_error_set(FERRY_EIO, "store '%s': %s: %s", st->root, what,
					err ? err : sqlite3_errmsg(st->db));
	sqlite3_free(err);
	return error;
}

/* Take the write lock; report who holds it when it is taken. */
static int take_lock(ferry_store *st, int wait)
{
	ferry_buf path = FERRY_BUF_INIT;
	char pid[32];
	int error = 0;

	if ((error = ferry_buf_printf(&path, "%s/lock", st->root)) < 0)
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

	if ((error = ferry_buf_printf(&dir, "%s/staging", st->root)) < 0)
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
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_buf_printf(&path, "%s/blobs/sha256", st->root)) < 0 ||
	    (error = ferry_fs_mkdir_p(path.ptr, 0755)) < 0)
		goto done;
	ferry_buf_clear(&path);
	if ((error = ferry_buf_printf(&path, "%s/git", st->root)) < 0 ||
	    (error = ferry_fs_mkdir_p(path.ptr, 0755)) < 0)
		goto done;
	ferry_buf_clear(&path);
	if ((error = ferry_buf_printf(&path, "%s/oci-layout", st->root)) < 0)
		goto done;
	if (!ferry_fs_exists(path.ptr))
		error = ferry_fs_write_atomic(path.ptr, layout, strlen(layout), 0644);
done:
	ferry_buf_dispose(&path);
	return error;
}

int ferry_store_open(ferry_store **out, const char *root, ferry_store_mode mode,
		     int wait)
{
	ferry_store *st = calloc(1, sizeof(*st));
	ferry_buf db = FERRY_BUF_INIT;
	int error, flags;

	if (!st || !(st->root = strdup(root))) {
		free(st);
		return ferry_error_set(FERRY_ENOMEM, "out of memory");
	}
	st->lock_fd = -1;
	if ((error = ferry_buf_printf(&db, "%s/ferry.db", root)) < 0)
		goto fail;
	if (mode != FERRY_STORE_CREATE && !ferry_fs_exists(db.ptr)) {
		error = ferry_error_set(FERRY_ENOTFOUND,
					"'%s' is not a ferry store (create one with "
					"'ferry trust init --store %s')", root, root);
		goto fail;
	}
	if (mode != FERRY_STORE_READ) {
		if ((error = ferry_fs_mkdir_p(root, 0755)) < 0 ||
		    (error = take_lock(st, wait)) < 0 ||
		    (error = create_layout(st)) < 0 ||
		    (error = clean_staging(st)) < 0)
			goto fail;
	}
	flags = mode == FERRY_STORE_CREATE ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
					   : SQLITE_OPEN_READWRITE;
	if (sqlite3_open_v2(db.ptr, &st->db, flags, NULL) != SQLITE_OK) {
		error = ferry_error_set(FERRY_EIO, "cannot open '%s': %s", db.ptr,
					st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 30000);
	if ((error = ferry_store_exec(st, schema, "schema")) < 0)
		goto fail;
	/* An import killed between its commit and rewriting the layout view
	 * left the view behind the database: whoever writes next repairs it. */
	if (mode != FERRY_STORE_READ && (error = ferry_store_write_layout_view(st)) < 0)
		goto fail;
	ferry_buf_dispose(&db);
	*out = st;
	return 0;
fail:
	ferry_buf_dispose(&db);
	ferry_store_close(st);
	return error;
}

void ferry_store_close(ferry_store *st)
{
	if (!st)
		return;
	if (st->db)
		sqlite3_close(st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st->root);
	free(st);
}

int ferry_store_blob_path(ferry_buf *out, const ferry_store *st, const char *hex)
{
	return ferry_buf_printf(out, "%s/blobs/sha256/%s", st->root, hex);
}

int ferry_store_has_blob(const ferry_store *st, const char *hex)
{
	ferry_buf path = FERRY_BUF_INIT;
	struct stat s;
	int has = 0;

	if (ferry_store_blob_path(&path, st, hex) == 0)
		has = stat(path.ptr, &s) == 0 && S_ISREG(s.st_mode);
	ferry_buf_dispose(&path);
	return has;
}

int ferry_store_repo_path(ferry_buf *out, const ferry_store *st, const char *name)
{
	return ferry_buf_printf(out, "%s/git/%s.git", st->root, name);
}

int ferry_store_meta_get(int64_t *out, ferry_store *st, const char *key)
{
	sqlite3_stmt *q = NULL;
	int rc;

	*out = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &q,
			       NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "read meta");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ferry_store_db_error(st, "read meta");
}

int ferry_store_meta_set(ferry_store *st, const char *key, int64_t value)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
			       "DO UPDATE SET value = excluded.value", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "write meta");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, value);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : ferry_store_db_error(st, "write meta");
}

int ferry_store_audit(ferry_store *st, const char *event, const char *outcome,
		      const char *reason)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO audit(time, event, outcome, reason) VALUES "
			       "(strftime('%s','now'), ?, ?, ?)", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "audit");
	sqlite3_bind_text(q, 1, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, reason, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : ferry_store_db_error(st, "audit");
}

int ferry_store_write_layout_view(ferry_store *st)
{
	json_t *index = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType",
				  "application/vnd.oci.image.index.v1+json", "manifests");
	json_t *list = json_object_get(index, "manifests");
	ferry_buf text = FERRY_BUF_INIT, path = FERRY_BUF_INIT;
	sqlite3_stmt *q = NULL;
	int rc, error = 0;

	if (!index)
		return ferry_error_set(FERRY_ENOMEM, "out of memory");
	if (sqlite3_prepare_v2(st->db,
			       "SELECT reference, digest, media_type, size FROM tags "
			       "ORDER BY reference", -1, &q, NULL) != SQLITE_OK) {
		error = ferry_store_db_error(st, "read tags");
		goto done;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && !error)
		error = ferry_json_append(list,
			json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType",
				  (const char *)sqlite3_column_text(q, 2), "digest",
				  (const char *)sqlite3_column_text(q, 1), "size",
				  (json_int_t)sqlite3_column_int64(q, 3), "annotations",
				  "org.opencontainers.image.ref.name",
				  (const char *)sqlite3_column_text(q, 0)));
	if (!error && rc != SQLITE_DONE)
		error = ferry_store_db_error(st, "read tags");
	if (error)
		goto done;
	if ((error = ferry_json_dump(&text, index)) < 0 ||
	    (error = ferry_buf_printf(&path, "%s/index.json", st->root)) < 0)
		goto done;
	/* The view is derived: replace it whole. */
	{
		ferry_buf lock = FERRY_BUF_INIT;

		if (ferry_buf_printf(&lock, "%s.lock", path.ptr) == 0)
			unlink(lock.ptr);
		ferry_buf_dispose(&lock);
	}
	error = ferry_fs_write_atomic(path.ptr, text.ptr, text.size, 0644);
done:
	sqlite3_finalize(q);
	json_decref(index);
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&path);
	return error;
}

/* ---- garbage collection ------------------------------------------------- */

typedef struct {
	char (*hex)[FERRY_SHA256_HEX_LEN + 1];
	size_t n, cap;
} hex_set;

static int hex_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The set is kept sorted: lookups while marking and during the sweep are
 * binary searches. Adds `hex` unless present; 1 when it was new. */
static int set_add(hex_set *s, const char *hex)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->hex[mid], hex);

		if (!c)
			return 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *grown = realloc(s->hex, cap * sizeof(*s->hex));

		if (!grown)
			return ferry_error_set(FERRY_ENOMEM, "out of memory");
		s->hex = grown;
		s->cap = cap;
	}
	memmove(s->hex[lo + 1], s->hex[lo], (s->n - lo) * sizeof(*s->hex));
	memcpy(s->hex[lo], hex, FERRY_SHA256_HEX_LEN + 1);
	s->n++;
	return 1;
}

/* Mark `digest` live; with `open`, it is a manifest or an index: read it
 * and mark what it refers to. Configs and layers are never read. */
static int mark(ferry_store *st, hex_set *live, const char *digest, int open, int depth)
{
	ferry_buf path = FERRY_BUF_INIT, body = FERRY_BUF_INIT;
	json_t *doc = NULL, *d;
	size_t i;
	int error = 0;

	if (!digest || strncmp(digest, "sha256:", 7) || !ferry_sha256_hex_valid(digest + 7) ||
	    depth > 16)
		return 0;
	if ((error = set_add(live, digest + 7)) <= 0 || !open)
		return error < 0 ? error : 0;   /* 0: held already, or not a document */
	error = 0;
	if ((error = ferry_store_blob_path(&path, st, digest + 7)) < 0)
		goto done;
	if (ferry_fs_read_file(&body, path.ptr, 4u << 20) < 0 ||
	    !(doc = json_loadb(body.ptr, body.size, 0, NULL)))
		goto done;
	error = mark(st, live, json_string_value(json_object_get(json_object_get(doc, "config"),
							       "digest")), 0, depth + 1);
	json_array_foreach(json_object_get(doc, "layers"), i, d)
		if (!error)
			error = mark(st, live, json_string_value(json_object_get(d, "digest")), 0,
				     depth + 1);
	json_array_foreach(json_object_get(doc, "manifests"), i, d)
		if (!error)
			error = mark(st, live, json_string_value(json_object_get(d, "digest")), 1,
				     depth + 1);
done:
	ferry_error_clear();
	json_decref(doc);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&body);
	return error;
}

int ferry_store_gc(ferry_store *st, int dry_run, size_t *removed,
		   uint64_t *removed_bytes, size_t *kept)
{
	hex_set live = { NULL, 0, 0 };
	sqlite3_stmt *q = NULL, *del = NULL;
	ferry_buf dir = FERRY_BUF_INIT, path = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d = NULL;
	int rc, error = 0;

	*removed = *kept = 0;
	*removed_bytes = 0;
	if (st->lock_fd < 0)
		return ferry_error_set(FERRY_EINVALID, "gc needs the store's write lock");
	if (sqlite3_prepare_v2(st->db, "SELECT digest FROM tags", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "read tags");
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && !error)
		error = mark(st, &live, (const char *)sqlite3_column_text(q, 0), 1, 0);
	sqlite3_finalize(q);
	if (error)
		goto done;
	if ((error = ferry_buf_printf(&dir, "%s/blobs/sha256", st->root)) < 0)
		goto done;
	if (!(d = opendir(dir.ptr))) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", dir.ptr);
		goto done;
	}
	if (sqlite3_prepare_v2(st->db, "DELETE FROM blobs WHERE digest = ?", -1, &del,
			       NULL) != SQLITE_OK) {
		error = ferry_store_db_error(st, "prepare");
		goto done;
	}
	while ((e = readdir(d))) {
		struct stat s;

		if (e->d_name[0] == '.')
			continue;
		if (bsearch(e->d_name, live.hex, live.n, sizeof(*live.hex), hex_cmp)) {
			(*kept)++;
			continue;
		}
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir.ptr, e->d_name)) < 0)
			break;
		if (stat(path.ptr, &s) == 0)
			*removed_bytes += (uint64_t)s.st_size;
		(*removed)++;
		if (dry_run)
			continue;
		/* The record goes first: a crash in between leaves an unrecorded
		 * file, which the next gc removes, never a record of a missing blob. */
		sqlite3_bind_text(del, 1, e->d_name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(del) != SQLITE_DONE) {
			error = ferry_store_db_error(st, "forget blob");
			break;
		}
		sqlite3_reset(del);
		if (unlink(path.ptr) < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot remove '%s'", path.ptr);
			break;
		}
	}
	if (!error && !dry_run)
		error = ferry_fs_fsync_parent(path.ptr ? path.ptr : dir.ptr);
done:
	if (d)
		closedir(d);
	sqlite3_finalize(del);
	free(live.hex);
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&path);
	return error;
}
