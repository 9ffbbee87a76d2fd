/*
 * Git sources (see git_source.h). Each repository is a job keyed by its
 * resolved URL: top-level sources from the spec select refs by pattern;
 * submodules add pinned commits, exported under refs/ferry/pinned/<commit>.
 * A job is processed (fetched once, refs computed, bundle file written) and
 * processed again if a later superproject pins more commits in it, until
 * nothing changes; the depth limit and the finite set of pins end cycles.
 *
 * Secrets are read from the referenced file or environment variable only
 * inside the credential callback, handed to libgit2 and wiped; they never
 * appear in messages.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <sodium.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "fs.h"
#include "git_bundle.h"
#include "git_check.h"
#include "git_cmd.h"
#include "git_error.h"
#include "git_source.h"
#include "tree_write.h"
#include "log.h"
#include "manifest.h"
#include "banned.h"

typedef struct {
	char *token_file;      /* resolved path */
	char *token_env;
	char *ssh_key_file;    /* resolved path */
	char *username;
} creds;

typedef struct job {
	char *url;             /* resolved: URL or absolute path */
	char *written;         /* as the spec or .gitmodules wrote it */
	char *name;
	const ferry_export_spec *spec;
	const ferry_source *src;   /* the source line (a submodule's superproject's) */
	json_t *patterns;      /* borrowed; NULL: default (or none for submodules) */
	int select;            /* select refs by pattern (top-level sources) */
	creds cred;            /* copies; empty when none apply */
	int submodules;
	json_t *skip;          /* borrowed skip-submodules list */
	int depth;
	/* submodule identity for messages */
	char *sub_path, *super_name, *sub_url_written;
	git_oid *pins;
	size_t npins, allocpins;
	int dirty, fetched, skipped;
	git_repository *repo;
	char *head;            /* the remote's default branch */
	ferry_git_repo_export out;
	int have_out;
} job;

struct ferry_git_jobs {
	job **v;
	size_t n, alloc;
	int libgit2_ready;
	size_t files;          /* bundle files written, for unique names */
};

/* ---- names, patterns, URLs ------------------------------------------------ */

static int has_scheme(const char *url, const char **rest)
{
	const char *p = url;

	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (p == url || strncmp(p, "://", 3))
		return 0;
	if (rest)
		*rest = p + 3;
	return 1;
}

/* "user@host:path" (scp-like ssh): a ':' before any '/' */
static int is_scp_like(const char *url)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');

	return colon && colon != url && (!slash || colon < slash) && url[0] != '.';
}

static int is_local(const char *url)
{
	return !strncmp(url, "file://", 7) || (!has_scheme(url, NULL) && !is_scp_like(url));
}

int ferry_git_name_from_url(char **out, const char *url)
{
	ferry_buf b = FERRY_BUF_INIT;
	const char *p = url, *rest;
	size_t n;

	*out = NULL;
	if (!strncmp(url, "file://", 7)) {
		p = url + 7;
	} else if (has_scheme(url, &rest)) {
		p = rest + strcspn(rest, "/");   /* skip the authority */
	} else if (is_scp_like(url)) {
		p = strchr(url, ':') + 1;
	}
	if (is_local(url)) {
		/* a local path: its last component */
		const char *end = p + strlen(p), *start;

		while (end > p && end[-1] == '/')
			end--;
		start = end;
		while (start > p && start[-1] != '/')
			start--;
		if (ferry_buf_put(&b, start, (size_t)(end - start)) < 0)
			return ferry_error_oom();
	} else {
		while (*p == '/' || *p == '~')
			p++;
		if (ferry_buf_puts(&b, p) < 0)
			return ferry_error_oom();
	}
	while (b.size && b.ptr[b.size - 1] == '/')
		b.ptr[--b.size] = '\0';
	n = b.size;
	if (n > 4 && !strcmp(b.ptr + n - 4, ".git")) {
		b.size -= 4;
		b.ptr[b.size] = '\0';
	}
	while (b.size && b.ptr[b.size - 1] == '/')
		b.ptr[--b.size] = '\0';
	if (!b.size || !ferry_git_repo_name_valid(b.ptr)) {
		ferry_buf_dispose(&b);
		return ferry_error_set(FERRY_EINVALID,
				       "cannot derive a repository name from '%s'; set 'name'",
				       url);
	}
	*out = ferry_buf_detach(&b);
	return 0;
}

int ferry_git_ref_pattern_match(const char *pattern, const char *ref)
{
	static const char *const prefixes[] = { "refs/heads/", "refs/tags/" };
	size_t i;

	if (!strncmp(pattern, "refs/", 5))
		return fnmatch(pattern, ref, 0) == 0;
	for (i = 0; i < 2; i++) {
		size_t n = strlen(prefixes[i]);

		if (!strncmp(ref, prefixes[i], n) && fnmatch(pattern, ref + n, 0) == 0)
			return 1;
	}
	return 0;
}

static int is_glob(const char *p)
{
	return strpbrk(p, "*?[") != NULL;
}

int ferry_git_resolve_url(char **out, const char *super_url, const char *url)
{
	ferry_buf b = FERRY_BUF_INIT;
	const char *rel = url;
	size_t floor = 0;

	*out = NULL;
	if (strncmp(url, "./", 2) && strncmp(url, "../", 3)) {
		if (!(*out = strdup(url)))
			return ferry_error_oom();
		return 0;
	}
	if (ferry_buf_puts(&b, super_url) < 0)
		return ferry_error_oom();
	while (b.size > 1 && b.ptr[b.size - 1] == '/')
		b.ptr[--b.size] = '\0';
	{
		const char *rest;

		/* never climb above the host (scheme://host) or the scp host: */
		if (has_scheme(b.ptr, &rest))
			floor = (size_t)(rest - b.ptr) + strcspn(rest, "/");
		else if (is_scp_like(b.ptr))
			floor = (size_t)(strchr(b.ptr, ':') - b.ptr) + 1;
	}
	for (;;) {
		if (!strncmp(rel, "./", 2)) {
			rel += 2;
		} else if (!strncmp(rel, "../", 3)) {
			char *slash;

			rel += 3;
			slash = strrchr(b.ptr + floor, '/');
			if (!slash || (size_t)(slash - b.ptr) < floor) {
				ferry_buf_dispose(&b);
				return ferry_error_set(FERRY_EINVALID,
						       "submodule url '%s' climbs above '%s'",
						       url, super_url);
			}
			b.size = (size_t)(slash - b.ptr);
			b.ptr[b.size] = '\0';
		} else {
			break;
		}
	}
	if (ferry_buf_printf(&b, "/%s", rel) < 0) {
		ferry_buf_dispose(&b);
		return ferry_error_oom();
	}
	*out = ferry_buf_detach(&b);
	return 0;
}

char *ferry_git_cache_default_path(void)
{
	ferry_buf b = FERRY_BUF_INIT;
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int error;

	if (xdg && *xdg)
		error = ferry_buf_printf(&b, "%s/ferry", xdg);
	else
		error = ferry_buf_printf(&b, "%s/.cache/ferry", home && *home ? home : ".");
	if (error < 0) {
		ferry_buf_dispose(&b);
		return NULL;
	}
	return ferry_buf_detach(&b);
}

