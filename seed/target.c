/*
 * Seed targets (see target.h): their kinds and options, validation, the
 * credential files under STORE/targets/, and loading them from the store.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "fs.h"
#include "json.h"
#include "target.h"
#include "targets.h"
#include "util.h"
#include "banned.h"

static const char *const kind_names[] = { "", "oci", "git", "gitea" };

const char *ferry_target_kind_name(ferry_target_kind kind)
{
	return kind >= FERRY_TARGET_OCI && kind <= FERRY_TARGET_GITEA ? kind_names[kind] : "?";
}

int ferry_target_kind_parse(ferry_target_kind *out, const char *text)
{
	int k;

	for (k = FERRY_TARGET_OCI; k <= FERRY_TARGET_GITEA; k++)
		if (!strcmp(text, kind_names[k])) {
			*out = (ferry_target_kind)k;
			return 0;
		}
	return ferry_error_set(FERRY_EINVALID, "'%.60s' is not a target kind (oci, git, "
			       "gitea)", text);
}

static int name_valid(const char *name)
{
	const char *p;

	if (!*name || strlen(name) > FERRY_TARGET_NAME_MAX || name[0] == '.')
		return 0;
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return 0;
	return 1;
}

typedef enum { O_STRING, O_BOOL, O_INT, O_RULES, O_ENUM } opt_type;

typedef struct {
	const char *key;
	opt_type type;
	unsigned kinds;        /* bit per kind */
	const char *values;    /* O_ENUM: "a|b|c" */
} opt_def;

#define K_OCI (1u << FERRY_TARGET_OCI)
#define K_GIT (1u << FERRY_TARGET_GIT)
#define K_GITEA (1u << FERRY_TARGET_GITEA)

static const opt_def opt_defs[] = {
	{ "rewrite", O_RULES, K_OCI | K_GIT | K_GITEA, NULL },
	{ "ca-file", O_STRING, K_OCI | K_GIT | K_GITEA, NULL },
	{ "chunk-size", O_INT, K_OCI, NULL },
	{ "host", O_STRING, K_OCI, NULL },
	{ "force-branches", O_ENUM, K_GIT | K_GITEA, "rewritten|always|never" },
	{ "force-tags", O_ENUM, K_GIT | K_GITEA, "never|always" },
	{ "prune", O_BOOL, K_GIT | K_GITEA, NULL },
	{ "owner", O_STRING, K_GITEA, NULL },
	{ "private", O_BOOL, K_GITEA, NULL },
	{ "webhook", O_STRING, K_GITEA, NULL },
	{ "git-url", O_STRING, K_GITEA, NULL },
};

static int enum_has(const char *values, const char *v)
{
	size_t n = strlen(v);
	const char *p = values;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && !strncmp(p, v, n))
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

static int check_options(ferry_target_kind kind, const json_t *options)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(options))
		return ferry_error_set(FERRY_EINVALID, "target options must be an object");
	json_object_foreach((json_t *)options, key, v) {
		const opt_def *d = NULL;

		for (i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++)
			if (!strcmp(opt_defs[i].key, key))
				d = &opt_defs[i];
		if (!d || !(d->kinds & (1u << kind)))
			return ferry_error_set(FERRY_EINVALID, "option '%.60s' does not apply "
					       "to %s targets", key, ferry_target_kind_name(kind));
		switch (d->type) {
		case O_STRING:
			if (!json_is_string(v) || !*json_string_value(v))
				return ferry_error_set(FERRY_EINVALID, "option '%s' must be a "
						       "non-empty string", key);
			break;
		case O_BOOL:
			if (!json_is_boolean(v))
				return ferry_error_set(FERRY_EINVALID, "option '%s' must be "
						       "true or false", key);
			break;
		case O_INT:
			if (!json_is_integer(v) || json_integer_value(v) < 4096)
				return ferry_error_set(FERRY_EINVALID, "option '%s' must be an "
						       "integer of at least 4096", key);
			break;
		case O_ENUM:
			if (!json_is_string(v) || !enum_has(d->values, json_string_value(v)))
				return ferry_error_set(FERRY_EINVALID, "option '%s' must be one "
						       "of %s", key, d->values);
			break;
		case O_RULES: {
			json_t *r;
			size_t j;

			if (!json_is_array(v))
				return ferry_error_set(FERRY_EINVALID, "option 'rewrite' must "
						       "be a list");
			json_array_foreach(v, j, r)
				if (!json_is_string(json_object_get(r, "from")) ||
				    !json_is_string(json_object_get(r, "to")) ||
				    !*json_string_value(json_object_get(r, "to")))
					return ferry_error_set(FERRY_EINVALID, "rewrite rule %zu "
							       "needs 'from' and a non-empty "
							       "'to'", j + 1);
			break;
		}
		}
	}
	return 0;
}

