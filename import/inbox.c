/*
 * The inbox (see inbox.h): files that land in a directory are taken once
 * settled, checked against their sidecars and the trust root, staged per
 * bundle, imported when complete and in sequence order, then moved to
 * done/ or rejected/ (with a reason in plain words). The order of the
 * steps is what makes it crash-safe: a file is first renamed into staging
 * (atomic, same file system), a bundle's outcome is written into its
 * staging directory before any of its files moves out, and every pass
 * starts by finishing the moves a killed pass left; an import that ran but
 * was not recorded here is found again by ferry_import as already
 * imported. Memory does not depend on the size of the files: each is read
 * in a streaming pass.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "fs.h"
#include "inbox.h"
#include "json.h"
#include "log.h"
#include "members.h"
#include "minisig.h"
#include "reader.h"
#include "strv.h"
#include "trust.h"
#include "trust_root.h"
#include "util.h"
#include "banned.h"

#define STAGING_DIR FERRY_INBOX_STATE_DIR "/staging"
#define HISTORY_FILE FERRY_INBOX_STATE_DIR "/history.jsonl"
#define LOCK_FILE FERRY_INBOX_STATE_DIR "/lock"
#define META_FILE "bundle"      /* in a staging directory: what the bundle is */
#define OUTCOME_FILE "outcome"  /* likewise: decided, files being moved */
#define STATUS_LIST_MAX 100     /* entries per list in the status file */
#define HISTORY_KEEP 50         /* recent outcomes of each kind in the status */

static const char *const sidecar_suffix[] = { FERRY_BUNDLE_SIGNATURE_SUFFIX,
					      FERRY_BUNDLE_CHECKSUM_SUFFIX };
#define NSIDECARS (sizeof(sidecar_suffix) / sizeof(sidecar_suffix[0]))

/* ---- pure parts ------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

ferry_inbox_kind ferry_inbox_classify(const char *name)
{
	size_t i;

	if (name[0] == '.' || ends_with(name, ".part") || ends_with(name, ".tmp"))
		return FERRY_INBOX_SKIP;
	for (i = 0; i < NSIDECARS; i++)
		if (ends_with(name, sidecar_suffix[i]) && strlen(name) > strlen(sidecar_suffix[i]))
			return FERRY_INBOX_SIDECAR;
	if (ends_with(name, FERRY_BUNDLE_FILE_SUFFIX) && strlen(name) > 4)
		return FERRY_INBOX_BUNDLE;
	return FERRY_INBOX_OTHER;
}

int ferry_inbox_settled(int64_t mtime, int64_t ctime, int64_t now, int64_t settle)
{
	int64_t last = ctime;

	if (mtime <= now && mtime > last)
		last = mtime;
	return last + settle <= now;
}

int ferry_inbox_in_order(const ferry_inbox_bundle *b, uint64_t current)
{
	return b->base_sequence == 0 || b->base_sequence <= current || b->sequence <= current;
}

static int cmp_planned(const void *x, const void *y)
{
	const ferry_inbox_bundle *a = x, *b = y;
	int c = strcmp(a->channel, b->channel);

	if (c)
		return c;
	if (a->sequence != b->sequence)
		return a->sequence < b->sequence ? -1 : 1;
	return strcmp(a->id, b->id);
}

int ferry_inbox_plan(ferry_inbox_bundle *b, size_t n,
		     int (*channel_sequence)(uint64_t *out, const char *channel,
					     void *payload),
		     void *payload)
{
	uint64_t cur = 0;
	size_t i, v;
	int error;

	if (n)
		qsort(b, n, sizeof(*b), cmp_planned);
	for (i = 0; i < n; i++) {
		size_t have = 0;

		if ((i == 0 || strcmp(b[i - 1].channel, b[i].channel)) &&
		    (error = channel_sequence(&cur, b[i].channel, payload)) < 0)
			return error;
		for (v = 0; v < b[i].nhave; v++)
			have += b[i].have[v] != 0;
		b[i].waits_for = 0;
		if (have < b[i].nvolumes) {
			b[i].state = FERRY_INBOX_WAIT_VOLUMES;
		} else if (ferry_inbox_in_order(&b[i], cur)) {
			b[i].state = FERRY_INBOX_READY;
			if (b[i].sequence > cur)
				cur = b[i].sequence;
		} else {
			b[i].state = FERRY_INBOX_WAIT_SEQUENCE;
			b[i].waits_for = b[i].base_sequence;
		}
	}
	return 0;
}

/* ---- the pass's state ------------------------------------------------------- */

typedef struct {
	const char *dir;
	const char *store_path;
	const ferry_inbox_options *opts;
	int64_t now;
	ferry_store *st;
	ferry_trust_root *root;
	ferry_trust trust;
	ferry_inbox_counts *counts;
	ferry_strv settling, ignored, orphans;   /* names, for the status */
	size_t nsettling, nignored, norphans;    /* counted beyond the lists */
	ferry_inbox_bundle *b;
	size_t nb;
} pass;

static int path_of(ferry_buf *out, const char *dir, const char *a, const char *b)
{
	ferry_buf_clear(out);
	return ferry_buf_printf(out, "%s/%s%s%s", dir, a, b ? "/" : "", b ? b : "");
}

static int64_t clock_now(const ferry_inbox_options *o)
{
	return o->now ? o->now : (int64_t)time(NULL);
}

/* Append one outcome to the history (synced with the status at the end of
 * the pass; a line lost or repeated after a crash is harmless: the files
 * and the store are the record). */
static void history_add(pass *p, const char *outcome, const char *file,
			const ferry_inbox_bundle *b, const char *note)
{
	ferry_buf path = FERRY_BUF_INIT, line = FERRY_BUF_INIT;
	json_t *o = json_object();
	int fd;

	if (!o)
		return;
	json_object_set_new(o, "time", json_integer((json_int_t)p->now));
	json_object_set_new(o, "outcome", json_string(outcome));
	if (file)
		json_object_set_new(o, "file", json_string(file));
	if (b) {
		json_object_set_new(o, "bundle", json_string(b->id));
		json_object_set_new(o, "channel", json_string(b->channel));
		json_object_set_new(o, "sequence", json_integer((json_int_t)b->sequence));
	}
	if (note)
		json_object_set_new(o, "note", json_string(note));
	if (path_of(&path, p->dir, HISTORY_FILE, NULL) == 0 && ferry_json_dump(&line, o) == 0 &&
	    ferry_buf_puts(&line, "\n") == 0 &&
	    (fd = open(path.ptr, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) >= 0) {
		if (ferry_fs_write_all(fd, line.ptr, line.size) < 0)
			ferry_log(FERRY_LOG_WARN, "inbox: cannot write '%s'", path.ptr);
		close(fd);
	}
	json_decref(o);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&line);
}

/* Write `path` atomically, and durably unless `later` (the caller syncs
 * its directory before relying on it). Only the inbox lock's holder writes
 * here, so a "<path>.lock" left by a killed pass is stale and goes first. */
