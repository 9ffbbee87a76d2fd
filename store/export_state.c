/*
 * The export state (see export_state.h): SQLite on the connected side,
 * versioned with the same migrations as the enclave store.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "buf.h"
#include "db.h"
#include "export_state.h"
#include "fs.h"
#include "banned.h"

struct ferry_export_state {
	ferry_db db;
	int lock_fd;   /* the database file, flocked: one export at a time */
};

static const char v1[] =
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
	"  PRIMARY KEY (channel, sequence, repo, ref));";

/* Version 2: what each bundle's content was (a fingerprint of its image
 * bindings, git refs, trust root and sources), so an export can tell that
 * nothing changed since the last bundle. */
static const char v2[] =
	"CREATE TABLE IF NOT EXISTS export_content ("
	"  channel TEXT NOT NULL,"
	"  sequence INTEGER NOT NULL,"
	"  fingerprint TEXT NOT NULL,"
	"  PRIMARY KEY (channel, sequence));";

/* Version 3: the image bindings each bundle left the channel with, as a log
 * of changes (digest '' where a reference was dropped), so that an
 * incremental bundle carries only the bindings that changed since its
 * base. image_states lists the sequences whose bindings the log knows:
 * bundles written before this version are not among them. */
static const char v3[] =
	"CREATE TABLE IF NOT EXISTS sent_images ("
	"  channel TEXT NOT NULL,"
	"  reference TEXT NOT NULL,"
	"  sequence INTEGER NOT NULL,"
	"  digest TEXT NOT NULL,"
	"  PRIMARY KEY (channel, reference, sequence));"
	"CREATE TABLE IF NOT EXISTS image_states ("
	"  channel TEXT NOT NULL,"
	"  sequence INTEGER NOT NULL,"
	"  PRIMARY KEY (channel, sequence));";

/* Version 4: the bundle an export is writing, and where, until it is
 * recorded: files of it found later are left by an export that was killed
 * after naming them. */
static const char v4[] =
	"CREATE TABLE IF NOT EXISTS pending ("
	"  channel TEXT PRIMARY KEY,"
	"  sequence INTEGER NOT NULL,"
	"  dir TEXT NOT NULL,"
	"  bundle_id TEXT NOT NULL);";

static const ferry_db_migration schema[] = {
	{ 1, v1 },
	{ 2, v2 },
	{ 3, v3 },
	{ 4, v4 },
};

int ferry_export_state_pending_set(ferry_export_state *st, const char *channel,
				   uint64_t sequence, const char *dir, const char *bundle_id)
{
	return ferry_db_run(&st->db, "INSERT OR REPLACE INTO pending(channel, sequence, dir, "
			    "bundle_id) VALUES (?, ?, ?, ?)", "record the bundle being named",
			    "siss", channel, (int64_t)sequence, dir, bundle_id);
}

int ferry_export_state_pending(char id[FERRY_SHA256_HEX_LEN + 1], ferry_export_state *st,
			       const char *channel, uint64_t sequence, const char *dir)
{
	sqlite3_stmt *q = NULL;
	int error;

	id[0] = '\0';
	if ((error = ferry_db_prepare(&q, &st->db, "SELECT bundle_id FROM pending WHERE "
				      "channel = ? AND sequence = ? AND dir = ?", "query")) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)sequence);
	sqlite3_bind_text(q, 3, dir, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "query")) > 0) {
		const char *v = ferry_db_text(q, 0);

		if (v && strlen(v) == FERRY_SHA256_HEX_LEN)
			memcpy(id, v, FERRY_SHA256_HEX_LEN + 1);
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_export_state_open(ferry_export_state **out, const char *path)
{
	ferry_export_state *st;
	ferry_buf name = FERRY_BUF_INIT;
	char *copy = strdup(path);
	int error;

	*out = NULL;
	if (!copy)
		return ferry_error_oom();
	error = ferry_fs_mkdir_p(dirname(copy), 0700);
	free(copy);
	if (error < 0)
		return error;
	if (!(st = calloc(1, sizeof(*st))))
		return ferry_error_oom();
	st->lock_fd = -1;
	if ((error = ferry_buf_printf(&name, "export state '%s'", path)) == 0 &&
	    (error = ferry_db_open(&st->db, path, name.ptr, FERRY_DB_CREATE, schema,
				   sizeof(schema) / sizeof(schema[0]))) == 0) {
		/* One export at a time per state: a bundle it was writing when
		 * it died is then known to be no one's (pending). */
		st->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (st->lock_fd < 0 || flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			error = ferry_error_set(FERRY_EEXISTS, "another export is using the "
						"export state '%s'; run this one again when it "
						"has finished", path);
			ferry_export_state_close(st);
		} else {
			*out = st;
		}
	} else {
		free(st);
	}
	ferry_buf_dispose(&name);
	return error;
}

void ferry_export_state_close(ferry_export_state *st)
{
	if (!st)
		return;
	ferry_db_close(&st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st);
}

int ferry_export_state_last_sequence(uint64_t *out, ferry_export_state *st,
				     const char *channel)
{
	static const char sql[] = "SELECT last_sequence FROM channels WHERE name = ?";
	sqlite3_stmt *q = NULL;
	int error;

	*out = 0;
	if ((error = ferry_db_prepare(&q, &st->db, sql, "query")) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "query")) > 0) {
		*out = (uint64_t)sqlite3_column_int64(q, 0);
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}

