/*
 * The reconciler: GitOps inside the enclave from the store's own sources.
 *
 * A stack is a source (a store git repository at a branch, tag or commit
 * plus a path, or an OCI artifact of the store by tag or digest), a format
 * (plain manifests, a Kustomize overlay, a Helm chart, a compose file), a
 * runtime (rootful podman `kube play`, Kubernetes through kubectl, compose)
 * and a policy (auto-sync, poll interval, always-apply, prune, digest-only
 * images, freeze file). A cycle resolves the source, compares it with the
 * revision last applied and with the live state (drift), and applies when
 * the policy says so. Every cycle is an audit event in ferry.db (table
 * reconcile_events) and, when asked, a JSON line for a SIEM.
 *
 * Module layout: config.c (the YAML config), render_stack.c (a stack's
 * rendering through the render part, render.h), source.c (libgit2 and OCI
 * artifacts, submodules from the store), preflight.c (are the rendered
 * images where the runtime pulls them?), runtime.c (podman, kubectl, compose),
 * audit.c (events and per-stack state), engine.c (cycles and the daemon),
 * webhook.c (the HTTP endpoint).
 */
#ifndef FERRY_RECONCILER_RECONCILE_H
#define FERRY_RECONCILER_RECONCILE_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>

#include <jansson.h>

#include "health_notify.h"
#include "render.h"
#include "buf.h"
#include "stacks.h"
#include "store.h"

typedef enum { FERRY_SRC_GIT = 0, FERRY_SRC_OCI = 1 } ferry_source_kind;
typedef enum {
	FERRY_REF_BRANCH = 0,
	FERRY_REF_TAG = 1,
	FERRY_REF_COMMIT = 2,
	FERRY_REF_OCI = 3      /* an OCI reference "name:tag" or "name@sha256:..." */
} ferry_ref_kind;
typedef enum {
	FERRY_RUNTIME_PODMAN = 0,
	FERRY_RUNTIME_KUBERNETES = 1,
	FERRY_RUNTIME_COMPOSE = 2
} ferry_runtime_kind;

#define FERRY_STACK_NAME_MAX 63

typedef struct {
	char *name;               /* [a-z0-9]([-a-z0-9]*[a-z0-9])?, a label value */
	int line;                 /* where the stack starts in the config */
	ferry_source_kind source;
	char *repo;               /* git: store repository name */
	ferry_ref_kind ref_kind;
	char *ref;                /* branch, tag, commit (hex) or OCI reference */
	char *path;               /* directory inside the source; NULL: its root */
	ferry_format format;
	char *values;             /* helm: values file inside the source */
	char *release;            /* helm: release name (default: stack name) */
	char *chart;              /* helm: an OCI chart of the store (NAME:TAG or
				     NAME@sha256:DIGEST) rendered with the values
				     of the git source; NULL: the chart is the source */
	ferry_runtime_kind runtime;  /* where it is deployed */
	char *namespace_;         /* kubernetes namespace, or NULL */
	int auto_sync, always_apply, prune, require_digests;
	int64_t interval;         /* seconds between polls */
	int64_t rollout_timeout;  /* kubernetes: seconds to wait for a rollout; how the
				     result is reported, not what is deployed: left
				     out of the stack's definition (a change of it
				     re-applies nothing) */
	char *freeze_file;        /* path in the source; NULL: none */
	unsigned char *secret;    /* webhook secret (token or HMAC key), or NULL */
	size_t secret_len;
	unsigned workload_allow;  /* ferry_workload_rule bits the stack may use */
	char **host_paths;        /* directories hostPath and bind mounts may use */
	size_t nhost_paths;
	char *workload_reason;    /* why (required with either of the two above) */
} ferry_stack;

/* A registry the runtimes pull from that seeding fills (config
 * `preflight.registries`): images on `host` are checked by a HEAD of their
 * manifest at `url`. */
typedef struct {
	char *host;               /* host[:port] as images name it */
	char *url;                /* "https://host[:port]" (default) or http:// */
	char *ca_file;            /* PEM bundle, or NULL: the system's */
	char *auth_file;          /* a docker/podman auth.json, or NULL: anonymous */
} ferry_preflight_registry;

