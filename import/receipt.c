/*
 * Receipts (see receipt.h): an inventory read from the store's database in
 * one read transaction, so it is consistent even while nothing else runs.
 */
#include <string.h>

#include "ferry/errors.h"
#include "envelope.h"
#include "json.h"
#include "receipt.h"
#include "util.h"
#include "banned.h"

static int rows(json_t *into, ferry_store *st, const char *sql,
		int (*add)(json_t *into, sqlite3_stmt *q))
{
	sqlite3_stmt *q = NULL;
	int rc, error = 0;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "read inventory");
	while (!error && (rc = sqlite3_step(q)) == SQLITE_ROW)
		error = add(into, q);
	if (!error && rc != SQLITE_DONE)
		error = ferry_store_db_error(st, "read inventory");
	sqlite3_finalize(q);
	return error;
}

static const char *col(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

static int add_channel(json_t *into, sqlite3_stmt *q)
{
	return ferry_json_append(into, json_pack("{s:s,s:I,s:s}", "channel", col(q, 0),
						 "sequence", (json_int_t)sqlite3_column_int64(q, 1),
						 "bundle", col(q, 2)));
}

static int add_blob(json_t *into, sqlite3_stmt *q)
{
	return ferry_json_append(into, json_string(col(q, 0)));
}

static int add_ref(json_t *into, sqlite3_stmt *q)
{
	size_t n = json_array_size(into);
	json_t *last = n ? json_array_get(into, n - 1) : NULL;

	if (!last || strcmp(json_string_value(json_object_get(last, "name")), col(q, 0))) {
		last = json_pack("{s:s,s:[]}", "name", col(q, 0), "refs");
		if (ferry_json_append(into, last) < 0)
			return FERRY_ENOMEM;
	}
	return ferry_json_append(json_object_get(last, "refs"),
				 json_pack("{s:s,s:s}", "name", col(q, 1), "commit", col(q, 2)));
}

int ferry_receipt_make(ferry_buf *out, ferry_store *st, const ferry_key *key,
		       int64_t now)
{
	ferry_buf body = FERRY_BUF_INIT;
	char when[32];
	json_t *o;
	int error;

	if ((error = ferry_time_format(when, sizeof(when), now)) < 0)
		return error;
	o = json_pack("{s:s,s:s,s:[],s:[],s:[]}", "_type", FERRY_RECEIPT_TYPE, "created",
		      when, "channels", "blobs", "repositories");
	if (!o)
		return ferry_error_set(FERRY_ENOMEM, "out of memory");
	if ((error = ferry_store_exec(st, "BEGIN", "begin")) < 0)
		goto done;
	if ((error = rows(json_object_get(o, "channels"), st,
			  "SELECT name, sequence, bundle_id FROM channels ORDER BY name",
			  add_channel)) == 0 &&
	    (error = rows(json_object_get(o, "blobs"), st,
			  "SELECT digest FROM blobs ORDER BY digest", add_blob)) == 0)
		error = rows(json_object_get(o, "repositories"), st,
			     "SELECT repo, ref, commit_id FROM refs ORDER BY repo, ref",
			     add_ref);
	ferry_store_exec(st, "COMMIT", "commit");
	if (error)
		goto done;
	if ((error = ferry_json_dump(&body, o)) == 0)
		error = ferry_envelope_sign_type(out, FERRY_RECEIPT_PAYLOAD_TYPE, body.ptr,
						 body.size, (ferry_key *const *)&key, 1);
done:
	json_decref(o);
	ferry_buf_dispose(&body);
	return error;
}
