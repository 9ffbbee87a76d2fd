/*
 * Rendering deployment sources (a reconciler stack's, or a deployment an
 * export spec names) into the documents a target applies: plain
 * manifests are read as they are, Kustomize overlays go through `kubectl
 * kustomize`, Helm charts through `helm template`, compose files pass
 * through. The output is then parsed with libyaml's document API, which
 * lets us do three things on the real structure instead of on text:
 *   - label every object ferry.stack=<stack> (and every pod template
 *     ferry.workload=<name>), so pruning and drift find the stack's objects
 *     by label on every target;
 *   - collect every image reference with where it is first used, for the
 *     audit trail, the require-digests policy and export's image closure;
 *   - list the workloads and their containers, which is what drift on the
 *     podman target compares with the live containers;
 *   - when the caller asks (the reconciler does on the podman and compose
 *     runtimes, which have no admission control of their own: rootful
 *     `podman kube play` runs what it is given), check every workload
 *     against the workload policy: no privileged containers, host
 *     namespaces, host paths outside the stack's allow-list, added
 *     capabilities or root users, unless the stack allows the rule with a
 *     reason. A Kubernetes cluster enforces this at admission instead.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "json.h"
#include "alloc.h"
#include "digest.h"
#include "fs.h"
#include "render.h"
#include "yaml_doc.h"
#include "banned.h"

#define MANIFEST_MAX_SIZE (16u << 20)

/* The word messages use for what is rendered ("stack", "deployment"). */
#define KW(p) ((p)->kind_word ? (p)->kind_word : "stack")

static const char *const format_names[] = { "manifests", "kustomize", "helm", "compose" };

int ferry_render_format_parse(ferry_format *out, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (name && !strcmp(name, format_names[i])) {
			*out = (ferry_format)i;
			return 0;
		}
	return ferry_error_set(FERRY_EINVALID, "format must be manifests, kustomize, helm or "
			       "compose, not '%s'", name ? name : "");
}

const char *ferry_render_format_name(ferry_format f)
{
	return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f]
									       : "?";
}

void ferry_rendered_dispose(ferry_rendered *r)
{
	size_t i, j;

	ferry_buf_dispose(&r->yaml);
	ferry_buf_dispose(&r->exceptions);
	ferry_buf_dispose(&r->refusals);
	for (i = 0; i < r->nimages; i++) {
		free(r->images[i]);
		free(r->image_where[i]);
	}
	free(r->images);
	free(r->image_where);
	for (i = 0; i < r->nworkloads; i++) {
		ferry_workload *w = &r->workloads[i];

		for (j = 0; j < w->ncontainers; j++) {
			free(w->containers[j]);
			free(w->images[j]);
		}
		free(w->containers);
		free(w->images);
		free(w->kind);
		free(w->name);
	}
	free(r->workloads);
	free(r->renderer);
	memset(r, 0, sizeof(*r));
}

/* ---- small helpers over yaml_document_t (ids only: adding nodes moves
 *      the node array, so pointers are re-fetched after every add) ---------- */

static yaml_node_t *get(yaml_document_t *d, int id)
{
	return id ? yaml_document_get_node(d, id) : NULL;
}

static const char *str_of(yaml_document_t *d, int id)
{
	return ferry_yaml_scalar(get(d, id));
}

static int map_get(yaml_document_t *d, int map, const char *key)
{
	yaml_node_t *n = get(d, map);
	yaml_node_pair_t *p;

	if (!n || n->type != YAML_MAPPING_NODE)
		return 0;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const char *k = str_of(d, p->key);

		if (k && !strcmp(k, key))
			return p->value;
	}
	return 0;
}

static int add_scalar(yaml_document_t *d, const char *s)
{
	int id = yaml_document_add_scalar(d, NULL, (yaml_char_t *)s, (int)strlen(s),
					  YAML_ANY_SCALAR_STYLE);

	return id ? id : ferry_error_oom();
}

/* The mapping under `key` of mapping `map`, created when missing. */
static int map_child(int *out, yaml_document_t *d, int map, const char *key, const char *what)
{
	int id = map_get(d, map, key), k;
	yaml_node_t *n;

	if (id) {
		n = get(d, id);
		if (n->type == YAML_SCALAR_NODE && (!strcmp((char *)n->data.scalar.value, "") ||
						    !strcmp((char *)n->data.scalar.value, "null"))) {
			/* `labels:` with no value: replace by an empty mapping */
			yaml_node_t *m = get(d, map);
			yaml_node_pair_t *p;
			int fresh = yaml_document_add_mapping(d, NULL, YAML_BLOCK_MAPPING_STYLE);

			if (!fresh)
				return ferry_error_oom();
			m = get(d, map);
			for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
				if (p->value == id)
					p->value = fresh;
			*out = fresh;
			return 0;
		}
		if (n->type != YAML_MAPPING_NODE)
			return ferry_error_set(FERRY_EINVALID, "%s: '%s' is not a mapping", what, key);
		*out = id;
		return 0;
	}
	if ((k = add_scalar(d, key)) < 0)
		return k;
	if (!(id = yaml_document_add_mapping(d, NULL, YAML_BLOCK_MAPPING_STYLE)) ||
	    !yaml_document_append_mapping_pair(d, map, k, id))
		return ferry_error_oom();
	*out = id;
	return 0;
}

