/*
 * A stack's source in the store: a bare git repository (STORE/git/<name>.git)
 * read with libgit2, or an OCI artifact (a tag or digest of the store's
 * OCI layout). Resolving is cheap (one ref lookup or one row), which is
 * what makes a polling round over many stacks affordable; checking out
 * writes the commit's tree (or the artifact's layers) into a fresh work
 * directory, with no git working tree and no hooks involved; a commit's
 * submodules come from the store's repositories that export made of them.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <git2.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "catalog.h"
#include "log.h"
#include "digest.h"
#include "fs.h"
#include "git_error.h"
#include "hash.h"
#include "reconcile.h"
#include "tree_write.h"
#include "reference.h"
#include "util.h"
#include "walk.h"
#include "banned.h"

/* What one checkout may write, git or artifact: a stack's sources are
 * configuration, and a source in the store is trusted no further than
 * these (a small pack or layer can expand to far more). */

/* Account for a file of `size` bytes at `name` about to be written. */
static int admit_file(uint64_t *total, const ferry_stack *stack, const char *name,
		      uint64_t size)
{
	char owner[FERRY_STACK_NAME_MAX + 16];

	snprintf(owner, sizeof(owner), "stack '%s'", stack->name);
	return ferry_checkout_admit(total, owner, name, size);
}

void ferry_revision_dispose(ferry_revision *rev)
{
	free(rev->bundle_id);
	free(rev->channel);
	memset(rev, 0, sizeof(*rev));
}

static int open_repo(git_repository **out, ferry_store *st, const ferry_stack *stack)
{
	ferry_buf path = FERRY_BUF_INIT;
	int error = 0;

	if ((error = ferry_store_repo_path(&path, st, stack->repo)) < 0)
		return error;
	if (git_repository_open_bare(out, path.ptr) < 0)
		error = ferry_error_set(FERRY_ENOTFOUND,
					"stack '%s': the store has no git repository '%s'",
					stack->name, stack->repo);
	ferry_buf_dispose(&path);
	return error;
}

/* The commit of `id` (full or abbreviated hex) in `repo`. */
static int lookup_commit(git_commit **out, git_repository *repo, const ferry_stack *stack,
			 const char *id)
{
	git_oid oid;
	git_object *obj = NULL;
	size_t len = strlen(id);

	if (len < 4 || len > 40 || git_oid_fromstrn(&oid, id, len) < 0 ||
	    git_object_lookup_prefix(&obj, repo, &oid, len, GIT_OBJECT_COMMIT) < 0)
		return ferry_error_set(FERRY_ENOTFOUND,
				       "stack '%s': repository '%s' has no commit %s",
				       stack->name, stack->repo, id);
	*out = (git_commit *)obj;
	return 0;
}

static int resolve_git(ferry_revision *out, const ferry_stack *stack, git_repository *repo)
{
	git_reference *ref = NULL;
	git_object *obj = NULL;
	git_commit *commit = NULL;
	ferry_buf name = FERRY_BUF_INIT;
	int error = 0;

	if (stack->ref_kind == FERRY_REF_COMMIT) {
		if ((error = lookup_commit(&commit, repo, stack, stack->ref)) == 0)
			git_oid_tostr(out->id, sizeof(out->id), git_commit_id(commit));
		git_commit_free(commit);
		return error;
	}
	if ((error = ferry_buf_printf(&name, "refs/%s/%s",
				      stack->ref_kind == FERRY_REF_TAG ? "tags" : "heads",
				      stack->ref)) < 0)
		goto done;
	if (git_reference_lookup(&ref, repo, name.ptr) < 0) {
		error = ferry_error_set(FERRY_ENOTFOUND, "stack '%s': repository '%s' has no %s '%s'",
					stack->name, stack->repo,
					stack->ref_kind == FERRY_REF_TAG ? "tag" : "branch",
					stack->ref);
		goto done;
	}
	if (git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) < 0) {
		error = ferry_git_error(FERRY_EIO, "stack '%s': cannot peel the ref to a commit",
					stack->name);
		goto done;
	}
	git_oid_tostr(out->id, sizeof(out->id), git_object_id(obj));
done:
	git_object_free(obj);
	git_reference_free(ref);
	ferry_buf_dispose(&name);
	return error;
}

