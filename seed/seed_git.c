/*
 * Seeding git servers (see seed.h) with libgit2: smart HTTP(S), git:// and
 * ssh:// push of every ref the store has for a repository. libgit2's types
 * stay in this file.
 *
 * Which refs were rewritten is decided here, at push time, by ancestry:
 * the target's current commit for a ref (from its advertisement) is
 * compared with the store's. A fast-forward is pushed as is. When the
 * target's commit is one the store's repository holds but is not an
 * ancestor of the new commit, the store's history was rewritten by a
 * bundle (the bundle marked the ref forced), and the policy decides:
 * branches are force-pushed by default ("rewritten"), tags are refused by
 * default. When the target's commit is unknown to the store, someone
 * committed on the target: that is refused unless the policy is "always".
 * Every refusal, ours or the server's, is reported per ref. Refs the
 * store no longer has are deleted on the target only with the prune
 * policy. The server's receive-pack checks that every object a ref needs
 * arrived before it moves the ref.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "auth.h"
#include "buf.h"
#include "git_error.h"
#include "log.h"
#include "catalog.h"
#include "pusher.h"
#include "strv.h"
#include "targets.h"
#include "banned.h"

typedef struct {
	const ferry_seed_git_push *p;
	int cred_tries;
	/* per-ref outcome of the push, from the server's report */
	char **names;
	char **status;   /* NULL when accepted */
	size_t n, alloc_names, alloc_status;
} push_ctx;

static int on_credentials(git_credential **out, const char *url, const char *user_from_url,
			  unsigned int allowed, void *payload)
{
	push_ctx *pc = payload;
	const ferry_seed_git_push *p = pc->p;

	(void)url;
	if (pc->cred_tries++ > 0)
		return GIT_EUSER;   /* the server refused what we had */
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && p->ssh_key)
		return git_credential_ssh_key_new(out, user_from_url ? user_from_url : "git",
						  NULL, p->ssh_key, NULL);
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && p->userpwd) {
		const char *colon = strchr(p->userpwd, ':');
		char *user;
		int rc;

		if (!colon)   /* a bare token */
			return git_credential_userpass_plaintext_new(out, "ferry", p->userpwd);
		if (!(user = strndup(p->userpwd, (size_t)(colon - p->userpwd))))
			return -1;
		rc = git_credential_userpass_plaintext_new(out, user, colon + 1);
		free(user);
		return rc;
	}
	return GIT_PASSTHROUGH;
}

static int on_update(const char *refname, const char *status, void *payload)
{
	push_ctx *pc = payload;

	if (FERRY_ALLOC_GROW(pc->names, pc->n + 1, pc->alloc_names) < 0 ||
	    FERRY_ALLOC_GROW(pc->status, pc->n + 1, pc->alloc_status) < 0)
		return -1;
	pc->names[pc->n] = strdup(refname);
	pc->status[pc->n] = status ? strdup(status) : NULL;
	pc->n++;
	return 0;
}

static void push_ctx_dispose(push_ctx *pc)
{
	size_t i;

	for (i = 0; i < pc->n; i++) {
		free(pc->names[i]);
		free(pc->status[i]);
	}
	free(pc->names);
	free(pc->status);
}

/* The server's verdict on `ref`: 1 accepted, 0 rejected (*why), -1 unknown. */
static int verdict(const push_ctx *pc, const char *ref, const char **why)
{
	size_t i;

	for (i = 0; i < pc->n; i++)
		if (pc->names[i] && !strcmp(pc->names[i], ref)) {
			*why = pc->status[i];
			return pc->status[i] ? 0 : 1;
		}
	return -1;
}

typedef struct {
	char *name;
	git_oid oid;
} store_ref;

typedef struct {
	store_ref *refs;
	size_t n, alloc;
	const char *repo;
} ref_list;

static int add_ref(const ferry_store_ref *r, void *payload)
{
	ref_list *l = payload;
	int error;

	if (strncmp(r->name, "refs/", 5))
		return 0;
	if ((error = FERRY_ALLOC_GROW(l->refs, l->n + 1, l->alloc)) < 0)
		return error;
	if (!(l->refs[l->n].name = strdup(r->name)))
		return ferry_error_oom();
	if (git_oid_fromstr(&l->refs[l->n].oid, r->commit) < 0) {
		free(l->refs[l->n].name);
		return ferry_error_set(FERRY_ECORRUPT, "store: ref %s of '%s' has a bad "
				       "commit id", r->name, l->repo);
	}
	l->n++;
	return 0;
}

