/*
 * Export jobs (job.h): a small YAML mapping per job that names the export
 * spec, the keys and where the bundle goes, with the same options as the
 * command line. Like the export spec, the grammar is closed, so a typo in
 * a file a timer runs unattended fails loudly instead of exporting
 * something else; every error names the file and the line.
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "fs.h"
#include "job.h"
#include "util.h"
#include "yaml_doc.h"
#include "banned.h"

/* A job file is a few lines; anything larger is not one. */
#define JOB_FILE_MAX (64u << 10)

typedef struct {
	yaml_document_t doc;
	const char *path;
	ferry_buf dir;
} job_ctx;

int ferry_export_job_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > FERRY_EXPORT_JOB_NAME_MAX || name[0] == '.')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-") == len;
}

int ferry_export_job_path(ferry_buf *out, const char *dir, const char *name)
{
	const char *env = getenv("FERRY_EXPORT_JOBS");

	if (!ferry_export_job_name_valid(name))
		return ferry_error_set(FERRY_EINVALID, "'%.80s' is not a job name (letters, "
				       "digits, '.', '_' and '-', at most %d, not starting "
				       "with '.')", name, FERRY_EXPORT_JOB_NAME_MAX);
	if (!dir)
		dir = env && *env ? env : FERRY_EXPORT_JOB_DIR;
	return ferry_buf_printf(out, "%s/%s.yaml", dir, name);
}

static int fail(const job_ctx *c, const yaml_node_t *n, const char *msg, const char *arg)
{
	return ferry_yaml_error(c->path, n, msg, arg);
}

static const char *scalar(const job_ctx *c, const yaml_node_t *v, const char *key, int *error)
{
	const char *s = ferry_yaml_scalar(v);

	*error = 0;
	if (!s || !*s)
		*error = fail(c, v, "expected a non-empty value for", key);
	return s;
}

/* A path from the file: absolute as given, relative from the file's directory. */
static int get_path(char **out, const job_ctx *c, const yaml_node_t *v, const char *key)
{
	ferry_buf b = FERRY_BUF_INIT;
	int error;
	const char *s = scalar(c, v, key, &error);

	if (error)
		return error;
	if (s[0] == '/')
		error = ferry_buf_puts(&b, s);
	else
		error = ferry_buf_printf(&b, "%s/%s", c->dir.ptr, s);
	if (error < 0) {
		ferry_buf_dispose(&b);
		return error;
	}
	free(*out);
	*out = ferry_buf_detach(&b);
	return 0;
}

static int get_bool(int *out, int *has, const job_ctx *c, const yaml_node_t *v,
		    const char *key)
{
	int error;
	const char *s = scalar(c, v, key, &error);

	if (error)
		return error;
	if (ferry_yaml_bool(out, s) < 0)
		return fail(c, v, "expected true or false for", key);
	*has = 1;
	return 0;
}

static int add_key(ferry_export_job *job, const job_ctx *c, const yaml_node_t *v)
{
	int error;

	if ((error = FERRY_ALLOC_GROW(job->keys, job->nkeys + 1, job->allockeys)) < 0)
		return error;
	job->keys[job->nkeys] = NULL;
	if ((error = get_path(&job->keys[job->nkeys], c, v, "key")) < 0)
		return error;
	job->nkeys++;
	return 0;
}

/* `key:` is one path or a list of them (t-of-n signing). */
static int get_keys(ferry_export_job *job, const job_ctx *c, yaml_node_t *v)
{
	yaml_node_item_t *it;
	int error;

	if (v->type != YAML_SEQUENCE_NODE)
		return add_key(job, c, v);
	if (v->data.sequence.items.start == v->data.sequence.items.top)
		return fail(c, v, "expected at least one key file for", "key");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
		if ((error = add_key(job, c, yaml_document_get_node((yaml_document_t *)&c->doc,
								    *it))) < 0)
			return error;
	return 0;
}