static int write_file_as(const char *path, const char *text, int later)
{
	ferry_buf stale = FERRY_BUF_INIT;

	if (ferry_buf_printf(&stale, "%s.lock", path) < 0)
		return ferry_error_oom();
	unlink(stale.ptr);
	ferry_buf_dispose(&stale);
	return later ? ferry_fs_write_replace(path, text, strlen(text), 0644)
		     : ferry_fs_write_atomic(path, text, strlen(text), 0644);
}

static int write_file(const char *path, const char *text)
{
	return write_file_as(path, text, 0);
}

/* ---- moving files ------------------------------------------------------------- */

/* A name in `dest` for `name` that is not taken: NAME, else NAME.1, ... */
static int free_name(ferry_buf *out, const char *dest, const char *name)
{
	unsigned i;

	for (i = 0; i < 10000; i++) {
		ferry_buf_clear(out);
		if ((i ? ferry_buf_printf(out, "%s/%s.%u", dest, name, i)
		       : ferry_buf_printf(out, "%s/%s", dest, name)) < 0)
			return ferry_error_oom();
		if (!ferry_fs_exists(out->ptr))
			return 0;
	}
	return ferry_error_set(FERRY_EEXISTS, "no free name for '%s' in '%s'", name, dest);
}

/* Rename `from` to `to`. The directories are synced once at the end of
 * the pass (sync_dirs): a rename lost to a power cut leaves the file where
 * it was, which the next pass handles like any other. */
static int move(const char *from, const char *to)
{
	if (rename(from, to) < 0)
		return ferry_error_set(FERRY_EIO, "cannot move '%s' to '%s': %s", from, to,
				       strerror(errno));
	return 0;
}

/*
 * Move `src_dir`/`src` and its sidecars (`src` + suffix) to `sub` (done/ or
 * rejected/) as `name` (a free name there); with `reason`, write
 * "<final>.reason" first. The data file moves before its sidecars: a pass
 * killed in between leaves sidecars whose file is gone, which the next
 * pass sends after it (see orphan()).
 */
static int file_out(pass *p, const char *src_dir, const char *src, const char *sub,
		    const char *name, const char *reason)
{
	ferry_buf dest = FERRY_BUF_INIT, final = FERRY_BUF_INIT, from = FERRY_BUF_INIT,
		  to = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	size_t i;
	int error;

	if ((error = path_of(&dest, p->dir, sub, NULL)) < 0 ||
	    (error = free_name(&final, dest.ptr, name)) < 0)
		goto done;
	if (reason) {
		if ((error = ferry_buf_printf(&to, "%s" FERRY_INBOX_REASON_SUFFIX, final.ptr)) < 0 ||
		    (error = ferry_buf_printf(&text, "%s\n", reason)) < 0 ||
		    (error = write_file(to.ptr, text.ptr)) < 0)
			goto done;
	}
	if ((error = path_of(&from, src_dir, src, NULL)) < 0 ||
	    (error = move(from.ptr, final.ptr)) < 0)
		goto done;
	for (i = 0; i < NSIDECARS; i++) {
		ferry_buf_clear(&from);
		ferry_buf_clear(&to);
		if ((error = ferry_buf_printf(&from, "%s/%s%s", src_dir, src, sidecar_suffix[i])) < 0 ||
		    (error = ferry_buf_printf(&to, "%s%s", final.ptr, sidecar_suffix[i])) < 0)
			goto done;
		if (ferry_fs_exists(from.ptr) && (error = move(from.ptr, to.ptr)) < 0)
			goto done;
	}
done:
	ferry_buf_dispose(&dest);
	ferry_buf_dispose(&final);
	ferry_buf_dispose(&from);
	ferry_buf_dispose(&to);
	ferry_buf_dispose(&text);
	return error;
}

/* Reject file `name` of DIR with `reason`, keeping a note in the history. */
static int reject_file(pass *p, const char *name, const ferry_inbox_bundle *b,
		       const char *reason)
{
	int error = file_out(p, p->dir, name, FERRY_INBOX_REJECTED_DIR, name, reason);

	if (error < 0)
		return error;
	p->counts->rejected++;
	history_add(p, "rejected", name, b, reason);
	ferry_log(FERRY_LOG_WARN, "inbox: rejected %s: %s", name, reason);
	return 0;
}

/* ---- staging --------------------------------------------------------------------- */

static int staging_dir(ferry_buf *out, const pass *p, const char *id)
{
	ferry_buf_clear(out);
	return ferry_buf_printf(out, "%s/" STAGING_DIR "/%s", p->dir, id);
}

/* A staged file's name: "NNNN-<name>", NNNN the volume from 1; the kind
 * of <name> (FERRY_INBOX_SKIP for anything else). */
static ferry_inbox_kind staged_kind(const char *staged, size_t *volume, const char **name)
{
	char *end;
	unsigned long v;

	if (strlen(staged) < 6 || staged[4] != '-')
		return 0;
	errno = 0;
	v = strtoul(staged, &end, 10);
	if (errno || end != staged + 4 || v == 0)
		return 0;
	*volume = (size_t)v - 1;
	*name = staged + 5;
	return ferry_inbox_classify(*name);
}

/* A staged data file (not a sidecar): its volume and name. */
static int staged_volume(const char *staged, size_t *volume, const char **name)
{
	return staged_kind(staged, volume, name) == FERRY_INBOX_BUNDLE;
}

static int meta_write(const pass *p, const char *dir, const ferry_manifest *m)
{
	ferry_buf path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	int error;

	if ((error = path_of(&path, dir, META_FILE, NULL)) < 0)
		goto done;
	(void)p;
	if (ferry_fs_exists(path.ptr))
		goto done;
	if ((error = ferry_buf_printf(&text, "%s\n%llu %llu %zu\n%s\n", m->id,
				      (unsigned long long)m->sequence,
				      (unsigned long long)m->base_sequence, m->nvolumes,
				      m->channel)) < 0)
		goto done;
	error = write_file(path.ptr, text.ptr);
done:
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&text);
	return error;
}

static void bundle_dispose(ferry_inbox_bundle *b)
{
	free(b->channel);
	free(b->have);
	memset(b, 0, sizeof(*b));
}

/* Read staging directory `dir` (bundle `id`) into `b`: its meta file and
 * which volumes are there. FERRY_ENOTFOUND when it has no meta file yet. */
static int meta_read(ferry_inbox_bundle *b, const char *dir, const char *id)
{
	ferry_buf path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	unsigned long long seq, base;
	char *l2, *l3, *nl;
	size_t nvol, v;
	const char *name;
	struct dirent *e;
	DIR *d = NULL;
	int error;

	memset(b, 0, sizeof(*b));
	if ((error = path_of(&path, dir, META_FILE, NULL)) < 0 ||
	    (error = ferry_fs_read_file(&text, path.ptr, 4096)) < 0)
		goto done;
	if (!(l2 = strchr(text.ptr, '\n')) || !(l3 = strchr(l2 + 1, '\n')) ||
	    sscanf(l2 + 1, "%llu %llu %zu", &seq, &base, &nvol) != 3 || nvol == 0 ||
	    nvol > 100000) {
		error = ferry_error_set(FERRY_ECORRUPT, "bad inbox staging file '%s'", path.ptr);
		goto done;
	}
	l3++;
	if ((nl = strchr(l3, '\n')))
		*nl = '\0';
	snprintf(b->id, sizeof(b->id), "%s", id);
	b->sequence = seq;
	b->base_sequence = base;
	b->nvolumes = b->nhave = nvol;
	if (!(b->channel = strdup(l3)) || !(b->have = calloc(nvol, 1))) {
		error = ferry_error_oom();
		goto done;
	}
	if (!(d = opendir(dir))) {
		error = ferry_error_set(FERRY_EIO, "cannot read '%s': %s", dir, strerror(errno));
		goto done;
	}
	while ((e = readdir(d)))
		if (staged_volume(e->d_name, &v, &name) && v < nvol)
			b->have[v] = 1;
done:
	if (d)
		closedir(d);
	if (error < 0)
		bundle_dispose(b);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&text);
	return error;
}

