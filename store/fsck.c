/*
 * fsck of the store (see fsck.h). A disk that rots or a hand that edits
 * the store leaves it inconsistent in ways that import, gc and the mirror
 * cannot see because they trust names: a blob file is assumed to hold
 * what its digest says, a row to have its file. Here every blob file is
 * hashed, the files and the blobs table are compared, every tag is walked
 * through the OCI walk over the files, and SQLite checks its own pages.
 * Each fault records what refers to it, so an operator knows what is
 * broken and repair knows what to fetch. Nothing is changed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "catalog.h"
#include "digest.h"
#include "fs.h"
#include "fsck.h"
#include "hash.h"
#include "private.h"
#include "util.h"
#include "walk.h"
#include "banned.h"

/* How many rows of PRAGMA integrity_check are reported. */
#define INTEGRITY_ROWS_MAX 20

/* ---- the report ------------------------------------------------------------- */

const char *ferry_fsck_kind_name(ferry_fsck_kind kind)
{
	switch (kind) {
	case FERRY_FSCK_DAMAGED: return "damaged";
	case FERRY_FSCK_MISSING: return "missing";
	case FERRY_FSCK_UNRECORDED: return "unrecorded";
	case FERRY_FSCK_INVALID: return "invalid";
	}
	return "unknown";
}

const char *ferry_fsck_object_name(ferry_fsck_object object)
{
	switch (object) {
	case FERRY_FSCK_BLOB: return "blob";
	case FERRY_FSCK_TAG: return "tag";
	case FERRY_FSCK_DATABASE: return "database";
	case FERRY_FSCK_REPOSITORY: return "repository";
	case FERRY_FSCK_GIT_OBJECT: return "git-object";
	case FERRY_FSCK_REF: return "ref";
	}
	return "unknown";
}

static int same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

int ferry_fsck_report_add(ferry_fsck_fault **out, ferry_fsck_report *r,
			  ferry_fsck_kind kind, ferry_fsck_object object,
			  const char *repo, const char *id, const char *detail)
{
	ferry_fsck_fault *f;
	size_t i;

	for (i = 0; i < r->nfaults; i++) {
		f = &r->faults[i];
		if (f->kind == kind && f->object == object && same(f->repo, repo) &&
		    !strcmp(f->id, id)) {
			if (out)
				*out = f;
			return 0;
		}
	}
	if (FERRY_ALLOC_GROW(r->faults, r->nfaults + 1, r->cap) < 0)
		return FERRY_ENOMEM;
	f = &r->faults[r->nfaults];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->object = object;
	f->id = strdup(id);
	f->repo = repo ? strdup(repo) : NULL;
	f->detail = strdup(detail ? detail : "");
	if (!f->id || !f->detail || (repo && !f->repo)) {
		free(f->id);
		free(f->repo);
		free(f->detail);
		return ferry_error_oom();
	}
	r->nfaults++;
	if (out)
		*out = f;
	return 0;
}

int ferry_fsck_fault_refer(ferry_fsck_fault *f, const char *referrer)
{
	size_t i;

	for (i = 0; i < f->referrers.n; i++)
		if (!strcmp(f->referrers.v[i], referrer))
			return 0;
	return ferry_strv_push(&f->referrers, referrer);
}

size_t ferry_fsck_report_remaining(const ferry_fsck_report *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->nfaults; i++)
		n += !r->faults[i].repaired;
	return n;
}

void ferry_fsck_report_dispose(ferry_fsck_report *r)
{
	size_t i;

	for (i = 0; i < r->nfaults; i++) {
		free(r->faults[i].id);
		free(r->faults[i].repo);
		free(r->faults[i].detail);
		ferry_strv_dispose(&r->faults[i].referrers);
	}
	free(r->faults);
	memset(r, 0, sizeof(*r));
}

/* ---- single blobs --------------------------------------------------------------- */

int ferry_store_blob_verify(ferry_store *st, const char *hex, uint64_t size)
{
	ferry_buf path = FERRY_BUF_INIT;
	char got[FERRY_SHA256_HEX_LEN + 1];
	uint64_t len = 0;
	struct stat s;
	int error;

	if ((error = ferry_store_blob_path(&path, st, hex)) < 0)
		return error;
	if (lstat(path.ptr, &s) < 0 || !S_ISREG(s.st_mode)) {
		error = ferry_error_set(FERRY_ENOTFOUND, "blob %s is not in the store", hex);
		goto done;
	}
	if ((error = ferry_sha256_file(got, &len, path.ptr)) < 0)
		goto done;
	if (strcmp(got, hex))
		error = ferry_error_set(FERRY_ECORRUPT, "blob %s is damaged: its content "
					"hashes to %s", hex, got);
	else if (size != UINT64_MAX && len != size)
		error = ferry_error_set(FERRY_ECORRUPT, "blob %s is damaged: it has %llu "
					"bytes, not %llu", hex, (unsigned long long)len,
					(unsigned long long)size);
done:
	ferry_buf_dispose(&path);
	return error;
}

