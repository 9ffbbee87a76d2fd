/*
 * Git repositories in the store (see git_store.h). libgit2's types stay in
 * this file. A git bundle file's header is parsed by
 * bundle-format/git_header.h; the pack after it is indexed here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "strv.h"
#include "git_error.h"
#include "fs.h"
#include "git_check.h"
#include "git_cmd.h"
#include "git_header.h"
#include "git_pack.h"
#include "oidmap.h"
#include "git_store.h"
#include "banned.h"

struct ferry_git_staged {
	ferry_store *st;
	const ferry_git_repo *repo;
	char *quarantine;     /* staging repository, NULL when no objects */
	char *objects;        /* its object directory */
	char *target;         /* the store's repository */
};

const char *ferry_git_staged_objects(const ferry_git_staged *s)
{
	return s ? s->objects : NULL;
}

static int git_fail(const char *what, const char *repo)
{
	return ferry_git_error(FERRY_EIO, "repository '%s': %s", repo, what);
}

/* Parse the header of the git bundle file at `path` of repository `repo`. */
static int parse_header(ferry_git_header *h, const char *path, const char *repo)
{
	FILE *f = fopen(path, "rb");
	int error;

	ferry_git_header_init(h);
	if (!f)
		return ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", path);
	if ((error = ferry_git_header_read(h, f)) < 0)
		error = ferry_error_wrap(error, "repository '%s'", repo);
	fclose(f);
	return error;
}

static int repo_open_or_null(git_repository **out, const char *path)
{
	*out = NULL;
	if (!ferry_fs_exists(path))
		return 0;
	return git_repository_open_bare(out, path);
}

/* The manifest's ref state must agree with what the bundle file says. */
static int check_header(const ferry_git_header *h, const ferry_git_repo *r)
{
	size_t i, k;

	for (i = 0; i < h->nrefs; i++) {
		const char *name = h->refs[i].name;

		if (!strcmp(name, "HEAD"))
			continue;
		for (k = 0; k < r->nrefs; k++)
			if (!strcmp(r->refs[k].name, name))
				break;
		if (k == r->nrefs || strncmp(r->refs[k].commit, h->refs[i].oid,
					     strlen(h->refs[i].oid)))
			return ferry_error_set(FERRY_EINVALID,
					       "repository '%s': the git bundle's ref '%.200s' "
					       "disagrees with the signed manifest", r->name, name);
	}
	return 0;
}

/* libgit2's own bounds for the packs it maps and indexes: windows of the
 * pack file mapped a few at a time, not the whole file. */
static void set_pack_bounds(void)
{
	git_libgit2_opts(GIT_OPT_SET_PACK_MAX_OBJECTS, (size_t)FERRY_GIT_PACK_COUNT_MAX);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)32 << 20);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)256 << 20);
}

/* The indexer failed: the pack is bad (FERRY_ECORRUPT), unless the
 * system failed it (a write, a sync, memory: FERRY_EIO, FERRY_ENOMEM). */
static int indexer_fail(const char *repo)
{
	const git_error *e = git_error_last();
	int klass = e ? e->klass : GIT_ERROR_NONE;

	if (klass == GIT_ERROR_NOMEMORY)
		return ferry_git_error(FERRY_ENOMEM, "repository '%s': cannot index the pack",
				       repo);
	if (klass == GIT_ERROR_OS)
		return ferry_git_error(FERRY_EIO, "repository '%s': cannot index the pack", repo);
	return ferry_git_error(FERRY_ECORRUPT, "repository '%s': bad pack", repo);
}

/*
 * Read the pack that starts at `offset` of `bundle_file` in 1 MiB chunks,
 * each checked by the size scanner (git_pack.h) before `put` sees it, so an
 * object above the limits is refused before an indexer has seen it, and
 * nothing an indexer builds can exceed them. `put` returns 0 to go on, a
 * negative error to stop with it, or 1 to stop reading (its consumer
 * ended; the caller learns why from it).
 */
static int stream_pack(const char *bundle_file, uint64_t offset, const char *repo,
		       const ferry_git_pack_limits *limits,
		       int (*put)(void *arg, const void *buf, size_t len), void *arg)
{
	ferry_git_pack_scan *scan = NULL;
	unsigned char *buf = malloc(1 << 20);
	int fd = -1, error = 0;
	ssize_t n = 0;

	if (!buf)
		return ferry_error_oom();
	if ((error = ferry_git_pack_scan_new(&scan, limits)) < 0)
		goto done;
	if ((fd = open(bundle_file, O_RDONLY | O_CLOEXEC)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", bundle_file);
		goto done;
	}
	while (!error && (n = pread(fd, buf, 1 << 20, (off_t)offset)) > 0) {
		if ((error = ferry_git_pack_scan_feed(scan, buf, (size_t)n)) < 0)
			error = ferry_error_wrap(error, "repository '%s'", repo);
		else
			error = put(arg, buf, (size_t)n);
		offset += (uint64_t)n;
	}
	if (error > 0)
		error = 0;
	else if (!error && n < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", bundle_file);
	else if (!error && (error = ferry_git_pack_scan_finish(scan)) < 0)
		error = ferry_error_wrap(error, "repository '%s'", repo);
done:
	ferry_git_pack_scan_free(scan);
	if (fd >= 0)
		close(fd);
	free(buf);
	return error;
}

typedef struct {
	git_indexer *idx;
	git_indexer_progress stats;
	const char *repo;
} libgit2_sink;

static int put_libgit2(void *arg, const void *buf, size_t len)
{
	libgit2_sink *k = arg;

	return git_indexer_append(k->idx, buf, len, &k->stats) < 0 ? indexer_fail(k->repo) : 0;
}

/* Index the pack into `pack_dir` with libgit2's indexer. */
static int index_pack_libgit2(git_odb *odb, const char *pack_dir, const char *bundle_file,
			      uint64_t offset, const char *repo,
			      const ferry_git_pack_limits *limits)
{
	git_indexer_options opts;
	libgit2_sink k = { NULL, { 0 }, repo };
	int error;

	git_indexer_options_init(&opts, GIT_INDEXER_OPTIONS_VERSION);
	set_pack_bounds();
	/* (libgit2's own "verify" leaks in 1.5; check_complete walks instead) */
	if (git_indexer_new(&k.idx, pack_dir, 0, odb, &opts) < 0)
		return git_fail("cannot start the pack indexer", repo);
	if ((error = stream_pack(bundle_file, offset, repo, limits, put_libgit2, &k)) == 0 &&
	    git_indexer_commit(k.idx, &k.stats) < 0)
		error = indexer_fail(repo);
	git_indexer_free(k.idx);
	return error;
}

/* Call `fn` with the path of every file of `dir` (not those whose name
 * starts with a dot); stops at its first error. A missing `dir` is empty. */
static int each_file(const char *dir, int (*fn)(const char *path))
{
	ferry_buf path = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d = opendir(dir);
	int error = 0;

	if (!d)
		return errno == ENOENT ? 0 : ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", dir);
	while (!error && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir, e->d_name)) < 0)
			break;
		error = fn(path.ptr);
	}
	closedir(d);
	ferry_buf_dispose(&path);
	return error;
}

