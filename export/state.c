/*
 * SQLite-backed export state (see state.h). The schema is versioned with
 * PRAGMA user_version so later releases can migrate it.
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "state.h"
#include "banned.h"

struct ferry_export_state {
	sqlite3 *db;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS channels ("
	"  name TEXT PRIMARY KEY,"
	"  last_sequence INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS exports ("
	"  channel TEXT NOT NULL,"
	"  sequence INTEGER NOT NULL,"
	"  bundle_id TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  files TEXT NOT NULL,"
	"  PRIMARY KEY (channel, sequence));"
	"CREATE TABLE IF NOT EXISTS sent_blobs ("
	"  channel TEXT NOT NULL,"
	"  digest TEXT NOT NULL,"
	"  sequence INTEGER NOT NULL,"
	"  PRIMARY KEY (channel, digest, sequence));"
	"CREATE TABLE IF NOT EXISTS sent_refs ("
	"  channel TEXT NOT NULL,"
	"  sequence INTEGER NOT NULL,"
	"  repo TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  commit_id TEXT NOT NULL,"
	"  PRIMARY KEY (channel, sequence, repo, ref));"
	"PRAGMA user_version=1;";

static int db_error(sqlite3 *db, const char *what)
{
	return ferry_error_set(FERRY_EIO, "export state: %s: %s", what,
			       sqlite3_errmsg(db));
}

int ferry_export_state_open(ferry_export_state **out, const char *path)
{
	ferry_export_state *st;
	char *copy = strdup(path), *err = NULL;
	int error;

	if (!copy)
		return ferry_error_set(FERRY_ENOMEM, "out of memory");
	error = ferry_fs_mkdir_p(dirname(copy), 0700);
	free(copy);
	if (error < 0)
		return error;
	if (!(st = calloc(1, sizeof(*st))))
		return ferry_error_set(FERRY_ENOMEM, "out of memory");
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		error = ferry_error_set(FERRY_EIO, "cannot open export state '%s': %s",
					path, st->db ? sqlite3_errmsg(st->db) : "");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 10000);
	if (sqlite3_exec(st->db, schema, NULL, NULL, &err) != SQLITE_OK) {
		error = ferry_error_set(FERRY_EIO, "export state '%s': %s", path,
					err ? err : "");
		sqlite3_free(err);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	ferry_export_state_close(st);
	return error;
}

void ferry_export_state_close(ferry_export_state *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st);
}

int ferry_export_state_last_sequence(uint64_t *out, ferry_export_state *st,
				     const char *channel)
{
	sqlite3_stmt *q = NULL;
	int rc;

	*out = 0;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT last_sequence FROM channels WHERE name = ?",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(st->db, "query");
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(st->db, "query");
	return 0;
}

static int step_done(sqlite3 *db, sqlite3_stmt *q, const char *what)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? 0 : db_error(db, what);
}

int ferry_export_state_record(ferry_export_state *st, const ferry_export_record *rec)
{
	sqlite3_stmt *ins = NULL, *up = NULL, *blob = NULL, *ref = NULL;
	size_t i;
	int error = 0, rc;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(st->db, "begin");
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO exports(channel, sequence, bundle_id, "
			       "created, files) VALUES (?, ?, ?, ?, ?)",
			       -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
			       "INSERT INTO channels(name, last_sequence) VALUES (?, ?) "
			       "ON CONFLICT(name) DO UPDATE SET last_sequence = "
			       "excluded.last_sequence "
			       "WHERE excluded.last_sequence > last_sequence",
			       -1, &up, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
			       "INSERT OR IGNORE INTO sent_blobs(channel, digest, sequence) "
			       "VALUES (?, ?, ?)", -1, &blob, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
			       "INSERT INTO sent_refs(channel, sequence, repo, ref, commit_id) "
			       "VALUES (?, ?, ?, ?, ?)", -1, &ref, NULL) != SQLITE_OK) {
		error = db_error(st->db, "prepare");
		goto done;
	}
	sqlite3_bind_text(ins, 1, rec->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 2, (sqlite3_int64)rec->sequence);
	sqlite3_bind_text(ins, 3, rec->bundle_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 4, rec->created);
	sqlite3_bind_text(ins, 5, rec->files, -1, SQLITE_STATIC);
	rc = sqlite3_step(ins);
	if (rc == SQLITE_CONSTRAINT) {
		error = ferry_error_set(FERRY_EEXISTS,
					"channel '%s' already has sequence %llu",
					rec->channel, (unsigned long long)rec->sequence);
		goto done;
	}
	if (rc != SQLITE_DONE) {
		error = db_error(st->db, "record export");
		goto done;
	}
	sqlite3_bind_text(up, 1, rec->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(up, 2, (sqlite3_int64)rec->sequence);
	if ((error = step_done(st->db, up, "record sequence")) < 0)
		goto done;
	for (i = 0; i < rec->nblobs && !error; i++) {
		sqlite3_bind_text(blob, 1, rec->channel, -1, SQLITE_STATIC);
		sqlite3_bind_text(blob, 2, rec->blobs[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(blob, 3, (sqlite3_int64)rec->sequence);
		error = step_done(st->db, blob, "record blob");
	}
	for (i = 0; i < rec->nrefs && !error; i++) {
		sqlite3_bind_text(ref, 1, rec->channel, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ref, 2, (sqlite3_int64)rec->sequence);
		sqlite3_bind_text(ref, 3, rec->refs[i].repo, -1, SQLITE_STATIC);
		sqlite3_bind_text(ref, 4, rec->refs[i].ref, -1, SQLITE_STATIC);
		sqlite3_bind_text(ref, 5, rec->refs[i].commit, -1, SQLITE_STATIC);
		error = step_done(st->db, ref, "record ref");
	}
done:
	sqlite3_finalize(ins);
	sqlite3_finalize(up);
	sqlite3_finalize(blob);
	sqlite3_finalize(ref);
	if (sqlite3_exec(st->db, error ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) !=
		    SQLITE_OK && !error)
		error = db_error(st->db, "commit");
	return error;
}

int ferry_export_state_blob_sent(int *out, ferry_export_state *st,
				 const char *channel, uint64_t upto,
				 const char *hex)
{
	sqlite3_stmt *q = NULL;
	int rc;

	*out = 0;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT 1 FROM sent_blobs WHERE channel = ? AND digest = ? "
			       "AND sequence <= ? LIMIT 1", -1, &q, NULL) != SQLITE_OK)
		return db_error(st->db, "query");
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, upto > INT64_MAX ? INT64_MAX : (sqlite3_int64)upto);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_ROW)
		*out = 1;
	else if (rc != SQLITE_DONE)
		return db_error(st->db, "query");
	return 0;
}

int ferry_export_state_refs(ferry_export_state *st, const char *channel,
			    uint64_t upto, const char *repo,
			    int (*fn)(const char *ref, const char *commit, void *payload),
			    void *payload)
{
	sqlite3_stmt *q = NULL;
	int rc, error = 0;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT ref, commit_id FROM sent_refs WHERE channel = ?1 "
			       "AND repo = ?2 AND sequence = (SELECT MAX(sequence) FROM "
			       "sent_refs WHERE channel = ?1 AND repo = ?2 AND sequence <= ?3) "
			       "ORDER BY ref", -1, &q, NULL) != SQLITE_OK)
		return db_error(st->db, "query");
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, repo, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, upto > INT64_MAX ? INT64_MAX : (sqlite3_int64)upto);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && !error)
		error = fn((const char *)sqlite3_column_text(q, 0),
			   (const char *)sqlite3_column_text(q, 1), payload);
	if (!error && rc != SQLITE_DONE && rc != SQLITE_ROW)
		error = db_error(st->db, "query");
	sqlite3_finalize(q);
	return error;
}

int ferry_export_state_rebase(ferry_export_state *st, const char *channel,
			      uint64_t sequence, const char *const *blobs, size_t nblobs,
			      const ferry_sent_ref *refs, size_t nrefs)
{
	sqlite3_stmt *blob = NULL, *del = NULL, *ref = NULL;
	size_t i;
	int error = 0;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(st->db, "begin");
	/* The receipt is the truth up to its sequence: blobs the enclave no
	 * longer holds (collected as garbage, say) stop counting as held. */
	{
		sqlite3_stmt *drop = NULL;

		if (sqlite3_prepare_v2(st->db, "DELETE FROM sent_blobs WHERE channel = ? "
				       "AND sequence <= ?", -1, &drop, NULL) != SQLITE_OK) {
			error = db_error(st->db, "prepare");
			goto done;
		}
		sqlite3_bind_text(drop, 1, channel, -1, SQLITE_STATIC);
		sqlite3_bind_int64(drop, 2, (sqlite3_int64)sequence);
		error = step_done(st->db, drop, "forget assumed blobs");
		sqlite3_finalize(drop);
		if (error)
			goto done;
	}
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR IGNORE INTO sent_blobs(channel, digest, sequence) "
			       "VALUES (?, ?, ?)", -1, &blob, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
			       "DELETE FROM sent_refs WHERE channel = ? AND sequence = ? "
			       "AND repo = ?", -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO sent_refs(channel, sequence, repo, ref, "
			       "commit_id) VALUES (?, ?, ?, ?, ?)", -1, &ref, NULL) != SQLITE_OK) {
		error = db_error(st->db, "prepare");
		goto done;
	}
	for (i = 0; i < nblobs && !error; i++) {
		sqlite3_bind_text(blob, 1, channel, -1, SQLITE_STATIC);
		sqlite3_bind_text(blob, 2, blobs[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(blob, 3, (sqlite3_int64)sequence);
		error = step_done(st->db, blob, "record baseline blob");
	}
	for (i = 0; i < nrefs && !error; i++) {
		if (i == 0 || strcmp(refs[i].repo, refs[i - 1].repo)) {
			sqlite3_bind_text(del, 1, channel, -1, SQLITE_STATIC);
			sqlite3_bind_int64(del, 2, (sqlite3_int64)sequence);
			sqlite3_bind_text(del, 3, refs[i].repo, -1, SQLITE_STATIC);
			if ((error = step_done(st->db, del, "replace baseline refs")) < 0)
				break;
		}
		sqlite3_bind_text(ref, 1, channel, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ref, 2, (sqlite3_int64)sequence);
		sqlite3_bind_text(ref, 3, refs[i].repo, -1, SQLITE_STATIC);
		sqlite3_bind_text(ref, 4, refs[i].ref, -1, SQLITE_STATIC);
		sqlite3_bind_text(ref, 5, refs[i].commit, -1, SQLITE_STATIC);
		error = step_done(st->db, ref, "record baseline ref");
	}
done:
	sqlite3_finalize(blob);
	sqlite3_finalize(del);
	sqlite3_finalize(ref);
	if (sqlite3_exec(st->db, error ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) !=
		    SQLITE_OK && !error)
		error = db_error(st->db, "commit");
	return error;
}

char *ferry_export_state_default_path(void)
{
	ferry_buf b = FERRY_BUF_INIT;
	const char *dir = getenv("FERRY_STATE_DIR"), *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int error;

	if (dir && *dir)
		error = ferry_buf_printf(&b, "%s/export.db", dir);
	else if (xdg && *xdg)
		error = ferry_buf_printf(&b, "%s/ferry/export.db", xdg);
	else
		error = ferry_buf_printf(&b, "%s/.local/state/ferry/export.db",
					 home && *home ? home : ".");
	if (error < 0) {
		ferry_buf_dispose(&b);
		return NULL;
	}
	return ferry_buf_detach(&b);
}
