/*
 * Reconcile events, per-stack state and suspensions as rows of ferry.db
 * (see stacks.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "private.h"
#include "stacks.h"
#include "banned.h"

int ferry_store_stack_event_add(ferry_store *st, const ferry_store_stack_event *ev)
{
	static const char sql[] =
		"INSERT INTO reconcile_events(time, stack, trigger, actor, source, ref, "
		"revision, images, bundle_id, channel, sequence, target, outcome, drift, "
		"detail, error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "record a reconcile event")) < 0)
		return error;
	sqlite3_bind_int64(q, 1, ev->time);
	ferry_db_bind_text(q, 2, ev->stack);
	ferry_db_bind_text(q, 3, ev->trigger);
	ferry_db_bind_text(q, 4, ev->actor);
	ferry_db_bind_text(q, 5, ev->source);
	ferry_db_bind_text(q, 6, ev->ref);
	ferry_db_bind_text(q, 7, ev->revision);
	ferry_db_bind_text(q, 8, ev->images);
	ferry_db_bind_text(q, 9, ev->bundle_id);
	ferry_db_bind_text(q, 10, ev->channel);
	if (ev->sequence > 0)
		sqlite3_bind_int64(q, 11, ev->sequence);
	ferry_db_bind_text(q, 12, ev->runtime);
	ferry_db_bind_text(q, 13, ev->outcome);
	sqlite3_bind_int(q, 14, ev->drift);
	ferry_db_bind_text(q, 15, ev->detail);
	ferry_db_bind_text(q, 16, ev->error);
	if ((error = ferry_db_exec(&st->db, "SAVEPOINT event", "record a reconcile event")) < 0) {
		ferry_db_release(&st->db, q);
		return error;
	}
	error = ferry_db_step_done(&st->db, q, "record a reconcile event");
	ferry_db_release(&st->db, q);
	if (!error && ev->reason && *ev->reason)
		error = ferry_db_run(&st->db, "INSERT INTO reconcile_event_reasons(event, reason) "
				     "VALUES (last_insert_rowid(), ?)", "record a reconcile event",
				     "s", ev->reason);
	if (error < 0) {
		ferry_db_exec(&st->db, "ROLLBACK TO event", "record a reconcile event");
		ferry_db_exec(&st->db, "RELEASE event", "record a reconcile event");
		return error;
	}
	return ferry_db_exec(&st->db, "RELEASE event", "record a reconcile event");
}

int ferry_store_stack_event_prune(ferry_store *st, int64_t before, int64_t *removed)
{
	static const char sql[] =
		"DELETE FROM reconcile_events WHERE outcome = 'unchanged' AND drift = 0 AND "
		"time < ? AND id NOT IN (SELECT event FROM reconcile_event_reasons)";
	sqlite3_stmt *q = NULL;
	int error;

	*removed = 0;
	if ((error = ferry_db_prepare(&q, &st->db, sql, "prune reconcile events")) < 0)
		return error;
	sqlite3_bind_int64(q, 1, before);
	if ((error = ferry_db_step_done(&st->db, q, "prune reconcile events")) == 0)
		*removed = ferry_db_changes(&st->db);
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_stack_event_foreach(ferry_store *st, const char *stack, size_t limit,
				    int (*cb)(const ferry_store_stack_event *ev, void *payload),
				    void *payload)
{
	ferry_store_event_filter f = { stack, NULL, NULL, 0 };

	return ferry_store_stack_event_query(st, &f, limit, cb, payload);
}

int ferry_store_stack_event_query(ferry_store *st, const ferry_store_event_filter *f,
				  size_t limit,
				  int (*cb)(const ferry_store_stack_event *ev, void *payload),
				  void *payload)
{
	static const char sql[] =
		"SELECT * FROM (SELECT id, time, stack, trigger, actor, source, ref, "
		"revision, images, bundle_id, channel, sequence, target, outcome, drift, "
		"detail, error, (SELECT reason FROM reconcile_event_reasons WHERE event = id) "
		"FROM reconcile_events WHERE (?1 IS NULL OR stack = ?1) AND "
		"(?3 IS NULL OR channel = ?3) AND (?4 IS NULL OR outcome = ?4) AND time >= ?5 "
		"ORDER BY id DESC LIMIT ?2) ORDER BY id";
	ferry_store_stack_event ev;
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read events")) < 0)
		return error;
	ferry_db_bind_text(q, 1, f ? f->stack : NULL);
	sqlite3_bind_int64(q, 2, limit ? (sqlite3_int64)limit : -1);
	ferry_db_bind_text(q, 3, f ? f->channel : NULL);
	ferry_db_bind_text(q, 4, f ? f->outcome : NULL);
	sqlite3_bind_int64(q, 5, f ? f->since : 0);
	while ((error = ferry_db_step(&st->db, q, "read events")) > 0) {
		ev.id = sqlite3_column_int64(q, 0);
		ev.time = sqlite3_column_int64(q, 1);
		ev.stack = ferry_db_text(q, 2);
		ev.trigger = ferry_db_text(q, 3);
		ev.actor = ferry_db_text(q, 4);
		ev.source = ferry_db_text(q, 5);
		ev.ref = ferry_db_text(q, 6);
		ev.revision = ferry_db_text(q, 7);
		ev.images = ferry_db_text(q, 8);
		ev.bundle_id = ferry_db_text(q, 9);
		ev.channel = ferry_db_text(q, 10);
		ev.sequence = sqlite3_column_int64(q, 11);
		ev.runtime = ferry_db_text(q, 12);
		ev.outcome = ferry_db_text(q, 13);
		ev.drift = sqlite3_column_int(q, 14);
		ev.detail = ferry_db_text(q, 15);
		ev.error = ferry_db_text(q, 16);
		ev.reason = ferry_db_text(q, 17);
		if ((error = cb(&ev, payload)) != 0)
			break;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_stack_applied_revision(char full[72], ferry_store *st, const char *stack,
				       const char *prefix)
{
	static const char sql[] =
		"SELECT revision FROM reconcile_events WHERE stack = ?1 AND outcome = 'applied' "
		"AND substr(revision, 1, length(?2)) = ?2 ORDER BY id DESC LIMIT 1";
	sqlite3_stmt *q = NULL;
	int error;

	full[0] = '\0';
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read events")) < 0)
		return error;
	sqlite3_bind_text(q, 1, stack, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, prefix, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read events")) == 0)
		error = FERRY_ENOTFOUND;
	if (error > 0) {
		snprintf(full, 72, "%s", ferry_db_text(q, 0));
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_stack_event_origin(ferry_store_origin *out, ferry_store *st,
				   const char *source, const char *revision)
{
	/* The partial index reconcile_events_provenance answers with one row
	 * however long the history. */
	static const char sql[] =
		"SELECT bundle_id, channel, sequence FROM reconcile_events "
		"WHERE revision = ?2 AND source = ?1 AND bundle_id IS NOT NULL "
		"ORDER BY sequence LIMIT 1";
	sqlite3_stmt *q = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read provenance")) < 0)
		return error;
	sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, revision, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read provenance")) == 0)
		error = FERRY_ENOTFOUND;
	if (error > 0) {
		out->sequence = (uint64_t)sqlite3_column_int64(q, 2);
		if ((error = ferry_db_dup(&out->bundle_id, q, 0)) == 0)
			error = ferry_db_dup(&out->channel, q, 1);
	}
	ferry_db_release(&st->db, q);
	if (error)
		ferry_store_origin_dispose(out);
	return error;
}