/* Set key=value in mapping `map`, replacing an existing value. */
static int map_set(yaml_document_t *d, int map, const char *key, const char *value)
{
	int v = add_scalar(d, value), k;
	yaml_node_t *m;
	yaml_node_pair_t *p;

	if (v < 0)
		return v;
	m = get(d, map);
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const char *ks = str_of(d, p->key);

		if (ks && !strcmp(ks, key)) {
			p->value = v;
			return 0;
		}
	}
	if ((k = add_scalar(d, key)) < 0)
		return k;
	if (!yaml_document_append_mapping_pair(d, map, k, v))
		return ferry_error_oom();
	return 0;
}

/* Nonzero when `image` ends with "@<digest>". */
static int has_digest(const char *image)
{
	const char *at = strrchr(image, '@');

	return at && ferry_oci_digest_valid(at + 1);
}

/* Add `image`, used by `where` in input `file`, unless it is listed. */
static int add_image(ferry_rendered *r, const ferry_render_params *p, const char *image,
		     const char *file, const char *where)
{
	ferry_buf at = FERRY_BUF_INIT;
	size_t i;
	int error;

	if (p->require_digests && !has_digest(image))
		return ferry_error_set(FERRY_EVERIFY,
				       "%s '%s': image '%s' in %s has no digest "
				       "(require-digests: use NAME@sha256:DIGEST)",
				       KW(p), p->name, image, where);
	for (i = 0; i < r->nimages; i++)
		if (!strcmp(r->images[i], image))
			return 0;
	if ((error = FERRY_ALLOC_GROW(r->images, r->nimages + 1, r->allocimages)) < 0 ||
	    (error = FERRY_ALLOC_GROW(r->image_where, r->nimages + 1, r->allocwhere)) < 0 ||
	    (error = ferry_buf_printf(&at, "%s: %s", file, where)) < 0)
		return error;
	r->images[r->nimages] = strdup(image);
	r->image_where[r->nimages] = ferry_buf_detach(&at);
	if (!r->images[r->nimages] || !r->image_where[r->nimages]) {
		free(r->images[r->nimages]);
		free(r->image_where[r->nimages]);
		return ferry_error_oom();
	}
	r->nimages++;
	return 0;
}

/* Walk the initContainers, containers and ephemeralContainers of a pod
 * spec; the workload lists its containers. */
static int pod_spec(ferry_rendered *r, ferry_workload *w, const ferry_render_params *p,
		    yaml_document_t *d, int spec, const char *file, const char *where)
{
	static const char *const lists[] = { "initContainers", "containers",
					     "ephemeralContainers" };
	size_t l;
	int error;

	for (l = 0; l < 3; l++) {
		yaml_node_t *seq = get(d, map_get(d, spec, lists[l]));
		yaml_node_item_t *it;

		if (!seq)
			continue;
		if (seq->type != YAML_SEQUENCE_NODE)
			return ferry_error_set(FERRY_EINVALID, "%s: %s is not a list", where,
					       lists[l]);
		for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
			const char *image = str_of(d, map_get(d, *it, "image"));
			const char *name = str_of(d, map_get(d, *it, "name"));

			if (!image || !*image)
				return ferry_error_set(FERRY_EINVALID, "%s: a container has no image",
						       where);
			if ((error = add_image(r, p, image, file, where)) < 0)
				return error;
			if (l == 1 && w) {
				if ((error = FERRY_ALLOC_GROW(w->containers, w->ncontainers + 1,
							      w->alloc_containers)) < 0 ||
				    (error = FERRY_ALLOC_GROW(w->images, w->ncontainers + 1,
							      w->alloc_images)) < 0)
					return error;
				w->containers[w->ncontainers] = strdup(name ? name : "");
				w->images[w->ncontainers] = strdup(image);
				w->ncontainers++;
				if (!w->containers[w->ncontainers - 1] || !w->images[w->ncontainers - 1])
					return ferry_error_oom();
			}
			/* a document may be re-fetched after adds: refresh */
			seq = get(d, map_get(d, spec, lists[l]));
		}
	}
	return 0;
}

