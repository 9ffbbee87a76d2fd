/*
 * The store's records of what it holds (see catalog.h): channels, imports,
 * blobs, tags, refs, provenance, trust roots and the audit trail.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "private.h"
#include "util.h"
#include "banned.h"

/* ---- channels and imports ------------------------------------------------- */

void ferry_store_channel_dispose(ferry_store_channel *c)
{
	free(c->name);
	free(c->bundle_id);
	memset(c, 0, sizeof(*c));
}

static void channel_row(ferry_store_channel *c, sqlite3_stmt *q)
{
	c->name = (char *)ferry_db_text(q, 0);
	c->sequence = (uint64_t)sqlite3_column_int64(q, 1);
	c->bundle_id = (char *)ferry_db_text(q, 2);
	c->created = sqlite3_column_int64(q, 3);
	c->imported = sqlite3_column_int64(q, 4);
}

int ferry_store_channel_get(ferry_store_channel *out, ferry_store *st, const char *name)
{
	static const char sql[] =
		"SELECT name, sequence, bundle_id, created, (SELECT MAX(imported) FROM imports "
		"WHERE channel = channels.name AND sequence = channels.sequence) FROM channels "
		"WHERE name = ?";
	ferry_store_channel row;
	sqlite3_stmt *q = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read channel")) < 0)
		return error;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read channel")) == 0)
		error = ferry_error_set(FERRY_ENOTFOUND, "store '%s' has no channel '%s'",
					st->root, name);
	if (error > 0) {
		channel_row(&row, q);
		out->sequence = row.sequence;
		out->created = row.created;
		out->imported = row.imported;
		if (!(out->name = strdup(row.name)) || !(out->bundle_id = strdup(row.bundle_id)))
			error = ferry_error_oom();
		else
			error = 0;
	}
	ferry_db_release(&st->db, q);
	if (error)
		ferry_store_channel_dispose(out);
	return error;
}

int ferry_store_channel_set(ferry_store *st, const char *name, uint64_t sequence,
			    const char *bundle_id, int64_t created)
{
	static const char sql[] =
		"INSERT INTO channels(name, sequence, bundle_id, created) VALUES (?, ?, ?, ?) "
		"ON CONFLICT(name) DO UPDATE SET sequence = excluded.sequence, "
		"bundle_id = excluded.bundle_id, created = excluded.created";
	return ferry_db_run(&st->db, sql, "record channel", "sisi", name,
			    (int64_t)sequence, bundle_id, (int64_t)created);
}

