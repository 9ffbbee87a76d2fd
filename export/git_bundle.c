/*
 * Git bundle files with a pack written here rather than by libgit2's
 * packbuilder: the packbuilder writes only self-contained packs, while an
 * incremental bundle needs a *thin* pack, whose deltas may use objects the
 * receiver already holds (those reachable from the prerequisites). Without
 * that, a one-line change in a large tree costs the whole tree.
 *
 * Objects are chosen as git does for "git bundle create BASE..NEW": the
 * commits reachable from the tips and not from the prerequisites, and the
 * trees and blobs of those commits that the prerequisites' trees do not
 * hold. Each tree and blob is delta-encoded against the entry at the same
 * path in the commit's first parent (which is either earlier in this pack,
 * giving an OFS_DELTA, or held by the receiver, giving a REF_DELTA), the
 * pairing git's own delta search finds most often for repositories of
 * configuration files. Delta chains stop at 50, as in git.
 *
 * The pack body goes to a temporary file first (its object count must
 * precede it), then the bundle file is assembled (the header by
 * bundle-format/git_header.h) while SHA-256 (for the ferry manifest) and
 * SHA-1 (the pack trailer) are computed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "ferry/errors.h"
#include "buf.h"
#include "git_bundle.h"
#include "git_check.h"
#include "git_error.h"
#include "git_header.h"
#include "banned.h"

enum { OBJ_COMMIT = 1, OBJ_TREE = 2, OBJ_BLOB = 3, OBJ_TAG = 4, OBJ_OFS_DELTA = 6,
       OBJ_REF_DELTA = 7 };

#define F_KNOWN 1u    /* the receiver holds it */
#define F_PACKED 2u   /* in this pack */

/* ---- object id map ---------------------------------------------------- */

typedef struct {
	git_oid id;
	unsigned flags;
	unsigned depth;
	uint64_t offset;   /* of the entry in the pack, when F_PACKED */
	int used;
} obj_slot;

typedef struct {
	obj_slot *slots;
	size_t cap, n;
} obj_map;

static size_t slot_of(const obj_map *m, const git_oid *id)
{
	uint64_t h;
	size_t i;

	memcpy(&h, id->id, sizeof(h));
	for (i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
		if (!m->slots[i].used || git_oid_equal(&m->slots[i].id, id))
			return i;
}

static obj_slot *map_get(const obj_map *m, const git_oid *id)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = slot_of(m, id);
	return m->slots[i].used ? &m->slots[i] : NULL;
}

static int map_add(obj_slot **out, obj_map *m, const git_oid *id)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		obj_map grown = { NULL, m->cap ? m->cap * 2 : 4096, 0 };

		if (!(grown.slots = calloc(grown.cap, sizeof(*grown.slots))))
			return ferry_error_oom();
		for (i = 0; i < m->cap; i++)
			if (m->slots[i].used) {
				grown.slots[slot_of(&grown, &m->slots[i].id)] = m->slots[i];
				grown.n++;
			}
		free(m->slots);
		*m = grown;
	}
	i = slot_of(m, id);
	if (!m->slots[i].used) {
		memset(&m->slots[i], 0, sizeof(m->slots[i]));
		git_oid_cpy(&m->slots[i].id, id);
		m->slots[i].used = 1;
		m->n++;
	}
	*out = &m->slots[i];
	return 0;
}

/* ---- deltas (git's delta format) ---------------------------------------- */

#define DELTA_BLOCK 16
#define DELTA_MAX_CANDIDATES 16

static uint32_t block_hash(const unsigned char *p)
{
	uint64_t a, b;

	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	a = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
	return (uint32_t)(a >> 32);
}

typedef struct {
	unsigned char *p;
	size_t n, max;
} delta_out;

static int dput(delta_out *o, const void *data, size_t len)
{
	if (o->n + len > o->max)
		return 1;
	memcpy(o->p + o->n, data, len);
	o->n += len;
	return 0;
}