static int sync_one(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", path);
	return ferry_fs_sync_close(fd, path);
}

static int remove_one(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return ferry_error_set_errno(FERRY_EIO, "cannot remove '%s'", path);
	return 0;
}

/* fsync every file of `dir` (what `git index-pack` wrote), then `dir`. */
static int sync_files(const char *dir)
{
	int error = each_file(dir, sync_one), fd;

	if (!error && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		error = ferry_fs_sync_close(fd, dir);
	return error;
}

/*
 * Index the pack with `git index-pack --stdin --fix-thin` in the
 * quarantine repository `qpath`: git's indexer resolves deltas on every
 * core, where libgit2's uses one. The bytes pass the size scanner before
 * git reads them, as with libgit2. Returns 0 when git indexed the pack;
 * FERRY_ENOTFOUND when git is not installed; FERRY_ERROR when git refused
 * the pack or failed (the caller asks libgit2, whose verdict tells a bad
 * pack from a failing system); another error from the scanner or the
 * bundle file.
 */
static int put_git(void *arg, const void *buf, size_t len)
{
	/* git stopped reading: its exit status says why */
	return ferry_git_write(arg, buf, len) < 0 ? 1 : 0;
}

static int index_pack_git(const char *qpath, const char *pack_dir, const char *bundle_file,
			  uint64_t offset, const char *repo, const ferry_git_pack_limits *limits)
{
	const char *const argv[] = { "git", "--git-dir", qpath, "index-pack", "--stdin",
				     "--fix-thin", NULL };
	ferry_git_child git;
	int error;

	if ((error = ferry_git_start_fed(&git, argv, -1, FERRY_GIT_NO_CONFIG)) < 0)
		return error;
	if ((error = stream_pack(bundle_file, offset, repo, limits, put_git, &git)) < 0) {
		ferry_git_abort(&git);
		return error;
	}
	if ((error = ferry_git_finish(&git)) < 0)
		return error;
	return sync_files(pack_dir);
}

/*
 * Index the pack: with git where it is installed; with libgit2 where it is
 * not, and where git failed (libgit2 then tells a bad pack, FERRY_ECORRUPT,
 * from a system that fails, FERRY_EIO: git's exit status does not).
 */
static int index_pack(git_odb *odb, const char *qpath, const char *pack_dir,
		      const char *bundle_file, uint64_t offset, const char *repo,
		      const ferry_git_pack_limits *limits)
{
	char why[512] = "";
	int error = index_pack_git(qpath, pack_dir, bundle_file, offset, repo, limits);

	if (error != FERRY_ENOTFOUND && error != FERRY_ERROR)
		return error;
	if (error == FERRY_ERROR)
		snprintf(why, sizeof(why), "%s", ferry_error_last());
	ferry_error_clear();
	/* what git left */
	if ((error = each_file(pack_dir, remove_one)) < 0)
		return error;
	error = index_pack_libgit2(odb, pack_dir, bundle_file, offset, repo, limits);
	if (error == FERRY_ECORRUPT && why[0]) {
		char lib[512];

		snprintf(lib, sizeof(lib), "%s", ferry_error_last());
		error = ferry_error_set(error, "%s (%s)", lib, why);
	}
	return error;
}

typedef struct {
	git_oid *v;
	size_t n, cap;
} oid_stack;

static int oid_push(oid_stack *s, const git_oid *oid)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		git_oid *grown = realloc(s->v, cap * sizeof(*grown));

		if (!grown)
			return ferry_error_oom();
		s->v = grown;
		s->cap = cap;
	}
	s->v[s->n++] = *oid;
	return 0;
}

/*
 * The state of the check walk. Trees and files have sets of their own: an
 * id named once as a file and once as a tree is checked as a tree.
 */
typedef struct {
	git_odb *odb;         /* the quarantine's: new objects and the store's */
	ferry_oidmap trees_seen;   /* trees checked or on the list */
	ferry_oidmap files_seen;   /* files found present */
	const char *repo;
	oid_stack trees;      /* trees found and not yet checked */
	int error;
} tree_check;

static const char *const kind_name[] = { [GIT_OBJECT_COMMIT] = "commit",
					 [GIT_OBJECT_TREE] = "tree",
					 [GIT_OBJECT_BLOB] = "file",
					 [GIT_OBJECT_TAG] = "tag" };

static int missing(tree_check *t, const git_oid *oid, git_object_t type)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), oid);
	return ferry_error_set(FERRY_EVERIFY, "repository '%s': content is incomplete: "
			       "%s '%s' is missing", t->repo, kind_name[type], hex);
}

/* Trees go on the list (each once), files are looked up (each once). */
static int check_entry(const ferry_git_tree_entry *e, void *payload);

/*
 * The checks the exporter applies (git_check.h), applied again to each new
 * commit, tag and tree and to each .gitmodules and .gitattributes file:
 * the receiver does not rely on the sender's. `name` and `mode` are the
 * tree entry's for blobs. A tree's entries go through check_entry. On
 * success a commit's tree id is put in *target, and a tag's target in
 * *target and *target_type, when `target` is not NULL.
 */
