/*
 * SQLite for the store's parts (see db.h): open, versioned migrations,
 * cached statements, checked steps, transactions. This is the one place
 * that turns SQLite's result codes into ferry errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

#include "ferry/errors.h"
#include "db.h"
#include "banned.h"

int ferry_db_error(ferry_db *db, const char *what)
{
	return ferry_error_set(FERRY_EIO, "%s: %s: %s", db->name ? db->name : "database",
			       what, db->db ? sqlite3_errmsg(db->db) : "not open");
}

int ferry_db_exec(ferry_db *db, const char *sql, const char *what)
{
	char *err = NULL;
	int error = 0;

	if (sqlite3_exec(db->db, sql, NULL, NULL, &err) != SQLITE_OK)
		error = ferry_error_set(FERRY_EIO, "%s: %s: %s", db->name, what,
					err ? err : sqlite3_errmsg(db->db));
	sqlite3_free(err);
	return error;
}

int ferry_db_version(int *out, ferry_db *db)
{
	sqlite3_stmt *q = NULL;
	int rc;

	*out = 0;
	if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
		return ferry_db_error(db, "read the schema version");
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : ferry_db_error(db, "read the schema version");
}

/* Nonzero when the database holds no table at all (a new or empty file). */
static int is_empty(int *empty, ferry_db *db)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM sqlite_master LIMIT 1", -1, &q,
			       NULL) != SQLITE_OK)
		return ferry_error_set(FERRY_ENOTFOUND, "%s is not a ferry database: %s",
				       db->name, sqlite3_errmsg(db->db));
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ferry_db_error(db, "read the schema");
	*empty = rc == SQLITE_DONE;
	return 0;
}

/* Whether a database of `version` (`empty`: no table at all) can be opened
 * by a ferry that knows versions up to `latest`. */
static int check_version(const char *name, int empty, int version, int latest, int create)
{
	if (empty && !create)
		return ferry_error_set(FERRY_ENOTFOUND, "%s is empty: it holds no ferry schema",
				       name);
	if (!empty && version == 0)
		return ferry_error_set(FERRY_ENOTFOUND, "%s is not a ferry database (it has "
				       "tables but no schema version)", name);
	if (version > latest)
		return ferry_error_set(FERRY_EUNSUPPORTED, "%s has schema version %d; this "
				       "ferry knows versions up to %d (use a newer ferry)",
				       name, version, latest);
	return 0;
}

static int migrate(ferry_db *db, int from, const ferry_db_migration *steps, size_t nsteps)
{
	char pragma[48];
	size_t i;
	int error;

	if ((error = ferry_db_begin(db, 1)) < 0)
		return error;
	for (i = 0; i < nsteps && !error; i++) {
		if (steps[i].to <= from)
			continue;
		if ((error = ferry_db_exec(db, steps[i].sql, "upgrade the schema")) < 0)
			break;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", steps[i].to);
		error = ferry_db_exec(db, pragma, "upgrade the schema");
	}
	if (error) {
		ferry_db_rollback(db);
		return error;
	}
	return ferry_db_commit(db);
}