static int dput_varint(delta_out *o, size_t v)
{
	unsigned char b[10];
	size_t n = 0;

	do {
		b[n] = v & 0x7f;
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	return dput(o, b, n);
}

static int flush_insert(delta_out *o, const unsigned char *lit, size_t len)
{
	while (len) {
		unsigned char n = len > 127 ? 127 : (unsigned char)len;

		if (dput(o, &n, 1) || dput(o, lit, n))
			return 1;
		lit += n;
		len -= n;
	}
	return 0;
}

static int put_copy(delta_out *o, size_t off, size_t len)
{
	while (len) {
		size_t n = len > 0x10000 ? 0x10000 : len;
		unsigned char b[8], op = 0x80;
		size_t k = 1;
		int i;

		for (i = 0; i < 4; i++)
			if ((off >> (8 * i)) & 0xff) {
				b[k++] = (off >> (8 * i)) & 0xff;
				op |= (unsigned char)(1u << i);
			}
		if (n != 0x10000)
			for (i = 0; i < 3; i++)
				if ((n >> (8 * i)) & 0xff) {
					b[k++] = (n >> (8 * i)) & 0xff;
					op |= (unsigned char)(0x10u << i);
				}
		b[0] = op;
		if (dput(o, b, k))
			return 1;
		off += n;
		len -= n;
	}
	return 0;
}

int ferry_git__delta(unsigned char **out, size_t *outlen, const unsigned char *base,
		     size_t baselen, const unsigned char *target, size_t targetlen,
		     size_t max)
{
	uint32_t *heads = NULL, *next = NULL, hsize = 1, mask;
	delta_out o = { NULL, 0, max };
	size_t i, lit = 0, nblocks;
	int full = 1;

	*out = NULL;
	if (baselen < DELTA_BLOCK || baselen > 0xffffffffu || max < 16)
		return 1;
	nblocks = baselen / DELTA_BLOCK;
	while (hsize < nblocks * 2 && hsize < (1u << 24))
		hsize <<= 1;
	mask = hsize - 1;
	if (!(o.p = malloc(max)) || !(heads = malloc(hsize * sizeof(*heads))) ||
	    !(next = malloc(nblocks * sizeof(*next)))) {
		free(o.p);
		free(heads);
		free(next);
		return ferry_error_oom();
	}
	memset(heads, 0xff, hsize * sizeof(*heads));
	/* later blocks first in each chain: nearer matches are tried first */
	for (i = 0; i < nblocks; i++) {
		uint32_t h = block_hash(base + i * DELTA_BLOCK) & mask;

		next[i] = heads[h];
		heads[h] = (uint32_t)i;
	}
	if (dput_varint(&o, baselen) || dput_varint(&o, targetlen))
		goto done;
	i = 0;
	while (i < targetlen) {
		size_t best_len = 0, best_off = 0, back = 0;

		if (i + DELTA_BLOCK <= targetlen) {
			uint32_t b = heads[block_hash(target + i) & mask];
			int tries = 0;

			for (; b != 0xffffffffu && tries < DELTA_MAX_CANDIDATES;
			     b = next[b], tries++) {
				size_t off = (size_t)b * DELTA_BLOCK, n = 0, k = 0;

				while (off + n < baselen && i + n < targetlen &&
				       base[off + n] == target[i + n])
					n++;
				if (n < DELTA_BLOCK)
					continue;
				/* extend backwards into pending literals */
				while (k < lit && k < off && base[off - k - 1] == target[i - k - 1])
					k++;
				if (n + k > best_len + back) {
					best_len = n;
					best_off = off;
					back = k;
				}
			}
		}
		if (best_len >= DELTA_BLOCK) {
			if (flush_insert(&o, target + i - lit, lit - back) ||
			    put_copy(&o, best_off - back, best_len + back))
				goto done;
			lit = 0;
			i += best_len;
		} else {
			lit++;
			i++;
		}
		if (o.n + lit >= max)
			goto done;
	}
	if (flush_insert(&o, target + targetlen - lit, lit))
		goto done;
	full = 0;
done:
	free(heads);
	free(next);
	if (full) {
		free(o.p);
		return 1;
	}
	*out = o.p;
	*outlen = o.n;
	return 0;
}

/* ---- the pack writer ---------------------------------------------------- */

typedef struct {
	const ferry_git__bundle_spec *spec;
	git_odb *odb;
	obj_map map;
	FILE *body;          /* entries, after the 12-byte pack header */
	uint64_t offset;     /* next entry's offset in the pack */
	size_t nobjects;
	z_stream z;
	int z_ready;
	unsigned char *zbuf;
	size_t zcap;
	ferry_buf path;      /* current tree path, for messages */
	unsigned tree_depth;
} pack_ctx;

static int odb_read(git_odb_object **out, pack_ctx *c, const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1];

	if (git_odb_read(out, c->odb, id) < 0)
		return ferry_git_error(FERRY_ECORRUPT, "repository '%s': cannot read object %s",
					c->spec->repo_name, git_oid_tostr(hex, sizeof(hex), id));
	return 0;
}

