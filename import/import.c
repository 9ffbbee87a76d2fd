/*
 * Import (see import.h). Every file is read once by the verifying reader;
 * its entries stream into a staging directory on the store's filesystem
 * (blobs the store already holds are hashed but not written again). The
 * files group into bundles by their manifests, and each bundle stands on
 * its own: a file that fails refuses its bundle (naming the volume to send
 * again), the others read on. Then, per channel in sequence order, a
 * bundle whose files all verified, whose split members hash whole, whose
 * prerequisites are held (by the store or a bundle before it that was not
 * refused) and whose sequence is acceptable is published: blobs by rename,
 * then one database transaction of its own for tags, refs, blobs, the
 * channel sequence, the import record and the audit event. The OCI layout
 * view follows once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "bindings.h"
#include "direct.h"
#include "catalog.h"
#include "closure.h"
#include "digest.h"
#include "fs.h"
#include "fsck.h"
#include "git_store.h"
#include "hash.h"
#include "import.h"
#include "json.h"
#include "log.h"
#include "members.h"
#include "pipe.h"
#include "reader.h"
#include "reference.h"
#include "trust.h"
#include "util.h"
#include "banned.h"

/* How far ahead of the local clock a bundle's creation time may be. */
#define FUTURE_TOLERANCE (24 * 3600)
/* Entries up to this size are written on the reading thread: for them the
 * hand-over to the writer costs more than the copy it would overlap. */
#define DIRECT_MAX (64u << 10)

/*
 * Staging writes run on a second thread (core/pipe.h), so that hashing the
 * next block (on the reading thread) overlaps copying the previous one into
 * the page cache. A ring of a few 1 MiB buffers bounds the memory.
 */
typedef struct {
	ferry_pipe *pipe;
	ferry_direct dio;           /* the file being written (the pipe's thread
				       while it runs, the caller's once drained) */
	uint64_t flushed;           /* writeback started up to here */
} writer;

/* Large members go past the page cache (core/direct.h); where the file
 * system does not take that, writeback starts as data arrives, so that the
 * sync before publishing (sync_staged) does not wait for all of it. */
static int writer_write(void *payload, const void *buf, size_t len, int fd, uint64_t at)
{
	writer *w = payload;
	int error;

	if (fd != w->dio.fd) {
		ferry_direct_begin(&w->dio, fd, at);
		w->flushed = at;
	}
	if ((error = ferry_direct_write(&w->dio, buf, len)) == 0 && !w->dio.direct)
		ferry_fs_start_writeback(fd, &w->flushed, at + len);
	return error;
}

static int writer_start(writer *w)
{
	int error;

	memset(w, 0, sizeof(*w));
	if ((error = ferry_direct_init(&w->dio)) < 0)
		return error;
	if ((error = ferry_pipe_start(&w->pipe, writer_write, w)) < 0)
		ferry_direct_dispose(&w->dio);
	return error;
}

/* Queue `len` bytes for `fd` at `at`; blocks while the ring is full. */
static void writer_put(writer *w, int fd, uint64_t at, const void *buf, size_t len)
{
	ferry_pipe_put(w->pipe, fd, at, buf, len);
}

/* Wait until everything queued is written, then the file's last bytes;
 * the first write error, if any. */
static int writer_drain(writer *w, const char *what)
{
	int error = ferry_pipe_drain(w->pipe), last = ferry_direct_finish(&w->dio);

	if (!error)
		error = last;
	if (error) {
		errno = error;
		return ferry_error_set_errno(FERRY_EIO, "cannot stage '%s'", what);
	}
	return 0;
}

static void writer_stop(writer *w)
{
	ferry_pipe_stop(w->pipe);
	w->pipe = NULL;
	ferry_direct_dispose(&w->dio);
}

/* staged_bundle.staged[member]: 0 neither staged nor checked */
#define STAGED_NEW 1        /* staged: the store lacks it */
#define STAGED_REPAIR 2     /* staged: replaces the store's damaged copy */
#define HELD_INTACT (-1)    /* held, and rehashed intact (--verify-held) */

typedef struct {
	ferry_manifest *m;          /* owned, once a file of it has been read */
	char id[FERRY_SHA256_HEX_LEN + 1];
	char *dir;                  /* staging directory of this bundle */
	int *volume_ok;
	int *staged;                /* per member: STAGED_* or HELD_INTACT */
	unsigned char *published;   /* per member: moved into the store as new */
	ferry_git_staged **git;     /* per repository, once staged */
	ferry_trust_root *rotation; /* a new trust root the bundle carries */
	int already;                /* imported before: nothing to do */
	int superseded;             /* older than its channel: skipped */
	int refused;                /* a check failed: nothing published */
	int error;                  /* refused: the code */
	char *reason;               /* refused or superseded: why */
	char *file;                 /* one of its files that verified */
	ferry_buf files;            /* its files, one a line */
	uint64_t bytes;
	ferry_envelope_info sig;
} staged_bundle;

/* A file that failed before any bundle could be named for it. */
typedef struct {
	char *path;
	int error;
	char *reason;
} failed_file;

typedef struct {
	ferry_store *st;
	const ferry_import_options *opts;
	char *staging;
	staged_bundle *b;
	size_t nb;
	/* the entry being staged */
	staged_bundle *cur;
	int fd;
	uint64_t at;
	const char *cur_path;
	int direct;                 /* small: written here, not by the writer */
	int direct_error;           /* errno of a failed direct write */
	int async_error;            /* errno of a failed write of a large
				     * entry (the reader's worker) */
	int stage_failed;           /* staging a member failed: the store's
				     * disk, not the bundle, is at fault */
	/* progress over all files */
	uint64_t base, total;
	writer w;
	failed_file *ff;
	size_t nff;
	int alarm;                  /* the failure is an alarm, not a rejection */
	int64_t now;                /* the local clock */
} import_ctx;

/* ---- audit --------------------------------------------------------------- */

static void audit(import_ctx *c, const char *event, const ferry_manifest *m,
		  const ferry_envelope_info *sig, const char *outcome,
		  const char *reason)
{
	ferry_store_audit_entry e = { 0 };
	ferry_buf signers = FERRY_BUF_INIT;
	int64_t now = (int64_t)time(NULL);
	size_t i;

	if (c->opts->dry_run)
		return;
	for (i = 0; sig && i < sig->nsigners; i++)
		if (ferry_buf_printf(&signers, "%s%s", i ? "," : "", sig->signers[i]) < 0) {
			/* a row without its signers would say something false */
			ferry_log(FERRY_LOG_WARN, "import: audit event '%s' not written: %s",
				  event, ferry_error_last());
			ferry_buf_dispose(&signers);
			return;
		}
	e.time = now;
	e.event = event;
	if (m) {
		e.bundle_id = m->id;
		e.channel = m->channel;
		e.sequence = m->sequence;
	}
	e.signers = signers.ptr ? signers.ptr : "";
	e.outcome = outcome;
	e.reason = reason;
	/* The audit trail is best effort here: the import's own outcome is
	 * what the caller reports. */
	if (ferry_store_audit_add(c->st, &e) < 0)
		ferry_log(FERRY_LOG_WARN, "%s", ferry_error_last());
	if (c->opts->audit_log) {
		json_t *o = ferry_store_audit_json(&e);

		if (o) {
			json_dumpf(o, c->opts->audit_log, JSON_COMPACT | JSON_SORT_KEYS);
			fputc('\n', c->opts->audit_log);
			fflush(c->opts->audit_log);
		}
		json_decref(o);
	}
	ferry_buf_dispose(&signers);
}