/*
 * Finish bundle directory `id` whose outcome is decided: move each staged
 * file to done/ or rejected/ under its own name, then remove the directory.
 * Repeatable: a pass killed half-way leaves the rest for the next one.
 * 1 when the outcome record is not whole (removed: the bundle is
 * undecided), 0 when finished, or an error.
 */
static int finish(pass *p, const char *id)
{
	ferry_buf dir = FERRY_BUF_INIT, path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	const char *sub, *reason = NULL, *name;
	struct dirent *e;
	DIR *d = NULL;
	size_t v;
	int error;

	if ((error = staging_dir(&dir, p, id)) < 0 ||
	    (error = path_of(&path, dir.ptr, OUTCOME_FILE, NULL)) < 0 ||
	    (error = ferry_fs_read_file(&text, path.ptr, 65536)) < 0)
		goto done;
	if (!text.size || (strncmp(text.ptr, "done\n", 5) && strncmp(text.ptr, "rejected\n", 9))) {
		/* recorded but not yet synced when the power went: undecided,
		 * the bundle is judged again (the store says if it is in) */
		ferry_log(FERRY_LOG_WARN, "inbox: staged bundle %.16s had an unfinished outcome "
			  "record; judging it again", id);
		error = unlink(path.ptr) < 0 ? ferry_error_set_errno(FERRY_EIO, "cannot remove "
								     "'%s'", path.ptr) : 1;
		goto done;
	}
	if (!strncmp(text.ptr, "rejected\n", 9)) {
		sub = FERRY_INBOX_REJECTED_DIR;
		reason = text.ptr + 9;
		if (text.size > 9 && text.ptr[text.size - 1] == '\n')
			text.ptr[text.size - 1] = '\0';
	} else {
		sub = FERRY_INBOX_DONE_DIR;
	}
	if (!(d = opendir(dir.ptr))) {
		error = ferry_error_set(FERRY_EIO, "cannot read '%s': %s", dir.ptr, strerror(errno));
		goto done;
	}
	while ((e = readdir(d)))
		if (staged_volume(e->d_name, &v, &name) &&
		    (error = file_out(p, dir.ptr, e->d_name, sub, name, reason)) < 0)
			goto done;
	closedir(d);
	d = NULL;
	/* Sidecars whose data file already moved (a killed pass) follow it. */
	if (!(d = opendir(dir.ptr))) {
		error = ferry_error_set(FERRY_EIO, "cannot read '%s': %s", dir.ptr, strerror(errno));
		goto done;
	}
	while ((e = readdir(d))) {
		ferry_buf dest = FERRY_BUF_INIT, to = FERRY_BUF_INIT;

		if (staged_kind(e->d_name, &v, &name) != FERRY_INBOX_SIDECAR)
			goto next;
		ferry_buf_clear(&path);
		if ((error = path_of(&path, dir.ptr, e->d_name, NULL)) < 0 ||
		    (error = path_of(&dest, p->dir, sub, NULL)) < 0 ||
		    (error = free_name(&to, dest.ptr, name)) == 0)
			error = move(path.ptr, to.ptr);
next:
		ferry_buf_dispose(&dest);
		ferry_buf_dispose(&to);
		if (error < 0)
			goto done;
	}
	closedir(d);
	d = NULL;
	if ((error = path_of(&path, dir.ptr, META_FILE, NULL)) < 0)
		goto done;
	unlink(path.ptr);
	if ((error = path_of(&path, dir.ptr, OUTCOME_FILE, NULL)) < 0)
		goto done;
	unlink(path.ptr);
	if (rmdir(dir.ptr) < 0)
		error = ferry_error_set(FERRY_EIO, "cannot remove '%s': %s", dir.ptr,
					strerror(errno));
done:
	if (d)
		closedir(d);
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&text);
	return error;
}

/*
 * Record bundle `b`'s outcome in its staging directory, not yet durably:
 * the caller syncs the directory (sync_outcomes) before moving any file
 * out by it (finish), so that many outcomes cost one journal commit.
 */
static int record(pass *p, const ferry_inbox_bundle *b, int rejected, const char *note)
{
	ferry_buf dir = FERRY_BUF_INIT, path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	int error;

	if ((error = staging_dir(&dir, p, b->id)) < 0 ||
	    (error = path_of(&path, dir.ptr, OUTCOME_FILE, NULL)) < 0 ||
	    (error = ferry_buf_printf(&text, "%s\n%s\n", rejected ? "rejected" : "done",
				      note ? note : "")) < 0)
		goto done;
	error = write_file_as(path.ptr, text.ptr, 1);
done:
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&text);
	return error;
}

/* Make the recorded outcomes of bundles `ids` durable: their files and
 * directories, the first fsync committing what the others then find done. */
static int sync_outcomes(pass *p, const ferry_strv *ids)
{
	ferry_buf dir = FERRY_BUF_INIT, path = FERRY_BUF_INIT;
	size_t i;
	int fd, error = 0;

	for (i = 0; i < ids->n && !error; i++) {
		const char *names[] = { OUTCOME_FILE, "." };
		size_t k;

		if ((error = staging_dir(&dir, p, ids->v[i])) < 0)
			break;
		for (k = 0; k < 2 && !error; k++) {
			if ((error = path_of(&path, dir.ptr, names[k], NULL)) < 0)
				break;
			if ((fd = open(path.ptr, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) < 0)
				error = ferry_error_set_errno(FERRY_EIO, "cannot sync '%s'",
							      path.ptr);
			if (fd >= 0)
				close(fd);
		}
	}
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&path);
	return error;
}

/* ---- taking a file ------------------------------------------------------------------ */

/* "volume 4 of 8 (file NAME) of bundle ID, channel C sequence N" */
static int describe(ferry_buf *out, const ferry_manifest *m, size_t volume, const char *name)
{
	if (m->nvolumes > 1)
		return ferry_buf_printf(out, "volume %zu of %zu (file %s) of bundle %.16s, "
					"channel %s sequence %llu", volume + 1, m->nvolumes, name,
					m->id, m->channel, (unsigned long long)m->sequence);
	return ferry_buf_printf(out, "bundle %.16s (file %s), channel %s sequence %llu", m->id,
				name, m->channel, (unsigned long long)m->sequence);
}

/* Check the sidecars of DIR/`name` that are there: a checksum line and a
 * minisign signature by a trusted key. 0, or the error with the reason. */