static int reject(pack_ctx *c, const char *kind, const git_oid *id, const char *why,
		  const char *entry)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), id);
	if (entry)
		return ferry_error_set(FERRY_EINVALID,
				       "repository '%s': %s %s: entry '%s%s': %s",
				       c->spec->repo_name, kind, hex,
				       c->path.ptr ? c->path.ptr : "", entry, why);
	return ferry_error_set(FERRY_EINVALID, "repository '%s': %s %s%s%s%s: %s",
			       c->spec->repo_name, kind, hex,
			       c->path.size ? " (at '" : "", c->path.size ? c->path.ptr : "",
			       c->path.size ? "')" : "", why);
}

static int body_write(pack_ctx *c, const void *data, size_t len)
{
	if (len && fwrite(data, 1, len, c->body) != len)
		return ferry_error_set_errno(FERRY_EIO, "cannot write pack data");
	c->offset += len;
	return 0;
}

static int deflate_into(pack_ctx *c, const void *data, size_t len, size_t *outlen)
{
	uLong bound = deflateBound(&c->z, (uLong)len);

	if (bound > c->zcap) {
		unsigned char *grown = realloc(c->zbuf, bound);

		if (!grown)
			return ferry_error_oom();
		c->zbuf = grown;
		c->zcap = bound;
	}
	if (deflateReset(&c->z) != Z_OK)
		return ferry_error_set(FERRY_ERROR, "zlib reset failed");
	c->z.next_in = (Bytef *)(uintptr_t)data;
	c->z.avail_in = (uInt)len;
	c->z.next_out = c->zbuf;
	c->z.avail_out = (uInt)c->zcap;
	if (deflate(&c->z, Z_FINISH) != Z_STREAM_END)
		return ferry_error_set(FERRY_ERROR, "zlib deflate failed");
	*outlen = c->zcap - c->z.avail_out;
	return 0;
}

static int write_entry(pack_ctx *c, int type, size_t size, const void *extra,
		       size_t extralen, const void *data, size_t len)
{
	unsigned char hdr[16];
	size_t n = 0, zlen = 0;
	int error;

	hdr[n] = (unsigned char)((type << 4) | (size & 15));
	size >>= 4;
	while (size) {
		hdr[n++] |= 0x80;
		hdr[n] = size & 0x7f;
		size >>= 7;
	}
	n++;
	if ((error = deflate_into(c, data, len, &zlen)) < 0 ||
	    (error = body_write(c, hdr, n)) < 0 ||
	    (error = body_write(c, extra, extralen)) < 0 ||
	    (error = body_write(c, c->zbuf, zlen)) < 0)
		return error;
	c->nobjects++;
	return 0;
}

/*
 * Add an object to the pack, as a delta against `base` when that is the
 * same type, within reach, and gives less than half the size.
 */
static int emit(pack_ctx *c, const git_oid *id, int type, const void *data,
		size_t len, const git_oid *base)
{
	git_odb_object *bobj = NULL;
	obj_slot *slot, *bslot = NULL;
	unsigned char *delta = NULL;
	size_t dlen = 0;
	uint64_t offset = c->offset;
	unsigned depth = 0;
	int error = 0, thin = c->spec->nprereqs > 0, packed = 0;

	if (base && !git_oid_equal(base, id) && len >= 64 &&
	    len <= FERRY_GIT_DELTA_MAX_OBJECT) {
		bslot = map_get(&c->map, base);
		packed = bslot && (bslot->flags & F_PACKED);
		if (packed && bslot->depth >= FERRY_GIT_DELTA_MAX_DEPTH)
			base = NULL;
		else if (!packed && !thin)
			base = NULL;   /* a full pack holds all its bases */
		if (base && git_odb_read(&bobj, c->odb, base) == 0 &&
		    git_odb_object_size(bobj) <= FERRY_GIT_DELTA_MAX_OBJECT &&
		    (int)git_odb_object_type(bobj) == type) {
			if ((error = ferry_git__delta(&delta, &dlen,
						      git_odb_object_data(bobj),
						      git_odb_object_size(bobj), data, len,
						      len / 2)) < 0)
				goto done;
		}
		git_error_clear();
	}
	if (delta && packed) {
		unsigned char ofs[16];
		uint64_t rel = offset - bslot->offset;
		size_t pos = sizeof(ofs) - 1;

		ofs[pos] = rel & 127;
		while (rel >>= 7)
			ofs[--pos] = (unsigned char)(128 | (--rel & 127));
		depth = bslot->depth + 1;
		error = write_entry(c, OBJ_OFS_DELTA, dlen, ofs + pos, sizeof(ofs) - pos,
				    delta, dlen);
	} else if (delta) {
		depth = 1;
		error = write_entry(c, OBJ_REF_DELTA, dlen, base->id, GIT_OID_RAWSZ, delta,
				    dlen);
	} else {
		error = write_entry(c, type, len, NULL, 0, data, len);
	}
	if (error < 0 || (error = map_add(&slot, &c->map, id)) < 0)
		goto done;
	slot->flags |= F_PACKED;
	slot->depth = depth;
	slot->offset = offset;
done:
	free(delta);
	git_odb_object_free(bobj);
	return error;
}