static int load_refs(store_ref **out, size_t *n, ferry_store *st, const char *repo)
{
	ref_list l = { NULL, 0, 0, repo };
	int error = ferry_store_ref_foreach(st, repo, add_ref, &l);

	*out = l.refs;
	*n = l.n;
	return error;
}

static int add_item(const char *item, void *payload)
{
	return ferry_strv_push(payload, item);
}

static void refs_free(store_ref *refs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(refs[i].name);
	free(refs);
}

static const git_remote_head *remote_find(const git_remote_head **heads, size_t n,
					  const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(heads[i]->name, name))
			return heads[i];
	return NULL;
}

static int add_spec(git_strarray *a, const char *spec)
{
	char **grown = realloc(a->strings, (a->count + 1) * sizeof(*grown));

	if (!grown)
		return ferry_error_oom();
	a->strings = grown;
	if (!(a->strings[a->count] = strdup(spec)))
		return ferry_error_oom();
	a->count++;
	return 0;
}

static void specs_free(git_strarray *a)
{
	size_t i;

	for (i = 0; i < a->count; i++)
		free(a->strings[i]);
	free(a->strings);
}

typedef enum { PUSH_PLAIN, PUSH_FORCED, PUSH_DELETE } push_kind;

typedef struct {
	char *ref;
	char oid[GIT_OID_HEXSZ + 1];
	push_kind kind;
} planned;

