/*
 * The reconciler's config (`ferry reconcile --config FILE`) on libyaml's
 * document API. Like the export spec, the grammar is closed: an unknown
 * key, a duplicate key, a wrong type or a contradictory source is an error
 * naming the file and the line, because a typo in a policy (`auto-synk`)
 * must never silently deploy, or silently not deploy, production.
 */
#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "fs.h"
#include "reconcile.h"
#include "reference.h"
#include "util.h"
#include "yaml_doc.h"
#include "banned.h"

#define CONFIG_MAX_SIZE (4u << 20)
#define SECRET_MAX_SIZE 4096

typedef struct {
	yaml_document_t doc;
	const char *path;
	char *dir;
	ferry_reconcile_config *cfg;
	int no_secrets;           /* leave secret files unread */
} cfg_ctx;

static int fail(const cfg_ctx *c, const yaml_node_t *n, const char *msg, const char *arg)
{
	return ferry_yaml_error(c->path, n, msg, arg);
}

static yaml_node_t *node(cfg_ctx *c, int id)
{
	return yaml_document_get_node(&c->doc, id);
}

static int dup_str(char **out, cfg_ctx *c, const yaml_node_t *v, const char *key)
{
	const char *s = ferry_yaml_scalar(v);

	if (!s || !*s)
		return fail(c, v, "expected a non-empty string for", key);
	free(*out);
	if (!(*out = strdup(s)))
		return ferry_error_oom();
	return 0;
}

static int get_path(char **out, cfg_ctx *c, const yaml_node_t *v, const char *key)
{
	ferry_buf b = FERRY_BUF_INIT;
	const char *s = ferry_yaml_scalar(v);
	int error;

	if (!s || !*s)
		return fail(c, v, "expected a file name for", key);
	if ((error = s[0] == '/' ? ferry_buf_puts(&b, s)
				 : ferry_buf_printf(&b, "%s/%s", c->dir, s)) < 0) {
		ferry_buf_dispose(&b);
		return error;
	}
	free(*out);
	*out = ferry_buf_detach(&b);
	return 0;
}

static int get_bool(int *out, cfg_ctx *c, const yaml_node_t *v, const char *key)
{
	if (ferry_yaml_bool(out, ferry_yaml_scalar(v)) < 0)
		return fail(c, v, "expected true or false for", key);
	return 0;
}

/* A secret file: its content without the trailing newline, in memory that
 * is wiped when freed. */
static int read_secret(unsigned char **out, size_t *len, cfg_ctx *c, const yaml_node_t *v,
		       const char *key)
{
	ferry_buf b = FERRY_BUF_INIT;
	char *path = NULL;
	int error;

	if ((error = get_path(&path, c, v, key)) < 0)
		return error;
	if (c->no_secrets)
		goto done;
	if ((error = ferry_fs_read_file(&b, path, SECRET_MAX_SIZE)) < 0) {
		error = ferry_error_wrap(error, "%s:%d: %s", c->path, ferry_yaml_line(v), key);
		goto done;
	}
	while (b.size && (b.ptr[b.size - 1] == '\n' || b.ptr[b.size - 1] == '\r'))
		b.size--;
	if (!b.size) {
		error = fail(c, v, "the secret file is empty:", path);
		goto done;
	}
	if (!(*out = sodium_malloc(b.size + 1))) {
		error = ferry_error_oom();
		goto done;
	}
	memcpy(*out, b.ptr, b.size);
	(*out)[b.size] = 0;
	*len = b.size;
done:
	if (b.ptr)
		sodium_memzero(b.ptr, b.asize);
	ferry_buf_dispose(&b);
	free(path);
	return error;
}

/* Check a mapping, its keys unique and scalar; `allowed` NULL-terminated. */
static int check_map(cfg_ctx *c, yaml_node_t *map, const char *what,
		     const char *const *allowed)
{
	yaml_node_pair_t *a;
	yaml_node_t *dup;
	size_t i;

	if (!map || map->type != YAML_MAPPING_NODE)
		return fail(c, map, "expected a mapping for", what);
	for (a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++) {
		const char *k = ferry_yaml_scalar(node(c, a->key));

		if (!k)
			return fail(c, node(c, a->key), "keys must be strings in", what);
		for (i = 0; allowed[i] && strcmp(allowed[i], k); i++)
			;
		if (!allowed[i]) {
			ferry_buf m = FERRY_BUF_INIT;
			int error;

			ferry_buf_printf_best_effort(&m, "unknown key in %s:", what);
			error = fail(c, node(c, a->key), m.ptr ? m.ptr : "unknown key", k);
			ferry_buf_dispose(&m);
			return error;
		}
		if ((dup = ferry_yaml_repeated_key(&c->doc, map, a)))
			return fail(c, dup, "duplicate key", k);
	}
	return 0;
}

