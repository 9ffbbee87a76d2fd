/*
 * Repair from bundles (see repair.h). Each bundle is read by the same
 * verifying reader an import uses, against the store's trust root; the
 * members a fault needs are staged beside the store and used only after
 * the whole file verified. A blob goes in place by one rename; git objects
 * by the import's quarantine and pack move, without touching refs; refs
 * then go back to what ferry.db records. Nothing else of the bundle (tags,
 * refs, sequences) is applied: repair restores, it never imports.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "digest.h"
#include "fs.h"
#include "git_store.h"
#include "hash.h"
#include "log.h"
#include "reader.h"
#include "repair.h"
#include "trust.h"
#include "banned.h"

typedef struct {
	ferry_store *st;
	const ferry_fsck_report *report;
	const char *dir;           /* staging directory */
	int fd;                    /* the member being staged, or -1 */
	char hex[FERRY_SHA256_HEX_LEN + 1];
	ferry_strv staged;         /* hex of members staged whole from this file */
} repair_ctx;

/* A blob the report needs content for. */
static int needs_blob(const ferry_fsck_report *r, const char *hex)
{
	size_t i;

	for (i = 0; i < r->nfaults; i++)
		if (r->faults[i].object == FERRY_FSCK_BLOB &&
		    r->faults[i].kind != FERRY_FSCK_UNRECORDED && !strcmp(r->faults[i].id, hex))
			return 1;
	return 0;
}

/* A repository the report lists faults of (`objects`: other than refs). */
static int needs_repo(const ferry_fsck_report *r, const char *name, int objects)
{
	size_t i;

	for (i = 0; i < r->nfaults; i++) {
		const ferry_fsck_fault *f = &r->faults[i];

		if (f->object == FERRY_FSCK_REPOSITORY ? !strcmp(f->id, name)
		    : f->repo && !strcmp(f->repo, name) &&
		      (!objects || f->object != FERRY_FSCK_REF))
			return 1;
	}
	return 0;
}

/* The repository whose git bundle is blob `hex` in `m`, if a fault needs
 * its objects. */
static const ferry_git_repo *git_bundle_for(const ferry_fsck_report *r,
					    const ferry_manifest *m, const char *hex)
{
	size_t k;

	for (k = 0; k < m->nrepos; k++)
		if (m->repos[k].bundle && !strcmp(ferry_oci_digest_hex(m->repos[k].bundle), hex) &&
		    needs_repo(r, m->repos[k].name, 1))
			return &m->repos[k];
	return NULL;
}

static int staged_path(ferry_buf *out, const repair_ctx *c, const char *hex)
{
	return ferry_buf_printf(out, "%s/%s", c->dir, hex);
}

