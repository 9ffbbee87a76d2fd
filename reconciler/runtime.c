/*
 * Runtimes, where stacks are deployed: rootful podman (`podman kube play
 * --replace`), Kubernetes through kubectl (server-side apply with a field
 * manager, pruning by the ferry.stack label, `kubectl diff` for drift) and
 * compose (podman-compose or docker compose). Every command is an argument
 * vector run without a shell; with dry-run the command lines are printed
 * instead.
 *
 * Podman drift is kept simple and explicit: a stack has drifted when one
 * of the containers it was rendered with is missing, not running, or runs
 * another image than the rendered reference (with require-digests that is
 * a digest), or when a workload labelled with the stack is no longer in
 * it. One `podman ps` answers for every stack of a polling round.
 *
 * Kubernetes health is the rollout of the applied Deployments, StatefulSets
 * and DaemonSets, judged from their live objects the way `kubectl rollout
 * status` judges them (observed generation, updated, ready and available
 * replicas, the progress deadline) and waited for up to the stack's
 * rollout-timeout. One `kubectl get -f` per look reads them all.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "json.h"
#include "reconcile.h"
#include "banned.h"

#define ARGV_MAX 64
#define SNAPSHOT_TTL_MS 1000
#define FERRY_KUBE_FIELD_MANAGER "ferry"

typedef struct {
	const char *v[ARGV_MAX + 1];
	size_t n;
	ferry_buf env1, env2;
	const char *env[3];
	int error;   /* building the command failed: run() reports it */
} cmd;

static void push(cmd *c, const char *arg)
{
	if (c->n < ARGV_MAX)
		c->v[c->n++] = arg;
	c->v[c->n] = NULL;
}

static void cmd_dispose(cmd *c)
{
	ferry_buf_dispose(&c->env1);
	ferry_buf_dispose(&c->env2);
}

static void trim(ferry_buf *b)
{
	while (b->size && (b->ptr[b->size - 1] == '\n' || b->ptr[b->size - 1] == ' '))
		b->ptr[--b->size] = '\0';
}

/* Run (or with dry-run print) a command; a nonzero exit is an error with
 * the command's stderr. `ok_status` is another accepted exit status (-1:
 * none). The status lands in *status when given. */
static int run(const cmd *c, const ferry_runtime_options *opts, ferry_buf *log, ferry_buf *out,
	       int ok_status, int *status_out)
{
	ferry_buf line = FERRY_BUF_INIT, err = FERRY_BUF_INIT;
	int status = 0, error;

	/* without its environment podman would run with another configuration */
	if (c->error < 0)
		return ferry_error_set(c->error, "cannot run '%s': %s", c->v[0],
				       ferry_error_name(c->error));
	if ((error = ferry_spawn_format(&line, c->v)) < 0)
		goto done;
	if (log)
		ferry_buf_printf_best_effort(log, "%s%s", log->size ? "\n" : "", line.ptr);
	if (opts && opts->dry_run) {
		if (opts->out)
			fprintf(opts->out, "%s\n", line.ptr);
		goto done;
	}
	if ((error = ferry_spawn(&status, out, &err, c->v, c->env)) < 0) {
		error = ferry_error_wrap(error, "cannot run '%s'", c->v[0]);
		goto done;
	}
	if (status_out)
		*status_out = status;
	if (status != 0 && status != ok_status) {
		trim(&err);
		error = ferry_error_set(FERRY_ERROR, "'%s' failed (exit %d)%s%.2000s", line.ptr,
					status, err.size ? ": " : "", err.size ? err.ptr : "");
	}
done:
	ferry_buf_dispose(&line);
	ferry_buf_dispose(&err);
	return error;
}

/* ---- podman -------------------------------------------------------------- */

static void podman_base(cmd *c, const ferry_reconcile_config *cfg)
{
	size_t e = 0;

	memset(c, 0, sizeof(*c));
	push(c, cfg->podman.command ? cfg->podman.command : "podman");
	if (cfg->podman.root) {
		push(c, "--root");
		push(c, cfg->podman.root);
	}
	if (cfg->podman.runroot) {
		push(c, "--runroot");
		push(c, cfg->podman.runroot);
	}
	if (cfg->podman.storage_driver) {
		push(c, "--storage-driver");
		push(c, cfg->podman.storage_driver);
	}
	if (cfg->podman.containers_conf &&
	    (c->error = ferry_buf_printf(&c->env1, "CONTAINERS_CONF=%s",
					 cfg->podman.containers_conf)) == 0)
		c->env[e++] = c->env1.ptr;
	if (cfg->podman.registries_conf && !c->error &&
	    (c->error = ferry_buf_printf(&c->env2, "CONTAINERS_REGISTRIES_CONF=%s",
					 cfg->podman.registries_conf)) == 0)
		c->env[e++] = c->env2.ptr;
	c->env[e] = NULL;
}

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *snap;           /* `podman ps -a` of every ferry container */
static long long snap_ms;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ferry_runtime_invalidate(void)
{
	pthread_mutex_lock(&snap_lock);
	json_decref(snap);
	snap = NULL;
	pthread_mutex_unlock(&snap_lock);
}