/* ---- channel history ------------------------------------------------------ */

/* The channel's last accepted sequence and bundle id (0 and "" if none). */
static int channel_state(import_ctx *c, const char *channel, uint64_t *seq,
			 char id[FERRY_SHA256_HEX_LEN + 1])
{
	ferry_store_channel ch;
	int error;

	*seq = 0;
	id[0] = '\0';
	if ((error = ferry_store_channel_get(&ch, c->st, channel)) == FERRY_ENOTFOUND) {
		ferry_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	*seq = ch.sequence;
	snprintf(id, FERRY_SHA256_HEX_LEN + 1, "%s", ch.bundle_id);
	ferry_store_channel_dispose(&ch);
	return 0;
}

/*
 * Replay and rollback defence: a lower sequence is a rollback, the same
 * sequence with the same bundle a no-op, with another bundle an alarm.
 */
static int check_sequence(import_ctx *c, staged_bundle *b, const ferry_manifest *m)
{
	char last_id[FERRY_SHA256_HEX_LEN + 1];
	uint64_t last;
	int before, error;

	if ((error = ferry_store_import_seen(&before, c->st, m->id)) < 0 ||
	    (error = channel_state(c, m->channel, &last, last_id)) < 0)
		return error;
	if (before || (m->sequence == last && !strcmp(last_id, m->id))) {
		b->already = 1;
		return 0;
	}
	if (m->created > c->now + FUTURE_TOLERANCE) {
		char when[32], clock[32];

		ferry_time_format(when, sizeof(when), m->created);
		ferry_time_format(clock, sizeof(clock), c->now);
		return ferry_error_set(FERRY_EVERIFY,
				       "bundle was created at %s, more than a day after "
				       "this machine's clock (%s); check both clocks",
				       when, clock);
	}
	if (m->sequence == last) {
		c->alarm = 1;
		return ferry_error_set(FERRY_EVERIFY,
				       "ALARM: channel '%s' sequence %llu was already "
				       "imported as bundle %.16s; this bundle %.16s has the "
				       "same sequence and other content",
				       m->channel, (unsigned long long)m->sequence,
				       last_id, m->id);
	}
	if (m->sequence < last) {
		/* Skipped when given with others, refused when alone (decided
		 * once every file is read). */
		ferry_error_set(FERRY_EVERIFY, "channel '%s' is at sequence %llu; "
				"this bundle has sequence %llu", m->channel,
				(unsigned long long)last, (unsigned long long)m->sequence);
		if (!(b->reason = strdup(ferry_error_last())))
			return ferry_error_oom();
		ferry_error_clear();
		b->superseded = 1;
	}
	return 0;
}

/* Neither skipped nor refused: to be checked and published. */
static int live(const staged_bundle *b)
{
	return b->m && !b->already && !b->superseded && !b->refused;
}

/*
 * Refuse bundle `b` (or, when NULL, the file `path`) with the last error,
 * keeping the first reason, and record the audit event.
 */
static int refuse(import_ctx *c, staged_bundle *b, const char *path, int error,
		  const ferry_manifest *m, const ferry_envelope_info *sig)
{
	char *reason = strdup(ferry_error_last());

	if (!reason)
		return ferry_error_oom();
	audit(c, c->alarm ? "alarm" : "reject", m, sig, "rejected", reason);
	if (b) {
		if (b->refused) {
			free(reason);
			return 0;
		}
		b->refused = 1;
		b->error = error;
		free(b->reason);
		b->reason = reason;
		return 0;
	}
	{
		failed_file *grown = realloc(c->ff, (c->nff + 1) * sizeof(*grown));

		if (!grown || !(grown[c->nff].path = strdup(path))) {
			c->ff = grown ? grown : c->ff;
			free(reason);
			return ferry_error_oom();
		}
		c->ff = grown;
		grown[c->nff].error = error;
		grown[c->nff++].reason = reason;
	}
	return 0;
}

/* ---- staging sink ---------------------------------------------------------- */

static int is_blob(const ferry_member *mem)
{
	return ferry_bundle_blob_member_hex(mem->path) != NULL;
}

static staged_bundle *find_bundle(import_ctx *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->nb; i++)
		if (!strcmp(c->b[i].id, id))
			return &c->b[i];
	return NULL;
}

static int add_bundle(import_ctx *c, const ferry_manifest *m, staged_bundle **out)
{
	staged_bundle *grown = realloc(c->b, (c->nb + 1) * sizeof(*grown)), *b;
	ferry_buf dir = FERRY_BUF_INIT;
	int error = 0;

	if (!grown)
		return ferry_error_oom();
	c->b = grown;
	b = &c->b[c->nb];
	memset(b, 0, sizeof(*b));
	memcpy(b->id, m->id, sizeof(b->id));
	b->volume_ok = calloc(m->nvolumes, sizeof(int));
	b->staged = calloc(m->nmembers, sizeof(int));
	if (!b->volume_ok || !b->staged ||
	    (error = ferry_buf_printf(&dir, "%s/%.16s", c->staging, m->id)) < 0 ||
	    (error = ferry_fs_mkdir_p(dir.ptr, 0700)) < 0) {
		free(b->volume_ok);
		free(b->staged);
		ferry_buf_dispose(&dir);
		return error ? error : ferry_error_oom();
	}
	b->dir = ferry_buf_detach(&dir);
	c->nb++;
	*out = b;
	return 0;
}

static int staged_path(ferry_buf *out, const staged_bundle *b, size_t member)
{
	return ferry_buf_printf(out, "%s/m%zu", b->dir, member);
}

/*
 * Whether the store's copy of blob member `k` may stand: 1 when it is not
 * to be checked (no --verify-held) or hashes to its name, 0 when it is
 * damaged and the bundle's copy, staged like a new blob, replaces it.
 */
static int held_intact(import_ctx *c, staged_bundle *b, const ferry_member *mem, size_t k)
{
	int error;

	if (!c->opts->verify_held || b->staged[k] == HELD_INTACT)
		return 1;
	if ((error = ferry_store_blob_verify(c->st, mem->sha256, mem->size)) == 0) {
		b->staged[k] = HELD_INTACT;
		return 1;
	}
	if (error != FERRY_ECORRUPT)
		return error;
	ferry_log(FERRY_LOG_WARN, "%s; the copy bundle %.16s carries replaces it",
		  ferry_error_last(), b->id);
	b->staged[k] = STAGED_REPAIR;
	return 0;
}