static int parse_pair(ferry_export_job *job, const job_ctx *c, const char *k, yaml_node_t *v)
{
	const char *s;
	int error;

	if (!strcmp(k, "spec"))
		return get_path(&job->spec, c, v, k);
	if (!strcmp(k, "key"))
		return get_keys(job, c, v);
	if (!strcmp(k, "out"))
		return get_path(&job->out, c, v, k);
	if (!strcmp(k, "outbox"))
		return get_path(&job->outbox, c, v, k);
	if (!strcmp(k, "state"))
		return get_path(&job->state, c, v, k);
	if (!strcmp(k, "cache"))
		return get_path(&job->cache, c, v, k);
	if (!strcmp(k, "auth-file"))
		return get_path(&job->auth_file, c, v, k);
	if (!strcmp(k, "checksums"))
		return get_bool(&job->checksums, &job->has_checksums, c, v, k);
	if (!strcmp(k, "if-changed"))
		return get_bool(&job->if_changed, &job->has_if_changed, c, v, k);
	if (!strcmp(k, "max-volume-size")) {
		s = scalar(c, v, k, &error);
		if (error)
			return error;
		if (ferry_parse_size(&job->max_volume_size, s) < 0 || !job->max_volume_size)
			return fail(c, v, "expected a size (e.g. 4G) for", k);
		return 0;
	}
	if (!strcmp(k, "heartbeat")) {
		s = scalar(c, v, k, &error);
		if (error)
			return error;
		if (ferry_parse_duration(&job->heartbeat, s) < 0 || job->heartbeat <= 0)
			return fail(c, v, "expected a duration (e.g. 24h) for", k);
		return 0;
	}
	return fail(c, v, "unknown key", k);
}

static int parse_root(ferry_export_job *job, job_ctx *c)
{
	yaml_node_t *root = yaml_document_get_root_node(&c->doc);
	yaml_node_pair_t *p;
	yaml_node_t *dup;
	int error;

	if (!root || root->type != YAML_MAPPING_NODE)
		return ferry_error_set(FERRY_EINVALID, "%s: a job is a mapping of options "
				       "(spec, key, out or outbox, ...)", c->path);
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(&c->doc, p->key);
		const char *k = ferry_yaml_scalar(kn);

		if ((dup = ferry_yaml_repeated_key(&c->doc, root, p)))
			return fail(c, dup, "duplicate key", k);
		if (!k)
			return fail(c, kn, "expected a plain key", NULL);
		if ((error = parse_pair(job, c, k, yaml_document_get_node(&c->doc,
									  p->value))) < 0)
			return error;
	}
	if (!job->spec)
		return fail(c, root, "the job names no export spec ('spec:')", NULL);
	if (!job->nkeys)
		return fail(c, root, "the job names no signing key ('key:')", NULL);
	if (!job->out == !job->outbox)
		return fail(c, root, "the job needs exactly one of 'out:' and 'outbox:'", NULL);
	if (job->heartbeat && !job->if_changed)
		return fail(c, root, "'heartbeat:' goes with 'if-changed: true'", NULL);
	return 0;
}

int ferry_export_job_load(ferry_export_job *out, const char *dir, const char *name)
{
	ferry_export_job job = FERRY_EXPORT_JOB_INIT;
	ferry_buf path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	job_ctx c;
	const char *slash;
	int error, loaded = 0;

	memset(&c, 0, sizeof(c));
	if ((error = ferry_export_job_path(&path, dir, name)) < 0)
		goto done;
	c.path = path.ptr;
	slash = strrchr(path.ptr, '/');
	if ((error = ferry_buf_put(&c.dir, path.ptr, (size_t)(slash - path.ptr))) < 0 ||
	    !(job.name = strdup(name))) {
		error = error < 0 ? error : ferry_error_oom();
		goto done;
	}
	if ((error = ferry_fs_read_file(&text, path.ptr, JOB_FILE_MAX)) < 0) {
		if (error == FERRY_ENOTFOUND)
			error = ferry_error_set(FERRY_ENOTFOUND, "no export job '%s' (%s does "
						"not exist)", name, path.ptr);
		goto done;
	}
	if ((error = ferry_yaml_load(&c.doc, text.ptr, text.size, path.ptr)) < 0)
		goto done;
	loaded = 1;
	error = parse_root(&job, &c);
done:
	if (loaded)
		yaml_document_delete(&c.doc);
	ferry_buf_dispose(&c.dir);
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&path);
	if (error < 0) {
		ferry_export_job_dispose(&job);
		return error;
	}
	*out = job;
	return 0;
}

void ferry_export_job_dispose(ferry_export_job *job)
{
	size_t i;

	for (i = 0; i < job->nkeys; i++)
		free(job->keys[i]);
	free(job->keys);
	free(job->name);
	free(job->spec);
	free(job->out);
	free(job->outbox);
	free(job->state);
	free(job->cache);
	free(job->auth_file);
	memset(job, 0, sizeof(*job));
}