/* ---- the workload policy ------------------------------------------------ */

static const char *const rule_names[] = {
	"privileged", "host-network", "host-pid", "host-ipc", "host-path", "capabilities",
	"run-as-root"
};
#define NRULES (sizeof(rule_names) / sizeof(rule_names[0]))

const char *ferry_workload_rule_name(ferry_workload_rule rule)
{
	size_t i;

	for (i = 0; i < NRULES; i++)
		if ((unsigned)rule == 1u << i)
			return rule_names[i];
	return NULL;
}

unsigned ferry_workload_rule_parse(const char *name)
{
	size_t i;

	for (i = 0; i < NRULES; i++)
		if (!strcmp(rule_names[i], name))
			return 1u << i;
	return 0;
}

/* Is `v` a YAML true? Anything but a clear false counts, so that a spelling
 * the runtime reads as true ("yes", "on", "True") cannot slip through. */
static int truthy(const char *v)
{
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off",
					   "Off", "OFF", "null", "~", "" };
	size_t i;

	if (!v)
		return 0;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcmp(v, no[i]))
			return 0;
	return 1;
}

/* Is host path `path` under a directory of the stack's host-paths? */
static int host_path_allowed(const ferry_render_params *p, const char *path)
{
	size_t i, n = strlen(path);

	if (path[0] != '/' || strstr(path, "/../") || strstr(path, "/./") ||
	    (n >= 3 && !strcmp(path + n - 3, "/..")))
		return 0;
	for (i = 0; i < p->nhost_paths; i++) {
		n = strlen(p->host_paths[i]);
		while (n > 1 && p->host_paths[i][n - 1] == '/')
			n--;
		if (!strncmp(path, p->host_paths[i], n) && (path[n] == '\0' || path[n] == '/'))
			return 1;
	}
	return 0;
}

/* Judge one use of `rule` by `where` (what: the detail, or NULL): an
 * exception of the p, or a refusal. Only for podman and compose. */
static int judge(ferry_rendered *r, const ferry_render_params *p, ferry_workload_rule rule,
		 const char *where, const char *what, const char *path)
{
	int allowed = (p->workload_allow & (unsigned)rule) ||
		      (rule == FERRY_RULE_HOST_PATH && path && host_path_allowed(p, path));
	ferry_buf *b = allowed ? &r->exceptions : &r->refusals;

	if (!p->policy)
		return 0;
	if (!allowed)
		r->refused = 1;
	return ferry_buf_printf(b, "%s%s: %s%s%s%s", b->size ? "; " : "", where,
				ferry_workload_rule_name(rule), what ? " (" : "", what ? what : "",
				what ? ")" : "");
}

/* A securityContext (of a pod or a container `who`). */
static int judge_security(ferry_rendered *r, const ferry_render_params *p, yaml_document_t *d,
			  int ctx, const char *where, const char *who)
{
	yaml_node_t *add = get(d, map_get(d, map_get(d, ctx, "capabilities"), "add"));
	const char *user = str_of(d, map_get(d, ctx, "runAsUser"));
	int error = 0;

	if (!ctx)
		return 0;
	if (truthy(str_of(d, map_get(d, ctx, "privileged"))))
		error = judge(r, p, FERRY_RULE_PRIVILEGED, where, who, NULL);
	if (!error && add && (add->type != YAML_SEQUENCE_NODE ||
			      add->data.sequence.items.top > add->data.sequence.items.start)) {
		ferry_buf caps = FERRY_BUF_INIT;
		yaml_node_item_t *it;

		/* the text records what the policy refused or let through */
		if (add->type == YAML_SEQUENCE_NODE)
			for (it = add->data.sequence.items.start;
			     it < add->data.sequence.items.top && !error; it++)
				error = ferry_buf_printf(&caps, "%s%s", caps.size ? " " : "",
							 str_of(d, *it) ? str_of(d, *it) : "?");
		if (!error)
			error = ferry_buf_printf(&caps, "%s%s", caps.size ? " in " : "", who);
		if (!error)
			error = judge(r, p, FERRY_RULE_CAPABILITIES, where, caps.ptr, NULL);
		ferry_buf_dispose(&caps);
	}
	if (!error && user && !strcmp(user, "0"))
		error = judge(r, p, FERRY_RULE_RUN_AS_ROOT, where, who, NULL);
	return error;
}

