/*
 * Export spec parser on libyaml's document API. The grammar is small and
 * closed: unknown keys are errors (a typo must not silently drop a
 * source), and every error names the line.
 */
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "fs.h"
#include "json.h"
#include "manifest.h"
#include "spec.h"
#include "util.h"
#include "yaml_doc.h"
#include "banned.h"

typedef struct {
	yaml_document_t doc;
	const char *path;
	char *dir;
} spec_ctx;

static int fail(const spec_ctx *c, const yaml_node_t *n, const char *msg,
		const char *arg)
{
	return ferry_yaml_error(c->path, n, msg, arg);
}

static int dup_scalar(char **out, const spec_ctx *c, const yaml_node_t *n,
		      const char *key)
{
	const char *s = ferry_yaml_scalar(n);

	if (!s || !*s)
		return fail(c, n, "expected a non-empty value for", key);
	if (!(*out = strdup(s)))
		return ferry_error_oom();
	return 0;
}

static int resolve_path(char **out, const spec_ctx *c, const char *p)
{
	ferry_buf b = FERRY_BUF_INIT;
	int error;

	if (p[0] == '/')
		error = ferry_buf_puts(&b, p);
	else
		error = ferry_buf_printf(&b, "%s/%s", c->dir, p);
	if (error < 0) {
		ferry_buf_dispose(&b);
		return error;
	}
	*out = ferry_buf_detach(&b);
	return 0;
}

/* A mapping must not repeat a key: a later value would silently win. */
static int check_unique_keys(const spec_ctx *c, yaml_node_t *map)
{
	yaml_document_t *doc = (yaml_document_t *)&c->doc;
	yaml_node_pair_t *a;
	yaml_node_t *kb;

	for (a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++)
		if ((kb = ferry_yaml_repeated_key(doc, map, a)))
			return fail(c, kb, "duplicate key", ferry_yaml_scalar(kb));
	return 0;
}

/* The kinds a source can be; a module per kind validates its options. */
static const struct {
	const char *key;
	ferry_source_kind kind;
	int is_path;   /* the value is a path relative to the spec */
} kinds[] = {
	{ "oci-layout", FERRY_SOURCE_OCI_LAYOUT, 1 },
	{ "image", FERRY_SOURCE_IMAGE, 0 },
	{ "images", FERRY_SOURCE_IMAGES, 1 },
	{ "chart", FERRY_SOURCE_CHART, 0 },
	{ "git", FERRY_SOURCE_GIT, 0 },      /* git_source.c resolves local paths */
	{ "file", FERRY_SOURCE_FILE, 1 },
};

#define MAX_OPTION_DEPTH 16

/* Convert a YAML node to JSON: scalars become strings. */
static int to_json(json_t **out, const spec_ctx *c, yaml_node_t *n, int depth)
{
	yaml_document_t *doc = (yaml_document_t *)&c->doc;
	json_t *v = NULL;
	int error = 0;

	if (depth > MAX_OPTION_DEPTH)
		return fail(c, n, "options nest too deeply", NULL);
	switch (n->type) {
	case YAML_SCALAR_NODE:
		v = json_stringn((const char *)n->data.scalar.value,
				 n->data.scalar.length);
		if (!v)
			return fail(c, n, "value is not valid UTF-8", NULL);
		break;
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;

		v = json_array();
		for (it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top && !error; it++) {
			json_t *item = NULL;

			if ((error = to_json(&item, c, yaml_document_get_node(doc, *it),
					     depth + 1)) == 0)
				error = ferry_json_append(v, item);
		}
		break;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *pair;

		if ((error = check_unique_keys(c, n)) < 0)
			return error;
		v = json_object();
		for (pair = n->data.mapping.pairs.start;
		     pair < n->data.mapping.pairs.top && !error; pair++) {
			yaml_node_t *k = yaml_document_get_node(doc, pair->key);
			json_t *item = NULL;

			if (!ferry_yaml_scalar(k)) {
				error = fail(c, k, "keys must be plain words", NULL);
				break;
			}
			if ((error = to_json(&item, c, yaml_document_get_node(doc, pair->value),
					     depth + 1)) == 0)
				error = ferry_json_set(v, ferry_yaml_scalar(k), item);
		}
		break;
	}
	default:
		return fail(c, n, "unexpected YAML node", NULL);
	}
	if (error) {
		json_decref(v);
		return error;
	}
	*out = v;
	return 0;
}