/* ---- jobs ------------------------------------------------------------------- */

static void creds_dispose(creds *c)
{
	free(c->token_file);
	free(c->token_env);
	free(c->ssh_key_file);
	free(c->username);
	memset(c, 0, sizeof(*c));
}

static int creds_copy(creds *dst, const creds *src)
{
	memset(dst, 0, sizeof(*dst));
	if ((src->token_file && !(dst->token_file = strdup(src->token_file))) ||
	    (src->token_env && !(dst->token_env = strdup(src->token_env))) ||
	    (src->ssh_key_file && !(dst->ssh_key_file = strdup(src->ssh_key_file))) ||
	    (src->username && !(dst->username = strdup(src->username)))) {
		creds_dispose(dst);
		return ferry_error_oom();
	}
	return 0;
}

static void out_dispose(ferry_git_repo_export *r)
{
	size_t i;

	if (r->bundle_file)
		unlink(r->bundle_file);
	free(r->bundle_file);
	for (i = 0; i < r->nrefs; i++)
		free(r->refs[i].name);
	free(r->refs);
	for (i = 0; i < r->ndeleted; i++)
		free(r->deleted[i]);
	free(r->deleted);
	for (i = 0; i < r->nprerequisites; i++)
		free(r->prerequisites[i]);
	free(r->prerequisites);
	free(r->name);
	free(r->location);
	memset(r, 0, sizeof(*r));
}

static void job_free(job *j)
{
	if (!j)
		return;
	free(j->url);
	free(j->written);
	free(j->name);
	creds_dispose(&j->cred);
	free(j->sub_path);
	free(j->super_name);
	free(j->sub_url_written);
	free(j->pins);
	free(j->head);
	git_repository_free(j->repo);
	out_dispose(&j->out);
	free(j);
}

static int jobs_push(ferry_git_content *c, job *j)
{
	int error;

	if (!c->jobs && !(c->jobs = calloc(1, sizeof(*c->jobs))))
		return ferry_error_oom();
	if ((error = FERRY_ALLOC_GROW(c->jobs->v, c->jobs->n + 1, c->jobs->alloc)) < 0)
		return error;
	c->jobs->v[c->jobs->n++] = j;
	return 0;
}

static job *job_by_url(ferry_git_content *c, const char *url)
{
	size_t i;

	for (i = 0; c->jobs && i < c->jobs->n; i++)
		if (!strcmp(c->jobs->v[i]->url, url))
			return c->jobs->v[i];
	return NULL;
}

static job *job_by_name(ferry_git_content *c, const char *name)
{
	size_t i;

	for (i = 0; c->jobs && i < c->jobs->n; i++)
		if (!strcmp(c->jobs->v[i]->name, name))
			return c->jobs->v[i];
	return NULL;
}

static int resolve_spec_path(char **out, const ferry_export_spec *spec, const char *p)
{
	ferry_buf b = FERRY_BUF_INIT;

	if ((p[0] == '/' ? ferry_buf_puts(&b, p)
			 : ferry_buf_printf(&b, "%s/%s", spec->dir, p)) < 0) {
		ferry_buf_dispose(&b);
		return ferry_error_oom();
	}
	*out = ferry_buf_detach(&b);
	return 0;
}

static int parse_credentials(creds *out, const ferry_export_spec *spec,
			     const ferry_source *src)
{
	static const char *const keys[] = { "token-file", "token-env", "ssh-key-file",
					    "username", NULL };
	json_t *v = json_object_get(src->options, "credentials"), *e;
	const char *key;
	int kinds = 0, error;

	memset(out, 0, sizeof(*out));
	if (!v)
		return 0;
	if (!json_is_object(v))
		return ferry_source_error(spec, src,
					  "'credentials' must be a mapping with one of "
					  "token-file, token-env, ssh-key-file");
	json_object_foreach(v, key, e) {
		size_t i;

		for (i = 0; keys[i]; i++)
			if (!strcmp(key, keys[i]))
				break;
		if (!keys[i])
			return ferry_source_error(spec, src,
						  "credentials: unknown key '%s' (a secret is "
						  "given by reference: token-file, token-env or "
						  "ssh-key-file)", key);
		if (!json_is_string(e) || !*json_string_value(e))
			return ferry_source_error(spec, src,
						  "credentials: '%s' must be a non-empty value",
						  key);
		if (strcmp(key, "username"))
			kinds++;
	}
	if (kinds != 1)
		return ferry_source_error(spec, src,
					  "credentials: give exactly one of token-file, "
					  "token-env, ssh-key-file");
	if ((e = json_object_get(v, "token-file")) &&
	    (error = resolve_spec_path(&out->token_file, spec, json_string_value(e))) < 0)
		goto fail;
	if ((e = json_object_get(v, "ssh-key-file")) &&
	    (error = resolve_spec_path(&out->ssh_key_file, spec, json_string_value(e))) < 0)
		goto fail;
	if (((e = json_object_get(v, "token-env")) &&
	     !(out->token_env = strdup(json_string_value(e)))) ||
	    ((e = json_object_get(v, "username")) &&
	     !(out->username = strdup(json_string_value(e))))) {
		error = ferry_error_oom();
		goto fail;
	}
	return 0;
fail:
	creds_dispose(out);
	return error;
}

int ferry_git_content_add(ferry_git_content *c, const ferry_export_spec *spec,
			  const ferry_source *src)
{
	static const char *const allowed[] = { "refs", "credentials", "submodules",
					       "skip-submodules", NULL };
	job *j = NULL;
	json_t *refs = NULL, *skip = NULL;
	int error, submodules;

	if ((error = ferry_source_check_options(spec, src, allowed)) < 0 ||
	    (error = ferry_source_option_strings(&refs, spec, src, "refs")) < 0 ||
	    (error = ferry_source_option_strings(&skip, spec, src, "skip-submodules")) < 0 ||
	    (error = ferry_source_option_bool(&submodules, spec, src, "submodules", 1)) < 0)
		return error;
	if (refs && json_array_size(refs) == 0)
		return ferry_source_error(spec, src, "'refs' must list at least one pattern");
	if (src->location[0] == '-')
		return ferry_source_error(spec, src, "'%s' is not a URL or path",
					  src->location);
	if (!(j = calloc(1, sizeof(*j))))
		return ferry_error_oom();
	j->spec = spec;
	j->src = src;
	j->patterns = refs;
	j->select = 1;
	j->skip = skip;
	j->submodules = submodules;
	j->dirty = 1;
	if ((error = parse_credentials(&j->cred, spec, src)) < 0)
		goto fail;
	if (is_local(src->location) && strncmp(src->location, "file://", 7))
		error = resolve_spec_path(&j->url, spec, src->location);
	else if (!(j->url = strdup(src->location)))
		error = ferry_error_oom();
	if (error < 0)
		goto fail;
	if (!(j->written = strdup(src->location))) {
		error = ferry_error_oom();
		goto fail;
	}
	if (src->name) {
		if (!ferry_git_repo_name_valid(src->name)) {
			error = ferry_source_error(spec, src,
						   "'name' must be a relative path of "
						   "A-Z a-z 0-9 . _ - /: '%s'", src->name);
			goto fail;
		}
		if (!(j->name = strdup(src->name))) {
			error = ferry_error_oom();
			goto fail;
		}
	} else if ((error = ferry_git_name_from_url(&j->name, j->url)) < 0) {
		error = ferry_source_error(spec, src, "%s", ferry_error_last());
		goto fail;
	}
	if (job_by_name(c, j->name)) {
		error = ferry_source_error(spec, src,
					   "repository name '%s' is used by another source",
					   j->name);
		goto fail;
	}
	if (job_by_url(c, j->url)) {
		error = ferry_source_error(spec, src, "'%s' is given twice", j->written);
		goto fail;
	}
	if ((error = jobs_push(c, j)) < 0)
		goto fail;
	return 0;
fail:
	job_free(j);
	return error;
}

