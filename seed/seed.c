/*
 * Seeding (see seed.h): targets and their credentials, the rewrite map,
 * the per-target progress table, node configuration for container
 * runtimes, and the orchestration that runs each target's pusher
 * (seed_oci.c, seed_git.c, gitea.c) under a per-target lock so two seeds
 * never push to the same target at once.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "auth.h"
#include "buf.h"
#include "fs.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "reference.h"
#include "seed.h"
#include "banned.h"

static int oom(void)
{
	return ferry_error_set(FERRY_ENOMEM, "out of memory");
}

/* ---- rewrite map -------------------------------------------------------- */

int ferry_rewrite_map_add(ferry_rewrite_map *m, const char *from, const char *to)
{
	ferry_rewrite_rule *grown;

	if (!to || !*to)
		return ferry_error_set(FERRY_EINVALID, "rewrite rule '%.200s': the enclave "
				       "name is empty", from ? from : "");
	if (!(grown = realloc(m->rules, (m->n + 1) * sizeof(*grown))))
		return oom();
	m->rules = grown;
	if (!(grown[m->n].from = strdup(from ? from : "")) ||
	    !(grown[m->n].to = strdup(to))) {
		free(grown[m->n].from);
		return oom();
	}
	m->n++;
	return 0;
}

int ferry_rewrite_map_from_json(ferry_rewrite_map *m, const json_t *rules)
{
	const json_t *r;
	size_t i;
	int error;

	json_array_foreach(rules, i, r) {
		if ((error = ferry_rewrite_map_add(m,
				json_string_value(json_object_get(r, "from")),
				json_string_value(json_object_get(r, "to")))) < 0)
			return error;
	}
	return 0;
}

void ferry_rewrite_map_dispose(ferry_rewrite_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->rules[i].from);
		free(m->rules[i].to);
	}
	free(m->rules);
	m->rules = NULL;
	m->n = 0;
}

int ferry_rewrite_apply(char **out, const ferry_rewrite_map *m, const char *name)
{
	const ferry_rewrite_rule *best = NULL;
	ferry_buf b = FERRY_BUF_INIT;
	size_t i, len;
	int error;

	for (i = 0; i < m->n; i++) {
		len = strlen(m->rules[i].from);
		if (strncmp(name, m->rules[i].from, len))
			continue;
		if (!best || len > strlen(best->from))
			best = &m->rules[i];
	}
	if (best)
		error = ferry_buf_printf(&b, "%s%s", best->to, name + strlen(best->from));
	else
		error = ferry_buf_puts(&b, name);
	if (error < 0)
		return error;
	*out = ferry_buf_detach(&b);
	return 0;
}

const char *ferry_rewrite_repo_path(const char *name)
{
	size_t n = ferry_reference_host_len(name);

	return n ? name + n + 1 : name;
}

/* ---- targets ------------------------------------------------------------ */

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
	return ferry_buf_printf(out, "%s/targets", st->root);
}