static void source_dispose(ferry_source *src)
{
	free(src->location);
	free(src->written);
	free(src->name);
	json_decref(src->options);
}

static int parse_source(ferry_export_spec *spec, spec_ctx *c, yaml_node_t *n)
{
	ferry_source src;
	yaml_node_pair_t *pair;
	const char *loc = NULL;
	size_t i;
	int error = 0, is_path = 0;

	memset(&src, 0, sizeof(src));
	src.line = ferry_yaml_line(n);
	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "each source must be a mapping", NULL);
	if ((error = check_unique_keys(c, n)) < 0)
		return error;
	if (!(src.options = json_object()))
		return ferry_error_oom();
	for (pair = n->data.mapping.pairs.start;
	     pair < n->data.mapping.pairs.top && !error; pair++) {
		yaml_node_t *k = yaml_document_get_node(&c->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&c->doc, pair->value);
		const char *key = ferry_yaml_scalar(k);
		json_t *opt = NULL;

		if (!key) {
			error = fail(c, k, "source keys must be plain words", NULL);
			break;
		}
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (!strcmp(key, kinds[i].key))
				break;
		if (i < sizeof(kinds) / sizeof(kinds[0])) {
			if (src.kind) {
				error = fail(c, k, "a source has exactly one kind; "
					     "found a second:", key);
				break;
			}
			src.kind = kinds[i].kind;
			src.kind_name = kinds[i].key;
			is_path = kinds[i].is_path;
			if (!(loc = ferry_yaml_scalar(v)) || !*loc)
				error = fail(c, v, "expected a value for", key);
		} else if (!strcmp(key, "name")) {
			error = dup_scalar(&src.name, c, v, key);
		} else if ((error = to_json(&opt, c, v, 0)) == 0) {
			error = ferry_json_set(src.options, key, opt);
		}
	}
	if (!error && !src.kind) {
		ferry_buf known = FERRY_BUF_INIT;

		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			ferry_buf_printf_best_effort(&known, "%s'%s'", i ? ", " : "", kinds[i].key);
		void *it = json_object_iter(src.options);

		if (it)
			error = ferry_error_set(FERRY_EINVALID,
						"%s:%d: unknown source kind '%s' (one of %s)",
						c->path, ferry_yaml_line(n),
						json_object_iter_key(it),
						known.ptr ? known.ptr : "");
		else
			error = ferry_error_set(FERRY_EINVALID,
						"%s:%d: source has no kind (one of %s)",
						c->path, ferry_yaml_line(n), known.ptr ? known.ptr : "");
		ferry_buf_dispose(&known);
	}
	if (!error && is_path)
		error = resolve_path(&src.location, c, loc);
	else if (!error && !(src.location = strdup(loc)))
		error = ferry_error_oom();
	if (!error && !(src.written = strdup(loc)))
		error = ferry_error_oom();
	/* The location is written into the signed manifest's sources and shown
	 * by inspect: a secret in it would cross the gap in the clear. A user
	 * name is refused too unless the URL is ssh (an ssh login is not a
	 * secret; "https://ghp_TOKEN@host" is). The URL is not quoted back. */
	if (!error && ferry_url_credentials(loc) > 0 &&
	    (ferry_url_credentials(loc) == 2 || !ferry_url_is_ssh(loc)))
		error = ferry_error_set(FERRY_EINVALID,
					"%s:%d: %s source: the URL holds %s; give "
					"credentials by reference under 'credentials'",
					c->path, ferry_yaml_line(n), src.kind_name,
					ferry_url_credentials(loc) == 2
						? "a password"
						: "a user name (which may be a token)");
	if (!error && !src.name && src.kind == FERRY_SOURCE_OCI_LAYOUT) {
		/* Default repository name: the directory's name. */
		char *copy = strdup(src.location);

		if (!copy || !(src.name = strdup(basename(copy))))
			error = ferry_error_oom();
		free(copy);
	}
	if (!error) {
		error = FERRY_ALLOC_GROW(spec->sources, spec->nsources + 1, spec->allocsources);
		if (!error) {
			spec->sources[spec->nsources++] = src;
			return 0;
		}
	}
	source_dispose(&src);
	return error;
}

