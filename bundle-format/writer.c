/*
 * Bundle writer (see writer.h). The volume layout is planned from sizes
 * alone with a fixed per-entry allowance for tar headers, so every volume
 * is guaranteed to stay within the requested size; members too large for
 * the space left are cut into pieces under ferry-parts/ whose hashes are
 * computed in a first pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>

#include "ferry/errors.h"
#include "contents.h"
#include "direct.h"
#include "envelope.h"
#include "fs.h"
#include "hash.h"
#include "minisig.h"
#include "pipe.h"
#include "util.h"
#include "writer.h"
#include "banned.h"

/* Tar bytes one entry may take besides its padded data: a ustar header
 * plus, when needed, a pax extended header and its data block. */
#define ENTRY_OVERHEAD (3u * 512)
#define END_OF_ARCHIVE (2u * 512)
#define IO_CHUNK (1u << 20)

static uint64_t padded(uint64_t n)
{
	return (n + 511) & ~(uint64_t)511;
}

typedef struct {
	ferry_manifest *m;
	const ferry_member_source *sources;
	const ferry_write_options *opts;
	unsigned char *chunk;
	uint64_t done, total;
} write_ctx;

/* Read `len` bytes at `offset` of member `i`'s source, calling `fn` per
 * chunk. */
static int read_source(write_ctx *w, size_t i, uint64_t offset, uint64_t len,
		       int (*fn)(void *arg, const void *buf, size_t n), void *arg)
{
	const ferry_member_source *src = &w->sources[i];
	ferry_buf named = FERRY_BUF_INIT;
	const char *file = src->file;
	int fd, error = 0;

	if (!file && !src->dir) {
		if (offset + len > w->m->members[i].size)
			return ferry_error_set(FERRY_EINVALID, "source range");
		return len ? fn(arg, (const char *)src->data + offset, (size_t)len) : 0;
	}
	if (!file) {
		if ((error = ferry_buf_printf(&named, "%s/%s", src->dir,
					      w->m->members[i].sha256)) < 0)
			return error;
		file = named.ptr;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", file);
		goto done;
	}
	while (len > 0 && !error) {
		size_t want = len < IO_CHUNK ? (size_t)len : IO_CHUNK;
		ssize_t n = pread(fd, w->chunk, want, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", file);
		else if (n == 0)
			error = ferry_error_set(FERRY_ECORRUPT,
						"'%s' is shorter than member '%s' "
						"(%llu bytes)", file,
						w->m->members[i].path,
						(unsigned long long)w->m->members[i].size);
		else {
			error = fn(arg, w->chunk, (size_t)n);
			offset += (uint64_t)n;
			len -= (uint64_t)n;
		}
	}
	close(fd);
done:
	ferry_buf_dispose(&named);
	return error;
}

typedef struct {
	ferry_sha256 *whole, *piece;
} hash2;

static int hash2_cb(void *arg, const void *buf, size_t n)
{
	hash2 *h = arg;
	int error = ferry_sha256_update(h->whole, buf, n);

	return error ? error : ferry_sha256_update(h->piece, buf, n);
}

/* ---- planning ---------------------------------------------------------- */

static int add_piece(ferry_manifest *m, size_t v, size_t i, uint64_t offset,
		     uint64_t size, unsigned index)
{
	ferry_buf name = FERRY_BUF_INIT;
	char zeros[FERRY_SHA256_HEX_LEN + 1];
	ferry_part p;
	int error;

	memset(&p, 0, sizeof(p));
	if ((error = ferry_buf_printf(&name, "%s%s.%03u", FERRY_PARTS_DIR,
				      m->members[i].path, index)) < 0)
		return error;
	if (name.size > FERRY_PATH_MAX) {
		ferry_buf_dispose(&name);
		return ferry_error_set(FERRY_EINVALID, "member path '%s' too long "
				       "to split across volumes", m->members[i].path);
	}
	p.path = name.ptr;
	p.member = i;
	p.offset = offset;
	p.size = size;
	p.whole = 0;
	/* A placeholder of the final length keeps the manifest's size exact
	 * until hash_pieces() fills in the real digest. */
	memset(zeros, '0', FERRY_SHA256_HEX_LEN);
	zeros[FERRY_SHA256_HEX_LEN] = '\0';
	p.sha256 = zeros;
	error = ferry_manifest_add_part(m, v, &p);
	ferry_buf_dispose(&name);
	return error;
}

static int plan_volumes(ferry_manifest *m, uint64_t max, uint64_t envelope_size)
{
	uint64_t fixed = ENTRY_OVERHEAD + padded(envelope_size) + END_OF_ARCHIVE +
			 (m->version != FERRY_BUNDLE_FORMAT_V1
				  ? ENTRY_OVERHEAD + padded(m->contents_size) : 0);
	uint64_t capacity, used = 0, min_piece;
	size_t v = 0, i;
	int error;

	if (max == 0)
		return ferry_manifest_single_volume(m);
	if (max < FERRY_MIN_VOLUME_SIZE)
		return ferry_error_set(FERRY_EINVALID,
				       "volume size %llu is too small (the minimum "
				       "is %u bytes)", (unsigned long long)max,
				       FERRY_MIN_VOLUME_SIZE);
	if (max <= fixed + ENTRY_OVERHEAD + 512)
		return ferry_error_set(FERRY_EINVALID,
				       "volume size %llu is too small: the signed "
				       "manifest and the contents list alone need %llu "
				       "bytes per volume",
				       (unsigned long long)max,
				       (unsigned long long)fixed);
	ferry_manifest_clear_volumes(m);
	capacity = max - fixed;
	min_piece = capacity / 8 < (1u << 20) ? capacity / 8 : (1u << 20);
	if (min_piece < 512)
		min_piece = 512;
	for (i = 0; i < m->nmembers; i++) {
		uint64_t off = 0, rest = m->members[i].size;
		unsigned index = 0;

		for (;;) {
			uint64_t room = capacity - used;

			if (ENTRY_OVERHEAD + padded(rest) <= room) {
				if (off == 0) {
					ferry_part p;

					p.path = m->members[i].path;
					p.member = i;
					p.offset = 0;
					p.size = rest;
					p.sha256 = NULL;
					p.whole = 1;
					error = ferry_manifest_add_part(m, v, &p);
				} else {
					error = add_piece(m, v, i, off, rest, ++index);
				}
				if (error < 0)
					return error;
				used += ENTRY_OVERHEAD + padded(rest);
				break;
			}
			if (room > ENTRY_OVERHEAD &&
			    ((room - ENTRY_OVERHEAD) & ~(uint64_t)511) >= min_piece) {
				uint64_t piece = (room - ENTRY_OVERHEAD) & ~(uint64_t)511;

				if ((error = add_piece(m, v, i, off, piece, ++index)) < 0)
					return error;
				off += piece;
				rest -= piece;
			}
			v++;
			used = 0;
		}
	}
	return 0;
}

/* Hash every piece (and each split member whole, to check its source). */
static int hash_pieces(write_ctx *w)
{
	ferry_manifest *m = w->m;
	ferry_sha256 *whole = NULL, *piece = NULL;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	size_t v, k;
	int error;

	if ((error = ferry_sha256_new(&whole)) < 0 ||
	    (error = ferry_sha256_new(&piece)) < 0)
		goto done;
	for (v = 0; v < m->nvolumes; v++) {
		for (k = 0; k < m->volumes[v].nparts; k++) {
			ferry_part *p = &m->volumes[v].parts[k];
			const ferry_member *mem = &m->members[p->member];
			hash2 h = { whole, piece };

			if (p->whole)
				continue;
			if ((error = read_source(w, p->member, p->offset, p->size,
						 hash2_cb, &h)) < 0 ||
			    (error = ferry_sha256_final_hex(piece, p->sha256)) < 0)
				goto done;
			w->done += p->size;
			if (w->opts->progress)
				w->opts->progress(w->done, w->total,
						  w->opts->progress_payload);
			if (p->offset + p->size < mem->size)
				continue;
			/* last piece of the member: check the whole */
			if ((error = ferry_sha256_final_hex(whole, hex)) < 0)
				goto done;
			if (strcmp(hex, mem->sha256)) {
				error = ferry_error_set(FERRY_ECORRUPT,
							"source of '%s' does not match "
							"its digest (content is sha256:%s)",
							mem->path, hex);
				goto done;
			}
		}
	}
done:
	ferry_sha256_free(whole);
	ferry_sha256_free(piece);
	return error;
}

/* ---- output ------------------------------------------------------------ */

/*
 * The volume's bytes go to two threads through one pipe (core/pipe.h), as
 * one copy: one writes them past the page cache where the file system
 * allows (core/direct.h), waiting on the disk; one feeds the minisign hash
 * (BLAKE2b). This one reads the sources, hashes them (SHA-256) and frames
 * the tar.
 */
typedef struct {
	int fd;
	uint64_t bytes;
	crypto_generichash_state *blake;   /* the hashing consumer's until drained */
	uint64_t flushed;   /* writeback started up to here (the writing consumer) */
	ferry_direct dio;   /* the writing consumer's until the pipe drained */
	ferry_pipe *pipe;
} out_file;

static int out_consume(void *payload, const void *buf, size_t len, int fd, uint64_t at)
{
	out_file *o = payload;
	int error;

	if (o->dio.fd != fd)
		ferry_direct_begin(&o->dio, fd, at);
	if ((error = ferry_direct_write(&o->dio, buf, len)) != 0)
		return error;
	/* the fsync before the rename then waits for little */
	if (!o->dio.direct)
		ferry_fs_start_writeback(fd, &o->flushed, at + len);
	return 0;
}

static int out_hash(void *payload, const void *buf, size_t len, int fd, uint64_t at)
{
	out_file *o = payload;

	(void)fd;
	(void)at;
	crypto_generichash_update(o->blake, buf, len);
	return 0;
}

static la_ssize_t out_write(struct archive *a, void *arg, const void *buf,
			    size_t len)
{
	out_file *o = arg;

	(void)a;
	ferry_pipe_put(o->pipe, o->fd, o->bytes, buf, len);
	o->bytes += len;
	return (la_ssize_t)len;
}

typedef struct {
	struct archive *a;
	ferry_sha256 *sha;
	write_ctx *w;
} data_sink;

static int data_cb(void *arg, const void *buf, size_t n)
{
	data_sink *d = arg;
	const char *p = buf;
	int error;

	if ((error = ferry_sha256_update(d->sha, buf, n)) < 0)
		return error;
	while (n > 0) {
		la_ssize_t wrote = archive_write_data(d->a, p, n);

		if (wrote <= 0)
			return ferry_error_set(FERRY_EIO, "cannot write tar data: %s",
					       archive_error_string(d->a));
		p += wrote;
		n -= (size_t)wrote;
	}
	d->w->done += (uint64_t)(p - (const char *)buf);
	if (d->w->opts->progress)
		d->w->opts->progress(d->w->done, d->w->total,
				     d->w->opts->progress_payload);
	return 0;
}

static int write_entry_header(struct archive *a, const char *path,
			      uint64_t size, int64_t mtime)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (!e)
		return ferry_error_oom();
	archive_entry_set_pathname(e, path);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, (time_t)mtime, 0);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return ferry_error_set(FERRY_EIO, "cannot write tar header for '%s': %s",
				       path, archive_error_string(a));
	return 0;
}