typedef struct {
	char *store;              /* NULL: the caller's default */
	char *state_dir;          /* NULL: <store>/reconcile */
	char *control_group;      /* group that may use the control socket (the
				     console's); NULL: the daemon's user only */
	char *audit_log;          /* JSON lines: a file, "-" for stdout, or NULL */
	char *listen;             /* webhook "127.0.0.1:PORT", or NULL: no server */
	int64_t history_keep;     /* seconds "unchanged" events are kept; 0: forever */
#define FERRY_HISTORY_KEEP_DEFAULT (30 * 86400)
	unsigned char *token;     /* importer notification token, or NULL */
	size_t token_len;
	struct {
		char *command, *root, *runroot, *storage_driver;
		char *containers_conf, *registries_conf;
	} podman;
	struct {
		char *command, *kubeconfig, *context;
		int dry_run;
	} kube;
	struct {
		char **argv;      /* e.g. {"podman-compose", NULL} */
	} compose;
	char *kubectl;            /* for kustomize rendering */
	char *helm;
	ferry_notify_sink *sinks; /* where health changes are told (health_notify.h) */
	size_t nsinks;
	struct {
		char **mirror;    /* hosts that are `ferry mirror serve` over this store */
		size_t nmirror;
		ferry_preflight_registry *registries;
		size_t nregistries;
	} preflight;
	ferry_stack *stacks;
	size_t nstacks;
} ferry_reconcile_config;

/**
 * Parse the YAML config at `path`. Unknown keys, wrong types, duplicate
 * keys and duplicate stack names are FERRY_EINVALID naming the file and
 * line, and so is a config without a `stacks` key; `stacks: []` loads
 * with nstacks 0 (a reconciler that deploys nothing yet). Relative file
 * names are resolved against the config's directory; secret files are read
 * here. Free with ferry_reconcile_config_free().
 */
int ferry_reconcile_config_load(ferry_reconcile_config **out, const char *path);
/**
 * The same, but secret files (the webhook's token, the notify sinks'
 * secrets) are not read: their fields stay NULL. For readers that never
 * use them (the console), so that they need no access to the secrets.
 */
int ferry_reconcile_config_load_public(ferry_reconcile_config **out, const char *path);
/**
 * Parse `len` bytes of config text as if read from `path` (named in
 * messages); relative paths are resolved against `dir` (absolute). Secret
 * files the config names are read here, as by ferry_reconcile_config_load;
 * nothing else touches the disk. Errors as ferry_reconcile_config_load,
 * FERRY_ETOOBIG over the config's size limit.
 */
int ferry_reconcile_config_parse(ferry_reconcile_config **out, const char *text,
				 size_t len, const char *path, const char *dir);
void ferry_reconcile_config_free(ferry_reconcile_config *cfg);
/** The stack named `name`, or NULL (borrowed). */
ferry_stack *ferry_reconcile_config_stack(const ferry_reconcile_config *cfg,
					  const char *name);

/* ---- rendering (the render part, render.h) ---------------------------- */

/** The render parameters of `stack` under `cfg` (borrowed pointers). */
void ferry_stack_render_params(ferry_render_params *out, const ferry_reconcile_config *cfg,
			       const ferry_stack *stack);

/**
 * Render the stack's sources checked out in `dir` (the stack's `path`
 * already applied) with ferry_render_dir (render.h). With require-digests,
 * an image without a digest is FERRY_EVERIFY naming the image and its
 * object. On the podman and compose runtimes the workload policy runs on
 * the rendered objects: what it refuses is FERRY_EVERIFY with
 * `out->refused` set, naming each object and rule; what the stack's
 * exceptions allowed is listed in `out->exceptions`. On failure `out` is
 * disposed except for `refused`.
 */
int ferry_stack_render(ferry_rendered *out, const ferry_reconcile_config *cfg,
		       const ferry_stack *stack, const char *dir);

/* ---- sources (source.c) ------------------------------------------------- */

typedef struct {
	char id[72];              /* commit (40 hex) or "sha256:<64 hex>" */
	char *bundle_id;          /* the import that brought it, or NULL */
	char *channel;
	int64_t sequence;         /* 0 when unknown */
} ferry_revision;

void ferry_revision_dispose(ferry_revision *rev);


/**
 * Resolve the stack's source to a revision: the branch's or tag's commit,
 * the pinned commit (which must exist in the repository), or the OCI
 * reference's digest. FERRY_ENOTFOUND names the repository and the ref.
 */