/* ---- deployments and the image closure ---------------------------------- */

static void deployment_dispose(ferry_deployment *d)
{
	free(d->name);
	free(d->git);
	free(d->repo);
	free(d->ref);
	free(d->path);
	free(d->values);
	free(d->release);
	free(d->namespace_);
	free(d->chart);
}

/* A Helm chart's OCI reference ("oci://" is taken off). */
static int parse_chart_ref(ferry_deployment *dep, spec_ctx *c, yaml_node_t *v)
{
	const char *ref = ferry_yaml_scalar(v);

	if (dep->chart)
		return fail(c, v, "a deployment names one chart; found a second:", ref ? ref : "");
	if (ref && !strncmp(ref, "oci://", 6))
		ref += 6;
	if (!ref || !*ref || strstr(ref, "://"))
		return fail(c, v, "a chart must be an OCI reference such as "
			    "oci://registry.example/charts/app:1.2.3, not",
			    ferry_yaml_scalar(v) ? ferry_yaml_scalar(v) : "");
	if (!(dep->chart = strdup(ref)))
		return ferry_error_oom();
	return 0;
}

static int parse_deploy_source(ferry_deployment *dep, spec_ctx *c, yaml_node_t *n)
{
	static const char *const refs[] = { "branch", "tag", "commit" };
	yaml_node_pair_t *pair;
	int error = 0, have_ref = 0, have_oci = 0;
	size_t i;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "a deployment's 'source' must be a mapping", NULL);
	if ((error = check_unique_keys(c, n)) < 0)
		return error;
	for (pair = n->data.mapping.pairs.start;
	     pair < n->data.mapping.pairs.top && !error; pair++) {
		yaml_node_t *k = yaml_document_get_node(&c->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&c->doc, pair->value);
		const char *key = ferry_yaml_scalar(k);

		for (i = 0; key && i < 3; i++)
			if (!strcmp(key, refs[i]))
				break;
		if (!key) {
			error = fail(c, k, "keys must be plain words", NULL);
		} else if (!strcmp(key, "git")) {
			error = dup_scalar(&dep->git, c, v, key);
		} else if (!strcmp(key, "oci")) {
			have_oci = 1;
			error = parse_chart_ref(dep, c, v);
		} else if (!strcmp(key, "path")) {
			if ((error = dup_scalar(&dep->path, c, v, key)) == 0 &&
			    !ferry_path_is_safe(dep->path))
				error = fail(c, v, "'path' must be a relative path:", dep->path);
		} else if (i < 3) {
			if (have_ref++)
				error = fail(c, k, "a deployment's source names one of branch, tag "
					     "and commit; found a second:", key);
			else if ((error = dup_scalar(&dep->ref, c, v, key)) == 0)
				dep->ref_kind = (ferry_deploy_ref)i;
		} else {
			error = fail(c, k, "unknown key in a deployment's source", key);
		}
	}
	if (!error && dep->git && have_oci)
		error = fail(c, n, "a deployment's source is either git or oci, not both", NULL);
	if (!error && have_oci && (have_ref || dep->path))
		error = fail(c, n, "an oci source takes no branch, tag, commit or path", NULL);
	if (!error && have_oci)
		return 0;
	if (!error && !dep->git)
		error = fail(c, n, "a deployment's source needs 'git' or 'oci'", NULL);
	if (!error && !have_ref)
		error = fail(c, n, "a deployment's source needs a branch, a tag or a commit", NULL);
	if (!error && dep->ref_kind == FERRY_DEPLOY_COMMIT &&
	    (strlen(dep->ref) != 40 || strspn(dep->ref, "0123456789abcdef") != 40))
		error = fail(c, n, "'commit' must be 40 lowercase hex digits:", dep->ref);
	return error;
}

