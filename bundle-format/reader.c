/*
 * Bundle reader (see reader.h). The order of checks is fixed: the first
 * member must be the envelope, the envelope must verify against the trust
 * keys before its payload is parsed, the manifest must be valid, and only
 * then is the next byte of the tar read: in format 2 the contents list,
 * whose size and digest the envelope states, and no line of which is used
 * before the digest matched; then, once the volume is known, the expiry. Each entry
 * must be exactly the next one the signed layout lists for this volume;
 * anything else (unlisted, duplicate, out of order, oversized, missing,
 * non-regular, unsafe path, trailing bytes) is rejected by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "ferry/errors.h"
#include "contents.h"
#include "fs.h"
#include "hash.h"
#include "pipe.h"
#include "reader.h"
#include "util.h"
#include "banned.h"

/* What libarchive reads at a time: headers and small entries. It reads
 * ahead into the next entry, which a large entry then reads again in
 * place, so this stays well below IN_PLACE_MIN. */
#define READ_BLOCK (128u << 10)
/* Entries at least this large (unless the options say otherwise) are read
 * in place into a pipe whose worker hashes them while the next chunk is
 * read; smaller ones are hashed where libarchive hands them out. */
#define IN_PLACE_MIN (1u << 20)

typedef struct {
	const char *path;
	size_t volume;
	size_t index;
} part_ref;

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(((const part_ref *)a)->path, ((const part_ref *)b)->path);
}

static int build_index(part_ref **out, size_t *n, const ferry_manifest *m)
{
	size_t total = 0, v, i, k = 0;
	part_ref *refs;

	for (v = 0; v < m->nvolumes; v++)
		total += m->volumes[v].nparts;
	if (!(refs = malloc((total ? total : 1) * sizeof(*refs))))
		return ferry_error_oom();
	for (v = 0; v < m->nvolumes; v++)
		for (i = 0; i < m->volumes[v].nparts; i++) {
			refs[k].path = m->volumes[v].parts[i].path;
			refs[k].volume = v;
			refs[k++].index = i;
		}
	qsort(refs, total, sizeof(*refs), cmp_ref);
	*out = refs;
	*n = total;
	return 0;
}

static const part_ref *lookup(const part_ref *refs, size_t n, const char *path)
{
	part_ref key = { path, 0, 0 };

	return bsearch(&key, refs, n, sizeof(*refs), cmp_ref);
}

static const char *type_name(mode_t type)
{
	switch (type) {
	case AE_IFLNK: return "a symlink";
	case AE_IFDIR: return "a directory";
	case AE_IFCHR: return "a character device";
	case AE_IFBLK: return "a block device";
	case AE_IFIFO: return "a FIFO";
	case AE_IFSOCK: return "a socket";
	default: return "not a regular file";
	}
}

/* Checks every entry must pass before its name is even compared. */
static int check_entry_shape(struct archive_entry *e, const char *name)
{
	if (archive_entry_hardlink(e))
		return ferry_error_set(FERRY_EINVALID,
				       "member '%.300s' is a hard link: only regular "
				       "files are allowed", name);
	if (archive_entry_filetype(e) != AE_IFREG)
		return ferry_error_set(FERRY_EINVALID,
				       "member '%.300s' is %s: only regular files "
				       "are allowed", name,
				       type_name(archive_entry_filetype(e)));
	if (strlen(name) > FERRY_PATH_MAX + 64 || !ferry_path_is_safe(name))
		return ferry_error_set(FERRY_EINVALID,
				       "unsafe member path '%.300s' (absolute, '..', "
				       "or malformed)", name);
	if (archive_entry_sparse_count(e) > 0)
		return ferry_error_set(FERRY_EINVALID,
				       "member '%s' is a sparse file", name);
	/* Stock tar applies these when it extracts as root: only the one
	 * harmless combination is allowed. */
	if ((archive_entry_mode(e) & 07777) != 0644)
		return ferry_error_set(FERRY_EINVALID,
				       "member '%s' has mode %04o (bundles use 0644)",
				       name, (unsigned)(archive_entry_mode(e) & 07777));
	if (archive_entry_uid(e) != 0 || archive_entry_gid(e) != 0)
		return ferry_error_set(FERRY_EINVALID,
				       "member '%s' is owned by %lld:%lld (bundles use 0:0)",
				       name, (long long)archive_entry_uid(e),
				       (long long)archive_entry_gid(e));
	/* Tar applies names over numeric ids, and restores extended attributes,
	 * ACLs and file flags: none of them may be present. */
	if ((archive_entry_uname(e) && *archive_entry_uname(e)) ||
	    (archive_entry_gname(e) && *archive_entry_gname(e)))
		return ferry_error_set(FERRY_EINVALID,
				       "member '%s' names an owner (%s:%s); bundles carry none",
				       name, archive_entry_uname(e) ? archive_entry_uname(e) : "",
				       archive_entry_gname(e) ? archive_entry_gname(e) : "");
	{
		unsigned long set = 0, clear = 0;

		archive_entry_fflags(e, &set, &clear);
		if (archive_entry_xattr_count(e) > 0 ||
		    archive_entry_acl_count(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS |
						   ARCHIVE_ENTRY_ACL_TYPE_DEFAULT |
						   ARCHIVE_ENTRY_ACL_TYPE_NFS4) > 0 ||
		    set || clear)
			return ferry_error_set(FERRY_EINVALID,
					       "member '%s' carries extended attributes, "
					       "ACLs or file flags; bundles carry none", name);
	}
	if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
		return ferry_error_set(FERRY_EINVALID,
				       "member '%s' has no size", name);
	return 0;
}