static int record_blob(ferry_export_state *st, const char *channel, const char *hex,
		       uint64_t sequence, const char *what)
{
	static const char sql[] =
		"INSERT OR IGNORE INTO sent_blobs(channel, digest, sequence) VALUES (?, ?, ?)";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, what)) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)sequence);
	error = ferry_db_step_done(&st->db, q, what);
	ferry_db_release(&st->db, q);
	return error;
}

static int record_ref(ferry_export_state *st, const char *channel, uint64_t sequence,
		      const ferry_sent_ref *ref, const char *what)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO sent_refs(channel, sequence, repo, ref, commit_id) "
		"VALUES (?, ?, ?, ?, ?)";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, what)) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)sequence);
	sqlite3_bind_text(q, 3, ref->repo, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, ref->ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, ref->commit, -1, SQLITE_STATIC);
	error = ferry_db_step_done(&st->db, q, what);
	ferry_db_release(&st->db, q);
	return error;
}

/* Record the bundle itself; FERRY_EEXISTS when the sequence is taken. */
static int record_export(ferry_export_state *st, const ferry_export_record *rec)
{
	static const char ins_sql[] =
		"INSERT INTO exports(channel, sequence, bundle_id, created, files) "
		"VALUES (?, ?, ?, ?, ?)";
	static const char up_sql[] =
		"INSERT INTO channels(name, last_sequence) VALUES (?, ?) "
		"ON CONFLICT(name) DO UPDATE SET last_sequence = excluded.last_sequence "
		"WHERE excluded.last_sequence > last_sequence";
	sqlite3_stmt *q = NULL;
	int error, rc;

	if ((error = ferry_db_prepare(&q, &st->db, ins_sql, "record export")) < 0)
		return error;
	sqlite3_bind_text(q, 1, rec->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)rec->sequence);
	sqlite3_bind_text(q, 3, rec->bundle_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, rec->created);
	sqlite3_bind_text(q, 5, rec->files, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_CONSTRAINT)
		error = ferry_error_set(FERRY_EEXISTS, "channel '%s' already has sequence %llu",
					rec->channel, (unsigned long long)rec->sequence);
	else if (rc != SQLITE_DONE)
		error = ferry_db_error(&st->db, "record export");
	ferry_db_release(&st->db, q);
	if (error)
		return error;
	if ((error = ferry_db_prepare(&q, &st->db, up_sql, "record sequence")) < 0)
		return error;
	sqlite3_bind_text(q, 1, rec->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)rec->sequence);
	error = ferry_db_step_done(&st->db, q, "record sequence");
	ferry_db_release(&st->db, q);
	return error;
}

/* The channel's bindings at `upto`: for each reference its newest log row
 * at or before it, unless that row drops it. */
static const char images_sql[] =
	"SELECT reference, digest FROM sent_images s WHERE channel = ?1 AND "
	"sequence = (SELECT MAX(sequence) FROM sent_images WHERE channel = ?1 AND "
	"reference = s.reference AND sequence <= ?2) AND digest <> '' ORDER BY reference";

