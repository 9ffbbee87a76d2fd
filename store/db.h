/*
 * SQLite as ferry uses it, for the store's parts only (nothing outside
 * store/ includes this header or speaks SQL): opening a database in WAL
 * mode with synchronous=FULL, versioned schemas with ordered migrations,
 * a statement cache, checked steps and transactions. Every failure is a
 * ferry error naming the database and what was being done.
 *
 * Statements are keyed by their SQL text's address: a call site writes its
 * SQL as a `static const char[]` and asks ferry_db_prepare() for it. The
 * first use prepares and caches it; later uses get it back reset. When the
 * cached one is in use (another thread, or a query nested in a loop over
 * it) a fresh one is prepared and finalized on release. Every statement
 * obtained must be given back with ferry_db_release().
 */
#ifndef FERRY_STORE_DB_H
#define FERRY_STORE_DB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define FERRY_DB_CACHE_MAX 96

typedef struct {
	const char *sql;
	sqlite3_stmt *stmt;
	int in_use;
} ferry_db_cached;

typedef struct {
	sqlite3 *db;
	char *name;           /* "store '/var/lib/ferry'", for messages */
	pthread_mutex_t lock; /* guards the cache */
	ferry_db_cached cache[FERRY_DB_CACHE_MAX];
	size_t ncache;
} ferry_db;

/** A schema step: the SQL that takes a database from version `to - 1` to `to`. */
typedef struct {
	int to;
	const char *sql;
} ferry_db_migration;

typedef enum {
	FERRY_DB_READ = 0,    /* an existing database, read only */
	FERRY_DB_WRITE = 1,   /* an existing database */
	FERRY_DB_CREATE = 2   /* created when missing or empty */
} ferry_db_mode;

/**
 * Open `path`, naming it `name` in messages. The schema is brought to the
 * last migration's version: a new database (user_version 0 and no tables)
 * gets every step when `mode` is FERRY_DB_CREATE; an older one is migrated
 * step by step in one transaction (never in FERRY_DB_READ mode, where it is
 * FERRY_EUNSUPPORTED naming both versions). A database of a newer version
 * than the steps know is FERRY_EUNSUPPORTED; an empty or foreign file
 * without FERRY_DB_CREATE is FERRY_ENOTFOUND; FERRY_EIO for SQLite errors.
 */
int ferry_db_open(ferry_db *db, const char *path, const char *name, ferry_db_mode mode,
		  const ferry_db_migration *steps, size_t nsteps);
/**
 * Look at the database at `path` without changing anything: its schema
 * version into `*version`. FERRY_ENOTFOUND when it is missing, empty or not
 * a ferry database; FERRY_EUNSUPPORTED when newer than `latest`.
 */
int ferry_db_inspect(int *version, const char *path, const char *name, int latest);
/** Finalize every statement and close; safe on a zeroed or failed ferry_db. */
void ferry_db_close(ferry_db *db);

/** The schema version (PRAGMA user_version). */
int ferry_db_version(int *out, ferry_db *db);

/** The last SQLite failure as a ferry error: "<name>: <what>: <sqlite message>". */
int ferry_db_error(ferry_db *db, const char *what);
/** Run SQL with no result. */
int ferry_db_exec(ferry_db *db, const char *sql, const char *what);

/** The statement for `sql` (a string with static storage), reset and unbound. */
int ferry_db_prepare(sqlite3_stmt **out, ferry_db *db, const char *sql, const char *what);
/** Give back a statement from ferry_db_prepare (NULL is ignored). */
void ferry_db_release(ferry_db *db, sqlite3_stmt *q);

/** Step a statement that returns no rows: 0, or the error naming `what`. */
int ferry_db_step_done(ferry_db *db, sqlite3_stmt *q, const char *what);
/**
 * Run `sql` (static storage, as for ferry_db_prepare), a statement that
 * returns no rows, with its parameters bound in order from the arguments
 * as `types` spells them: 's' a const char * (NULL binds NULL), 'i' an
 * int64_t. 0, or the error naming `what`.
 */
int ferry_db_run(ferry_db *db, const char *sql, const char *what, const char *types, ...);
/** Step once: 1 for a row, 0 when done, < 0 for an error naming `what`. */
int ferry_db_step(ferry_db *db, sqlite3_stmt *q, const char *what);

/** Bind text or NULL. */
void ferry_db_bind_text(sqlite3_stmt *q, int i, const char *s);
/** A column as text (NULL for SQL NULL); borrowed until the next step. */
const char *ferry_db_text(sqlite3_stmt *q, int i);
/** A column as a new string (NULL for SQL NULL); FERRY_ENOMEM. */
int ferry_db_dup(char **out, sqlite3_stmt *q, int i);

/** BEGIN IMMEDIATE (`write`) or BEGIN; COMMIT; ROLLBACK (never fails). */
int ferry_db_begin(ferry_db *db, int write);
int ferry_db_commit(ferry_db *db);
void ferry_db_rollback(ferry_db *db);

/** Rows changed by the last statement. */
int64_t ferry_db_changes(ferry_db *db);

#endif