int ferry_store_blob_replace(ferry_store *st, const char *hex, const char *staged)
{
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	if (st->lock_fd < 0)
		return ferry_error_set(FERRY_EINVALID, "replacing a blob needs the store's "
				       "write lock");
	if ((error = ferry_store_blob_path(&path, st, hex)) < 0)
		return error;
	if (rename(staged, path.ptr) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot replace '%s'", path.ptr);
	else
		error = ferry_fs_fsync_parent(path.ptr);
	ferry_buf_dispose(&path);
	return error;
}

/* ---- what the store holds ----------------------------------------------------- */

enum { HAS_ROW = 1, HAS_FILE = 2, INTACT = 4 };

typedef struct {
	char hex[FERRY_SHA256_HEX_LEN + 1];
	unsigned flags;
	uint64_t row_size, file_size;
} entry;

typedef struct {
	entry *e;
	size_t n, cap;
} entry_set;

typedef struct {
	ferry_fsck_report *r;
	ferry_store *st;
	entry_set set;
	const char *tag;        /* the tag being walked */
} fsck_ctx;

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->hex, ((const entry *)b)->hex);
}

/* The entry for `hex` among the first `n` (sorted) of the set. */
static entry *entry_find_in(const entry_set *s, size_t n, const char *hex)
{
	entry key;

	if (strlen(hex) != FERRY_SHA256_HEX_LEN)
		return NULL;
	memcpy(key.hex, hex, sizeof(key.hex));
	return n ? bsearch(&key, s->e, n, sizeof(*s->e), entry_cmp) : NULL;
}

static entry *entry_find(const entry_set *s, const char *hex)
{
	return entry_find_in(s, s->n, hex);
}

static int entry_push(entry_set *s, const char *hex, unsigned flags, uint64_t size)
{
	entry *e;

	if (FERRY_ALLOC_GROW(s->e, s->n + 1, s->cap) < 0)
		return FERRY_ENOMEM;
	e = &s->e[s->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->hex, hex, FERRY_SHA256_HEX_LEN + 1);
	e->flags = flags;
	if (flags & HAS_ROW)
		e->row_size = size;
	return 0;
}

static int add_row(const ferry_store_blob *b, void *payload)
{
	fsck_ctx *c = payload;

	if (!ferry_sha256_hex_valid(b->hex))
		return ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_INVALID, FERRY_FSCK_DATABASE,
					     NULL, FERRY_STORE_DB,
					     "the blobs table holds a malformed digest");
	return entry_push(&c->set, b->hex, HAS_ROW, b->size);
}

/* Sort a set; an empty one may have no array at all (qsort wants one). */
static void sort_set(entry_set *set)
{
	if (set->n)
		qsort(set->e, set->n, sizeof(*set->e), entry_cmp);
}

/* Hash every file of blobs/sha256 and match it with the rows. */
static int check_files(fsck_ctx *c)
{
	ferry_buf dir = FERRY_BUF_INIT, path = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
	entry_set files = { NULL, 0, 0 };
	struct dirent *d;
	DIR *dh = NULL;
	size_t i, nrows;
	int error;

	if ((error = ferry_store_blob_foreach(c->st, add_row, c)) < 0)
		goto done;
	/* Rows come by digest; sort anyway, the set is searched. */
	sort_set(&c->set);
	nrows = c->set.n;
	if ((error = ferry_oci_blob_dir(&dir, c->st->root)) < 0)
		goto done;
	if (!(dh = opendir(dir.ptr))) {
		if (errno != ENOENT)
			error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", dir.ptr);
		goto rows;
	}
	while ((d = readdir(dh))) {
		char got[FERRY_SHA256_HEX_LEN + 1];
		uint64_t size = 0;
		struct stat s;
		entry *e;

		if (d->d_name[0] == '.' || !ferry_sha256_hex_valid(d->d_name))
			continue;
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir.ptr, d->d_name)) < 0)
			goto done;
		if (lstat(path.ptr, &s) < 0 || !S_ISREG(s.st_mode))
			continue;   /* not a blob: a row for it is reported missing */
		c->r->blobs++;
		if ((error = entry_push(&files, d->d_name, HAS_FILE, 0)) < 0)
			goto done;
		e = &files.e[files.n - 1];
		e->file_size = (uint64_t)s.st_size;
		/* A file the disk cannot read back is damaged, not a reason to
		 * stop checking the others. */
		if ((error = ferry_sha256_file(got, &size, path.ptr)) < 0) {
			if ((error = ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_DAMAGED,
							   FERRY_FSCK_BLOB, NULL, d->d_name,
							   ferry_error_last())) < 0)
				goto done;
			continue;
		}
		e->file_size = size;
		if (!strcmp(got, d->d_name))
			e->flags |= INTACT;
	}