typedef struct {
	struct archive *a;
	int fd;
	unsigned member;    /* 1-based number of the member read next */
	uint64_t next;      /* offset of that member's first header */
	const char *path;
	const ferry_read_options *opts;
	ferry_read_result *out;
	uint64_t done;
	uint64_t data_start;  /* offset of the current entry's data; 0: unknown */
	ferry_pipe *hasher;   /* hashes large entries (and hands them to the
				 sink's data_async); started at the first */
	ferry_sha256 *sha;    /* the hasher's, used here only once it drained */
} read_ctx;

static int hash_chunk(void *payload, const void *buf, size_t len, int fd, uint64_t at)
{
	(void)fd;
	(void)at;
	return ferry_sha256_update(payload, buf, len) < 0 ? EIO : 0;
}

static int sink_chunk(void *payload, const void *buf, size_t len, int fd, uint64_t at)
{
	const ferry_bundle_sink *sink = payload;

	(void)fd;
	sink->data_async(sink->payload, buf, len, at);
	return 0;
}

/* The hashing pipe, and the sink's data_async as its second consumer. */
static int start_hasher(read_ctx *r, ferry_sha256 *sha)
{
	const ferry_bundle_sink *sink = r->opts->sink;
	ferry_pipe_fn fns[2] = { hash_chunk, sink_chunk };
	void *payloads[2];

	payloads[0] = sha;
	payloads[1] = (void *)sink;
	return ferry_pipe_start_many(&r->hasher, fns, payloads,
				     sink && sink->data_async ? 2 : 1);
}

/* ---- raw tar framing ----------------------------------------------------
 *
 * libarchive folds framing into the entry it returns: a pax global header
 * ('g') is applied to every later entry, an 'x' header's keys (uid, uname,
 * path, ...) are merged into the next entry, and typeflags it does not know
 * (or knows as "regular": '7', 'S', ...) come out as plain files. GNU tar
 * treats the same bytes differently (a global path= renames members, a
 * volume header 'V' is skipped, 'N' and 'I' have their own meanings), so
 * the entry fields alone cannot tell that what stock tar extracts is what
 * the reader checked. The reader therefore reads each member's raw 512-byte
 * headers itself, at the offset libarchive is about to parse, and accepts
 * exactly what docs/bundle-format.md section 3 allows: ustar headers, an
 * optional per-file 'x' header with only the listed keys, then one typeflag
 * '0' header. Only headers are read here, never a later member's data, so
 * the rule that nothing past the envelope is read before it verifies holds.
 */

#define TAR_BLOCK 512
#define PAX_HEADER_MAX 8192

/* What a typeflag is, for the message that refuses it. */
static const char *typeflag_name(unsigned char t)
{
	switch (t) {
	case '\0': return "an old-style regular file (typeflag NUL)";
	case '7': return "a contiguous file (typeflag '7')";
	case 'g': return "a pax global header (typeflag 'g')";
	case 'x': return "a second pax extended header (typeflag 'x')";
	case 'X': return "a Solaris extended header (typeflag 'X')";
	case 'A': return "a Solaris ACL (typeflag 'A')";
	case 'E': return "a Solaris extended attribute (typeflag 'E')";
	case 'D': return "a GNU dump directory (typeflag 'D')";
	case 'I': return "an inode-only entry (typeflag 'I')";
	case 'K': return "a GNU long link name (typeflag 'K')";
	case 'L': return "a GNU long name (typeflag 'L')";
	case 'M': return "a GNU multi-volume continuation (typeflag 'M')";
	case 'N': return "a GNU old long name (typeflag 'N')";
	case 'S': return "a GNU sparse file (typeflag 'S')";
	case 'V': return "a GNU volume header (typeflag 'V')";
	default: return NULL;
	}
}

/* The pax keys a per-file 'x' header may carry (docs/bundle-format.md 3). */
static int pax_key_allowed(const char *key, size_t len)
{
	static const char *const keys[] = { "path", "size", "mtime", "atime",
					    "ctime" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i]) == len && !memcmp(keys[i], key, len))
			return 1;
	return 0;
}

static int parse_octal(const unsigned char *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && f[i] == ' ')
		i++;
	if (i == n || f[i] < '0' || f[i] > '7')
		return -1;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(f[i] - '0');
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	*out = v;
	return 0;
}