/* A new reference to the containers labelled ferry.stack (cached briefly). */
static int podman_containers(json_t **out, const ferry_reconcile_config *cfg, int fresh)
{
	ferry_buf text = FERRY_BUF_INIT;
	json_t *doc = NULL;
	cmd c;
	int error = 0;

	pthread_mutex_lock(&snap_lock);
	if (snap && !fresh && now_ms() - snap_ms < SNAPSHOT_TTL_MS) {
		*out = json_incref(snap);
		pthread_mutex_unlock(&snap_lock);
		return 0;
	}
	podman_base(&c, cfg);
	push(&c, "ps");
	push(&c, "-a");
	push(&c, "--filter");
	push(&c, "label=ferry.stack");
	push(&c, "--format");
	push(&c, "json");
	if ((error = run(&c, NULL, NULL, &text, -1, NULL)) == 0 &&
	    (error = ferry_json_parse(&doc, text.size ? text.ptr : "[]",
				      text.size ? text.size : 2, "podman ps")) == 0) {
		if (!json_is_array(doc)) {
			json_decref(doc);
			error = ferry_error_set(FERRY_EINVALID, "podman ps: not a list");
		} else {
			json_decref(snap);
			snap = doc;
			snap_ms = now_ms();
			*out = json_incref(snap);
		}
	}
	pthread_mutex_unlock(&snap_lock);
	cmd_dispose(&c);
	ferry_buf_dispose(&text);
	return error;
}

static const char *label(json_t *ctr, const char *key)
{
	return json_string_value(json_object_get(json_object_get(ctr, "Labels"), key));
}

static int name_ends(json_t *ctr, const char *suffix)
{
	json_t *names = json_object_get(ctr, "Names");
	const char *n = json_string_value(json_array_get(names, 0));
	size_t a, b = strlen(suffix);

	if (!n)
		return 0;
	a = strlen(n);
	return a > b && n[a - b - 1] == '-' && !strcmp(n + a - b, suffix);
}

static int podman_apply(const ferry_reconcile_config *cfg, const ferry_stack *stack,
			const ferry_rendered *r, const char *file,
			const ferry_runtime_options *opts, ferry_buf *log)
{
	json_t *live = NULL, *ctr;
	const char *pods[256];
	size_t i, j, k, npods = 0;
	cmd c;
	int error = 0;

	/* Pull first: a missing image must fail before --replace stops anything. */
	for (i = 0; i < r->nimages && !error; i++) {
		podman_base(&c, cfg);
		push(&c, "pull");
		push(&c, "--quiet");
		push(&c, r->images[i]);
		error = run(&c, opts, log, NULL, -1, NULL);
		cmd_dispose(&c);
	}
	if (error < 0)
		return ferry_error_wrap(error, "stack '%s': the running workload was left as it was",
					stack->name);
	podman_base(&c, cfg);
	push(&c, "kube");
	push(&c, "play");
	push(&c, "--replace");
	push(&c, "--quiet");
	push(&c, file);
	error = run(&c, opts, log, NULL, -1, NULL);
	cmd_dispose(&c);
	ferry_runtime_invalidate();
	if (error < 0 || !stack->prune || (opts && opts->dry_run))
		return error;
	/* Prune: pods of the stack whose workload is no longer rendered. */
	if ((error = podman_containers(&live, cfg, 1)) < 0)
		return error;
	json_array_foreach(live, i, ctr) {
		const char *w = label(ctr, "ferry.workload"), *pod;
		int keep = 0;

		if (!label(ctr, "ferry.stack") || strcmp(label(ctr, "ferry.stack"), stack->name) || !w)
			continue;
		for (j = 0; j < r->nworkloads && !keep; j++)
			keep = !strcmp(r->workloads[j].name, w);
		pod = json_string_value(json_object_get(ctr, "Pod"));
		if (keep || !pod || !*pod)
			continue;
		for (k = 0; k < npods && strcmp(pods[k], pod); k++)
			;
		if (k == npods && npods < 256)
			pods[npods++] = pod;
	}
	if (npods) {
		podman_base(&c, cfg);
		push(&c, "pod");
		push(&c, "rm");
		push(&c, "-f");
		for (k = 0; k < npods && k < ARGV_MAX - 12; k++)
			push(&c, pods[k]);
		error = run(&c, opts, log, NULL, -1, NULL);
		cmd_dispose(&c);
		ferry_runtime_invalidate();
	}
	json_decref(live);
	return error;
}