int ferry_source_resolve(ferry_revision *out, ferry_store *st,
			 const ferry_stack *stack);
/** Fill in the bundle, channel and sequence that brought `rev->id`. */
int ferry_source_provenance(ferry_revision *rev, ferry_store *st,
			    const ferry_stack *stack);
/* The directory, inside the one rendered, that a stack's `chart` is
 * written to. */
#define FERRY_STACK_CHART_DIR ".ferry-chart"

/**
 * Write the stack's source at revision `id` into the new directory `dir`
 * (a tree walk for git, the artifact's layers for OCI). `*sub` gets the
 * directory to render (`dir` plus the stack's path; caller frees). A
 * stack's `chart` (resolved in the store now) is written under
 * `*sub`/FERRY_STACK_CHART_DIR; a source path that holds that name is
 * FERRY_EINVALID.
 */
int ferry_source_checkout(char **sub, ferry_store *st,
			  const ferry_stack *stack, const char *id, const char *dir);
/**
 * Nonzero in `*frozen` when the stack's freeze file exists at revision
 * `id`; `reason` gets its first line (or a default text).
 */
int ferry_source_frozen(int *frozen, ferry_buf *reason, ferry_store *st,
			const ferry_stack *stack, const char *id);

/* ---- pre-flight (preflight.c): are the images where the runtime pulls? -- */

/*
 * Before every apply the rendered images are looked for where the runtime
 * will pull them, as the config's `preflight` section says: an image whose
 * registry host is one of `mirror` must be in this store (the mirror serves
 * the store: a tag, or a manifest by digest, of that repository); one whose
 * host is one of `registries` must answer a HEAD of its manifest there. An
 * image on any other host is not checked (listed as such). A missing image
 * blocks the apply; the running workload is left alone.
 */
typedef enum {
	FERRY_PREFLIGHT_PRESENT = 0,
	FERRY_PREFLIGHT_MISSING = 1,
	FERRY_PREFLIGHT_UNCHECKED = 2
} ferry_preflight_status;

typedef struct {
	char *image;              /* as the rendered documents write it */
	char *where;              /* "FILE: Kind/name" of its first use */
	char *place;              /* "store" or "registry HOST"; NULL when unchecked */
	char *why;                /* missing: what was not found; unchecked: why not */
	ferry_preflight_status status;
} ferry_preflight_image;

typedef struct {
	ferry_preflight_image *images;
	size_t nimages, alloc;
	size_t missing, unchecked;
} ferry_preflight;

/** "present", "missing" or "unchecked". */
const char *ferry_preflight_status_name(ferry_preflight_status s);
void ferry_preflight_dispose(ferry_preflight *p);

/**
 * Check every image of `r` (see above) into `out` (initialised here, the
 * caller disposes it also on failure). `db`, when not NULL, is held
 * around each use of `st` (not around network requests). A registry that
 * cannot be asked counts the image missing, with the error as `why`.
 * Errors: FERRY_ENOMEM only; what is missing is in `out->missing`.
 */
int ferry_preflight_check(ferry_preflight *out, const ferry_reconcile_config *cfg,
			  ferry_store *st, const ferry_rendered *r, pthread_mutex_t *db);

/**
 * One line for the audit event and the operator, appended to `out`: each
 * missing image with the workload that uses it and where it should have
 * come from, and the bundle that brought the revision (`rev`: its bundle,
 * channel and sequence, when known), which did not carry it.
 */
int ferry_preflight_message(ferry_buf *out, const ferry_preflight *p, const char *stack,
			    const ferry_revision *rev);

/** The result as a JSON object {"stack", "revision", "bundle", "channel",
 *  "sequence", "missing", "unchecked", "images": [{"image", "where",
 *  "status", "place", "why"}]}; NULL when out of memory. */
json_t *ferry_preflight_json(const ferry_preflight *p, const char *stack,
			     const ferry_revision *rev);

/* ---- runtimes (runtime.c): where stacks are deployed ------------------ */

typedef struct {
	int dry_run;              /* print the commands, change nothing */
	FILE *out;                /* where dry-run commands go */
} ferry_runtime_options;

/**
 * Apply rendered manifests saved at `file`: images are pulled first so a
 * missing image leaves the running workload untouched. With the stack's
 * prune policy, workloads of the stack not in `r` are removed. `log`
 * collects what ran.
 */