static int parse_deployment(ferry_export_spec *spec, spec_ctx *c, yaml_node_t *n)
{
	ferry_deployment dep;
	yaml_node_pair_t *pair;
	yaml_node_t *source = NULL;
	int error = 0, have_format = 0;
	size_t i;

	memset(&dep, 0, sizeof(dep));
	dep.line = ferry_yaml_line(n);
	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "each deployment must be a mapping", NULL);
	if ((error = check_unique_keys(c, n)) < 0)
		return error;
	for (pair = n->data.mapping.pairs.start;
	     pair < n->data.mapping.pairs.top && !error; pair++) {
		yaml_node_t *k = yaml_document_get_node(&c->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&c->doc, pair->value);
		const char *key = ferry_yaml_scalar(k);

		if (!key) {
			error = fail(c, k, "keys must be plain words", NULL);
		} else if (!strcmp(key, "name")) {
			error = dup_scalar(&dep.name, c, v, key);
		} else if (!strcmp(key, "source")) {
			source = v;
			error = parse_deploy_source(&dep, c, v);
		} else if (!strcmp(key, "format")) {
			have_format = 1;
			if (ferry_render_format_parse(&dep.format, ferry_yaml_scalar(v)) < 0)
				error = fail(c, v, "format must be manifests, kustomize, helm or "
					     "compose, not", ferry_yaml_scalar(v) ? ferry_yaml_scalar(v)
									   : "");
		} else if (!strcmp(key, "values")) {
			if ((error = dup_scalar(&dep.values, c, v, key)) == 0 &&
			    !ferry_path_is_safe(dep.values))
				error = fail(c, v, "'values' must be a relative path:", dep.values);
		} else if (!strcmp(key, "chart")) {
			error = parse_chart_ref(&dep, c, v);
		} else if (!strcmp(key, "release")) {
			error = dup_scalar(&dep.release, c, v, key);
		} else if (!strcmp(key, "namespace")) {
			error = dup_scalar(&dep.namespace_, c, v, key);
		} else {
			error = fail(c, k, "unknown key in a deployment", key);
		}
	}
	if (!error && !dep.name)
		error = fail(c, n, "a deployment needs a 'name'", NULL);
	if (!error && !source)
		error = fail(c, n, "a deployment needs a 'source'", NULL);
	if (!error && !have_format)
		error = fail(c, n, "a deployment needs a 'format'", NULL);
	if (!error && dep.values && dep.format != FERRY_FMT_HELM)
		error = fail(c, n, "'values' applies to format helm only", NULL);
	if (!error && (dep.chart || dep.release) && dep.format != FERRY_FMT_HELM)
		error = fail(c, n, dep.chart ? "'chart' applies to format helm only"
					     : "'release' applies to format helm only", NULL);
	for (i = 0; !error && i < spec->ndeployments; i++)
		if (!strcmp(spec->deployments[i].name, dep.name))
			error = fail(c, n, "deployment names must be unique:", dep.name);
	if (!error &&
	    !(error = FERRY_ALLOC_GROW(spec->deployments, spec->ndeployments + 1,
				       spec->allocdeployments))) {
		spec->deployments[spec->ndeployments++] = dep;
		return 0;
	}
	deployment_dispose(&dep);
	return error;
}

static int parse_registries(ferry_export_spec *spec, spec_ctx *c, yaml_node_t *v)
{
	static const char *const allowed[] = { "auth-file", "insecure", "ca-file",
					       "redirect-hosts", NULL };
	const char *host, *key;
	json_t *opts, *val;
	size_t i;
	int error;

	if (v->type != YAML_MAPPING_NODE)
		return fail(c, v, "'registries' must map registry hosts to settings", NULL);
	if ((error = to_json(&spec->registries, c, v, 0)) < 0)
		return error;
	json_object_foreach(spec->registries, host, opts) {
		if (!json_is_object(opts))
			return fail(c, v, "the settings of a registry must be a mapping:", host);
		json_object_foreach(opts, key, val) {
			for (i = 0; allowed[i] && strcmp(allowed[i], key); i++)
				;
			if (!allowed[i])
				return fail(c, v, "unknown registry setting", key);
		}
	}
	return 0;
}

