/*
 * Git bundle files: the header (bundle-format/git_header.h), then a pack.
 *
 * Every object new to the receiver passes the checks of git_check.h first:
 * the commits reachable from the tips and not from the prerequisites (the
 * commits of what the channel sent before), their trees, the .gitmodules
 * and .gitattributes files those trees name, and the tags and other
 * objects the refs point at. Trees and objects the prerequisites' trees
 * hold were checked when they were sent and are skipped; other blobs are
 * looked up (their type), not read.
 *
 * The pack itself is written by `git pack-objects --revs` from the tips
 * and ^prerequisites, as `git bundle create` writes it: it reuses the
 * deltas and compressed data the cache's packs already hold instead of
 * reading, diffing and compressing every object again, and it is thin
 * (deltas against objects the receiver holds) for incremental bundles. Its
 * output is streamed into the file after the header while the file's
 * SHA-256 (for the ferry manifest) is computed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "buf.h"
#include "git_bundle.h"
#include "git_check.h"
#include "git_cmd.h"
#include "git_error.h"
#include "git_header.h"
#include "oidmap.h"
#include "banned.h"

#define F_KNOWN 1u    /* the receiver holds it */
#define F_CHECKED 2u  /* new to the receiver, checked */

/* ---- the check walk ------------------------------------------------------ */