int ferry_runtime_apply(const ferry_reconcile_config *cfg, const ferry_stack *stack,
		       const ferry_rendered *r, const char *file,
		       const ferry_runtime_options *opts, ferry_buf *log);
/**
 * Compare the live state with what was applied (`file`, `expected` JSON of
 * workloads as ferry_workloads_to_json writes). `*drift` nonzero and a
 * human-readable `detail` when they differ; `*checked` zero when the
 * runtime cannot tell.
 */
int ferry_runtime_drift(int *drift, int *checked, ferry_buf *detail,
		       const ferry_reconcile_config *cfg, const ferry_stack *stack,
		       const char *expected, const char *file,
		       const ferry_runtime_options *opts);
/** Remove what the stack deployed from `file`. */
int ferry_runtime_down(const ferry_reconcile_config *cfg, const ferry_stack *stack,
		      const char *file, const ferry_runtime_options *opts, ferry_buf *log);
/** How far the rollout of applied workloads is, worst last. */
typedef enum {
	FERRY_ROLLOUT_NONE = 0,         /* no Deployment, StatefulSet or DaemonSet */
	FERRY_ROLLOUT_READY = 1,        /* every one rolled out and available */
	FERRY_ROLLOUT_PROGRESSING = 2,  /* still rolling out (or never observed) */
	FERRY_ROLLOUT_FAILED = 3        /* a Deployment exceeded its progress deadline */
} ferry_rollout;

/** "ready", "progressing", "failed" or "none". */
const char *ferry_rollout_name(ferry_rollout st);
/**
 * The rollout of one live object (a Deployment, StatefulSet or DaemonSet
 * as `kubectl get -o json` shows it), judged as `kubectl rollout status`
 * does; what it waits for goes into `why`. FERRY_ROLLOUT_NONE for any
 * other kind. Never fails.
 */
ferry_rollout ferry_runtime__rollout(ferry_buf *why, json_t *obj);
/**
 * The health of what the kubernetes runtime applied from `file`: reads the
 * live objects with `kubectl get -f FILE -o json` and waits up to `timeout`
 * seconds (0: one look) while any workload is still progressing. `*state`
 * gets the worst; a line "rollout STATE ..." naming each workload that is
 * not ready is appended to `detail`. Other runtimes and dry-run: NONE and
 * nothing appended. An error (kubectl failed, unreadable output) is
 * FERRY_ERROR or FERRY_EINVALID with the message set.
 */
int ferry_runtime_health(ferry_rollout *state, ferry_buf *detail,
			 const ferry_reconcile_config *cfg, const ferry_stack *stack,
			 const char *file, int64_t timeout, const ferry_runtime_options *opts);
/** Forget the cached live-state snapshot (after an apply elsewhere). */
void ferry_runtime_invalidate(void);


/* ---- the engine (engine.c, audit.c) ------------------------------------- */

typedef struct ferry_reconciler ferry_reconciler;

typedef enum {
	FERRY_TRIGGER_POLL = 0,
	FERRY_TRIGGER_WEBHOOK = 1,
	FERRY_TRIGGER_MANUAL = 2,
	FERRY_TRIGGER_ROLLBACK = 3,
	FERRY_TRIGGER_DOWN = 4,
	FERRY_TRIGGER_SUSPEND = 5,
	FERRY_TRIGGER_RESUME = 6,
	FERRY_TRIGGER_RELOAD = 7  /* the config was reloaded (SIGHUP) */
} ferry_trigger;

const char *ferry_trigger_name(ferry_trigger t);

typedef struct {
	unsigned version;
	const char *store;        /* overrides the config's store */
	int dry_run;
	FILE *out;                /* dry-run output (stdout) */
	FILE *audit_stream;       /* JSON lines also here (overrides audit-log) */
	const char *port_file;    /* run: write the webhook's port here */
	const char *config_path;  /* the config file a reload reads, or NULL */
	volatile int *reload;     /* run: a reload is due when nonzero (SIGHUP) */
	int no_audit_log;         /* open no audit log (a reader: the console) */
} ferry_reconciler_options;

#define FERRY_RECONCILER_OPTIONS_VERSION 1
#define FERRY_RECONCILER_OPTIONS_INIT \
	{ FERRY_RECONCILER_OPTIONS_VERSION, NULL, 0, NULL, NULL, NULL, NULL, NULL, 0 }