/* A pod spec: host namespaces, hostPath volumes, security contexts. */
static int judge_pod(ferry_rendered *r, const ferry_render_params *p, yaml_document_t *d, int spec,
		     const char *where)
{
	static const struct {
		const char *key;
		ferry_workload_rule rule;
	} ns[] = { { "hostNetwork", FERRY_RULE_HOST_NETWORK }, { "hostPID", FERRY_RULE_HOST_PID },
		   { "hostIPC", FERRY_RULE_HOST_IPC } };
	static const char *const lists[] = { "initContainers", "containers",
					     "ephemeralContainers" };
	yaml_node_t *seq;
	yaml_node_item_t *it;
	size_t i;
	int error = 0;

	for (i = 0; i < 3 && !error; i++)
		if (truthy(str_of(d, map_get(d, spec, ns[i].key))))
			error = judge(r, p, ns[i].rule, where, NULL, NULL);
	if (!error)
		error = judge_security(r, p, d, map_get(d, spec, "securityContext"), where,
				       "the pod");
	if (!error && (seq = get(d, map_get(d, spec, "volumes"))) &&
	    seq->type == YAML_SEQUENCE_NODE) {
		for (it = seq->data.sequence.items.start;
		     it < seq->data.sequence.items.top && !error; it++) {
			int hp = map_get(d, *it, "hostPath");
			const char *path = str_of(d, map_get(d, hp, "path"));
			const char *name = str_of(d, map_get(d, *it, "name"));
			ferry_buf what = FERRY_BUF_INIT;

			if (!hp)
				continue;
			if ((error = ferry_buf_printf(&what, "'%s' in volume %s", path ? path : "?",
						      name ? name : "?")) == 0)
				error = judge(r, p, FERRY_RULE_HOST_PATH, where, what.ptr,
					      path ? path : "");
			ferry_buf_dispose(&what);
		}
	}
	for (i = 0; i < 3 && !error; i++) {
		if (!(seq = get(d, map_get(d, spec, lists[i]))) || seq->type != YAML_SEQUENCE_NODE)
			continue;
		for (it = seq->data.sequence.items.start;
		     it < seq->data.sequence.items.top && !error; it++) {
			ferry_buf who = FERRY_BUF_INIT;
			const char *name = str_of(d, map_get(d, *it, "name"));

			if ((error = ferry_buf_printf(&who, "container %s", name ? name : "?")) == 0)
				error = judge_security(r, p, d, map_get(d, *it, "securityContext"),
						       where, who.ptr);
			ferry_buf_dispose(&who);
		}
	}
	return error;
}

/* A compose bind mount's host side: "SRC:DST[:MODE]" with SRC a path, or
 * the long form {type: bind, source: SRC}; NULL for named and anonymous
 * volumes. Returns a pointer into `buf` or the document. */
static const char *compose_bind(char *buf, size_t len, yaml_document_t *d, int vol)
{
	const char *s = str_of(d, vol), *colon;

	if (!s) {
		const char *type = str_of(d, map_get(d, vol, "type"));

		return type && !strcmp(type, "bind") ? str_of(d, map_get(d, vol, "source")) : NULL;
	}
	if (!(colon = strchr(s, ':')) || !strchr("/.~$", s[0]))
		return NULL;
	snprintf(buf, len, "%.*s", (int)(colon - s), s);
	return buf;
}

/* A compose service: privileged, host namespaces, cap_add, user, binds. */
static int judge_service(ferry_rendered *r, const ferry_render_params *p, yaml_document_t *d,
			 int svc, const char *where)
{
	static const struct {
		const char *key;
		ferry_workload_rule rule;
	} ns[] = { { "network_mode", FERRY_RULE_HOST_NETWORK }, { "pid", FERRY_RULE_HOST_PID },
		   { "ipc", FERRY_RULE_HOST_IPC } };
	yaml_node_t *seq = get(d, map_get(d, svc, "cap_add"));
	const char *user = str_of(d, map_get(d, svc, "user"));
	yaml_node_item_t *it;
	size_t i;
	int error = 0;

	if (truthy(str_of(d, map_get(d, svc, "privileged"))))
		error = judge(r, p, FERRY_RULE_PRIVILEGED, where, NULL, NULL);
	for (i = 0; i < 3 && !error; i++) {
		const char *v = str_of(d, map_get(d, svc, ns[i].key));

		if (v && !strcmp(v, "host"))
			error = judge(r, p, ns[i].rule, where, NULL, NULL);
	}
	if (!error && seq && (seq->type != YAML_SEQUENCE_NODE ||
			      seq->data.sequence.items.top > seq->data.sequence.items.start))
		error = judge(r, p, FERRY_RULE_CAPABILITIES, where, "cap_add", NULL);
	if (!error && user && (!strcmp(user, "root") || !strcmp(user, "0") ||
			       !strncmp(user, "root:", 5) || !strncmp(user, "0:", 2)))
		error = judge(r, p, FERRY_RULE_RUN_AS_ROOT, where, user, NULL);
	seq = get(d, map_get(d, svc, "volumes"));
	if (!error && seq && seq->type == YAML_SEQUENCE_NODE) {
		for (it = seq->data.sequence.items.start;
		     it < seq->data.sequence.items.top && !error; it++) {
			char buf[4096];
			const char *path = compose_bind(buf, sizeof(buf), d, *it);
			ferry_buf what = FERRY_BUF_INIT;

			if (!path)
				continue;
			if ((error = ferry_buf_printf(&what, "bind mount '%s'", path)) == 0)
				error = judge(r, p, FERRY_RULE_HOST_PATH, where, what.ptr, path);
			ferry_buf_dispose(&what);
		}
	}
	return error;
}