int ferry_db_open(ferry_db *db, const char *path, const char *name, ferry_db_mode mode,
		  const ferry_db_migration *steps, size_t nsteps)
{
	int flags, version, empty = 0, latest = nsteps ? steps[nsteps - 1].to : 0, error;

	memset(db, 0, sizeof(*db));
	if (pthread_mutex_init(&db->lock, NULL) != 0)
		return ferry_error_set(FERRY_ERROR, "cannot create a mutex");
	if (!(db->name = strdup(name))) {
		pthread_mutex_destroy(&db->lock);
		memset(db, 0, sizeof(*db));
		return ferry_error_oom();
	}
	flags = mode == FERRY_DB_READ ? SQLITE_OPEN_READONLY
	      : mode == FERRY_DB_WRITE ? SQLITE_OPEN_READWRITE
				       : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &db->db, flags, NULL) != SQLITE_OK) {
		error = ferry_error_set(mode == FERRY_DB_CREATE ? FERRY_EIO : FERRY_ENOTFOUND,
					"cannot open %s: %s", name,
					db->db ? sqlite3_errmsg(db->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->db, 30000);
	if ((error = is_empty(&empty, db)) < 0 || (error = ferry_db_version(&version, db)) < 0 ||
	    (error = check_version(name, empty, version, latest, mode == FERRY_DB_CREATE)) < 0)
		goto fail;
	if (mode != FERRY_DB_READ &&
	    ((error = ferry_db_exec(db, "PRAGMA journal_mode=WAL", "set the journal")) < 0 ||
	     (error = ferry_db_exec(db, "PRAGMA synchronous=FULL", "set synchronous")) < 0))
		goto fail;
	if ((error = ferry_db_exec(db, "PRAGMA foreign_keys=ON", "enable foreign keys")) < 0)
		goto fail;
	if (version < latest) {
		if (mode == FERRY_DB_READ) {
			error = ferry_error_set(FERRY_EUNSUPPORTED, "%s has schema version %d and "
						"needs an upgrade to %d, which reading cannot do: "
						"run a command that writes it (e.g. 'ferry store "
						"upgrade')", name, version, latest);
			goto fail;
		}
		if ((error = migrate(db, version, steps, nsteps)) < 0)
			goto fail;
	}
	return 0;
fail:
	ferry_db_close(db);
	return error;
}

int ferry_db_inspect(int *version, const char *path, const char *name, int latest)
{
	ferry_db db;
	int empty = 0, error;

	*version = 0;
	memset(&db, 0, sizeof(db));
	db.name = (char *)name;
	if (sqlite3_open_v2(path, &db.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		error = ferry_error_set(FERRY_ENOTFOUND, "cannot open %s: %s", name,
					db.db ? sqlite3_errmsg(db.db) : "out of memory");
	else if ((error = is_empty(&empty, &db)) == 0 &&
		 (error = ferry_db_version(version, &db)) == 0)
		error = check_version(name, empty, *version, latest, 0);
	sqlite3_close(db.db);
	return error;
}

void ferry_db_close(ferry_db *db)
{
	size_t i;

	if (!db || !db->name)
		return;
	for (i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].stmt);
	if (db->db)
		sqlite3_close(db->db);
	pthread_mutex_destroy(&db->lock);
	free(db->name);
	memset(db, 0, sizeof(*db));
}

int ferry_db_prepare(sqlite3_stmt **out, ferry_db *db, const char *sql, const char *what)
{
	ferry_db_cached *c = NULL;
	size_t i;

	*out = NULL;
	pthread_mutex_lock(&db->lock);
	for (i = 0; i < db->ncache; i++)
		if (db->cache[i].sql == sql) {
			c = &db->cache[i];
			break;
		}
	if (!c && db->ncache < FERRY_DB_CACHE_MAX) {
		sqlite3_stmt *q = NULL;

		if (sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q,
				       NULL) != SQLITE_OK) {
			pthread_mutex_unlock(&db->lock);
			return ferry_db_error(db, what);
		}
		c = &db->cache[db->ncache++];
		c->sql = sql;
		c->stmt = q;
		c->in_use = 0;
	}
	if (c && !c->in_use) {
		c->in_use = 1;
		*out = c->stmt;
		pthread_mutex_unlock(&db->lock);
		sqlite3_reset(*out);
		sqlite3_clear_bindings(*out);
		return 0;
	}
	pthread_mutex_unlock(&db->lock);
	/* In use (or the cache is full): a statement of its own. */
	if (sqlite3_prepare_v2(db->db, sql, -1, out, NULL) != SQLITE_OK) {
		*out = NULL;
		return ferry_db_error(db, what);
	}
	return 0;
}

void ferry_db_release(ferry_db *db, sqlite3_stmt *q)
{
	size_t i;

	if (!q)
		return;
	pthread_mutex_lock(&db->lock);
	for (i = 0; i < db->ncache; i++)
		if (db->cache[i].stmt == q) {
			sqlite3_reset(q);
			sqlite3_clear_bindings(q);
			db->cache[i].in_use = 0;
			pthread_mutex_unlock(&db->lock);
			return;
		}
	pthread_mutex_unlock(&db->lock);
	sqlite3_finalize(q);
}

int ferry_db_step(ferry_db *db, sqlite3_stmt *q, const char *what)
{
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return ferry_db_error(db, what);
}

int ferry_db_step_done(ferry_db *db, sqlite3_stmt *q, const char *what)
{
	int rc = sqlite3_step(q);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_ROW)
		return ferry_error_set(FERRY_ERROR, "%s: %s: unexpected row", db->name, what);
	return ferry_db_error(db, what);
}

int ferry_db_run(ferry_db *db, const char *sql, const char *what, const char *types, ...)
{
	sqlite3_stmt *q = NULL;
	va_list ap;
	int error, i;

	if ((error = ferry_db_prepare(&q, db, sql, what)) < 0)
		return error;
	va_start(ap, types);
	for (i = 0; types[i]; i++) {
		if (types[i] == 's')
			ferry_db_bind_text(q, i + 1, va_arg(ap, const char *));
		else
			sqlite3_bind_int64(q, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	error = ferry_db_step_done(db, q, what);
	ferry_db_release(db, q);
	return error;
}

void ferry_db_bind_text(sqlite3_stmt *q, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q, i);
}

const char *ferry_db_text(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

int ferry_db_dup(char **out, sqlite3_stmt *q, int i)
{
	const char *t = ferry_db_text(q, i);

	*out = NULL;
	if (t && !(*out = strdup(t)))
		return ferry_error_oom();
	return 0;
}

int ferry_db_begin(ferry_db *db, int write)
{
	return ferry_db_exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN", "begin a transaction");
}

int ferry_db_commit(ferry_db *db)
{
	return ferry_db_exec(db, "COMMIT", "commit");
}

void ferry_db_rollback(ferry_db *db)
{
	char *err = NULL;

	if (sqlite3_get_autocommit(db->db))
		return;
	sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, &err);
	sqlite3_free(err);
}

int64_t ferry_db_changes(ferry_db *db)
{
	return sqlite3_changes64(db->db);
}