static int podman_drift_in(int *drift, ferry_buf *detail, const ferry_reconcile_config *cfg,
			   const ferry_stack *stack, const char *expected, int fresh)
{
	json_t *want = NULL, *live = NULL, *w, *ctr, *ec;
	size_t i, j, k;
	int error;

	*drift = 0;
	if ((error = ferry_json_parse(&want, expected, strlen(expected), "expected workloads")) < 0)
		return error;
	if ((error = podman_containers(&live, cfg, fresh)) < 0)
		goto done;
	json_array_foreach(want, i, w) {
		const char *wname = json_string_value(json_object_get(w, "name"));
		const char *kind = json_string_value(json_object_get(w, "kind"));

		json_array_foreach(json_object_get(w, "containers"), j, ec) {
			const char *cname = json_string_value(json_object_get(ec, "name"));
			const char *image = json_string_value(json_object_get(ec, "image"));
			json_t *found = NULL;

			if (!wname || !cname || !image)
				continue;
			json_array_foreach(live, k, ctr) {
				const char *s = label(ctr, "ferry.stack"), *lw = label(ctr, "ferry.workload");

				if (s && lw && !strcmp(s, stack->name) && !strcmp(lw, wname) &&
				    name_ends(ctr, cname)) {
					/* prefer a running one when several match */
					if (!found || !strcmp(json_string_value(json_object_get(ctr, "State"))
							      ? json_string_value(json_object_get(ctr, "State"))
							      : "", "running"))
						found = ctr;
				}
			}
			if (!found) {
				*drift = 1;
				ferry_buf_printf_best_effort(detail,
							     "%s%s/%s container %s is missing",
							     detail->size ? "; " : "", kind, wname,
							     cname);
			} else {
				const char *state = json_string_value(json_object_get(found, "State"));
				const char *img = json_string_value(json_object_get(found, "Image"));

				if (!state || strcmp(state, "running")) {
					*drift = 1;
					ferry_buf_printf_best_effort(detail,
								     "%s%s/%s container %s is %s",
								     detail->size ? "; " : "", kind,
								     wname, cname,
								     state ? state : "not running");
				} else if (!img || strcmp(img, image)) {
					*drift = 1;
					ferry_buf_printf_best_effort(detail,
								     "%s%s/%s container %s runs %s, not %s",
								     detail->size ? "; " : "", kind,
								     wname, cname, img ? img : "?",
								     image);
				}
			}
		}
	}
	/* workloads of the stack that are not rendered any more */
	json_array_foreach(live, k, ctr) {
		const char *s = label(ctr, "ferry.stack"), *lw = label(ctr, "ferry.workload");
		int known = 0;

		if (!s || !lw || strcmp(s, stack->name))
			continue;
		json_array_foreach(want, i, w)
			if (!strcmp(json_string_value(json_object_get(w, "name"))
					    ? json_string_value(json_object_get(w, "name")) : "", lw))
				known = 1;
		if (!known && !strstr(detail->ptr ? detail->ptr : "", lw)) {
			*drift = 1;
			ferry_buf_printf_best_effort(detail, "%sunexpected workload %s",
						     detail->size ? "; " : "", lw);
		}
	}
done:
	json_decref(want);
	json_decref(live);
	return error;
}

/* A shared snapshot may predate an apply by another process: drift found
 * in it is confirmed with a fresh one before it counts. */
static int podman_drift(int *drift, ferry_buf *detail, const ferry_reconcile_config *cfg,
			const ferry_stack *stack, const char *expected)
{
	int error = podman_drift_in(drift, detail, cfg, stack, expected, 0);

	if (error < 0 || !*drift)
		return error;
	ferry_buf_clear(detail);
	return podman_drift_in(drift, detail, cfg, stack, expected, 1);
}

/* ---- kubernetes ---------------------------------------------------------- */

/* The leading decimal digits of `s` ("21+" is 21), 0 for none. */
static int atoi_prefix(const char *s)
{
	int v = 0;

	while (s && *s >= '0' && *s <= '9' && v < 100000)
		v = v * 10 + (*s++ - '0');
	return v;
}