/* "name@sha256:hex" or "name:tag" (`ref`) -> the digest the store holds. */
static int resolve_ref(char id[FERRY_OCI_DIGEST_SIZE], ferry_store *st,
		       const ferry_stack *stack, const char *ref)
{
	ferry_reference_parts parts;
	ferry_store_tag tag;
	int error;

	if (ferry_reference_split(&parts, ref) < 0 ||
	    (parts.digest && !ferry_store_has_blob(st, parts.hex))) {
		ferry_error_clear();
		return ferry_error_set(FERRY_ENOTFOUND, "stack '%s': the store has no artifact '%s'",
				       stack->name, ref);
	}
	if (parts.digest) {
		ferry_oci_digest_format(id, parts.hex);
		return 0;
	}
	if ((error = ferry_store_tag_get(&tag, st, ref)) == FERRY_ENOTFOUND)
		return ferry_error_set(FERRY_ENOTFOUND, "stack '%s': the store has no artifact '%s'",
				       stack->name, ref);
	if (error < 0)
		return error;
	snprintf(id, FERRY_OCI_DIGEST_SIZE, "%s", tag.digest);
	ferry_store_tag_dispose(&tag);
	return 0;
}

int ferry_source_resolve(ferry_revision *out, ferry_store *st, const ferry_stack *stack)
{
	git_repository *repo = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if (stack->source == FERRY_SRC_OCI)
		return resolve_ref(out->id, st, stack, stack->ref);
	git_libgit2_init();
	if ((error = open_repo(&repo, st, stack)) == 0)
		error = resolve_git(out, stack, repo);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return error;
}

/* Fill `rev`'s provenance from `o` (taken over); `o` is left empty. */
static void take_origin(ferry_revision *rev, ferry_store_origin *o)
{
	free(rev->bundle_id);
	free(rev->channel);
	rev->bundle_id = o->bundle_id;
	rev->channel = o->channel;
	rev->sequence = (int64_t)o->sequence;
	o->bundle_id = o->channel = NULL;
}

int ferry_source_provenance(ferry_revision *rev, ferry_store *st, const ferry_stack *stack)
{
	/* The bundle that first delivered the revision: for git, a ref still
	 * naming the commit, or the earliest bundle an event recorded for it
	 * (the ref may have moved on since), whichever is earlier. */
	ferry_store_origin ref = { 0 }, event = { 0 };
	ferry_buf source = FERRY_BUF_INIT;
	int found_ref, found_event, error = 0;

	if (stack->source != FERRY_SRC_GIT) {
		const char *hex = ferry_oci_digest_hex(rev->id);

		if (hex && (error = ferry_store_blob_origin(&ref, st, hex)) == 0)
			take_origin(rev, &ref);
		ferry_store_origin_dispose(&ref);
		if (error == FERRY_ENOTFOUND)
			ferry_error_clear();
		return error == FERRY_ENOTFOUND ? 0 : error;
	}
	if ((found_ref = ferry_store_ref_origin(&ref, st, stack->repo, rev->id)) < 0 &&
	    found_ref != FERRY_ENOTFOUND)
		return found_ref;
	if ((error = ferry_buf_printf(&source, "git:%s", stack->repo)) < 0)
		goto done;
	if ((found_event = ferry_store_stack_event_origin(&event, st, source.ptr, rev->id)) < 0 &&
	    found_event != FERRY_ENOTFOUND) {
		error = found_event;
		goto done;
	}
	if (found_event == 0 && (found_ref != 0 || event.sequence < ref.sequence))
		take_origin(rev, &event);
	else if (found_ref == 0)
		take_origin(rev, &ref);
done:
	if (!error)
		ferry_error_clear();   /* a missing origin is not an error */
	ferry_store_origin_dispose(&ref);
	ferry_store_origin_dispose(&event);
	ferry_buf_dispose(&source);
	return error;
}

/* ---- submodules ------------------------------------------------------------ */

/*
 * Export carries a submodule as a repository of its own, named after its
 * URL, with one ref refs/ferry/pinned/<commit> per commit a superproject
 * pins (docs/bundle-format.md, section 6.6). The checkout finds the
 * repository by that ref, preferring the one whose name ends the URL of
 * .gitmodules (two forks may pin one commit), and writes its tree where
 * the gitlink is. A submodule the store lacks fails the checkout naming
 * it: rendering without it would deploy something else.
 */
#define SUBMODULE_DEPTH_MAX 8
#define GITMODULES_MAX_SIZE (1u << 20)

typedef struct {
	const char *ref;          /* refs/ferry/pinned/<commit> */
	const char *url;          /* from .gitmodules, or NULL */
	char *repo;               /* the best repository so far */
	int error;
} pin_probe;