void ferry_store_stack_state_dispose(ferry_store_stack_state *s)
{
	free(s->applied);
	free(s->previous);
	free(s->images);
	free(s->expected);
	free(s->file);
	free(s->hold);
	free(s->drift);
	free(s->outcome);
	memset(s, 0, sizeof(*s));
}

int ferry_store_stack_state_load(ferry_store_stack_state *out, ferry_store *st,
				 const char *stack)
{
	static const char sql[] =
		"SELECT applied, previous, images, expected, file, hold, drift, outcome, "
		"applied_time, last_cycle, next_poll FROM reconcile_state WHERE stack = ?";
	sqlite3_stmt *q = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read stack state")) < 0)
		return error;
	sqlite3_bind_text(q, 1, stack, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read stack state")) > 0) {
		if ((error = ferry_db_dup(&out->applied, q, 0)) == 0 &&
		    (error = ferry_db_dup(&out->previous, q, 1)) == 0 &&
		    (error = ferry_db_dup(&out->images, q, 2)) == 0 &&
		    (error = ferry_db_dup(&out->expected, q, 3)) == 0 &&
		    (error = ferry_db_dup(&out->file, q, 4)) == 0 &&
		    (error = ferry_db_dup(&out->hold, q, 5)) == 0 &&
		    (error = ferry_db_dup(&out->drift, q, 6)) == 0 &&
		    (error = ferry_db_dup(&out->outcome, q, 7)) == 0) {
			out->applied_time = sqlite3_column_int64(q, 8);
			out->last_cycle = sqlite3_column_int64(q, 9);
			out->next_poll = sqlite3_column_int64(q, 10);
		}
	}
	ferry_db_release(&st->db, q);
	if (error)
		ferry_store_stack_state_dispose(out);
	return error;
}