/* ---- fetching ------------------------------------------------------------------- */

typedef struct {
	const job *j;
	int attempts;
	int auth_failed;
	char what[64];     /* which credential was tried, for messages */
} fetch_ctx;

static int read_secret(ferry_buf *out, const creds *c)
{
	if (c->token_env) {
		const char *v = getenv(c->token_env);

		if (!v || !*v)
			return ferry_error_set(FERRY_ENOTFOUND,
					       "environment variable '%s' is not set",
					       c->token_env);
		return ferry_buf_puts(out, v);
	}
	return ferry_fs_read_file(out, c->token_file, 64 * 1024);
}

static int cred_cb(git_credential **out, const char *url, const char *user_from_url,
		   unsigned int allowed, void *payload)
{
	fetch_ctx *f = payload;
	const creds *c = &f->j->cred;
	const char *user = c->username ? c->username
		: user_from_url && *user_from_url ? user_from_url : "git";
	ferry_buf secret = FERRY_BUF_INIT;
	int rc;

	(void)url;
	if (!c->token_file && !c->token_env && !c->ssh_key_file)
		return GIT_PASSTHROUGH;
	if (f->attempts++ > 0) {
		f->auth_failed = 1;
		git_error_set_str(GIT_ERROR_NET, "the server refused the credentials");
		return GIT_EAUTH;
	}
	if (c->ssh_key_file) {
		snprintf(f->what, sizeof(f->what), "ssh-key-file");
		if (allowed & GIT_CREDENTIAL_SSH_KEY)
			return git_credential_ssh_key_new(out, user, NULL, c->ssh_key_file, NULL);
		if (allowed & GIT_CREDENTIAL_USERNAME)
			return git_credential_username_new(out, user);
		return GIT_PASSTHROUGH;
	}
	snprintf(f->what, sizeof(f->what), "%s", c->token_env ? "token-env" : "token-file");
	if (!(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
		return GIT_PASSTHROUGH;
	if (read_secret(&secret, c) < 0) {
		git_error_set_str(GIT_ERROR_NET, ferry_error_last());
		return -1;
	}
	while (secret.size && isspace((unsigned char)secret.ptr[secret.size - 1]))
		secret.ptr[--secret.size] = '\0';
	if (!secret.size) {
		git_error_set_str(GIT_ERROR_NET, "the token is empty");
		rc = -1;
	} else {
		rc = git_credential_userpass_plaintext_new(out, user, secret.ptr);
	}
	if (secret.ptr)
		sodium_memzero(secret.ptr, secret.asize);
	ferry_buf_dispose(&secret);
	return rc;
}

static int cache_path(ferry_buf *out, const char *cache_dir, const char *url)
{
	char hex[FERRY_SHA256_HEX_LEN + 1];
	int error;

	if ((error = ferry_sha256_hex(hex, url, strlen(url))) < 0)
		return error;
	return ferry_buf_printf(out, "%s/git/%s.git", cache_dir, hex);
}

/* Set the cache's ref `name` to `id` unless it is there already. */
static int copy_ref(git_repository *cache, const char *name, const git_oid *id)
{
	git_reference *ref = NULL;
	git_oid have;

	if (git_reference_name_to_id(&have, cache, name) == 0 && git_oid_equal(&have, id))
		return 0;
	git_error_clear();
	if (git_reference_create(&ref, cache, name, id, 1, NULL) < 0)
		return -1;
	git_reference_free(ref);
	return 0;
}

static int is_exported_ref(const char *name)
{
	return !strncmp(name, "refs/heads/", 11) || !strncmp(name, "refs/tags/", 10);
}

/*
 * Take again, by name, each loose branch and tag file under `dir`/`sub`
 * (recursively): libgit2's ref iterator skips a loose ref it cannot read,
 * which would export the branch as it was before; a lookup by name fails
 * instead, and so does the export. Names being written (".lock") are left.
 */
static int retake_loose_refs(git_repository *src, git_repository *cache, const char *dir,
			     const char *sub)
{
	ferry_buf path = FERRY_BUF_INIT, name = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d;
	int error = 0;

	if ((error = ferry_buf_printf(&path, "%s/%s", dir, sub)) < 0)
		return error;
	if (!(d = opendir(path.ptr))) {
		error = errno == ENOENT ? 0 : ferry_error_set_errno(FERRY_EIO, "cannot read '%s'",
								   path.ptr);
		ferry_buf_dispose(&path);
		return error;
	}
	while (!error && (errno = 0, e = readdir(d))) {
		struct stat st;
		git_reference *ref = NULL;
		size_t n = strlen(e->d_name);

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (n > 5 && !strcmp(e->d_name + n - 5, ".lock")))
			continue;
		ferry_buf_clear(&name);
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&name, "%s/%s", sub, e->d_name)) < 0 ||
		    (error = ferry_buf_printf(&path, "%s/%s", dir, name.ptr)) < 0)
			break;
		if (lstat(path.ptr, &st) < 0)
			continue;   /* gone meanwhile: the iterator's answer stands */
		if (S_ISDIR(st.st_mode)) {
			error = retake_loose_refs(src, cache, dir, name.ptr);
			continue;
		}
		if (git_reference_lookup(&ref, src, name.ptr) < 0) {
			if (lstat(path.ptr, &st) == 0)
				error = ferry_git_error(FERRY_EIO, "cannot read ref '%s'", name.ptr);
			else
				git_error_clear();
			continue;
		}
		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    copy_ref(cache, name.ptr, git_reference_target(ref)) < 0)
			error = ferry_git_error(FERRY_EIO, "cannot set ref '%s'", name.ptr);
		git_reference_free(ref);
	}
	if (!error && errno)
		error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s/%s'", dir, sub);
	closedir(d);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&name);
	return error;
}

/*
 * A repository on a local path is read where it is: the cache borrows its
 * objects (objects/info/alternates) and takes its branches and tags, so
 * nothing is packed, copied or indexed again; the bundle's pack is written
 * from the source's own packs. Branches and tags the source no longer has
 * are deleted from the cache, as a pruning fetch does.
 */