/* Check an 'x' header's records: "LEN KEY=VALUE\n", keys from the list. */
static int check_pax_records(read_ctx *r, const char *rec, size_t size)
{
	size_t off = 0;

	while (off < size) {
		size_t len = 0, i = off, eq;

		while (i < size && rec[i] >= '0' && rec[i] <= '9' && len < size)
			len = len * 10 + (size_t)(rec[i++] - '0');
		if (i == off || i >= size || rec[i] != ' ' || len > size - off ||
		    len < i - off + 3 || rec[off + len - 1] != '\n')
			return ferry_error_set(FERRY_EINVALID,
					       "member %u: malformed pax extended "
					       "header", r->member);
		for (eq = i + 1; eq < off + len - 1 && rec[eq] != '='; eq++)
			;
		if (eq >= off + len - 1 ||
		    !pax_key_allowed(rec + i + 1, eq - i - 1)) {
			char key[64];
			size_t klen = eq - i - 1;

			ferry_escape_bytes(key, sizeof(key), rec + i + 1,
					   klen < 40 ? klen : 40);
			return ferry_error_set(FERRY_EINVALID,
					       "member %u: pax extended header key "
					       "'%s' is not allowed in a bundle",
					       r->member, key);
		}
		off += len;
	}
	return 0;
}

/*
 * Check the raw headers of the member starting at byte OFFSET: an optional
 * 'x' header and then a typeflag '0' header, all ustar. An all-zero block
 * (the end-of-archive marker) and the types libarchive itself reports
 * (links, directories, devices, FIFOs: check_entry_shape names them) are
 * left to the entry checks.
 */
static int check_member_framing(read_ctx *r, uint64_t offset,
				uint64_t *data_start)
{
	unsigned char h[TAR_BLOCK];
	char *pax = NULL;
	int error = 0, seen_x = 0;

	for (;;) {
		const char *what;
		uint64_t size;
		ssize_t n = pread(r->fd, h, sizeof(h), (off_t)offset);
		size_t i;

		if (n < 0) {   /* never a reason to skip the check */
			error = ferry_error_set_errno(FERRY_EIO, "member %u: cannot read "
						      "its header at offset %llu", r->member,
						      (unsigned long long)offset);
			break;
		}
		if (n != (ssize_t)sizeof(h))
			break;  /* truncation: libarchive reports it */
		for (i = 0; i < sizeof(h) && !h[i]; i++)
			;
		if (i == sizeof(h))
			break;
		if (memcmp(h + 257, "ustar\0" "00", 8) != 0) {
			error = ferry_error_set(FERRY_EINVALID,
						"member %u: not a ustar/pax header "
						"(GNU or v7 tar format) at offset %llu",
						r->member, (unsigned long long)offset);
			break;
		}
		if (h[156] == '0' || (h[156] >= '1' && h[156] <= '6')) {
			*data_start = offset + TAR_BLOCK;
			break;
		}
		what = typeflag_name(h[156]);
		if (h[156] != 'x' || seen_x) {
			char tf[8];

			if (!what) {
				ferry_escape_bytes(tf, sizeof(tf), (const char *)h + 156, 1);
				error = ferry_error_set(FERRY_EINVALID,
							"member %u: unknown typeflag '%s' "
							"is not allowed in a bundle",
							r->member, tf);
			} else {
				error = ferry_error_set(FERRY_EINVALID,
							"member %u: %s is not allowed "
							"in a bundle", r->member, what);
			}
			break;
		}
		seen_x = 1;
		if (parse_octal(h + 124, 12, &size) < 0 || size > PAX_HEADER_MAX) {
			error = ferry_error_set(FERRY_EINVALID,
						"member %u: pax extended header has "
						"a bad or oversized size", r->member);
			break;
		}
		if (!(pax = malloc(size ? size : 1))) {
			error = ferry_error_oom();
			break;
		}
		if (pread(r->fd, pax, size, (off_t)(offset + TAR_BLOCK)) != (ssize_t)size)
			break;  /* truncation: libarchive reports it */
		if ((error = check_pax_records(r, pax, size)) < 0)
			break;
		free(pax);
		pax = NULL;
		offset += TAR_BLOCK + ((size + TAR_BLOCK - 1) & ~(uint64_t)(TAR_BLOCK - 1));
	}
	free(pax);
	return error;
}

/*
 * Check the next member's raw framing, then let libarchive parse it. The
 * offset of the following member is computed here from the header chain
 * and the entry's size (libarchive's own position lags: it consumes an
 * entry's data and padding lazily).
 */
static int read_header(read_ctx *r, struct archive_entry **e, int *rc)
{
	uint64_t data_start = 0, size;
	int error;

	if ((error = check_member_framing(r, r->next, &data_start)) < 0)
		return error;
	r->member++;
	*rc = archive_read_next_header(r->a, e);
	r->data_start = *rc == ARCHIVE_OK ? data_start : 0;
	if (*rc == ARCHIVE_OK && data_start) {
		size = archive_entry_size(*e) > 0 ? (uint64_t)archive_entry_size(*e) : 0;
		r->next = data_start + ((size + TAR_BLOCK - 1) & ~(uint64_t)(TAR_BLOCK - 1));
	}
	return 0;
}