/* Does the repository `name` end `url` ("../lib.git", "https://h/org/lib")? */
static int url_names(const char *url, const char *name)
{
	size_t u = strlen(url), n = strlen(name);

	while (u && url[u - 1] == '/')
		u--;
	if (u > 4 && !strncmp(url + u - 4, ".git", 4))
		u -= 4;
	return u >= n && !strncmp(url + u - n, name, n) &&
	       (u == n || url[u - n - 1] == '/' || url[u - n - 1] == ':');
}

static int pin_find(const ferry_store_ref *r, void *payload)
{
	pin_probe *p = payload;
	int exact;

	if (strcmp(r->name, p->ref))
		return 0;
	exact = p->url && url_names(p->url, r->repo);
	if (!p->repo || exact) {
		free(p->repo);
		if (!(p->repo = strdup(r->repo))) {
			p->error = ferry_error_oom();
			return 1;
		}
	}
	return exact;   /* stop at the repository the URL names */
}

typedef struct {
	char **names;             /* submodule names of .gitmodules with a path */
	size_t n, alloc;
} gm_names;

static int gm_collect(const git_config_entry *e, void *payload)
{
	gm_names *g = payload;
	size_t len = strlen(e->name);
	char *name;

	/* submodule.<name>.path (matched here: libgit2's regex matching leaks
	 * pcre2's match frames) */
	if (len <= strlen("submodule..path") || strncmp(e->name, "submodule.", 10) ||
	    strcmp(e->name + len - 5, ".path"))
		return 0;
	if (FERRY_ALLOC_GROW(g->names, g->n + 1, g->alloc) < 0 ||
	    !(name = strndup(e->name + 10, len - 10 - 5)))
		return -1;
	g->names[g->n++] = name;
	return 0;
}

static int write_tree_with_submodules(ferry_store *st, const ferry_stack *stack,
				      git_repository *repo, const char *repo_name,
				      git_tree *tree, const char *dir, uint64_t *total,
				      int depth);

/* The submodule `name` of .gitmodules (read as `gm`) in `tree`, written
 * under `dir`. */
static int write_submodule(ferry_store *st, const ferry_stack *stack, git_config *gm,
			   const char *name, const char *super, git_tree *tree,
			   const char *dir, uint64_t *total, int depth)
{
	git_tree_entry *link = NULL;
	git_repository *sub = NULL;
	git_commit *commit = NULL;
	git_tree *subtree = NULL;
	git_buf path = GIT_BUF_INIT, url = GIT_BUF_INIT;
	ferry_buf key = FERRY_BUF_INIT, ref = FERRY_BUF_INIT, dest = FERRY_BUF_INIT,
		  repo_path = FERRY_BUF_INIT;
	pin_probe probe = { NULL, NULL, NULL, 0 };
	char hex[GIT_OID_HEXSZ + 1];
	int error = 0;

	if ((error = ferry_buf_printf(&key, "submodule.%s.path", name)) < 0)
		goto done;
	if (git_config_get_string_buf(&path, gm, key.ptr) < 0) {
		git_error_clear();
		goto done;
	}
	ferry_buf_clear(&key);
	if ((error = ferry_buf_printf(&key, "submodule.%s.url", name)) < 0)
		goto done;
	if (git_config_get_string_buf(&url, gm, key.ptr) < 0)
		git_error_clear();
	/* like git: a path without a gitlink in the tree is no submodule */
	if (!ferry_path_is_safe(path.ptr) || git_tree_entry_bypath(&link, tree, path.ptr) < 0 ||
	    git_tree_entry_type(link) != GIT_OBJECT_COMMIT) {
		git_error_clear();
		goto done;
	}
	git_oid_tostr(hex, sizeof(hex), git_tree_entry_id(link));
	if ((error = ferry_buf_printf(&ref, "refs/ferry/pinned/%s", hex)) < 0)
		goto done;
	probe.ref = ref.ptr;
	probe.url = url.ptr;
	if ((error = ferry_store_ref_foreach(st, NULL, pin_find, &probe)) < 0)
		goto done;
	if ((error = probe.error) < 0)
		goto done;
	if (!probe.repo) {
		error = ferry_error_set(FERRY_ENOTFOUND,
					"stack '%s': submodule '%s' (url '%s') of repository '%s' "
					"pins commit %s, which no repository of the store holds "
					"(no ref %s): export the superproject with its submodules",
					stack->name, path.ptr, url.ptr ? url.ptr : "", super, hex,
					ref.ptr);
		goto done;
	}
	if (depth + 1 > SUBMODULE_DEPTH_MAX) {
		error = ferry_error_set(FERRY_EINVALID, "stack '%s': submodule '%s' of '%s' nests "
					"deeper than %d levels", stack->name, path.ptr, super,
					SUBMODULE_DEPTH_MAX);
		goto done;
	}
	if ((error = ferry_store_repo_path(&repo_path, st, probe.repo)) < 0)
		goto done;
	if (git_repository_open_bare(&sub, repo_path.ptr) < 0 ||
	    git_commit_lookup(&commit, sub, git_tree_entry_id(link)) < 0 ||
	    git_commit_tree(&subtree, commit) < 0) {
		error = ferry_git_error(FERRY_ENOTFOUND, "stack '%s': submodule '%s' of '%s': "
					"cannot read commit %s of the store's repository '%s'",
					stack->name, path.ptr, super, hex, probe.repo);
		goto done;
	}
	if ((error = ferry_buf_printf(&dest, "%s/%s", dir, path.ptr)) < 0 ||
	    (error = ferry_fs_mkdir_p(dest.ptr, 0755)) < 0)
		goto done;
	ferry_log(FERRY_LOG_INFO, "stack '%s': submodule '%s' of '%s' from the store's "
		  "repository '%s' at %.12s", stack->name, path.ptr, super, probe.repo, hex);
	error = write_tree_with_submodules(st, stack, sub, probe.repo, subtree, dest.ptr, total,
					   depth + 1);
done:
	git_tree_free(subtree);
	git_commit_free(commit);
	git_repository_free(sub);
	git_tree_entry_free(link);
	git_buf_dispose(&path);
	git_buf_dispose(&url);
	free(probe.repo);
	ferry_buf_dispose(&key);
	ferry_buf_dispose(&ref);
	ferry_buf_dispose(&dest);
	ferry_buf_dispose(&repo_path);
	return error;
}