static int check_sidecars(pass *p, const char *name)
{
	unsigned char hash[FERRY_MINISIG_HASH_BYTES];
	char hex[FERRY_SHA256_HEX_LEN + 1];
	ferry_buf file = FERRY_BUF_INIT, side[NSIDECARS] = { FERRY_BUF_INIT, FERRY_BUF_INIT },
		  text = FERRY_BUF_INIT;
	int present[NSIDECARS], any = 0, error;
	size_t i;

	if ((error = path_of(&file, p->dir, name, NULL)) < 0)
		goto done;
	for (i = 0; i < NSIDECARS; i++) {
		if ((error = ferry_buf_printf(&side[i], "%s%s", file.ptr, sidecar_suffix[i])) < 0)
			goto done;
		any += present[i] = ferry_fs_exists(side[i].ptr);
	}
	if (!any)
		goto done;
	if ((error = ferry_minisig_hash_file(hash, present[1] ? hex : NULL, file.ptr)) < 0)
		goto done;
	if (present[1]) {
		if ((error = ferry_fs_read_file(&text, side[1].ptr, 4096)) < 0)
			goto done;
		if (text.size < FERRY_SHA256_HEX_LEN ||
		    strncmp(text.ptr, hex, FERRY_SHA256_HEX_LEN) ||
		    (text.size > FERRY_SHA256_HEX_LEN && text.ptr[FERRY_SHA256_HEX_LEN] != ' ')) {
			error = ferry_error_set(FERRY_ECORRUPT, "does not match its checksum file "
						"%s" FERRY_BUNDLE_CHECKSUM_SUFFIX, name);
			goto done;
		}
	}
	if (present[0] && (error = ferry_minisig_verify(side[0].ptr, hash, &p->trust)) < 0) {
		char *why = strdup(ferry_error_last());

		ferry_error_set(error, "does not match its signature file %s"
				FERRY_BUNDLE_SIGNATURE_SUFFIX " (%s)", name, why ? why : "");
		free(why);
	}
done:
	ferry_buf_dispose(&file);
	for (i = 0; i < NSIDECARS; i++)
		ferry_buf_dispose(&side[i]);
	ferry_buf_dispose(&text);
	return error;
}

/* Move DIR/`name` and its sidecars into bundle `m`'s staging directory as
 * volume `volume`. */
static int stage(pass *p, const char *name, const ferry_manifest *m, size_t volume)
{
	ferry_buf dir = FERRY_BUF_INIT, from = FERRY_BUF_INIT, to = FERRY_BUF_INIT;
	size_t i;
	int error;

	if ((error = staging_dir(&dir, p, m->id)) < 0 ||
	    (error = ferry_fs_mkdir_p(dir.ptr, 0755)) < 0 ||
	    (error = meta_write(p, dir.ptr, m)) < 0)
		goto done;
	for (i = 0; i <= NSIDECARS; i++) {
		const char *suffix = i ? sidecar_suffix[i - 1] : "";

		ferry_buf_clear(&from);
		ferry_buf_clear(&to);
		if ((error = ferry_buf_printf(&from, "%s/%s%s", p->dir, name, suffix)) < 0 ||
		    (error = ferry_buf_printf(&to, "%s/%04zu-%s%s", dir.ptr, volume + 1, name,
					      suffix)) < 0)
			goto done;
		if ((i == 0 || ferry_fs_exists(from.ptr)) && (error = move(from.ptr, to.ptr)) < 0)
			goto done;
	}
done:
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&from);
	ferry_buf_dispose(&to);
	return error;
}

/* Is volume `volume` of bundle `id` staged already? */
static int is_staged(pass *p, const char *id, size_t volume)
{
	ferry_inbox_bundle b;
	ferry_buf dir = FERRY_BUF_INIT;
	int have = 0;

	if (staging_dir(&dir, p, id) == 0 && meta_read(&b, dir.ptr, id) == 0) {
		have = volume < b.nhave && b.have[volume];
		bundle_dispose(&b);
	}
	ferry_error_clear();
	ferry_buf_dispose(&dir);
	return have;
}

/* Are the sidecars of DIR/`name` that are there settled too? (A sidecar
 * still being written would be judged half-written.) */
static int sidecars_settled(const pass *p, const char *name)
{
	ferry_buf path = FERRY_BUF_INIT;
	struct stat s;
	size_t i;
	int settled = 1;

	for (i = 0; i < NSIDECARS && settled; i++) {
		ferry_buf_clear(&path);
		if (ferry_buf_printf(&path, "%s/%s%s", p->dir, name, sidecar_suffix[i]) < 0)
			break;
		if (lstat(path.ptr, &s) == 0 &&
		    !ferry_inbox_settled((int64_t)s.st_mtime, (int64_t)s.st_ctime, p->now,
					 p->opts->settle))
			settled = 0;
	}
	ferry_buf_dispose(&path);
	return settled;
}

/* Take the settled bundle file DIR/`name`: identify it, check it, then
 * stage it, reject it, or (a bundle already in) move it to done/. */
static int take(pass *p, const char *name)
{
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	ferry_read_result res;
	ferry_buf path = FERRY_BUF_INIT, what = FERRY_BUF_INIT, reason = FERRY_BUF_INIT;
	ferry_inbox_bundle view;
	int error, rerror, seen = 0;

	memset(&res, 0, sizeof(res));
	memset(&view, 0, sizeof(view));
	if ((error = path_of(&path, p->dir, name, NULL)) < 0)
		goto done;
	ro.trust = &p->trust;
	ro.now = p->now;
	ro.manifest_only = 1;
	rerror = ferry_bundle_read(&res, path.ptr, &ro);
	if (rerror == FERRY_ENOMEM || rerror == FERRY_ENOTFOUND) {
		error = rerror;   /* out of memory, or gone: the next pass sees */
		goto done;
	}
	if (rerror < 0 || !res.manifest || !res.volume_known) {
		if (rerror == FERRY_EIO) {
			error = rerror;   /* unreadable now: try again next pass */
			goto done;
		}
		error = ferry_buf_printf(&reason, "file %s is not a bundle this store accepts (%s): "
					 "send it again, exported with a key this store trusts",
					 name, rerror < 0 ? ferry_error_last()
						      : "its volume could not be identified");
		if (!error)
			error = reject_file(p, name, NULL, reason.ptr);
		goto done;
	}
	snprintf(view.id, sizeof(view.id), "%s", res.manifest->id);
	view.channel = res.manifest->channel;
	view.sequence = res.manifest->sequence;
	if ((error = describe(&what, res.manifest, res.volume, name)) < 0 ||
	    (error = ferry_store_import_seen(&seen, p->st, res.manifest->id)) < 0)
		goto done;
	if (seen || is_staged(p, res.manifest->id, res.volume)) {
		const char *note = seen ? "already imported" : "a copy of a volume already received";

		if ((error = file_out(p, p->dir, name, FERRY_INBOX_DONE_DIR, name, NULL)) < 0)
			goto done;
		p->counts->skipped++;
		history_add(p, seen ? "already" : "duplicate", name, &view, note);
		goto done;
	}
	/* A volume is checked whole now, so that a bad one is named while the
	 * others wait; a whole bundle is checked by the import. */
	if (res.manifest->nvolumes > 1) {
		ferry_read_result full;

		ro.manifest_only = 0;
		rerror = ferry_bundle_read(&full, path.ptr, &ro);
		ferry_read_result_dispose(&full);
		if (rerror == FERRY_ENOMEM || rerror == FERRY_ENOTFOUND) {
			error = rerror;
			goto done;
		}
		if (rerror < 0) {
			error = ferry_buf_printf(&reason, "%s is corrupt (%s): send it again",
						 what.ptr, ferry_error_last());
			if (!error)
				error = reject_file(p, name, &view, reason.ptr);
			goto done;
		}
	}
	if ((error = check_sidecars(p, name)) < 0) {
		if (error == FERRY_ENOMEM)
			goto done;
		error = ferry_buf_printf(&reason, "%s %s: the file or its sidecar is damaged; send both again",
					 what.ptr, ferry_error_last());
		if (!error)
			error = reject_file(p, name, &view, reason.ptr);
		goto done;
	}
	if ((error = stage(p, name, res.manifest, res.volume)) == 0)
		ferry_log(FERRY_LOG_INFO, "inbox: received %s", what.ptr);
done:
	ferry_read_result_dispose(&res);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&what);
	ferry_buf_dispose(&reason);
	return error;
}