static int link_local(job *j, git_repository *cache, const char *cache_dir)
{
	const char *p = !strncmp(j->url, "file://", 7) ? j->url + 7 : j->url;
	git_repository *src = NULL;
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	ferry_buf alt = FERRY_BUF_INIT, file = FERRY_BUF_INIT, have = FERRY_BUF_INIT;
	const char *name;
	int error = 0;

	if (strchr(p, '\n'))
		return ferry_error_set(FERRY_EINVALID, "cannot fetch '%s': the path has a "
				       "line break", j->written);
	if (git_repository_open_ext(&src, p, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return ferry_git_error(FERRY_ERROR, "cannot fetch '%s'", j->written);
	if ((error = ferry_buf_printf(&alt, "%sobjects\n", git_repository_commondir(src))) < 0 ||
	    (error = ferry_buf_printf(&file, "%s/objects/info/alternates", cache_dir)) < 0)
		goto done;
	if (ferry_fs_read_file(&have, file.ptr, 1u << 16) < 0 || have.size != alt.size ||
	    memcmp(have.ptr, alt.ptr, alt.size)) {
		ferry_error_clear();
		if ((error = ferry_fs_write_atomic(file.ptr, alt.ptr, alt.size, 0644)) < 0)
			goto done;
	}
	/* the source's branches and tags */
	if (git_reference_iterator_new(&it, src) < 0)
		goto fail;
	while ((error = git_reference_next(&ref, it)) == 0) {
		name = git_reference_name(ref);
		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT && is_exported_ref(name) &&
		    copy_ref(cache, name, git_reference_target(ref)) < 0) {
			git_reference_free(ref);
			goto fail;
		}
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	it = NULL;
	if (error != GIT_ITEROVER)
		goto fail;
	if ((error = retake_loose_refs(src, cache, git_repository_commondir(src),
				       "refs/heads")) < 0 ||
	    (error = retake_loose_refs(src, cache, git_repository_commondir(src),
				       "refs/tags")) < 0) {
		error = ferry_error_wrap(error, "cannot fetch '%s'", j->written);
		goto done;
	}
	error = 0;
	/* prune what it no longer has */
	if (git_reference_iterator_new(&it, cache) < 0)
		goto fail;
	while (git_reference_next(&ref, it) == 0) {
		git_reference *theirs = NULL;

		name = git_reference_name(ref);
		if (is_exported_ref(name) && git_reference_lookup(&theirs, src, name) < 0 &&
		    git_reference_delete(ref) < 0) {
			git_reference_free(ref);
			goto fail;
		}
		git_reference_free(theirs);
		git_reference_free(ref);
	}
	git_error_clear();
	if (git_reference_lookup(&ref, src, "HEAD") == 0) {
		const char *target = git_reference_symbolic_target(ref);

		if (target && !strncmp(target, "refs/heads/", 11) && !(j->head = strdup(target)))
			error = ferry_error_oom();
		git_reference_free(ref);
	}
	git_error_clear();
	goto done;
fail:
	error = ferry_git_error(FERRY_ERROR, "cannot fetch '%s'", j->written);
done:
	git_reference_iterator_free(it);
	git_repository_free(src);
	ferry_buf_dispose(&alt);
	ferry_buf_dispose(&file);
	ferry_buf_dispose(&have);
	return error;
}

/*
 * git fetches what needs no credentials over the transports it and libgit2
 * share: git://, http:// and https://. The server sends what its packs
 * hold, and git indexes it with index-pack, several times faster than
 * libgit2's indexer. Sources with credentials, and ssh, are fetched by libgit2,
 * whose credential callback reads the secrets.
 */
static int fetch_by_git(const job *j)
{
	if (j->cred.token_file || j->cred.token_env || j->cred.ssh_key_file || j->cred.username)
		return 0;
	return !strncmp(j->url, "git://", 6) || !strncmp(j->url, "http://", 7) ||
	       !strncmp(j->url, "https://", 8);
}

static int git_fetch(const job *j, const char *git_dir)
{
	/* the spec's URL is the one fetched: only these transports, objects
	 * are checked by ferry (git_check.h), never by a fetch setting */
	const char *argv[] = { "git", "--git-dir", git_dir,
			       "-c", "protocol.allow=never", "-c", "protocol.git.allow=always", "-c", "protocol.http.allow=always",
			       "-c", "protocol.https.allow=always", "-c", "fetch.fsckObjects=false",
			       "-c", "transfer.fsckObjects=false", "-c", "gc.auto=0",
			       "-c", "fetch.writeCommitGraph=false", "-c", "maintenance.auto=false",
			       "fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head",
			       "--no-recurse-submodules", "--", j->url,
			       "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", NULL };
	int error;

	if ((error = ferry_git_run(argv, -1, NULL, 0)) < 0)
		return ferry_error_wrap(error == FERRY_ENOTFOUND ? error : FERRY_ERROR,
					"cannot fetch '%s'", j->written);
	return 0;
}

static int fetch(job *j, const char *cache_dir)
{
	static char heads[] = "+refs/heads/*:refs/heads/*", tags[] = "+refs/tags/*:refs/tags/*";
	char *specs[] = { heads, tags };
	git_strarray refspecs = { specs, 2 };
	git_remote_callbacks cbs;
	git_fetch_options fo;
	git_remote_create_options copts;
	git_remote *remote = NULL;
	git_buf head = { NULL, 0, 0 };
	ferry_buf path = FERRY_BUF_INIT;
	fetch_ctx f;
	int error;

	memset(&f, 0, sizeof(f));
	f.j = j;
	git_remote_init_callbacks(&cbs, GIT_REMOTE_CALLBACKS_VERSION);
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	git_remote_create_options_init(&copts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	if ((error = cache_path(&path, cache_dir, j->url)) < 0)
		goto done;
	if (git_repository_open_bare(&j->repo, path.ptr) < 0) {
		git_error_clear();
		if ((error = ferry_fs_mkdir_p(cache_dir, 0700)) < 0)
			goto done;
		if (git_repository_init(&j->repo, path.ptr, 1) < 0) {
			error = ferry_git_error(FERRY_EIO, "cannot create cache '%s'", path.ptr);
			goto done;
		}
	}
	ferry_log(FERRY_LOG_INFO, "fetching '%s' into '%s'", j->written, path.ptr);
	if (is_local(j->url)) {
		if ((error = link_local(j, j->repo, path.ptr)) == 0) {
			if (j->head && git_repository_set_head(j->repo, j->head) < 0)
				git_error_clear();
			j->fetched = 1;
		}
		goto done;
	}
	cbs.credentials = cred_cb;
	cbs.payload = &f;
	fo.callbacks = cbs;
	fo.prune = GIT_FETCH_PRUNE;
	fo.update_fetchhead = 0;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	/* url.<base>.insteadOf rewriting is skipped: the spec's URL is the
	 * one fetched (and libgit2 1.5 leaks while it looks for such rules) */
	copts.repository = j->repo;
	copts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
		      GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, j->url, &copts) < 0 ||
	    git_remote_connect(remote, GIT_DIRECTION_FETCH, &cbs, &fo.proxy_opts, NULL) < 0)
		goto fail;
	if (git_remote_default_branch(&head, remote) == 0 && head.ptr &&
	    !strncmp(head.ptr, "refs/heads/", 11) && !(j->head = strdup(head.ptr))) {
		error = ferry_error_oom();
		goto done;
	}
	git_error_clear();
	if (fetch_by_git(j)) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
		remote = NULL;
		if ((error = git_fetch(j, path.ptr)) < 0)
			goto done;
		/* re-open: libgit2 sees the new packs and refs */
		git_repository_free(j->repo);
		if (git_repository_open_bare(&j->repo, path.ptr) < 0) {
			j->repo = NULL;
			error = ferry_git_error(FERRY_EIO, "cannot open cache '%s'", path.ptr);
			goto done;
		}
	} else if (git_remote_download(remote, &refspecs, &fo) < 0 ||
	    git_remote_update_tips(remote, &cbs, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL) < 0 ||
	    git_remote_prune(remote, &cbs) < 0)
		goto fail;
	if (remote)
		git_remote_disconnect(remote);
	if (j->head && git_repository_set_head(j->repo, j->head) < 0)
		git_error_clear();
	j->fetched = 1;
	goto done;
fail:
	if (f.auth_failed)
		error = ferry_error_set(FERRY_ERROR,
					"cannot fetch '%s': authentication failed (credentials "
					"from %s)", j->written, f.what);
	else
		error = ferry_git_error(FERRY_ERROR, "cannot fetch '%s'", j->written);
done:
	git_buf_dispose(&head);
	git_remote_free(remote);
	ferry_buf_dispose(&path);
	return error;
}