static int check_object(tree_check *t, const git_oid *oid, git_object_t type,
			const char *name, unsigned mode, git_oid *target,
			git_object_t *target_type)
{
	char hex[GIT_OID_HEXSZ + 1], buf[256], id_hex[GIT_OID_HEXSZ + 1], type_name[8];
	git_odb_object *obj = NULL;
	const char *why = NULL, *entry = NULL;
	const void *data;
	size_t len;
	int error = 0, rc;

	if (git_odb_read(&obj, t->odb, oid) < 0)
		return missing(t, oid, type);
	data = git_odb_object_data(obj);
	len = git_odb_object_size(obj);
	if (git_odb_object_type(obj) != type) {
		why = "it is not of the type that names it";
	} else if (type == GIT_OBJECT_COMMIT) {
		if (!(why = ferry_git_check_commit(data, len, id_hex)) && target &&
		    git_oid_fromstr(target, id_hex) < 0)
			why = "its tree id is malformed";
	} else if (type == GIT_OBJECT_TAG) {
		if (!(why = ferry_git_check_tag_target(data, len, id_hex, type_name)) && target &&
		    (git_oid_fromstr(target, id_hex) < 0 ||
		     (*target_type = git_object_string2type(type_name)) == GIT_OBJECT_INVALID))
			why = "its target is malformed";
	} else if (type == GIT_OBJECT_TREE) {
		rc = ferry_git_tree_walk(data, len, &why, &entry, check_entry, t);
		if (rc && !why)
			error = t->error;
	} else {
		why = ferry_git_check_special_blob(name, mode, data, len, buf, sizeof(buf));
	}
	if (why) {
		git_oid_tostr(hex, sizeof(hex), oid);
		error = ferry_error_set(FERRY_EVERIFY, "repository '%s': %s %s refused: %s%s%s%s",
					t->repo, kind_name[type], hex, why, entry ? " ('" : "",
					entry ? entry : "", entry ? "')" : "");
	}
	git_odb_object_free(obj);
	return error;
}

static int check_entry(const ferry_git_tree_entry *e, void *payload)
{
	tree_check *t = payload;
	git_oid oid;
	int added, special;

	if (e->mode == FERRY_GIT_MODE_GITLINK)
		return 0;   /* gitlinks name commits of other repositories */
	git_oid_fromraw(&oid, e->id);
	if (e->mode == FERRY_GIT_MODE_TREE) {
		if ((added = ferry_oidmap_add(NULL, &t->trees_seen, &oid)) < 0)
			return t->error = added;
		if (!added)
			return 0;   /* checked already, or on the list */
		return t->error = oid_push(&t->trees, &oid);
	}
	/* .gitmodules and .gitattributes are checked by name, every time;
	 * another file named again (here or in another tree) was found already */
	special = ferry_git_is_gitmodules(e->name) || ferry_git_is_gitattributes(e->name);
	if (!special) {
		if ((added = ferry_oidmap_add(NULL, &t->files_seen, &oid)) < 0)
			return t->error = added;
		if (!added)
			return 0;
		if (!git_odb_exists(t->odb, &oid))
			return t->error = missing(t, &oid, GIT_OBJECT_BLOB);
		return 0;
	}
	return t->error = check_object(t, &oid, GIT_OBJECT_BLOB, e->name, e->mode, NULL, NULL);
}

/* Check the tree `oid` and every tree and file under it not checked yet;
 * each tree is read once. */
static int check_tree(tree_check *t, const git_oid *oid)
{
	git_oid id;
	int error, added;

	if ((added = ferry_oidmap_add(NULL, &t->trees_seen, oid)) <= 0)
		return added;
	t->trees.n = 0;
	id = *oid;
	for (;;) {
		if ((error = check_object(t, &id, GIT_OBJECT_TREE, "", 0, NULL, NULL)) < 0)
			return error;
		if (!t->trees.n)
			return 0;
		id = t->trees.v[--t->trees.n];
	}
}

/*
 * What ref `k` points at: through any chain of annotated tags (each one
 * checked) to a commit, which goes on the walk, or a tree or file, checked
 * here. A target neither the bundle nor the store holds is refused.
 */
static int check_ref_target(tree_check *t, git_revwalk *walk, const ferry_git_repo *r,
			    size_t k)
{
	git_object_t type;
	git_oid oid;
	size_t len, depth;
	int error;

	if (git_oid_fromstr(&oid, r->refs[k].commit) < 0 ||
	    git_odb_read_header(&len, &type, t->odb, &oid) < 0)
		return ferry_error_set(FERRY_EVERIFY, "repository '%s': ref '%s' points at "
				       "commit %s, which neither the bundle nor the store "
				       "holds", r->name, r->refs[k].name, r->refs[k].commit);
	for (depth = 0; type == GIT_OBJECT_TAG; depth++) {
		git_oid next;

		if (depth == 64)
			return ferry_error_set(FERRY_EVERIFY, "repository '%s': ref '%s': more "
					       "than 64 tags in a chain", r->name,
					       r->refs[k].name);
		if ((error = check_object(t, &oid, GIT_OBJECT_TAG, "", 0, &next, &type)) < 0)
			return error;
		oid = next;
	}
	switch (type) {
	case GIT_OBJECT_COMMIT:
		if (git_revwalk_push(walk, &oid) < 0)
			return missing(t, &oid, GIT_OBJECT_COMMIT);
		return 0;
	case GIT_OBJECT_TREE:
		return check_tree(t, &oid);
	case GIT_OBJECT_BLOB:
		return git_odb_exists(t->odb, &oid) ? 0 : missing(t, &oid, GIT_OBJECT_BLOB);
	default:
		return ferry_error_set(FERRY_EVERIFY, "repository '%s': ref '%s' points at an "
				       "object of no known type", r->name, r->refs[k].name);
	}
}

/*
 * Every ref target, the history behind it and every tree and file of that
 * history must be present and pass the checks. What the store's refs
 * already reach was checked when it came, so only the new commits are
 * walked (libgit2's revision walk, with the store's ref tips hidden); each
 * new commit's tree is walked down to what was checked already in this
 * walk.
 */