static int is_done(pack_ctx *c, const git_oid *id)
{
	obj_slot *s = map_get(&c->map, id);

	return s && (s->flags & (F_KNOWN | F_PACKED));
}

/* ---- marking what the receiver holds -------------------------------------- */

static int mark_known_cb(const ferry_git_tree_entry *e, void *payload);

typedef struct {
	pack_ctx *c;
	unsigned depth;
} known_walk;

static int mark_known_tree(pack_ctx *c, const git_oid *tree, unsigned depth)
{
	git_odb_object *obj = NULL;
	obj_slot *s;
	known_walk w = { c, depth };
	int error;

	if (is_done(c, tree))
		return 0;
	if ((error = map_add(&s, &c->map, tree)) < 0)
		return error;
	s->flags |= F_KNOWN;
	if (depth > FERRY_GIT_MAX_TREE_DEPTH || git_odb_read(&obj, c->odb, tree) < 0) {
		git_error_clear();
		return 0;   /* what we cannot read we simply do not rely on */
	}
	error = ferry_git_tree_parse(git_odb_object_data(obj), git_odb_object_size(obj),
				     mark_known_cb, &w);
	git_odb_object_free(obj);
	return error < 0 ? error : 0;
}

static int mark_known_cb(const ferry_git_tree_entry *e, void *payload)
{
	known_walk *w = payload;
	git_oid id;
	obj_slot *s;

	git_oid_fromraw(&id, e->id);
	if (e->mode == FERRY_GIT_MODE_GITLINK)
		return 0;
	if (e->mode == FERRY_GIT_MODE_TREE)
		return mark_known_tree(w->c, &id, w->depth + 1);
	if (map_add(&s, &w->c->map, &id) < 0)
		return -1;
	s->flags |= F_KNOWN;
	return 0;
}

/* The "tree" line of a commit (the commit is read, not checked). */
static int commit_tree(git_oid *tree, git_oid *first_parent, int *has_parent,
		       pack_ctx *c, const git_oid *commit)
{
	git_odb_object *obj = NULL;
	const char *p;
	size_t len;
	int error;

	*has_parent = 0;
	if ((error = odb_read(&obj, c, commit)) < 0)
		return error;
	p = git_odb_object_data(obj);
	len = git_odb_object_size(obj);
	if (len < 46 || memcmp(p, "tree ", 5) || git_oid_fromstrn(tree, p + 5, 40) < 0) {
		git_odb_object_free(obj);
		return reject(c, "commit", commit, "missing tree", NULL);
	}
	if (first_parent && len >= 46 + 48 && !memcmp(p + 46, "parent ", 7) &&
	    git_oid_fromstrn(first_parent, p + 53, 40) == 0)
		*has_parent = 1;
	git_odb_object_free(obj);
	return 0;
}

/* ---- walking new trees -------------------------------------------------- */

typedef struct {
	const char *name;
	size_t namelen;
	unsigned mode;
	git_oid id;
} entry_copy;

typedef struct {
	entry_copy *v;
	size_t n, cap;
} entry_list;

static int collect_cb(const ferry_git_tree_entry *e, void *payload)
{
	entry_list *l = payload;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		entry_copy *grown = realloc(l->v, cap * sizeof(*grown));

		if (!grown)
			return ferry_error_oom();
		l->v = grown;
		l->cap = cap;
	}
	l->v[l->n].name = e->name;
	l->v[l->n].namelen = e->namelen;
	l->v[l->n].mode = e->mode;
	git_oid_fromraw(&l->v[l->n].id, e->id);
	l->n++;
	return 0;
}