rows:
	sort_set(&files);
	for (i = 0; i < files.n && !error; i++) {
		entry *f = &files.e[i], *row = entry_find_in(&c->set, nrows, f->hex);

		if (!(f->flags & INTACT)) {
			ferry_buf_clear(&msg);
			if ((error = ferry_buf_printf(&msg, "its %llu bytes do not hash to its "
						      "name",
						      (unsigned long long)f->file_size)) < 0 ||
			    (error = ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_DAMAGED,
							   FERRY_FSCK_BLOB, NULL, f->hex,
							   msg.ptr)) < 0)
				break;
		} else if (row && row->row_size != f->file_size) {
			ferry_buf_clear(&msg);
			if ((error = ferry_buf_printf(&msg, "it has %llu bytes; ferry.db "
						      "records %llu",
						      (unsigned long long)f->file_size,
						      (unsigned long long)row->row_size)) < 0 ||
			    (error = ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_DAMAGED,
							   FERRY_FSCK_BLOB, NULL, f->hex,
							   msg.ptr)) < 0)
				break;
		}
		if (row) {
			row->flags |= f->flags;
			row->file_size = f->file_size;
			continue;
		}
		if ((error = ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_UNRECORDED,
						   FERRY_FSCK_BLOB, NULL, f->hex,
						   "a blob file that ferry.db has no row "
						   "for")) < 0)
			break;
		/* Added after the rows: the set is sorted again below. */
		if ((error = entry_push(&c->set, f->hex, f->flags, 0)) < 0)
			break;
		c->set.e[c->set.n - 1].file_size = f->file_size;
	}
	for (i = 0; i < nrows && !error; i++) {
		ferry_fsck_fault *fault;

		if (c->set.e[i].flags & HAS_FILE)
			continue;
		if ((error = ferry_fsck_report_add(&fault, c->r, FERRY_FSCK_MISSING,
						   FERRY_FSCK_BLOB, NULL, c->set.e[i].hex,
						   "ferry.db records it, but there is no "
						   "file")) == 0)
			error = ferry_fsck_fault_refer(fault, "ferry.db");
	}
	sort_set(&c->set);
done:
	if (dh)
		closedir(dh);
	free(files.e);
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&msg);
	return error;
}

/* ---- tags ----------------------------------------------------------------------- */

static const char *role_name(ferry_oci_role role)
{
	switch (role) {
	case FERRY_OCI_ROOT: return NULL;
	case FERRY_OCI_MANIFESTS: return "manifest";
	case FERRY_OCI_CONFIG: return "config";
	case FERRY_OCI_LAYER: return "layer";
	case FERRY_OCI_SUBJECT: return "subject";
	}
	return NULL;
}

/* Each descriptor a tag reaches must name an intact blob of its size;
 * a faulty one is recorded with the tag as referrer and not opened. */
static int tag_visit(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth,
		     void *payload)
{
	fsck_ctx *c = payload;
	const entry *e = entry_find(&c->set, desc->hex);
	ferry_buf who = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
	ferry_fsck_fault *f = NULL;
	const char *role_text = role_name(role);
	int error;

	(void)depth;
	if ((error = ferry_buf_printf(&who, "tag '%s'", c->tag)) < 0 ||
	    (role_text && (error = ferry_buf_printf(&who, " (%s)", role_text)) < 0))
		goto done;
	if (!e || !(e->flags & HAS_FILE))
		error = ferry_fsck_report_add(&f, c->r, FERRY_FSCK_MISSING, FERRY_FSCK_BLOB,
					      NULL, desc->hex, "referenced, but there is "
					      "no file");
	else if (!(e->flags & INTACT))
		error = ferry_fsck_report_add(&f, c->r, FERRY_FSCK_DAMAGED, FERRY_FSCK_BLOB,
					      NULL, desc->hex, "its content does not "
					      "hash to its name");
	else if (desc->size != e->file_size) {
		if ((error = ferry_buf_printf(&msg, "it has %llu bytes; the descriptor "
					      "says %llu",
					      (unsigned long long)e->file_size,
					      (unsigned long long)desc->size)) == 0)
			error = ferry_fsck_report_add(&f, c->r, FERRY_FSCK_DAMAGED,
						      FERRY_FSCK_BLOB, NULL, desc->hex,
						      msg.ptr);
	}
	if (!error && f)
		error = ferry_fsck_fault_refer(f, who.ptr);
	if (!error && f)
		error = 1;      /* do not open it */
done:
	ferry_buf_dispose(&who);
	ferry_buf_dispose(&msg);
	return error;
}