int ferry_store_channel_foreach(ferry_store *st,
				int (*cb)(const ferry_store_channel *c, void *payload),
				void *payload)
{
	static const char sql[] =
		"SELECT name, sequence, bundle_id, created, (SELECT MAX(imported) FROM imports "
		"WHERE channel = channels.name AND sequence = channels.sequence) FROM channels "
		"ORDER BY name";
	ferry_store_channel row;
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read channels")) < 0)
		return error;
	while ((error = ferry_db_step(&st->db, q, "read channels")) > 0) {
		channel_row(&row, q);
		if ((error = cb(&row, payload)) != 0)
			break;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_import_add(ferry_store *st, const ferry_store_import *imp)
{
	static const char sql[] =
		"INSERT INTO imports(bundle_id, channel, sequence, base_sequence, created, "
		"expires, imported, signers, files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
	return ferry_db_run(&st->db, sql, "record import", "ssiiiiiss", imp->bundle_id,
			    imp->channel, (int64_t)imp->sequence,
			    (int64_t)imp->base_sequence, (int64_t)imp->created,
			    (int64_t)imp->expires,
			    imp->imported ? imp->imported : (int64_t)time(NULL),
			    imp->signers ? imp->signers : "",
			    imp->files ? imp->files : "");
}

int ferry_store_import_seen(int *out, ferry_store *st, const char *bundle_id)
{
	static const char sql[] = "SELECT 1 FROM imports WHERE bundle_id = ? LIMIT 1";
	sqlite3_stmt *q = NULL;
	int error;

	*out = 0;
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read imports")) < 0)
		return error;
	sqlite3_bind_text(q, 1, bundle_id, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read imports")) > 0) {
		*out = 1;
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}

/* ---- blobs -------------------------------------------------------------------- */

int ferry_store_blob_add(ferry_store *st, const ferry_store_blob *b)
{
	static const char sql[] =
		"INSERT OR IGNORE INTO blobs(digest, size, channel, sequence) VALUES (?, ?, ?, ?)";
	return ferry_db_run(&st->db, sql, "record blob", "sisi", b->hex, (int64_t)b->size,
			    b->channel, (int64_t)b->sequence);
}

int ferry_store_blob_forget(ferry_store *st, const char *hex)
{
	static const char sql[] = "DELETE FROM blobs WHERE digest = ?";
	return ferry_db_run(&st->db, sql, "forget blob", "s", hex);
}

int ferry_store_blob_foreach(ferry_store *st,
			     int (*cb)(const ferry_store_blob *b, void *payload),
			     void *payload)
{
	static const char sql[] =
		"SELECT digest, size, channel, sequence FROM blobs ORDER BY digest";
	ferry_store_blob row;
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read blobs")) < 0)
		return error;
	while ((error = ferry_db_step(&st->db, q, "read blobs")) > 0) {
		row.hex = ferry_db_text(q, 0);
		row.size = (uint64_t)sqlite3_column_int64(q, 1);
		row.channel = ferry_db_text(q, 2);
		row.sequence = (uint64_t)sqlite3_column_int64(q, 3);
		if ((error = cb(&row, payload)) != 0)
			break;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_blob_totals(uint64_t *count, uint64_t *bytes, ferry_store *st)
{
	static const char sql[] = "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs";
	sqlite3_stmt *q = NULL;
	int error;

	*count = *bytes = 0;
	if ((error = ferry_db_prepare(&q, &st->db, sql, "count blobs")) < 0)
		return error;
	if ((error = ferry_db_step(&st->db, q, "count blobs")) > 0) {
		*count = (uint64_t)sqlite3_column_int64(q, 0);
		*bytes = (uint64_t)sqlite3_column_int64(q, 1);
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}

/* ---- tags ------------------------------------------------------------------------ */

void ferry_store_tag_dispose(ferry_store_tag *t)
{
	free(t->reference);
	free(t->digest);
	free(t->media_type);
	free(t->channel);
	memset(t, 0, sizeof(*t));
}

/* Columns: reference, digest, media_type, size, channel, sequence, created. */
#define TAG_COLUMNS "t.reference, t.digest, t.media_type, t.size, t.channel, t.sequence, " \
		    "COALESCE(i.created, 0)"
#define TAG_JOIN "tags t LEFT JOIN imports i ON i.channel = t.channel AND " \
		 "i.sequence = t.sequence"

static void tag_row(ferry_store_tag *t, sqlite3_stmt *q)
{
	t->reference = (char *)ferry_db_text(q, 0);
	t->digest = (char *)ferry_db_text(q, 1);
	t->media_type = (char *)ferry_db_text(q, 2);
	t->size = (uint64_t)sqlite3_column_int64(q, 3);
	t->channel = (char *)ferry_db_text(q, 4);
	t->sequence = (uint64_t)sqlite3_column_int64(q, 5);
	t->created = sqlite3_column_int64(q, 6);
}

int ferry_store_tag_get(ferry_store_tag *out, ferry_store *st, const char *reference)
{
	static const char sql[] =
		"SELECT " TAG_COLUMNS " FROM " TAG_JOIN " WHERE t.reference = ? LIMIT 1";
	ferry_store_tag row;
	sqlite3_stmt *q = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read tag")) < 0)
		return error;
	sqlite3_bind_text(q, 1, reference, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read tag")) == 0)
		error = ferry_error_set(FERRY_ENOTFOUND, "store '%s' has no tag '%s'", st->root,
					reference);
	if (error > 0) {
		tag_row(&row, q);
		*out = row;
		out->reference = strdup(row.reference);
		out->digest = strdup(row.digest);
		out->media_type = strdup(row.media_type);
		out->channel = strdup(row.channel);
		error = out->reference && out->digest && out->media_type && out->channel
			? 0 : ferry_error_oom();
	}
	ferry_db_release(&st->db, q);
	if (error)
		ferry_store_tag_dispose(out);
	return error;
}

int ferry_store_tag_set(ferry_store *st, const char *reference, const char *digest,
			const char *media_type, uint64_t size, const char *channel,
			uint64_t sequence)
{
	static const char sql[] =
		"INSERT INTO tags(reference, digest, media_type, size, channel, sequence) "
		"VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(reference) DO UPDATE SET "
		"digest = excluded.digest, media_type = excluded.media_type, "
		"size = excluded.size, channel = excluded.channel, sequence = excluded.sequence";
	int error = ferry_db_run(&st->db, sql, "record tag", "sssisi", reference, digest,
				 media_type, (int64_t)size, channel, (int64_t)sequence);

	/* The layout view is behind until it is written again. */
	return error ? error : ferry_store_meta_set(st, FERRY_STORE_VIEW_STALE, 1);
}

int ferry_store_channel_images_clear(ferry_store *st, const char *channel)
{
	return ferry_db_run(&st->db, "DELETE FROM channel_images WHERE channel = ?",
			    "forget the channel's bindings", "s", channel);
}

int ferry_store_channel_image_set(ferry_store *st, const char *channel,
				  const char *reference, const char *digest)
{
	return ferry_db_run(&st->db, "INSERT INTO channel_images(channel, reference, digest) "
			    "VALUES (?, ?, ?) ON CONFLICT(channel, reference) DO UPDATE SET "
			    "digest = excluded.digest", "record the channel's binding", "sss",
			    channel, reference, digest);
}

int ferry_store_channel_image_remove(ferry_store *st, const char *channel,
				     const char *reference)
{
	return ferry_db_run(&st->db, "DELETE FROM channel_images WHERE channel = ? AND "
			    "reference = ?", "drop the channel's binding", "ss", channel,
			    reference);
}

int ferry_store_channel_images_foreach(ferry_store *st, const char *channel,
				       int (*cb)(const char *reference, const char *digest,
						 void *payload),
				       void *payload)
{
	static const char sql[] = "SELECT reference, digest FROM channel_images WHERE "
				  "channel = ? ORDER BY reference";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read the channel's bindings")) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	while ((error = ferry_db_step(&st->db, q, "read the channel's bindings")) > 0)
		if ((error = cb(ferry_db_text(q, 0), ferry_db_text(q, 1), payload)) != 0)
			break;
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_tag_foreach(ferry_store *st,
			    int (*cb)(const ferry_store_tag *t, void *payload),
			    void *payload)
{
	static const char sql[] =
		"SELECT " TAG_COLUMNS " FROM " TAG_JOIN " ORDER BY t.reference";
	ferry_store_tag row;
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read tags")) < 0)
		return error;
	while ((error = ferry_db_step(&st->db, q, "read tags")) > 0) {
		tag_row(&row, q);
		if ((error = cb(&row, payload)) != 0)
			break;
	}
	ferry_db_release(&st->db, q);
	return error;
}

/* ---- refs --------------------------------------------------------------------------- */

void ferry_store_ref_dispose(ferry_store_ref *r)
{
	free(r->repo);
	free(r->name);
	free(r->commit);
	free(r->channel);
	memset(r, 0, sizeof(*r));
}

#define REF_COLUMNS "r.repo, r.ref, r.commit_id, r.channel, r.sequence, COALESCE(i.created, 0)"
#define REF_JOIN "refs r LEFT JOIN imports i ON i.channel = r.channel AND " \
		 "i.sequence = r.sequence"

static void ref_row(ferry_store_ref *r, sqlite3_stmt *q)
{
	r->repo = (char *)ferry_db_text(q, 0);
	r->name = (char *)ferry_db_text(q, 1);
	r->commit = (char *)ferry_db_text(q, 2);
	r->channel = (char *)ferry_db_text(q, 3);
	r->sequence = (uint64_t)sqlite3_column_int64(q, 4);
	r->created = sqlite3_column_int64(q, 5);
}

int ferry_store_ref_get(ferry_store_ref *out, ferry_store *st, const char *repo,
			const char *name)
{
	static const char sql[] =
		"SELECT " REF_COLUMNS " FROM " REF_JOIN " WHERE r.repo = ? AND r.ref = ? LIMIT 1";
	ferry_store_ref row;
	sqlite3_stmt *q = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read ref")) < 0)
		return error;
	sqlite3_bind_text(q, 1, repo, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "read ref")) == 0)
		error = ferry_error_set(FERRY_ENOTFOUND, "repository '%s' has no ref '%s'", repo,
					name);
	if (error > 0) {
		ref_row(&row, q);
		*out = row;
		out->repo = strdup(row.repo);
		out->name = strdup(row.name);
		out->commit = strdup(row.commit);
		out->channel = strdup(row.channel);
		error = out->repo && out->name && out->commit && out->channel
			? 0 : ferry_error_oom();
	}
	ferry_db_release(&st->db, q);
	if (error)
		ferry_store_ref_dispose(out);
	return error;
}

int ferry_store_ref_set(ferry_store *st, const char *repo, const char *name,
			const char *commit, const char *channel, uint64_t sequence)
{
	static const char sql[] =
		"INSERT INTO refs(repo, ref, commit_id, channel, sequence) VALUES (?, ?, ?, ?, ?) "
		"ON CONFLICT(repo, ref) DO UPDATE SET commit_id = excluded.commit_id, "
		"channel = excluded.channel, sequence = excluded.sequence";
	return ferry_db_run(&st->db, sql, "record ref", "ssssi", repo, name, commit,
			    channel, (int64_t)sequence);
}

int ferry_store_ref_delete(ferry_store *st, const char *repo, const char *name)
{
	static const char sql[] = "DELETE FROM refs WHERE repo = ? AND ref = ?";
	return ferry_db_run(&st->db, sql, "delete ref", "ss", repo, name);
}

int ferry_store_ref_foreach(ferry_store *st, const char *repo,
			    int (*cb)(const ferry_store_ref *r, void *payload),
			    void *payload)
{
	static const char sql[] =
		"SELECT " REF_COLUMNS " FROM " REF_JOIN " WHERE ?1 IS NULL OR r.repo = ?1 "
		"ORDER BY r.repo, r.ref";
	ferry_store_ref row;
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read refs")) < 0)
		return error;
	ferry_db_bind_text(q, 1, repo);
	while ((error = ferry_db_step(&st->db, q, "read refs")) > 0) {
		ref_row(&row, q);
		if ((error = cb(&row, payload)) != 0)
			break;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_repo_foreach(ferry_store *st,
			     int (*cb)(const char *repo, void *payload), void *payload)
{
	static const char sql[] = "SELECT DISTINCT repo FROM refs ORDER BY repo";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read repositories")) < 0)
		return error;
	while ((error = ferry_db_step(&st->db, q, "read repositories")) > 0)
		if ((error = cb(ferry_db_text(q, 0), payload)) != 0)
			break;
	ferry_db_release(&st->db, q);
	return error;
}

static int push_name(const char *repo, void *payload)
{
	return ferry_strv_push(payload, repo);
}

int ferry_store_repo_names(ferry_strv *out, ferry_store *st)
{
	return ferry_store_repo_foreach(st, push_name, out);
}

/* ---- provenance ------------------------------------------------------------------ */

void ferry_store_origin_dispose(ferry_store_origin *o)
{
	free(o->bundle_id);
	free(o->channel);
	memset(o, 0, sizeof(*o));
}

static int origin_query(ferry_store_origin *out, ferry_store *st, const char *sql,
			const char *a, const char *b, const char *what)
{
	sqlite3_stmt *q = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_db_prepare(&q, &st->db, sql, what)) < 0)
		return error;
	sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, what)) == 0)
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

int ferry_store_ref_origin(ferry_store_origin *out, ferry_store *st, const char *repo,
			   const char *commit)
{
	static const char sql[] =
		"SELECT i.bundle_id, r.channel, r.sequence FROM " REF_JOIN " "
		"WHERE r.repo = ?1 AND r.commit_id = ?2 ORDER BY r.sequence LIMIT 1";

	return origin_query(out, st, sql, repo, commit, "read provenance");
}

int ferry_store_blob_origin(ferry_store_origin *out, ferry_store *st, const char *hex)
{
	static const char sql[] =
		"SELECT i.bundle_id, b.channel, b.sequence FROM blobs b LEFT JOIN imports i "
		"ON i.channel = b.channel AND i.sequence = b.sequence WHERE b.digest = ?1 LIMIT 1";

	return origin_query(out, st, sql, hex, NULL, "read provenance");
}

/* ---- trust roots --------------------------------------------------------------------- */

int ferry_store_trust_root_latest(ferry_buf *body, ferry_store *st)
{
	static const char sql[] = "SELECT body FROM trust_roots ORDER BY version DESC LIMIT 1";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read trust root")) < 0)
		return error;
	if ((error = ferry_db_step(&st->db, q, "read trust root")) == 0)
		error = ferry_error_set(FERRY_ENOTFOUND, "store '%s' has no trust root (run "
					"'ferry trust init')", st->root);
	if (error > 0)
		error = ferry_buf_put(body, sqlite3_column_blob(q, 0),
				      (size_t)sqlite3_column_bytes(q, 0));
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_trust_root_add(ferry_store *st, uint64_t version, const char *body,
			       size_t len)
{
	static const char sql[] =
		"INSERT INTO trust_roots(version, body, installed) VALUES (?, ?, ?)";
	sqlite3_stmt *q = NULL;
	int error, rc;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "install trust root")) < 0)
		return error;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)version);
	sqlite3_bind_text(q, 2, body, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(q);
	if (rc == SQLITE_CONSTRAINT)
		error = ferry_error_set(FERRY_EEXISTS, "trust root version %llu exists",
					(unsigned long long)version);
	else if (rc != SQLITE_DONE)
		error = ferry_db_error(&st->db, "install trust root");
	ferry_db_release(&st->db, q);
	return error;
}

/* ---- audit ------------------------------------------------------------------------------ */

int ferry_store_audit_add(ferry_store *st, const ferry_store_audit_entry *e)
{
	static const char sql[] =
		"INSERT INTO audit(time, event, bundle_id, channel, sequence, signers, outcome, "
		"reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *q = NULL;
	char *reason = NULL;
	int error;

	/* The reason often quotes outside text (a member name, a reference):
	 * the audit row stores it escaped like every other output line. */
	if (e->reason && !(reason = ferry_escape_dup(e->reason)))
		return ferry_error_oom();
	if ((error = ferry_db_prepare(&q, &st->db, sql, "audit")) < 0) {
		free(reason);
		return error;
	}
	sqlite3_bind_int64(q, 1, e->time ? e->time : (int64_t)time(NULL));
	sqlite3_bind_text(q, 2, e->event, -1, SQLITE_STATIC);
	ferry_db_bind_text(q, 3, e->bundle_id);
	ferry_db_bind_text(q, 4, e->channel);
	if (e->channel)
		sqlite3_bind_int64(q, 5, (sqlite3_int64)e->sequence);
	ferry_db_bind_text(q, 6, e->signers);
	sqlite3_bind_text(q, 7, e->outcome, -1, SQLITE_STATIC);
	ferry_db_bind_text(q, 8, reason);
	error = ferry_db_step_done(&st->db, q, "audit");
	ferry_db_release(&st->db, q);
	free(reason);
	return error;
}

int ferry_store_audit(ferry_store *st, const char *event, const char *outcome,
		      const char *reason)
{
	ferry_store_audit_entry e = { 0 };

	e.event = event;
	e.outcome = outcome;
	e.reason = reason;
	return ferry_store_audit_add(st, &e);
}

static int audit_rows(ferry_store *st, sqlite3_stmt *q,
		      int (*cb)(int64_t id, const ferry_store_audit_entry *e, void *payload),
		      void *payload)
{
	ferry_store_audit_entry e;
	int error;

	while ((error = ferry_db_step(&st->db, q, "read audit")) > 0) {
		int64_t id = sqlite3_column_int64(q, 0);

		e.time = sqlite3_column_int64(q, 1);
		e.event = ferry_db_text(q, 2);
		e.bundle_id = ferry_db_text(q, 3);
		e.channel = ferry_db_text(q, 4);
		e.sequence = (uint64_t)sqlite3_column_int64(q, 5);
		e.signers = ferry_db_text(q, 6);
		e.outcome = ferry_db_text(q, 7);
		e.reason = ferry_db_text(q, 8);
		if ((error = cb(id, &e, payload)) != 0)
			break;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_store_audit_foreach(ferry_store *st, int64_t after, const char *outcome,
			      int (*cb)(int64_t id, const ferry_store_audit_entry *e,
					void *payload),
			      void *payload)
{
	static const char sql[] =
		"SELECT id, time, event, bundle_id, channel, sequence, signers, outcome, reason "
		"FROM audit WHERE id > ?1 AND (?2 IS NULL OR outcome = ?2) ORDER BY id";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read audit")) < 0)
		return error;
	sqlite3_bind_int64(q, 1, after);
	ferry_db_bind_text(q, 2, outcome);
	return audit_rows(st, q, cb, payload);
}

json_t *ferry_store_audit_json(const ferry_store_audit_entry *e)
{
	char when[32];
	json_t *o;

	ferry_time_format(when, sizeof(when), e->time);
	o = json_pack("{s:s,s:s,s:s,s:s}", "time", when, "event", e->event, "outcome", e->outcome,
		      "signers", e->signers ? e->signers : "");
	if (o && e->channel) {
		if (e->bundle_id && json_object_set_new(o, "bundle", json_string(e->bundle_id)) < 0)
			goto oom;
		if (json_object_set_new(o, "channel", json_string(e->channel)) < 0 ||
		    json_object_set_new(o, "sequence", json_integer((json_int_t)e->sequence)) < 0)
			goto oom;
	}
	if (o && e->reason && json_object_set_new(o, "reason", json_string(e->reason)) < 0)
		goto oom;
	return o;
oom:
	json_decref(o);
	return NULL;
}

int ferry_store_audit_query(ferry_store *st, const ferry_store_event_filter *f, size_t limit,
			    int (*cb)(int64_t id, const ferry_store_audit_entry *e,
				      void *payload),
			    void *payload)
{
	static const char sql[] =
		"SELECT * FROM (SELECT id, time, event, bundle_id, channel, sequence, signers, "
		"outcome, reason FROM audit WHERE (?1 IS NULL OR channel = ?1) AND "
		"(?2 IS NULL OR outcome = ?2) AND time >= ?3 ORDER BY id DESC LIMIT ?4) "
		"ORDER BY id";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "read audit")) < 0)
		return error;
	ferry_db_bind_text(q, 1, f ? f->channel : NULL);
	ferry_db_bind_text(q, 2, f ? f->outcome : NULL);
	sqlite3_bind_int64(q, 3, f ? f->since : 0);
	sqlite3_bind_int64(q, 4, limit ? (sqlite3_int64)limit : -1);
	return audit_rows(st, q, cb, payload);
}

int ferry_store_audit_last(int64_t *id, ferry_store *st)
{
	static const char sql[] = "SELECT coalesce(max(id), 0) FROM audit";
	sqlite3_stmt *q = NULL;
	int error;

	*id = 0;
	if ((error = ferry_db_prepare(&q, &st->db, sql, "read audit")) < 0)
		return error;
	if ((error = ferry_db_step(&st->db, q, "read audit")) > 0) {
		*id = sqlite3_column_int64(q, 0);
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}