static int contents_cb(void *arg, const void *buf, size_t len)
{
	struct archive *a = arg;

	if (archive_write_data(a, buf, len) != (la_ssize_t)len)
		return ferry_error_set(FERRY_EIO, "cannot write the contents list: %s",
				       archive_error_string(a));
	return 0;
}

static int write_volume(write_ctx *w, size_t v, const ferry_buf *envelope,
			ferry_lockfile *lf, unsigned char hash[64],
			uint64_t *bytes)
{
	const ferry_volume *vol = &w->m->volumes[v];
	struct archive *a = archive_write_new();
	crypto_generichash_state *blake = NULL;
	ferry_sha256 *sha = NULL;
	ferry_pipe_fn consumers[2] = { out_consume, out_hash };
	void *payloads[2];
	out_file o;
	size_t k;
	int error = 0;

	memset(&o, 0, sizeof(o));
	blake = aligned_alloc(64, (sizeof(*blake) + 63) & ~(size_t)63);
	if (!a || !blake || (error = ferry_sha256_new(&sha)) < 0 ||
	    (error = ferry_direct_init(&o.dio)) < 0) {
		error = error ? error : ferry_error_oom();
		goto done;
	}
	crypto_generichash_init(blake, NULL, 0, FERRY_MINISIG_HASH_BYTES);
	o.fd = lf->fd;
	o.bytes = 0;
	o.blake = blake;
	payloads[0] = payloads[1] = &o;
	if ((error = ferry_pipe_start_many(&o.pipe, consumers, payloads, 2)) < 0)
		goto done;
	/* Large blocks: one write(2) per MiB instead of per 10 KiB. The last
	 * block is not padded, so the archive ends at its end marker. */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, IO_CHUNK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, &o, NULL, out_write, NULL) != ARCHIVE_OK) {
		error = ferry_error_set(FERRY_EIO, "cannot start tar: %s",
					archive_error_string(a));
		goto done;
	}
	if ((error = write_entry_header(a, FERRY_MANIFEST_MEMBER, envelope->size,
					w->m->created)) < 0)
		goto done;
	if (archive_write_data(a, envelope->ptr, envelope->size) !=
	    (la_ssize_t)envelope->size) {
		error = ferry_error_set(FERRY_EIO, "cannot write manifest: %s",
					archive_error_string(a));
		goto done;
	}
	if (w->m->version != FERRY_BUNDLE_FORMAT_V1 &&
	    ((error = write_entry_header(a, FERRY_CONTENTS_MEMBER, w->m->contents_size,
					 w->m->created)) < 0 ||
	     (error = ferry_contents_write(w->m, contents_cb, a)) < 0))
		goto done;
	for (k = 0; k < vol->nparts; k++) {
		const ferry_part *p = &vol->parts[k];
		data_sink d = { a, sha, w };
		char hex[FERRY_SHA256_HEX_LEN + 1];

		if ((error = write_entry_header(a, p->path, p->size,
						w->m->created)) < 0 ||
		    (error = read_source(w, p->member, p->offset, p->size, data_cb,
					 &d)) < 0 ||
		    (error = ferry_sha256_final_hex(sha, hex)) < 0)
			goto done;
		if (strcmp(hex, ferry_part_sha256(w->m, p))) {
			error = ferry_error_set(FERRY_ECORRUPT,
						"source of '%s' does not match its "
						"digest (content is sha256:%s)",
						p->path, hex);
			goto done;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		error = ferry_error_set(FERRY_EIO, "cannot finish tar: %s",
					archive_error_string(a));
		goto done;
	}
	if ((errno = ferry_pipe_drain(o.pipe)) != 0 ||
	    (errno = ferry_direct_finish(&o.dio)) != 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot write '%s'", lf->path);
		goto done;
	}
	crypto_generichash_final(blake, hash, FERRY_MINISIG_HASH_BYTES);
	*bytes = o.bytes;
done:
	archive_write_free(a);     /* may still write: before the pipe stops */
	ferry_pipe_stop(o.pipe);   /* before `blake` and `dio` go */
	(void)ferry_direct_finish(&o.dio);   /* O_DIRECT off the file, on failure */
	ferry_direct_dispose(&o.dio);
	ferry_sha256_free(sha);
	free(blake);
	return error;
}