static int same_kind(unsigned a, unsigned b)
{
	return (a == FERRY_GIT_MODE_TREE) == (b == FERRY_GIT_MODE_TREE) &&
	       (a == FERRY_GIT_MODE_GITLINK) == (b == FERRY_GIT_MODE_GITLINK);
}

/* The base entry named like `e`: both lists are in tree order, so a cursor
 * moving forward finds it; fall back to a scan when the base is unusual. */
static const entry_copy *find_base(const entry_list *b, size_t *cursor,
				   const entry_copy *e)
{
	size_t i;

	for (i = *cursor; i < b->n; i++) {
		int cmp;
		size_t n = b->v[i].namelen < e->namelen ? b->v[i].namelen : e->namelen;

		cmp = memcmp(b->v[i].name, e->name, n);
		if (!cmp && b->v[i].namelen == e->namelen) {
			*cursor = i + 1;
			return same_kind(b->v[i].mode, e->mode) ? &b->v[i] : NULL;
		}
		if (cmp > 0 || (!cmp && b->v[i].namelen > e->namelen))
			break;
	}
	return NULL;
}

static int check_blob(pack_ctx *c, const git_oid *id, const entry_copy *e,
		      const void *data, size_t len);

static int walk_tree(pack_ctx *c, const git_oid *tree, const git_oid *base_tree)
{
	git_odb_object *obj = NULL, *bobj = NULL, *blob = NULL;
	entry_list list = { NULL, 0, 0 }, blist = { NULL, 0, 0 };
	const char *why = NULL, *entry = NULL;
	size_t i, cursor = 0, pathlen = c->path.size;
	int error;

	if (is_done(c, tree))
		return 0;
	if (++c->tree_depth > FERRY_GIT_MAX_TREE_DEPTH) {
		error = reject(c, "tree", tree, "trees nest too deeply", NULL);
		goto done;
	}
	if ((error = odb_read(&obj, c, tree)) < 0)
		goto done;
	if (git_odb_object_type(obj) != GIT_OBJECT_TREE) {
		error = reject(c, "tree", tree, "not a tree", NULL);
		goto done;
	}
	error = ferry_git_tree_walk(git_odb_object_data(obj), git_odb_object_size(obj),
				    &why, &entry, collect_cb, &list);
	if (error < 0)
		goto done;
	if (error > 0) {
		char name[256];

		if (entry) {
			/* names are NUL-terminated in the tree data; quote a
			 * bounded, printable copy */
			size_t k;

			for (k = 0; entry[k] && k < sizeof(name) - 1; k++)
				name[k] = (entry[k] >= 0x20 && entry[k] < 0x7f) ? entry[k] : '?';
			name[k] = '\0';
		}
		error = reject(c, "tree", tree, why, entry ? name : NULL);
		goto done;
	}
	if (base_tree && git_odb_read(&bobj, c->odb, base_tree) == 0 &&
	    git_odb_object_type(bobj) == GIT_OBJECT_TREE)
		ferry_git_tree_parse(git_odb_object_data(bobj), git_odb_object_size(bobj),
				     collect_cb, &blist);
	git_error_clear();
	if ((error = emit(c, tree, OBJ_TREE, git_odb_object_data(obj),
			  git_odb_object_size(obj), bobj ? base_tree : NULL)) < 0)
		goto done;
	for (i = 0; i < list.n && !error; i++) {
		const entry_copy *e = &list.v[i], *be;

		if (e->mode == FERRY_GIT_MODE_GITLINK || is_done(c, &e->id))
			continue;
		be = find_base(&blist, &cursor, e);
		c->path.size = pathlen;
		if (c->path.ptr)
			c->path.ptr[pathlen] = '\0';
		if (e->mode == FERRY_GIT_MODE_TREE) {
			if ((error = ferry_buf_put(&c->path, e->name, e->namelen)) < 0 ||
			    (error = ferry_buf_puts(&c->path, "/")) < 0)
				break;
			error = walk_tree(c, &e->id, be ? &be->id : NULL);
			continue;
		}
		if ((error = odb_read(&blob, c, &e->id)) < 0)
			break;
		if (git_odb_object_type(blob) != GIT_OBJECT_BLOB)
			error = reject(c, "tree", tree, "entry is not a blob", e->name);
		else if ((error = check_blob(c, &e->id, e, git_odb_object_data(blob),
					     git_odb_object_size(blob))) == 0)
			error = emit(c, &e->id, OBJ_BLOB, git_odb_object_data(blob),
				     git_odb_object_size(blob), be ? &be->id : NULL);
		git_odb_object_free(blob);
		blob = NULL;
	}
	c->path.size = pathlen;
	if (c->path.ptr)
		c->path.ptr[pathlen] = '\0';
done:
	c->tree_depth--;
	free(list.v);
	free(blist.v);
	git_odb_object_free(obj);
	git_odb_object_free(bobj);
	return error;
}