static int check_url(ferry_target_kind kind, const char *url)
{
	int http = !strncmp(url, "http://", 7) || !strncmp(url, "https://", 8);
	int cred = ferry_url_credentials(url);

	/* The URL is stored in ferry.db and shown by 'target ls' and 'seed
	 * -v': no secret may be in it, and it is not quoted back here. An
	 * ssh login name is not a secret. */
	if (cred == 2 || (cred == 1 && !ferry_url_is_ssh(url)))
		return ferry_error_set(FERRY_EINVALID, "the URL holds %s; give "
				       "credentials with --credentials FILE (or "
				       "--ssh-key FILE)",
				       cred == 2 ? "a password" : "a user name (which may "
				       "be a token)");
	if (strlen(url) > 2000 || strpbrk(url, " \t\r\n"))
		return ferry_error_set(FERRY_EINVALID, "'%.200s' is not a usable URL", url);
	if (kind != FERRY_TARGET_GIT && !http)
		return ferry_error_set(FERRY_EINVALID, "the URL of %s target must be "
				       "http:// or https:// ('%.200s')",
				       kind == FERRY_TARGET_OCI ? "an oci" : "a gitea", url);
	if (kind == FERRY_TARGET_GIT && !http && strncmp(url, "git://", 6) &&
	    strncmp(url, "ssh://", 6))
		return ferry_error_set(FERRY_EINVALID, "the URL of a git target must be "
				       "http(s)://, git:// or ssh:// ('%.200s')", url);
	return 0;
}

static int targets_dir(ferry_buf *out, const ferry_store *st)
{
	return ferry_store_path(out, ferry_store_root(st), FERRY_STORE_TARGETS);
}

int ferry_target_file(ferry_buf *out, const ferry_store *st, const char *name,
		      const char *ext)
{
	int error;

	if ((error = targets_dir(out, st)) < 0)
		return error;
	return ferry_buf_printf(out, "/%s.%s", name, ext);
}

/* Copy a secret file to `dest` with mode 0600, through guarded memory. */
static int copy_secret(const char *src, const char *dest)
{
	ferry_buf text = FERRY_BUF_INIT;
	int error;

	text.limit = FERRY_TARGET_CRED_MAX;
	if ((error = ferry_fs_read_file(&text, src, FERRY_TARGET_CRED_MAX)) < 0)
		return error;
	if (text.size == 0)
		error = ferry_error_set(FERRY_EINVALID, "credentials file '%s' is empty", src);
	else
		error = ferry_fs_write_atomic(dest, text.ptr, text.size, 0600);
	if (text.ptr)
		sodium_memzero(text.ptr, text.size);
	ferry_buf_dispose(&text);
	if (error == 0 && chmod(dest, 0600) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot chmod '%s'", dest);
	return error;
}

int ferry_target_add(ferry_store *st, const char *name, ferry_target_kind kind,
		     const char *url, const json_t *options, const char *cred_file,
		     const char *ssh_key_file, int replace)
{
	ferry_buf dir = FERRY_BUF_INIT, cred = FERRY_BUF_INIT, key = FERRY_BUF_INIT;
	ferry_buf text = FERRY_BUF_INIT;
	ferry_store_target_row row;
	json_t *empty = NULL;
	int error, exists = 0;

	if (!name_valid(name))
		return ferry_error_set(FERRY_EINVALID, "'%.80s' is not a valid target name "
				       "(1-%d of A-Z a-z 0-9 . _ -)", name,
				       FERRY_TARGET_NAME_MAX);
	if (!options && !(options = empty = json_object()))
		return ferry_error_oom();
	if ((error = check_url(kind, url)) < 0 || (error = check_options(kind, options)) < 0)
		goto done;
	if (ssh_key_file && kind == FERRY_TARGET_OCI) {
		error = ferry_error_set(FERRY_EINVALID, "an ssh key applies to git targets");
		goto done;
	}
	if ((error = ferry_json_dump(&text, options)) < 0 ||
	    (error = targets_dir(&dir, st)) < 0 || (error = ferry_fs_mkdir_p(dir.ptr, 0700)) < 0 ||
	    (error = ferry_target_file(&cred, st, name, "cred")) < 0 ||
	    (error = ferry_target_file(&key, st, name, "key")) < 0)
		goto done;
	if ((error = ferry_store_begin(st, 1)) < 0)
		goto done;
	if ((error = ferry_store_target_exists(&exists, st, name)) < 0)
		goto rollback;
	if (exists && !replace) {
		error = ferry_error_set(FERRY_EEXISTS, "target '%s' exists (use --replace)",
					name);
		goto rollback;
	}
	/* Credentials first: a crash leaves a stray file, never a target that
	 * points at credentials it does not have. */
	unlink(cred.ptr);
	unlink(key.ptr);
	if ((cred_file && (error = copy_secret(cred_file, cred.ptr)) < 0) ||
	    (ssh_key_file && (error = copy_secret(ssh_key_file, key.ptr)) < 0))
		goto rollback;
	row.name = name;
	row.kind = ferry_target_kind_name(kind);
	row.url = url;
	row.options = text.ptr;
	row.created = 0;
	if ((error = ferry_store_target_put(st, &row)) < 0 ||
	    (error = ferry_store_progress_clear(st, name)) < 0)
		goto rollback;
	error = ferry_store_commit(st);
	goto done;
rollback:
	ferry_store_rollback(st);
done:
	json_decref(empty);
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&cred);
	ferry_buf_dispose(&key);
	ferry_buf_dispose(&text);
	return error;
}