static int target_file(ferry_buf *out, const ferry_store *st, const char *name,
		       const char *ext)
{
	return ferry_buf_printf(out, "%s/targets/%s.%s", st->root, name, ext);
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
	sqlite3_stmt *q = NULL;
	json_t *empty = NULL;
	int error, rc;

	if (!name_valid(name))
		return ferry_error_set(FERRY_EINVALID, "'%.80s' is not a valid target name "
				       "(1-%d of A-Z a-z 0-9 . _ -)", name,
				       FERRY_TARGET_NAME_MAX);
	if (!options && !(options = empty = json_object()))
		return oom();
	if ((error = check_url(kind, url)) < 0 || (error = check_options(kind, options)) < 0)
		goto done;
	if (ssh_key_file && kind == FERRY_TARGET_OCI) {
		error = ferry_error_set(FERRY_EINVALID, "an ssh key applies to git targets");
		goto done;
	}
	if ((error = ferry_json_dump(&text, options)) < 0 ||
	    (error = targets_dir(&dir, st)) < 0 || (error = ferry_fs_mkdir_p(dir.ptr, 0700)) < 0 ||
	    (error = target_file(&cred, st, name, "cred")) < 0 ||
	    (error = target_file(&key, st, name, "key")) < 0)
		goto done;
	if ((error = ferry_store_exec(st, "BEGIN IMMEDIATE", "begin")) < 0)
		goto done;
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM targets WHERE name = ?", -1, &q,
			       NULL) != SQLITE_OK) {
		error = ferry_store_db_error(st, "read targets");
		goto rollback;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	q = NULL;
	if (rc == SQLITE_ROW && !replace) {
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
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO targets(name, kind, url, options, created) VALUES "
			       "(?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET kind = "
			       "excluded.kind, url = excluded.url, options = excluded.options, "
			       "created = excluded.created", -1, &q, NULL) != SQLITE_OK) {
		error = ferry_store_db_error(st, "write target");
		goto rollback;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ferry_target_kind_name(kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, text.ptr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE) {
		error = ferry_store_db_error(st, "write target");
		goto rollback;
	}
	if (sqlite3_prepare_v2(st->db, "DELETE FROM seed_progress WHERE target = ?", -1, &q,
			       NULL) != SQLITE_OK) {
		error = ferry_store_db_error(st, "forget progress");
		goto rollback;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE) {
		error = ferry_store_db_error(st, "forget progress");
		goto rollback;
	}
	error = ferry_store_exec(st, "COMMIT", "commit");
	goto done;
rollback:
	ferry_store_exec(st, "ROLLBACK", "rollback");
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
	sqlite3_stmt *q = NULL;
	int error = 0;

	if ((error = ferry_store_exec(st, "BEGIN IMMEDIATE", "begin")) < 0)
		return error;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM targets WHERE name = ?", -1, &q,
			       NULL) != SQLITE_OK) {
		error = ferry_store_db_error(st, "remove target");
		goto rollback;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE) {
		error = ferry_store_db_error(st, "remove target");
		goto rollback;
	}
	if (sqlite3_changes(st->db) == 0) {
		error = ferry_error_set(FERRY_ENOTFOUND, "no target '%.80s'", name);
		goto rollback;
	}
	sqlite3_finalize(q);
	if (sqlite3_prepare_v2(st->db, "DELETE FROM seed_progress WHERE target = ?", -1, &q,
			       NULL) != SQLITE_OK) {
		error = ferry_store_db_error(st, "forget progress");
		goto rollback;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE) {
		error = ferry_store_db_error(st, "forget progress");
		goto rollback;
	}
	if ((error = ferry_store_exec(st, "COMMIT", "commit")) < 0)
		goto done;
	if (target_file(&path, st, name, "cred") == 0)
		unlink(path.ptr);
	ferry_buf_clear(&path);
	if (target_file(&path, st, name, "key") == 0)
		unlink(path.ptr);
	ferry_buf_clear(&path);
	if (target_file(&path, st, name, "lock") == 0)
		unlink(path.ptr);
	goto done;
rollback:
	ferry_store_exec(st, "ROLLBACK", "rollback");
done:
	sqlite3_finalize(q);
	ferry_buf_dispose(&path);
	return error;
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

static int target_from_row(ferry_target **out, ferry_store *st, sqlite3_stmt *q)
{
	ferry_target *t = calloc(1, sizeof(*t));
	ferry_buf path = FERRY_BUF_INIT;
	const char *opts = (const char *)sqlite3_column_text(q, 3);
	int error;

	if (!t)
		return oom();
	if (!(t->name = strdup((const char *)sqlite3_column_text(q, 0))) ||
	    !(t->url = strdup((const char *)sqlite3_column_text(q, 2)))) {
		error = oom();
		goto fail;
	}
	if ((error = ferry_target_kind_parse(&t->kind,
					     (const char *)sqlite3_column_text(q, 1))) < 0 ||
	    (error = ferry_json_parse(&t->options, opts, strlen(opts), "target options")) < 0 ||
	    (error = ferry_rewrite_map_from_json(&t->rewrite,
						 json_object_get(t->options, "rewrite"))) < 0)
		goto fail;
	t->created = sqlite3_column_int64(q, 4);
	if ((error = target_file(&path, st, t->name, "cred")) < 0)
		goto fail;
	if (ferry_fs_exists(path.ptr))
		t->cred_path = ferry_buf_detach(&path);
	ferry_buf_clear(&path);
	if ((error = target_file(&path, st, t->name, "key")) < 0)
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

int ferry_target_list(ferry_target ***out, size_t *n, ferry_store *st)
{
	ferry_target **list = NULL, **grown;
	sqlite3_stmt *q = NULL;
	size_t count = 0;
	int rc, error = 0;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT name, kind, url, options, created FROM "
			       "targets ORDER BY name", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "read targets");
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (!(grown = realloc(list, (count + 1) * sizeof(*grown)))) {
			error = oom();
			break;
		}
		list = grown;
		if ((error = target_from_row(&list[count], st, q)) < 0)
			break;
		count++;
	}
	if (!error && rc != SQLITE_DONE)
		error = ferry_store_db_error(st, "read targets");
	sqlite3_finalize(q);
	if (error < 0) {
		ferry_target_list_free(list, count);
		return error;
	}
	*out = list;
	*n = count;
	return 0;
}

