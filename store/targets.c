/*
 * Seed targets and seed progress as rows of ferry.db (see targets.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry/errors.h"
#include "private.h"
#include "targets.h"
#include "banned.h"

int ferry_store_target_exists(int *out, ferry_store *st, const char *name)
{
	static const char sql[] = "SELECT 1 FROM targets WHERE name = ?";
	sqlite3_stmt *q = NULL;
	int error;

	*out = 0;
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read targets")) < 0)
		return error;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read targets")) > 0) {
		*out = 1;
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_target_put(ferry_store *st, const ferry_store_target_row *t)
{
	static const char sql[] =
		"INSERT INTO targets(name, kind, url, options, created) VALUES (?, ?, ?, ?, ?) "
		"ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, url = excluded.url, "
		"options = excluded.options, created = excluded.created";
	return ferry_db_run(&st->db, sql, "write target", "ssssi", t->name, t->kind,
			    t->url, t->options,
			    t->created ? t->created : (int64_t)time(NULL));
}

int ferry_store_target_delete(ferry_store *st, const char *name)
{
	static const char sql[] = "DELETE FROM targets WHERE name = ?";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "remove target")) < 0)
		return error;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if ((error = ferry_db_step_done(&st->db, q, "remove target")) == 0 &&
	    ferry_db_changes(&st->db) == 0)
		error = ferry_error_set(FERRY_ENOTFOUND, "no target '%.80s'", name);
	ferry_db_release(&st->db, q);
	return error ? error : ferry_store_progress_clear(st, name);
}

int ferry_store_target_foreach(ferry_store *st, const char *name,
			       int (*cb)(const ferry_store_target_row *t, void *payload),
			       void *payload)
{
	static const char sql[] =
		"SELECT name, kind, url, options, created FROM targets "
		"WHERE ?1 IS NULL OR name = ?1 ORDER BY name";
	ferry_store_target_row row;
	sqlite3_stmt *q = NULL;
	int error, found = 0;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read targets")) < 0)
		return error;
	ferry_db_bind_text(q, 1, name);
	while ((error = ferry_db_step(&st->db, q, "read targets")) > 0) {
		found = 1;
		row.name = ferry_db_text(q, 0);
		row.kind = ferry_db_text(q, 1);
		row.url = ferry_db_text(q, 2);
		row.options = ferry_db_text(q, 3);
		row.created = sqlite3_column_int64(q, 4);
		if ((error = cb(&row, payload)) != 0)
			break;
	}
	ferry_db_release(&st->db, q);
	if (error == 0 && name && !found)
		error = ferry_error_set(FERRY_ENOTFOUND, "no target '%.80s'", name);
	return error;
}

int ferry_store_progress_get(char **state, ferry_store *st, const char *target,
			     const char *item)
{
	static const char sql[] =
		"SELECT state FROM seed_progress WHERE target = ? AND item = ?";
	sqlite3_stmt *q = NULL;
	int error;

	*state = NULL;
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read progress")) < 0)
		return error;
	sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, item, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read progress")) > 0)
		error = ferry_db_dup(state, q, 0);
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_progress_set(ferry_store *st, const char *target, const char *item,
			     const char *state)
{
	static const char sql[] =
		"INSERT INTO seed_progress(target, item, state, updated) VALUES (?, ?, ?, ?) "
		"ON CONFLICT(target, item) DO UPDATE SET state = excluded.state, "
		"updated = excluded.updated";
	return ferry_db_run(&st->db, sql, "write progress", "sssi", target, item, state,
			    (int64_t)time(NULL));
}

int ferry_store_progress_delete(ferry_store *st, const char *target, const char *item)
{
	static const char sql[] = "DELETE FROM seed_progress WHERE target = ? AND item = ?";
	return ferry_db_run(&st->db, sql, "write progress", "ss", target, item);
}

int ferry_store_progress_clear(ferry_store *st, const char *target)
{
	static const char sql[] = "DELETE FROM seed_progress WHERE target = ?";
	return ferry_db_run(&st->db, sql, "forget progress", "s", target);
}

int ferry_store_progress_foreach(ferry_store *st, const char *target, const char *prefix,
				 int (*cb)(const char *item, void *payload), void *payload)
{
	static const char sql[] =
		"SELECT item FROM seed_progress WHERE target = ? AND substr(item, 1, ?) = ? "
		"ORDER BY item";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read progress")) < 0)
		return error;
	sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)strlen(prefix));
	sqlite3_bind_text(q, 3, prefix, -1, SQLITE_STATIC);
	while ((error = ferry_db_step(&st->db, q, "read progress")) > 0)
		if ((error = cb(ferry_db_text(q, 0), payload)) != 0)
			break;
	ferry_db_release(&st->db, q);
	return error;
}