static int volume_path(ferry_buf *out, const ferry_write_options *o, size_t v,
		       size_t nvolumes)
{
	if (nvolumes == 1)
		return ferry_buf_printf(out, "%s/%s" FERRY_BUNDLE_FILE_SUFFIX, o->out_dir,
					o->basename);
	return ferry_buf_printf(out, "%s/%s" FERRY_BUNDLE_VOLUME_FORMAT FERRY_BUNDLE_FILE_SUFFIX,
				o->out_dir, o->basename, v + 1);
}

static int sign_manifest(ferry_buf *envelope, ferry_manifest *m,
			 const ferry_write_options *opts)
{
	ferry_buf payload = FERRY_BUF_INIT;
	int error;

	ferry_buf_clear(envelope);
	if ((error = ferry_manifest_to_json(&payload, m)) < 0 ||
	    (error = ferry_sha256_hex(m->id, payload.ptr, payload.size)) < 0 ||
	    (error = ferry_envelope_sign(envelope, payload.ptr, payload.size,
					 opts->keys, opts->nkeys)) < 0)
		goto done;
	if (envelope->size > FERRY_MANIFEST_MAX_SIZE)
		error = ferry_error_set(FERRY_ETOOBIG,
					"signed manifest (%zu bytes) exceeds the %u "
					"byte limit; split the export", envelope->size,
					FERRY_MANIFEST_MAX_SIZE);
done:
	ferry_buf_dispose(&payload);
	return error;
}