int ferry_target_load(ferry_target **out, ferry_store *st, const char *name)
{
	sqlite3_stmt *q = NULL;
	int rc, error;

	*out = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT name, kind, url, options, created FROM "
			       "targets WHERE name = ?", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "read targets");
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		error = target_from_row(out, st, q);
	else if (rc == SQLITE_DONE)
		error = ferry_error_set(FERRY_ENOTFOUND, "no target '%.80s'", name);
	else
		error = ferry_store_db_error(st, "read targets");
	sqlite3_finalize(q);
	return error;
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
		error = oom();
	} else {
		memcpy(*out, text.ptr, text.size);
		(*out)[text.size] = '\0';
	}
	sodium_memzero(text.ptr, text.size);
	ferry_buf_dispose(&text);
	return error;
}

/* ---- node configuration ------------------------------------------------- */

/* The registry host a target answers as: option "host", else the URL's. */
static int target_host(ferry_buf *out, const ferry_target *t)
{
	const char *h = json_string_value(json_object_get(t->options, "host"));

	return h ? ferry_buf_puts(out, h) : ferry_http_url_host(out, t->url);
}

/* "docker.io/library/" -> "docker.io/library" (TOML keys want no slash). */
static int trimmed(ferry_buf *out, const char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '/')
		n--;
	return ferry_buf_put(out, s, n);
}

int ferry_target_node_config(ferry_buf *out, const ferry_target *t)
{
	ferry_buf host = FERRY_BUF_INIT, a = FERRY_BUF_INIT, b = FERRY_BUF_INIT;
	char **seen = NULL;
	size_t i, j, nseen = 0;
	int insecure = !strncmp(t->url, "http://", 7), error;

	if (t->kind != FERRY_TARGET_OCI)
		return ferry_error_set(FERRY_EINVALID, "target '%s' is not an OCI registry",
				       t->name);
	if ((error = target_host(&host, t)) < 0)
		goto done;
	error = ferry_buf_printf(out,
		"# containers-registries.conf(5): /etc/containers/registries.conf.d/"
		"50-ferry-%s.conf\n[[registry]]\nlocation = \"%s\"\ninsecure = %s\n",
		t->name, host.ptr, insecure ? "true" : "false");
	for (i = 0; i < t->rewrite.n && !error; i++) {
		const ferry_rewrite_rule *r = &t->rewrite.rules[i];
		if (!ferry_reference_host_len(r->from))
			continue;   /* not an upstream registry name */
		ferry_buf_clear(&a);
		ferry_buf_clear(&b);
		if ((error = trimmed(&a, r->from)) < 0 || (error = trimmed(&b, r->to)) < 0)
			break;
		error = ferry_buf_printf(out, "\n[[registry]]\nprefix = \"%s\"\n"
					 "location = \"%s\"\ninsecure = %s\n", a.ptr, b.ptr,
					 insecure ? "true" : "false");
	}
	/* containerd mirrors whole hosts and keeps paths: one hosts.toml per
	 * upstream host, pointing at the target. */
	for (i = 0; i < t->rewrite.n && !error; i++) {
		const ferry_rewrite_rule *r = &t->rewrite.rules[i];
		const char *path_from, *path_to;
		char *h;
		size_t hl;
		int dup = 0;

		if (!(hl = ferry_reference_host_len(r->from)))
			continue;
		for (j = 0; j < nseen; j++)
			if (strlen(seen[j]) == hl && !strncmp(seen[j], r->from, hl))
				dup = 1;
		if (dup)
			continue;
		if (!(h = malloc(hl + 1))) {
			error = oom();
			break;
		}
		memcpy(h, r->from, hl);
		h[hl] = '\0';
		{
			char **grown = realloc(seen, (nseen + 1) * sizeof(*grown));

			if (!grown) {
				free(h);
				error = oom();
				break;
			}
			seen = grown;
			seen[nseen++] = h;
		}
		path_from = r->from + hl;
		path_to = r->to + ferry_reference_host_len(r->to);
		error = ferry_buf_printf(out,
			"\n# containerd: /etc/containerd/certs.d/%s/hosts.toml\n"
			"server = \"https://%s\"\n\n[host.\"%s://%s\"]\n"
			"  capabilities = [\"pull\", \"resolve\"]\n%s",
			!strcmp(h, "docker.io") ? "docker.io" : h,
			!strcmp(h, "docker.io") ? "registry-1.docker.io" : h,
			insecure ? "http" : "https", host.ptr,
			insecure ? "  skip_verify = true\n" : "");
		if (!error && strcmp(path_from, path_to))
			error = ferry_buf_printf(out, "# note: containerd keeps repository "
						 "paths; '%s' is served as '%s' on the mirror only "
						 "for runtimes that read registries.conf\n",
						 r->from, r->to);
	}
done:
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	ferry_buf_dispose(&host);
	ferry_buf_dispose(&a);
	ferry_buf_dispose(&b);
	return error;
}