static int next_header(read_ctx *r, struct archive_entry **e, const char *after)
{
	int rc, error;

	if ((error = read_header(r, e, &rc)) < 0)
		return error;

	if (rc == ARCHIVE_EOF)
		return 1;
	if (rc != ARCHIVE_OK)
		return ferry_error_set(FERRY_ECORRUPT,
				       "malformed or truncated tar after '%s': %s",
				       after, archive_error_string(r->a));
	return 0;
}

static int read_manifest(read_ctx *r)
{
	struct archive_entry *e;
	ferry_buf env = FERRY_BUF_INIT, payload = FERRY_BUF_INIT;
	const char *name;
	la_int64_t size;
	int error, rc;

	if ((error = read_header(r, &e, &rc)) < 0)
		goto done;
	error = rc;
	if (error == ARCHIVE_EOF) {
		error = ferry_error_set(FERRY_EINVALID, "'%s' is an empty archive",
					r->path);
		goto done;
	}
	if (error != ARCHIVE_OK) {
		error = ferry_error_set(FERRY_EINVALID,
					"'%s' is not a tar archive: %s", r->path,
					archive_error_string(r->a));
		goto done;
	}
	name = archive_entry_pathname(e);
	if (!name || strcmp(name, FERRY_MANIFEST_MEMBER) != 0) {
		error = ferry_error_set(FERRY_EINVALID,
					"first member is '%.200s', not the signed "
					"manifest '%s'", name ? name : "",
					FERRY_MANIFEST_MEMBER);
		goto done;
	}
	if ((error = check_entry_shape(e, name)) < 0)
		goto done;
	size = archive_entry_size(e);
	if ((uint64_t)size > FERRY_MANIFEST_MAX_SIZE) {
		error = ferry_error_set(FERRY_ETOOBIG,
					"signed manifest is %lld bytes, over the "
					"%u byte limit", (long long)size,
					FERRY_MANIFEST_MAX_SIZE);
		goto done;
	}
	if ((error = ferry_buf_grow(&env, (size_t)size)) < 0)
		goto done;
	while (env.size < (size_t)size) {
		la_ssize_t n = archive_read_data(r->a, env.ptr + env.size,
						 (size_t)size - env.size);

		if (n <= 0) {
			error = ferry_error_set(FERRY_ECORRUPT,
						"signed manifest is truncated: %s",
						n < 0 ? archive_error_string(r->a)
						      : "unexpected end");
			goto done;
		}
		env.size += (size_t)n;
	}
	env.ptr[env.size] = '\0';
	r->done += (uint64_t)size;

	if (r->opts->trust && r->opts->trust->threshold == 0) {
		error = ferry_error_set(FERRY_EINVALID, "trust threshold must be at least 1");
		goto done;
	}
	if ((error = ferry_envelope_open(&payload, &r->out->signatures, env.ptr,
					 env.size, r->opts->trust)) < 0)
		goto done;
	ferry_buf_dispose(&env);   /* not held while the manifest is parsed */
	if ((error = ferry_manifest_parse(&r->out->manifest, payload.ptr,
					  payload.size)) < 0)
		goto done;
done:
	ferry_buf_dispose(&env);
	ferry_buf_dispose(&payload);
	return error;
}

/* Format 2: the contents entry comes next, and completes the manifest. */
static int read_contents(read_ctx *r)
{
	ferry_manifest *m = r->out->manifest;
	ferry_contents_reader *cr = NULL;
	struct archive_entry *e;
	const char *name;
	uint64_t got = 0;
	int error;

	if ((error = next_header(r, &e, FERRY_MANIFEST_MEMBER)) != 0) {
		if (error == 1)
			error = ferry_error_set(FERRY_EINVALID, "missing member '%s'",
						FERRY_CONTENTS_MEMBER);
		return error;
	}
	name = archive_entry_pathname(e);
	if (!name || strcmp(name, FERRY_CONTENTS_MEMBER) != 0)
		return ferry_error_set(FERRY_EINVALID, "member after the signed manifest is "
				       "'%.200s', not the contents list '%s'",
				       name ? name : "", FERRY_CONTENTS_MEMBER);
	if ((error = check_entry_shape(e, name)) < 0)
		return error;
	if ((uint64_t)archive_entry_size(e) != m->contents_size)
		return ferry_error_set(FERRY_ECORRUPT, "%smember '%s' is %lld bytes, the "
				       "manifest lists %llu",
				       (uint64_t)archive_entry_size(e) > m->contents_size
				       ? "oversized " : "", name,
				       (long long)archive_entry_size(e),
				       (unsigned long long)m->contents_size);
	if ((error = ferry_contents_reader_new(&cr, m)) < 0)
		return error;
	while (got < m->contents_size) {
		const void *buf;
		size_t n;
		la_int64_t offset;
		int rc = archive_read_data_block(r->a, &buf, &n, &offset);

		if (rc != ARCHIVE_OK || (uint64_t)offset != got || n > m->contents_size - got) {
			error = ferry_error_set(FERRY_ECORRUPT, "bundle is truncated in "
						"member '%s'", FERRY_CONTENTS_MEMBER);
			goto done;
		}
		if ((error = ferry_contents_reader_data(cr, buf, n)) < 0)
			goto done;
		got += n;
		r->done += n;
	}
	error = ferry_contents_reader_end(cr);
done:
	ferry_contents_reader_free(cr);
	return error;
}

