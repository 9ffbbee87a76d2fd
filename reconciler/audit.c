/*
 * The reconciler's records in ferry.db: one reconcile_events row per cycle
 * (the audit trail, also written as a JSON line for a SIEM) and one
 * reconcile_state row per stack (what was applied, what it looked like,
 * the rollback hold, the next poll), which is what lets a restarted daemon
 * or a separate `ferry reconcile sync` carry on where the last cycle left.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "reconcile.h"
#include "util.h"
#include "banned.h"

static void bind_opt(sqlite3_stmt *q, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q, i);
}

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

int ferry_audit_record(ferry_store *st, FILE *stream, const ferry_audit_event *ev)
{
	sqlite3_stmt *q = NULL;
	int error = 0;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO reconcile_events(time, stack, trigger, actor, source, ref, "
			       "revision, images, bundle_id, channel, sequence, target, outcome, drift, "
			       "detail, error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &q,
			       NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "record a reconcile event");
	sqlite3_bind_int64(q, 1, ev->time);
	bind_opt(q, 2, ev->stack);
	bind_opt(q, 3, ev->trigger);
	bind_opt(q, 4, ev->actor);
	bind_opt(q, 5, ev->source);
	bind_opt(q, 6, ev->ref);
	bind_opt(q, 7, ev->revision);
	bind_opt(q, 8, ev->images);
	bind_opt(q, 9, ev->bundle_id);
	bind_opt(q, 10, ev->channel);
	if (ev->sequence > 0)
		sqlite3_bind_int64(q, 11, ev->sequence);
	else
		sqlite3_bind_null(q, 11);
	bind_opt(q, 12, ev->target);
	bind_opt(q, 13, ev->outcome);
	sqlite3_bind_int(q, 14, ev->drift);
	bind_opt(q, 15, ev->detail);
	bind_opt(q, 16, ev->error);
	if (sqlite3_step(q) != SQLITE_DONE)
		error = ferry_store_db_error(st, "record a reconcile event");
	sqlite3_finalize(q);
	if (stream) {
		char when[32];
		json_t *o, *images = NULL;
		char *line;

		ferry_time_format(when, sizeof(when), ev->time);
		if (ev->images)
			images = json_loads(ev->images, 0, NULL);
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:s,s:b,s:o,s:o}",
			      "event", "reconcile", "time", when, "stack", ev->stack,
			      "trigger", ev->trigger, "actor", ev->actor, "source", ev->source,
			      "ref", opt_str(ev->ref), "revision", opt_str(ev->revision),
			      "images", images ? images : json_array(),
			      "bundle", opt_str(ev->bundle_id), "channel", opt_str(ev->channel),
			      "sequence", ev->sequence > 0 ? json_integer(ev->sequence) : json_null(),
			      "target", ev->target, "outcome", ev->outcome, "drift", ev->drift,
			      "detail", opt_str(ev->detail), "error", opt_str(ev->error));
		if (o && (line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
			fprintf(stream, "%s\n", line);
			fflush(stream);
			free(line);
		}
		json_decref(o);
	}
	return error;
}

int ferry_audit_prune(ferry_store *st, int64_t before, int64_t *removed)
{
	sqlite3_stmt *q = NULL;
	int error = 0;

	*removed = 0;
	if (sqlite3_prepare_v2(st->db,
			       "DELETE FROM reconcile_events WHERE outcome = 'unchanged' AND "
			       "drift = 0 AND time < ?", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "prune reconcile events");
	sqlite3_bind_int64(q, 1, before);
	if (sqlite3_step(q) != SQLITE_DONE)
		error = ferry_store_db_error(st, "prune reconcile events");
	else
		*removed = sqlite3_changes64(st->db);
	sqlite3_finalize(q);
	return error;
}

void ferry_stack_state_dispose(ferry_stack_state *s)
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

static int col(char **out, sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	*out = NULL;
	if (t && !(*out = strdup((const char *)t)))
		return ferry_error_set(FERRY_ENOMEM, "out of memory");
	return 0;
}

int ferry_stack_state_load(ferry_stack_state *out, ferry_store *st, const char *stack)
{
	sqlite3_stmt *q = NULL;
	int rc, error = 0;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(st->db,
			       "SELECT applied, previous, images, expected, file, hold, drift, outcome,"
			       " applied_time, last_cycle, next_poll FROM reconcile_state "
			       "WHERE stack = ?", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "read stack state");
	sqlite3_bind_text(q, 1, stack, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if ((error = col(&out->applied, q, 0)) < 0 || (error = col(&out->previous, q, 1)) < 0 ||
		    (error = col(&out->images, q, 2)) < 0 || (error = col(&out->expected, q, 3)) < 0 ||
		    (error = col(&out->file, q, 4)) < 0 || (error = col(&out->hold, q, 5)) < 0 ||
		    (error = col(&out->drift, q, 6)) < 0 || (error = col(&out->outcome, q, 7)) < 0)
			goto done;
		out->applied_time = sqlite3_column_int64(q, 8);
		out->last_cycle = sqlite3_column_int64(q, 9);
		out->next_poll = sqlite3_column_int64(q, 10);
	} else if (rc != SQLITE_DONE) {
		error = ferry_store_db_error(st, "read stack state");
	}
done:
	sqlite3_finalize(q);
	if (error)
		ferry_stack_state_dispose(out);
	return error;
}

int ferry_stack_state_save(ferry_store *st, const char *stack, const ferry_stack_state *s)
{
	sqlite3_stmt *q = NULL;
	int error = 0;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO reconcile_state(stack, applied, previous, images,"
			       " expected, file, hold, drift, outcome, applied_time, last_cycle,"
			       " next_poll) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "write stack state");
	sqlite3_bind_text(q, 1, stack, -1, SQLITE_STATIC);
	bind_opt(q, 2, s->applied);
	bind_opt(q, 3, s->previous);
	bind_opt(q, 4, s->images);
	bind_opt(q, 5, s->expected);
	bind_opt(q, 6, s->file);
	bind_opt(q, 7, s->hold);
	bind_opt(q, 8, s->drift);
	bind_opt(q, 9, s->outcome);
	sqlite3_bind_int64(q, 10, s->applied_time);
	sqlite3_bind_int64(q, 11, s->last_cycle);
	sqlite3_bind_int64(q, 12, s->next_poll);
	if (sqlite3_step(q) != SQLITE_DONE)
		error = ferry_store_db_error(st, "write stack state");
	sqlite3_finalize(q);
	return error;
}

int ferry_stack_state_set_next_poll(ferry_store *st, const char *stack, int64_t t)
{
	sqlite3_stmt *q = NULL;
	int error = 0;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO reconcile_state(stack, next_poll) VALUES (?, ?) "
			       "ON CONFLICT(stack) DO UPDATE SET next_poll = excluded.next_poll", -1,
			       &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "write stack state");
	sqlite3_bind_text(q, 1, stack, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, t);
	if (sqlite3_step(q) != SQLITE_DONE)
		error = ferry_store_db_error(st, "write stack state");
	sqlite3_finalize(q);
	return error;
}