/* A sidecar in DIR whose data file is not there: if the file was moved
 * (staged, done, rejected), the sidecar follows it; otherwise it waits. */
static int orphan(pass *p, const char *name)
{
	ferry_buf data = FERRY_BUF_INIT, path = FERRY_BUF_INIT, to = FERRY_BUF_INIT;
	const char *subs[] = { FERRY_INBOX_DONE_DIR, FERRY_INBOX_REJECTED_DIR };
	const char *suffix = NULL;
	struct dirent *e;
	DIR *d = NULL;
	size_t i;
	int error = 0, moved = 0;

	for (i = 0; i < NSIDECARS && !suffix; i++)
		if (ends_with(name, sidecar_suffix[i]))
			suffix = sidecar_suffix[i];
	if ((error = ferry_buf_put(&data, name, strlen(name) - strlen(suffix))) < 0 ||
	    (error = path_of(&path, p->dir, data.ptr, NULL)) < 0)
		goto done;
	if (ferry_fs_exists(path.ptr))
		goto done;   /* its file is there: they go together */
	if ((error = path_of(&to, p->dir, name, NULL)) < 0)
		goto done;
	if (!ferry_fs_exists(to.ptr))
		goto done;   /* it went with its file */
	for (i = 0; i < 2 && !moved; i++) {
		if ((error = path_of(&to, p->dir, subs[i], data.ptr)) < 0)
			goto done;
		if (ferry_fs_exists(to.ptr)) {
			if ((error = ferry_buf_puts(&to, suffix)) < 0 ||
			    (error = path_of(&path, p->dir, name, NULL)) < 0 ||
			    (error = move(path.ptr, to.ptr)) < 0)
				goto done;
			moved = 1;
		}
	}
	if (!moved && (error = path_of(&path, p->dir, STAGING_DIR, NULL)) == 0 &&
	    (d = opendir(path.ptr))) {
		while (!moved && (e = readdir(d))) {
			char *staged;

			if (e->d_name[0] == '.')
				continue;
			if ((error = path_of(&path, p->dir, STAGING_DIR, e->d_name)) < 0)
				goto done;
			{
				DIR *sd = opendir(path.ptr);
				struct dirent *se;
				size_t v;
				const char *n;

				while (sd && !moved && (se = readdir(sd))) {
					if (!staged_volume(se->d_name, &v, &n) || strcmp(n, data.ptr))
						continue;
					ferry_buf_clear(&to);
					if (!(staged = strdup(se->d_name)))
						break;
					if ((error = ferry_buf_printf(&to, "%s/%s%s", path.ptr, staged,
								      suffix)) == 0) {
						ferry_buf from = FERRY_BUF_INIT;

						if ((error = path_of(&from, p->dir, name, NULL)) == 0)
							error = move(from.ptr, to.ptr);
						ferry_buf_dispose(&from);
					}
					free(staged);
					moved = 1;
				}
				if (sd)
					closedir(sd);
			}
		}
	}
	if (!moved) {
		if (p->orphans.n < STATUS_LIST_MAX)
			error = ferry_strv_push(&p->orphans, name);
		else
			p->norphans++;
	}
done:
	if (d)
		closedir(d);
	ferry_buf_dispose(&data);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&to);
	return error;
}

/* ---- the pass ---------------------------------------------------------------------- */

static int note_name(ferry_strv *list, size_t *more, const char *name)
{
	if (list->n < STATUS_LIST_MAX)
		return ferry_strv_push(list, name);
	(*more)++;
	return 0;
}

/* List DIR: bundle files that settled into `take_list`; the rest noted. */
static int scan(pass *p, ferry_strv *take_list, ferry_strv *sidecars)
{
	struct dirent *e;
	DIR *d;
	int error = 0;

	if (!(d = opendir(p->dir)))
		return ferry_error_set(errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
				       "cannot read '%s': %s", p->dir, strerror(errno));
	while (!error && (e = readdir(d))) {
		ferry_inbox_kind kind = ferry_inbox_classify(e->d_name);
		struct stat s;

		if (kind == FERRY_INBOX_SKIP ||
		    fstatat(dirfd(d), e->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISREG(s.st_mode)) {
			if (!S_ISDIR(s.st_mode))
				error = note_name(&p->ignored, &p->nignored, e->d_name);
			else if (strcmp(e->d_name, FERRY_INBOX_DONE_DIR) &&
				 strcmp(e->d_name, FERRY_INBOX_REJECTED_DIR))
				error = note_name(&p->ignored, &p->nignored, e->d_name);
			continue;
		}
		if (kind == FERRY_INBOX_OTHER) {
			error = note_name(&p->ignored, &p->nignored, e->d_name);
			continue;
		}
		if (!ferry_inbox_settled((int64_t)s.st_mtime, (int64_t)s.st_ctime, p->now,
					 p->opts->settle)) {
			error = note_name(&p->settling, &p->nsettling, e->d_name);
			continue;
		}
		if (kind == FERRY_INBOX_BUNDLE && !sidecars_settled(p, e->d_name))
			error = note_name(&p->settling, &p->nsettling, e->d_name);
		else
			error = ferry_strv_push(kind == FERRY_INBOX_BUNDLE ? take_list : sidecars,
						e->d_name);
	}
	closedir(d);
	return error;
}

/* Staging directories: finish the decided ones, load the others. */
static int load_staging(pass *p)
{
	ferry_buf path = FERRY_BUF_INIT, dir = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d;
	int error = 0;

	if ((error = path_of(&path, p->dir, STAGING_DIR, NULL)) < 0)
		goto done;
	if (!(d = opendir(path.ptr))) {
		error = ferry_error_set(FERRY_EIO, "cannot read '%s': %s", path.ptr,
					strerror(errno));
		goto done;
	}
	while (!error && (e = readdir(d))) {
		ferry_inbox_bundle *grown;

		if (e->d_name[0] == '.')
			continue;
		if ((error = staging_dir(&dir, p, e->d_name)) < 0 ||
		    (error = path_of(&path, dir.ptr, OUTCOME_FILE, NULL)) < 0)
			break;
		if (ferry_fs_exists(path.ptr) && (error = finish(p, e->d_name)) != 1)
			continue;
		error = 0;
		if (!(grown = realloc(p->b, (p->nb + 1) * sizeof(*grown)))) {
			error = ferry_error_oom();
			break;
		}
		p->b = grown;
		if ((error = meta_read(&p->b[p->nb], dir.ptr, e->d_name)) == FERRY_ENOTFOUND) {
			/* killed before the first volume was staged */
			error = 0;
			ferry_error_clear();
			if (rmdir(dir.ptr) < 0 && errno != ENOTEMPTY && errno != EEXIST)
				error = ferry_error_set(FERRY_EIO, "cannot remove '%s'", dir.ptr);
			continue;
		}
		if (error == FERRY_ECORRUPT) {
			ferry_log(FERRY_LOG_WARN, "inbox: %s (left as it is)", ferry_error_last());
			error = 0;
			continue;
		}
		if (!error)
			p->nb++;
	}
	closedir(d);
done:
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&dir);
	return error;
}