static int sink_begin(void *payload, const ferry_manifest *m, size_t volume,
		      const ferry_part *part)
{
	import_ctx *c = payload;
	staged_bundle *b = find_bundle(c, m->id);
	const ferry_member *mem = &m->members[part->member];
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	(void)volume;
	if (!b) {
		if ((error = add_bundle(c, m, &b)) < 0)
			return error;
		if ((error = check_sequence(c, b, m)) < 0)
			return error;
	}
	c->cur = b;
	c->fd = -1;
	c->at = part->offset;
	c->cur_path = mem->path;
	c->direct = part->size <= DIRECT_MAX;
	c->direct_error = 0;
	c->async_error = 0;
	if (b->already || b->superseded || b->refused)
		return FERRY_EEXISTS;  /* stop reading: nothing to do */
	if (is_blob(mem) && b->staged[part->member] <= 0 &&
	    ferry_store_has_blob(c->st, mem->sha256 /* = name */) &&
	    (error = held_intact(c, b, mem, part->member)) != 0)
		return error < 0 ? error : 0;   /* hashed by the reader, not written again */
	if ((error = staged_path(&path, b, part->member)) < 0)
		return error;
	c->fd = open(path.ptr, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (c->fd < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot stage '%s'", path.ptr);
		c->stage_failed = 1;
	}
	else if (!b->staged[part->member])
		b->staged[part->member] = STAGED_NEW;
	ferry_buf_dispose(&path);
	return error;
}

static int sink_data(void *payload, const void *buf, size_t len)
{
	import_ctx *c = payload;

	if (c->fd < 0)
		return 0;
	if (!c->direct)
		writer_put(&c->w, c->fd, c->at, buf, len);
	else if (!c->direct_error)
		c->direct_error = ferry_fs_pwrite_all(c->fd, buf, len, c->at);
	c->at += len;
	return 0;
}

/* A large entry, on the reader's worker beside its hash: written from the
 * reader's buffers, past the page cache where it can (core/direct.h). */
static void sink_data_async(void *payload, const void *buf, size_t len, uint64_t at)
{
	import_ctx *c = payload;

	if (c->fd >= 0 && !c->async_error)
		c->async_error = writer_write(&c->w, buf, len, c->fd, c->at + at);
}

static int sink_end(void *payload, int error)
{
	import_ctx *c = payload;
	int fd = c->fd, werror;

	c->fd = -1;
	if (fd < 0)
		return 0;
	if (!c->direct) {
		werror = writer_drain(&c->w, c->cur_path);
		if (!werror && (errno = c->async_error) != 0)
			werror = ferry_error_set_errno(FERRY_EIO, "cannot stage '%s'",
						       c->cur_path);
	} else if ((errno = c->direct_error) != 0)
		werror = ferry_error_set_errno(FERRY_EIO, "cannot stage '%s'", c->cur_path);
	else
		werror = 0;
	if (error || werror) {
		close(fd);
		if (!error)
			c->stage_failed = 1;
		return error ? 0 : werror;
	}
	/* Not synced here: the staging filesystem is synced once before
	 * anything is published (sync_staged). */
	if (close(fd) < 0) {
		c->stage_failed = 1;
		return ferry_error_set_errno(FERRY_EIO, "cannot stage '%s'", c->cur_path);
	}
	return 0;
}

static void progress(uint64_t done, uint64_t total, void *payload)
{
	import_ctx *c = payload;

	(void)total;
	if (c->opts->progress)
		c->opts->progress(c->base + done, c->total, c->opts->progress_payload);
}

/* ---- checks after reading -------------------------------------------------- */

/*
 * Append what to resend: "volume 4 of 8 (file NAME) of bundle ID, channel
 * C sequence N: send it again". NAME is `file`'s last component, or when
 * `file` is NULL the name the writer gives volume `v` (from another file of
 * the bundle named <basename>.volNNN.tar); without either, no file is named.
 */
static int resend(ferry_buf *out, const staged_bundle *b, size_t v, const char *file)
{
	static const char pattern[] = ".vol000" FERRY_BUNDLE_FILE_SUFFIX;
	const size_t tail = sizeof(pattern) - 1;
	ferry_buf name = FERRY_BUF_INIT;
	const char *from = file ? file : b->file, *base;
	size_t len;
	int error = 0;

	if (from) {
		base = strrchr(from, '/') ? strrchr(from, '/') + 1 : from;
		len = strlen(base);
		if (file)
			error = ferry_buf_printf(&name, " (file %s)", base);
		else if (len > tail && !strncmp(base + len - tail, ".vol", 4) && v < 999)
			error = ferry_buf_printf(&name, " (file %.*s" FERRY_BUNDLE_VOLUME_FORMAT
						 FERRY_BUNDLE_FILE_SUFFIX ")", (int)(len - tail),
						 base, v + 1);
	}
	if (!error)
		error = ferry_buf_printf(out, "%svolume %zu of %zu%s of bundle %.16s, channel %s "
					 "sequence %llu: send it again", out->size ? "; " : "",
					 v + 1, b->m->nvolumes, name.ptr ? name.ptr : "", b->id,
					 b->m->channel, (unsigned long long)b->m->sequence);
	ferry_buf_dispose(&name);
	return error;
}

static int check_volumes(const staged_bundle *b)
{
	ferry_buf missing = FERRY_BUF_INIT;
	size_t v, n = 0;
	int error = 0;

	for (v = 0; v < b->m->nvolumes && !error; v++)
		if (!b->volume_ok[v] && n++ < 32)
			error = resend(&missing, b, v, NULL);
	if (!error && n)
		error = ferry_error_set(FERRY_EVERIFY, "missing: %s%s", missing.ptr,
					n > 32 ? "; ..." : "");
	ferry_buf_dispose(&missing);
	return error;
}

/* A member split over volumes is checked whole once all pieces are in. */
static int check_split_members(const staged_bundle *b)
{
	const ferry_manifest *m = b->m;
	ferry_buf path = FERRY_BUF_INIT;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	size_t v, k;
	int error = 0;

	if (m->nvolumes < 2)
		return 0;
	for (v = 0; v < m->nvolumes && !error; v++)
		for (k = 0; k < m->volumes[v].nparts && !error; k++) {
			const ferry_part *p = &m->volumes[v].parts[k];

			if (p->whole || p->offset != 0 || b->staged[p->member] <= 0)
				continue;
			ferry_buf_clear(&path);
			if ((error = staged_path(&path, b, p->member)) < 0 ||
			    (error = ferry_sha256_file(hex, NULL, path.ptr)) < 0)
				break;
			if (strcmp(hex, m->members[p->member].sha256))
				error = ferry_error_set(FERRY_ECORRUPT,
							"member '%s' does not match its digest "
							"once its pieces are joined",
							m->members[p->member].path);
		}
	ferry_buf_dispose(&path);
	return error;
}

/* Does bundle `b` carry blob `hex`? (member names are checked to be the
 * digests of their content when the manifest is parsed) */
static int carries(const staged_bundle *b, const char *hex)
{
	char member[FERRY_BLOB_MEMBER_SIZE];

	ferry_bundle_blob_member(member, hex);
	return ferry_manifest_find(b->m, member) >= 0;
}

/* Does a bundle published earlier in this import (before index `upto`,
 * in publish order) carry blob `hex`? */
static int carried(const import_ctx *c, size_t upto, const char *hex)
{
	size_t i;

	for (i = 0; i < upto && i < c->nb; i++)
		if (live(&c->b[i]) && carries(&c->b[i], hex))
			return 1;
	return 0;
}

/* An error of the system the import runs on (memory, the store's disk),
 * not of the bundle: it fails the call and refuses no bundle. */
static int system_fault(int error)
{
	return error == FERRY_ENOMEM || error == FERRY_EIO;
}

/* Held by the store, by this bundle, or by one published before it. */
static int held(const import_ctx *c, size_t index, const char *hex)
{
	return carries(&c->b[index], hex) || ferry_store_has_blob(c->st, hex) ||
	       carried(c, index, hex);
}

static int check_prerequisites(import_ctx *c, size_t index)
{
	const staged_bundle *b = &c->b[index];
	const ferry_manifest *m = b->m;
	ferry_buf missing = FERRY_BUF_INIT;
	char last_id[FERRY_SHA256_HEX_LEN + 1];
	uint64_t last;
	size_t i, n = 0;
	int error = 0;

	/* A bundle of this import the channel's store state does not yet
	 * hold, at or below the base this one builds on, was refused. */
	if ((error = channel_state(c, m->channel, &last, last_id)) < 0)
		return error;
	for (i = 0; i < index; i++) {
		const staged_bundle *p = &c->b[i];

		if (p->refused && p->m && !strcmp(p->m->channel, m->channel) &&
		    p->m->sequence > last && p->m->sequence <= m->base_sequence)
			return ferry_error_set(FERRY_EVERIFY,
					       "bundle %.16s (channel %s, sequence %llu) builds "
					       "on sequence %llu, and bundle %.16s (sequence "
					       "%llu) it needs was refused in this import",
					       b->id, m->channel, (unsigned long long)m->sequence,
					       (unsigned long long)m->base_sequence, p->id,
					       (unsigned long long)p->m->sequence);
	}

	/* Every image binding must resolve to content the store will hold
	 * (digests parsed with the manifest). */
	for (i = 0; i < m->nimages; i++)
		if (!held(c, index, ferry_oci_digest_hex(m->images[i].digest)))
			return ferry_error_set(FERRY_EVERIFY,
					       "bundle %.16s binds '%s' to %s, which neither "
					       "the bundle nor the store holds", b->id,
					       m->images[i].reference, m->images[i].digest);
	for (i = 0; i < m->nprereq_blobs; i++) {
		const char *hex = ferry_oci_digest_hex(m->prereq_blobs[i]);

		if (held(c, index, hex))
			continue;
		if (n++ < 8)
			ferry_buf_printf_best_effort(&missing, "%s%s", n > 1 ? ", " : "",
						     m->prereq_blobs[i]);
	}
	if (n)
		error = ferry_error_set(FERRY_EVERIFY,
					"bundle %.16s (channel %s, sequence %llu) builds on "
					"sequence %llu and the store lacks %zu blob(s) it "
					"needs: %s%s; import the channel's bundles up to "
					"sequence %llu first", b->id, m->channel,
					(unsigned long long)m->sequence,
					(unsigned long long)m->base_sequence, n,
					missing.ptr ? missing.ptr : "", n > 8 ? ", ..." : "",
					(unsigned long long)m->base_sequence);
	ferry_buf_dispose(&missing);
	return error;
}

/*
 * An incremental bundle of format 2 carries only the bindings that changed
 * and states the channel's whole state after it. Move the channel's
 * bindings as the store holds them through the bundles of this import
 * before this one, then this one, and compare: a different state means the
 * store is not at the base the sender assumed.
 */
static int load_binding(const char *reference, const char *digest, void *payload)
{
	return ferry_bindings_add(payload, reference, digest);
}

static int check_state(import_ctx *c, size_t index)
{
	const staged_bundle *b = &c->b[index];
	const ferry_manifest *m = b->m;
	ferry_bindings have = { NULL, 0, 0 };
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t at;
	size_t i;
	int error;

	if (m->version == FERRY_BUNDLE_FORMAT_V1 || m->bindings_all)
		return 0;
	/* The base must be here, or come earlier in this import. */
	if ((error = channel_state(c, m->channel, &at, hex)) < 0)
		return error;
	for (i = 0; i < index; i++)
		if (live(&c->b[i]) && !strcmp(c->b[i].m->channel, m->channel) &&
		    c->b[i].m->sequence > at)
			at = c->b[i].m->sequence;
	if (at < m->base_sequence)
		return ferry_error_set(FERRY_EVERIFY,
				       "bundle %.16s (channel %s, sequence %llu) builds on "
				       "sequence %llu and this store holds the channel at "
				       "sequence %llu; import the channel's bundles up to "
				       "sequence %llu first", b->id, m->channel,
				       (unsigned long long)m->sequence,
				       (unsigned long long)m->base_sequence,
				       (unsigned long long)at,
				       (unsigned long long)m->base_sequence);
	error = ferry_store_channel_images_foreach(c->st, m->channel, load_binding, &have);
	for (i = 0; i < index && !error; i++)
		if (live(&c->b[i]) && !strcmp(c->b[i].m->channel, m->channel))
			error = ferry_bindings_apply(&have, c->b[i].m);
	if (!error && (error = ferry_bindings_apply(&have, m)) == 0 &&
	    (error = ferry_bindings_digest(hex, &have)) == 0 &&
	    (have.n != m->state_images || strcmp(hex, m->state_sha256)))
		error = ferry_error_set(FERRY_EVERIFY,
					"bundle %.16s (channel %s, sequence %llu) changes the "
					"image bindings of sequence %llu, but the channel's "
					"bindings here would then be %zu (sha256:%.12s...), not "
					"the %zu (sha256:%.12s...) it states: this store does not "
					"hold the bindings that bundle left; import the "
					"channel's missing bundles, or a full bundle",
					b->id, m->channel, (unsigned long long)m->sequence,
					(unsigned long long)m->base_sequence, have.n, hex,
					m->state_images, m->state_sha256);
	ferry_bindings_dispose(&have);
	return error;
}

/* Where blob `hex` is before anything is published: staged by this bundle
 * or one before it in this import, or held by the store. */
typedef struct {
	const import_ctx *c;
	size_t index;
} image_locator;

static int locate_staged(ferry_buf *path, const char *hex, void *payload)
{
	const image_locator *l = payload;
	char member[FERRY_OCI_BLOB_MEMBER_SIZE];
	size_t j;
	long k;

	ferry_oci_blob_member(member, hex);
	for (j = 0; j <= l->index && j < l->c->nb; j++) {
		const staged_bundle *b = &l->c->b[j];

		if ((j < l->index && !live(b)) || !b->m ||
		    (k = ferry_manifest_find(b->m, member)) < 0 ||
		    b->staged[k] <= 0)  /* not staged, or held intact */
			continue;
		return staged_path(path, b, (size_t)k);
	}
	if (!ferry_store_has_blob(l->c->st, hex))
		return FERRY_ENOTFOUND;
	return ferry_store_blob_path(path, l->c->st, hex);
}

/*
 * The receiver does not trust the sender's checks: every image binding
 * must name a reference in the OCI grammar, be bound to a manifest or an
 * index, and resolve within the walk's limits to content that is held
 * (in this bundle, an earlier one of this import, or the store) with the
 * sizes its descriptors state.
 */
static int check_images(const import_ctx *c, size_t index)
{
	const staged_bundle *b = &c->b[index];
	const ferry_manifest *m = b->m;
	ferry_store_closure cl = FERRY_STORE_CLOSURE_INIT;
	ferry_store_closure_options o = FERRY_STORE_CLOSURE_OPTIONS_INIT;
	image_locator l = { c, index };
	ferry_buf what = FERRY_BUF_INIT;
	size_t i;
	int error = 0;

	o.flags = FERRY_STORE_CLOSURE_HELD;
	o.locate = locate_staged;
	o.where = "is neither in the bundle nor in the store";
	o.payload = &l;
	for (i = 0; i < m->nimages && !error; i++) {
		const ferry_image_ref *img = &m->images[i];

		ferry_buf_clear(&what);
		if ((error = ferry_buf_printf(&what, "'%s'", img->reference)) < 0)
			break;
		o.what = what.ptr;
		if ((error = ferry_reference_check(img->reference)) < 0)
			break;
		if (!ferry_oci_is_document(img->media_type)) {
			error = ferry_error_set(FERRY_EINVALID, "'%s' is bound to a '%.100s', not "
						"to a manifest or an index", img->reference,
						img->media_type);
			break;
		}
		error = ferry_store_closure_add(&cl, c->st, &o, img->digest, img->media_type);
	}
	if (error)
		error = ferry_error_wrap(system_fault(error) ? error : FERRY_EVERIFY,
					 "bundle %.16s (channel %s, sequence %llu) refused",
					 b->id, m->channel, (unsigned long long)m->sequence);
	ferry_store_closure_dispose(&cl);
	ferry_buf_dispose(&what);
	return error;
}

/*
 * Rollback across channels: a tag or ref may only be moved by a bundle
 * created after the one that set it, whichever channel that was.
 */
static int check_moves(import_ctx *c, const staged_bundle *b)
{
	const ferry_manifest *m = b->m;
	size_t i, k;
	int error = 0;

	for (i = 0; i < m->nimages && !error; i++) {
		ferry_store_tag tag;

		if ((error = ferry_store_tag_get(&tag, c->st, m->images[i].reference)) ==
		    FERRY_ENOTFOUND) {
			ferry_error_clear();
			error = 0;
			continue;
		}
		if (error < 0)
			break;
		if (strcmp(tag.digest, m->images[i].digest) && tag.created > m->created)
			error = ferry_error_set(FERRY_EVERIFY,
						"rollback: '%s' was set by a newer bundle of "
						"channel '%s'; this bundle of channel '%s' is "
						"older", m->images[i].reference, tag.channel,
						m->channel);
		ferry_store_tag_dispose(&tag);
	}
	for (i = 0; i < m->nrepos && !error; i++)
		for (k = 0; k < m->repos[i].nrefs && !error; k++) {
			const ferry_git_repo *r = &m->repos[i];
			ferry_store_ref ref;

			if ((error = ferry_store_ref_get(&ref, c->st, r->name, r->refs[k].name)) ==
			    FERRY_ENOTFOUND) {
				ferry_error_clear();
				error = 0;
				continue;
			}
			if (error < 0)
				break;
			if (strcmp(ref.commit, r->refs[k].commit) && ref.created > m->created)
				error = ferry_error_set(FERRY_EVERIFY,
							"rollback: %s %s was set by a newer "
							"bundle of channel '%s'; this bundle of "
							"channel '%s' is older", r->name,
							r->refs[k].name, ref.channel, m->channel);
			ferry_store_ref_dispose(&ref);
		}
	return error;
}

/*
 * A bundle may carry a new trust root (signed by a threshold of the current
 * keys and of its own): checked now, installed once the bundle is recorded,
 * so the bundles after it are judged by the new root.
 */
static int check_rotation(import_ctx *c, staged_bundle *b)
{
	long k = ferry_manifest_find(b->m, FERRY_TRUST_ROOT_MEMBER);
	ferry_buf path = FERRY_BUF_INIT, file = FERRY_BUF_INIT;
	int error;

	if (k < 0)
		return 0;
	if ((error = staged_path(&path, b, (size_t)k)) < 0 ||
	    (error = ferry_fs_read_file(&file, path.ptr, FERRY_TRUST_ROOT_MAX_SIZE)) < 0 ||
	    (error = ferry_trust_check_rotation(&b->rotation, c->st, file.ptr, file.size,
						c->now)) < 0)
		error = ferry_error_wrap(error, "bundle %.16s carries a trust root that "
					 "cannot be installed", b->id);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&file);
	return error;
}