static int is_controller(const char *kind)
{
	return !strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet") ||
	       !strcmp(kind, "DaemonSet") || !strcmp(kind, "ReplicaSet") || !strcmp(kind, "Job");
}

static int process_doc(ferry_rendered *r, const ferry_render_params *p, yaml_document_t *d,
		       const char *what, int index)
{
	yaml_node_t *root = yaml_document_get_root_node(d);
	ferry_buf where = FERRY_BUF_INIT;
	ferry_workload *w = NULL;
	const char *kind, *name;
	int rootid = 1, meta, labels, error = 0;

	if (!root || (root->type == YAML_SCALAR_NODE && !root->data.scalar.length))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return ferry_error_set(FERRY_EINVALID, "%s: document %d is not a mapping", what,
				       index);
	kind = str_of(d, map_get(d, rootid, "kind"));
	name = str_of(d, map_get(d, map_get(d, rootid, "metadata"), "name"));
	if (!kind || !name)
		return ferry_error_set(FERRY_EINVALID,
				       "%s: document %d has no kind or no metadata.name", what,
				       index);
	if ((error = ferry_buf_printf(&where, "%s/%s", kind, name)) < 0)
		goto done;
	{
		char *kind_copy = strdup(kind), *name_copy = strdup(name);

		if (!kind_copy || !name_copy) {
			free(kind_copy);
			free(name_copy);
			error = ferry_error_oom();
			goto done;
		}
		if (!strcmp(kind, "Pod") || is_controller(kind) || !strcmp(kind, "CronJob")) {
			if ((error = FERRY_ALLOC_GROW(r->workloads, r->nworkloads + 1,
						      r->allocworkloads)) < 0) {
				free(kind_copy);
				free(name_copy);
				goto done;
			}
			w = &r->workloads[r->nworkloads++];
			memset(w, 0, sizeof(*w));
			w->kind = kind_copy;
			w->name = name_copy;
		} else {
			free(kind_copy);
			free(name_copy);
		}
	}
	/* kind and name point into nodes: take copies before adding nodes */
	if ((error = map_child(&meta, d, rootid, "metadata", where.ptr)) < 0 ||
	    (error = map_child(&labels, d, meta, "labels", where.ptr)) < 0 ||
	    (error = map_set(d, labels, "ferry.stack", p->name)) < 0)
		goto done;
	if (w && !strcmp(w->kind, "Pod")) {
		if ((error = map_set(d, labels, "ferry.workload", w->name)) < 0)
			goto done;
		if ((error = pod_spec(r, w, p, d, map_get(d, rootid, "spec"), what, where.ptr)) == 0)
			error = judge_pod(r, p, d, map_get(d, rootid, "spec"), where.ptr);
	} else if (w) {
		int spec = map_get(d, rootid, "spec"), tmpl, tmeta, tlabels;

		if (!strcmp(w->kind, "CronJob"))
			spec = map_get(d, map_get(d, spec, "jobTemplate"), "spec");
		if (!(tmpl = map_get(d, spec, "template"))) {
			error = ferry_error_set(FERRY_EINVALID, "%s: %s has no spec.template", what,
						where.ptr);
			goto done;
		}
		if ((error = map_child(&tmeta, d, tmpl, "metadata", where.ptr)) < 0 ||
		    (error = map_child(&tlabels, d, tmeta, "labels", where.ptr)) < 0 ||
		    (error = map_set(d, tlabels, "ferry.stack", p->name)) < 0 ||
		    (error = map_set(d, tlabels, "ferry.workload", w->name)) < 0)
			goto done;
		if ((error = pod_spec(r, w, p, d, map_get(d, tmpl, "spec"), what, where.ptr)) == 0)
			error = judge_pod(r, p, d, map_get(d, tmpl, "spec"), where.ptr);
	}
done:
	ferry_buf_dispose(&where);
	return error;
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
	return ferry_buf_put(data, buffer, size) == 0;
}