static int channel_sequence(uint64_t *out, const char *channel, void *payload)
{
	pass *p = payload;
	ferry_store_channel ch;
	int error;

	*out = 0;
	if ((error = ferry_store_channel_get(&ch, p->st, channel)) == FERRY_ENOTFOUND) {
		ferry_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	*out = ch.sequence;
	ferry_store_channel_dispose(&ch);
	return 0;
}

/* Append the staged volumes of bundle `b` to `files`. */
static int staged_files(pass *p, const ferry_inbox_bundle *b, ferry_strv *files)
{
	ferry_buf dir = FERRY_BUF_INIT, path = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d = NULL;
	const char *name;
	size_t v;
	int error;

	if ((error = staging_dir(&dir, p, b->id)) < 0)
		goto done;
	if (!(d = opendir(dir.ptr))) {
		error = ferry_error_set(FERRY_EIO, "cannot read '%s': %s", dir.ptr, strerror(errno));
		goto done;
	}
	while ((e = readdir(d)))
		if (staged_volume(e->d_name, &v, &name) &&
		    ((error = path_of(&path, dir.ptr, e->d_name, NULL)) < 0 ||
		     (error = ferry_strv_push(files, path.ptr)) < 0))
			goto done;
done:
	if (d)
		closedir(d);
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&path);
	return error;
}

/* Record the outcome of bundle `b` by the import's outcome `r` for it. */
static int settle(pass *p, ferry_inbox_bundle *b, const ferry_import_bundle *r)
{
	ferry_buf why = FERRY_BUF_INIT;
	int error = 0;

	switch (r->outcome) {
	case FERRY_IMPORTED:
		p->counts->imported++;
		history_add(p, "imported", NULL, b, NULL);
		ferry_log(FERRY_LOG_INFO, "inbox: imported channel %s sequence %llu", b->channel,
			  (unsigned long long)b->sequence);
		error = record(p, b, 0, "imported");
		break;
	case FERRY_ALREADY:
	case FERRY_SUPERSEDED:
		p->counts->skipped++;
		history_add(p, r->outcome == FERRY_ALREADY ? "already" : "superseded", NULL, b,
			    r->outcome == FERRY_ALREADY ? "already imported" : r->reason);
		error = record(p, b, 0, r->reason);
		break;
	default:
		p->counts->rejected += b->nvolumes;
		if ((error = ferry_buf_printf(&why, "bundle %.16s, channel %s sequence %llu was "
					      "refused: %s", b->id, b->channel,
					      (unsigned long long)b->sequence,
					      r->reason ? r->reason : "refused")) == 0) {
			history_add(p, "rejected", NULL, b, why.ptr);
			ferry_log(FERRY_LOG_WARN, "inbox: %s", why.ptr);
			error = record(p, b, 1, why.ptr);
		}
		break;
	}
	ferry_buf_dispose(&why);
	return error;
}

static const ferry_import_bundle *outcome_of(const ferry_import_result *res, const char *id)
{
	size_t i;

	for (i = 0; i < res->nbundles; i++)
		if (!strcmp(res->bundles[i].id, id))
			return &res->bundles[i];
	return NULL;
}

/*
 * Import the ready bundles among `b[0..n)` in one ferry_import call (one
 * store sync, one seed and notification for all) and settle each by its
 * outcome. A ready bundle the import could not judge on its own merits
 * stays ready for the next step: one it did not report (the call failed
 * as a whole, say for a bundle carrying a trust root given with others),
 * and one refused whose channel, after the call, is not at the sequence it
 * builds on (an earlier bundle of its channel was refused: it waits; the
 * import's audit event says it was refused for that reason, which is what
 * happened in this call).
 */
static int import_ready(pass *p, ferry_inbox_bundle *b, size_t n, int batch)
{
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	ferry_import_result res;
	ferry_strv files = FERRY_STRV_INIT, decided = FERRY_STRV_INIT;
	const ferry_import_bundle *r;
	size_t i;
	uint64_t cur;
	int error = 0, ierror, any = 0;

	memset(&res, 0, sizeof(res));
	for (i = 0; i < n; i++) {
		if (b[i].state != FERRY_INBOX_READY)
			continue;
		if ((error = staged_files(p, &b[i], &files)) < 0)
			goto done;
		if (!batch)
			break;
	}
	if (!files.n)
		goto done;
	io.audit_log = p->opts->audit_log;
	io.now = p->opts->now;
	io.skip_superseded = 1;
	ierror = ferry_import(&res, p->st, (const char *const *)files.v, files.n, &io);
	if (!batch && !outcome_of(&res, b->id)) {
		/* the store or the trust root failed, not the bundle: the next
		 * pass tries again */
		error = ierror < 0 ? ierror : ferry_error_set(FERRY_ERROR, "import of bundle "
							       "%.16s reported nothing", b->id);
		goto done;
	}
	ferry_error_clear();
	for (i = 0; i < n; i++) {
		if (b[i].state != FERRY_INBOX_READY || !(r = outcome_of(&res, b[i].id)))
			continue;
		if (r->outcome == FERRY_REFUSED && batch) {
			if ((error = channel_sequence(&cur, b[i].channel, p)) < 0)
				goto done;
			if (!ferry_inbox_in_order(&b[i], cur))
				continue;   /* judged again on its own */
		}
		any |= r->outcome == FERRY_IMPORTED;
		if ((error = settle(p, &b[i], r)) < 0 ||
		    (error = ferry_strv_push(&decided, b[i].id)) < 0)
			goto done;
		b[i].state = 0;   /* decided: not waiting */
	}
	if ((error = sync_outcomes(p, &decided)) < 0)
		goto done;
	for (i = 0; i < decided.n; i++)
		if ((error = finish(p, decided.v[i])) != 0) {
			if (error > 0)
				error = ferry_error_set(FERRY_ERROR, "the outcome of bundle %.16s "
							"was not recorded whole", decided.v[i]);
			goto done;
		}
	if (any && p->opts->imported)
		p->opts->imported(p->st, &res, p->opts->payload);
done:
	ferry_import_result_dispose(&res);
	ferry_strv_dispose(&files);
	ferry_strv_dispose(&decided);
	return error;
}