/* Index each repository's pack in quarantine and check it is complete. */
static int stage_git(import_ctx *c, size_t index)
{
	staged_bundle *b = &c->b[index];
	const ferry_manifest *m = b->m;
	ferry_buf path = FERRY_BUF_INIT;
	const char **borrow = NULL;
	size_t i, j, k, nborrow;
	int error = 0;

	if (!m->nrepos)
		return 0;
	if (!(b->git = calloc(m->nrepos, sizeof(*b->git))))
		return ferry_error_oom();
	for (i = 0; i < m->nrepos && !error; i++) {
		const ferry_git_repo *r = &m->repos[i];
		const char *file = NULL;

		ferry_buf_clear(&path);
		if (r->bundle) {
			const char *hex = ferry_oci_digest_hex(r->bundle);
			char member[FERRY_BLOB_MEMBER_SIZE];
			long at;

			ferry_bundle_blob_member(member, hex);
			at = ferry_manifest_find(m, member);
			if (at >= 0 && b->staged[at] > 0)
				error = staged_path(&path, b, (size_t)at);
			else
				error = ferry_store_blob_path(&path, c->st, hex);
			file = path.ptr;
		}
		/* Earlier bundles of this import lend their objects. */
		nborrow = 0;
		free(borrow);
		if (!error && !(borrow = calloc(index + 1, sizeof(*borrow))))
			error = ferry_error_oom();
		for (j = 0; !error && j < index; j++)
			for (k = 0; live(&c->b[j]) && c->b[j].git && k < c->b[j].m->nrepos; k++)
				if (!strcmp(c->b[j].m->repos[k].name, r->name) &&
				    ferry_git_staged_objects(c->b[j].git[k]))
					borrow[nborrow++] = ferry_git_staged_objects(c->b[j].git[k]);
		if (!error)
			error = ferry_git_stage(&b->git[i], c->st, b->dir, r, file,
						m->base_sequence, borrow, nborrow,
						&c->opts->git_limits);
	}
	free(borrow);
	ferry_buf_dispose(&path);
	return error;
}