static int check_blob(pack_ctx *c, const git_oid *id, const entry_copy *e,
		      const void *data, size_t len)
{
	char buf[256];
	const char *why = ferry_git_check_special_blob(e->name, e->mode, data, len, buf,
						       sizeof(buf));

	return why ? reject(c, "blob", id, why, NULL) : 0;
}

/* ---- commits, tags, tips ----------------------------------------------- */

static int add_commit(pack_ctx *c, const git_oid *id)
{
	git_odb_object *obj = NULL;
	git_oid tree, parent, ptree;
	const char *why;
	int error, has_parent = 0, dummy;

	if (is_done(c, id))
		return 0;
	if ((error = odb_read(&obj, c, id)) < 0)
		return error;
	if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT) {
		error = reject(c, "commit", id, "not a commit", NULL);
		goto done;
	}
	if ((why = ferry_git_check_commit(git_odb_object_data(obj),
					  git_odb_object_size(obj), NULL))) {
		error = reject(c, "commit", id, why, NULL);
		goto done;
	}
	if ((error = commit_tree(&tree, &parent, &has_parent, c, id)) < 0 ||
	    (error = emit(c, id, OBJ_COMMIT, git_odb_object_data(obj),
			  git_odb_object_size(obj), NULL)) < 0)
		goto done;
	if (has_parent && (error = commit_tree(&ptree, NULL, &dummy, c, &parent)) < 0) {
		/* a parent the repository lacks cannot be a delta base */
		ferry_error_clear();
		has_parent = 0;
		error = 0;
	}
	ferry_buf_clear(&c->path);
	if ((error = walk_tree(c, &tree, has_parent ? &ptree : NULL)) < 0)
		goto done;
	/* after the checks: the callback reads .gitmodules */
	if (c->spec->commit_cb)
		error = c->spec->commit_cb(id, c->spec->payload);
done:
	git_odb_object_free(obj);
	return error;
}

/* A tip that is not a commit: tag objects (checked), and trees or blobs. */
static int add_other(pack_ctx *c, const git_oid *id, unsigned depth)
{
	git_odb_object *obj = NULL;
	git_oid target;
	const char *why;
	int error = 0;

	if (is_done(c, id) || depth > 16)
		return 0;
	if ((error = odb_read(&obj, c, id)) < 0)
		return error;
	switch (git_odb_object_type(obj)) {
	case GIT_OBJECT_TAG:
		if ((why = ferry_git_check_tag(git_odb_object_data(obj),
					       git_odb_object_size(obj)))) {
			error = reject(c, "tag", id, why, NULL);
			break;
		}
		git_oid_fromstrn(&target, (const char *)git_odb_object_data(obj) + 7, 40);
		if ((error = add_other(c, &target, depth + 1)) == 0)
			error = emit(c, id, OBJ_TAG, git_odb_object_data(obj),
				     git_odb_object_size(obj), NULL);
		break;
	case GIT_OBJECT_TREE:
		ferry_buf_clear(&c->path);
		error = walk_tree(c, id, NULL);
		break;
	case GIT_OBJECT_BLOB: {
		entry_copy e = { "", 0, FERRY_GIT_MODE_BLOB, { { 0 } } };

		error = check_blob(c, id, &e, git_odb_object_data(obj),
				   git_odb_object_size(obj));
		if (!error)
			error = emit(c, id, OBJ_BLOB, git_odb_object_data(obj),
				     git_odb_object_size(obj), NULL);
		break;
	}
	default:
		break;  /* commits were walked already */
	}
	git_odb_object_free(obj);
	return error;
}