int ferry_export_state_images(int *known, ferry_export_state *st, const char *channel,
			      uint64_t upto,
			      int (*fn)(const char *reference, const char *digest,
					void *payload),
			      void *payload)
{
	sqlite3_stmt *q = NULL;
	int error;

	*known = 0;
	if ((error = ferry_db_prepare(&q, &st->db, "SELECT 1 FROM image_states WHERE "
				      "channel = ? AND sequence = ?", "query")) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, upto > INT64_MAX ? INT64_MAX : (sqlite3_int64)upto);
	error = ferry_db_step(&st->db, q, "query");
	ferry_db_release(&st->db, q);
	if (error <= 0)
		return error;
	*known = 1;
	if ((error = ferry_db_prepare(&q, &st->db, images_sql, "query")) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, upto > INT64_MAX ? INT64_MAX : (sqlite3_int64)upto);
	while ((error = ferry_db_step(&st->db, q, "query")) > 0)
		if ((error = fn(ferry_db_text(q, 0), ferry_db_text(q, 1), payload)) != 0)
			break;
	ferry_db_release(&st->db, q);
	return error;
}

/* Log how `rec`'s bindings differ from those of the sequence before it:
 * one merge of two lists in reference order. */
static int record_images(ferry_export_state *st, const ferry_export_record *rec)
{
	static const char ins[] = "INSERT OR REPLACE INTO sent_images(channel, reference, "
				  "sequence, digest) VALUES (?, ?, ?, ?)";
	sqlite3_stmt *q = NULL;
	size_t i = 0;
	int error, row;

	if ((error = ferry_db_prepare(&q, &st->db, images_sql, "record bindings")) < 0)
		return error;
	sqlite3_bind_text(q, 1, rec->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)rec->sequence - 1);
	row = ferry_db_step(&st->db, q, "record bindings");
	while (row >= 0 && (row > 0 || i < rec->nimages)) {
		const char *ref = row > 0 ? ferry_db_text(q, 0) : NULL;
		int c = !ref ? 1 : i == rec->nimages ? -1 : strcmp(ref, rec->images[i].reference);

		if (c < 0)          /* dropped */
			error = ferry_db_run(&st->db, ins, "record bindings", "ssis", rec->channel,
					     ref, (int64_t)rec->sequence, "");
		else if (c > 0 || strcmp(ferry_db_text(q, 1), rec->images[i].digest))
			error = ferry_db_run(&st->db, ins, "record bindings", "ssis", rec->channel,
					     rec->images[i].reference, (int64_t)rec->sequence,
					     rec->images[i].digest);
		if (error < 0)
			break;
		if (c <= 0)
			row = ferry_db_step(&st->db, q, "record bindings");
		if (c >= 0)
			i++;
	}
	if (!error && row < 0)
		error = row;
	ferry_db_release(&st->db, q);
	if (!error)
		error = ferry_db_run(&st->db, "INSERT INTO image_states(channel, sequence) "
				     "VALUES (?, ?)", "record bindings", "si", rec->channel,
				     (int64_t)rec->sequence);
	return error;
}

int ferry_export_state_record(ferry_export_state *st, const ferry_export_record *rec)
{
	size_t i;
	int error;

	if ((error = ferry_db_begin(&st->db, 1)) < 0)
		return error;
	error = record_export(st, rec);
	if (!error)
		error = ferry_db_run(&st->db, "DELETE FROM pending WHERE channel = ?",
				     "record export", "s", rec->channel);
	if (!error && rec->images)
		error = record_images(st, rec);
	if (!error && rec->fingerprint)
		error = ferry_db_run(&st->db, "INSERT INTO export_content(channel, sequence, "
				     "fingerprint) VALUES (?, ?, ?)", "record content", "sis",
				     rec->channel, (int64_t)rec->sequence, rec->fingerprint);
	for (i = 0; i < rec->nblobs && !error; i++)
		error = record_blob(st, rec->channel, rec->blobs[i], rec->sequence, "record blob");
	for (i = 0; i < rec->nrefs && !error; i++)
		error = record_ref(st, rec->channel, rec->sequence, &rec->refs[i], "record ref");
	if (error) {
		ferry_db_rollback(&st->db);
		return error;
	}
	return ferry_db_commit(&st->db);
}