#define FOREACH_PAIR(c, map, k, v)                                                    \
	for (yaml_node_pair_t *p_##k = (map)->data.mapping.pairs.start;                  \
	     p_##k < (map)->data.mapping.pairs.top &&                                  \
	     ((k) = ferry_yaml_scalar(node((c), p_##k->key)),                            \
	      (v) = node((c), p_##k->value), 1);                                         \
	     p_##k++)

static int valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > FERRY_STACK_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

static int valid_hex_commit(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 7 || n > 40)
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

static int parse_source(cfg_ctx *c, ferry_stack *s, yaml_node_t *map)
{
	static const char *const keys[] = { "git", "oci", "branch", "tag", "commit", "path",
					    NULL };
	const yaml_node_t *refnode = NULL;
	ferry_reference_parts parts;
	const char *k;
	yaml_node_t *v;
	int error, nrefs = 0;

	if ((error = check_map(c, map, "source", keys)) < 0)
		return error;
	s->source = -1;
	FOREACH_PAIR(c, map, k, v) {
		if (!strcmp(k, "git")) {
			if ((error = dup_str(&s->repo, c, v, k)) < 0)
				return error;
			if (s->source == FERRY_SRC_OCI)
				return fail(c, v, "a source is either git or oci, not both", NULL);
			s->source = FERRY_SRC_GIT;
		} else if (!strcmp(k, "oci")) {
			if (s->source == FERRY_SRC_GIT)
				return fail(c, v, "a source is either git or oci, not both", NULL);
			if ((error = dup_str(&s->ref, c, v, k)) < 0)
				return error;
			if (ferry_reference_split(&parts, s->ref) < 0) {
				ferry_error_clear();
				return fail(c, v, "an oci source needs NAME:TAG or NAME@sha256:DIGEST, not",
					    s->ref);
			}
			s->source = FERRY_SRC_OCI;
			s->ref_kind = FERRY_REF_OCI;
			nrefs++;
		} else if (!strcmp(k, "path")) {
			if ((error = dup_str(&s->path, c, v, k)) < 0)
				return error;
			if (strcmp(s->path, ".") && !ferry_path_is_safe(s->path))
				return fail(c, v, "path must be relative, without '..':", s->path);
		} else {
			if ((error = dup_str(&s->ref, c, v, k)) < 0)
				return error;
			s->ref_kind = !strcmp(k, "branch") ? FERRY_REF_BRANCH
				    : !strcmp(k, "tag")    ? FERRY_REF_TAG
							   : FERRY_REF_COMMIT;
			if (s->ref_kind == FERRY_REF_COMMIT && !valid_hex_commit(s->ref))
				return fail(c, v, "commit must be 7 to 40 lowercase hex digits, not",
					    s->ref);
			refnode = v;
			nrefs++;
		}
	}
	if ((int)s->source < 0)
		return fail(c, map, "a source needs git: REPOSITORY or oci: REFERENCE", NULL);
	if (s->source == FERRY_SRC_GIT && nrefs != 1)
		return fail(c, refnode ? refnode : map,
			    "a git source needs exactly one of branch, tag or commit", NULL);
	if (s->source == FERRY_SRC_OCI && refnode)
		return fail(c, refnode, "an oci source takes no branch, tag or commit", NULL);
	return 0;
}

/* A list of strings, each checked by `item` (NULL: any non-empty string). */
static int get_list(char ***out, size_t *n, cfg_ctx *c, yaml_node_t *v, const char *key,
		    int (*item)(cfg_ctx *c, yaml_node_t *v, const char *s))
{
	yaml_node_item_t *it;
	int error;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail(c, v, "expected a list for", key);
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);
		char **grown;

		if (!ferry_yaml_scalar(e) || !*ferry_yaml_scalar(e))
			return fail(c, e, "expected a non-empty string in", key);
		if (item && (error = item(c, e, ferry_yaml_scalar(e))) < 0)
			return error;
		if (!(grown = realloc(*out, (*n + 1) * sizeof(*grown))) ||
		    !(grown[*n] = strdup(ferry_yaml_scalar(e)))) {
			if (grown)
				*out = grown;
			return ferry_error_oom();
		}
		*out = grown;
		(*n)++;
	}
	return 0;
}

static int host_path_item(cfg_ctx *c, yaml_node_t *v, const char *s)
{
	if (s[0] != '/' || !strcmp(s, "/") || strstr(s, "/../") || strstr(s, "/./") ||
	    (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/..")))
		return fail(c, v, "host-paths wants absolute directories other than '/' "
			    "(allow host-path instead), not", s);
	return 0;
}

static int rule_item(cfg_ctx *c, yaml_node_t *v, const char *s)
{
	return ferry_workload_rule_parse(s) ? 0 : fail(c, v, "workload allow takes privileged, "
		"host-network, host-pid, host-ipc, host-path, capabilities or run-as-root, not", s);
}

/* policy.workload: the exceptions to the workload policy, with a reason. */
static int parse_workload(cfg_ctx *c, ferry_stack *s, yaml_node_t *map)
{
	static const char *const keys[] = { "allow", "host-paths", "reason", NULL };
	char **allow = NULL;
	size_t nallow = 0, i;
	const char *k;
	yaml_node_t *v;
	int error = 0;

	if ((error = check_map(c, map, "workload", keys)) < 0)
		return error;
	FOREACH_PAIR(c, map, k, v) {
		if (!strcmp(k, "allow"))
			error = get_list(&allow, &nallow, c, v, k, rule_item);
		else if (!strcmp(k, "host-paths"))
			error = get_list(&s->host_paths, &s->nhost_paths, c, v, k, host_path_item);
		else
			error = dup_str(&s->workload_reason, c, v, k);
		if (error < 0)
			break;
	}
	for (i = 0; i < nallow; i++) {
		s->workload_allow |= ferry_workload_rule_parse(allow[i]);
		free(allow[i]);
	}
	free(allow);
	if (!error && (s->workload_allow || s->nhost_paths) && !s->workload_reason)
		error = fail(c, map, "a workload exception needs a reason (policy.workload.reason)",
			     NULL);
	return error;
}

static int parse_policy(cfg_ctx *c, ferry_stack *s, yaml_node_t *map)
{
	static const char *const keys[] = { "auto-sync", "interval", "always-apply", "prune",
					    "require-digests", "freeze-file", "workload",
					    "rollout-timeout", NULL };
	const char *k;
	yaml_node_t *v;
	int error = 0;

	if ((error = check_map(c, map, "policy", keys)) < 0)
		return error;
	FOREACH_PAIR(c, map, k, v) {
		if (!strcmp(k, "auto-sync"))
			error = get_bool(&s->auto_sync, c, v, k);
		else if (!strcmp(k, "always-apply"))
			error = get_bool(&s->always_apply, c, v, k);
		else if (!strcmp(k, "prune"))
			error = get_bool(&s->prune, c, v, k);
		else if (!strcmp(k, "require-digests"))
			error = get_bool(&s->require_digests, c, v, k);
		else if (!strcmp(k, "workload"))
			error = parse_workload(c, s, v);
		else if (!strcmp(k, "freeze-file")) {
			if ((error = dup_str(&s->freeze_file, c, v, k)) == 0 &&
			    !ferry_path_is_safe(s->freeze_file))
				error = fail(c, v, "freeze-file must be a relative path:",
					     s->freeze_file);
		} else if (!strcmp(k, "rollout-timeout")) {
			const char *tv = ferry_yaml_scalar(v);

			if (!tv || ferry_parse_duration(&s->rollout_timeout, tv) < 0 ||
			    s->rollout_timeout > 3600) {
				ferry_error_clear();
				return fail(c, v, "rollout-timeout must be a duration of at most 1h "
					    "such as 0s or 2m, not", tv ? tv : "");
			}
		} else if (!strcmp(k, "interval")) {
			const char *iv = ferry_yaml_scalar(v);

			if (!iv || ferry_parse_duration(&s->interval, iv) < 0 || s->interval < 1) {
				ferry_error_clear();
				return fail(c, v, "interval must be a duration of at least 1s such "
					    "as 30s or 5m, not", iv ? iv : "");
			}
		}
		if (error < 0)
			return error;
	}
	return 0;
}

static int parse_stack(cfg_ctx *c, ferry_stack *s, yaml_node_t *map)
{
	static const char *const keys[] = { "name", "source", "format", "values", "release",
					    "chart", "runtime", "target", "namespace", "policy", "webhook", NULL };
	static const char *const hook_keys[] = { "secret-file", NULL };
	const char *k, *val;
	yaml_node_t *v, *source = NULL;
	int error = 0, has_runtime = 0;

	s->line = ferry_yaml_line(map);
	s->auto_sync = 1;
	s->prune = 1;
	s->interval = 60;
	s->rollout_timeout = 60;
	if ((error = check_map(c, map, "stack", keys)) < 0)
		return error;
	FOREACH_PAIR(c, map, k, v) {
		if (!strcmp(k, "name")) {
			if ((error = dup_str(&s->name, c, v, k)) == 0 && !valid_name(s->name))
				error = fail(c, v, "a stack name must be 1 to 63 characters of a-z, "
					     "0-9 and '-', not starting or ending with '-':", s->name);
		} else if (!strcmp(k, "source")) {
			source = v;
			error = parse_source(c, s, v);
		} else if (!strcmp(k, "format")) {
			val = ferry_yaml_scalar(v) ? ferry_yaml_scalar(v) : "";
			if (ferry_render_format_parse(&s->format, val) < 0)
				error = fail(c, v, "format must be manifests, kustomize, helm or "
					     "compose, not", val);
		} else if (!strcmp(k, "values")) {
			if ((error = dup_str(&s->values, c, v, k)) == 0 &&
			    !ferry_path_is_safe(s->values))
				error = fail(c, v, "values must be a relative path:", s->values);
		} else if (!strcmp(k, "release")) {
			error = dup_str(&s->release, c, v, k);
		} else if (!strcmp(k, "chart")) {
			ferry_reference_parts parts;

			if ((error = dup_str(&s->chart, c, v, k)) == 0 &&
			    ferry_reference_split(&parts, s->chart) < 0) {
				ferry_error_clear();
				error = fail(c, v, "a chart is an OCI artifact of the store, NAME:TAG "
					     "or NAME@sha256:DIGEST, not", s->chart);
			}
		} else if (!strcmp(k, "runtime") || !strcmp(k, "target")) {
			/* "target" is the key's earlier name, still accepted */
			val = ferry_yaml_scalar(v) ? ferry_yaml_scalar(v) : "";
			if (has_runtime++)
				error = fail(c, v, "give the runtime once (runtime, or its earlier "
					     "name target), not twice:", k);
			else if (!strcmp(val, "podman"))
				s->runtime = FERRY_RUNTIME_PODMAN;
			else if (!strcmp(val, "kubernetes"))
				s->runtime = FERRY_RUNTIME_KUBERNETES;
			else if (!strcmp(val, "compose"))
				s->runtime = FERRY_RUNTIME_COMPOSE;
			else
				error = fail(c, v, "runtime must be podman, kubernetes or compose, not",
					     val);
		} else if (!strcmp(k, "namespace")) {
			error = dup_str(&s->namespace_, c, v, k);
		} else if (!strcmp(k, "policy")) {
			error = parse_policy(c, s, v);
		} else if (!strcmp(k, "webhook")) {
			const char *hk;
			yaml_node_t *hv;

			if ((error = check_map(c, v, "webhook", hook_keys)) < 0)
				return error;
			FOREACH_PAIR(c, v, hk, hv)
				if ((error = read_secret(&s->secret, &s->secret_len, c, hv, hk)) < 0)
					return error;
		}
		if (error < 0)
			return error;
	}
	if (!s->name)
		return fail(c, map, "a stack needs a name", NULL);
	if (!source)
		return fail(c, map, "a stack needs a source:", s->name);
	if ((s->format == FERRY_FMT_COMPOSE) != (s->runtime == FERRY_RUNTIME_COMPOSE))
		return fail(c, map, "the compose format goes with the compose target, and only "
			    "with it; stack", s->name);
	if (s->values && s->format != FERRY_FMT_HELM)
		return fail(c, map, "values is for the helm format; stack", s->name);
	if (s->chart && (s->format != FERRY_FMT_HELM || s->source != FERRY_SRC_GIT))
		return fail(c, map, "chart is for the helm format with a git source (an oci "
			    "source is the chart itself); stack", s->name);
	return 0;
}

static int parse_tool(char **out, cfg_ctx *c, yaml_node_t *v, const char *k)
{
	return dup_str(out, c, v, k);
}

/* One sink of `notify:`: exactly one of webhook, syslog, command. */
static int parse_sink(cfg_ctx *c, ferry_notify_sink *s, yaml_node_t *map)
{
	static const char *const keys[] = { "webhook", "syslog", "command", "secret-file",
					    "events", NULL };
	yaml_node_t *v;
	yaml_node_item_t *it;
	const char *k;
	int error;

	if ((error = check_map(c, map, "a notify sink", keys)) < 0)
		return error;
	s->line = ferry_yaml_line(map);
	s->events = FERRY_EVENT_ALL;
	FOREACH_PAIR(c, map, k, v) {
		if (!strcmp(k, "webhook") || !strcmp(k, "syslog") || !strcmp(k, "command")) {
			if (s->kind)
				return fail(c, v, "a notify sink is one of webhook, syslog or "
					    "command, not several:", k);
			s->kind = !strcmp(k, "webhook") ? FERRY_NOTIFY_WEBHOOK :
				  !strcmp(k, "syslog") ? FERRY_NOTIFY_SYSLOG : FERRY_NOTIFY_COMMAND;
		}
		if (!strcmp(k, "webhook")) {
			if ((error = dup_str(&s->target, c, v, k)) < 0)
				return error;
			if (strncmp(s->target, "http://", 7) && strncmp(s->target, "https://", 8))
				return fail(c, v, "a notify webhook is an http:// or https:// URL, "
					    "not", s->target);
		} else if (!strcmp(k, "syslog")) {
			if ((error = dup_str(&s->target, c, v, k)) < 0)
				return error;
			if (s->target[0] != '/' && strncmp(s->target, "udp://", 6) &&
			    strncmp(s->target, "tcp://", 6))
				return fail(c, v, "syslog wants a socket path (/dev/log), "
					    "udp://HOST:PORT or tcp://HOST:PORT, not", s->target);
		} else if (!strcmp(k, "command")) {
			size_t n = 0;

			if (v->type != YAML_SEQUENCE_NODE ||
			    v->data.sequence.items.top == v->data.sequence.items.start)
				return fail(c, v, "a notify command is a list such as "
					    "[/usr/local/bin/page, --team, ops]", NULL);
			if (!(s->argv = calloc((size_t)(v->data.sequence.items.top -
							 v->data.sequence.items.start) + 1,
						sizeof(char *))))
				return ferry_error_oom();
			for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
				if ((error = dup_str(&s->argv[n++], c, node(c, *it), k)) < 0)
					return error;
		} else if (!strcmp(k, "secret-file")) {
			if ((error = read_secret(&s->secret, &s->secret_len, c, v, k)) < 0)
				return error;
		} else {
			if (v->type != YAML_SEQUENCE_NODE)
				return fail(c, v, "events is a list of failed, refused, drift, "
					    "recovered, import-alarm and import-rejected", NULL);
			s->events = 0;
			for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
			     it++) {
				const char *e = ferry_yaml_scalar(node(c, *it));
				unsigned bit = ferry_notify_event_parse(e);

				if (!bit)
					return fail(c, node(c, *it), "unknown event (failed, "
						    "refused, drift, recovered, import-alarm, "
						    "import-rejected):", e ? e : "");
				s->events |= bit;
			}
		}
	}
	if (!s->kind)
		return fail(c, map, "a notify sink needs webhook, syslog or command", NULL);
	if (s->secret && s->kind != FERRY_NOTIFY_WEBHOOK)
		return fail(c, map, "secret-file signs webhook notifications only", NULL);
	return 0;
}

/* preflight: {mirror: [HOST, ...], registries: {HOST: {url, ca-file, auth-file}}} */
static int parse_preflight(cfg_ctx *c, yaml_node_t *map)
{
	static const char *const keys[] = { "mirror", "registries", NULL };
	static const char *const reg_keys[] = { "url", "ca-file", "auth-file", NULL };
	ferry_reconcile_config *cfg = c->cfg;
	yaml_node_t *v, *rv, *sv;
	const char *k, *host, *sk;
	int error;

	if ((error = check_map(c, map, "preflight", keys)) < 0)
		return error;
	FOREACH_PAIR(c, map, k, v) {
		if (!strcmp(k, "mirror")) {
			yaml_node_item_t *it;
			size_t n;

			if (v->type != YAML_SEQUENCE_NODE)
				return fail(c, v, "preflight mirror must be a list of hosts such as "
					    "[mirror.site]", NULL);
			n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
			if (!(cfg->preflight.mirror = calloc(n ? n : 1, sizeof(char *))))
				return ferry_error_oom();
			for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
				if ((error = dup_str(&cfg->preflight.mirror[cfg->preflight.nmirror++],
						     c, node(c, *it), "mirror")) < 0)
					return error;
			continue;
		}
		if (v->type != YAML_MAPPING_NODE)
			return fail(c, v, "preflight registries must map hosts to {url, ca-file, "
				    "auth-file}", NULL);
		if (!(cfg->preflight.registries = calloc((size_t)(v->data.mapping.pairs.top -
								  v->data.mapping.pairs.start) + 1,
							 sizeof(*cfg->preflight.registries))))
			return ferry_error_oom();
		FOREACH_PAIR(c, v, host, rv) {
			ferry_preflight_registry *reg =
				&cfg->preflight.registries[cfg->preflight.nregistries++];

			if (!host || !(reg->host = strdup(host)))
				return ferry_error_oom();
			if (rv->type == YAML_SCALAR_NODE && ferry_yaml_scalar(rv) &&
			    (!*ferry_yaml_scalar(rv) || !strcmp(ferry_yaml_scalar(rv), "null")))
				continue;   /* `HOST: {}` or `HOST:`: https://HOST */
			if ((error = check_map(c, rv, "a preflight registry", reg_keys)) < 0)
				return error;
			FOREACH_PAIR(c, rv, sk, sv) {
				if (!strcmp(sk, "url")) {
					if ((error = dup_str(&reg->url, c, sv, sk)) < 0)
						return error;
					if (strncmp(reg->url, "https://", 8) &&
					    strncmp(reg->url, "http://", 7))
						return fail(c, sv, "a registry url must start with "
							    "https:// or http://, not", reg->url);
				} else if ((error = get_path(!strcmp(sk, "ca-file") ? &reg->ca_file
										 : &reg->auth_file,
							     c, sv, sk)) < 0) {
					return error;
				}
			}
		}
	}
	return 0;
}

static int parse_root(cfg_ctx *c)
{
	static const char *const keys[] = { "store", "state-dir", "control-group", "audit-log",
					    "history-keep", "webhook", "podman", "kubernetes", "compose", "kustomize",
					    "helm", "notify", "preflight", "stacks", NULL };
	static const char *const hook_keys[] = { "listen", "token-file", NULL };
	static const char *const podman_keys[] = { "command", "root", "runroot",
						   "storage-driver", "containers-conf",
						   "registries-conf", NULL };
	static const char *const kube_keys[] = { "command", "kubeconfig", "context",
						 "dry-run", NULL };
	static const char *const compose_keys[] = { "command", NULL };
	static const char *const tool_keys[] = { "command", NULL };
	ferry_reconcile_config *cfg = c->cfg;
	yaml_node_t *root = yaml_document_get_root_node(&c->doc), *v, *sv;
	const char *k, *sk;
	int error = 0, have_stacks = 0;

	if (!root)
		return ferry_error_set(FERRY_EINVALID, "%s: the config is empty", c->path);
	if ((error = check_map(c, root, "the config", keys)) < 0)
		return error;
	FOREACH_PAIR(c, root, k, v) {
		if (!strcmp(k, "store") || !strcmp(k, "state-dir")) {
			error = get_path(!strcmp(k, "store") ? &cfg->store : &cfg->state_dir, c, v, k);
		} else if (!strcmp(k, "control-group")) {
			error = dup_str(&cfg->control_group, c, v, k);
		} else if (!strcmp(k, "history-keep")) {
			const char *hk = ferry_yaml_scalar(v);

			if (hk && !strcmp(hk, "forever"))
				cfg->history_keep = 0;
			else if (!hk || ferry_parse_duration(&cfg->history_keep, hk) < 0 ||
				 cfg->history_keep < 1) {
				ferry_error_clear();
				return fail(c, v, "history-keep must be a duration such as 30d or "
					    "'forever', not", hk ? hk : "");
			}
		} else if (!strcmp(k, "audit-log")) {
			if (ferry_yaml_scalar(v) && !strcmp(ferry_yaml_scalar(v), "-"))
				error = dup_str(&cfg->audit_log, c, v, k);
			else
				error = get_path(&cfg->audit_log, c, v, k);
		} else if (!strcmp(k, "webhook")) {
			if ((error = check_map(c, v, "webhook", hook_keys)) < 0)
				return error;
			FOREACH_PAIR(c, v, sk, sv) {
				if (!strcmp(sk, "listen"))
					error = dup_str(&cfg->listen, c, sv, sk);
				else
					error = read_secret(&cfg->token, &cfg->token_len, c, sv, sk);
				if (error < 0)
					return error;
			}
		} else if (!strcmp(k, "podman")) {
			if ((error = check_map(c, v, "podman", podman_keys)) < 0)
				return error;
			FOREACH_PAIR(c, v, sk, sv) {
				if (!strcmp(sk, "command"))
					error = parse_tool(&cfg->podman.command, c, sv, sk);
				else if (!strcmp(sk, "root"))
					error = get_path(&cfg->podman.root, c, sv, sk);
				else if (!strcmp(sk, "runroot"))
					error = get_path(&cfg->podman.runroot, c, sv, sk);
				else if (!strcmp(sk, "storage-driver"))
					error = dup_str(&cfg->podman.storage_driver, c, sv, sk);
				else if (!strcmp(sk, "containers-conf"))
					error = get_path(&cfg->podman.containers_conf, c, sv, sk);
				else
					error = get_path(&cfg->podman.registries_conf, c, sv, sk);
				if (error < 0)
					return error;
			}
		} else if (!strcmp(k, "kubernetes")) {
			if ((error = check_map(c, v, "kubernetes", kube_keys)) < 0)
				return error;
			FOREACH_PAIR(c, v, sk, sv) {
				if (!strcmp(sk, "command"))
					error = parse_tool(&cfg->kube.command, c, sv, sk);
				else if (!strcmp(sk, "kubeconfig"))
					error = get_path(&cfg->kube.kubeconfig, c, sv, sk);
				else if (!strcmp(sk, "context"))
					error = dup_str(&cfg->kube.context, c, sv, sk);
				else
					error = get_bool(&cfg->kube.dry_run, c, sv, sk);
				if (error < 0)
					return error;
			}
		} else if (!strcmp(k, "compose")) {
			yaml_node_item_t *it;
			size_t n = 0;

			if ((error = check_map(c, v, "compose", compose_keys)) < 0)
				return error;
			FOREACH_PAIR(c, v, sk, sv) {
				if (sv->type != YAML_SEQUENCE_NODE ||
				    sv->data.sequence.items.top == sv->data.sequence.items.start)
					return fail(c, sv, "compose command must be a list such as "
						    "[podman-compose]", NULL);
				cfg->compose.argv = calloc((size_t)(sv->data.sequence.items.top -
								    sv->data.sequence.items.start) + 1,
							   sizeof(char *));
				if (!cfg->compose.argv)
					return ferry_error_oom();
				for (it = sv->data.sequence.items.start; it < sv->data.sequence.items.top;
				     it++)
					if ((error = dup_str(&cfg->compose.argv[n++], c, node(c, *it),
							     sk)) < 0)
						return error;
			}
		} else if (!strcmp(k, "kustomize") || !strcmp(k, "helm")) {
			if ((error = check_map(c, v, k, tool_keys)) < 0)
				return error;
			FOREACH_PAIR(c, v, sk, sv)
				if ((error = parse_tool(!strcmp(k, "helm") ? &cfg->helm : &cfg->kubectl,
							c, sv, sk)) < 0)
					return error;
		} else if (!strcmp(k, "notify")) {
			yaml_node_item_t *it;
			size_t n;

			if (v->type != YAML_SEQUENCE_NODE)
				return fail(c, v, "notify must be a list of sinks", NULL);
			n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
			if (!(cfg->sinks = calloc(n ? n : 1, sizeof(*cfg->sinks))))
				return ferry_error_oom();
			for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
				if ((error = parse_sink(c, &cfg->sinks[cfg->nsinks++],
							node(c, *it))) < 0)
					return error;
		} else if (!strcmp(k, "preflight")) {
			error = parse_preflight(c, v);
		} else if (!strcmp(k, "stacks")) {
			yaml_node_item_t *it;
			size_t n, i, j;

			if (v->type != YAML_SEQUENCE_NODE)
				return fail(c, v, "stacks must be a list", NULL);
			have_stacks = 1;
			n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
			if (!(cfg->stacks = calloc(n ? n : 1, sizeof(*cfg->stacks))))
				return ferry_error_oom();
			for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
				ferry_stack *s = &cfg->stacks[cfg->nstacks++];

				if ((error = parse_stack(c, s, node(c, *it))) < 0)
					return error;
			}
			for (i = 0; i < cfg->nstacks; i++)
				for (j = i + 1; j < cfg->nstacks; j++)
					if (!strcmp(cfg->stacks[i].name, cfg->stacks[j].name))
						return ferry_error_set(FERRY_EINVALID,
							"%s:%d: duplicate stack name '%s'", c->path,
							cfg->stacks[j].line, cfg->stacks[j].name);
		}
		if (error < 0)
			return error;
	}
	/* A config without the key is a mistake; an explicit `stacks: []` (the
	 * installed default) is a reconciler that deploys nothing yet. */
	if (!have_stacks)
		return ferry_error_set(FERRY_EINVALID, "%s: the config has no stacks", c->path);
	return 0;
}

static int parse(ferry_reconcile_config **out, const char *text, size_t len, const char *path,
		 const char *dir, int no_secrets)
{
	cfg_ctx c;
	int error = 0, have_doc = 0;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.path = path;
	c.no_secrets = no_secrets;
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	if (len > CONFIG_MAX_SIZE)
		return ferry_error_set(FERRY_ETOOBIG, "'%s' is larger than %u bytes", path,
				       CONFIG_MAX_SIZE);
	if (!(c.cfg = calloc(1, sizeof(*c.cfg))) || !(c.dir = strdup(dir))) {
		error = ferry_error_oom();
		goto done;
	}
	c.cfg->history_keep = FERRY_HISTORY_KEEP_DEFAULT;
	if ((error = ferry_yaml_load(&c.doc, text, len, path)) < 0)
		goto done;
	have_doc = 1;
	if ((error = parse_root(&c)) < 0)
		goto done;
	*out = c.cfg;
	c.cfg = NULL;
done:
	if (have_doc)
		yaml_document_delete(&c.doc);
	ferry_reconcile_config_free(c.cfg);
	free(c.dir);
	return error;
}

int ferry_reconcile_config_parse(ferry_reconcile_config **out, const char *text,
				 size_t len, const char *path, const char *dir)
{
	return parse(out, text, len, path, dir, 0);
}

static int load(ferry_reconcile_config **out, const char *path, int no_secrets)
{
	ferry_buf text = FERRY_BUF_INIT;
	char *copy = NULL, *dir = NULL;
	int error = 0;

	*out = NULL;
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	if ((error = ferry_fs_read_file(&text, path, CONFIG_MAX_SIZE)) < 0)
		return error;
	/* absolute: the tools we run may change their working directory */
	if (!(copy = strdup(path)) || !(dir = realpath(dirname(copy), NULL)))
		error = ferry_error_oom();
	else
		error = parse(out, text.ptr, text.size, path, dir, no_secrets);
	ferry_buf_dispose(&text);
	free(copy);
	free(dir);
	return error;
}

int ferry_reconcile_config_load(ferry_reconcile_config **out, const char *path)
{
	return load(out, path, 0);
}

int ferry_reconcile_config_load_public(ferry_reconcile_config **out, const char *path)
{
	return load(out, path, 1);
}

static void free_secret(unsigned char *s)
{
	if (s)
		sodium_free(s);   /* sodium_free wipes the memory */
}

void ferry_reconcile_config_free(ferry_reconcile_config *cfg)
{
	size_t i, j;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nstacks; i++) {
		ferry_stack *s = &cfg->stacks[i];

		free(s->name);
		free(s->repo);
		free(s->ref);
		free(s->path);
		free(s->values);
		free(s->chart);
		free(s->release);
		free(s->namespace_);
		free(s->freeze_file);
		free_secret(s->secret);
		for (j = 0; j < s->nhost_paths; j++)
			free(s->host_paths[j]);
		free(s->host_paths);
		free(s->workload_reason);
	}
	free(cfg->stacks);
	free(cfg->store);
	free(cfg->state_dir);
	free(cfg->control_group);
	free(cfg->audit_log);
	free(cfg->listen);
	free_secret(cfg->token);
	free(cfg->podman.command);
	free(cfg->podman.root);
	free(cfg->podman.runroot);
	free(cfg->podman.storage_driver);
	free(cfg->podman.containers_conf);
	free(cfg->podman.registries_conf);
	free(cfg->kube.command);
	free(cfg->kube.kubeconfig);
	free(cfg->kube.context);
	if (cfg->compose.argv)
		for (i = 0; cfg->compose.argv[i]; i++)
			free(cfg->compose.argv[i]);
	free(cfg->compose.argv);
	free(cfg->kubectl);
	free(cfg->helm);
	for (i = 0; i < cfg->nsinks; i++)
		ferry_notify_sink_dispose(&cfg->sinks[i]);
	free(cfg->sinks);
	for (i = 0; i < cfg->preflight.nmirror; i++)
		free(cfg->preflight.mirror[i]);
	free(cfg->preflight.mirror);
	for (i = 0; i < cfg->preflight.nregistries; i++) {
		free(cfg->preflight.registries[i].host);
		free(cfg->preflight.registries[i].url);
		free(cfg->preflight.registries[i].ca_file);
		free(cfg->preflight.registries[i].auth_file);
	}
	free(cfg->preflight.registries);
	free(cfg);
}

ferry_stack *ferry_reconcile_config_stack(const ferry_reconcile_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nstacks; i++)
		if (!strcmp(cfg->stacks[i].name, name))
			return &cfg->stacks[i];
	return NULL;
}