int ferry_seed__git_repo(ferry_seed_target_result *r, ferry_store *st,
			 const ferry_target *t, const char *repo, const char *path,
			 const ferry_seed_git_push *p)
{
	ferry_buf dir = FERRY_BUF_INIT, item = FERRY_BUF_INIT, prefix = FERRY_BUF_INIT;
	ferry_buf what = FERRY_BUF_INIT, spec = FERRY_BUF_INIT;
	git_remote_callbacks cb;
	git_remote_create_options copts;
	git_push_options po;
	git_strarray specs = { NULL, 0 };
	git_repository *gr = NULL;
	git_remote *remote = NULL;
	git_odb *odb = NULL;
	const git_remote_head **heads = NULL;
	store_ref *refs = NULL;
	planned *plan = NULL;
	ferry_strv seeded = FERRY_STRV_INIT;
	size_t nrefs = 0, nheads = 0, nplan = 0, i, k;
	push_ctx pc;
	int error = 0;

	memset(&pc, 0, sizeof(pc));
	pc.p = p;
	git_libgit2_init();
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	if ((error = ferry_buf_printf(&what, "repository '%s' (as %s)", repo, p->url)) < 0 ||
	    (error = ferry_store_repo_path(&dir, st, repo)) < 0)
		goto done;
	if (git_repository_open_bare(&gr, dir.ptr) < 0 || git_repository_odb(&odb, gr) < 0) {
		error = ferry_git_error(FERRY_ENOTFOUND, "%s", what.ptr);
		goto done;
	}
	if ((error = load_refs(&refs, &nrefs, st, repo)) < 0)
		goto done;
	if (p->ca_file && git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, p->ca_file, NULL) < 0) {
		error = ferry_git_error(FERRY_EINVALID, "%s", what.ptr);
		goto done;
	}
	cb.credentials = on_credentials;
	cb.push_update_reference = on_update;
	cb.payload = &pc;
	/* No insteadOf rewriting (the URL is the target's; and libgit2 1.5
	 * leaks in the regex match that looks the rules up). */
	git_remote_create_options_init(&copts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	copts.repository = gr;
	copts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
		      GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, p->url, &copts) < 0 ||
	    git_remote_connect(remote, GIT_DIRECTION_PUSH, &cb, NULL, NULL) < 0 ||
	    git_remote_ls(&heads, &nheads, remote) < 0) {
		if (ferry_git_error_no_repository())
			error = ferry_git_error(FERRY_ENOTFOUND, "%s does not exist on the target: "
						"create it on the git server first (ferry "
						"creates repositories only on gitea targets)",
						what.ptr);
		else
			error = ferry_git_error(FERRY_EIO, "%s", what.ptr);
		goto done;
	}
	if ((error = ferry_buf_printf(&prefix, "ref %s ", path)) < 0 ||
	    (error = ferry_store_progress_foreach(st, t->name, prefix.ptr, add_item,
						  &seeded)) < 0)
		goto done;
	if (!(plan = calloc(nrefs + seeded.n + 1, sizeof(*plan)))) {
		error = ferry_error_oom();
		goto done;
	}
	for (i = 0; i < nrefs; i++) {
		const git_remote_head *h = remote_find(heads, nheads, refs[i].name);
		int is_tag = !strncmp(refs[i].name, "refs/tags/", 10);
		push_kind kind = PUSH_PLAIN;

		ferry_buf_clear(&item);
		if ((error = ferry_buf_printf(&item, "ref %s %s", path, refs[i].name)) < 0)
			goto done;
		if (h && git_oid_equal(&h->oid, &refs[i].oid)) {
			r->refs_unchanged++;
			if ((error = ferry_store_progress_set(st, t->name, item.ptr,
							      git_oid_tostr_s(&refs[i].oid))) < 0)
				goto done;
			continue;
		}
		if (h && !git_oid_is_zero(&h->oid)) {
			int known = git_odb_exists(odb, &h->oid);
			/* a tag that moves at all has moved, forward or not:
			 * git itself refuses that without force */
			int ff = !is_tag && known &&
				 git_graph_descendant_of(gr, &refs[i].oid, &h->oid) == 1;

			if (!ff) {
				int allowed;
				const char *why;

				if (is_tag) {
					allowed = p->force_tags == 1;
					why = "the tag moved and the policy keeps tags (force-tags: never)";
				} else if (known) {
					allowed = p->force_branches >= 1;
					why = "history was rewritten and the policy refuses "
					      "(force-branches: never)";
				} else {
					allowed = p->force_branches == 2;
					why = "the target has commits the store does not know "
					      "(force-branches: always would overwrite them)";
				}
				if (!allowed) {
					if ((error = ferry_seed__refuse(r, path, refs[i].name,
									why)) < 0)
						goto done;
					continue;
				}
				kind = PUSH_FORCED;
			}
		}
		if (!(plan[nplan].ref = strdup(refs[i].name))) {
			error = ferry_error_oom();
			goto done;
		}
		git_oid_tostr(plan[nplan].oid, sizeof(plan[nplan].oid), &refs[i].oid);
		plan[nplan++].kind = kind;
	}
	/* Refs seeded before that the store no longer has. */
	for (k = 0; k < seeded.n; k++) {
		const char *ref = seeded.v[k] + prefix.size;
		int have = 0;

		for (i = 0; i < nrefs && !have; i++)
			have = !strcmp(refs[i].name, ref);
		if (have)
			continue;
		if (!p->prune || !remote_find(heads, nheads, ref)) {
			if (!remote_find(heads, nheads, ref) &&
			    (error = ferry_store_progress_delete(st, t->name, seeded.v[k])) < 0)
				goto done;
			continue;
		}
		if (!(plan[nplan].ref = strdup(ref))) {
			error = ferry_error_oom();
			goto done;
		}
		plan[nplan++].kind = PUSH_DELETE;
	}
	for (i = 0; i < nplan; i++) {
		ferry_buf_clear(&spec);
		if (plan[i].kind == PUSH_DELETE)
			error = ferry_buf_printf(&spec, ":%s", plan[i].ref);
		else
			error = ferry_buf_printf(&spec, "%s%s:%s",
						 plan[i].kind == PUSH_FORCED ? "+" : "",
						 plan[i].ref, plan[i].ref);
		if (error < 0 || (error = add_spec(&specs, spec.ptr)) < 0)
			goto done;
	}
	if (nplan) {
		po.callbacks = cb;
		if (git_remote_push(remote, &specs, &po) < 0) {
			error = ferry_git_error(FERRY_EIO, "%s", what.ptr);
			goto done;
		}
	}
	for (i = 0; i < nplan; i++) {
		const char *why = NULL;
		int v = verdict(&pc, plan[i].ref, &why);

		ferry_buf_clear(&item);
		if ((error = ferry_buf_printf(&item, "ref %s %s", path, plan[i].ref)) < 0)
			goto done;
		if (v == 0) {
			ferry_buf_clear(&spec);
			if ((error = ferry_buf_printf(&spec, "the server refused: %s", why)) < 0 ||
			    (error = ferry_seed__refuse(r, path, plan[i].ref, spec.ptr)) < 0)
				goto done;
			continue;
		}
		if (plan[i].kind == PUSH_DELETE) {
			r->refs_deleted++;
			error = ferry_store_progress_delete(st, t->name, item.ptr);
		} else {
			if (plan[i].kind == PUSH_FORCED)
				r->refs_forced++;
			else
				r->refs_pushed++;
			error = ferry_store_progress_set(st, t->name, item.ptr, plan[i].oid);
		}
		if (error < 0)
			goto done;
		ferry_log(FERRY_LOG_INFO, "%s: %s %s", what.ptr, plan[i].ref,
			  plan[i].kind == PUSH_DELETE ? "deleted" :
			  plan[i].kind == PUSH_FORCED ? "force-pushed" : "pushed");
	}