static int walk_commits(pack_ctx *c)
{
	const ferry_git__bundle_spec *s = c->spec;
	git_revwalk *walk = NULL;
	git_object *peeled = NULL;
	git_oid id;
	size_t i;
	int error = 0, rc;

	if (git_revwalk_new(&walk, s->repo) < 0)
		return ferry_git_error(FERRY_ERROR, "repository '%s'", s->repo_name);
	git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
	for (i = 0; i < s->nrefs; i++) {
		git_object *o = NULL;
		git_odb_object *raw = NULL;
		const char *why = NULL;

		/* check a tip commit before libgit2 parses it, for a precise
		 * message (commits deeper in history are checked as walked) */
		if ((error = odb_read(&raw, c, &s->ref_targets[i])) < 0)
			goto done;
		if (git_odb_object_type(raw) == GIT_OBJECT_COMMIT)
			why = ferry_git_check_commit(git_odb_object_data(raw),
						     git_odb_object_size(raw), NULL);
		git_odb_object_free(raw);
		if (why) {
			error = reject(c, "commit", &s->ref_targets[i], why, NULL);
			goto done;
		}
		if (git_object_lookup(&o, s->repo, &s->ref_targets[i], GIT_OBJECT_ANY) < 0) {
			error = ferry_git_error(FERRY_ECORRUPT, "repository '%s': ref '%s'",
						s->repo_name, s->ref_names[i]);
			goto done;
		}
		rc = git_object_peel(&peeled, o, GIT_OBJECT_COMMIT);
		git_object_free(o);
		if (rc < 0) {
			git_error_clear();
			continue;   /* a tag of a tree or blob */
		}
		rc = git_revwalk_push(walk, git_object_id(peeled));
		git_object_free(peeled);
		peeled = NULL;
		if (rc < 0) {
			error = ferry_git_error(FERRY_ECORRUPT, "repository '%s': ref '%s'",
						s->repo_name, s->ref_names[i]);
			goto done;
		}
	}
	for (i = 0; i < s->nprereqs; i++)
		if (git_revwalk_hide(walk, &s->prereqs[i]) < 0) {
			error = ferry_git_error(FERRY_ECORRUPT, "repository '%s': prerequisite",
						s->repo_name);
			goto done;
		}
	while ((rc = git_revwalk_next(&id, walk)) == 0)
		if ((error = add_commit(c, &id)) < 0)
			goto done;
	if (rc != GIT_ITEROVER)
		error = ferry_git_error(FERRY_EINVALID,
					"repository '%s': malformed or missing commit in history",
					s->repo_name);
done:
	git_revwalk_free(walk);
	return error;
}

/* ---- assembling the file -------------------------------------------------- */

typedef struct {
	FILE *f;
	ferry_sha256 *sha256;
	EVP_MD_CTX *sha1;    /* over the pack only */
	uint64_t size;
} out_file;

static int out_put(out_file *o, const void *data, size_t len, int pack)
{
	if (len && fwrite(data, 1, len, o->f) != len)
		return ferry_error_set_errno(FERRY_EIO, "cannot write git bundle");
	if (pack && EVP_DigestUpdate(o->sha1, data, len) != 1)
		return ferry_error_set(FERRY_ERROR, "sha1 update failed");
	o->size += len;
	return ferry_sha256_update(o->sha256, data, len);
}

static int write_header(out_file *o, pack_ctx *c)
{
	const ferry_git__bundle_spec *s = c->spec;
	ferry_git_header h;
	ferry_buf out = FERRY_BUF_INIT;
	char hex[GIT_OID_HEXSZ + 1];
	size_t i;
	int error = 0;

	ferry_git_header_init(&h);
	for (i = 0; i < s->nprereqs && !error; i++) {
		git_commit *commit = NULL;
		const char *summary = NULL;

		git_oid_tostr(hex, sizeof(hex), &s->prereqs[i]);
		if (git_commit_lookup(&commit, s->repo, &s->prereqs[i]) == 0)
			summary = git_commit_summary(commit);
		git_error_clear();
		error = ferry_git_header_add_prereq(&h, hex, summary);
		git_commit_free(commit);
	}
	for (i = 0; i < s->nrefs && !error; i++) {
		git_oid_tostr(hex, sizeof(hex), &s->ref_targets[i]);
		error = ferry_git_header_add_ref(&h, hex, s->ref_names[i]);
	}
	for (i = 0; s->head && i < s->nrefs && !error; i++)
		if (!strcmp(s->ref_names[i], s->head)) {
			git_oid_tostr(hex, sizeof(hex), &s->ref_targets[i]);
			error = ferry_git_header_add_ref(&h, hex, "HEAD");
		}
	if (!error)
		error = ferry_git_header_write(&out, &h);
	if (!error)
		error = out_put(o, out.ptr, out.size, 0);
	ferry_git_header_dispose(&h);
	ferry_buf_dispose(&out);
	return error;
}