static json_int_t jint(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static const char *jstr(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

static void kube_base(cmd *c, const ferry_reconcile_config *cfg)
{
	memset(c, 0, sizeof(*c));
	push(c, cfg->kube.command ? cfg->kube.command : "kubectl");
	if (cfg->kube.kubeconfig) {
		push(c, "--kubeconfig");
		push(c, cfg->kube.kubeconfig);
	}
	if (cfg->kube.context) {
		push(c, "--context");
		push(c, cfg->kube.context);
	}
}

static void kube_ns(cmd *c, const ferry_stack *stack)
{
	if (stack->namespace_) {
		push(c, "--namespace");
		push(c, stack->namespace_);
	}
}

static ferry_runtime_options kube_opts(const ferry_reconcile_config *cfg,
				      const ferry_runtime_options *opts)
{
	ferry_runtime_options o = { 0, stdout };

	if (opts)
		o = *opts;
	if (cfg->kube.dry_run)
		o.dry_run = 1;
	if (!o.out)
		o.out = stdout;
	return o;
}

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static char *probed_kubectl;      /* the kubectl last asked for its version */
static int probed_minor;

/*
 * kubectl 1.21 and later leave managedFields out of `get` unless asked
 * with --show-managed-fields, a flag 1.20 does not know: the client's
 * minor version, asked once per kubectl command (0 when it cannot tell).
 */
static int kube_client_minor(const ferry_reconcile_config *cfg)
{
	const char *prog = cfg->kube.command ? cfg->kube.command : "kubectl";
	ferry_buf text = FERRY_BUF_INIT;
	json_t *doc = NULL;
	int minor = 0;
	cmd c;

	pthread_mutex_lock(&probe_lock);
	if (probed_kubectl && !strcmp(probed_kubectl, prog)) {
		minor = probed_minor;
		goto done;
	}
	memset(&c, 0, sizeof(c));
	push(&c, prog);
	push(&c, "version");
	push(&c, "--client");
	push(&c, "-o");
	push(&c, "json");
	if (run(&c, NULL, NULL, &text, -1, NULL) == 0 &&
	    ferry_json_parse(&doc, text.ptr ? text.ptr : "", text.size, "kubectl version") == 0)
		minor = atoi_prefix(jstr(json_object_get(doc, "clientVersion"), "minor", NULL));
	ferry_error_clear();
	free(probed_kubectl);
	probed_kubectl = strdup(prog);
	probed_minor = minor;
done:
	pthread_mutex_unlock(&probe_lock);
	json_decref(doc);
	ferry_buf_dispose(&text);
	return minor;
}

/* `kubectl get A1 A2 [A3] -o json` in the stack's namespace, parsed, with
 * managedFields. */
static int kube_get(json_t **out, const ferry_reconcile_config *cfg, const ferry_stack *stack,
		    const ferry_runtime_options *o, ferry_buf *log, const char *a1, const char *a2,
		    const char *a3)
{
	ferry_buf text = FERRY_BUF_INIT;
	cmd c;
	int error, minor;

	*out = NULL;
	kube_base(&c, cfg);
	kube_ns(&c, stack);
	push(&c, "get");
	push(&c, a1);
	push(&c, a2);
	if (a3)
		push(&c, a3);
	minor = kube_client_minor(cfg);
	if (minor == 0 || minor >= 21)
		push(&c, "--show-managed-fields");
	push(&c, "-o");
	push(&c, "json");
	error = run(&c, o, log, &text, -1, NULL);
	cmd_dispose(&c);
	if (error == 0 && !o->dry_run)
		error = ferry_json_parse(out, text.ptr ? text.ptr : "", text.size, "kubectl get");
	ferry_buf_dispose(&text);
	return error;
}

/* The items of a List, or the one object as a list of one (new reference). */
static json_t *kube_items(json_t *doc)
{
	json_t *items = json_object_get(doc, "items"), *one;

	if (json_is_array(items))
		return json_incref(items);
	one = json_array();
	if (one && doc)
		json_array_append(one, doc);
	return one;
}

/* "deployment.apps" for apiVersion apps/v1, "configmap" for v1; 1 when
 * `obj` names no kind. */
static int kube_kind(ferry_buf *out, json_t *obj)
{
	const char *kind = jstr(obj, "kind", NULL), *av = jstr(obj, "apiVersion", NULL);
	const char *slash = av ? strchr(av, '/') : NULL;
	size_t i;
	int error;

	if (!kind)
		return 1;
	for (i = 0; kind[i]; i++) {
		char ch = kind[i] >= 'A' && kind[i] <= 'Z' ? (char)(kind[i] + 32) : kind[i];

		if ((error = ferry_buf_put(out, &ch, 1)) < 0)
			return error;
	}
	return slash ? ferry_buf_printf(out, ".%.*s", (int)(slash - av), av) : 0;
}

static int applied_by_ferry(json_t *obj)
{
	json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields"), *e;
	size_t i;

	json_array_foreach(mf, i, e) {
		const char *m = jstr(e, "manager", NULL), *op = jstr(e, "operation", NULL);

		if (m && op && !strcmp(m, FERRY_KUBE_FIELD_MANAGER) && !strcmp(op, "Apply"))
			return 1;
	}
	return 0;
}

/* Whether `item` is one of the comma-separated `list`. */
static int in_list(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p;

	for (p = list; (p = strstr(p, item)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Kinds listed when pruning besides the ones the stack renders now: the
 * namespaced part of kubectl's own default prune list, named by group
 * only so that every server version resolves them. */
static const char kube_prune_kinds[] =
	"configmap,secret,service,serviceaccount,persistentvolumeclaim,pod,"
	"replicationcontroller,endpoints,deployment.apps,statefulset.apps,daemonset.apps,"
	"replicaset.apps,job.batch,cronjob.batch,ingress.networking.k8s.io";

#define PRUNE_BATCH 40

/* `kubectl delete --ignore-not-found` of the `n` NUL-separated "kind/name"
 * at `offs` in `names`. */
static int kube_delete(const ferry_reconcile_config *cfg, const ferry_stack *stack,
		       const ferry_runtime_options *o, ferry_buf *log, const ferry_buf *names,
		       const size_t *offs, size_t n)
{
	size_t i;
	cmd c;
	int error;

	kube_base(&c, cfg);
	kube_ns(&c, stack);
	push(&c, "delete");
	push(&c, "--ignore-not-found");
	for (i = 0; i < n; i++)
		push(&c, names->ptr + offs[i]);
	error = run(&c, o, log, NULL, -1, NULL);
	cmd_dispose(&c);
	return error;
}

/*
 * Prune: delete the live objects that carry the stack's label set, that
 * ferry applied (a managedFields entry of manager ferry, operation Apply),
 * that no controller owns, and that the apply just made did not touch.
 * `kubectl apply --prune` cannot do this after a server-side apply: it
 * deletes only objects carrying the client-side last-applied annotation,
 * which a server-side apply never writes.
 */
static int kube_prune(const ferry_reconcile_config *cfg, const ferry_stack *stack,
		      const char *file, const ferry_runtime_options *o, ferry_buf *log,
		      const char *selector)
{
	json_t *applied = NULL, *live = NULL, *a = NULL, *l = NULL, *obj;
	ferry_buf kinds = FERRY_BUF_INIT, names = FERRY_BUF_INIT;
	size_t i, j, n = 0, offs[PRUNE_BATCH];
	int error;

	if ((error = kube_get(&applied, cfg, stack, o, log, "-f", file, NULL)) < 0 ||
	    (error = ferry_buf_puts(&kinds, kube_prune_kinds)) < 0)
		goto done;
	a = kube_items(applied);
	/* a kind left out would leave its objects unpruned */
	json_array_foreach(a, i, obj) {
		ferry_buf k = FERRY_BUF_INIT;

		if ((error = kube_kind(&k, obj)) == 0 && k.ptr && !in_list(kinds.ptr, k.ptr))
			error = ferry_buf_printf(&kinds, ",%s", k.ptr);
		ferry_buf_dispose(&k);
		if (error < 0)
			goto done;
	}
	if ((error = kube_get(&live, cfg, stack, o, log, kinds.ptr, "-l", selector)) < 0 ||
	    o->dry_run)
		goto done;
	l = kube_items(live);
	json_array_foreach(l, i, obj) {
		json_t *meta = json_object_get(obj, "metadata"), *ao;
		const char *uid = jstr(meta, "uid", NULL), *name = jstr(meta, "name", NULL);
		int keep = !uid || !name || json_array_size(json_object_get(meta, "ownerReferences")) ||
			   !applied_by_ferry(obj);

		json_array_foreach(a, j, ao)
			if (!keep && jstr(ao, "metadata", "uid") &&
			    !strcmp(jstr(ao, "metadata", "uid"), uid))
				keep = 1;
		if (keep)
			continue;
		offs[n++] = names.size;
		if (kube_kind(&names, obj) != 0 ||
		    ferry_buf_printf(&names, "/%s", name) < 0 || ferry_buf_put(&names, "", 1) < 0) {
			error = ferry_error_oom();
			goto done;
		}
		/* one kubectl delete per PRUNE_BATCH objects */
		if (n == PRUNE_BATCH && (error = kube_delete(cfg, stack, o, log, &names, offs, n)) < 0)
			goto done;
		if (n == PRUNE_BATCH) {
			n = 0;
			ferry_buf_clear(&names);
		}
	}
	if (n)
		error = kube_delete(cfg, stack, o, log, &names, offs, n);
done:
	json_decref(applied);
	json_decref(live);
	json_decref(a);
	json_decref(l);
	ferry_buf_dispose(&kinds);
	ferry_buf_dispose(&names);
	return error;
}

static int kube_apply(const ferry_reconcile_config *cfg, const ferry_stack *stack,
		      const char *file, const ferry_runtime_options *opts, ferry_buf *log,
		      ferry_buf *selector)
{
	ferry_runtime_options o = kube_opts(cfg, opts);
	cmd c;
	int error;

	kube_base(&c, cfg);
	kube_ns(&c, stack);
	push(&c, "apply");
	push(&c, "--server-side");
	push(&c, "--field-manager=" FERRY_KUBE_FIELD_MANAGER);
	push(&c, "--force-conflicts");
	push(&c, "-f");
	push(&c, file);
	error = run(&c, &o, log, NULL, -1, NULL);
	cmd_dispose(&c);
	if (error == 0 && stack->prune)
		error = kube_prune(cfg, stack, file, &o, log, selector->ptr);
	return error;
}

/* ---- kubernetes rollout health ------------------------------------------ */

/* spec.replicas; the API server's default 1 when left out */
static json_int_t spec_replicas(json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");

	return json_is_integer(json_object_get(spec, "replicas")) ? jint(spec, "replicas", NULL) : 1;
}

/* Nonzero unless spec.updateStrategy.type says OnDelete (or another kind
 * of update no controller rolls out by itself). */
static int rolling(json_t *obj)
{
	const char *t = jstr(json_object_get(obj, "spec"), "updateStrategy", "type");

	return !t || !strcmp(t, "RollingUpdate");
}

ferry_rollout ferry_runtime__rollout(ferry_buf *why, json_t *obj)
{
	const char *kind = jstr(obj, "kind", NULL), *reason;
	json_t *status = json_object_get(obj, "status"), *conds, *c;
	json_int_t gen = jint(obj, "metadata", "generation");
	json_int_t seen = jint(status, "observedGeneration", NULL);
	json_int_t want;
	size_t i;

	if (!kind)
		return FERRY_ROLLOUT_NONE;
	if (!strcmp(kind, "Deployment")) {
		if (seen == 0 || gen > seen)
			goto unobserved;
		conds = json_object_get(status, "conditions");
		json_array_foreach(conds, i, c) {
			reason = jstr(c, "reason", NULL);
			if (!strcmp(jstr(c, "type", NULL) ? jstr(c, "type", NULL) : "", "Progressing") &&
			    reason && !strcmp(reason, "ProgressDeadlineExceeded")) {
				ferry_buf_printf_best_effort(why, "%s",
							     "exceeded its progress deadline");
				return FERRY_ROLLOUT_FAILED;
			}
		}
		want = spec_replicas(obj);
		if (jint(status, "updatedReplicas", NULL) < want)
			ferry_buf_printf_best_effort(why, "%lld of %lld new replicas updated",
						     (long long)jint(status, "updatedReplicas", NULL),
						     (long long)want);
		else if (jint(status, "replicas", NULL) > jint(status, "updatedReplicas", NULL))
			ferry_buf_printf_best_effort(why, "%lld old replicas pending termination",
						     (long long)(jint(status, "replicas", NULL) -
								 jint(status, "updatedReplicas", NULL)));
		else if (jint(status, "availableReplicas", NULL) < jint(status, "updatedReplicas", NULL))
			ferry_buf_printf_best_effort(why, "%lld of %lld updated replicas available",
						     (long long)jint(status, "availableReplicas", NULL),
						     (long long)jint(status, "updatedReplicas", NULL));
		else
			return FERRY_ROLLOUT_READY;
		return FERRY_ROLLOUT_PROGRESSING;
	}
	if (!strcmp(kind, "StatefulSet")) {
		if (!rolling(obj))
			return FERRY_ROLLOUT_READY;   /* OnDelete: nothing to wait for */
		if (seen == 0 || gen > seen)
			goto unobserved;
		want = spec_replicas(obj);
		if (jint(status, "readyReplicas", NULL) < want)
			ferry_buf_printf_best_effort(why, "%lld of %lld pods ready",
						     (long long)jint(status, "readyReplicas", NULL),
						     (long long)want);
		else if (jstr(status, "updateRevision", NULL) &&
			 strcmp(jstr(status, "updateRevision", NULL),
				jstr(status, "currentRevision", NULL)
				? jstr(status, "currentRevision", NULL) : ""))
			ferry_buf_printf_best_effort(why, "%lld of %lld pods at the new revision",
						     (long long)jint(status, "updatedReplicas", NULL),
						     (long long)want);
		else
			return FERRY_ROLLOUT_READY;
		return FERRY_ROLLOUT_PROGRESSING;
	}
	if (!strcmp(kind, "DaemonSet")) {
		if (!rolling(obj))
			return FERRY_ROLLOUT_READY;
		if (seen == 0 || gen > seen)
			goto unobserved;
		want = jint(status, "desiredNumberScheduled", NULL);
		if (jint(status, "updatedNumberScheduled", NULL) < want)
			ferry_buf_printf_best_effort(why, "%lld of %lld new pods updated",
						     (long long)jint(status, "updatedNumberScheduled", NULL),
						     (long long)want);
		else if (jint(status, "numberAvailable", NULL) < want)
			ferry_buf_printf_best_effort(why, "%lld of %lld updated pods available",
						     (long long)jint(status, "numberAvailable", NULL),
						     (long long)want);
		else
			return FERRY_ROLLOUT_READY;
		return FERRY_ROLLOUT_PROGRESSING;
	}
	return FERRY_ROLLOUT_NONE;
unobserved:
	ferry_buf_printf_best_effort(why, "generation %lld not yet observed by its controller",
				     (long long)gen);
	return FERRY_ROLLOUT_PROGRESSING;
}

/* One look at every workload of `doc` (an object or a List): the worst
 * state, with each workload that is not ready named in `why`. */
static ferry_rollout rollout_look(ferry_buf *why, size_t *nworkloads, json_t *doc)
{
	json_t *items = json_object_get(doc, "items"), *one = NULL, *obj;
	ferry_rollout worst = FERRY_ROLLOUT_NONE, st;
	ferry_buf w = FERRY_BUF_INIT;
	size_t i, n;

	*nworkloads = 0;
	if (!json_is_array(items)) {
		one = json_array();
		json_array_append(one, doc);
		items = one;
	}
	n = json_array_size(items);
	for (i = 0; i < n; i++) {
		obj = json_array_get(items, i);
		ferry_buf_clear(&w);
		if ((st = ferry_runtime__rollout(&w, obj)) == FERRY_ROLLOUT_NONE)
			continue;
		(*nworkloads)++;
		if (st > worst)
			worst = st;
		if (st != FERRY_ROLLOUT_READY)
			ferry_buf_printf_best_effort(why, "%s%s/%s %s", why->size ? ", " : "",
						     jstr(obj, "kind", NULL),
						     jstr(obj, "metadata", "name")
						     ? jstr(obj, "metadata", "name") : "?",
						     w.ptr ? w.ptr : "");
	}
	ferry_buf_dispose(&w);
	json_decref(one);
	return worst;
}

const char *ferry_rollout_name(ferry_rollout st)
{
	return st == FERRY_ROLLOUT_READY ? "ready" : st == FERRY_ROLLOUT_PROGRESSING
	       ? "progressing" : st == FERRY_ROLLOUT_FAILED ? "failed" : "none";
}

int ferry_runtime_health(ferry_rollout *state, ferry_buf *detail,
			 const ferry_reconcile_config *cfg, const ferry_stack *stack,
			 const char *file, int64_t timeout, const ferry_runtime_options *opts)
{
	ferry_runtime_options o;
	ferry_buf out = FERRY_BUF_INIT, why = FERRY_BUF_INIT;
	long long start = now_ms(), waited;
	size_t nworkloads = 0;
	json_t *doc = NULL;
	cmd c;
	int error = 0;

	*state = FERRY_ROLLOUT_NONE;
	if (stack->runtime != FERRY_RUNTIME_KUBERNETES || !file)
		return 0;
	o = kube_opts(cfg, opts);
	if (o.dry_run)
		return 0;
	for (;;) {
		kube_base(&c, cfg);
		kube_ns(&c, stack);
		push(&c, "get");
		push(&c, "-f");
		push(&c, file);
		push(&c, "-o");
		push(&c, "json");
		ferry_buf_clear(&out);
		error = run(&c, &o, NULL, &out, -1, NULL);
		cmd_dispose(&c);
		if (error < 0 || (error = ferry_json_parse(&doc, out.ptr ? out.ptr : "", out.size,
							   "kubectl get")) < 0)
			goto done;
		ferry_buf_clear(&why);
		*state = rollout_look(&why, &nworkloads, doc);
		json_decref(doc);
		doc = NULL;
		waited = now_ms() - start;
		if (*state != FERRY_ROLLOUT_PROGRESSING || waited >= timeout * 1000)
			break;
		usleep(waited + 1000 > timeout * 1000 ? (useconds_t)((timeout * 1000 - waited) * 1000)
						      : 1000000);
	}
	if (*state == FERRY_ROLLOUT_NONE)
		goto done;
	ferry_buf_printf_best_effort(detail, "%srollout %s", detail->size ? "; " : "",
				     ferry_rollout_name(*state));
	if (*state == FERRY_ROLLOUT_READY)
		ferry_buf_printf_best_effort(detail, " (%zu workload%s)", nworkloads,
					     nworkloads == 1 ? "" : "s");
	else
		ferry_buf_printf_best_effort(detail, " after %llds: %.1000s",
					     (now_ms() - start) / 1000, why.ptr ? why.ptr : "");
done:
	json_decref(doc);
	ferry_buf_dispose(&out);
	ferry_buf_dispose(&why);
	return error;
}

/* ---- compose ------------------------------------------------------------- */

static void compose_base(cmd *c, const ferry_reconcile_config *cfg, const ferry_stack *stack,
			 const char *file)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	if (cfg->compose.argv) {
		for (i = 0; cfg->compose.argv[i]; i++)
			push(c, cfg->compose.argv[i]);
	} else if (ferry_spawn_available("podman-compose")) {
		push(c, "podman-compose");
	} else {
		push(c, "docker");
		push(c, "compose");
	}
	push(c, "-p");
	push(c, stack->name);
	push(c, "-f");
	push(c, file);
}

/* ---- dispatch ------------------------------------------------------------ */

int ferry_runtime_apply(const ferry_reconcile_config *cfg, const ferry_stack *stack,
		       const ferry_rendered *r, const char *file,
		       const ferry_runtime_options *opts, ferry_buf *log)
{
	ferry_buf sel = FERRY_BUF_INIT;
	cmd c;
	int error = 0;

	switch (stack->runtime) {
	case FERRY_RUNTIME_PODMAN:
		return podman_apply(cfg, stack, r, file, opts, log);
	case FERRY_RUNTIME_KUBERNETES:
		if ((error = ferry_buf_printf(&sel, "ferry.stack=%s", stack->name)) == 0)
			error = kube_apply(cfg, stack, file, opts, log, &sel);
		ferry_buf_dispose(&sel);
		return error;
	case FERRY_RUNTIME_COMPOSE:
		compose_base(&c, cfg, stack, file);
		push(&c, "up");
		push(&c, "-d");
		if (stack->prune)
			push(&c, "--remove-orphans");
		error = run(&c, opts, log, NULL, -1, NULL);
		cmd_dispose(&c);
		return error;
	}
	return ferry_error_set(FERRY_EUNSUPPORTED, "unknown target");
}

/*
 * The changed lines of `kubectl diff` output (unified diffs of the live
 * and the merged object in files named GROUP.VERSION.KIND.NAMESPACE.NAME):
 * per object its file name, then its removed and added lines; the file
 * headers, hunk headers and context are left out. At most `cap` bytes.
 */
static void diff_changes(ferry_buf *detail, const char *text, size_t cap)
{
	size_t start = detail->size, len;
	const char *line = text, *end, *slash;

	for (; *line && detail->size - start < cap; line = *end ? end + 1 : end) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		len = (size_t)(end - line);
		if (len > 5 && !strncmp(line, "diff ", 5)) {
			for (slash = end; slash > line && slash[-1] != '/' && slash[-1] != ' '; slash--)
				;
			ferry_buf_printf_best_effort(detail, "\n%.*s:", (int)(end - slash), slash);
		} else if ((line[0] == '-' || line[0] == '+') &&
			   strncmp(line, "--- ", 4) && strncmp(line, "+++ ", 4)) {
			ferry_buf_printf_best_effort(detail, "\n%.*s", (int)(len < 300 ? len : 300),
						     line);
		}
	}
}

int ferry_runtime_drift(int *drift, int *checked, ferry_buf *detail,
		       const ferry_reconcile_config *cfg, const ferry_stack *stack,
		       const char *expected, const char *file,
		       const ferry_runtime_options *opts)
{
	ferry_runtime_options o;
	ferry_buf out = FERRY_BUF_INIT;
	cmd c;
	int error = 0, status = 0;

	*drift = 0;
	*checked = 0;
	if (opts && opts->dry_run)
		return 0;
	switch (stack->runtime) {
	case FERRY_RUNTIME_PODMAN:
		if (!expected)
			return 0;
		*checked = 1;
		return podman_drift(drift, detail, cfg, stack, expected);
	case FERRY_RUNTIME_KUBERNETES:
		o = kube_opts(cfg, opts);
		if (o.dry_run || !file)
			return 0;
		kube_base(&c, cfg);
		kube_ns(&c, stack);
		push(&c, "diff");
		push(&c, "--server-side");
		push(&c, "--field-manager=" FERRY_KUBE_FIELD_MANAGER);
		push(&c, "--force-conflicts");
		push(&c, "-f");
		push(&c, file);
		/* kubectl diff: 0 no differences, 1 differences, more: an error */
		if ((error = run(&c, &o, NULL, &out, 1, &status)) == 0) {
			*checked = 1;
			if (status == 1) {
				*drift = 1;
				ferry_buf_printf_best_effort(detail, "%s", "kubectl diff:");
				diff_changes(detail, out.ptr ? out.ptr : "", 2000);
			}
		}
		cmd_dispose(&c);
		ferry_buf_dispose(&out);
		return error;
	case FERRY_RUNTIME_COMPOSE:
		return 0;   /* not checked for compose */
	}
	return 0;
}

int ferry_runtime_down(const ferry_reconcile_config *cfg, const ferry_stack *stack,
		      const char *file, const ferry_runtime_options *opts, ferry_buf *log)
{
	ferry_runtime_options o;
	cmd c;
	int error;

	switch (stack->runtime) {
	case FERRY_RUNTIME_PODMAN:
		podman_base(&c, cfg);
		push(&c, "kube");
		push(&c, "down");
		push(&c, file);
		error = run(&c, opts, log, NULL, -1, NULL);
		ferry_runtime_invalidate();
		break;
	case FERRY_RUNTIME_KUBERNETES:
		o = kube_opts(cfg, opts);
		kube_base(&c, cfg);
		kube_ns(&c, stack);
		push(&c, "delete");
		push(&c, "--ignore-not-found");
		push(&c, "-f");
		push(&c, file);
		error = run(&c, &o, log, NULL, -1, NULL);
		break;
	default:
		compose_base(&c, cfg, stack, file);
		push(&c, "down");
		error = run(&c, opts, log, NULL, -1, NULL);
		break;
	}
	cmd_dispose(&c);
	return error;
}