done:
	ferry_strv_dispose(&seeded);
	for (i = 0; plan && i < nplan; i++)
		free(plan[i].ref);
	free(plan);
	specs_free(&specs);
	push_ctx_dispose(&pc);
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	git_odb_free(odb);
	git_repository_free(gr);
	refs_free(refs, nrefs);
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&item);
	ferry_buf_dispose(&prefix);
	ferry_buf_dispose(&what);
	ferry_buf_dispose(&spec);
	git_libgit2_shutdown();
	return error;
}

int ferry_seed__git_default_branch(char **out, ferry_store *st, const char *repo)
{
	ferry_buf dir = FERRY_BUF_INIT;
	git_repository *gr = NULL;
	git_reference *head = NULL;
	store_ref *refs = NULL;
	size_t n = 0, i;
	const char *target = NULL;
	int error;

	*out = NULL;
	git_libgit2_init();
	if ((error = load_refs(&refs, &n, st, repo)) < 0)
		goto done;
	if ((error = ferry_store_repo_path(&dir, st, repo)) < 0)
		goto done;
	if (git_repository_open_bare(&gr, dir.ptr) == 0 &&
	    git_reference_lookup(&head, gr, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
		target = git_reference_symbolic_target(head);
	for (i = 0; i < n && target; i++)
		if (!strcmp(refs[i].name, target))
			break;
	if (!target || i == n) {
		target = NULL;
		for (i = 0; i < n && !target; i++)
			if (!strcmp(refs[i].name, "refs/heads/main") ||
			    !strcmp(refs[i].name, "refs/heads/master"))
				target = refs[i].name;
		for (i = 0; i < n && !target; i++)
			if (!strncmp(refs[i].name, "refs/heads/", 11))
				target = refs[i].name;
	}
	if (target && !(*out = strdup(target + 11)))
		error = ferry_error_oom();
done:
	git_reference_free(head);
	git_repository_free(gr);
	refs_free(refs, n);
	ferry_buf_dispose(&dir);
	git_libgit2_shutdown();
	return error;
}

/* The policy options of a git or Gitea target. */
static void policy_of(ferry_seed_git_push *p, const ferry_target *t)
{
	const char *fb = json_string_value(json_object_get(t->options, "force-branches"));
	const char *ft = json_string_value(json_object_get(t->options, "force-tags"));

	p->force_branches = !fb || !strcmp(fb, "rewritten") ? 1 : !strcmp(fb, "always") ? 2 : 0;
	p->force_tags = ft && !strcmp(ft, "always");
	p->prune = json_is_true(json_object_get(t->options, "prune"));
	p->ca_file = json_string_value(json_object_get(t->options, "ca-file"));
	p->ssh_key = t->key_path;
}

int ferry_seed__git(ferry_seed_target_result *r, ferry_store *st, const ferry_target *t,
		    const ferry_seed_options *opts)
{
	ferry_seed_git_push p;
	ferry_buf url = FERRY_BUF_INIT;
	ferry_strv repos = FERRY_STRV_INIT;
	char *cred = NULL, *enclave = NULL;
	size_t blen = strlen(t->url), i;
	int error = 0;

	(void)opts;
	memset(&p, 0, sizeof(p));
	policy_of(&p, t);
	if ((error = ferry_target_credentials(&cred, t)) < 0)
		return error;
	p.userpwd = cred;
	if ((error = ferry_store_repo_names(&repos, st)) < 0)
		goto done;
	for (i = 0; i < repos.n; i++) {
		const char *repo = repos.v[i], *path;

		free(enclave);
		enclave = NULL;
		if ((error = ferry_rewrite_apply(&enclave, &t->rewrite, repo)) < 0)
			goto done;
		path = ferry_rewrite_repo_path(enclave);
		ferry_buf_clear(&url);
		if ((error = ferry_buf_printf(&url, "%.*s/%s.git", (int)blen -
					      (blen && t->url[blen - 1] == '/'), t->url,
					      path)) < 0)
			goto done;
		p.url = url.ptr;
		r->repos++;
		if ((error = ferry_seed__git_repo(r, st, t, repo, path, &p)) < 0)
			goto done;
	}
done:
	ferry_strv_dispose(&repos);
	free(enclave);
	ferry_secret_free(cred);
	ferry_buf_dispose(&url);
	return error;
}

void ferry_seed__git_policy(ferry_seed_git_push *p, const ferry_target *t)
{
	memset(p, 0, sizeof(*p));
	policy_of(p, t);
}