/* ---- publishing ------------------------------------------------------------ */

/*
 * Staged files are written without an fsync each; before the first rename
 * out of staging, one syncfs of the store's filesystem makes all of them
 * durable (an fsync per file costs a journal commit per file). Nothing to
 * do when no bundle is to be published or nothing was staged.
 */
static int sync_staged(import_ctx *c)
{
	size_t i, k;

	for (i = 0; i < c->nb; i++) {
		const staged_bundle *b = &c->b[i];

		if (b->refused || b->already || b->superseded)
			continue;
		for (k = 0; k < b->m->nmembers; k++)
			if (b->staged[k] > 0)
				return ferry_fs_sync_filesystem(c->staging);
	}
	return 0;
}

static int publish_blobs(import_ctx *c, staged_bundle *b)
{
	const ferry_manifest *m = b->m;
	ferry_buf from = FERRY_BUF_INIT, to = FERRY_BUF_INIT;
	size_t k;
	int error = 0;

	if (!(b->published = calloc(m->nmembers ? m->nmembers : 1, 1)))
		return ferry_error_oom();
	for (k = 0; k < m->nmembers && !error; k++) {
		if (!is_blob(&m->members[k]) || b->staged[k] <= 0)
			continue;
		ferry_buf_clear(&from);
		ferry_buf_clear(&to);
		if ((error = staged_path(&from, b, k)) < 0 ||
		    (error = ferry_store_blob_path(&to, c->st, m->members[k].sha256)) < 0)
			break;
		if (b->staged[k] != STAGED_NEW) {
			if (rename(from.ptr, to.ptr) < 0)
				error = ferry_error_set_errno(FERRY_EIO, "cannot publish '%s'", to.ptr);
			continue;
		}
		if ((error = ferry_fs_rename_noreplace(from.ptr, to.ptr)) == FERRY_EEXISTS) {
			error = 0;
			unlink(from.ptr);   /* another bundle of this import brought it */
		} else if (!error) {
			b->published[k] = 1;
		}
	}
	if (!error) {
		ferry_buf_clear(&to);
		if ((error = ferry_store_blob_path(&to, c->st, "x")) == 0)
			error = ferry_fs_fsync_parent(to.ptr);
	}
	ferry_buf_dispose(&from);
	ferry_buf_dispose(&to);
	return error;
}