/** In the state directory: the running daemon's pid, locked while it runs. */
#define FERRY_RECONCILER_PID_FILE "daemon.pid"

/** Open the store and the audit stream for `cfg` (borrowed; must outlive). */
int ferry_reconciler_new(ferry_reconciler **out, const ferry_reconcile_config *cfg,
			 const ferry_reconciler_options *opts);
void ferry_reconciler_free(ferry_reconciler *rc);

/** The outcome of one cycle. */
typedef struct {
	const char *outcome;      /* applied, unchanged, out-of-sync, drift-reported,
				     frozen, failed, refused, blocked (the
				     pre-flight found an image missing), dry-run,
				     held, removed,
				     suspended (a poll or webhook of a suspended
				     stack: nothing ran, nothing was recorded) */
	int drift;
	char revision[72];
	char *message;            /* one line for the operator; caller frees */
	int applied;              /* nonzero when the cycle rendered and applied */
	double apply_seconds;     /* how long that took (checkout, render, apply) */
} ferry_cycle_result;

void ferry_cycle_result_dispose(ferry_cycle_result *r);

/**
 * Run one cycle of `stack` (see the file comment). `to` is the revision
 * for a rollback (NULL: the one applied before the current one). Never two
 * cycles of one stack at once, across threads and processes (a lock file
 * per stack). A failed render or apply is an event with outcome "failed"
 * and a negative return; the running workload is left as it was.
 * A poll, webhook or reload cycle of a suspended stack does nothing (outcome
 * "suspended", no event); an operator's sync, rollback or down still runs.
 * A successful down suspends the stack, so the daemon does not bring it
 * back (`ferry reconcile resume` does). `reason` (NULL: none) is the
 * operator's, recorded with the event; see ferry_reason_check().
 */
int ferry_reconcile_cycle(ferry_cycle_result *out, ferry_reconciler *rc,
			  const ferry_stack *stack, ferry_trigger trigger,
			  const char *actor, const char *to, const char *reason);

/**
 * The daemon: poll each stack at its interval, serve the webhook when the
 * config has `listen`, until `*stop` becomes nonzero (set it from a signal
 * handler). With `once`, one round over every stack and return.
 */
int ferry_reconciler_run(ferry_reconciler *rc, volatile int *stop, int once,
			 unsigned workers);

/**
 * Read the config again (options' config_path) and make it the running
 * one: added and changed stacks get a cycle now (trigger reload; a changed
 * stack applies again even at the same revision), removed ones are
 * forgotten (what they deployed stays: `down` it first). Waits for running
 * cycles to end. A config that does not load, or that changes store,
 * state-dir, listen or audit-log, is rejected (FERRY_EINVALID or the load's
 * error) and the running one kept. Every outcome is an audit event with
 * trigger "reload": config-added, config-changed, config-removed per stack,
 * config-rejected for stack "*" with the error. Not thread-safe against
 * itself: call it from the thread that called ferry_reconciler_run (which
 * does so when the `reload` flag is set).
 */
int ferry_reconciler_reload(ferry_reconciler *rc, const char *actor);

/**
 * Send `sig` to the daemon running on this reconciler's state directory
 * (the pid in FERRY_RECONCILER_PID_FILE, only while the daemon holds its
 * lock); `*pid` gets its pid. FERRY_ENOTFOUND when no daemon runs.
 */
int ferry_reconciler_signal_daemon(long *pid, ferry_reconciler *rc, int sig);

/**
 * Send `request` ({"op": sync | rollback | down | suspend | resume |
 * reload | plan, "stack", "to", "reason", "actor"}) to the daemon running
 * on rc's state directory over its control socket (control.h) and wait for
 * the answer (`*reply`, owned by the caller: {"ok": true, ...} or
 * {"ok": false, "error", "code"}) at most `timeout_s` seconds (0: no
 * limit). FERRY_ENOTFOUND when no daemon listens; FERRY_EIO when it does
 * not answer in time.
 */
int ferry_reconciler_control(json_t **reply, ferry_reconciler *rc, json_t *request,
			     unsigned timeout_s);

/**
 * The daemon's metrics in the Prometheus text format (0.0.4), appended to
 * `out`: per stack the cycles by outcome (ferry_reconcile_sync_total), the
 * last success, drift and suspended gauges and the apply duration
 * histogram, plus the stacks and config reloads. Counters count this
 * daemon's cycles since it started (not an operator's `sync`); the
 * suspended gauge is read from the store. Call while the config cannot be
 * swapped (the webhook's lock, or no daemon running).
 */