static int check_complete(git_repository *repo, const ferry_git_repo *r,
			  git_repository *store_repo)
{
	git_revwalk *walk = NULL;
	git_odb *odb = NULL;
	tree_check tc;
	git_oid oid, tree;
	size_t k;
	int error = 0, rc = 0;

	memset(&tc, 0, sizeof(tc));
	if (git_revwalk_new(&walk, repo) < 0 || git_repository_odb(&odb, repo) < 0) {
		error = git_fail("cannot walk history", r->name);
		goto done;
	}
	tc.odb = odb;
	tc.repo = r->name;
	for (k = 0; k < r->nrefs && !error; k++)
		error = check_ref_target(&tc, walk, r, k);
	if (!error && store_repo) {
		git_reference_iterator *it = NULL;
		git_reference *ref;

		if (git_reference_iterator_new(&it, store_repo) == 0) {
			while (git_reference_next(&ref, it) == 0) {
				git_object *commit = NULL;

				if (git_reference_peel(&commit, ref, GIT_OBJECT_COMMIT) == 0)
					git_revwalk_hide(walk, git_object_id(commit));
				git_object_free(commit);
				git_reference_free(ref);
			}
			git_reference_iterator_free(it);
		}
	}
	while (!error && (rc = git_revwalk_next(&oid, walk)) == 0) {
		if ((error = check_object(&tc, &oid, GIT_OBJECT_COMMIT, "", 0, &tree, NULL)) < 0)
			break;
		error = check_tree(&tc, &tree);
	}
	if (!error && rc != GIT_ITEROVER)
		error = ferry_error_set(FERRY_EVERIFY,
					"repository '%s': history is incomplete: %s", r->name,
					git_error_last() ? git_error_last()->message : "");
done:
	ferry_oidmap_dispose(&tc.trees_seen);
	ferry_oidmap_dispose(&tc.files_seen);
	free(tc.trees.v);
	git_odb_free(odb);
	git_revwalk_free(walk);
	return error;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The refs after this bundle must be names git accepts, and no ref may be
 * a directory of another ("refs/heads/x" and "refs/heads/x/y"), counting
 * the refs the store keeps that the bundle does not delete.
 */
static int check_ref_names(git_repository *store_repo, const ferry_git_repo *r)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	char **names = NULL;
	size_t n = 0, cap = r->nrefs + 16, i, k;
	int error = 0, valid;

	if (!(names = malloc(cap * sizeof(*names))))
		return ferry_error_oom();
	for (i = 0; i < r->nrefs; i++) {
		if (git_reference_name_is_valid(&valid, r->refs[i].name) < 0 || !valid) {
			error = ferry_error_set(FERRY_EINVALID, "repository '%s': git does not "
						"accept the ref name '%s'", r->name,
						r->refs[i].name);
			goto done;
		}
		names[n++] = r->refs[i].name;
	}
	if (store_repo && git_reference_iterator_new(&it, store_repo) < 0) {
		error = git_fail("cannot list the refs of", r->name);
		goto done;
	}
	if (store_repo) {
		int got;

		while ((got = git_reference_next(&ref, it)) == 0) {
			const char *name = git_reference_name(ref);
			int keep = 1;

			for (k = 0; k < r->ndeleted && keep; k++)
				keep = strcmp(r->deleted[k], name) != 0;
			for (k = 0; k < r->nrefs && keep; k++)
				keep = strcmp(r->refs[k].name, name) != 0;
			if (keep && !strncmp(name, "refs/", 5)) {
				char **grown = n < cap ? names : realloc(names, (cap *= 2) * sizeof(*names));

				if (!grown || !(grown[n] = strdup(name))) {
					if (grown)
						names = grown;
					git_reference_free(ref);
					error = ferry_error_oom();
					goto done;
				}
				names = grown;
				n++;
			}
			git_reference_free(ref);
		}
		if (got != GIT_ITEROVER) {
			error = git_fail("cannot list the refs of", r->name);
			goto done;
		}
	}
	qsort(names, n, sizeof(*names), cmp_cstr);
	for (i = 1; i < n && !error; i++) {
		size_t len = strlen(names[i - 1]);

		if (!strncmp(names[i], names[i - 1], len) && names[i][len] == '/')
			error = ferry_error_set(FERRY_EINVALID,
						"repository '%s': ref '%s' and ref '%s' cannot "
						"both exist", r->name, names[i - 1], names[i]);
	}
done:
	/* free only the names copied from the store */
	for (i = 0; names && i < n; i++) {
		int ours = 0;

		for (k = 0; k < r->nrefs && !ours; k++)
			ours = names[i] == r->refs[k].name;
		if (!ours)
			free(names[i]);
	}
	free(names);
	git_reference_iterator_free(it);
	return error;
}