/*
 * Publishing bundle `b` failed before its records were committed: take the
 * blobs it moved into the store as new out again, so that the store holds
 * no file its database does not record (best effort: what stays is
 * garbage that gc and fsck name). Git objects stay, unreferenced.
 */
static void unpublish_blobs(import_ctx *c, staged_bundle *b)
{
	ferry_buf path = FERRY_BUF_INIT;
	size_t k;

	for (k = 0; b->published && k < b->m->nmembers; k++) {
		if (!b->published[k])
			continue;
		ferry_buf_clear(&path);
		if (ferry_store_blob_path(&path, c->st, b->m->members[k].sha256) == 0)
			unlink(path.ptr);
	}
	ferry_buf_dispose(&path);
}

/* The size of a tagged document: from the bundle, or from the store. */
static uint64_t tagged_size(import_ctx *c, const ferry_manifest *m, const char *digest)
{
	const char *hex = ferry_oci_digest_hex(digest);
	char path[FERRY_BLOB_MEMBER_SIZE];
	ferry_buf p = FERRY_BUF_INIT;
	uint64_t size = 0;
	struct stat s;
	long idx;

	ferry_bundle_blob_member(path, hex);
	if ((idx = ferry_manifest_find(m, path)) >= 0)
		size = m->members[idx].size;
	else if (ferry_store_blob_path(&p, c->st, hex) == 0 && stat(p.ptr, &s) == 0)
		size = (uint64_t)s.st_size;
	ferry_buf_dispose(&p);
	return size;
}

static int record(import_ctx *c, staged_bundle *b, const char *files)
{
	const ferry_manifest *m = b->m;
	ferry_buf signers = FERRY_BUF_INIT;
	ferry_store *st = c->st;
	ferry_store_import imp = { 0 };
	int64_t newest;
	size_t k;
	int error;

	for (k = 0; k < b->sig.nsigners; k++)
		if ((error = ferry_buf_printf(&signers, "%s%s", k ? "," : "",
					      b->sig.signers[k])) < 0)
			goto out;
	if ((error = ferry_store_begin(st, 1)) < 0)
		goto out;
	for (k = 0; k < m->nmembers && !error; k++) {
		ferry_store_blob blob;

		if (!is_blob(&m->members[k]))
			continue;
		blob.hex = m->members[k].sha256;
		blob.size = m->members[k].size;
		blob.channel = m->channel;
		blob.sequence = m->sequence;
		error = ferry_store_blob_add(st, &blob);
	}
	for (k = 0; k < m->nimages && !error; k++)
		error = ferry_store_tag_set(st, m->images[k].reference, m->images[k].digest,
					    m->images[k].media_type,
					    tagged_size(c, m, m->images[k].digest), m->channel,
					    m->sequence);
	/* The channel's state: what its next incremental bundle builds on.
	 * Tags stay as they are: a removed binding deletes no tag. */
	if (!error && (m->version == FERRY_BUNDLE_FORMAT_V1 || m->bindings_all))
		error = ferry_store_channel_images_clear(st, m->channel);
	for (k = 0; k < m->nremoved && !error; k++)
		error = ferry_store_channel_image_remove(st, m->channel, m->removed[k]);
	for (k = 0; k < m->nimages && !error; k++)
		error = ferry_store_channel_image_set(st, m->channel, m->images[k].reference,
						      m->images[k].digest);
	for (k = 0; k < m->nrepos && !error; k++) {
		const ferry_git_repo *r = &m->repos[k];
		size_t j;

		for (j = 0; j < r->nrefs && !error; j++)
			error = ferry_store_ref_set(st, r->name, r->refs[j].name, r->refs[j].commit,
						    m->channel, m->sequence);
		for (j = 0; j < r->ndeleted && !error; j++)
			error = ferry_store_ref_delete(st, r->name, r->deleted[j]);
	}
	if (error ||
	    (error = ferry_store_channel_set(st, m->channel, m->sequence, m->id, m->created)) < 0)
		goto done;
	imp.bundle_id = m->id;
	imp.channel = m->channel;
	imp.sequence = m->sequence;
	imp.base_sequence = m->base_sequence;
	imp.created = m->created;
	imp.expires = m->expires;
	imp.signers = signers.ptr ? signers.ptr : "";
	imp.files = files;
	if ((error = ferry_store_import_add(st, &imp)) < 0)
		goto done;
	/* Expiry is judged against the newest creation time ever accepted, so
	 * setting the clock back does not revive an expired bundle. */
	if ((error = ferry_store_meta_get(&newest, st, "newest_created")) < 0 ||
	    (m->created > newest &&
	     (error = ferry_store_meta_set(st, "newest_created", m->created)) < 0))
		goto done;
	audit(c, "import", m, &b->sig, "imported", NULL);
done:
	if (error)
		ferry_store_rollback(st);
	else
		error = ferry_store_commit(st);
out:
	ferry_buf_dispose(&signers);
	return error;
}

/*
 * Bundle `b` is recorded: move its repositories' refs to the record (ref
 * files are what git clients of the store and the mirror read). A failure
 * here leaves the import done and the refs behind; the next import moves
 * them (roll_forward_refs).
 */
static int move_refs(import_ctx *c, staged_bundle *b)
{
	size_t k, moved;
	int error;

	for (k = 0; k < b->m->nrepos; k++)
		if ((error = ferry_git_reset_refs(&moved, c->st, b->m->repos[k].name, 1)) < 0)
			return ferry_error_wrap(error, "channel '%s' sequence %llu is imported, "
						"but the refs of '%s' are not moved yet (the next "
						"import moves them)", b->m->channel,
						(unsigned long long)b->m->sequence,
						b->m->repos[k].name);
	return 0;
}

static int roll_forward_repo(const char *repo, void *payload)
{
	ferry_store *st = payload;
	ferry_buf path = FERRY_BUF_INIT;
	size_t moved = 0;
	int error;

	if ((error = ferry_store_repo_path(&path, st, repo)) == 0 && ferry_fs_exists(path.ptr) &&
	    (error = ferry_git_reset_refs(&moved, st, repo, 1)) == 0 && moved)
		ferry_log(FERRY_LOG_WARN, "import: moved %zu ref(s) of '%s' to the record "
			  "(an earlier import stopped before moving them)", moved, repo);
	ferry_buf_dispose(&path);
	return error;
}