static int check_expiry(read_ctx *r)
{
	int64_t now = r->opts->now ? r->opts->now : (int64_t)time(NULL);
	char when[32];

	if (r->opts->ignore_expiry || now < r->out->manifest->expires)
		return 0;
	ferry_time_format(when, sizeof(when), r->out->manifest->expires);
	return ferry_error_set(FERRY_EVERIFY, "bundle expired at %s", when);
}

/* Name the problem with an entry that is not the one expected next. */
static int wrong_entry(const ferry_manifest *m, const part_ref *refs,
		       size_t nrefs, size_t volume, size_t expected,
		       const char *name)
{
	const ferry_volume *vol = &m->volumes[volume];
	const part_ref *ref = lookup(refs, nrefs, name);

	if (!strcmp(name, FERRY_MANIFEST_MEMBER) ||
	    (m->version != FERRY_BUNDLE_FORMAT_V1 && !strcmp(name, FERRY_CONTENTS_MEMBER)))
		return ferry_error_set(FERRY_EINVALID,
				       "duplicate member '%s'", name);
	if (!ref)
		return ferry_error_set(FERRY_EINVALID,
				       "unlisted member '%.300s'", name);
	if (ref->volume != volume)
		return ferry_error_set(FERRY_EINVALID,
				       "member '%s' belongs to volume %zu, not "
				       "volume %zu", name, ref->volume + 1,
				       volume + 1);
	if (ref->index < expected)
		return ferry_error_set(FERRY_EINVALID,
				       "duplicate member '%s'", name);
	return ferry_error_set(FERRY_EINVALID,
			       "out-of-order member '%s' (expected '%s')", name,
			       vol->parts[expected].path);
}

/*
 * A large entry's data, read from its offset in the file straight into the
 * hashing pipe's slots: nothing copies it on the way to the hash and the
 * sink. libarchive, which framed the entry, then skips it.
 */