int ferry_git_stage(ferry_git_staged **out, ferry_store *st, const char *staging_dir,
		    const ferry_git_repo *r, const char *bundle_file,
		    uint64_t base_sequence, const char *const *borrow, size_t nborrow,
		    const ferry_git_pack_limits *limits)
{
	ferry_git_staged *s = NULL;
	ferry_git_header h;
	git_repository *store_repo = NULL, *q = NULL;
	git_odb *odb = NULL;
	ferry_buf target = FERRY_BUF_INIT, qpath = FERRY_BUF_INIT, alt = FERRY_BUF_INIT;
	ferry_buf pack_dir = FERRY_BUF_INIT, line = FERRY_BUF_INIT;
	git_oid oid;
	size_t k, window = 0, mapped = 0;
	int error = 0;

	ferry_git_header_init(&h);
	git_libgit2_init();
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	if (!(s = calloc(1, sizeof(*s)))) {
		error = ferry_error_oom();
		goto done;
	}
	s->st = st;
	s->repo = r;
	if ((error = ferry_store_repo_path(&target, st, r->name)) < 0)
		goto done;
	if (repo_open_or_null(&store_repo, target.ptr) < 0) {
		error = git_fail("cannot open the store's repository", r->name);
		goto done;
	}
	if ((error = check_ref_names(store_repo, r)) < 0)
		goto done;
	/* A scratch repository that borrows the store's objects and those of
	 * earlier bundles of this import: prerequisites resolve there, and a
	 * bad pack never touches the store. */
	if ((error = ferry_buf_printf(&qpath, "%s/git-%s.git", staging_dir, r->name)) < 0)
		goto done;
	if (git_repository_init(&q, qpath.ptr, 1) < 0) {
		error = git_fail("cannot create quarantine", r->name);
		goto done;
	}
	git_repository_free(q);
	q = NULL;
	if (store_repo && (error = ferry_buf_printf(&line, "%s/objects\n", target.ptr)) < 0)
		goto done;
	for (k = 0; k < nborrow; k++)
		if ((error = ferry_buf_printf(&line, "%s\n", borrow[k])) < 0)
			goto done;
	if (line.size &&
	    ((error = ferry_buf_printf(&alt, "%s/objects/info/alternates", qpath.ptr)) < 0 ||
	     (error = ferry_fs_write_atomic(alt.ptr, line.ptr, line.size, 0644)) < 0))
		goto done;
	if (git_repository_open_bare(&q, qpath.ptr) < 0 || git_repository_odb(&odb, q) < 0) {
		error = git_fail("cannot open quarantine", r->name);
		goto done;
	}
	/* Prerequisites must be held before anything is indexed. */
	for (k = 0; k < r->nprerequisites; k++) {
		git_commit *c = NULL;

		if (git_oid_fromstr(&oid, r->prerequisites[k]) < 0 ||
		    git_commit_lookup(&c, q, &oid) < 0) {
			error = ferry_error_set(FERRY_EVERIFY,
						"repository '%s': the store lacks prerequisite "
						"commit %s (sent in sequence %llu or before); "
						"import the channel's bundles up to sequence %llu "
						"first", r->name, r->prerequisites[k],
						(unsigned long long)base_sequence,
						(unsigned long long)base_sequence);
			goto done;
		}
		git_commit_free(c);
	}
	if (bundle_file) {
		if ((error = parse_header(&h, bundle_file, r->name)) < 0 ||
		    (error = check_header(&h, r)) < 0)
			goto done;
		for (k = 0; k < h.nprereqs; k++)
			if (git_oid_fromstr(&oid, h.prereqs[k].oid) < 0 || !git_odb_exists(odb, &oid)) {
				error = ferry_error_set(FERRY_EVERIFY,
							"repository '%s': the store lacks "
							"prerequisite commit %s of the git "
							"bundle (base sequence %llu)", r->name,
							h.prereqs[k].oid,
							(unsigned long long)base_sequence);
				goto done;
			}
		if ((error = ferry_buf_printf(&pack_dir, "%s/objects/pack", qpath.ptr)) < 0 ||
		    (error = index_pack(odb, qpath.ptr, pack_dir.ptr, bundle_file,
					h.pack_offset, r->name, limits)) < 0)
			goto done;
		git_odb_free(odb);
		odb = NULL;
		git_repository_free(q);
		q = NULL;
		/* Re-open so the new pack is seen. */
		if (git_repository_open_bare(&q, qpath.ptr) < 0) {
			error = git_fail("cannot open quarantine", r->name);
			goto done;
		}
	} else if (r->nrefs && !store_repo && !nborrow) {
		error = ferry_error_set(FERRY_EVERIFY,
					"repository '%s' carries no objects and the store "
					"does not have it (base sequence %llu)", r->name,
					(unsigned long long)base_sequence);
		goto done;
	}
	/* Every ref must point at complete history, here or borrowed. The
	 * indexer hashed each new object to name it, and the store's were
	 * hashed when they came: reading them does not hash them again. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	/* each object is read once or twice (commits): libgit2's object
	 * cache would only hold memory */
	git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
	/* and the packs are mapped a few small windows at a time (by
	 * default, whole: a large pack would count in full in memory) */
	git_libgit2_opts(GIT_OPT_GET_MWINDOW_SIZE, &window);
	git_libgit2_opts(GIT_OPT_GET_MWINDOW_MAPPED_LIMIT, &mapped);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)8 << 20);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)24 << 20);
	error = check_complete(q, r, store_repo);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, window);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, mapped);
	git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 1);
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
	if (error < 0)
		goto done;
	if (bundle_file) {
		ferry_buf objects = FERRY_BUF_INIT;

		if ((error = ferry_buf_printf(&objects, "%s/objects", qpath.ptr)) < 0)
			goto done;
		s->objects = ferry_buf_detach(&objects);
		s->quarantine = ferry_buf_detach(&qpath);
	}
	s->target = ferry_buf_detach(&target);
	*out = s;
	s = NULL;
done:
	ferry_git_header_dispose(&h);
	git_odb_free(odb);
	git_repository_free(q);
	git_repository_free(store_repo);
	ferry_buf_dispose(&target);
	ferry_buf_dispose(&qpath);
	ferry_buf_dispose(&alt);
	ferry_buf_dispose(&pack_dir);
	ferry_buf_dispose(&line);
	ferry_git_staged_free(s);
	git_libgit2_shutdown();
	return error;
}

/* Move pack-*.pack, then pack-*.idx (so an .idx never lacks its .pack). */
static int move_packs(const char *from_dir, const char *to_dir)
{
	static const char *const exts[] = { ".pack", ".rev", ".idx" };
	ferry_buf a = FERRY_BUF_INIT, b = FERRY_BUF_INIT;
	struct dirent *e;
	size_t i;
	int error = 0;

	for (i = 0; i < 3 && !error; i++) {
		DIR *d = opendir(from_dir);

		if (!d)
			return ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", from_dir);
		while (!error && (e = readdir(d))) {
			size_t n = strlen(e->d_name), x = strlen(exts[i]);

			if (n <= x || strcmp(e->d_name + n - x, exts[i]))
				continue;
			ferry_buf_clear(&a);
			ferry_buf_clear(&b);
			if ((error = ferry_buf_printf(&a, "%s/%s", from_dir, e->d_name)) < 0 ||
			    (error = ferry_buf_printf(&b, "%s/%s", to_dir, e->d_name)) < 0)
				break;
			if (rename(a.ptr, b.ptr) < 0)
				error = ferry_error_set_errno(FERRY_EIO, "cannot move '%s'", a.ptr);
		}
		closedir(d);
		if (!error && b.ptr)
			error = ferry_fs_fsync_parent(b.ptr);
	}
	ferry_buf_dispose(&a);
	ferry_buf_dispose(&b);
	return error;
}