/* Refs an earlier import recorded but did not move (it failed or was
 * killed between its commit and moving them) are moved now. */
static int roll_forward_refs(ferry_store *st)
{
	return ferry_store_repo_foreach(st, roll_forward_repo, st);
}

/* ---- the import ------------------------------------------------------------ */

static int cmp_bundle(const void *a, const void *b)
{
	const staged_bundle *x = a, *y = b;
	int c = strcmp(x->m->channel, y->m->channel);

	if (c)
		return c;
	return x->m->sequence < y->m->sequence ? -1 : x->m->sequence > y->m->sequence;
}

/* A file of bundle `b` could not be used: refuse the bundle, naming the
 * volume to send again when the file's content is at fault. */
static int refuse_file(import_ctx *c, staged_bundle *b, const char *path, int error,
		       const ferry_read_result *res)
{
	ferry_buf msg = FERRY_BUF_INIT;
	int e;

	if (b && b->m && res->volume_known && res->volume < b->m->nvolumes && !c->alarm &&
	    (error == FERRY_ECORRUPT || error == FERRY_EINVALID || error == FERRY_ETOOBIG ||
	     error == FERRY_EIO)) {
		if ((e = resend(&msg, b, res->volume, path)) < 0 ||
		    (e = ferry_buf_printf(&msg, " (%s)", ferry_error_last())) < 0) {
			ferry_buf_dispose(&msg);
			return e;
		}
		ferry_error_set(error, "%s", msg.ptr);
		ferry_buf_dispose(&msg);
	} else if (!strstr(ferry_error_last(), path)) {
		ferry_error_wrap(error, "'%s'", path);
	}
	return refuse(c, b, path, error, res->manifest ? res->manifest : b ? b->m : NULL,
		      &res->signatures);
}

static int read_files(import_ctx *c, const ferry_trust *trust, int64_t now,
		      const char *const *paths, size_t npaths)
{
	ferry_bundle_sink sink = { sink_begin, sink_data, sink_end, NULL, sink_data_async };
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	size_t i;
	int error = 0;

	sink.payload = c;
	ro.trust = trust;
	ro.now = now;
	ro.sink = &sink;
	ro.progress = progress;
	ro.progress_payload = c;
	for (i = 0; i < npaths; i++) {
		struct stat s;

		if (stat(paths[i], &s) == 0)
			c->total += (uint64_t)s.st_size;
	}
	for (i = 0; i < npaths && !error; i++) {
		ferry_read_result res;
		staged_bundle *b;
		int rerror;

		c->cur = NULL;
		c->fd = -1;
		c->alarm = 0;
		rerror = ferry_bundle_read(&res, paths[i], &ro);
		if (c->fd >= 0) {
			writer_drain(&c->w, paths[i]);
			close(c->fd);
			c->fd = -1;
		}
		b = res.manifest ? find_bundle(c, res.manifest->id) : NULL;
		if (res.manifest && !b && !rerror)
			error = add_bundle(c, res.manifest, &b);  /* no entries: cannot happen */
		if (b && !b->m && res.manifest) {
			b->m = res.manifest;
			res.manifest = NULL;
		}
		if (b && (b->already || b->superseded) && rerror == FERRY_EEXISTS)
			rerror = 0;   /* nothing more to read of it */
		if (error || (b && b->refused && rerror == FERRY_EEXISTS)) {
			/* failed, or refused by an earlier file */
		} else if (rerror == FERRY_ENOMEM || (rerror && c->stage_failed))
			error = rerror;   /* the store's fault: the call fails, no bundle is refused */
		else if (rerror)
			error = refuse_file(c, b, paths[i], rerror, &res);
		else if (b) {
			if (res.volume_known)
				b->volume_ok[res.volume] = 1;
			b->bytes += res.bytes;
			b->sig = res.signatures;
			if (!b->file)
				b->file = strdup(paths[i]);
			error = ferry_buf_printf(&b->files, "%s%s", b->files.size ? "\n" : "",
						 paths[i]);
			if (!error && !b->file)
				error = ferry_error_oom();
		}
		c->base += res.bytes;
		ferry_read_result_dispose(&res);
	}
	return error;
}

/* The report's entry for bundle `b`. */
static int report_bundle(ferry_import_bundle *r, const staged_bundle *b, int dry_run)
{
	size_t k;

	memcpy(r->id, b->id, sizeof(r->id));
	if (!(r->channel = strdup(b->m->channel)) ||
	    (b->reason && !(r->reason = strdup(b->reason))))
		return ferry_error_oom();
	r->sequence = b->m->sequence;
	r->base_sequence = b->m->base_sequence;
	r->outcome = b->refused ? FERRY_REFUSED : b->superseded ? FERRY_SUPERSEDED
		   : b->already ? FERRY_ALREADY : dry_run ? FERRY_VERIFIED : FERRY_IMPORTED;
	r->error = b->refused ? b->error : 0;
	r->nvolumes = b->m->nvolumes;
	r->bytes = b->bytes;
	r->nimages = b->m->nimages;
	r->nrepos = b->m->nrepos;
	for (k = 0; !b->refused && k < b->m->nmembers; k++) {
		if (!is_blob(&b->m->members[k]))
			continue;
		if (b->staged[k] == STAGED_NEW)
			r->blobs_new++;
		else if (b->staged[k] == STAGED_REPAIR)
			r->blobs_repaired++;
		else
			r->blobs_present++;
	}
	for (k = 0; k < b->sig.nsigners; k++)
		snprintf(r->signers + strlen(r->signers), sizeof(r->signers) - strlen(r->signers),
			 "%s%s", k ? "," : "", b->sig.signers[k]);
	return 0;
}