/* Compose files: images from services.*.image; the text passes through. */
static int process_compose(ferry_rendered *out, const ferry_render_params *p, yaml_document_t *d,
			   const char *what)
{
	yaml_node_t *services = get(d, map_get(d, 1, "services"));
	yaml_node_pair_t *pr;
	int error;

	if (!services || services->type != YAML_MAPPING_NODE)
		return ferry_error_set(FERRY_EINVALID, "%s: no services", what);
	for (pr = services->data.mapping.pairs.start; pr < services->data.mapping.pairs.top; pr++) {
		const char *image = str_of(d, map_get(d, pr->value, "image"));
		const char *svc = str_of(d, pr->key);
		ferry_buf where = FERRY_BUF_INIT;

		if (!image)
			continue;
		if ((error = ferry_buf_printf(&where, "service %s", svc ? svc : "?")) == 0)
			error = add_image(out, p, image, what, where.ptr);
		if (!error)
			error = judge_service(out, p, d, pr->value, where.ptr);
		ferry_buf_dispose(&where);
		if (error < 0)
			return error;
	}
	return 0;
}

int ferry_render_text(ferry_rendered *out, const ferry_render_params *p, const char *text,
			 size_t len, const char *what)
{
	yaml_parser_t parser;
	yaml_emitter_t emitter;
	yaml_document_t doc;
	int error = 0, index = 0, have_emitter = 0;

	if (!yaml_parser_initialize(&parser))
		return ferry_error_set(FERRY_ENOMEM, "cannot start YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (p->format != FERRY_FMT_COMPOSE) {
		if (!yaml_emitter_initialize(&emitter)) {
			yaml_parser_delete(&parser);
			return ferry_error_set(FERRY_ENOMEM, "cannot start YAML emitter");
		}
		have_emitter = 1;
		yaml_emitter_set_output(&emitter, write_handler, &out->yaml);
		yaml_emitter_set_unicode(&emitter, 1);
		yaml_emitter_set_width(&emitter, -1);
		if (!yaml_emitter_open(&emitter)) {
			error = ferry_error_set(FERRY_ENOMEM, "cannot start YAML emitter");
			goto done;
		}
	}
	for (;;) {
		if (!yaml_parser_load(&parser, &doc)) {
			error = ferry_error_set(FERRY_EINVALID, "%s:%d: %s", what,
						(int)parser.problem_mark.line + 1,
						parser.problem ? parser.problem : "malformed YAML");
			goto done;
		}
		if (!yaml_document_get_root_node(&doc)) {
			yaml_document_delete(&doc);
			break;
		}
		index++;
		if (p->format == FERRY_FMT_COMPOSE) {
			error = process_compose(out, p, &doc, what);
			yaml_document_delete(&doc);
			if (!error)
				error = ferry_buf_put(&out->yaml, text, len);
			goto done;
		}
		if ((error = process_doc(out, p, &doc, what, index)) < 0) {
			yaml_document_delete(&doc);
			goto done;
		}
		{
			yaml_node_t *root = yaml_document_get_root_node(&doc);

			if (root->type == YAML_SCALAR_NODE) {
				yaml_document_delete(&doc);
				continue;
			}
		}
		/* every document starts with "---": outputs of files concatenate */
		doc.start_implicit = 0;
		/* yaml_emitter_dump takes the document and deletes it */
		if (!yaml_emitter_dump(&emitter, &doc)) {
			error = ferry_error_set(FERRY_EINVALID, "%s: cannot write document %d: %s",
						what, index,
						emitter.problem ? emitter.problem : "emitter error");
			goto done;
		}
	}
	if (have_emitter && !yaml_emitter_close(&emitter))
		error = ferry_error_set(FERRY_EINVALID, "%s: cannot finish the documents", what);
	if (have_emitter)
		yaml_emitter_flush(&emitter);
done:
	if (!error && out->refused)
		error = ferry_error_set(FERRY_EVERIFY, "%s '%s': the workload policy refuses %s",
					KW(p), p->name, out->refusals.ptr);
	if (have_emitter)
		yaml_emitter_delete(&emitter);
	yaml_parser_delete(&parser);
	return error;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* Plain manifests: every *.yaml / *.yml of `dir`, by name. */
static int render_plain(ferry_rendered *out, const ferry_render_params *p, const char *dir)
{
	ferry_buf path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	char **names = NULL;
	size_t n = 0, alloc_names = 0, i;
	struct dirent *e;
	DIR *d;
	int error = 0;

	if (!(d = opendir(dir)))
		return ferry_error_set_errno(FERRY_ENOTFOUND, "%s '%s': cannot read '%s'",
					     KW(p), p->name, dir);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !(ends_with(e->d_name, ".yaml") ||
					     ends_with(e->d_name, ".yml")))
			continue;
		if (!strcmp(e->d_name, "kustomization.yaml") || !strcmp(e->d_name, "kustomization.yml"))
			continue;
		if ((error = FERRY_ALLOC_GROW(names, n + 1, alloc_names)) < 0)
			break;
		if (!(names[n] = strdup(e->d_name))) {
			error = ferry_error_oom();
			break;
		}
		n++;
	}
	closedir(d);
	if (!error && !n)
		error = ferry_error_set(FERRY_ENOTFOUND, "%s '%s': no *.yaml manifests in '%s'",
					KW(p), p->name, dir);
	if (!error)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n && !error; i++) {
		ferry_buf_clear(&path);
		ferry_buf_clear(&text);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir, names[i])) < 0 ||
		    (error = ferry_fs_read_file(&text, path.ptr, MANIFEST_MAX_SIZE)) < 0)
			break;
		error = ferry_render_text(out, p, text.ptr ? text.ptr : "", text.size,
					     names[i]);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&text);
	return error;
}