/* ---- refs ------------------------------------------------------------------- */

typedef struct {
	char *name;
	git_oid target;
	int present;         /* the object exists in the cache */
} ref_item;

typedef struct {
	ref_item *v;
	size_t n, alloc;
} ref_list;

static void refs_dispose(ref_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = l->alloc = 0;
}

static int refs_push(ref_list *l, const char *name, const git_oid *target, int present)
{
	int error;

	if ((error = FERRY_ALLOC_GROW(l->v, l->n + 1, l->alloc)) < 0)
		return error;
	if (!(l->v[l->n].name = strdup(name)))
		return ferry_error_oom();
	git_oid_cpy(&l->v[l->n].target, target);
	l->v[l->n].present = present;
	l->n++;
	return 0;
}

static const ref_item *refs_find(const ref_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(((const ref_item *)a)->name, ((const ref_item *)b)->name);
}

typedef struct {
	job *j;
	ref_list *out;
	int error;
} select_ctx;

static int select_cb(const char *name, void *payload)
{
	select_ctx *s = payload;
	json_t *p;
	size_t i;
	git_oid id;
	int match = 0;

	if (strncmp(name, "refs/heads/", 11) && strncmp(name, "refs/tags/", 10))
		return 0;
	if (!s->j->patterns)
		match = 1;
	json_array_foreach(s->j->patterns, i, p)
		if (ferry_git_ref_pattern_match(json_string_value(p), name))
			match = 1;
	if (!match || !ferry_git_ref_name_valid(name))
		return 0;
	if (git_reference_name_to_id(&id, s->j->repo, name) < 0) {
		git_error_clear();
		return 0;   /* a symbolic ref to nothing */
	}
	if ((s->error = refs_push(s->out, name, &id, 1)) < 0)
		return -1;
	return 0;
}

static int select_refs(ref_list *out, job *j)
{
	select_ctx s = { j, out, 0 };
	json_t *p;
	size_t i, k;

	if (j->select) {
		if (git_reference_foreach_name(j->repo, select_cb, &s) < 0)
			return s.error ? s.error
				       : ferry_git_error(FERRY_ERROR, "repository '%s': refs",
							 j->name);
		json_array_foreach(j->patterns, i, p) {
			const char *pat = json_string_value(p);
			int found = 0;

			if (is_glob(pat))
				continue;
			for (k = 0; k < out->n && !found; k++)
				found = ferry_git_ref_pattern_match(pat, out->v[k].name);
			if (!found)
				return ferry_source_error(j->spec, j->src,
							  "ref '%s' does not exist in '%s'",
							  pat, j->written);
		}
		if (out->n == 0)
			return ferry_source_error(j->spec, j->src,
						  "no branch or tag of '%s' matches 'refs'",
						  j->written);
	}
	for (i = 0; i < j->npins; i++) {
		char hex[GIT_OID_HEXSZ + 1], name[128];

		git_oid_tostr(hex, sizeof(hex), &j->pins[i]);
		snprintf(name, sizeof(name), "%s%s", FERRY_GIT_PINNED_PREFIX, hex);
		if (!refs_find(out, name) && refs_push(out, name, &j->pins[i], 1) < 0)
			return ferry_error_oom();
	}
	return 0;
}

typedef struct {
	ref_list *base;
	git_repository *repo;
	int error;
} base_ctx;

static int base_cb(const char *ref, const char *commit, void *payload)
{
	base_ctx *b = payload;
	git_oid id;

	if (git_oid_fromstr(&id, commit) < 0) {
		git_error_clear();
		return 0;
	}
	if ((b->error = refs_push(b->base, ref, &id, 1)) < 0)
		return b->error;
	return 0;
}

/* The commit a ref's object peels to, if the cache has it. */
static int peel_commit(git_oid *out, git_repository *repo, const git_oid *target)
{
	git_object *o = NULL, *peeled = NULL;
	int rc;

	if (git_object_lookup(&o, repo, target, GIT_OBJECT_ANY) < 0) {
		git_error_clear();
		return -1;
	}
	rc = git_object_peel(&peeled, o, GIT_OBJECT_COMMIT);
	if (rc == 0)
		git_oid_cpy(out, git_object_id(peeled));
	git_error_clear();
	git_object_free(o);
	git_object_free(peeled);
	return rc < 0 ? -1 : 0;
}

/* ---- submodules ------------------------------------------------------------ */

typedef struct {
	char *name, *path, *url;
} gm_entry;

typedef struct {
	git_oid blob;
	gm_entry *v;
	size_t n, alloc;
} gm_file;

typedef struct {
	ferry_git_content *c;
	job *j;
	gm_file *files;      /* parsed .gitmodules by blob id */
	size_t nfiles, allocfiles;
	const ferry_git_options *opts;
} discover_ctx;

static int gm_collect(const char *name, const char *key, const char *value,
		      void *payload)
{
	gm_file *f = payload;
	gm_entry *e = NULL;
	char **slot;
	size_t i;

	if (strcmp(key, "path") && strcmp(key, "url"))
		return 0;
	for (i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].name, name))
			e = &f->v[i];
	if (!e) {
		int error;

		if ((error = FERRY_ALLOC_GROW(f->v, f->n + 1, f->alloc)) < 0)
			return error;
		e = &f->v[f->n];
		memset(e, 0, sizeof(*e));
		if (!(e->name = strdup(name)))
			return ferry_error_oom();
		f->n++;
	}
	slot = !strcmp(key, "path") ? &e->path : &e->url;
	free(*slot);
	if (!(*slot = strdup(value)))
		return ferry_error_oom();
	return 0;
}

static void gm_files_free(gm_file *files, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < files[i].n; k++) {
			free(files[i].v[k].name);
			free(files[i].v[k].path);
			free(files[i].v[k].url);
		}
		free(files[i].v);
	}
	free(files);
}