static void set_head(git_repository *repo)
{
	static const char *const names[] = { "refs/heads/main", "refs/heads/master" };
	git_reference *ref = NULL, *head = NULL;
	git_reference_iterator *it = NULL;
	size_t i;

	if (git_reference_lookup(&head, repo, "HEAD") == 0) {
		git_reference *resolved = NULL;

		if (git_reference_resolve(&resolved, head) == 0) {
			git_reference_free(resolved);
			git_reference_free(head);
			return;   /* HEAD names an existing branch */
		}
		git_reference_free(head);
	}
	for (i = 0; i < 2; i++)
		if (git_reference_lookup(&ref, repo, names[i]) == 0) {
			git_reference_free(ref);
			git_repository_set_head(repo, names[i]);
			return;
		}
	if (git_reference_iterator_glob_new(&it, repo, "refs/heads/*") == 0 &&
	    git_reference_next(&ref, it) == 0) {
		git_repository_set_head(repo, git_reference_name(ref));
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
}

/* Open the store's repository (creating it when missing) and move the
 * quarantined packs into it; *out is reopened so they are seen. */
static int publish_objects(git_repository **out, ferry_git_staged *s)
{
	const ferry_git_repo *r = s->repo;
	git_repository *repo = NULL;
	ferry_buf from = FERRY_BUF_INIT, to = FERRY_BUF_INIT;
	int error = 0;

	*out = NULL;
	if (!ferry_fs_exists(s->target)) {
		/* ferry makes the directories, with its modes; libgit2 would
		 * make them with the umask's */
		if ((error = ferry_fs_mkdir_p(s->target, 0755)) < 0)
			goto done;
		if (git_repository_init(&repo, s->target, 1) < 0) {
			error = git_fail("cannot create the store's repository", r->name);
			goto done;
		}
	} else if (git_repository_open_bare(&repo, s->target) < 0) {
		error = git_fail("cannot open the store's repository", r->name);
		goto done;
	}
	if (s->quarantine) {
		if ((error = ferry_buf_printf(&from, "%s/objects/pack", s->quarantine)) < 0 ||
		    (error = ferry_buf_printf(&to, "%s/objects/pack", s->target)) < 0 ||
		    (error = ferry_fs_mkdir_p(to.ptr, 0755)) < 0 ||
		    (error = move_packs(from.ptr, to.ptr)) < 0)
			goto done;
		git_repository_free(repo);
		repo = NULL;
		if (git_repository_open_bare(&repo, s->target) < 0) {
			error = git_fail("cannot open the store's repository", r->name);
			goto done;
		}
	}
	*out = repo;
	repo = NULL;
done:
	git_repository_free(repo);
	ferry_buf_dispose(&from);
	ferry_buf_dispose(&to);
	return error;
}

int ferry_git_publish_objects(ferry_git_staged *s)
{
	git_repository *repo = NULL;
	int error;

	git_libgit2_init();
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	if ((error = publish_objects(&repo, s)) == 0)
		error = ferry_fs_fix_modes(s->target);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return error;
}

int ferry_git_restore_objects(ferry_store *st, const char *staging_dir,
			      const ferry_git_repo *r, const char *bundle_file,
			      const ferry_git_pack_limits *limits)
{
	ferry_git_staged s;
	ferry_git_header h;
	git_repository *q = NULL;
	git_odb *odb = NULL;
	ferry_buf qpath = FERRY_BUF_INIT, pack_dir = FERRY_BUF_INIT, target = FERRY_BUF_INIT;
	int error = 0;

	ferry_git_header_init(&h);
	memset(&s, 0, sizeof(s));
	git_libgit2_init();
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	if ((error = parse_header(&h, bundle_file, r->name)) < 0 ||
	    (error = check_header(&h, r)) < 0)
		goto done;
	if (h.nprereqs) {
		error = ferry_error_set(FERRY_EUNSUPPORTED, "repository '%s': the git bundle "
					"is incremental", r->name);
		goto done;
	}
	/* No alternates: the store's objects may be the damaged ones. */
	if ((error = ferry_buf_printf(&qpath, "%s/restore-%s.git", staging_dir, r->name)) < 0 ||
	    (error = ferry_buf_printf(&pack_dir, "%s/objects/pack", qpath.ptr)) < 0 ||
	    (error = ferry_store_repo_path(&target, st, r->name)) < 0)
		goto done;
	if (git_repository_init(&q, qpath.ptr, 1) < 0 || git_repository_odb(&odb, q) < 0) {
		error = git_fail("cannot create quarantine", r->name);
		goto done;
	}
	if ((error = index_pack(odb, qpath.ptr, pack_dir.ptr, bundle_file, h.pack_offset,
				r->name, limits)) < 0)
		goto done;
	git_odb_free(odb);
	odb = NULL;
	git_repository_free(q);
	q = NULL;
	s.st = st;
	s.repo = r;
	s.quarantine = qpath.ptr;
	s.target = target.ptr;
	if ((error = publish_objects(&q, &s)) < 0)
		goto done;
done:
	ferry_git_header_dispose(&h);
	git_odb_free(odb);
	git_repository_free(q);
	ferry_buf_dispose(&qpath);
	ferry_buf_dispose(&pack_dir);
	ferry_buf_dispose(&target);
	git_libgit2_shutdown();
	return error;
}

void ferry_git_staged_free(ferry_git_staged *s)
{
	if (!s)
		return;
	free(s->quarantine);
	free(s->objects);
	free(s->target);
	free(s);
}

int ferry_git_store_ref(char out[65], ferry_store *st, const char *name, const char *ref)
{
	ferry_buf path = FERRY_BUF_INIT;
	git_repository *repo = NULL;
	git_oid oid;
	int error = FERRY_ENOTFOUND;

	out[0] = '\0';
	git_libgit2_init();
	if (ferry_store_repo_path(&path, st, name) == 0 &&
	    repo_open_or_null(&repo, path.ptr) == 0 && repo &&
	    git_reference_name_to_id(&oid, repo, ref) == 0) {
		git_oid_tostr(out, 65, &oid);
		error = 0;
	}
	git_repository_free(repo);
	ferry_buf_dispose(&path);
	git_libgit2_shutdown();
	return error;
}

/* ---- fsck ------------------------------------------------------------------- */

typedef struct {
	ferry_fsck_report *r;
	ferry_store *st;
	const char *repo;
	git_repository *git;
	git_odb *odb;
	git_revwalk *walk;
	ferry_oidmap seen;
	const char *referrer;  /* what the object being checked is reached from */
	int error;             /* a failure of the check itself */
} git_fsck;

/* Record a fault of the repository being checked, referred to by `who`. */
static int git_fault(git_fsck *g, ferry_fsck_kind kind, ferry_fsck_object object,
		     const char *id, const char *detail, const char *who)
{
	ferry_fsck_fault *f;
	int error;

	if ((error = ferry_fsck_report_add(&f, g->r, kind, object, g->repo, id, detail)) < 0 ||
	    !who)
		return error;
	return ferry_fsck_fault_refer(f, who);
}

static const char *git_message(void)
{
	return git_error_last() && git_error_last()->message ? git_error_last()->message
							     : "unknown error";
}

/* Every object the repository holds is read back, which checks its hash
 * (libgit2's strict verification) and that its pack inflates. */
static int read_object(const git_oid *oid, void *payload)
{
	git_fsck *g = payload;
	git_odb_object *obj = NULL;
	char hex[GIT_OID_HEXSZ + 1];

	g->r->git_objects++;
	if (git_odb_read(&obj, g->odb, oid) == 0) {
		git_odb_object_free(obj);
		return 0;
	}
	git_oid_tostr(hex, sizeof(hex), oid);
	g->error = git_fault(g, FERRY_FSCK_DAMAGED, FERRY_FSCK_GIT_OBJECT, hex,
			     git_message(), NULL);
	return g->error < 0 ? -1 : 0;
}

static int fsck_entry(const char *root, const git_tree_entry *e, void *payload)
{
	git_fsck *g = payload;
	const git_oid *oid = git_tree_entry_id(e);
	char hex[GIT_OID_HEXSZ + 1];

	(void)root;
	switch (git_tree_entry_type(e)) {
	case GIT_OBJECT_TREE: {
		int added = ferry_oidmap_add(NULL, &g->seen, oid);

		if (added < 0) {
			g->error = ferry_error_oom();
			return -1;
		}
		if (!added)
			return 1;
		break;
	}
	case GIT_OBJECT_BLOB:
		break;
	default:
		return 0;
	}
	if (git_odb_exists(g->odb, oid))
		return 0;
	git_oid_tostr(hex, sizeof(hex), oid);
	g->error = git_fault(g, FERRY_FSCK_MISSING, FERRY_FSCK_GIT_OBJECT, hex,
			     git_tree_entry_type(e) == GIT_OBJECT_TREE ? "a tree is missing"
								       : "a file is missing",
			     g->referrer);
	return g->error < 0 ? -1 : (git_tree_entry_type(e) == GIT_OBJECT_TREE);
}

/* A recorded ref: it must exist with the recorded commit, and the commit
 * must be held (its history is walked afterwards). */
static int fsck_ref(const ferry_store_ref *ref, void *payload)
{
	git_fsck *g = payload;
	ferry_buf who = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
	git_commit *commit = NULL;
	git_oid want, have;
	int error, rc;

	g->r->refs++;
	if ((error = ferry_buf_printf(&who, "ref '%s'", ref->name)) < 0)
		goto done;
	if (git_oid_fromstr(&want, ref->commit) < 0) {
		error = ferry_fsck_report_add(NULL, g->r, FERRY_FSCK_INVALID,
					      FERRY_FSCK_DATABASE, NULL, "ferry.db",
					      "the refs table holds a malformed commit id");
		goto done;
	}
	rc = git_reference_name_to_id(&have, g->git, ref->name);
	if (rc == GIT_ENOTFOUND) {
		error = ferry_buf_printf(&msg, "ferry.db records it at %s; the repository "
					 "has no such ref", ref->commit);
		if (!error)
			error = git_fault(g, FERRY_FSCK_MISSING, FERRY_FSCK_REF, ref->name,
					  msg.ptr, "ferry.db");
	} else if (rc < 0) {
		error = ferry_buf_printf(&msg, "ferry.db records %s: %s", ref->commit,
					 git_message());
		if (!error)
			error = git_fault(g, FERRY_FSCK_DAMAGED, FERRY_FSCK_REF, ref->name,
					  msg.ptr, "ferry.db");
	} else if (git_oid_cmp(&want, &have)) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), &have);
		error = ferry_buf_printf(&msg, "it points at %s; ferry.db records %s", hex,
					 ref->commit);
		if (!error)
			error = git_fault(g, FERRY_FSCK_DAMAGED, FERRY_FSCK_REF, ref->name,
					  msg.ptr, "ferry.db");
	}
	if (error < 0)
		goto done;
	if (git_commit_lookup(&commit, g->git, &want) < 0)
		error = git_fault(g, git_odb_exists(g->odb, &want) ? FERRY_FSCK_DAMAGED
								   : FERRY_FSCK_MISSING,
				  FERRY_FSCK_GIT_OBJECT, ref->commit, "the commit a ref "
				  "records cannot be read", who.ptr);
	else if (git_revwalk_push(g->walk, &want) < 0)
		error = git_fault(g, FERRY_FSCK_INVALID, FERRY_FSCK_REPOSITORY, g->repo,
				  git_message(), who.ptr);