static int assemble(pack_ctx *c, const char *path, ferry_git__bundle_result *res)
{
	out_file o = { NULL, NULL, NULL, 0 };
	unsigned char hdr[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 }, md[EVP_MAX_MD_SIZE];
	unsigned char *buf = NULL;
	unsigned int mdlen = 0;
	size_t n;
	int error;

	hdr[8] = (unsigned char)(c->nobjects >> 24);
	hdr[9] = (unsigned char)(c->nobjects >> 16);
	hdr[10] = (unsigned char)(c->nobjects >> 8);
	hdr[11] = (unsigned char)c->nobjects;
	if (!(o.f = fopen(path, "wbx"))) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", path);
		goto done;
	}
	if ((error = ferry_sha256_new(&o.sha256)) < 0)
		goto done;
	if (!(o.sha1 = EVP_MD_CTX_new()) || EVP_DigestInit_ex(o.sha1, EVP_sha1(), NULL) != 1 ||
	    !(buf = malloc(1u << 20))) {
		error = ferry_error_oom();
		goto done;
	}
	if ((error = write_header(&o, c)) < 0 || (error = out_put(&o, hdr, 12, 1)) < 0)
		goto done;
	if (fflush(c->body) != 0 || fseek(c->body, 0, SEEK_SET) != 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot read pack data back");
		goto done;
	}
	while ((n = fread(buf, 1, 1u << 20, c->body)) > 0)
		if ((error = out_put(&o, buf, n, 1)) < 0)
			goto done;
	if (ferror(c->body)) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot read pack data back");
		goto done;
	}
	if (EVP_DigestFinal_ex(o.sha1, md, &mdlen) != 1 ||
	    (error = out_put(&o, md, mdlen, 0)) < 0) {
		error = error ? error : ferry_error_set(FERRY_ERROR, "sha1 failed");
		goto done;
	}
	if (fclose(o.f) != 0) {
		o.f = NULL;
		error = ferry_error_set_errno(FERRY_EIO, "cannot write '%s'", path);
		goto done;
	}
	o.f = NULL;
	res->size = o.size;
	error = ferry_sha256_final_hex(o.sha256, res->sha256);
done:
	if (o.f)
		fclose(o.f);
	if (error < 0)
		unlink(path);
	ferry_sha256_free(o.sha256);
	EVP_MD_CTX_free(o.sha1);
	free(buf);
	return error;
}

int ferry_git__bundle_write(ferry_git__bundle_result *out,
			    const ferry_git__bundle_spec *spec)
{
	pack_ctx c;
	obj_slot *s;
	size_t i;
	int error;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.spec = spec;
	c.offset = 12;
	if (git_repository_odb(&c.odb, spec->repo) < 0)
		return ferry_git_error(FERRY_ERROR, "repository '%s'", spec->repo_name);
	if (deflateInit(&c.z, Z_DEFAULT_COMPRESSION) != Z_OK) {
		error = ferry_error_set(FERRY_ENOMEM, "cannot start zlib");
		goto done;
	}
	c.z_ready = 1;
	if ((error = ferry_buf_printf(&c.path, "%s.body", spec->path)) < 0)
		goto done;
	if (!(c.body = fopen(c.path.ptr, "w+x"))) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", c.path.ptr);
		goto done;
	}
	unlink(c.path.ptr);
	ferry_buf_clear(&c.path);
	for (i = 0; i < spec->nprereqs; i++) {
		git_oid tree;
		int dummy;

		if ((error = map_add(&s, &c.map, &spec->prereqs[i])) < 0)
			goto done;
		s->flags |= F_KNOWN;
		if ((error = commit_tree(&tree, NULL, &dummy, &c, &spec->prereqs[i])) < 0 ||
		    (error = mark_known_tree(&c, &tree, 0)) < 0)
			goto done;
	}
	for (i = 0; i < spec->nknown; i++) {
		if ((error = map_add(&s, &c.map, &spec->known[i])) < 0)
			goto done;
		s->flags |= F_KNOWN;
	}
	if ((error = walk_commits(&c)) < 0)
		goto done;
	for (i = 0; i < spec->nrefs; i++)
		if ((error = add_other(&c, &spec->ref_targets[i], 0)) < 0)
			goto done;
	out->nobjects = c.nobjects;
	if (c.nobjects)
		error = assemble(&c, spec->path, out);
done:
	if (c.body)
		fclose(c.body);
	if (c.z_ready)
		deflateEnd(&c.z);
	free(c.zbuf);
	free(c.map.slots);
	ferry_buf_dispose(&c.path);
	git_odb_free(c.odb);
	return error;
}