/* Write `tree` into the empty directory `dir`, then each submodule its
 * .gitmodules lists at a gitlink of the tree, from the store. */
static int write_tree_with_submodules(ferry_store *st, const ferry_stack *stack,
				      git_repository *repo, const char *repo_name,
				      git_tree *tree, const char *dir, uint64_t *total,
				      int depth)
{
	git_config *gm = NULL;
	gm_names names = { NULL, 0, 0 };
	ferry_buf file = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	char owner[FERRY_STACK_NAME_MAX + 16];
	size_t i;
	int error;

	snprintf(owner, sizeof(owner), "stack '%s'", stack->name);
	if ((error = ferry_git_tree_write(repo, tree, dir, owner, total)) < 0 ||
	    (error = ferry_buf_printf(&file, "%s/.gitmodules", dir)) < 0 ||
	    !ferry_fs_exists(file.ptr))
		goto done;
	/* git reads .gitmodules without following include sections; libgit2
	 * would follow them to any file of this host: refuse them */
	if ((error = ferry_fs_read_file(&text, file.ptr, GITMODULES_MAX_SIZE)) < 0)
		goto done;
	for (i = 0; i + 8 <= text.size; i++)
		if (text.ptr[i] == '[' && !strncasecmp(text.ptr + i + 1, "include", 7)) {
			error = ferry_error_set(FERRY_EINVALID, "stack '%s': .gitmodules of repository "
						"'%s' has an include section, which is not followed",
						stack->name, repo_name);
			goto done;
		}
	if (git_config_open_ondisk(&gm, file.ptr) < 0 ||
	    git_config_foreach(gm, gm_collect, &names) < 0) {
		error = ferry_git_error(FERRY_EINVALID, "stack '%s': cannot read .gitmodules of "
					"repository '%s'", stack->name, repo_name);
		goto done;
	}
	for (i = 0; i < names.n && !error; i++)
		error = write_submodule(st, stack, gm, names.names[i], repo_name, tree, dir, total,
					depth);
done:
	for (i = 0; i < names.n; i++)
		free(names.names[i]);
	free(names.names);
	git_config_free(gm);
	ferry_buf_dispose(&file);
	ferry_buf_dispose(&text);
	return error;
}

/* ---- checkout ------------------------------------------------------------- */