done:
	git_commit_free(commit);
	ferry_buf_dispose(&who);
	ferry_buf_dispose(&msg);
	return error;
}

/* The history behind the recorded refs, with every tree and file. */
static int fsck_history(git_fsck *g)
{
	char hex[GIT_OID_HEXSZ + 1], who[GIT_OID_HEXSZ + 16];
	git_oid oid;
	int rc, error = 0;

	while (!error && (rc = git_revwalk_next(&oid, g->walk)) == 0) {
		git_commit *c = NULL;
		git_tree *t = NULL;

		git_oid_tostr(hex, sizeof(hex), &oid);
		snprintf(who, sizeof(who), "commit %s", hex);
		if (git_commit_lookup(&c, g->git, &oid) < 0)
			error = git_fault(g, FERRY_FSCK_MISSING, FERRY_FSCK_GIT_OBJECT, hex,
					  git_message(), NULL);
		else if (git_commit_tree(&t, c) < 0) {
			git_oid_tostr(hex, sizeof(hex), git_commit_tree_id(c));
			error = git_fault(g, FERRY_FSCK_MISSING, FERRY_FSCK_GIT_OBJECT, hex,
					  "a tree is missing", who);
		} else if (ferry_oidmap_add(NULL, &g->seen, git_tree_id(t)) > 0) {
			g->referrer = who;
			if (git_tree_walk(t, GIT_TREEWALK_PRE, fsck_entry, g) < 0 && !g->error)
				error = git_fault(g, FERRY_FSCK_INVALID, FERRY_FSCK_REPOSITORY,
						  g->repo, git_message(), who);
			g->referrer = NULL;
			if (g->error < 0)
				error = g->error;
		}
		git_tree_free(t);
		git_commit_free(c);
	}
	/* A parent that cannot be read ends the walk: the history is cut. */
	if (!error && rc != GIT_ITEROVER)
		error = git_fault(g, FERRY_FSCK_MISSING, FERRY_FSCK_REPOSITORY, g->repo,
				  git_message(), NULL);
	return error;
}