static int parse_expires(ferry_export_spec *spec, spec_ctx *c, yaml_node_t *v)
{
	const char *s = ferry_yaml_scalar(v);

	if (!s)
		return fail(c, v, "'expires' must be a duration or a time", NULL);
	if (strchr(s, 'T')) {
		if (ferry_time_parse(&spec->expires_at, s) < 0)
			return fail(c, v, "invalid time (want YYYY-MM-DDTHH:MM:SSZ):", s);
		spec->expires_in = 0;
		return 0;
	}
	if (ferry_parse_duration(&spec->expires_in, s) < 0 || spec->expires_in == 0)
		return fail(c, v, "invalid duration (want e.g. 30d, 12h):", s);
	return 0;
}

static int parse_root(ferry_export_spec *spec, spec_ctx *c)
{
	yaml_node_t *root = yaml_document_get_root_node(&c->doc), *item;
	yaml_node_t *channel_node = NULL;
	yaml_node_pair_t *pair;
	yaml_node_item_t *it;
	int error = 0, have_sources = 0;

	if (!root)
		return ferry_error_set(FERRY_EINVALID, "%s: the spec is empty", c->path);
	if (root->type != YAML_MAPPING_NODE)
		return fail(c, root, "the spec must be a mapping", NULL);
	if ((error = check_unique_keys(c, root)) < 0)
		return error;
	for (pair = root->data.mapping.pairs.start;
	     pair < root->data.mapping.pairs.top && !error; pair++) {
		yaml_node_t *k = yaml_document_get_node(&c->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&c->doc, pair->value);
		const char *key = ferry_yaml_scalar(k);

		if (!key) {
			error = fail(c, k, "keys must be plain words", NULL);
		} else if (!strcmp(key, "channel")) {
			channel_node = v;
			error = dup_scalar(&spec->channel, c, v, key);
		} else if (!strcmp(key, "expires")) {
			error = parse_expires(spec, c, v);
		} else if (!strcmp(key, "trust-root")) {
			const char *p = ferry_yaml_scalar(v);

			if (!p || !*p)
				error = fail(c, v, "expected a path for", key);
			else
				error = resolve_path(&spec->trust_root, c, p);
		} else if (!strcmp(key, "deployments")) {
			if (v->type != YAML_SEQUENCE_NODE) {
				error = fail(c, v, "'deployments' must be a list", NULL);
				break;
			}
			for (it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top && !error; it++)
				error = parse_deployment(spec, c,
							 yaml_document_get_node(&c->doc, *it));
		} else if (!strcmp(key, "closure")) {
			const char *mode = ferry_yaml_scalar(v);

			if (mode && !strcmp(mode, "add"))
				spec->closure_check = 0;
			else if (mode && !strcmp(mode, "check"))
				spec->closure_check = 1;
			else
				error = fail(c, v, "'closure' must be add or check, not",
					     mode ? mode : "");
		} else if (!strcmp(key, "registries")) {
			error = parse_registries(spec, c, v);
		} else if (!strcmp(key, "sources")) {
			if (v->type != YAML_SEQUENCE_NODE) {
				error = fail(c, v, "'sources' must be a list", NULL);
				break;
			}
			have_sources = 1;
			for (it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top && !error; it++) {
				item = yaml_document_get_node(&c->doc, *it);
				error = parse_source(spec, c, item);
			}
		} else {
			error = fail(c, k, "unknown key", key);
		}
	}
	if (error)
		return error;
	if (!spec->channel)
		return fail(c, root, "missing 'channel'", NULL);
	if (!ferry_manifest_channel_valid(spec->channel))
		return fail(c, channel_node, "channel names use 1-64 of A-Z a-z 0-9 . _ -:",
			    spec->channel);
	if (!have_sources || spec->nsources == 0)
		return fail(c, root, "missing or empty 'sources'", NULL);
	return 0;
}