typedef struct {
	const ferry_git__bundle_spec *spec;
	git_odb *odb;
	ferry_oidmap map;
	ferry_buf path;      /* current tree path, for messages */
	unsigned tree_depth;
	int root_gitmodules; /* the root tree just walked has a .gitmodules file */
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

/* Record a checked object: the pack will carry it. */
static int checked(pack_ctx *c, const git_oid *id)
{
	ferry_oidmap_slot *slot;
	int error;

	if ((error = ferry_oidmap_add(&slot, &c->map, id)) < 0)
		return error;
	slot->flags |= F_CHECKED;
	return 0;
}

static int is_done(pack_ctx *c, const git_oid *id)
{
	ferry_oidmap_slot *s = ferry_oidmap_get(&c->map, id);

	return s && (s->flags & (F_KNOWN | F_CHECKED));
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
	ferry_oidmap_slot *s;
	known_walk w = { c, depth };
	int error;

	if (is_done(c, tree))
		return 0;
	if ((error = ferry_oidmap_add(&s, &c->map, tree)) < 0)
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

	git_oid_fromraw(&id, e->id);
	/* blobs: only special files are checked, and again is cheap */
	if (e->mode != FERRY_GIT_MODE_TREE)
		return 0;
	return mark_known_tree(w->c, &id, w->depth + 1);
}

/* The "tree" line of a raw commit. */
static int parse_tree_line(git_oid *tree, pack_ctx *c, const git_oid *commit,
			   const char *p, size_t len)
{
	if (len < 46 || memcmp(p, "tree ", 5) || git_oid_fromstrn(tree, p + 5, 40) < 0)
		return reject(c, "commit", commit, "missing tree", NULL);
	return 0;
}

/* The tree of a commit (the commit is read, not checked). */
static int commit_tree(git_oid *tree, pack_ctx *c, const git_oid *commit)
{
	git_odb_object *obj = NULL;
	int error;

	if ((error = odb_read(&obj, c, commit)) < 0)
		return error;
	error = parse_tree_line(tree, c, commit, git_odb_object_data(obj),
				git_odb_object_size(obj));
	git_odb_object_free(obj);
	return error;
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

static int check_blob(pack_ctx *c, const git_oid *id, const entry_copy *e,
		      const void *data, size_t len)
{
	char buf[256];
	const char *why = ferry_git_check_special_blob(e->name, e->mode, data, len, buf,
						       sizeof(buf));

	return why ? reject(c, "blob", id, why, NULL) : 0;
}

/*
 * A .gitmodules or .gitattributes file (any spelling) named by a tree: read
 * and checked. Other blobs are not read here: no check applies to their
 * content, and git pack-objects reads them (and fails on a blob that is
 * missing or not a blob).
 */
static int check_entry_blob(pack_ctx *c, const git_oid *tree, const entry_copy *e)
{
	git_odb_object *blob = NULL;
	int error;

	if (is_done(c, &e->id))
		return 0;
	if ((error = odb_read(&blob, c, &e->id)) < 0)
		return error;
	if (git_odb_object_type(blob) != GIT_OBJECT_BLOB)
		error = reject(c, "tree", tree, "entry is not a blob", e->name);
	else if ((error = check_blob(c, &e->id, e, git_odb_object_data(blob),
				     git_odb_object_size(blob))) == 0)
		error = checked(c, &e->id);
	git_odb_object_free(blob);
	return error;
}

static int walk_tree(pack_ctx *c, const git_oid *tree)
{
	git_odb_object *obj = NULL;
	entry_list list = { NULL, 0, 0 };
	const char *why = NULL, *entry = NULL;
	size_t i, pathlen = c->path.size;
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
	if ((error = checked(c, tree)) < 0)
		goto done;
	for (i = 0; i < list.n && !error; i++) {
		const entry_copy *e = &list.v[i];

		c->path.size = pathlen;
		if (c->path.ptr)
			c->path.ptr[pathlen] = '\0';
		if (e->mode == FERRY_GIT_MODE_GITLINK)
			continue;
		if (e->mode != FERRY_GIT_MODE_TREE) {
			if (c->tree_depth == 1 && e->namelen == 11 &&
			    !memcmp(e->name, ".gitmodules", 11) && e->mode != FERRY_GIT_MODE_LINK)
				c->root_gitmodules = 1;
			if (ferry_git_is_gitmodules(e->name) || ferry_git_is_gitattributes(e->name))
				error = check_entry_blob(c, tree, e);
			continue;
		}
		if (is_done(c, &e->id))
			continue;
		if ((error = ferry_buf_put(&c->path, e->name, e->namelen)) < 0 ||
		    (error = ferry_buf_puts(&c->path, "/")) < 0)
			break;
		error = walk_tree(c, &e->id);
	}
	c->path.size = pathlen;
	if (c->path.ptr)
		c->path.ptr[pathlen] = '\0';
done:
	c->tree_depth--;
	free(list.v);
	git_odb_object_free(obj);
	return error;
}

/* ---- commits, tags, tips ----------------------------------------------- */

static int add_commit(pack_ctx *c, const git_oid *id)
{
	git_odb_object *obj = NULL;
	git_oid tree;
	const char *why;
	int error;

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
	if ((error = parse_tree_line(&tree, c, id, git_odb_object_data(obj),
				     git_odb_object_size(obj))) < 0 ||
	    (error = checked(c, id)) < 0)
		goto done;
	ferry_buf_clear(&c->path);
	c->root_gitmodules = 0;
	if ((error = walk_tree(c, &tree)) < 0)
		goto done;
	/* after the checks: the callback reads .gitmodules; a root tree
	 * walked before gives the same submodule commits again */
	if (c->spec->commit_cb && c->root_gitmodules)
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
			error = checked(c, id);
		break;
	case GIT_OBJECT_TREE:
		ferry_buf_clear(&c->path);
		error = walk_tree(c, id);
		break;
	case GIT_OBJECT_BLOB: {
		entry_copy e = { "", 0, FERRY_GIT_MODE_BLOB, { { 0 } } };

		error = check_blob(c, id, &e, git_odb_object_data(obj),
				   git_odb_object_size(obj));
		if (!error)
			error = checked(c, id);
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

static int write_header(FILE *f, pack_ctx *c)
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
	if (!error && (fwrite(out.ptr, 1, out.size, f) != out.size || fflush(f) != 0))
		error = ferry_error_set_errno(FERRY_EIO, "cannot write git bundle");
	ferry_git_header_dispose(&h);
	ferry_buf_dispose(&out);
	return error;
}

/* The pack's header, at `offset` of the file git wrote it into. */
static int read_pack_header(unsigned char hdr[12], const char *path, long offset)
{
	FILE *f = fopen(path, "rb");
	int ok;

	if (!f)
		return ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", path);
	ok = fseek(f, offset, SEEK_SET) == 0 && fread(hdr, 1, 12, f) == 12;
	fclose(f);
	if (!ok || memcmp(hdr, "PACK", 4))
		return ferry_error_set(FERRY_ERROR, "'%s': git pack-objects wrote no pack", path);
	return 0;
}

/* The rev-list arguments pack-objects reads: the tips, then what the
 * receiver holds. */
static int pack_input(ferry_buf *out, const ferry_git__bundle_spec *s)
{
	char hex[GIT_OID_HEXSZ + 1];
	size_t i;
	int error = 0;

	for (i = 0; i < s->nrefs && !error; i++)
		error = ferry_buf_printf(out, "%s\n",
					 git_oid_tostr(hex, sizeof(hex), &s->ref_targets[i]));
	for (i = 0; i < s->nprereqs && !error; i++)
		error = ferry_buf_printf(out, "^%s\n",
					 git_oid_tostr(hex, sizeof(hex), &s->prereqs[i]));
	for (i = 0; i < s->nknown && !error; i++)
		error = ferry_buf_printf(out, "^%s\n",
					 git_oid_tostr(hex, sizeof(hex), &s->known[i]));
	return error;
}

/*
 * The bundle file: the header, then the pack git pack-objects writes for
 * the tips less what the receiver holds, reusing the deltas and compressed
 * data the cache's packs hold; thin when there are prerequisites, as
 * `git bundle create` writes it. git writes the pack while the objects are
 * checked here (the two run on two cores); a failed check ends git and
 * removes the file.
 */
int ferry_git__bundle_write(ferry_git__bundle_result *out,
			    const ferry_git__bundle_spec *spec)
{
	const char *argv[] = { "git", "--git-dir", git_repository_path(spec->repo),
			       "pack-objects", "--stdout", "--revs", "--delta-base-offset", "-q",
			       spec->nprereqs ? "--thin" : NULL, NULL };
	ferry_git_child git = { -1, NULL, NULL, -1 };
	ferry_buf input = FERRY_BUF_INIT;
	unsigned char hdr[12];
	pack_ctx c;
	ferry_oidmap_slot *s;
	FILE *f = NULL;
	long start;
	size_t i;
	int error;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.spec = spec;
	if (git_repository_odb(&c.odb, spec->repo) < 0)
		return ferry_git_error(FERRY_ERROR, "repository '%s'", spec->repo_name);
	if (!(f = fopen(spec->path, "wbx"))) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", spec->path);
		goto done;
	}
	if ((error = write_header(f, &c)) < 0 || (error = pack_input(&input, spec)) < 0)
		goto done;
	if ((start = ftell(f)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot write '%s'", spec->path);
		goto done;
	}
	if ((error = ferry_git_start(&git, argv, fileno(f), input.ptr, input.size)) < 0) {
		error = ferry_error_wrap(error, "repository '%s'", spec->repo_name);
		goto done;
	}
	for (i = 0; i < spec->nprereqs; i++) {
		git_oid tree;

		if ((error = ferry_oidmap_add(&s, &c.map, &spec->prereqs[i])) < 0)
			goto done;
		s->flags |= F_KNOWN;
		if ((error = commit_tree(&tree, &c, &spec->prereqs[i])) < 0 ||
		    (error = mark_known_tree(&c, &tree, 0)) < 0)
			goto done;
	}
	for (i = 0; i < spec->nknown; i++) {
		if ((error = ferry_oidmap_add(&s, &c.map, &spec->known[i])) < 0)
			goto done;
		s->flags |= F_KNOWN;
	}
	if ((error = walk_commits(&c)) < 0)
		goto done;
	for (i = 0; i < spec->nrefs; i++)
		if ((error = add_other(&c, &spec->ref_targets[i], 0)) < 0)
			goto done;
	if ((error = ferry_git_finish(&git)) < 0) {
		error = ferry_error_wrap(error, "repository '%s'", spec->repo_name);
		goto done;
	}
	if (fclose(f) != 0) {
		f = NULL;
		error = ferry_error_set_errno(FERRY_EIO, "cannot write '%s'", spec->path);
		goto done;
	}
	f = NULL;
	if ((error = read_pack_header(hdr, spec->path, start)) < 0)
		goto done;
	out->nobjects = (size_t)hdr[8] << 24 | (size_t)hdr[9] << 16 | (size_t)hdr[10] << 8 |
			hdr[11];
	/* nothing new: no file */
	if (out->nobjects)
		error = ferry_sha256_file(out->sha256, &out->size, spec->path);
done:
	ferry_git_abort(&git);
	if (f)
		fclose(f);
	if (error < 0 || !out->nobjects) {
		unlink(spec->path);
		if (error < 0)
			memset(out, 0, sizeof(*out));
	}
	ferry_oidmap_dispose(&c.map);
	ferry_buf_dispose(&c.path);
	ferry_buf_dispose(&input);
	git_odb_free(c.odb);
	return error;
}