static int read_in_place(read_ctx *r, const ferry_part *p, int async)
{
	const ferry_bundle_sink *sink = r->opts->sink;
	uint64_t got = 0;
	int error;

	while (got < p->size) {
		uint64_t left = p->size - got;
		size_t want = left < FERRY_PIPE_SLOT ? (size_t)left : FERRY_PIPE_SLOT;
		void *slot = ferry_pipe_slot(r->hasher);
		ssize_t n = pread(r->fd, slot, want, (off_t)(r->data_start + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ferry_error_set_errno(FERRY_EIO, "cannot read '%s' in member '%s'",
						     r->path, p->path);
		if (n == 0)
			return ferry_error_set(FERRY_ECORRUPT,
					       "bundle is truncated in member '%s'", p->path);
		if (sink && !async &&
		    (error = sink->data(sink->payload, slot, (size_t)n)) < 0)
			return error;
		ferry_pipe_commit(r->hasher, -1, got, (size_t)n);
		got += (uint64_t)n;
		r->done += (uint64_t)n;
		if (r->opts->progress)
			r->opts->progress(r->done, r->out->bytes, r->opts->progress_payload);
	}
	if (archive_read_data_skip(r->a) != ARCHIVE_OK)
		return ferry_error_set(FERRY_ECORRUPT, "bundle is truncated in member '%s': %s",
				       p->path, archive_error_string(r->a));
	/* The bytes read here are the ones libarchive framed: it ends where
	 * the raw headers said the entry (and its padding) ends. */
	if (archive_filter_bytes(r->a, -1) != (la_int64_t)r->next)
		return ferry_error_set(FERRY_EINVALID,
				       "member '%s': the tar reader ends its data at byte "
				       "%lld, its headers at byte %llu", p->path,
				       (long long)archive_filter_bytes(r->a, -1),
				       (unsigned long long)r->next);
	return 0;
}

/* An entry's data as libarchive hands it out, from its own buffer, hashed
 * here. */
static int read_blocks(read_ctx *r, const ferry_part *p, ferry_sha256 *sha)
{
	const ferry_bundle_sink *sink = r->opts->sink;
	uint64_t got = 0;
	const void *buf;
	size_t n;
	la_int64_t offset;
	int rc, error;

	while (got < p->size) {
		rc = archive_read_data_block(r->a, &buf, &n, &offset);
		if (rc == ARCHIVE_OK && (uint64_t)offset != got)
			rc = ARCHIVE_FATAL;  /* holes: not a plain regular file */
		if (rc != ARCHIVE_OK || n > p->size - got)
			return ferry_error_set(FERRY_ECORRUPT,
					       "bundle is truncated in member '%s'%s%s",
					       p->path, rc == ARCHIVE_FATAL ? ": " : "",
					       rc == ARCHIVE_FATAL ? archive_error_string(r->a) : "");
		if ((error = ferry_sha256_update(sha, buf, n)) < 0 ||
		    (sink && (error = sink->data(sink->payload, buf, n)) < 0))
			return error;
		got += n;
		r->done += n;
		if (r->opts->progress)
			r->opts->progress(r->done, r->out->bytes, r->opts->progress_payload);
	}
	/* Finish the entry so libarchive consumes its last block; the archive
	 * position is then exactly the end of its data. */
	n = 0;
	rc = archive_read_data_block(r->a, &buf, &n, &offset);
	if (rc == ARCHIVE_FATAL)
		return ferry_error_set(FERRY_ECORRUPT, "bundle is truncated in member '%s': %s",
				       p->path, archive_error_string(r->a));
	if (rc != ARCHIVE_EOF || n)
		return ferry_error_set(FERRY_ECORRUPT,
				       "member '%s' has more data than its header says", p->path);
	return 0;
}

static int read_part(read_ctx *r, struct archive_entry *e, size_t volume,
		     const ferry_part *p, ferry_sha256 *sha)
{
	const ferry_bundle_sink *sink = r->opts->sink;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t hsize = (uint64_t)archive_entry_size(e);
	uint64_t min = r->opts->in_place_min ? r->opts->in_place_min : IN_PLACE_MIN;
	int error = 0, threaded = 0;

	if (hsize > p->size)
		return ferry_error_set(FERRY_ECORRUPT,
				       "oversized member '%s': %llu bytes, the "
				       "manifest lists %llu", p->path,
				       (unsigned long long)hsize,
				       (unsigned long long)p->size);
	if (hsize < p->size)
		return ferry_error_set(FERRY_ECORRUPT,
				       "member '%s' is %llu bytes, the manifest "
				       "lists %llu", p->path,
				       (unsigned long long)hsize,
				       (unsigned long long)p->size);
	if (sink && (error = sink->begin(sink->payload, r->out->manifest, volume,
					 p)) < 0)
		return error;
	/* Where the raw headers placed the data, a large entry is read in
	 * place; the pipe's second consumer, if any, hands it to the sink. */
	if (p->size >= min && r->data_start) {
		if (!r->hasher && start_hasher(r, sha) < 0)
			ferry_error_clear();   /* no thread: hashed here, like small entries */
		threaded = r->hasher != NULL;
	}
	if (threaded)
		error = read_in_place(r, p, sink && sink->data_async);
	else
		error = read_blocks(r, p, sha);
	/* The hasher (and the sink's data_async) has had every chunk before
	 * the digest is read. */
	if (threaded && (errno = ferry_pipe_drain(r->hasher)) != 0 && !error)
		error = ferry_error_set_errno(FERRY_ERROR, "cannot hash member '%s'", p->path);
	if (!error && (error = ferry_sha256_final_hex(sha, hex)) == 0 &&
	    strcmp(hex, ferry_part_sha256(r->out->manifest, p)) != 0)
		error = ferry_error_set(FERRY_ECORRUPT,
					"member '%s' does not match its digest "
					"(manifest sha256:%.12s..., content "
					"sha256:%.12s...)", p->path,
					ferry_part_sha256(r->out->manifest, p), hex);
	if (sink) {
		int end = sink->end(sink->payload, error);

		if (!error)
			error = end;
	}
	return error;
}

/*
 * After the last entry's data (padded to a 512-byte block) come the
 * end-of-archive marker (two zero blocks) and optionally more zero bytes:
 * nothing else, and not less.
 */
static int check_trailer(read_ctx *r, int fd, uint64_t data_end)
{
	uint64_t start = (data_end + 511) & ~(uint64_t)511;
	unsigned char buf[4096];
	off_t pos = (off_t)start;
	ssize_t n, i;

	if (r->out->bytes < start || r->out->bytes - start < 1024)
		return ferry_error_set(FERRY_ECORRUPT,
				       "bundle is truncated: the end-of-archive "
				       "marker is missing");
	while ((n = pread(fd, buf, sizeof(buf), pos)) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i])
				return ferry_error_set(FERRY_EINVALID,
						       "unexpected bytes after the end "
						       "of the archive (offset %lld)",
						       (long long)(pos + i));
		pos += n;
	}
	if (n < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", r->path);
	return 0;
}

int ferry_bundle_read(ferry_read_result *out, const char *path,
		      const ferry_read_options *opts)
{
	read_ctx r;
	struct archive_entry *e;
	part_ref *refs = NULL;
	size_t nrefs = 0, v, k;
	ferry_sha256 *sha = NULL;
	const ferry_volume *vol;
	const char *name, *prev;
	struct stat st;
	uint64_t data_end = 0;
	int fd = -1, error = 0, eof;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.path = path;
	r.opts = opts;
	r.member = 1;
	r.out = out;
	if (!opts || opts->version != FERRY_READ_OPTIONS_VERSION)
		return ferry_error_set(FERRY_EINVALID, "bad read options");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ferry_error_set_errno(errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
					     "cannot open '%s'", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ferry_error_set(FERRY_EINVALID, "'%s' is not a regular file",
				       path);
	}
	out->bytes = (uint64_t)st.st_size;
	r.fd = fd;
	if (!(r.a = archive_read_new()) || (error = ferry_sha256_new(&sha)) < 0) {
		error = error ? error : ferry_error_oom();
		goto done;
	}
	/* Plain tar only: no decompression, no other archive formats. */
	if (archive_read_support_format_tar(r.a) != ARCHIVE_OK) {
		error = ferry_error_set(FERRY_ERROR, "cannot set up tar reader");
		goto done;
	}
	/* Opening reads the first block to recognise the format. */
	if (archive_read_open_fd(r.a, fd, READ_BLOCK) != ARCHIVE_OK) {
		error = ferry_error_set(FERRY_EINVALID, "'%s' is not a tar archive: %s",
					path, archive_error_string(r.a));
		goto done;
	}
	if ((error = read_manifest(&r)) < 0)
		goto done;
	prev = FERRY_MANIFEST_MEMBER;
	if (out->manifest->contents_pending) {
		if ((error = read_contents(&r)) < 0) {
			/* Not a manifest anyone may use: which volume this file
			 * is cannot be told without its list, but the message
			 * names the bundle the envelope signed. */
			error = ferry_error_wrap(error, "bundle %.16s (channel %s, sequence %llu)",
						 out->manifest->id, out->manifest->channel,
						 (unsigned long long)out->manifest->sequence);
			ferry_manifest_free(out->manifest);
			out->manifest = NULL;
			goto done;
		}
		prev = FERRY_CONTENTS_MEMBER;
	}
	if ((error = build_index(&refs, &nrefs, out->manifest)) < 0)
		goto done;

	/* The first entry after them says which volume this file is. */
	eof = next_header(&r, &e, prev);
	if (eof < 0) {
		error = eof;
		goto done;
	}
	if (eof) {
		error = ferry_error_set(FERRY_EINVALID, "missing member '%s'",
					out->manifest->volumes[0].parts[0].path);
		goto done;
	}
	name = archive_entry_pathname(e);
	if (!name)
		name = "";
	/* Identify the volume first, so that a rejection names it. */
	for (v = 0; v < out->manifest->nvolumes; v++)
		if (!strcmp(out->manifest->volumes[v].parts[0].path, name))
			break;
	if (v < out->manifest->nvolumes) {
		out->volume = v;
		out->volume_known = 1;
	}
	if ((error = check_entry_shape(e, name)) < 0)
		goto done;
	if (v == out->manifest->nvolumes) {
		error = wrong_entry(out->manifest, refs, nrefs, 0, 0, name);
		goto done;
	}
	out->volume = v;
	vol = &out->manifest->volumes[v];
	/* Checked once the volume is known, so an expired volume is named. */
	if ((error = check_expiry(&r)) < 0 || opts->manifest_only)
		goto done;

	for (k = 0;; k++) {
		if (k > 0) {
			eof = next_header(&r, &e, prev);
			if (eof < 0) {
				error = eof;
				goto done;
			}
			if (eof) {
				if (k < vol->nparts)
					error = ferry_error_set(FERRY_EINVALID,
								"missing member '%s'",
								vol->parts[k].path);
				break;
			}
			name = archive_entry_pathname(e);
			if ((error = check_entry_shape(e, name ? name : "")) < 0)
				goto done;
		}
		if (k >= vol->nparts || strcmp(name, vol->parts[k].path) != 0) {
			error = wrong_entry(out->manifest, refs, nrefs, v,
					    k < vol->nparts ? k : vol->nparts, name);
			goto done;
		}
		if ((error = read_part(&r, e, v, &vol->parts[k], sha)) < 0)
			goto done;
		prev = vol->parts[k].path;
		data_end = (uint64_t)archive_filter_bytes(r.a, 0);
	}
	if (!error)
		error = check_trailer(&r, fd, data_end);
done:
	free(refs);
	ferry_pipe_stop(r.hasher);   /* before `sha` goes */
	ferry_sha256_free(sha);
	if (r.a)
		archive_read_free(r.a);
	close(fd);
	return error;
}

void ferry_read_result_dispose(ferry_read_result *r)
{
	ferry_manifest_free(r->manifest);
	memset(r, 0, sizeof(*r));
}

/* ---- verification of a set of files ------------------------------------ */

static long find_bundle(ferry_verify_report *rep, const char *id)
{
	size_t i;

	for (i = 0; i < rep->nbundles; i++)
		if (!strcmp(rep->bundles[i].manifest->id, id))
			return (long)i;
	return -1;
}

static int add_bundle(ferry_verify_report *rep, ferry_manifest *m, long *out)
{
	ferry_verify_bundle *b, *grown;
	size_t v;

	grown = realloc(rep->bundles, (rep->nbundles + 1) * sizeof(*grown));
	if (!grown)
		return ferry_error_oom();
	rep->bundles = grown;
	b = &rep->bundles[rep->nbundles];
	memset(b, 0, sizeof(*b));
	b->volume_file = malloc(m->nvolumes * sizeof(*b->volume_file));
	b->volume_ok = calloc(m->nvolumes, sizeof(*b->volume_ok));
	if (!b->volume_file || !b->volume_ok) {
		free(b->volume_file);
		free(b->volume_ok);
		return ferry_error_oom();
	}
	for (v = 0; v < m->nvolumes; v++)
		b->volume_file[v] = -1;
	b->manifest = m;
	*out = (long)rep->nbundles++;
	return 0;
}

int ferry_bundle_verify(ferry_verify_report *out, const char *const *paths,
			size_t npaths, const ferry_read_options *opts)
{
	int first_error = 0, error;
	char first_message[1024] = "";
	size_t i, v;

	memset(out, 0, sizeof(*out));
	if (!(out->files = calloc(npaths ? npaths : 1, sizeof(*out->files))))
		return ferry_error_oom();
	out->nfiles = npaths;
	for (i = 0; i < npaths; i++) {
		ferry_verify_file *f = &out->files[i];
		ferry_read_result res;
		long b = -1;

		f->path = paths[i];
		f->bundle = -1;
		ferry_error_clear();
		error = ferry_bundle_read(&res, paths[i], opts);
		f->error = error;
		f->bytes = res.bytes;
		f->signatures = res.signatures;
		if (error)
			snprintf(f->message, sizeof(f->message), "%s",
				 ferry_error_last());
		if (res.manifest && res.manifest->nvolumes > 0) {
			b = find_bundle(out, res.manifest->id);
			if (b < 0) {
				if ((error = add_bundle(out, res.manifest, &b)) < 0) {
					ferry_read_result_dispose(&res);
					return error;
				}
				res.manifest = NULL;
			}
			f->bundle = b;
			f->volume = res.volume;
			f->volume_known = res.volume_known;
			if (res.volume_known &&
			    (!f->error || out->bundles[b].volume_file[res.volume] < 0))
				out->bundles[b].volume_file[res.volume] = (long)i;
			if (!f->error)
				out->bundles[b].volume_ok[res.volume] = 1;
		}
		ferry_read_result_dispose(&res);
		if (f->error && !first_error) {
			first_error = f->error;
			if (f->bundle >= 0 && out->bundles[f->bundle].manifest->nvolumes > 1 &&
			    f->volume_known)
				snprintf(first_message, sizeof(first_message),
					 "volume %zu of %zu ('%.200s'): %.700s",
					 f->volume + 1,
					 out->bundles[f->bundle].manifest->nvolumes,
					 f->path, f->message);
			else if (strstr(f->message, f->path))   /* already names it */
				snprintf(first_message, sizeof(first_message), "%.900s",
					 f->message);
			else
				snprintf(first_message, sizeof(first_message),
					 "'%.200s': %.700s", f->path, f->message);
		}
	}
	for (i = 0; i < out->nbundles; i++) {
		ferry_verify_bundle *b = &out->bundles[i];
		ferry_buf missing = FERRY_BUF_INIT;
		size_t nmissing = 0;

		b->complete = 1;
		for (v = 0; v < b->manifest->nvolumes; v++) {
			if (b->volume_ok[v])
				continue;
			b->complete = 0;
			if (b->volume_file[v] < 0 && nmissing++ < 32)
				ferry_buf_printf_best_effort(&missing, "%s%zu",
							     nmissing > 1 ? ", " : "", v + 1);
		}
		if (nmissing && !first_error) {
			first_error = FERRY_EVERIFY;
			snprintf(first_message, sizeof(first_message),
				 "bundle %.16s (channel %s, sequence %llu): volume%s "
				 "%s%s of %zu %s missing", b->manifest->id,
				 b->manifest->channel,
				 (unsigned long long)b->manifest->sequence,
				 nmissing > 1 ? "s" : "", missing.ptr ? missing.ptr : "",
				 nmissing > 32 ? ", ..." : "", b->manifest->nvolumes,
				 nmissing > 1 ? "are" : "is");
		}
		ferry_buf_dispose(&missing);
	}
	if (first_error)
		return ferry_error_set(first_error, "%s", first_message);
	return 0;
}

void ferry_verify_report_dispose(ferry_verify_report *r)
{
	size_t i;

	for (i = 0; i < r->nbundles; i++) {
		ferry_manifest_free(r->bundles[i].manifest);
		free(r->bundles[i].volume_file);
		free(r->bundles[i].volume_ok);
	}
	free(r->bundles);
	free(r->files);
	memset(r, 0, sizeof(*r));
}