int ferry_target_remove(ferry_store *st, const char *name)
{
	ferry_buf path = FERRY_BUF_INIT;
	static const char *const exts[] = { "cred", "key", "lock" };
	size_t i;
	int error;

	if ((error = ferry_store_begin(st, 1)) < 0)
		return error;
	if ((error = ferry_store_target_delete(st, name)) < 0) {
		ferry_store_rollback(st);
		return error;
	}
	if ((error = ferry_store_commit(st)) < 0)
		return error;
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ferry_buf_clear(&path);
		if (ferry_target_file(&path, st, name, exts[i]) == 0)
			unlink(path.ptr);
	}
	ferry_buf_dispose(&path);
	return 0;
}

void ferry_target_free(ferry_target *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->url);
	json_decref(t->options);
	free(t->cred_path);
	free(t->key_path);
	ferry_rewrite_map_dispose(&t->rewrite);
	free(t);
}

void ferry_target_list_free(ferry_target **list, size_t n)
{
	size_t i;

	for (i = 0; list && i < n; i++)
		ferry_target_free(list[i]);
	free(list);
}

static int target_from_row(ferry_target **out, ferry_store *st,
			   const ferry_store_target_row *row)
{
	ferry_target *t = calloc(1, sizeof(*t));
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	if (!t)
		return ferry_error_oom();
	if (!(t->name = strdup(row->name)) || !(t->url = strdup(row->url))) {
		error = ferry_error_oom();
		goto fail;
	}
	if ((error = ferry_target_kind_parse(&t->kind, row->kind)) < 0 ||
	    (error = ferry_json_parse(&t->options, row->options, strlen(row->options),
				      "target options")) < 0 ||
	    (error = ferry_rewrite_map_from_json(&t->rewrite,
						 json_object_get(t->options, "rewrite"))) < 0)
		goto fail;
	t->created = row->created;
	if ((error = ferry_target_file(&path, st, t->name, "cred")) < 0)
		goto fail;
	if (ferry_fs_exists(path.ptr))
		t->cred_path = ferry_buf_detach(&path);
	ferry_buf_clear(&path);
	if ((error = ferry_target_file(&path, st, t->name, "key")) < 0)
		goto fail;
	if (ferry_fs_exists(path.ptr))
		t->key_path = ferry_buf_detach(&path);
	ferry_buf_dispose(&path);
	*out = t;
	return 0;
fail:
	ferry_buf_dispose(&path);
	ferry_target_free(t);
	return error;
}

typedef struct {
	ferry_store *st;
	ferry_target **list;
	size_t n, alloc;
} target_list;

static int collect_target(const ferry_store_target_row *row, void *payload)
{
	target_list *l = payload;
	int error;

	if ((error = FERRY_ALLOC_GROW(l->list, l->n + 1, l->alloc)) < 0)
		return error;
	if ((error = target_from_row(&l->list[l->n], l->st, row)) < 0)
		return error;
	l->n++;
	return 0;
}

static int load_targets(ferry_target ***out, size_t *n, ferry_store *st, const char *name)
{
	target_list l = { st, NULL, 0, 0 };
	int error;

	*out = NULL;
	*n = 0;
	if ((error = ferry_store_target_foreach(st, name, collect_target, &l)) != 0) {
		ferry_target_list_free(l.list, l.n);
		return error;
	}
	*out = l.list;
	*n = l.n;
	return 0;
}

int ferry_target_list(ferry_target ***out, size_t *n, ferry_store *st)
{
	return load_targets(out, n, st, NULL);
}

int ferry_target_load(ferry_target **out, ferry_store *st, const char *name)
{
	ferry_target **list = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	if ((error = load_targets(&list, &n, st, name)) < 0)
		return error;
	*out = list[0];
	free(list);
	return 0;
}

int ferry_target_credentials(char **out, const ferry_target *t)
{
	ferry_buf text = FERRY_BUF_INIT;
	int error;

	*out = NULL;
	if (!t->cred_path)
		return 0;
	if ((error = ferry_fs_read_file(&text, t->cred_path, FERRY_TARGET_CRED_MAX)) < 0)
		return error;
	while (text.size && (text.ptr[text.size - 1] == '\n' || text.ptr[text.size - 1] == '\r'))
		text.ptr[--text.size] = '\0';
	if (!(*out = sodium_malloc(text.size + 1))) {
		error = ferry_error_oom();
	} else {
		memcpy(*out, text.ptr, text.size);
		(*out)[text.size] = '\0';
	}
	sodium_memzero(text.ptr, text.size);
	ferry_buf_dispose(&text);
	return error;
}
