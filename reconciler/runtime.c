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
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "json.h"
#include "reconcile.h"
#include "banned.h"

#define ARGV_MAX 64
#define SNAPSHOT_TTL_MS 1000

typedef struct {
	const char *v[ARGV_MAX + 1];
	size_t n;
	ferry_buf env1, env2;
	const char *env[3];
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

	if ((error = ferry_spawn_format(&line, c->v)) < 0)
		goto done;
	if (log)
		ferry_buf_printf(log, "%s%s", log->size ? "\n" : "", line.ptr);
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
	    ferry_buf_printf(&c->env1, "CONTAINERS_CONF=%s", cfg->podman.containers_conf) == 0)
		c->env[e++] = c->env1.ptr;
	if (cfg->podman.registries_conf &&
	    ferry_buf_printf(&c->env2, "CONTAINERS_REGISTRIES_CONF=%s",
			     cfg->podman.registries_conf) == 0)
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
				ferry_buf_printf(detail, "%s%s/%s container %s is missing",
						 detail->size ? "; " : "", kind, wname, cname);
			} else {
				const char *state = json_string_value(json_object_get(found, "State"));
				const char *img = json_string_value(json_object_get(found, "Image"));

				if (!state || strcmp(state, "running")) {
					*drift = 1;
					ferry_buf_printf(detail, "%s%s/%s container %s is %s",
							 detail->size ? "; " : "", kind, wname, cname,
							 state ? state : "not running");
				} else if (!img || strcmp(img, image)) {
					*drift = 1;
					ferry_buf_printf(detail, "%s%s/%s container %s runs %s, not %s",
							 detail->size ? "; " : "", kind, wname, cname,
							 img ? img : "?", image);
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
			ferry_buf_printf(detail, "%sunexpected workload %s", detail->size ? "; " : "",
					 lw);
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
	push(&c, "--field-manager=ferry");
	push(&c, "--force-conflicts");
	push(&c, "-f");
	push(&c, file);
	if (stack->prune) {
		push(&c, "--prune");
		push(&c, "-l");
		push(&c, selector->ptr);
	}
	error = run(&c, &o, log, NULL, -1, NULL);
	cmd_dispose(&c);
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
		push(&c, "--field-manager=ferry");
		push(&c, "--force-conflicts");
		push(&c, "-f");
		push(&c, file);
		/* kubectl diff: 0 no differences, 1 differences, more: an error */
		if ((error = run(&c, &o, NULL, &out, 1, &status)) == 0) {
			*checked = 1;
			if (status == 1) {
				*drift = 1;
				trim(&out);
				ferry_buf_printf(detail, "kubectl diff: %.1000s", out.ptr ? out.ptr : "");
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