/* Run a renderer; its stdout is the manifests. */
static int render_tool(ferry_rendered *out, const ferry_render_params *p, const char *const *argv,
		       const char *what)
{
	ferry_buf text = FERRY_BUF_INIT, err = FERRY_BUF_INIT;
	int status, error;

	if ((error = ferry_spawn(&status, &text, &err, argv, NULL)) < 0) {
		error = ferry_error_wrap(error == FERRY_ENOTFOUND ? FERRY_EUNSUPPORTED : error,
					 "%s '%s': the %s format needs '%s'", KW(p), p->name, what,
					 argv[0]);
		goto done;
	}
	if (status != 0) {
		while (err.size && (err.ptr[err.size - 1] == '\n'))
			err.ptr[--err.size] = '\0';
		error = ferry_error_set(FERRY_EINVALID, "%s '%s': %s %s failed (exit %d): %s",
					KW(p), p->name, argv[0], argv[1], status,
					err.ptr ? err.ptr : "");
		goto done;
	}
	error = ferry_render_text(out, p, text.ptr ? text.ptr : "", text.size, what);
done:
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&err);
	return error;
}

/* The helm binary's version ("v3.17.1+g980d8ac") into `out->renderer`, as
 * "helm VERSION"; a missing binary is the format's clear error. */