static int gm_load(gm_file **out, discover_ctx *d, const git_oid *blob_id)
{
	git_blob *blob = NULL;
	gm_file *f;
	const char *why;
	size_t i;
	int fn_error = 0, error;

	for (i = 0; i < d->nfiles; i++)
		if (git_oid_equal(&d->files[i].blob, blob_id)) {
			*out = &d->files[i];
			return 0;
		}
	if ((error = FERRY_ALLOC_GROW(d->files, d->nfiles + 1, d->allocfiles)) < 0)
		return error;
	f = &d->files[d->nfiles++];
	memset(f, 0, sizeof(*f));
	git_oid_cpy(&f->blob, blob_id);
	if (git_blob_lookup(&blob, d->j->repo, blob_id) < 0)
		return ferry_git_error(FERRY_ECORRUPT, "repository '%s': .gitmodules",
					d->j->name);
	why = ferry_git_gitmodules_parse(git_blob_rawcontent(blob),
					 (size_t)git_blob_rawsize(blob), gm_collect, f,
					 &fn_error);
	git_blob_free(blob);
	if (fn_error)
		return fn_error;
	if (why)
		return ferry_error_set(FERRY_EINVALID, "repository '%s': .gitmodules: %s",
				       d->j->name, why);
	*out = f;
	return 0;
}

static int skip_listed(const job *super, const char *path, const char *written,
		       const char *resolved)
{
	json_t *v;
	size_t i;

	json_array_foreach(super->skip, i, v) {
		const char *s = json_string_value(v);

		if (!strcmp(s, path) || !strcmp(s, written) || !strcmp(s, resolved))
			return 1;
	}
	return 0;
}

/* scheme://host of a URL, for deciding whether credentials may follow */
static size_t origin_len(const char *url)
{
	const char *rest;

	if (!has_scheme(url, &rest))
		return 0;
	return (size_t)(rest - url) + strcspn(rest, "/");
}

static int add_pin(discover_ctx *d, const gm_entry *e, const git_oid *commit)
{
	job *super = d->j, *sub;
	char *url = NULL;
	size_t i;
	int error;

	if ((error = ferry_git_resolve_url(&url, super->url, e->url)) < 0)
		return ferry_error_set(error, "repository '%s': submodule '%s': %s",
				       super->name, e->path, ferry_error_last());
	if (!(sub = job_by_url(d->c, url))) {
		size_t ol = origin_len(url);

		if (super->depth + 1 > FERRY_GIT_MAX_SUBMODULE_DEPTH) {
			error = ferry_error_set(FERRY_EINVALID,
						"repository '%s': submodule '%s' nests deeper "
						"than %d levels", super->name, e->path,
						FERRY_GIT_MAX_SUBMODULE_DEPTH);
			goto done;
		}
		if (!(sub = calloc(1, sizeof(*sub)))) {
			error = ferry_error_oom();
			goto done;
		}
		sub->url = url;
		url = NULL;
		sub->spec = super->spec;
		sub->src = super->src;
		sub->skip = super->skip;
		sub->submodules = super->submodules;
		sub->depth = super->depth + 1;
		if (!(sub->written = strdup(sub->url)) || !(sub->sub_path = strdup(e->path)) ||
		    !(sub->super_name = strdup(super->name)) ||
		    !(sub->sub_url_written = strdup(e->url)) ||
		    (ol && ol == origin_len(super->url) && !strncmp(sub->url, super->url, ol) &&
		     (error = creds_copy(&sub->cred, &super->cred)) < 0)) {
			job_free(sub);
			error = error ? error : ferry_error_oom();
			goto done;
		}
		if ((error = ferry_git_name_from_url(&sub->name, sub->url)) < 0) {
			error = ferry_error_set(error, "repository '%s': submodule '%s': %s",
						super->name, e->path, ferry_error_last());
			job_free(sub);
			goto done;
		}
		if (job_by_name(d->c, sub->name)) {
			error = ferry_error_set(FERRY_EINVALID,
						"repository '%s': submodule '%s' ('%s') would be "
						"exported as '%s', a name another repository uses",
						super->name, e->path, sub->url, sub->name);
			job_free(sub);
			goto done;
		}
		if ((error = jobs_push(d->c, sub)) < 0) {
			job_free(sub);
			goto done;
		}
	}
	for (i = 0; i < sub->npins; i++)
		if (git_oid_equal(&sub->pins[i], commit))
			goto done;
	{
		if ((error = FERRY_ALLOC_GROW(sub->pins, sub->npins + 1, sub->allocpins)) < 0)
			goto done;
		git_oid_cpy(&sub->pins[sub->npins++], commit);
		sub->dirty = 1;
		if (!sub->sub_path && !(sub->sub_path = strdup(e->path)))
			error = ferry_error_oom();
		if (!sub->super_name && !(sub->super_name = strdup(super->name)))
			error = ferry_error_oom();
	}
done:
	free(url);
	return error;
}

static int discover_cb(const git_oid *commit_id, void *payload)
{
	discover_ctx *d = payload;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	const git_tree_entry *gm;
	gm_file *f = NULL;
	size_t i;
	int error = 0;

	if (git_commit_lookup(&commit, d->j->repo, commit_id) < 0 ||
	    git_commit_tree(&tree, commit) < 0) {
		error = ferry_git_error(FERRY_ECORRUPT, "repository '%s': commit", d->j->name);
		goto done;
	}
	if (!(gm = git_tree_entry_byname(tree, ".gitmodules")) ||
	    (git_tree_entry_filemode(gm) != GIT_FILEMODE_BLOB &&
	     git_tree_entry_filemode(gm) != GIT_FILEMODE_BLOB_EXECUTABLE))
		goto done;
	if ((error = gm_load(&f, d, git_tree_entry_id(gm))) < 0)
		goto done;
	for (i = 0; i < f->n && !error; i++) {
		git_tree_entry *link = NULL;

		if (!f->v[i].path || !f->v[i].url)
			continue;
		if (git_tree_entry_bypath(&link, tree, f->v[i].path) < 0) {
			git_error_clear();
			continue;   /* listed, but not in this commit */
		}
		if (git_tree_entry_filemode(link) == GIT_FILEMODE_COMMIT)
			error = add_pin(d, &f->v[i], git_tree_entry_id(link));
		git_tree_entry_free(link);
	}
done:
	git_tree_free(tree);
	git_commit_free(commit);
	return error;
}

/* ---- one job ---------------------------------------------------------------- */

static int out_add_string(char ***arr, size_t *n, const char *s)
{
	char **grown = realloc(*arr, (*n + 1) * sizeof(*grown));

	if (!grown)
		return ferry_error_oom();
	*arr = grown;
	if (!(grown[*n] = strdup(s)))
		return ferry_error_oom();
	(*n)++;
	return 0;
}

static int describe_sub(ferry_buf *b, const job *j)
{
	return ferry_buf_printf(b, "submodule '%s' of '%s' (url '%s')", j->sub_path,
				j->super_name, j->sub_url_written ? j->sub_url_written : j->url);
}