static int checkout_git(ferry_store *st, const ferry_stack *stack, const char *id,
			const char *dir)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	uint64_t total = 0;
	int error;

	git_libgit2_init();
	if ((error = open_repo(&repo, st, stack)) < 0 ||
	    (error = lookup_commit(&commit, repo, stack, id)) < 0)
		goto done;
	if (git_commit_tree(&tree, commit) < 0) {
		error = ferry_git_error(FERRY_EIO, "stack '%s': cannot read the commit's tree",
					stack->name);
		goto done;
	}
	error = write_tree_with_submodules(st, stack, repo, stack->repo, tree, dir, &total, 0);
done:
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return error;
}

/* Extract one layer (tar, optionally gzip) into `dir`: regular files and
 * directories with safe relative names only. */
static int extract_layer(const char *file, const char *dir, const ferry_stack *stack,
			 uint64_t *total)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	ferry_buf path = FERRY_BUF_INIT;
	int r, error = 0;

	if (!a)
		return ferry_error_oom();
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, file, 65536) != ARCHIVE_OK) {
		error = ferry_error_set(FERRY_EINVALID, "stack '%s': cannot read layer '%s': %s",
					stack->name, file, archive_error_string(a));
		goto done;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		mode_t type = archive_entry_filetype(e);
		size_t len;

		while (name && name[0] == '.' && name[1] == '/')
			name += 2;
		if (!name || !*name || !strcmp(name, "."))
			continue;
		len = strlen(name);
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%.*s", dir,
					      (int)(name[len - 1] == '/' ? len - 1 : len), name)) < 0)
			break;
		if (!ferry_path_is_safe(path.ptr + strlen(dir) + 1)) {
			error = ferry_error_set(FERRY_EINVALID,
						"stack '%s': unsafe member name '%s' in the artifact",
						stack->name, name);
			break;
		}
		if (type == AE_IFDIR) {
			if ((error = ferry_fs_mkdir_p(path.ptr, 0755)) < 0)
				break;
		} else if (type == AE_IFREG) {
			char *slash = strrchr(path.ptr, '/');
			const void *buf;
			size_t size;
			int64_t off;
			int fd;

			*slash = '\0';
			error = ferry_fs_mkdir_p(path.ptr, 0755);
			*slash = '/';
			if (error < 0)
				break;
			if ((error = admit_file(total, stack, name,
						archive_entry_size(e) > 0
							? (uint64_t)archive_entry_size(e) : 0)) < 0)
				break;
			if ((fd = open(path.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
				error = ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", path.ptr);
				break;
			}
			while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
				if ((error = ferry_fs_write_all(fd, buf, size)) < 0)
					break;
			close(fd);
			if (error < 0)
				break;
			if (r != ARCHIVE_EOF) {
				error = ferry_error_set(FERRY_EINVALID, "stack '%s': layer '%s': %s",
							stack->name, file, archive_error_string(a));
				break;
			}
		}
		/* links, devices and the rest are skipped */
	}
	if (!error && r != ARCHIVE_EOF)
		error = ferry_error_set(FERRY_EINVALID, "stack '%s': layer '%s': %s", stack->name,
					file, archive_error_string(a));
done:
	archive_read_free(a);
	ferry_buf_dispose(&path);
	return error;
}

/* The artifact's layers, in order, into `dir`. */
static int checkout_oci(ferry_store *st, const ferry_stack *stack, const char *id,
			const char *dir)
{
	ferry_buf path = FERRY_BUF_INIT, what = FERRY_BUF_INIT;
	ferry_oci_document doc;
	ferry_oci_children it;
	ferry_oci_descriptor layer;
	ferry_oci_role role;
	uint64_t total = 0;
	int error;

	memset(&doc, 0, sizeof(doc));
	if ((error = ferry_oci_digest_parse(doc.hex, id)) < 0 ||
	    (error = ferry_buf_printf(&what, "stack '%s': artifact manifest %s", stack->name,
				      id)) < 0 ||
	    (error = ferry_store_blob_path(&path, st, doc.hex)) < 0 ||
	    (error = ferry_fs_read_file(&doc.body, path.ptr, FERRY_OCI_MANIFEST_MAX_SIZE)) < 0 ||
	    (error = ferry_oci_document_parse(&doc, NULL, what.ptr)) < 0)
		goto done;
	if (!ferry_oci_is_manifest(doc.media_type)) {
		error = ferry_error_set(FERRY_EINVALID, "%s is not an image manifest (%s)",
					what.ptr, doc.media_type[0] ? doc.media_type : "no type");
		goto done;
	}
	ferry_oci_children_init(&it, doc.json, doc.media_type, 0, what.ptr);
	while ((error = ferry_oci_children_next(&layer, &role, &it)) > 0) {
		if (role != FERRY_OCI_LAYER)
			continue;
		ferry_buf_clear(&path);
		if ((error = ferry_store_blob_path(&path, st, layer.hex)) < 0 ||
		    (error = extract_layer(path.ptr, dir, stack, &total)) < 0)
			break;
	}
done:
	ferry_oci_document_dispose(&doc);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&what);
	return error;
}