static int sink_begin(void *payload, const ferry_manifest *m, size_t volume,
		      const ferry_part *part)
{
	repair_ctx *c = payload;
	const ferry_member *mem = &m->members[part->member];
	const char *hex = ferry_oci_blob_member_hex(mem->path);
	ferry_buf path = FERRY_BUF_INIT;
	int error = 0;

	(void)volume;
	c->fd = -1;
	/* Only members that come whole in this file: a split one would need
	 * the import's reassembly. */
	if (!hex || part->offset != 0 || part->size != mem->size ||
	    (!needs_blob(c->report, hex) && !git_bundle_for(c->report, m, hex)))
		return 0;
	if ((error = staged_path(&path, c, hex)) < 0)
		return error;
	unlink(path.ptr);
	c->fd = open(path.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (c->fd < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot stage '%s'", path.ptr);
	else
		memcpy(c->hex, hex, sizeof(c->hex));
	ferry_buf_dispose(&path);
	return error;
}

static int sink_data(void *payload, const void *buf, size_t len)
{
	repair_ctx *c = payload;

	return c->fd < 0 ? 0 : ferry_fs_write_all(c->fd, buf, len);
}

static int sink_end(void *payload, int error)
{
	repair_ctx *c = payload;
	int fd = c->fd;

	c->fd = -1;
	if (fd < 0)
		return 0;
	if (error) {
		close(fd);
		return 0;   /* the read fails; the staging directory goes */
	}
	if ((error = ferry_fs_sync_close(fd, c->hex)) < 0)
		return error;
	return ferry_strv_push(&c->staged, c->hex);
}

/* Use what one verified bundle brought. */
static int apply(ferry_repair_counts *out, repair_ctx *c, const ferry_manifest *m)
{
	ferry_buf path = FERRY_BUF_INIT;
	size_t i, k;
	int error = 0;

	for (i = 0; i < c->staged.n && !error; i++) {
		const char *hex = c->staged.v[i];
		char member[FERRY_OCI_BLOB_MEMBER_SIZE];
		const ferry_git_repo *repo = git_bundle_for(c->report, m, hex);
		ferry_store_blob b;
		long at;

		ferry_buf_clear(&path);
		if ((error = staged_path(&path, c, hex)) < 0)
			break;
		if (repo) {
			ferry_git_staged *s = NULL;

			/* The git bundle may also be a faulty blob: index it
			 * before the blob takes the staged file. A full one is
			 * indexed on its own; an incremental one against the
			 * store's objects, which must then hold its bases. */
			int rc = ferry_git_restore_objects(c->st, c->dir, repo, path.ptr,
							   NULL);

			if (rc == FERRY_EUNSUPPORTED)
				rc = ferry_git_stage(&s, c->st, c->dir, repo, path.ptr,
						     m->base_sequence, NULL, 0, NULL) < 0 ? -1
					: ferry_git_publish_objects(s);
			if (rc < 0)
				ferry_log(FERRY_LOG_WARN, "cannot repair from bundle %.16s: %s",
					  m->id, ferry_error_last());
			else
				out->repos++;
			ferry_git_staged_free(s);
		}
		if (!needs_blob(c->report, hex)) {
			unlink(path.ptr);
			continue;
		}
		ferry_oci_blob_member(member, hex);
		at = ferry_manifest_find(m, member);
		b.hex = hex;
		b.size = at >= 0 ? m->members[at].size : 0;
		b.channel = m->channel;
		b.sequence = m->sequence;
		if ((error = ferry_store_blob_replace(c->st, hex, path.ptr)) < 0 ||
		    (error = ferry_store_blob_add(c->st, &b)) < 0)
			break;
		out->blobs++;
	}
	/* Files without a row: the row of a bundle that carries the content,
	 * once the file is shown to be that content. */
	for (i = 0; i < c->report->nfaults && !error; i++) {
		const ferry_fsck_fault *f = &c->report->faults[i];
		char member[FERRY_OCI_BLOB_MEMBER_SIZE];
		ferry_store_blob b;
		long at;

		if (f->object != FERRY_FSCK_BLOB || f->kind != FERRY_FSCK_UNRECORDED ||
		    !ferry_sha256_hex_valid(f->id))
			continue;
		ferry_oci_blob_member(member, f->id);
		if ((at = ferry_manifest_find(m, member)) < 0 ||
		    ferry_store_blob_verify(c->st, f->id, m->members[at].size) < 0)
			continue;
		b.hex = f->id;
		b.size = m->members[at].size;
		b.channel = m->channel;
		b.sequence = m->sequence;
		if ((error = ferry_store_blob_add(c->st, &b)) == 0)
			out->records++;
	}
	for (k = 0; k < c->staged.n; k++) {
		ferry_buf_clear(&path);
		if (staged_path(&path, c, c->staged.v[k]) == 0)
			unlink(path.ptr);
	}
	ferry_strv_dispose(&c->staged);
	ferry_buf_dispose(&path);
	return error;
}

typedef struct {
	ferry_repair_counts *out;
	ferry_store *st;
	const ferry_fsck_report *report;
} refs_ctx;

static int reset_repo(const char *repo, void *payload)
{
	refs_ctx *rc = payload;
	ferry_buf path = FERRY_BUF_INIT;
	size_t n = 0;
	int error;

	if (!needs_repo(rc->report, repo, 0))
		return 0;
	if ((error = ferry_store_repo_path(&path, rc->st, repo)) == 0 &&
	    ferry_fs_exists(path.ptr) && (error = ferry_git_reset_refs(&n, rc->st, repo, 0)) == 0)
		rc->out->refs += n;
	ferry_buf_dispose(&path);
	return error;
}

int ferry_import_repair(ferry_repair_counts *out, ferry_store *st,
			const ferry_fsck_report *report, const char *const *paths,
			size_t npaths)
{
	ferry_bundle_sink sink = { sink_begin, sink_data, sink_end, NULL, NULL };
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	ferry_trust_root *root = NULL;
	ferry_trust trust;
	ferry_buf dir = FERRY_BUF_INIT;
	repair_ctx c;
	refs_ctx rc;
	size_t i;
	int error;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.report = report;
	c.fd = -1;
	if (!ferry_store_writable(st))
		return ferry_error_set(FERRY_EINVALID, "repair needs the store's write lock");
	if ((error = ferry_trust_current(&root, st)) < 0)
		goto done;
	ferry_trust_root_view(&trust, root);
	if ((error = ferry_store_path(&dir, ferry_store_root(st), FERRY_STORE_STAGING)) < 0 ||
	    (error = ferry_buf_printf(&dir, "/repair-%ld", (long)getpid())) < 0 ||
	    (error = ferry_fs_mkdir_p(dir.ptr, 0700)) < 0)
		goto done;
	c.dir = dir.ptr;
	sink.payload = &c;
	ro.trust = &trust;
	ro.ignore_expiry = 1;
	ro.sink = &sink;
	for (i = 0; i < npaths && !error; i++) {
		ferry_read_result res;

		if ((error = ferry_bundle_read(&res, paths[i], &ro)) < 0) {
			if (c.fd >= 0)
				close(c.fd);
			c.fd = -1;
			if (!strstr(ferry_error_last(), paths[i]))
				error = ferry_error_wrap(error, "'%s'", paths[i]);
		} else {
			error = apply(out, &c, res.manifest);
		}
		ferry_strv_dispose(&c.staged);
		ferry_read_result_dispose(&res);
	}
	if (error)
		goto done;
	rc.out = out;
	rc.st = st;
	rc.report = report;
	error = ferry_store_repo_foreach(st, reset_repo, &rc);
done:
	if (c.fd >= 0)
		close(c.fd);
	ferry_strv_dispose(&c.staged);
	if (dir.ptr && ferry_fs_exists(dir.ptr))
		ferry_fs_remove_tree(dir.ptr);
	ferry_buf_dispose(&dir);
	ferry_trust_root_free(root);
	return error;
}