static int helm_version(ferry_rendered *out, const ferry_render_params *p, const char *helm)
{
	const char *argv[] = { helm, "version", "--short", NULL };
	ferry_buf text = FERRY_BUF_INIT, name = FERRY_BUF_INIT;
	int status, error;

	if ((error = ferry_spawn(&status, &text, NULL, argv, NULL)) < 0) {
		error = ferry_error_wrap(error == FERRY_ENOTFOUND ? FERRY_EUNSUPPORTED : error,
					 "%s '%s': the helm format needs '%s'", KW(p), p->name,
					 helm);
		goto done;
	}
	while (text.size && (text.ptr[text.size - 1] == '\n' || text.ptr[text.size - 1] == '\r' ||
			     text.ptr[text.size - 1] == ' '))
		text.ptr[--text.size] = '\0';
	if (status != 0 || !text.size || text.size > 128 || strchr(text.ptr, '\n')) {
		error = ferry_error_set(FERRY_EINVALID, "%s '%s': '%s version --short' failed "
					"(exit %d)", KW(p), p->name, helm, status);
		goto done;
	}
	if ((error = ferry_buf_printf(&name, "helm %s", text.ptr)) == 0)
		out->renderer = ferry_buf_detach(&name);
done:
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&name);
	return error;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The chart directory: `dir` when it holds Chart.yaml, else its single
 * subdirectory that does (an OCI chart's layer holds NAME/Chart.yaml). */
static int helm_chart_dir(ferry_buf *out, const ferry_render_params *p, const char *dir)
{
	ferry_buf probe = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d;
	int error = 0, found = 0;

	if ((error = ferry_buf_printf(&probe, "%s/Chart.yaml", dir)) < 0)
		goto done;
	if (ferry_fs_exists(probe.ptr)) {
		error = ferry_buf_puts(out, dir);
		goto done;
	}
	if (!(d = opendir(dir))) {
		error = ferry_error_set_errno(FERRY_ENOTFOUND, "%s '%s': cannot read '%s'",
					      KW(p), p->name, dir);
		goto done;
	}
	while (!error && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		ferry_buf_clear(&probe);
		if ((error = ferry_buf_printf(&probe, "%s/%s/Chart.yaml", dir, e->d_name)) < 0 ||
		    !ferry_fs_exists(probe.ptr))
			continue;
		if (found++)
			error = ferry_error_set(FERRY_EINVALID, "%s '%s': '%s' holds more than one "
						"chart; name one with the source's path", KW(p),
						p->name, dir);
		else
			error = ferry_buf_printf(out, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (!error && !found)
		error = ferry_error_set(FERRY_ENOTFOUND, "%s '%s': no Chart.yaml in '%s'", KW(p),
					p->name, dir);
done:
	ferry_buf_dispose(&probe);
	return error;
}

static int render_helm(ferry_rendered *out, const ferry_render_params *p, const char *dir)
{
	const char *helm = p->helm ? p->helm : "helm";
	ferry_buf chart = FERRY_BUF_INIT, values = FERRY_BUF_INIT;
	const char *argv[12];
	size_t n = 0;
	int error;

	if ((error = helm_version(out, p, helm)) < 0 ||
	    (error = p->chart && !is_dir(p->chart) ? ferry_buf_puts(&chart, p->chart)
						    : helm_chart_dir(&chart, p, p->chart ? p->chart
											 : dir)) < 0)
		goto done;
	argv[n++] = helm;
	argv[n++] = "template";
	argv[n++] = p->release ? p->release : p->name;
	argv[n++] = chart.ptr;
	/* test hooks are for `helm test`, not for the target; CRDs in crds/
	 * are installed by `helm install` and must be applied here too */
	argv[n++] = "--skip-tests";
	argv[n++] = "--include-crds";
	if (p->values) {
		if ((error = ferry_buf_printf(&values, "%s/%s", dir, p->values)) < 0)
			goto done;
		if (!ferry_fs_exists(values.ptr)) {
			error = ferry_error_set(FERRY_ENOTFOUND, "%s '%s': values file '%s' is not "
						"in the source", KW(p), p->name, p->values);
			goto done;
		}
		argv[n++] = "--values";
		argv[n++] = values.ptr;
	}
	if (p->namespace_) {
		argv[n++] = "--namespace";
		argv[n++] = p->namespace_;
	}
	argv[n] = NULL;
	error = render_tool(out, p, argv, "helm");
done:
	ferry_buf_dispose(&chart);
	ferry_buf_dispose(&values);
	return error;
}

static int render_compose(ferry_rendered *out, const ferry_render_params *p, const char *dir)
{
	static const char *const names[] = { "compose.yaml", "compose.yml", "docker-compose.yaml",
					     "docker-compose.yml" };
	ferry_buf path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	size_t i;
	int error = FERRY_ENOTFOUND;

	for (i = 0; i < 4; i++) {
		ferry_buf_clear(&path);
		if (ferry_buf_printf(&path, "%s/%s", dir, names[i]) < 0)
			break;
		if (ferry_fs_exists(path.ptr)) {
			if ((error = ferry_fs_read_file(&text, path.ptr, MANIFEST_MAX_SIZE)) == 0)
				error = ferry_render_text(out, p, text.ptr ? text.ptr : "",
							     text.size, names[i]);
			break;
		}
	}
	if (error == FERRY_ENOTFOUND)
		error = ferry_error_set(FERRY_ENOTFOUND, "%s '%s': no compose.yaml in '%s'",
					KW(p), p->name, dir);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&text);
	return error;
}

int ferry_render_dir(ferry_rendered *out, const ferry_render_params *p, const char *dir)
{
	int error = 0;

	memset(out, 0, sizeof(*out));
	switch (p->format) {
	case FERRY_FMT_MANIFESTS:
		error = render_plain(out, p, dir);
		break;
	case FERRY_FMT_KUSTOMIZE: {
		const char *argv[] = { p->kubectl ? p->kubectl : "kubectl", "kustomize", dir,
				       NULL };

		error = render_tool(out, p, argv, "kustomize");
		break;
	}
	case FERRY_FMT_HELM:
		error = render_helm(out, p, dir);
		break;
	case FERRY_FMT_COMPOSE:
		error = render_compose(out, p, dir);
		break;
	}
	if (error < 0) {
		int refused = out->refused;   /* the caller tells a refusal from a failure */

		ferry_rendered_dispose(out);
		out->refused = refused;
	}
	return error;
}

char *ferry_workloads_to_json(const ferry_rendered *r)
{
	json_t *arr = json_array();
	char *text = NULL;
	size_t i, j;

	if (!arr)
		return NULL;
	for (i = 0; i < r->nworkloads; i++) {
		json_t *c = json_array();

		for (j = 0; j < r->workloads[i].ncontainers; j++)
			json_array_append_new(c, json_pack("{s:s,s:s}", "name",
							   r->workloads[i].containers[j], "image",
							   r->workloads[i].images[j]));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "kind", r->workloads[i].kind,
						     "name", r->workloads[i].name, "containers", c));
	}
	text = ferry_json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return text;
}