/* ---- the status file ------------------------------------------------------------- */

static json_t *names_json(const ferry_strv *names, size_t more)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < names->n; i++)
		json_array_append_new(a, json_string(names->v[i]));
	if (a && more)
		json_array_append_new(a, json_sprintf("... and %zu more", more));
	return a;
}

/* The last HISTORY_KEEP outcomes of each kind, read in one pass. */
static void recent(const pass *p, json_t *done_list, json_t *rejected_list)
{
	ferry_buf path = FERRY_BUF_INIT;
	char line[8192];
	FILE *f;

	if (path_of(&path, p->dir, HISTORY_FILE, NULL) < 0 || !(f = fopen(path.ptr, "r"))) {
		ferry_buf_dispose(&path);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);
		json_t *list;
		const char *outcome;

		if (!o)
			continue;
		outcome = json_string_value(json_object_get(o, "outcome"));
		list = outcome && !strcmp(outcome, "rejected") ? rejected_list : done_list;
		json_array_append_new(list, o);
		if (json_array_size(list) > HISTORY_KEEP)
			json_array_remove(list, 0);
	}
	fclose(f);
	ferry_buf_dispose(&path);
}

static int write_status(pass *p, const char *error_text)
{
	json_t *o = json_object(), *waiting = json_array(), *imported = json_array(),
	       *rejected = json_array();
	ferry_buf path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	char when[32];
	size_t i, v;
	int error;

	if (!o || !waiting || !imported || !rejected) {
		error = ferry_error_oom();
		goto done;
	}
	ferry_time_format(when, sizeof(when), p->now);
	/* The first STATUS_LIST_MAX in channel and sequence order (what is
	 * needed next), and how many in all: the file, and the memory of
	 * writing it, do not grow with a backlog. */
	for (i = 0; i < p->nb && i < STATUS_LIST_MAX; i++) {
		const ferry_inbox_bundle *b = &p->b[i];
		json_t *w = json_pack("{s:s,s:s,s:I,s:I,s:I}", "bundle", b->id, "channel",
				      b->channel, "sequence", (json_int_t)b->sequence,
				      "baseSequence", (json_int_t)b->base_sequence, "volumes",
				      (json_int_t)b->nvolumes);
		json_t *missing = json_array();
		size_t have = 0;

		if (!w || !missing) {
			json_decref(w);
			json_decref(missing);
			continue;
		}
		for (v = 0; v < b->nhave; v++) {
			have += b->have[v] != 0;
			if (!b->have[v] && json_array_size(missing) < STATUS_LIST_MAX)
				json_array_append_new(missing, json_integer((json_int_t)v + 1));
		}
		json_object_set_new(w, "received", json_integer((json_int_t)have));
		json_object_set_new(w, "missingVolumes", missing);
		json_object_set_new(w, "waitsForSequence",
				    b->state == FERRY_INBOX_WAIT_SEQUENCE
					    ? json_integer((json_int_t)b->waits_for) : json_null());
		json_object_set_new(w, "state", json_string(
			b->state == FERRY_INBOX_WAIT_SEQUENCE ? "waiting for sequence"
			: b->state == FERRY_INBOX_WAIT_VOLUMES ? "waiting for volumes"
			: "ready"));
		json_array_append_new(waiting, w);
	}
	recent(p, imported, rejected);
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "updated", json_string(when));
	json_object_set_new(o, "updatedUnix", json_integer((json_int_t)p->now));
	json_object_set_new(o, "waiting", waiting);
	json_object_set_new(o, "waitingTotal", json_integer((json_int_t)p->nb));
	json_object_set_new(o, "settling", names_json(&p->settling, p->nsettling));
	json_object_set_new(o, "ignored", names_json(&p->ignored, p->nignored));
	json_object_set_new(o, "sidecarsWithoutFile", names_json(&p->orphans, p->norphans));
	json_object_set_new(o, "done", imported);
	json_object_set_new(o, "rejected", rejected);
	json_object_set_new(o, "error", error_text ? json_string(error_text) : json_null());
	waiting = imported = rejected = NULL;
	if ((error = ferry_json_dump(&text, o)) < 0 || (error = ferry_buf_puts(&text, "\n")) < 0 ||
	    (error = path_of(&path, p->dir, FERRY_INBOX_STATUS_FILE, NULL)) < 0)
		goto done;
	error = write_file(path.ptr, text.ptr);
done:
	json_decref(o);
	json_decref(waiting);
	json_decref(imported);
	json_decref(rejected);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&text);
	return error;
}

/* ---- retention ------------------------------------------------------------------ */

/* Remove done/ files moved there more than keep_done seconds ago. */
static void expire_done(pass *p)
{
	ferry_buf path = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d;

	if (!p->opts->keep_done || path_of(&path, p->dir, FERRY_INBOX_DONE_DIR, NULL) < 0 ||
	    !(d = opendir(path.ptr))) {
		ferry_buf_dispose(&path);
		return;
	}
	while ((e = readdir(d))) {
		struct stat s;

		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(s.st_mode) || (int64_t)s.st_ctime + p->opts->keep_done > p->now)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			ferry_log(FERRY_LOG_INFO, "inbox: removed done/%s (kept %lld days)",
				  e->d_name, (long long)(p->opts->keep_done / 86400));
	}
	closedir(d);
	ferry_buf_dispose(&path);
}

/* Make the pass's renames and the history durable: one fsync per
 * directory instead of one per file. */