/* The stack's chart (an OCI artifact of the store) into `sub`/.ferry-chart,
 * where the render finds it (ferry_stack_render). */
static int checkout_chart(ferry_store *st, const ferry_stack *stack, const char *sub)
{
	char id[FERRY_OCI_DIGEST_SIZE];
	ferry_buf dir = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_buf_printf(&dir, "%s/%s", sub, FERRY_STACK_CHART_DIR)) < 0)
		goto done;
	if (ferry_fs_exists(dir.ptr)) {
		error = ferry_error_set(FERRY_EINVALID, "stack '%s': the source's path holds '%s', "
					"the name the chart is written under", stack->name,
					FERRY_STACK_CHART_DIR);
		goto done;
	}
	if ((error = resolve_ref(id, st, stack, stack->chart)) < 0 ||
	    (error = ferry_fs_mkdir_p(dir.ptr, 0700)) < 0)
		goto done;
	error = checkout_oci(st, stack, id, dir.ptr);
done:
	ferry_buf_dispose(&dir);
	return error;
}

int ferry_source_checkout(char **sub, ferry_store *st, const ferry_stack *stack,
			  const char *id, const char *dir)
{
	ferry_buf b = FERRY_BUF_INIT;
	int error;

	*sub = NULL;
	if ((error = ferry_fs_mkdir_p(dir, 0700)) < 0)
		return error;
	error = stack->source == FERRY_SRC_GIT ? checkout_git(st, stack, id, dir)
					       : checkout_oci(st, stack, id, dir);
	if (error < 0)
		return error;
	if ((error = stack->path && strcmp(stack->path, ".")
			     ? ferry_buf_printf(&b, "%s/%s", dir, stack->path)
			     : ferry_buf_puts(&b, dir)) < 0) {
		ferry_buf_dispose(&b);
		return error;
	}
	if (!ferry_fs_exists(b.ptr)) {
		error = ferry_error_set(FERRY_ENOTFOUND, "stack '%s': path '%s' does not exist at %.12s",
					stack->name, stack->path, id);
		ferry_buf_dispose(&b);
		return error;
	}
	if (stack->chart && (error = checkout_chart(st, stack, b.ptr)) < 0) {
		ferry_buf_dispose(&b);
		return error;
	}
	*sub = ferry_buf_detach(&b);
	return 0;
}

int ferry_source_frozen(int *frozen, ferry_buf *reason, ferry_store *st,
			const ferry_stack *stack, const char *id)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	int error = 0;

	*frozen = 0;
	if (!stack->freeze_file || stack->source != FERRY_SRC_GIT)
		return 0;
	git_libgit2_init();
	if ((error = open_repo(&repo, st, stack)) < 0 ||
	    (error = lookup_commit(&commit, repo, stack, id)) < 0)
		goto done;
	if (git_commit_tree(&tree, commit) < 0) {
		error = ferry_git_error(FERRY_EIO, "stack '%s': cannot read the commit's tree",
					stack->name);
		goto done;
	}
	if (git_tree_entry_bypath(&e, tree, stack->freeze_file) < 0)
		goto done;   /* not frozen */
	*frozen = 1;
	if (git_tree_entry_type(e) == GIT_OBJECT_BLOB &&
	    git_blob_lookup(&blob, repo, git_tree_entry_id(e)) == 0) {
		const char *text = git_blob_rawcontent(blob);
		size_t len = (size_t)git_blob_rawsize(blob), n;

		for (n = 0; n < len && n < 200 && text[n] != '\n' && text[n] != '\r' && text[n]; n++)
			;
		if (n)
			error = ferry_buf_put(reason, text, n);
	}
	if (!error && !reason->size)
		error = ferry_buf_printf(reason, "%s is present", stack->freeze_file);
done:
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	if (!error)
		ferry_error_clear();
	return error;
}