static int tag_load(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload)
{
	fsck_ctx *c = payload;

	return ferry_store_read_document(body, c->st->root, desc->hex);
}

static int check_tag(const ferry_store_tag *t, void *payload)
{
	fsck_ctx *c = payload;
	ferry_oci_walk_options o = FERRY_OCI_WALK_OPTIONS_INIT;
	ferry_oci_descriptor root;
	ferry_buf what = FERRY_BUF_INIT;
	const entry *e;
	int error;

	c->r->tags++;
	memset(&root, 0, sizeof(root));
	if ((error = ferry_buf_printf(&what, "tag '%s'", t->reference)) < 0)
		goto done;
	if (ferry_oci_digest_parse(root.hex, t->digest) < 0) {
		error = ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_INVALID, FERRY_FSCK_TAG,
					      NULL, t->reference, ferry_error_last());
		goto done;
	}
	e = entry_find(&c->set, root.hex);
	root.digest = t->digest;
	root.media_type = t->media_type;
	root.size = t->size ? t->size : e ? e->file_size : 0;
	o.load = tag_load;
	o.visit = tag_visit;
	o.flags = FERRY_OCI_SUBJECTS;
	o.what = what.ptr;
	o.payload = c;
	c->tag = t->reference;
	error = ferry_oci_walk(&o, &root);
	if (error < 0 && error != FERRY_ENOMEM)
		/* A document that is whole but malformed, too deep or too
		 * large: the tag cannot be resolved. */
		error = ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_INVALID, FERRY_FSCK_TAG,
					      NULL, t->reference, ferry_error_last());
done:
	c->tag = NULL;
	ferry_buf_dispose(&what);
	return error < 0 ? error : 0;
}

/* ---- the database ------------------------------------------------------------------ */

static int check_database(fsck_ctx *c)
{
	static const char sql[] = "PRAGMA integrity_check";
	sqlite3_stmt *q = NULL;
	int rc, rows = 0, error = 0;

	if (ferry_db_prepare(&q, &c->st->db, sql, "check the database") < 0)
		return ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_INVALID,
					     FERRY_FSCK_DATABASE, NULL, FERRY_STORE_DB,
					     ferry_error_last());
	while ((rc = ferry_db_step(&c->st->db, q, "check the database")) > 0) {
		const char *line = ferry_db_text(q, 0);

		if (!line || !strcmp(line, "ok") || ++rows > INTEGRITY_ROWS_MAX)
			continue;
		if ((error = ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_INVALID,
						   FERRY_FSCK_DATABASE, NULL, FERRY_STORE_DB,
						   line)) < 0)
			break;
		/* several rows: one fault, the first row as its detail */
	}
	if (rc < 0 && !error)
		error = ferry_fsck_report_add(NULL, c->r, FERRY_FSCK_INVALID,
					      FERRY_FSCK_DATABASE, NULL, FERRY_STORE_DB,
					      ferry_error_last());
	ferry_db_release(&c->st->db, q);
	return error;
}

/* ---- repositories ---------------------------------------------------------------------- */

typedef struct {
	fsck_ctx *c;
	const ferry_fsck_options *opts;
} repo_ctx;

static int check_repo(const char *repo, void *payload)
{
	repo_ctx *rc = payload;

	rc->c->r->repos++;
	return rc->opts->check_repo(rc->c->r, rc->c->st, repo, rc->opts->payload);
}

int ferry_store_fsck(ferry_fsck_report *out, ferry_store *st, const ferry_fsck_options *opts)
{
	fsck_ctx c;
	repo_ctx rc;
	int error;

	if (opts && opts->version != FERRY_FSCK_OPTIONS_VERSION)
		return ferry_error_set(FERRY_EINVALID, "bad fsck options");
	memset(&c, 0, sizeof(c));
	c.r = out;
	c.st = st;
	/* The database first: when its pages are damaged, what it lists below
	 * may be wrong, and the report says so before anything else. */
	if ((error = check_database(&c)) < 0 || (error = check_files(&c)) < 0 ||
	    (error = ferry_store_tag_foreach(st, check_tag, &c)) < 0)
		goto done;
	if (opts && opts->check_repo) {
		rc.c = &c;
		rc.opts = opts;
		error = ferry_store_repo_foreach(st, check_repo, &rc);
	}
done:
	free(c.set.e);
	return error;
}