int ferry_export_spec_parse(ferry_export_spec **out, const char *text, size_t len,
			    const char *path)
{
	ferry_export_spec *spec = NULL;
	spec_ctx c;
	char *copy = NULL;
	int error, have_doc = 0;

	memset(&c, 0, sizeof(c));
	c.path = path;
	if (len == 0)
		return ferry_error_set(FERRY_EINVALID, "%s: the spec is empty", path);
	if (len > FERRY_SPEC_MAX_SIZE)
		return ferry_error_set(FERRY_ETOOBIG, "%s: the spec is larger than %u bytes",
				       path, FERRY_SPEC_MAX_SIZE);
	if (!(spec = calloc(1, sizeof(*spec))) || !(copy = strdup(path)) ||
	    !(c.dir = strdup(dirname(copy)))) {
		error = ferry_error_oom();
		goto done;
	}
	spec->expires_in = FERRY_SPEC_DEFAULT_EXPIRY;
	if (!(spec->path = strdup(path)) || !(spec->dir = strdup(c.dir))) {
		error = ferry_error_oom();
		goto done;
	}
	if ((error = ferry_yaml_load(&c.doc, text, len, path)) < 0)
		goto done;
	have_doc = 1;
	if ((error = parse_root(spec, &c)) < 0)
		goto done;
	*out = spec;
	spec = NULL;
done:
	if (have_doc)
		yaml_document_delete(&c.doc);
	ferry_export_spec_free(spec);
	free(copy);
	free(c.dir);
	return error;
}

int ferry_export_spec_load(ferry_export_spec **out, const char *path)
{
	ferry_buf text = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_fs_read_file(&text, path, FERRY_SPEC_MAX_SIZE)) == 0)
		error = ferry_export_spec_parse(out, text.ptr, text.size, path);
	ferry_buf_dispose(&text);
	return error;
}

void ferry_export_spec_free(ferry_export_spec *spec)
{
	size_t i;

	if (!spec)
		return;
	for (i = 0; i < spec->nsources; i++)
		source_dispose(&spec->sources[i]);
	free(spec->sources);
	for (i = 0; i < spec->ndeployments; i++)
		deployment_dispose(&spec->deployments[i]);
	free(spec->deployments);
	json_decref(spec->registries);
	free(spec->channel);
	free(spec->path);
	free(spec->dir);
	free(spec->trust_root);
	free(spec);
}

/* ---- helpers for source modules ---------------------------------------- */

int ferry_source_error(const ferry_export_spec *spec, const ferry_source *src,
		       const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ferry_error_set(FERRY_EINVALID, "%s:%d: %s source: %s", spec->path,
			       src->line, src->kind_name, msg);
}

int ferry_source_check_options(const ferry_export_spec *spec,
			       const ferry_source *src,
			       const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(src->options, key, v) {
		for (i = 0; allowed && allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed || !allowed[i])
			return ferry_source_error(spec, src, "unknown key '%s'", key);
	}
	return 0;
}

int ferry_source_option_string(const char **out, const ferry_export_spec *spec,
			       const ferry_source *src, const char *key)
{
	json_t *v = json_object_get(src->options, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || !*json_string_value(v))
		return ferry_source_error(spec, src, "'%s' must be a non-empty value", key);
	*out = json_string_value(v);
	return 0;
}

int ferry_source_option_bool(int *out, const ferry_export_spec *spec,
			     const ferry_source *src, const char *key, int dflt)
{
	const char *s;
	int error;

	*out = dflt;
	if ((error = ferry_source_option_string(&s, spec, src, key)) < 0 || !s)
		return error;
	if (!strcmp(s, "true") || !strcmp(s, "yes"))
		*out = 1;
	else if (!strcmp(s, "false") || !strcmp(s, "no"))
		*out = 0;
	else
		return ferry_source_error(spec, src, "'%s' must be true or false", key);
	return 0;
}

int ferry_source_option_strings(json_t **out, const ferry_export_spec *spec,
				const ferry_source *src, const char *key)
{
	json_t *v = json_object_get(src->options, key), *e;
	size_t i;

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return ferry_source_error(spec, src, "'%s' must be a list", key);
	json_array_foreach(v, i, e)
		if (!json_is_string(e) || !*json_string_value(e))
			return ferry_source_error(spec, src,
						  "'%s' must list non-empty values", key);
	*out = v;
	return 0;
}