int ferry_import(ferry_import_result *out, ferry_store *st,
		 const char *const *paths, size_t npaths,
		 const ferry_import_options *opts)
{
	import_ctx c;
	ferry_trust_root *root = NULL;
	ferry_trust trust;
	ferry_buf staging = FERRY_BUF_INIT;
	int64_t now, newest;
	size_t i, k;
	int error;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.opts = opts;
	c.fd = -1;
	if (!opts || opts->version != FERRY_IMPORT_OPTIONS_VERSION || npaths == 0)
		return ferry_error_set(FERRY_EINVALID, "bad import options");
	now = opts->now ? opts->now : (int64_t)time(NULL);
	c.now = now;
	if ((error = ferry_trust_current(&root, st)) < 0 ||
	    (error = ferry_store_meta_get(&newest, st, "newest_created")) < 0)
		goto done;
	if (root->expires <= (now > newest ? now : newest)) {
		char when[32];

		ferry_time_format(when, sizeof(when), root->expires);
		error = ferry_error_set(FERRY_EVERIFY,
					"trust root version %llu expired at %s; install a "
					"new one with 'ferry trust rotate'",
					(unsigned long long)root->version, when);
		goto done;
	}
	ferry_trust_root_view(&trust, root);
	if ((error = ferry_store_path(&staging, ferry_store_root(st), FERRY_STORE_STAGING)) < 0 ||
	    (error = ferry_buf_printf(&staging, "/import-%ld", (long)getpid())) < 0 ||
	    (error = ferry_fs_mkdir_p(staging.ptr, 0700)) < 0)
		goto done;
	c.staging = staging.ptr;
	if ((error = writer_start(&c.w)) < 0)
		goto done;

	/* 1. Read and verify every file, staging what the store lacks. The
	 *    reference time is never earlier than the newest accepted bundle. */
	error = read_files(&c, &trust, now > newest ? now : newest, paths, npaths);
	writer_stop(&c.w);
	if (error < 0)
		goto done;

	/* 2. Whole-bundle checks, in channel and sequence order. */
	for (i = 0; i < c.nb; i++)
		if (!c.b[i].m) {
			error = ferry_error_set(FERRY_ERROR, "bundle %.16s was not read", c.b[i].id);
			goto done;
		}
	/* An older bundle is a rollback when it is all that was given. */
	if (c.nb == 1 && c.b[0].superseded && !opts->skip_superseded) {
		c.b[0].superseded = 0;
		c.b[0].refused = 1;
		c.b[0].error = FERRY_EVERIFY;
		ferry_error_set(FERRY_EVERIFY, "rollback: %s", c.b[0].reason);
		free(c.b[0].reason);
		if (!(c.b[0].reason = strdup(ferry_error_last()))) {
			error = ferry_error_oom();
			goto done;
		}
		audit(&c, "reject", c.b[0].m, &c.b[0].sig, "rejected", c.b[0].reason);
	}
	if (c.nb)
		qsort(c.b, c.nb, sizeof(*c.b), cmp_bundle);
	{
		size_t fresh = 0, rotating = 0;

		for (i = 0; i < c.nb; i++) {
			fresh += live(&c.b[i]);
			rotating += live(&c.b[i]) &&
				    ferry_manifest_find(c.b[i].m, FERRY_TRUST_ROOT_MEMBER) >= 0;
		}
		/* Every file is judged by the root current when the import began,
		 * so a new root must not share an import with other bundles. */
		if (rotating && fresh > 1) {
			error = ferry_error_set(FERRY_EVERIFY,
						"a bundle that carries a trust root must be "
						"imported on its own");
			audit(&c, "reject", NULL, NULL, "rejected", ferry_error_last());
			goto done;
		}
	}
	for (i = 0; i < c.nb; i++) {
		staged_bundle *b = &c.b[i];
		const staged_bundle *p = i > 0 ? &c.b[i - 1] : NULL;

		if (!live(b))
			continue;
		c.alarm = 0;
		if (p && !p->already && !p->superseded && !strcmp(p->m->channel, b->m->channel) &&
		    p->m->sequence == b->m->sequence) {
			c.alarm = 1;
			error = ferry_error_set(FERRY_EVERIFY,
						"ALARM: two bundles with channel '%s' sequence "
						"%llu and other content were given",
						b->m->channel,
						(unsigned long long)b->m->sequence);
		} else if ((error = check_volumes(b)) == 0 && (error = check_split_members(b)) == 0 &&
			   (error = check_prerequisites(&c, i)) == 0 &&
			   (error = check_state(&c, i)) == 0 &&
			   (error = check_images(&c, i)) == 0 && (error = check_moves(&c, b)) == 0 &&
			   (error = stage_git(&c, i)) == 0) {
			error = check_rotation(&c, b);
		}
		if (system_fault(error))
			goto done;
		if (error < 0 && (error = refuse(&c, b, NULL, error, b->m, &b->sig)) < 0)
			goto done;
	}

	/* 3. Publish bundle by bundle in order, each its own transaction:
	 *    blobs, repositories, then the records. What was staged is made
	 *    durable first, in one flush of the store's filesystem, so that
	 *    nothing is published before it is durable. */
	if (!opts->dry_run &&
	    ((error = roll_forward_refs(st)) < 0 || (error = sync_staged(&c)) < 0))
		goto done;
	for (i = 0; i < c.nb && !opts->dry_run; i++) {
		staged_bundle *b = &c.b[i];

		if (b->already || b->superseded) {
			audit(&c, "noop", b->m, &b->sig,
			      b->already ? "already imported" : "superseded", b->reason);
			continue;
		}
		if (b->refused)
			continue;
		error = publish_blobs(&c, b);
		for (k = 0; k < b->m->nrepos && !error; k++)
			error = ferry_git_publish_objects(b->git[k]);
		if (!error)
			error = record(&c, b, b->files.ptr ? b->files.ptr : "");
		if (error < 0) {
			unpublish_blobs(&c, b);
			goto done;
		}
		if ((error = move_refs(&c, b)) < 0)
			goto done;
		if (b->rotation) {
			if ((error = ferry_trust_install(st, b->rotation)) < 0)
				goto done;
			audit(&c, "rotation", b->m, &b->sig, "trust root installed", NULL);
		}
	}
	if (!opts->dry_run && (error = ferry_store_refresh_layout_view(st)) < 0) {
		error = ferry_error_wrap(error, "the bundles are imported, but the store's "
					 "layout view is not rewritten yet (the next import "
					 "rewrites it)");
		goto done;
	}

	/* 4. Report: the bundles in order, then the files no bundle was named
	 *    for; the first refusal is the call's error. */
	if (!(out->bundles = calloc(c.nb + c.nff + 1, sizeof(*out->bundles)))) {
		error = ferry_error_oom();
		goto done;
	}
	for (i = 0; i < c.nb; i++)
		if ((error = report_bundle(&out->bundles[out->nbundles++], &c.b[i],
					   opts->dry_run)) < 0)
			goto done;
	for (i = 0; i < c.nff; i++) {
		ferry_import_bundle *r = &out->bundles[out->nbundles++];

		r->outcome = FERRY_REFUSED;
		r->error = c.ff[i].error;
		if (!(r->channel = strdup("")) || !(r->reason = strdup(c.ff[i].reason)) ||
		    !(r->file = strdup(c.ff[i].path))) {
			error = ferry_error_oom();
			goto done;
		}
	}
	for (i = 0; i < out->nbundles && !error; i++)
		if (out->bundles[i].outcome == FERRY_REFUSED)
			error = ferry_error_set(out->bundles[i].error, "%s", out->bundles[i].reason);
	writer_stop(&c.w);
	goto cleanup;
done:
	writer_stop(&c.w);
	ferry_import_result_dispose(out);
cleanup:
	for (i = 0; i < c.nb; i++) {
		for (k = 0; c.b[i].git && k < c.b[i].m->nrepos; k++)
			ferry_git_staged_free(c.b[i].git[k]);
		free(c.b[i].git);
		ferry_trust_root_free(c.b[i].rotation);
		ferry_manifest_free(c.b[i].m);
		free(c.b[i].dir);
		free(c.b[i].volume_ok);
		free(c.b[i].staged);
		free(c.b[i].published);
		free(c.b[i].reason);
		free(c.b[i].file);
		ferry_buf_dispose(&c.b[i].files);
	}
	free(c.b);
	for (i = 0; i < c.nff; i++) {
		free(c.ff[i].path);
		free(c.ff[i].reason);
	}
	free(c.ff);
	if (staging.ptr)
		ferry_fs_remove_tree(staging.ptr);
	ferry_buf_dispose(&staging);
	ferry_trust_root_free(root);
	return error;
}

void ferry_import_result_dispose(ferry_import_result *r)
{
	size_t i;

	for (i = 0; i < r->nbundles; i++) {
		free(r->bundles[i].channel);
		free(r->bundles[i].reason);
		free(r->bundles[i].file);
	}
	free(r->bundles);
	memset(r, 0, sizeof(*r));
}