int ferry_store_stack_state_save(ferry_store *st, const char *stack,
				 const ferry_store_stack_state *s)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO reconcile_state(stack, applied, previous, images, "
		"expected, file, hold, drift, outcome, applied_time, last_cycle, next_poll) "
		"VALUES (?,?,?,?,?,?,?,?,?,?,?,?)";
	return ferry_db_run(&st->db, sql, "write stack state", "sssssssssiii", stack,
			    s->applied, s->previous, s->images, s->expected, s->file,
			    s->hold, s->drift, s->outcome, (int64_t)s->applied_time,
			    (int64_t)s->last_cycle, (int64_t)s->next_poll);
}

int ferry_store_stack_state_set_next_poll(ferry_store *st, const char *stack, int64_t t)
{
	static const char sql[] =
		"INSERT INTO reconcile_state(stack, next_poll) VALUES (?, ?) "
		"ON CONFLICT(stack) DO UPDATE SET next_poll = excluded.next_poll";
	return ferry_db_run(&st->db, sql, "write stack state", "si", stack, (int64_t)t);
}

void ferry_store_stack_suspension_dispose(ferry_store_stack_suspension *s)
{
	free(s->actor);
	free(s->reason);
	memset(s, 0, sizeof(*s));
}

int ferry_store_stack_suspend(ferry_store *st, const char *stack, const char *actor,
			      const char *reason, int64_t time)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO reconcile_suspended(stack, actor, reason, time) "
		"VALUES (?,?,?,?)";
	return ferry_db_run(&st->db, sql, "suspend a stack", "sssi", stack, actor, reason,
			    time);
}

int ferry_store_stack_resume(ferry_store *st, const char *stack)
{
	static const char sql[] = "DELETE FROM reconcile_suspended WHERE stack = ?";
	int error;

	if ((error = ferry_db_run(&st->db, sql, "resume a stack", "s", stack)) < 0)
		return error;
	if (!ferry_db_changes(&st->db))
		return ferry_error_set(FERRY_ENOTFOUND, "stack '%s' is not suspended", stack);
	return 0;
}

int ferry_store_stack_suspension_load(int *suspended, ferry_store_stack_suspension *out,
				      ferry_store *st, const char *stack)
{
	static const char sql[] =
		"SELECT actor, reason, time FROM reconcile_suspended WHERE stack = ?";
	sqlite3_stmt *q = NULL;
	int error;

	*suspended = 0;
	if (out)
		memset(out, 0, sizeof(*out));
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read a suspension")) < 0)
		return error;
	sqlite3_bind_text(q, 1, stack, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read a suspension")) > 0) {
		*suspended = 1;
		error = 0;
		if (out && (error = ferry_db_dup(&out->actor, q, 0)) == 0 &&
		    (error = ferry_db_dup(&out->reason, q, 1)) == 0)
			out->time = sqlite3_column_int64(q, 2);
	}
	ferry_db_release(&st->db, q);
	if (error && out)
		ferry_store_stack_suspension_dispose(out);
	return error;
}