void ferry_write_result_dispose(ferry_write_result *r)
{
	size_t i;

	for (i = 0; i < r->npaths; i++)
		free(r->paths[i]);
	free(r->paths);
	memset(r, 0, sizeof(*r));
}

int ferry_bundle_write(ferry_write_result *out, ferry_manifest *m,
		       const ferry_member_source *sources,
		       const ferry_write_options *opts)
{
	ferry_buf envelope = FERRY_BUF_INIT, path = FERRY_BUF_INIT;
	ferry_lockfile *locks = NULL, *sig_locks = NULL;
	ferry_buf sig = FERRY_BUF_INIT;
	write_ctx w;
	uint64_t assumed = 0;
	size_t v, i, committed = 0;
	int naming = 0;
	int attempt, error = 0;
	unsigned char hash[FERRY_MINISIG_HASH_BYTES];
	char comment[256];

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	w.m = m;
	w.sources = sources;
	w.opts = opts;
	if (!opts || opts->version != FERRY_WRITE_OPTIONS_VERSION || !opts->nkeys)
		return ferry_error_set(FERRY_EINVALID, "bad write options");
	if (!(w.chunk = malloc(IO_CHUNK)))
		return ferry_error_oom();

	if (m->version != FERRY_BUNDLE_FORMAT_V1 &&
	    (error = ferry_contents_digest(&m->contents_size, m->contents_sha256, m)) < 0)
		goto done;
	/* The layout depends on the envelope's size and the envelope lists the
	 * layout: plan with an assumed size until the real one fits. */
	for (attempt = 0;; attempt++) {
		if ((error = plan_volumes(m, opts->max_volume_size, assumed)) < 0 ||
		    (error = sign_manifest(&envelope, m, opts)) < 0)
			goto done;
		if (opts->max_volume_size == 0 || envelope.size <= assumed)
			break;
		if (attempt == 8) {
			error = ferry_error_set(FERRY_ERROR, "volume layout does not settle");
			goto done;
		}
		assumed = envelope.size + envelope.size / 4 + 4096;
	}
	for (i = 0; i < m->nmembers; i++)
		w.total += m->members[i].size;
	for (v = 0; v < m->nvolumes; v++)
		for (i = 0; i < m->volumes[v].nparts; i++)
			if (!m->volumes[v].parts[i].whole)
				w.total += m->volumes[v].parts[i].size;
	if (m->nvolumes > 1) {
		if ((error = hash_pieces(&w)) < 0 ||
		    (error = sign_manifest(&envelope, m, opts)) < 0)
			goto done;
	}

	if (!(locks = calloc(m->nvolumes, sizeof(*locks))) ||
	    !(sig_locks = calloc(m->nvolumes, sizeof(*sig_locks))) ||
	    !(out->paths = calloc(m->nvolumes, sizeof(*out->paths)))) {
		error = ferry_error_oom();
		goto done;
	}
	for (v = 0; v < m->nvolumes; v++)
		locks[v].fd = sig_locks[v].fd = -1;
	snprintf(comment, sizeof(comment), "ferry bundle channel=%s sequence=%llu id=%.16s",
		 m->channel, (unsigned long long)m->sequence, m->id);
	for (v = 0; v < m->nvolumes; v++) {
		uint64_t bytes = 0;

		ferry_buf_clear(&path);
		if ((error = volume_path(&path, opts, v, m->nvolumes)) < 0)
			goto done;
		if (ferry_fs_exists(path.ptr)) {
			error = ferry_error_set(FERRY_EEXISTS, "'%s' already exists",
						path.ptr);
			goto done;
		}
		if ((error = ferry_buf_puts(&path, FERRY_BUNDLE_SIGNATURE_SUFFIX)) < 0)
			goto done;
		if (ferry_fs_exists(path.ptr)) {
			error = ferry_error_set(FERRY_EEXISTS, "'%s' already exists",
						path.ptr);
			goto done;
		}
		path.size -= strlen(FERRY_BUNDLE_SIGNATURE_SUFFIX);
		path.ptr[path.size] = '\0';
		if ((error = ferry_lockfile_open_new(&locks[v], path.ptr, 0644)) < 0 ||
		    (error = write_volume(&w, v, &envelope, &locks[v], hash,
					  &bytes)) < 0)
			goto done;
		if (opts->max_volume_size && bytes > opts->max_volume_size) {
			error = ferry_error_set(FERRY_ERROR,
						"volume %zu came out at %llu bytes, over "
						"the limit", v + 1, (unsigned long long)bytes);
			goto done;
		}
		out->bytes += bytes;
		if (!(out->paths[v] = strdup(path.ptr))) {
			error = ferry_error_oom();
			goto done;
		}
		out->npaths = v + 1;
		/* The signature, like the volume, is named only at the end. */
		ferry_buf_clear(&path);
		ferry_buf_clear(&sig);
		if ((error = ferry_buf_printf(&path, "%s" FERRY_BUNDLE_SIGNATURE_SUFFIX, out->paths[v])) < 0 ||
		    (error = ferry_minisig_text(&sig, opts->keys[0], hash, comment)) < 0 ||
		    (error = ferry_lockfile_open_new(&sig_locks[v], path.ptr, 0644)) < 0)
			goto done;
		if (ferry_fs_write_all(sig_locks[v].fd, sig.ptr, sig.size) < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot write '%s'", path.ptr);
			goto done;
		}
	}
	/* Only now does anything appear under its name: a writer killed
	 * before this leaves nothing behind where O_TMPFILE is available.
	 * Everything is made durable first, so that naming is a few quick
	 * links, then the directory is synced once. */
	for (v = 0; v < m->nvolumes; v++)
		if ((error = ferry_lockfile_sync(&locks[v])) < 0 ||
		    (error = ferry_lockfile_sync(&sig_locks[v])) < 0)
			goto done;
	if (opts->naming && (error = opts->naming(opts->naming_payload, m)) < 0)
		goto done;
	for (v = 0; v < m->nvolumes; v++, committed++) {
		naming = 0;
		if ((error = ferry_lockfile_name(&locks[v])) < 0)
			goto done;
		naming = 1;   /* the volume has its name: the signature may not */
		if ((error = ferry_lockfile_name(&sig_locks[v])) < 0)
			goto done;
		naming = 2;
	}
	if ((error = ferry_fs_fsync_parent(out->paths[0])) < 0)
		goto done;
done:
	if (error < 0) {
		for (v = 0; v < out->npaths; v++) {
			ferry_buf_clear(&path);
			/* only what this writer named: every file before
			 * `committed`, and that one's volume once named */
			if (v > committed || (v == committed && !naming))
				continue;
			if ((v < committed || naming == 2) &&
			    ferry_buf_printf(&path, "%s" FERRY_BUNDLE_SIGNATURE_SUFFIX,
					     out->paths[v]) == 0)
				unlink(path.ptr);
			unlink(out->paths[v]);
		}
		ferry_write_result_dispose(out);
	}
	if (locks)
		for (v = 0; v < m->nvolumes; v++) {
			ferry_lockfile_rollback(&locks[v]);
			ferry_lockfile_rollback(&sig_locks[v]);
		}
	free(locks);
	free(sig_locks);
	ferry_buf_dispose(&sig);
	free(w.chunk);
	ferry_buf_dispose(&envelope);
	ferry_buf_dispose(&path);
	return error;
}