int ferry_reconciler_metrics(ferry_buf *out, ferry_reconciler *rc);
/**
 * Nonzero when every stack of the running config has had a cycle since
 * the daemon started (or the reload that added it); `*pending` counts the
 * others.
 */
int ferry_reconciler_ready(size_t *pending, ferry_reconciler *rc);

/** Ask the daemon to run a cycle of stack `index` (or every stack: -1). */
int ferry_reconciler_trigger(ferry_reconciler *rc, long index, ferry_trigger trigger,
			     const char *actor);

/**
 * Suspend `stack` (nonzero `suspend`) or resume it, as `actor` with
 * `reason` (may be NULL), recorded as an audit event (trigger suspend or
 * resume). Waits for a running cycle of the stack to end, so none starts
 * an apply after this returns. Resuming a stack that is not suspended is
 * FERRY_ENOTFOUND.
 */
int ferry_reconciler_suspend(ferry_reconciler *rc, const ferry_stack *stack, int suspend,
			     const char *actor, const char *reason);

/**
 * `ferry reconcile check`: render the revision the next cycle of `stack`
 * would apply (a rollback hold, or the source's current revision) in a
 * work directory of its own and run the pre-flight on it, touching
 * neither the target nor the stack's state, so it runs beside a daemon.
 * `rev` gets the revision (dispose it), `out` the result (dispose it).
 * Errors: those of resolving, checking out and rendering.
 */
int ferry_reconciler_check(ferry_preflight *out, ferry_revision *rev, ferry_reconciler *rc,
			   const ferry_stack *stack);

/**
 * What the next sync of `stack` would change, as JSON, as the daemon's
 * `plan` answer carries it and the console shows it: {"preflight":
 * ferry_preflight_json of ferry_reconciler_check, "diff": [the lines of the
 * unified diff (diff -u) from the manifests last applied (none: an empty
 * file) to the ones rendered now, each escaped as for a terminal],
 * "truncated": true when the escaped lines would pass `max_diff` bytes}.
 * Runs beside a daemon and changes nothing. Errors: those of
 * ferry_reconciler_check, FERRY_ENOTFOUND when diff(1) is not installed.
 */
int ferry_reconciler_plan_json(json_t **out, ferry_reconciler *rc, const ferry_stack *stack,
			       size_t max_diff);

/** The status table, one row per stack (text or JSON array). */
int ferry_reconciler_status(ferry_buf *out, ferry_reconciler *rc, int json);
/** The same for stack `only` (NULL: every stack); an empty table or array
 *  when there is no such stack. */
int ferry_reconciler_status_of(ferry_buf *out, ferry_reconciler *rc, int json,
			       const char *only);
/** The audit events of `stack` (all stacks: NULL), newest last. */
int ferry_reconciler_history(ferry_buf *out, ferry_reconciler *rc, const char *stack,
			     size_t limit, int json);

/* ---- audit (audit.c) ---------------------------------------------------- */

/*
 * Events and per-stack state are records of the store (store/stacks.h);
 * the reconciler adds the JSON line for a SIEM.
 */
/**
 * The JSON object of `ev`: `lead` first (taking ownership of `lead_value`:
 * "event" for the audit line, "id" for history), then the event's fields
 * time, stack, trigger, actor, source, ref, revision, images, bundle,
 * channel, sequence, target, outcome, drift, detail, error and reason
 * (absent values as null). A new reference, or NULL when out of memory.
 */
json_t *ferry_audit__event_json(const ferry_store_stack_event *ev, const char *lead,
				json_t *lead_value);
/** Record `ev` in the store and write it as a JSON line to `stream` (or NULL). */
int ferry_audit_record(ferry_store *st, FILE *stream, const ferry_store_stack_event *ev);

/** The longest reason an operator may give, in bytes. */
#define FERRY_REASON_MAX 256
/**
 * 0 when `reason` may be recorded as an operator's reason (a sync,
 * rollback, down or suspension): 1 to FERRY_REASON_MAX bytes of valid
 * UTF-8 without control characters, so that it reads the same in a
 * terminal, a log line and the audit table. FERRY_EINVALID otherwise.
 */
int ferry_reason_check(const char *reason);

#endif