/* ---- progress ----------------------------------------------------------- */

int ferry_seed__progress_get(char **state, ferry_store *st, const char *target,
			     const char *item)
{
	sqlite3_stmt *q = NULL;
	int rc, error = 0;

	*state = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT state FROM seed_progress WHERE target = ? "
			       "AND item = ?", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "read progress");
	sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, item, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if (!(*state = strdup((const char *)sqlite3_column_text(q, 0))))
			error = oom();
	} else if (rc != SQLITE_DONE) {
		error = ferry_store_db_error(st, "read progress");
	}
	sqlite3_finalize(q);
	return error;
}

int ferry_seed__progress_set(ferry_store *st, const char *target, const char *item,
			     const char *state)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO seed_progress(target, item, state, updated) VALUES "
			       "(?, ?, ?, ?) ON CONFLICT(target, item) DO UPDATE SET state = "
			       "excluded.state, updated = excluded.updated", -1, &q,
			       NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "write progress");
	sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, item, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : ferry_store_db_error(st, "write progress");
}

int ferry_seed__progress_delete(ferry_store *st, const char *target, const char *item)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM seed_progress WHERE target = ? AND "
			       "item = ?", -1, &q, NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "write progress");
	sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, item, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : ferry_store_db_error(st, "write progress");
}

int ferry_seed__progress_items(char ***out, ferry_store *st, const char *target,
			       const char *prefix)
{
	sqlite3_stmt *q = NULL;
	char **list = NULL, **grown;
	size_t n = 0, plen = strlen(prefix);
	int rc, error = 0;

	*out = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT item FROM seed_progress WHERE target = ? "
			       "AND substr(item, 1, ?) = ? ORDER BY item", -1, &q,
			       NULL) != SQLITE_OK)
		return ferry_store_db_error(st, "read progress");
	sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)plen);
	sqlite3_bind_text(q, 3, prefix, -1, SQLITE_STATIC);
	if (!(list = calloc(1, sizeof(*list)))) {
		sqlite3_finalize(q);
		return oom();
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (!(grown = realloc(list, (n + 2) * sizeof(*grown)))) {
			error = oom();
			break;
		}
		list = grown;
		if (!(list[n] = strdup((const char *)sqlite3_column_text(q, 0)))) {
			error = oom();
			break;
		}
		list[++n] = NULL;
	}
	if (!error && rc != SQLITE_DONE)
		error = ferry_store_db_error(st, "read progress");
	sqlite3_finalize(q);
	if (error < 0) {
		size_t i;

		for (i = 0; i < n; i++)
			free(list[i]);
		free(list);
		return error;
	}
	*out = list;
	return 0;
}