int ferry_git_fsck(ferry_fsck_report *r, ferry_store *st, const char *repo, void *payload)
{
	git_fsck g;
	ferry_buf path = FERRY_BUF_INIT;
	struct stat s;
	int error = 0;

	(void)payload;
	memset(&g, 0, sizeof(g));
	g.r = r;
	g.st = st;
	g.repo = repo;
	git_libgit2_init();
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
	if ((error = ferry_store_repo_path(&path, st, repo)) < 0)
		goto done;
	if (stat(path.ptr, &s) < 0) {
		error = git_fault(&g, FERRY_FSCK_MISSING, FERRY_FSCK_REPOSITORY, repo,
				  "ferry.db records refs of it, but there is no repository",
				  "ferry.db");
		goto done;
	}
	if (git_repository_open_bare(&g.git, path.ptr) < 0 ||
	    git_repository_odb(&g.odb, g.git) < 0 || git_revwalk_new(&g.walk, g.git) < 0) {
		error = git_fault(&g, FERRY_FSCK_INVALID, FERRY_FSCK_REPOSITORY, repo,
				  git_message(), NULL);
		goto done;
	}
	if (git_odb_foreach(g.odb, read_object, &g) < 0 && !g.error)
		g.error = git_fault(&g, FERRY_FSCK_INVALID, FERRY_FSCK_REPOSITORY, repo,
				    git_message(), NULL);
	if ((error = g.error) < 0 ||
	    (error = ferry_store_ref_foreach(st, repo, fsck_ref, &g)) < 0)
		goto done;
	error = fsck_history(&g);
done:
	ferry_oidmap_dispose(&g.seen);
	git_revwalk_free(g.walk);
	git_odb_free(g.odb);
	git_repository_free(g.git);
	ferry_buf_dispose(&path);
	git_libgit2_shutdown();
	return error;
}

typedef struct {
	git_repository *git;
	size_t *reset;
} reset_ctx;

/* Point a ref at its recorded commit, when that commit is held. */
static int reset_ref(const ferry_store_ref *ref, void *payload)
{
	reset_ctx *rc = payload;
	git_reference *out = NULL;
	git_object *target = NULL;
	git_oid want, have;

	/* a branch names a commit, an annotated tag a tag object */
	if (git_oid_fromstr(&want, ref->commit) < 0 ||
	    (git_reference_name_to_id(&have, rc->git, ref->name) == 0 &&
	     !git_oid_cmp(&want, &have)) ||
	    git_object_lookup(&target, rc->git, &want, GIT_OBJECT_ANY) < 0)
		return 0;
	git_object_free(target);
	if (git_reference_create(&out, rc->git, ref->name, &want, 1, "ferry store fsck") < 0)
		return git_fail("cannot set ref", ref->repo);
	git_reference_free(out);
	(*rc->reset)++;
	return 0;
}

/* Delete the refs of the repository that ferry.db does not record. */
static int prune_refs(reset_ctx *rc, ferry_store *st, const char *repo)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	ferry_strv gone = FERRY_STRV_INIT;
	ferry_store_ref rec;
	size_t k;
	int error = 0, got;

	if (git_reference_iterator_new(&it, rc->git) < 0)
		return git_fail("cannot list the refs of", repo);
	while (!error && (got = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);

		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT) {
			int found = ferry_store_ref_get(&rec, st, repo, name);

			if (found == FERRY_ENOTFOUND)
				error = ferry_strv_push(&gone, name);
			else if (found < 0)
				error = found;
			else
				ferry_store_ref_dispose(&rec);
		}
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	if (!error && got != GIT_ITEROVER)
		error = git_fail("cannot list the refs of", repo);
	for (k = 0; !error && k < gone.n; k++) {
		if (git_reference_remove(rc->git, gone.v[k]) < 0)
			error = git_fail("cannot delete ref", repo);
		else
			(*rc->reset)++;
	}
	ferry_strv_dispose(&gone);
	return error;
}

static int remove_lock_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	size_t n = strlen(path);

	(void)sb;
	(void)ftw;
	if (type == FTW_F && n > 5 && !strcmp(path + n - 5, ".lock") && unlink(path) < 0 &&
	    errno != ENOENT)
		return -1;
	return 0;
}

/*
 * Remove the lock files a writer killed while moving refs left in the
 * repository at `path` (refs/...lock, packed-refs.lock, HEAD.lock): git
 * would refuse to move those refs again. Only a holder of the store's
 * write lock writes refs, so under that lock every such file is stale.
 */
static int remove_stale_ref_locks(const char *path)
{
	static const char *const top[] = { "packed-refs.lock", "HEAD.lock" };
	ferry_buf p = FERRY_BUF_INIT;
	size_t i;
	int error = 0;

	for (i = 0; i < 2 && !error; i++) {
		ferry_buf_clear(&p);
		if ((error = ferry_buf_printf(&p, "%s/%s", path, top[i])) == 0 && unlink(p.ptr) < 0 &&
		    errno != ENOENT)
			error = ferry_error_set_errno(FERRY_EIO, "cannot remove '%s'", p.ptr);
	}
	ferry_buf_clear(&p);
	if (!error && (error = ferry_buf_printf(&p, "%s/refs", path)) == 0 &&
	    nftw(p.ptr, remove_lock_file, 16, FTW_PHYS) < 0 && errno != ENOENT)
		error = ferry_error_set_errno(FERRY_EIO, "cannot clear the lock files of '%s'",
					      p.ptr);
	ferry_buf_dispose(&p);
	return error;
}

int ferry_git_reset_refs(size_t *reset, ferry_store *st, const char *repo, int prune)
{
	ferry_buf path = FERRY_BUF_INIT;
	reset_ctx rc;
	int error = 0;

	*reset = 0;
	rc.git = NULL;
	rc.reset = reset;
	git_libgit2_init();
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	if ((error = ferry_store_repo_path(&path, st, repo)) < 0 ||
	    (error = remove_stale_ref_locks(path.ptr)) < 0)
		goto done;
	if (git_repository_open_bare(&rc.git, path.ptr) < 0) {
		error = git_fail("cannot open the store's repository", repo);
		goto done;
	}
	/* deletions first, so that a deleted "x" makes way for "x/y" */
	if ((!prune || (error = prune_refs(&rc, st, repo)) == 0) &&
	    (error = ferry_store_ref_foreach(st, repo, reset_ref, &rc)) == 0 && *reset)
		set_head(rc.git);
done:
	git_repository_free(rc.git);
	ferry_buf_dispose(&path);
	git_libgit2_shutdown();
	return error;
}