/* A submodule that cannot be exported: an error, unless the spec lists it
 * under skip-submodules; then it is reported and left out. */
static int sub_failure(ferry_git_content *c, job *j, const char *why)
{
	ferry_buf msg = FERRY_BUF_INIT;
	char reason[1024];
	int error;

	/* `why` may be the last error's message, which the next one replaces */
	snprintf(reason, sizeof(reason), "%s", why);
	error = describe_sub(&msg, j);
	if (j->src && j->skip) {
		job *super = NULL;
		size_t i;

		for (i = 0; i < c->jobs->n; i++)
			if (!strcmp(c->jobs->v[i]->name, j->super_name))
				super = c->jobs->v[i];
		if (super && skip_listed(super, j->sub_path, j->sub_url_written, j->url)) {
			/* the export's result lists it: the text must be whole */
			if (error < 0 || (error = ferry_buf_printf(&msg, ": %s", reason)) < 0) {
				ferry_buf_dispose(&msg);
				return error;
			}
			ferry_log(FERRY_LOG_WARN, "skipping %s (listed in skip-submodules)",
				  msg.ptr);
			error = out_add_string(&c->skipped, &c->nskipped, msg.ptr);
			j->skipped = 1;
			j->dirty = 0;
			ferry_buf_dispose(&msg);
			return error;
		}
	}
	error = ferry_error_set(FERRY_ERROR, "%s: %s; list it under 'skip-submodules' to "
				"export without it", msg.ptr ? msg.ptr : "submodule", reason);
	ferry_buf_dispose(&msg);
	return error;
}

static int process(ferry_git_content *c, job *j, const ferry_git_options *opts,
		   const char *cache_dir)
{
	ref_list sel = { NULL, 0, 0 }, base = { NULL, 0, 0 };
	git_oid *prereqs = NULL, *known = NULL;
	const char **names = NULL;
	git_oid *targets = NULL;
	size_t nprereqs = 0, nknown = 0, i, k;
	ferry_git__bundle_spec bs;
	ferry_git__bundle_result br;
	ferry_buf file = FERRY_BUF_INIT;
	discover_ctx d;
	ferry_git_repo_export *o = &j->out;
	int error = 0;

	memset(&d, 0, sizeof(d));
	j->dirty = 0;
	if (!j->fetched && (error = fetch(j, cache_dir)) < 0) {
		if (!j->select)
			return sub_failure(c, j, ferry_error_last());
		return error;
	}
	/* pinned commits must be in what was fetched */
	for (i = 0; i < j->npins; i++) {
		git_commit *commit = NULL;

		if (git_commit_lookup(&commit, j->repo, &j->pins[i]) < 0) {
			char hex[GIT_OID_HEXSZ + 1], why[128];

			git_error_clear();
			snprintf(why, sizeof(why), "pinned commit %s is not in '%s'",
				 git_oid_tostr(hex, sizeof(hex), &j->pins[i]), j->url);
			return sub_failure(c, j, why);
		}
		git_commit_free(commit);
	}
	out_dispose(o);
	j->have_out = 0;
	if ((error = select_refs(&sel, j)) < 0)
		goto done;
	if (opts->state && opts->upto) {
		base_ctx b = { &base, j->repo, 0 };


		if ((error = ferry_export_state_refs(opts->state, opts->channel, opts->upto,
						     j->name, base_cb, &b)) < 0 ||
		    (error = b.error) < 0)
			goto done;
	}
	/* a submodule keeps every commit pinned before: old superproject
	 * commits still point at them */
	if (!j->select) {
		git_odb *odb = NULL;

		if (git_repository_odb(&odb, j->repo) < 0) {
			error = ferry_git_error(FERRY_ERROR, "repository '%s'", j->name);
			goto done;
		}
		for (i = 0; i < base.n && !error; i++)
			if (!strncmp(base.v[i].name, FERRY_GIT_PINNED_PREFIX,
				     strlen(FERRY_GIT_PINNED_PREFIX)) &&
			    !refs_find(&sel, base.v[i].name))
				error = refs_push(&sel, base.v[i].name, &base.v[i].target,
						  git_odb_exists(odb, &base.v[i].target));
		git_odb_free(odb);
		if (error < 0)
			goto done;
	}
	qsort(sel.v, sel.n, sizeof(*sel.v), ref_cmp);

	/* prerequisites: the base tips the cache holds, as commits */
	if (!(prereqs = calloc(base.n + 1, sizeof(*prereqs))) ||
	    !(known = calloc(base.n + 1, sizeof(*known)))) {
		error = ferry_error_oom();
		goto done;
	}
	for (i = 0; i < base.n; i++) {
		git_oid commit;

		if (peel_commit(&commit, j->repo, &base.v[i].target) < 0)
			continue;
		git_oid_cpy(&known[nknown++], &base.v[i].target);
		for (k = 0; k < nprereqs; k++)
			if (git_oid_equal(&prereqs[k], &commit))
				break;
		if (k == nprereqs)
			git_oid_cpy(&prereqs[nprereqs++], &commit);
	}

	/* the bundle's refs: those whose objects the cache holds */
	if (!(names = calloc(sel.n + 1, sizeof(*names))) ||
	    !(targets = calloc(sel.n + 1, sizeof(*targets)))) {
		error = ferry_error_oom();
		goto done;
	}
	for (i = k = 0; i < sel.n; i++)
		if (sel.v[i].present) {
			names[k] = sel.v[i].name;
			git_oid_cpy(&targets[k++], &sel.v[i].target);
		}
	if ((error = ferry_buf_printf(&file, "%s/%zu.bundle", c->workdir,
				      ++c->jobs->files)) < 0)
		goto done;
	memset(&bs, 0, sizeof(bs));
	bs.repo_name = j->name;
	bs.repo = j->repo;
	bs.ref_names = names;
	bs.ref_targets = targets;
	bs.nrefs = k;
	bs.head = j->select ? j->head : NULL;
	bs.prereqs = prereqs;
	bs.nprereqs = nprereqs;
	bs.known = known;
	bs.nknown = nknown;
	bs.path = file.ptr;
	d.c = c;
	d.j = j;
	d.opts = opts;
	if (j->submodules) {
		bs.commit_cb = discover_cb;
		bs.payload = &d;
	}
	if ((error = ferry_git__bundle_write(&br, &bs)) < 0)
		goto done;

	/* what goes into the manifest */
	if (!(o->name = strdup(j->name)) || !(o->location = strdup(j->written))) {
		error = ferry_error_oom();
		goto done;
	}
	o->submodule = !j->select;
	o->has_base = base.n > 0;
	if (br.nobjects) {
		o->bundle_file = ferry_buf_detach(&file);
		o->bundle_size = br.size;
		o->nobjects = br.nobjects;
		memcpy(o->bundle_sha256, br.sha256, sizeof(o->bundle_sha256));
		for (i = 0; i < nprereqs && !error; i++) {
			char hex[GIT_OID_HEXSZ + 1];

			error = out_add_string(&o->prerequisites, &o->nprerequisites,
					       git_oid_tostr(hex, sizeof(hex), &prereqs[i]));
		}
	}
	if (!error && !(o->refs = calloc(sel.n + 1, sizeof(*o->refs))))
		error = ferry_error_oom();
	for (i = 0; i < sel.n && !error; i++) {
		ferry_git_export_ref *r = &o->refs[o->nrefs];
		const ref_item *b = refs_find(&base, sel.v[i].name);

		if (!(r->name = strdup(sel.v[i].name))) {
			error = ferry_error_oom();
			break;
		}
		git_oid_tostr(r->commit, sizeof(r->commit), &sel.v[i].target);
		o->nrefs++;
		if (b && !git_oid_equal(&b->target, &sel.v[i].target)) {
			git_oid bc, nc;

			/* forced unless the old commit is an ancestor of the new */
			r->forced = 1;
			if (peel_commit(&bc, j->repo, &b->target) == 0 &&
			    peel_commit(&nc, j->repo, &sel.v[i].target) == 0 &&
			    (git_oid_equal(&bc, &nc) ||
			     git_graph_descendant_of(j->repo, &nc, &bc) == 1))
				r->forced = 0;
			git_error_clear();
		}
	}
	for (i = 0; i < base.n && !error; i++)
		if (!refs_find(&sel, base.v[i].name))
			error = out_add_string(&o->deleted, &o->ndeleted, base.v[i].name);
	if (!error)
		j->have_out = 1;
done:
	gm_files_free(d.files, d.nfiles);
	refs_dispose(&sel);
	refs_dispose(&base);
	free(prereqs);
	free(known);
	free(names);
	free(targets);
	if (file.ptr)
		unlink(file.ptr);
	ferry_buf_dispose(&file);
	return error;
}