int ferry_export_state_last(ferry_export_last *out, ferry_export_state *st,
			    const char *channel)
{
	static const char sql[] =
		"SELECT e.sequence, e.created, c.fingerprint FROM exports e LEFT JOIN "
		"export_content c ON c.channel = e.channel AND c.sequence = e.sequence "
		"WHERE e.channel = ? ORDER BY e.sequence DESC LIMIT 1";
	sqlite3_stmt *q = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_db_prepare(&q, &st->db, sql, "query")) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	if ((error = ferry_db_step(&st->db, q, "query")) > 0) {
		const char *f = ferry_db_text(q, 2);

		out->sequence = (uint64_t)sqlite3_column_int64(q, 0);
		out->created = sqlite3_column_int64(q, 1);
		if (f && strlen(f) < sizeof(out->fingerprint))
			memcpy(out->fingerprint, f, strlen(f) + 1);
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_export_state_blob_sent(int *out, ferry_export_state *st,
				 const char *channel, uint64_t upto,
				 const char *hex)
{
	static const char sql[] =
		"SELECT 1 FROM sent_blobs WHERE channel = ? AND digest = ? AND sequence <= ? "
		"LIMIT 1";
	sqlite3_stmt *q = NULL;
	int error;

	*out = 0;
	if ((error = ferry_db_prepare(&q, &st->db, sql, "query")) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, upto > INT64_MAX ? INT64_MAX : (sqlite3_int64)upto);
	if ((error = ferry_db_step(&st->db, q, "query")) > 0) {
		*out = 1;
		error = 0;
	}
	ferry_db_release(&st->db, q);
	return error;
}

int ferry_export_state_refs(ferry_export_state *st, const char *channel,
			    uint64_t upto, const char *repo,
			    int (*fn)(const char *ref, const char *commit, void *payload),
			    void *payload)
{
	static const char sql[] =
		"SELECT ref, commit_id FROM sent_refs WHERE channel = ?1 AND repo = ?2 AND "
		"sequence = (SELECT MAX(sequence) FROM sent_refs WHERE channel = ?1 AND "
		"repo = ?2 AND sequence <= ?3) ORDER BY ref";
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = ferry_db_prepare(&q, &st->db, sql, "query")) < 0)
		return error;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, repo, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, upto > INT64_MAX ? INT64_MAX : (sqlite3_int64)upto);
	while ((error = ferry_db_step(&st->db, q, "query")) > 0)
		if ((error = fn(ferry_db_text(q, 0), ferry_db_text(q, 1), payload)) != 0)
			break;
	ferry_db_release(&st->db, q);
	return error;
}

static int rebase_forget(ferry_export_state *st, const char *channel, uint64_t sequence)
{
	/* The receipt is the truth up to its sequence: blobs the enclave no
	 * longer holds (collected as garbage, say) stop counting as held. */
	static const char sql[] = "DELETE FROM sent_blobs WHERE channel = ? AND sequence <= ?";
	return ferry_db_run(&st->db, sql, "forget assumed blobs", "si", channel,
			    (int64_t)sequence);
}

static int rebase_drop_refs(ferry_export_state *st, const char *channel, uint64_t sequence,
			    const char *repo)
{
	static const char sql[] =
		"DELETE FROM sent_refs WHERE channel = ? AND sequence = ? AND repo = ?";
	return ferry_db_run(&st->db, sql, "replace baseline refs", "sis", channel,
			    (int64_t)sequence, repo);
}

int ferry_export_state_rebase(ferry_export_state *st, const char *channel,
			      uint64_t sequence, const char *const *blobs, size_t nblobs,
			      const ferry_sent_ref *refs, size_t nrefs)
{
	size_t i;
	int error;

	if ((error = ferry_db_begin(&st->db, 1)) < 0)
		return error;
	error = rebase_forget(st, channel, sequence);
	for (i = 0; i < nblobs && !error; i++)
		error = record_blob(st, channel, blobs[i], sequence, "record baseline blob");
	for (i = 0; i < nrefs && !error; i++) {
		if ((i == 0 || strcmp(refs[i].repo, refs[i - 1].repo)) &&
		    (error = rebase_drop_refs(st, channel, sequence, refs[i].repo)) < 0)
			break;
		error = record_ref(st, channel, sequence, &refs[i], "record baseline ref");
	}
	if (error) {
		ferry_db_rollback(&st->db);
		return error;
	}
	return ferry_db_commit(&st->db);
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