static void sync_dirs(const pass *p)
{
	const char *subs[] = { ".", STAGING_DIR, FERRY_INBOX_DONE_DIR, FERRY_INBOX_REJECTED_DIR,
			       HISTORY_FILE };
	ferry_buf path = FERRY_BUF_INIT;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (path_of(&path, p->dir, subs[i], NULL) < 0)
			break;
		if ((fd = open(path.ptr, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (fsync(fd) < 0)
			ferry_log(FERRY_LOG_WARN, "inbox: cannot sync '%s': %s", path.ptr,
				  strerror(errno));
		close(fd);
	}
	ferry_buf_dispose(&path);
}

/* ---- lock and pass ---------------------------------------------------------------- */

static int lock_dir(int *fd, const char *dir)
{
	ferry_buf path = FERRY_BUF_INIT;
	const char *subs[] = { STAGING_DIR, FERRY_INBOX_DONE_DIR, FERRY_INBOX_REJECTED_DIR };
	size_t i;
	int error;

	*fd = -1;
	if (!ferry_fs_exists(dir))
		return ferry_error_set(FERRY_ENOTFOUND, "no inbox directory '%s'", dir);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if ((error = path_of(&path, dir, subs[i], NULL)) < 0 ||
		    (error = ferry_fs_mkdir_p(path.ptr, 0755)) < 0)
			goto done;
	if ((error = path_of(&path, dir, LOCK_FILE, NULL)) < 0)
		goto done;
	if ((*fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		error = ferry_error_set(FERRY_EIO, "cannot open '%s': %s", path.ptr, strerror(errno));
		goto done;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		error = ferry_error_set(errno == EWOULDBLOCK ? FERRY_EEXISTS : FERRY_EIO,
					"another inbox is working on '%s'", dir);
		close(*fd);
		*fd = -1;
	}
done:
	ferry_buf_dispose(&path);
	return error;
}

static int run_pass(ferry_inbox_counts *out, const char *dir, const char *store,
		    const ferry_inbox_options *opts)
{
	ferry_strv taking = FERRY_STRV_INIT, sidecars = FERRY_STRV_INIT;
	ferry_inbox_counts counts = { 0 };
	pass p;
	size_t i;
	int error, serror;

	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.store_path = store;
	p.opts = opts;
	p.now = clock_now(opts);
	p.counts = &counts;
	{
		ferry_strv empty = FERRY_STRV_INIT;

		p.settling = p.ignored = p.orphans = empty;
	}

	/* 1. Finish what a killed pass decided; what is staged; what landed. */
	if ((error = load_staging(&p)) < 0 || (error = scan(&p, &taking, &sidecars)) < 0)
		goto done;
	expire_done(&p);

	/* 2. With something to take or import: the store, its trust root. */
	if (taking.n || p.nb) {
		if ((error = ferry_store_open(&p.st, store, FERRY_STORE_WRITE, !opts->no_wait)) < 0 ||
		    (error = ferry_trust_current(&p.root, p.st)) < 0)
			goto done;
		ferry_trust_root_view(&p.trust, p.root);
	}
	for (i = 0; i < taking.n; i++)
		if ((error = take(&p, taking.v[i])) < 0) {
			if (error == FERRY_ENOMEM)
				goto done;
			ferry_log(FERRY_LOG_WARN, "inbox: %s: %s (tried again next pass)",
				  taking.v[i], ferry_error_last());
			error = 0;
		}
	for (i = 0; i < sidecars.n; i++)
		if ((error = orphan(&p, sidecars.v[i])) < 0)
			goto done;

	/* 3. Import what is complete, channel by channel in sequence order. */
	if (taking.n) {
		for (i = 0; i < p.nb; i++)
			bundle_dispose(&p.b[i]);
		p.nb = 0;
		if ((error = load_staging(&p)) < 0)
			goto done;
	}
	if (p.st && (error = ferry_inbox_plan(p.b, p.nb, channel_sequence, &p)) < 0)
		goto done;
	/* All that is ready in one import; then, one at a time, what that
	 * left undecided: a bundle whose channel was not where it builds on
	 * waits, any other is imported alone and settled by its outcome. */
	if (p.st && (error = import_ready(&p, p.b, p.nb, 1)) < 0)
		goto done;
	for (i = 0; p.st && i < p.nb; i++) {
		ferry_inbox_bundle *b = &p.b[i];
		uint64_t cur;

		if (b->state != FERRY_INBOX_READY)
			continue;
		if ((error = channel_sequence(&cur, b->channel, &p)) < 0)
			goto done;
		if (!ferry_inbox_in_order(b, cur)) {
			b->state = FERRY_INBOX_WAIT_SEQUENCE;
			b->waits_for = b->base_sequence;
			continue;
		}
		if ((error = import_ready(&p, b, 1, 0)) < 0)
			goto done;
	}
	/* What is left waits. */
	{
		size_t k = 0;

		for (i = 0; i < p.nb; i++) {
			if (p.b[i].state == 0 || p.b[i].state == FERRY_INBOX_READY) {
				bundle_dispose(&p.b[i]);
				continue;
			}
			p.b[k++] = p.b[i];
		}
		p.nb = k;
	}
done:
	counts.waiting = p.nb;
	counts.settling = p.settling.n + p.nsettling;
	counts.ignored = p.ignored.n + p.nignored;
	sync_dirs(&p);
	serror = write_status(&p, error < 0 ? ferry_error_last() : NULL);
	if (!error)
		error = serror;
	if (out)
		*out = counts;
	for (i = 0; i < p.nb; i++)
		bundle_dispose(&p.b[i]);
	free(p.b);
	ferry_strv_dispose(&taking);
	ferry_strv_dispose(&sidecars);
	ferry_strv_dispose(&p.settling);
	ferry_strv_dispose(&p.ignored);
	ferry_strv_dispose(&p.orphans);
	ferry_trust_root_free(p.root);
	ferry_store_close(p.st);
	return error;
}

int ferry_inbox_once(ferry_inbox_counts *out, const char *dir, const char *store,
		     const ferry_inbox_options *opts)
{
	int fd, error;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!opts || opts->version != FERRY_INBOX_OPTIONS_VERSION)
		return ferry_error_set(FERRY_EINVALID, "bad inbox options");
	if ((error = lock_dir(&fd, dir)) < 0)
		return error;
	error = run_pass(out, dir, store, opts);
	close(fd);
	return error;
}

int ferry_inbox_run(const char *dir, const char *store, const ferry_inbox_options *opts,
		    volatile sig_atomic_t *stop)
{
	ferry_inbox_counts counts;
	int fd, ino = -1, error;
	int64_t next = 0;

	if (!opts || opts->version != FERRY_INBOX_OPTIONS_VERSION)
		return ferry_error_set(FERRY_EINVALID, "bad inbox options");
	if ((error = lock_dir(&fd, dir)) < 0)
		return error;
	if ((ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    inotify_add_watch(ino, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB) < 0) {
		/* without inotify, the periodic rescan still finds everything */
		ferry_log(FERRY_LOG_WARN, "inbox: no inotify on '%s' (%s): rescanning every "
			  "%lld s", dir, strerror(errno), (long long)opts->interval);
		if (ino >= 0)
			close(ino);
		ino = -1;
	}
	while (!*stop) {
		int64_t now = (int64_t)time(NULL);
		struct pollfd pfd;
		int n;

		if (now >= next) {
			if (run_pass(&counts, dir, store, opts) < 0)
				ferry_log(FERRY_LOG_WARN, "inbox: pass failed: %s (tried again)",
					  ferry_error_last());
			now = (int64_t)time(NULL);
			next = now + (opts->interval > 0 ? opts->interval : 60);
			if (counts.settling && now + opts->settle < next)
				next = now + (opts->settle > 0 ? opts->settle : 1);
		}
		/* Wake at least every second to see `stop`. */
		pfd.fd = ino;
		pfd.events = POLLIN;
		n = poll(ino >= 0 ? &pfd : NULL, ino >= 0 ? 1 : 0, 1000);
		if (n > 0) {
			char buf[4096];

			while (read(ino, buf, sizeof(buf)) > 0)
				;
			/* a file landed: look at it once it may have settled */
			if (next > (int64_t)time(NULL) + (opts->settle > 0 ? opts->settle : 0))
				next = (int64_t)time(NULL) + (opts->settle > 0 ? opts->settle : 0);
		}
	}
	if (ino >= 0)
		close(ino);
	close(fd);
	return 0;
}

int ferry_inbox_status_path(ferry_buf *out, const char *dir)
{
	return ferry_buf_printf(out, "%s/" FERRY_INBOX_STATUS_FILE, dir);
}