int ferry_git_content_collect(ferry_git_content *c, const ferry_git_options *opts)
{
	char *cache_dir = NULL;
	ferry_buf tmp = FERRY_BUF_INIT;
	size_t i, n;
	int error = 0, progress;

	if (!c->jobs || !c->jobs->n)
		return 0;
	if (!c->jobs->libgit2_ready) {
		if (git_libgit2_init() < 0)
			return ferry_git_error(FERRY_ERROR, "cannot start libgit2");
		c->jobs->libgit2_ready = 1;
		/* The cache's objects were hashed when they were indexed (by git
		 * index-pack or libgit2's indexer): reading them back does not
		 * hash them again, which was half of an export's time. */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
		/* each object is read once: a large object cache only costs
		 * memory (256 MiB by default) */
		git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(16 << 20));
	}
	cache_dir = opts->cache_dir ? strdup(opts->cache_dir) : ferry_git_cache_default_path();
	if (!cache_dir)
		return ferry_error_oom();
	if ((error = ferry_buf_printf(&tmp, "%s/tmp", cache_dir)) < 0 ||
	    (error = ferry_fs_mkdir_p(tmp.ptr, 0700)) < 0 ||
	    (error = ferry_buf_puts(&tmp, "/export-XXXXXX")) < 0)
		goto done;
	if (!c->workdir) {
		if (!mkdtemp(tmp.ptr)) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", tmp.ptr);
			goto done;
		}
		c->workdir = ferry_buf_detach(&tmp);
	}
	do {
		progress = 0;
		for (i = 0; i < c->jobs->n && !error; i++) {
			job *j = c->jobs->v[i];

			if (!j->dirty || j->skipped)
				continue;
			progress = 1;
			error = process(c, j, opts, cache_dir);
		}
	} while (progress && !error);
	if (error)
		goto done;
	for (i = n = 0; i < c->jobs->n; i++)
		n += c->jobs->v[i]->have_out && !c->jobs->v[i]->skipped;
	if (!(c->repos = calloc(n + 1, sizeof(*c->repos)))) {
		error = ferry_error_oom();
		goto done;
	}
	for (i = 0; i < c->jobs->n; i++) {
		job *j = c->jobs->v[i];

		if (!j->have_out || j->skipped)
			continue;
		c->repos[c->nrepos++] = j->out;   /* moved */
		memset(&j->out, 0, sizeof(j->out));
		j->have_out = 0;
	}
done:
	free(cache_dir);
	ferry_buf_dispose(&tmp);
	return error;
}

void ferry_git_content_dispose(ferry_git_content *c)
{
	size_t i;

	for (i = 0; i < c->nrepos; i++)
		out_dispose(&c->repos[i]);
	free(c->repos);
	for (i = 0; i < c->nskipped; i++)
		free(c->skipped[i]);
	free(c->skipped);
	if (c->jobs) {
		for (i = 0; i < c->jobs->n; i++)
			job_free(c->jobs->v[i]);
		free(c->jobs->v);
		if (c->jobs->libgit2_ready)
			git_libgit2_shutdown();
		free(c->jobs);
	}
	if (c->workdir)
		rmdir(c->workdir);
	free(c->workdir);
	memset(c, 0, sizeof(*c));
}

/* ---- checkout for the image closure --------------------------------------- */

int ferry_git_content_checkout(const ferry_git_content *c, const char *name,
			       const char *object, const char *path, const char *dir,
			       const char *owner)
{
	git_repository *repo = NULL;
	git_oid id, commit_id;
	git_commit *commit = NULL;
	git_tree *root = NULL, *sub = NULL;
	git_tree_entry *entry = NULL;
	uint64_t total = 0;
	size_t i;
	int error = 0;

	for (i = 0; c->jobs && i < c->jobs->n && !repo; i++)
		if (c->jobs->v[i]->repo && !strcmp(c->jobs->v[i]->name, name))
			repo = c->jobs->v[i]->repo;
	if (!repo)
		return ferry_error_set(FERRY_ENOTFOUND, "%s: git repository '%s' is not "
				       "exported", owner, name);
	if (git_oid_fromstr(&id, object) < 0 || peel_commit(&commit_id, repo, &id) < 0)
		return ferry_error_set(FERRY_ENOTFOUND, "%s: commit %s is not in '%s'", owner,
				       object, name);
	if (git_commit_lookup(&commit, repo, &commit_id) < 0 ||
	    git_commit_tree(&root, commit) < 0) {
		error = ferry_git_error(FERRY_EIO, "%s: cannot read commit %s", owner, object);
		goto done;
	}
	if (path && *path && strcmp(path, ".")) {
		if (git_tree_entry_bypath(&entry, root, path) < 0 ||
		    git_tree_entry_type(entry) != GIT_OBJECT_TREE) {
			git_error_clear();
			error = ferry_error_set(FERRY_ENOTFOUND, "%s: '%s' is not a directory "
						"of '%s' at %.12s", owner, path, name, object);
			goto done;
		}
		if (git_tree_lookup(&sub, repo, git_tree_entry_id(entry)) < 0) {
			error = ferry_git_error(FERRY_EIO, "%s: cannot read '%s'", owner, path);
			goto done;
		}
	}
	if (mkdir(dir, 0700) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot create '%s'", dir);
		goto done;
	}
	error = ferry_git_tree_write(repo, sub ? sub : root, dir, owner, &total);
done:
	git_tree_entry_free(entry);
	git_tree_free(sub);
	git_tree_free(root);
	git_commit_free(commit);
	return error;
}