int ferry_seed__refuse(ferry_seed_target_result *r, const char *repo, const char *ref,
		       const char *why)
{
	ferry_buf b = FERRY_BUF_INIT;
	char **grown;
	int error;

	if ((error = ferry_buf_printf(&b, "%s %s: %s", repo, ref, why)) < 0)
		return error;
	if (!(grown = realloc(r->refused, (r->nrefused + 1) * sizeof(*grown)))) {
		ferry_buf_dispose(&b);
		return oom();
	}
	r->refused = grown;
	r->refused[r->nrefused++] = ferry_buf_detach(&b);
	r->refs_refused++;
	ferry_log(FERRY_LOG_WARN, "target '%s': %s %s refused: %s", r->target, repo, ref, why);
	return 0;
}

/* ---- orchestration ------------------------------------------------------ */

/* Hold STORE/targets/<name>.lock for the seed of one target. */
static int lock_target(int *fd, ferry_store *st, const char *name)
{
	ferry_buf path = FERRY_BUF_INIT, dir = FERRY_BUF_INIT;
	int error = 0;

	*fd = -1;
	if ((error = targets_dir(&dir, st)) < 0 || (error = ferry_fs_mkdir_p(dir.ptr, 0700)) < 0 ||
	    (error = target_file(&path, st, name, "lock")) < 0)
		goto done;
	if ((*fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", path.ptr);
		goto done;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		close(*fd);
		*fd = -1;
		error = ferry_error_set(FERRY_EEXISTS, "another seed of target '%s' is "
					"running", name);
	}
done:
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&dir);
	return error;
}

static void target_result_dispose(ferry_seed_target_result *r)
{
	size_t i;

	free(r->target);
	free(r->error);
	for (i = 0; i < r->nrefused; i++)
		free(r->refused[i]);
	free(r->refused);
	memset(r, 0, sizeof(*r));
}

void ferry_seed_result_dispose(ferry_seed_result *r)
{
	size_t i;

	for (i = 0; i < r->ntargets; i++)
		target_result_dispose(&r->targets[i]);
	free(r->targets);
	memset(r, 0, sizeof(*r));
}

int ferry_seed(ferry_seed_result *out, ferry_store *st, const ferry_seed_options *opts)
{
	ferry_seed_options defaults = FERRY_SEED_OPTIONS_INIT;
	ferry_target **list = NULL;
	size_t n = 0, i;
	char first[512] = "";
	int error = 0, bad = 0;

	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &defaults;
	if (opts->version != FERRY_SEED_OPTIONS_VERSION)
		return ferry_error_set(FERRY_EINVALID, "bad seed options");
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	if (opts->target) {
		if (!(list = calloc(1, sizeof(*list))))
			return oom();
		if ((error = ferry_target_load(&list[0], st, opts->target)) < 0) {
			free(list);
			return error;
		}
		n = 1;
	} else if ((error = ferry_target_list(&list, &n, st)) < 0) {
		return error;
	}
	if (n && !(out->targets = calloc(n, sizeof(*out->targets)))) {
		ferry_target_list_free(list, n);
		return oom();
	}
	for (i = 0; i < n; i++) {
		ferry_seed_target_result *r = &out->targets[i];
		const ferry_target *t = list[i];
		int fd = -1, e;

		out->ntargets++;
		if (!(r->target = strdup(t->name))) {
			error = oom();
			break;
		}
		ferry_error_clear();
		e = lock_target(&fd, st, t->name);
		if (e == 0) {
			ferry_log(FERRY_LOG_INFO, "seeding target '%s' (%s, %s)", t->name,
				  ferry_target_kind_name(t->kind), t->url);
			switch (t->kind) {
			case FERRY_TARGET_OCI: e = ferry_seed__oci(r, st, t, opts); break;
			case FERRY_TARGET_GIT: e = ferry_seed__git(r, st, t, opts); break;
			case FERRY_TARGET_GITEA: e = ferry_seed__gitea(r, st, t, opts); break;
			}
			close(fd);
		}
		if (e < 0) {
			r->failed = 1;
			r->error = strdup(ferry_error_last());
			if (!first[0])
				snprintf(first, sizeof(first), "target '%s': %s", t->name,
					 ferry_error_last());
			bad = 1;
		} else if (r->nrefused) {
			if (!first[0])
				snprintf(first, sizeof(first), "target '%s': %s refused", t->name,
					 r->refused[0]);
			bad = 1;
		}
	}
	ferry_target_list_free(list, n);
	if (error < 0)
		return error;
	if (bad)
		return ferry_error_set(FERRY_ERROR, "%s", first);
	return 0;
}
