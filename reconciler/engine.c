/*
 * The reconcile cycle and the daemon around it.
 *
 * A cycle: take the stack's lock (a lock file, so a daemon and an
 * operator's `ferry reconcile sync` never run one stack twice at once),
 * resolve the source to a revision, compare it with the revision applied
 * and the live state with what was applied (drift), decide from the policy
 * and the trigger, check the freeze file, then check out, render, check
 * and apply. Whatever happens is one audit event. Nothing touches the
 * target before the render and its checks passed and the images were
 * pulled, so a failing cycle leaves the running workload as it was; the
 * next trigger tries again because the applied revision did not move.
 *
 * The daemon runs cycles on a few worker threads: each stack is due at its
 * interval or when a webhook asked for it, and a stack already running is
 * skipped until its cycle ends. SIGTERM (through `*stop`) lets running
 * cycles finish and then returns.
 *
 * A reload (SIGHUP, through the options' `reload` flag) parses the config
 * again first and keeps the running one when the new one is broken or
 * changes what only a restart can (store, state-dir, listen, audit-log).
 * Otherwise it pauses the workers, waits for running cycles to end, swaps
 * the config under the daemon's and the webhook's locks, and queues a
 * cycle of each added or changed stack; each change, and a rejection, is
 * an audit event. A running daemon holds a lock on <state-dir>/daemon.pid,
 * which names it: `ferry reconcile reload` signals the pid found there
 * only while that lock is held, so a stale file signals nobody.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <jansson.h>
#include <sodium.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "digest.h"
#include "fs.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "reconcile.h"
#include "util.h"
#include "webhook.h"
#include "control.h"
#include "banned.h"

typedef struct {
	int running, pending, done;
	int cycled;                   /* a cycle ended since the daemon started */
	ferry_trigger trigger;
	char actor[160];
	char to[72];                  /* a rollback's target, or "" */
	char reason[FERRY_REASON_MAX + 1];   /* the operator's reason, or "" */
	int64_t next_poll;
} stack_rt;

/* The outcomes /metrics counts (ferry_cycle_result.outcome), and the
 * buckets of the apply duration histogram, in seconds. */
static const char *const metric_outcomes[] = {
	"applied", "unchanged", "out-of-sync", "drift-reported", "frozen", "held",
	"failed", "refused", "blocked", "removed", "suspended", "dry-run"
};
#define NOUTCOMES (sizeof(metric_outcomes) / sizeof(metric_outcomes[0]))
static const double metric_buckets[] = { 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300 };
#define NBUCKETS (sizeof(metric_buckets) / sizeof(metric_buckets[0]))

/* What the daemon's cycles of one stack did, for /metrics. */
typedef struct {
	char name[FERRY_STACK_NAME_MAX + 1];
	uint64_t outcomes[NOUTCOMES];
	int64_t last_success;         /* Unix seconds of the last applied or unchanged */
	int drift;
	uint64_t buckets[NBUCKETS], count;
	double sum;
	ferry_health health;          /* what notifications last said (health_notify.h) */
	/* Cycles asked for over the control socket: `ticket` counts the asks,
	 * `served` is the ticket the last finished cycle answered, `last` its
	 * result (error: its code, message the error's). */
	uint64_t ticket, served;
	struct {
		int error;
		char outcome[24], revision[72];
		char *message;
	} last;
} stack_metrics;

struct ferry_reconciler {
	const ferry_reconcile_config *cfg;   /* the caller's, or `owned` after a reload */
	ferry_reconcile_config *owned;
	char *config_path;            /* what a reload reads, or NULL */
	volatile int *reload;         /* set (by SIGHUP) to ask for a reload */
	ferry_webhook *hook;
	ferry_store *st;
	char *state_dir;
	FILE *audit;
	int own_audit;
	int dry_run;
	FILE *out;
	pthread_mutex_t db;           /* one connection, used by one thread at a time */
	pthread_mutex_t lock;         /* the fields below */
	pthread_cond_t cond;
	stack_rt *rt;
	int quit, once, paused;
	size_t ndone;
	stack_metrics *metrics;       /* by stack name, kept across reloads */
	size_t nmetrics;
	uint64_t reloads[2];          /* accepted, rejected */
	uint64_t notified[2];         /* deliveries: sent, failed */
	char *port_file;
	ferry_control *control;
	pthread_rwlock_t cfg_rw;      /* a reload (writer) against a control request using a stack */
	int reload_asked;             /* by the control socket */
	char reload_actor[128];       /* who asked */
	uint64_t reload_gen;          /* reloads done (accepted or not) */
	char *reload_error;           /* the last one's error, or NULL */
};

const char *ferry_trigger_name(ferry_trigger t)
{
	static const char *const names[] = { "poll", "webhook", "manual", "rollback", "down",
					     "suspend", "resume", "reload" };

	return t <= FERRY_TRIGGER_RELOAD ? names[t] : "unknown";
}

void ferry_cycle_result_dispose(ferry_cycle_result *r)
{
	free(r->message);
	memset(r, 0, sizeof(*r));
}

int ferry_reconciler_new(ferry_reconciler **out, const ferry_reconcile_config *cfg,
			 const ferry_reconciler_options *opts)
{
	ferry_reconciler *rc = calloc(1, sizeof(*rc));
	ferry_buf dir = FERRY_BUF_INIT;
	const char *store = opts && opts->store ? opts->store : cfg->store;
	int error;

	*out = NULL;
	if (!rc || !(rc->rt = calloc(cfg->nstacks ? cfg->nstacks : 1, sizeof(*rc->rt)))) {
		free(rc);
		return ferry_error_oom();
	}
	rc->cfg = cfg;
	rc->dry_run = opts ? opts->dry_run : 0;
	rc->out = opts && opts->out ? opts->out : stdout;
	if ((opts && opts->port_file && !(rc->port_file = strdup(opts->port_file))) ||
	    (opts && opts->config_path && !(rc->config_path = strdup(opts->config_path)))) {
		free(rc->port_file);
		free(rc->rt);
		free(rc);
		return ferry_error_oom();
	}
	rc->reload = opts ? opts->reload : NULL;
	pthread_mutex_init(&rc->db, NULL);
	pthread_mutex_init(&rc->lock, NULL);
	pthread_cond_init(&rc->cond, NULL);
	pthread_rwlock_init(&rc->cfg_rw, NULL);
	git_libgit2_init();
	if (!store)
		store = FERRY_STORE_DEFAULT;
	if ((error = ferry_store_open(&rc->st, store, FERRY_STORE_READ, 0)) < 0)
		goto fail;
	if ((error = cfg->state_dir ? ferry_buf_puts(&dir, cfg->state_dir)
				    : ferry_buf_printf(&dir, "%s/reconcile", store)) < 0 ||
	    (error = ferry_fs_mkdir_p(dir.ptr, 0700)) < 0)
		goto fail;
	rc->state_dir = ferry_buf_detach(&dir);
	if (opts && opts->audit_stream) {
		rc->audit = opts->audit_stream;
	} else if (opts && opts->no_audit_log) {
		;
	} else if (cfg->audit_log && !strcmp(cfg->audit_log, "-")) {
		rc->audit = stdout;
	} else if (cfg->audit_log) {
		if (!(rc->audit = fopen(cfg->audit_log, "ae"))) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", cfg->audit_log);
			goto fail;
		}
		rc->own_audit = 1;
	}
	*out = rc;
	return 0;
fail:
	ferry_buf_dispose(&dir);
	ferry_reconciler_free(rc);
	return error;
}

void ferry_reconciler_free(ferry_reconciler *rc)
{
	if (!rc)
		return;
	if (rc->own_audit)
		fclose(rc->audit);
	ferry_store_close(rc->st);
	free(rc->state_dir);
	free(rc->port_file);
	free(rc->config_path);
	for (size_t i = 0; i < rc->nmetrics; i++)
		free(rc->metrics[i].last.message);
	free(rc->metrics);
	free(rc->reload_error);
	ferry_reconcile_config_free(rc->owned);
	free(rc->rt);
	pthread_rwlock_destroy(&rc->cfg_rw);
	pthread_mutex_destroy(&rc->db);
	pthread_mutex_destroy(&rc->lock);
	pthread_cond_destroy(&rc->cond);
	ferry_runtime_invalidate();
	git_libgit2_shutdown();
	free(rc);
}

/* ---- one cycle ----------------------------------------------------------- */

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
	return mono_us() / 1000;
}

static int stack_lock(int *fd, ferry_reconciler *rc, const ferry_stack *stack)
{
	ferry_buf path = FERRY_BUF_INIT;
	int error = 0;

	if ((error = ferry_buf_printf(&path, "%s/%s.lock", rc->state_dir, stack->name)) < 0)
		return error;
	if ((*fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", path.ptr);
	else
		while (flock(*fd, LOCK_EX) < 0)
			if (errno != EINTR) {
				error = ferry_error_set_errno(FERRY_EIO, "cannot lock '%s'", path.ptr);
				close(*fd);
				*fd = -1;
				break;
			}
	ferry_buf_dispose(&path);
	return error;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char *images_json(const ferry_rendered *r)
{
	json_t *a = json_array();
	char *text;
	size_t i;

	for (i = 0; i < r->nimages; i++)
		json_array_append_new(a, json_string(r->images[i]));
	text = ferry_json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return text;
}

/* The event's source: "git:<repo>" or "oci:<reference>". */
static int stack_source(ferry_buf *out, const ferry_stack *stack)
{
	if (stack->source == FERRY_SRC_GIT)
		return ferry_buf_printf(out, "git:%s", stack->repo);
	return ferry_buf_printf(out, "oci:%s", stack->ref);
}

static const char *runtime_name(ferry_runtime_kind t)
{
	return t == FERRY_RUNTIME_PODMAN ? "podman" : t == FERRY_RUNTIME_KUBERNETES ? "kubernetes"
										 : "compose";
}

/* Is `rev` a revision this stack applied before? (full id into `full`):
 * 1 yes, 0 no, < 0 error. */
static int recorded_revision(ferry_reconciler *rc, const ferry_stack *stack, const char *rev,
			     char full[72])
{
	int error = ferry_store_stack_applied_revision(full, rc->st, stack->name, rev);

	if (error == FERRY_ENOTFOUND)
		return 0;
	return error < 0 ? error : 1;
}

/* Check out `rev` into the new directory <state-dir>/<stack>.<suffix> and
 * render it into `r`; the directory is removed again. */
static int render_revision(ferry_reconciler *rc, const ferry_stack *stack, const char *rev,
			   const char *suffix, ferry_rendered *r)
{
	ferry_buf work = FERRY_BUF_INIT;
	char *sub = NULL;
	int error;

	memset(r, 0, sizeof(*r));
	if ((error = ferry_buf_printf(&work, "%s/%s.%s", rc->state_dir, stack->name, suffix)) < 0)
		goto done;
	if (ferry_fs_exists(work.ptr) && (error = ferry_fs_remove_tree(work.ptr)) < 0)
		goto done;
	pthread_mutex_lock(&rc->db);
	error = ferry_source_checkout(&sub, rc->st, stack, rev, work.ptr);
	pthread_mutex_unlock(&rc->db);
	if (error == 0)
		error = ferry_stack_render(r, rc->cfg, stack, sub);
done:
	if (work.ptr && ferry_fs_exists(work.ptr))
		ferry_fs_remove_tree(work.ptr);
	free(sub);
	ferry_buf_dispose(&work);
	return error;
}

/* Check out, render, check (the pre-flight: `*blocked` nonzero when an
 * image is missing) and apply `rev`; fills `r` and `file`. */
static int deploy(ferry_reconciler *rc, const ferry_stack *stack, const ferry_revision *revision,
		  ferry_rendered *r, ferry_buf *file, ferry_buf *log, int *blocked)
{
	ferry_runtime_options topts = { rc->dry_run, rc->out };
	ferry_preflight pf;
	ferry_buf why = FERRY_BUF_INIT;
	const char *rev = revision->id;
	int error;

	*blocked = 0;
	memset(&pf, 0, sizeof(pf));
	if ((error = render_revision(rc, stack, rev, "work", r)) < 0)
		goto done;
	/* the audit event says which renderer rendered (helm's version) */
	if (r->renderer && (error = ferry_buf_printf(log, "rendered with %s\n", r->renderer)) < 0)
		goto done;
	/* Nothing reaches the target before every image is where it pulls. */
	if ((error = ferry_preflight_check(&pf, rc->cfg, rc->st, r, &rc->db)) < 0)
		goto done;
	if (pf.missing) {
		*blocked = 1;
		if ((error = ferry_preflight_message(&why, &pf, stack->name, revision)) == 0)
			error = ferry_error_set(FERRY_EVERIFY, "stack '%s': %s", stack->name,
						why.ptr);
		goto done;
	}
	if ((error = ferry_buf_printf(file, "%s/%s-%.12s.%s", rc->state_dir, stack->name,
				      ferry_oci_digest_hex(rev) ? ferry_oci_digest_hex(rev) : rev,
				      stack->format == FERRY_FMT_COMPOSE ? "compose.yaml"
									  : "yaml")) < 0 ||
	    (error = ferry_fs_write_atomic(file->ptr, r->yaml.ptr ? r->yaml.ptr : "", r->yaml.size,
					   0600)) < 0)
		goto done;
	if (rc->dry_run)
		fprintf(rc->out, "# stack %s: revision %s rendered to %s (%zu image(s)%s%s)\n",
			stack->name, rev, file->ptr, r->nimages, r->renderer ? ", " : "",
			r->renderer ? r->renderer : "");
	error = ferry_runtime_apply(rc->cfg, stack, r, file->ptr, &topts, log);
done:
	ferry_preflight_dispose(&pf);
	ferry_buf_dispose(&why);
	return error;
}

int ferry_reconcile_cycle(ferry_cycle_result *out, ferry_reconciler *rc,
			  const ferry_stack *stack, ferry_trigger trigger, const char *actor,
			  const char *to, const char *reason)
{
	ferry_store_stack_state s;
	ferry_revision rev;
	ferry_rendered r;
	ferry_buf detail = FERRY_BUF_INIT, file = FERRY_BUF_INIT, log = FERRY_BUF_INIT,
		  err = FERRY_BUF_INIT, source = FERRY_BUF_INIT, msg = FERRY_BUF_INIT,
		  health = FERRY_BUF_INIT;
	ferry_rollout rollout = FERRY_ROLLOUT_NONE;
	ferry_runtime_options topts = { rc->dry_run, rc->out };
	ferry_store_stack_event ev;
	char *images = NULL, *expected = NULL;
	const char *outcome = "unchanged";
	int fd = -1, error = 0, drift = 0, checked = 0, changed, redo, apply = 0, rerr;
	int64_t now = (int64_t)time(NULL);

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	memset(&rev, 0, sizeof(rev));
	memset(&r, 0, sizeof(r));
	memset(&ev, 0, sizeof(ev));
	if ((error = stack_lock(&fd, rc, stack)) < 0)
		return error;
	pthread_mutex_lock(&rc->db);
	error = ferry_store_stack_state_load(&s, rc->st, stack->name);
	pthread_mutex_unlock(&rc->db);
	if (error < 0)
		goto unlock;
	if (trigger == FERRY_TRIGGER_POLL || trigger == FERRY_TRIGGER_WEBHOOK ||
	    trigger == FERRY_TRIGGER_RELOAD) {
		int suspended = 0;

		pthread_mutex_lock(&rc->db);
		error = ferry_store_stack_suspension_load(&suspended, NULL, rc->st, stack->name);
		pthread_mutex_unlock(&rc->db);
		if (error < 0)
			goto unlock;
		if (suspended) {
			outcome = "suspended";
			goto unlock;
		}
	}
	/* the event's source is what a revision's provenance is looked up by */
	if ((error = stack_source(&source, stack)) < 0)
		goto unlock;

	/* What should run. */
	if (trigger == FERRY_TRIGGER_DOWN) {
		if (!s.applied || !s.file) {
			error = ferry_error_set(FERRY_ENOTFOUND, "stack '%s' has nothing deployed",
						stack->name);
			goto unlock;
		}
		snprintf(rev.id, sizeof(rev.id), "%s", s.applied);
		if ((error = ferry_runtime_down(rc->cfg, stack, s.file, &topts, &log)) < 0) {
			outcome = "failed";
			goto record;
		}
		outcome = "removed";
		goto record;
	}
	if (trigger == FERRY_TRIGGER_ROLLBACK) {
		const char *want = to ? to : s.previous;
		int found;

		if (!want) {
			error = ferry_error_set(FERRY_ENOTFOUND,
						"stack '%s' has no earlier revision to roll back to",
						stack->name);
			goto unlock;
		}
		pthread_mutex_lock(&rc->db);
		found = recorded_revision(rc, stack, want, rev.id);
		pthread_mutex_unlock(&rc->db);
		if (found <= 0) {
			error = found < 0 ? found
					  : ferry_error_set(FERRY_ENOTFOUND,
							    "stack '%s' never applied a revision %s",
							    stack->name, want);
			goto unlock;
		}
	} else if (s.hold && trigger != FERRY_TRIGGER_MANUAL) {
		snprintf(rev.id, sizeof(rev.id), "%s", s.hold);
	} else {
		pthread_mutex_lock(&rc->db);
		error = ferry_source_resolve(&rev, rc->st, stack);
		pthread_mutex_unlock(&rc->db);
		if (error < 0) {
			outcome = "failed";
			goto record;
		}
	}
	pthread_mutex_lock(&rc->db);
	ferry_source_provenance(&rev, rc->st, stack);
	pthread_mutex_unlock(&rc->db);
	ferry_error_clear();
	changed = !s.applied || strcmp(s.applied, rev.id);
	/* The stack's definition changed: apply it again as if its source had. */
	redo = trigger == FERRY_TRIGGER_RELOAD && !changed;

	/* Drift: the live state against what was applied. */
	if (s.applied && !rc->dry_run) {
		rerr = ferry_runtime_drift(&drift, &checked, &detail, rc->cfg, stack, s.expected,
					  s.file, &topts);
		if (rerr < 0) {
			ferry_buf_printf_best_effort(&detail, "%sdrift check failed: %s",
						     detail.size ? "; " : "", ferry_error_last());
			ferry_error_clear();
		}
	}

	/* Decide. */
	if (trigger == FERRY_TRIGGER_MANUAL || trigger == FERRY_TRIGGER_ROLLBACK) {
		apply = 1;
	} else if (changed || redo) {
		apply = stack->auto_sync;
		if (!apply)
			outcome = "out-of-sync";
	} else if (drift) {
		apply = stack->auto_sync || stack->always_apply;
		if (!apply)
			outcome = "drift-reported";
	} else if (s.hold) {
		outcome = "held";
	}
	if (apply && trigger != FERRY_TRIGGER_ROLLBACK && stack->freeze_file) {
		ferry_buf why = FERRY_BUF_INIT;
		int frozen = 0;

		pthread_mutex_lock(&rc->db);
		rerr = ferry_source_frozen(&frozen, &why, rc->st, stack, rev.id);
		pthread_mutex_unlock(&rc->db);
		if (rerr == 0 && frozen) {
			apply = 0;
			outcome = "frozen";
			ferry_buf_printf_best_effort(&err,
						     "sync blocked by the freeze file %s at %.12s: %s",
						     stack->freeze_file, rev.id,
						     why.ptr ? why.ptr : "");
			if (trigger == FERRY_TRIGGER_MANUAL)
				error = ferry_error_set(FERRY_EVERIFY, "stack '%s': %s", stack->name,
							err.ptr ? err.ptr
							: "sync blocked by the freeze file");
		}
		ferry_buf_dispose(&why);
	}
	if (apply) {
		int64_t t0 = mono_us();
		int blocked = 0;

		error = deploy(rc, stack, &rev, &r, &file, &log, &blocked);
		out->apply_seconds = (double)(mono_us() - t0) / 1e6;
		out->applied = 1;
		if (error < 0) {
			/* the workload policy's refusal names each object and rule;
			 * the pre-flight's block each missing image */
			outcome = blocked ? "blocked" : r.refused ? "refused" : "failed";
			if (blocked)
				out->applied = 0;
			images = images_json(&r);
			goto record;
		}
		images = images_json(&r);
		if (r.exceptions.size)
			ferry_buf_printf_best_effort(&detail,
						     "%sworkload policy exceptions (%s): %s",
						     detail.size ? "; " : "",
						     stack->workload_reason, r.exceptions.ptr);
		if (rc->dry_run) {
			outcome = "dry-run";
			goto unlock;
		}
		expected = ferry_workloads_to_json(&r);
		outcome = "applied";
		/* Kubernetes: the rollout of what was applied, waited for up to
		 * the stack's rollout-timeout; reported, never a failed apply. */
		if (ferry_runtime_health(&rollout, &health, rc->cfg, stack, file.ptr,
					 stack->rollout_timeout, &topts) < 0) {
			ferry_buf_printf_best_effort(&health, "rollout unknown: %s",
						     ferry_error_last());
			ferry_error_clear();
		}
		if (!changed && drift)
			ferry_buf_printf_best_effort(&detail, "%s", " (corrected)");
		if (changed && s.applied) {
			free(s.previous);
			s.previous = s.applied;
			s.applied = NULL;
		}
		free(s.applied);
		free(s.images);
		free(s.expected);
		free(s.file);
		s.applied = strdup(rev.id);
		s.images = dup_or_null(images);
		s.expected = dup_or_null(expected);
		s.file = dup_or_null(file.ptr);
		s.applied_time = now;
		free(s.hold);
		s.hold = trigger == FERRY_TRIGGER_ROLLBACK && stack->auto_sync ? strdup(rev.id) : NULL;
		if (trigger == FERRY_TRIGGER_MANUAL) {
			free(s.hold);
			s.hold = NULL;
		}
	}
record:
	if (rc->dry_run) {
		if (error < 0)
			goto unlock;
		fprintf(rc->out, "# stack %s: %s at %s%s%s\n", stack->name, outcome, rev.id,
			err.size ? ": " : "", err.size ? err.ptr : "");
		goto unlock;
	}
	if (error < 0 && !err.size)
		ferry_buf_printf_best_effort(&err, "%s", ferry_error_last());
	ev.time = now;
	ev.stack = stack->name;
	ev.trigger = ferry_trigger_name(trigger);
	ev.actor = actor ? actor : "ferry";
	ev.reason = reason;
	ev.source = source.ptr;
	ev.ref = stack->ref;
	ev.revision = rev.id[0] ? rev.id : NULL;
	ev.images = images ? images : s.images;
	ev.bundle_id = rev.bundle_id;
	ev.channel = rev.channel;
	ev.sequence = rev.sequence;
	ev.runtime = runtime_name(stack->runtime);
	ev.outcome = outcome;
	ev.drift = drift;
	if (health.size)
		ferry_buf_printf_best_effort(detail.size ? &detail : &log, "%s%s",
					     detail.size ? "; " : log.size ? "\n" : "", health.ptr);
	ev.detail = detail.size ? detail.ptr : (log.size ? log.ptr : NULL);
	ev.error = err.size ? err.ptr : NULL;
	s.last_cycle = now;
	free(s.outcome);
	s.outcome = strdup(outcome);
	free(s.drift);
	/* the state's drift is its text: a detail that could not be written
	 * still records that there is drift */
	s.drift = drift && strcmp(outcome, "applied")
		  ? strdup(detail.size ? detail.ptr : "drift (its detail could not be kept)") : NULL;
	if (trigger == FERRY_TRIGGER_DOWN && !error) {
		free(s.applied);
		free(s.expected);
		free(s.file);
		s.applied = s.expected = s.file = NULL;
	}
	pthread_mutex_lock(&rc->db);
	rerr = ferry_audit_record(rc->st, rc->audit, &ev);
	if (!rerr)
		rerr = ferry_store_stack_state_save(rc->st, stack->name, &s);
	/* Down stays down: the daemon leaves the stack alone until resumed. */
	if (!rerr && trigger == FERRY_TRIGGER_DOWN && !error)
		rerr = ferry_store_stack_suspend(rc->st, stack->name, ev.actor,
						 reason && *reason ? reason : "down", now);
	pthread_mutex_unlock(&rc->db);
	if (rerr < 0 && !error)
		error = rerr;
unlock:
	if (error < 0 && !strcmp(outcome, "unchanged"))
		outcome = "failed";
	out->outcome = outcome;
	out->drift = drift;
	snprintf(out->revision, sizeof(out->revision), "%s", rev.id);
	if (!strcmp(outcome, "frozen") || !strcmp(outcome, "drift-reported") ||
	    !strcmp(outcome, "out-of-sync") || (!strcmp(outcome, "applied") && drift))
		ferry_buf_printf_best_effort(&msg, "%s",
					     err.size ? err.ptr : detail.ptr ? detail.ptr : "");
	else if (health.size && rollout != FERRY_ROLLOUT_READY)
		ferry_buf_printf_best_effort(&msg, "%s", health.ptr);
	else if (trigger == FERRY_TRIGGER_ROLLBACK && !error)
		ferry_buf_printf_best_effort(&msg, stack->auto_sync
					     ? "auto-sync is on: the stack is held at %.12s; polls "
					       "and webhooks will not move it until 'ferry "
					       "reconcile sync %s'"
					     : "auto-sync is off: %.12s stays until the next "
					       "'ferry reconcile sync %s'", rev.id, stack->name);
	out->message = ferry_buf_detach(&msg);
	if (fd >= 0)
		close(fd);
	ferry_store_stack_state_dispose(&s);
	ferry_revision_dispose(&rev);
	ferry_rendered_dispose(&r);
	free(images);
	free(expected);
	ferry_buf_dispose(&detail);
	ferry_buf_dispose(&file);
	ferry_buf_dispose(&log);
	ferry_buf_dispose(&err);
	ferry_buf_dispose(&source);
	ferry_buf_dispose(&msg);
	ferry_buf_dispose(&health);
	return error;
}

int ferry_reconciler_suspend(ferry_reconciler *rc, const ferry_stack *stack, int suspend,
			     const char *actor, const char *reason)
{
	ferry_store_stack_event ev;
	ferry_buf source = FERRY_BUF_INIT;
	int fd = -1, error;

	if (rc->dry_run) {
		fprintf(rc->out, "# stack %s: would be %s\n", stack->name,
			suspend ? "suspended" : "resumed");
		return 0;
	}
	if ((error = stack_lock(&fd, rc, stack)) < 0)
		return error;
	if ((error = stack_source(&source, stack)) < 0)
		goto done;
	memset(&ev, 0, sizeof(ev));
	ev.time = (int64_t)time(NULL);
	ev.stack = stack->name;
	ev.trigger = ferry_trigger_name(suspend ? FERRY_TRIGGER_SUSPEND : FERRY_TRIGGER_RESUME);
	ev.actor = actor ? actor : "ferry";
	ev.source = source.ptr;
	ev.ref = stack->ref;
	ev.runtime = runtime_name(stack->runtime);
	ev.outcome = suspend ? "suspended" : "resumed";
	ev.detail = reason;
	ev.reason = reason;
	pthread_mutex_lock(&rc->db);
	error = suspend ? ferry_store_stack_suspend(rc->st, stack->name, ev.actor, reason, ev.time)
			: ferry_store_stack_resume(rc->st, stack->name);
	if (!error)
		error = ferry_audit_record(rc->st, rc->audit, &ev);
	pthread_mutex_unlock(&rc->db);
done:
	close(fd);
	ferry_buf_dispose(&source);
	return error;
}

/* ---- the daemon ---------------------------------------------------------- */

/* An operator's cycle (sync, rollback, down) is not turned into a
 * webhook's or a poll's by a trigger that arrives before it starts. */
static int trigger_rank(ferry_trigger t)
{
	return t == FERRY_TRIGGER_MANUAL || t == FERRY_TRIGGER_ROLLBACK ||
	       t == FERRY_TRIGGER_DOWN ? 2 : t == FERRY_TRIGGER_RELOAD ? 1 : 0;
}

/* Queue a cycle of stack `index` (-1: every stack); `to` a rollback's
 * target or NULL, `reason` the operator's or NULL; rc->lock held. */
static void queue_cycle(ferry_reconciler *rc, long index, ferry_trigger trigger,
			const char *actor, const char *to, const char *reason)
{
	size_t i;

	for (i = 0; i < rc->cfg->nstacks; i++) {
		stack_rt *t = &rc->rt[i];

		if (index >= 0 && (size_t)index != i)
			continue;
		if (t->pending && trigger_rank(t->trigger) > trigger_rank(trigger))
			continue;
		t->pending = 1;
		t->trigger = trigger;
		snprintf(t->actor, sizeof(t->actor), "%s", actor ? actor : "webhook");
		snprintf(t->to, sizeof(t->to), "%s", to ? to : "");
		snprintf(t->reason, sizeof(t->reason), "%s", reason ? reason : "");
	}
	pthread_cond_broadcast(&rc->cond);
}

int ferry_reconciler_trigger(ferry_reconciler *rc, long index, ferry_trigger trigger,
			     const char *actor)
{
	pthread_mutex_lock(&rc->lock);
	queue_cycle(rc, index, trigger, actor, NULL, NULL);
	pthread_mutex_unlock(&rc->lock);
	return 0;
}

static void webhook_trigger(const char *stack, const char *actor, void *payload)
{
	ferry_reconciler *rc = payload;
	size_t i = 0;

	/* By name: the config may have been reloaded since the webhook read it. */
	pthread_mutex_lock(&rc->lock);
	if (stack)
		while (i < rc->cfg->nstacks && strcmp(rc->cfg->stacks[i].name, stack))
			i++;
	if (!stack || i < rc->cfg->nstacks)
		queue_cycle(rc, stack ? (long)i : -1, FERRY_TRIGGER_WEBHOOK, actor, NULL, NULL);
	pthread_mutex_unlock(&rc->lock);
}


/* The metrics of `name`, created on first use; rc->lock held. NULL when
 * out of memory (the cycle then goes uncounted). */
static stack_metrics *metrics_of(ferry_reconciler *rc, const char *name)
{
	stack_metrics *m;
	size_t i;

	for (i = 0; i < rc->nmetrics; i++)
		if (!strcmp(rc->metrics[i].name, name))
			return &rc->metrics[i];
	if (!(m = realloc(rc->metrics, (rc->nmetrics + 1) * sizeof(*m))))
		return NULL;
	rc->metrics = m;
	m = &rc->metrics[rc->nmetrics++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	return m;
}

/* Count a daemon cycle; rc->lock held. */
static void metrics_count(ferry_reconciler *rc, const char *name, const ferry_cycle_result *res)
{
	stack_metrics *m = metrics_of(rc, name);
	const char *outcome = res->outcome ? res->outcome : "failed";
	size_t i;

	if (!m)
		return;
	for (i = 0; i < NOUTCOMES; i++)
		if (!strcmp(metric_outcomes[i], outcome))
			m->outcomes[i]++;
	if (!strcmp(outcome, "applied") || !strcmp(outcome, "unchanged"))
		m->last_success = (int64_t)time(NULL);
	if (strcmp(outcome, "suspended"))
		m->drift = res->drift;
	if (res->applied) {
		for (i = 0; i < NBUCKETS; i++)
			if (res->apply_seconds <= metric_buckets[i])
				m->buckets[i]++;
		m->count++;
		m->sum += res->apply_seconds;
	}
}

/*
 * Tell the sinks when the cycle changed the stack's health. Runs in the
 * worker while the stack still counts as running, so a reload cannot free
 * the sinks under it.
 */
static void notify(ferry_reconciler *rc, const ferry_stack *stack, const ferry_cycle_result *res)
{
	ferry_notify_event ev;
	stack_metrics *m;
	size_t failed, sent;

	memset(&ev, 0, sizeof(ev));
	pthread_mutex_lock(&rc->lock);
	if ((m = metrics_of(rc, stack->name)))
		ev.event = ferry_notify_transition(&m->health, res->outcome, res->drift);
	pthread_mutex_unlock(&rc->lock);
	if (!ev.event || !rc->cfg->nsinks)
		return;
	ev.stack = stack->name;
	ev.outcome = res->outcome ? res->outcome : "failed";
	ev.revision = res->revision;
	ev.message = res->message;
	ev.time = (long long)time(NULL);
	failed = ferry_notify_send(&sent, rc->cfg->sinks, rc->cfg->nsinks, &ev);
	pthread_mutex_lock(&rc->lock);
	rc->notified[0] += sent;
	rc->notified[1] += failed;
	pthread_mutex_unlock(&rc->lock);
}

/*
 * A restarted daemon carries on from the health each stack's last cycle
 * recorded, so it neither repeats a failure it already notified nor misses
 * the recovery that follows.
 */
static void health_restore(ferry_reconciler *rc)
{
	size_t i;

	for (i = 0; i < rc->cfg->nstacks; i++) {
		const char *name = rc->cfg->stacks[i].name;
		ferry_store_stack_state s;
		stack_metrics *m;
		int error;

		pthread_mutex_lock(&rc->db);
		error = ferry_store_stack_state_load(&s, rc->st, name);
		pthread_mutex_unlock(&rc->db);
		if (!error && s.outcome) {
			pthread_mutex_lock(&rc->lock);
			if ((m = metrics_of(rc, name)) && m->health == FERRY_HEALTH_UNKNOWN)
				ferry_notify_transition(&m->health, s.outcome, s.drift != NULL);
			pthread_mutex_unlock(&rc->lock);
		}
		ferry_store_stack_state_dispose(&s);
		ferry_error_clear();
	}
}

/* The meta key holding one more than the id of the last audit entry whose
 * alarm or rejection went to the sinks (0: the daemon has not started yet). */
#define IMPORT_CURSOR "notify.import-audit"
/* How often the daemon looks for new ones, in milliseconds. */
#define IMPORT_CHECK_MS 2000

/* An alarm or rejection read from the trail, owned. */
typedef struct {
	int64_t id, time;
	unsigned event;
	uint64_t sequence;
	char *channel, *bundle, *reason;
} import_alarm;

typedef struct {
	import_alarm *v;
	size_t n, alloc;
} import_alarms;

#define IMPORT_BATCH 64

static int import_collect(int64_t id, const ferry_store_audit_entry *e, void *payload)
{
	import_alarms *list = payload;
	import_alarm *a;

	int error;

	if ((error = FERRY_ALLOC_GROW(list->v, list->n + 1, list->alloc)) < 0)
		return error;
	a = &list->v[list->n++];
	memset(a, 0, sizeof(*a));
	a->id = id;
	a->time = e->time;
	a->event = !strcmp(e->event, "alarm") ? FERRY_EVENT_IMPORT_ALARM
					       : FERRY_EVENT_IMPORT_REJECTED;
	a->sequence = e->sequence;
	if ((e->channel && !(a->channel = strdup(e->channel))) ||
	    (e->bundle_id && !(a->bundle = strdup(e->bundle_id))) ||
	    (e->reason && !(a->reason = strdup(e->reason))))
		return ferry_error_oom();
	return list->n == IMPORT_BATCH ? 1 : 0;
}

/*
 * The importer's alarms and rejections (its audit trail in the store) go
 * to the same sinks as the stacks' health, once each: the cursor is kept
 * in the store, so a restart neither repeats nor drops one. The first
 * start begins at the end of the trail. Runs on the daemon's main thread,
 * the one that also reloads, so the sinks cannot change under it.
 */
static void import_events(ferry_reconciler *rc)
{
	import_alarms list = { 0 };
	int64_t cursor = 0, last;
	size_t i, failed, sent;
	int error;

	pthread_mutex_lock(&rc->db);
	if ((error = ferry_store_meta_get(&cursor, rc->st, IMPORT_CURSOR)) < 0)
		goto done;
	if (!cursor) {
		if ((error = ferry_store_audit_last(&last, rc->st)) < 0 ||
		    (error = ferry_store_meta_set(rc->st, IMPORT_CURSOR, last + 1)) < 0)
			goto done;
		cursor = last + 1;
	}
	error = ferry_store_audit_foreach(rc->st, cursor - 1, "rejected", import_collect, &list);
	pthread_mutex_unlock(&rc->db);
	if (error < 0 || !list.n)
		goto out;
	/* Deliveries may take seconds: the store is not held for them. */
	for (i = 0; i < list.n; i++) {
		const import_alarm *a = &list.v[i];
		ferry_notify_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.event = a->event;
		ev.outcome = "rejected";
		ev.message = a->reason;
		ev.time = (long long)a->time;
		ev.channel = a->channel;
		ev.sequence = a->sequence;
		ev.bundle = a->bundle;
		ev.revision = a->bundle;
		failed = ferry_notify_send(&sent, rc->cfg->sinks, rc->cfg->nsinks, &ev);
		pthread_mutex_lock(&rc->lock);
		rc->notified[0] += sent;
		rc->notified[1] += failed;
		pthread_mutex_unlock(&rc->lock);
	}
	pthread_mutex_lock(&rc->db);
	error = ferry_store_meta_set(rc->st, IMPORT_CURSOR, list.v[list.n - 1].id + 1);
done:
	pthread_mutex_unlock(&rc->db);
out:
	if (error < 0)
		ferry_log(FERRY_LOG_WARN, "import notifications: %s", ferry_error_last());
	ferry_error_clear();
	for (i = 0; i < list.n; i++) {
		free(list.v[i].channel);
		free(list.v[i].bundle);
		free(list.v[i].reason);
	}
	free(list.v);
}

static void *worker(void *arg)
{
	ferry_reconciler *rc = arg;
	size_t n, i;

	pthread_mutex_lock(&rc->lock);
	while (!rc->quit) {
		int64_t now = mono_ms();
		size_t pick;

		/* A reload swaps the config while no cycle runs. */
		n = rc->paused ? 0 : rc->cfg->nstacks;
		pick = n;
		for (i = 0; i < n; i++) {
			stack_rt *t = &rc->rt[i];

			if (t->running || (rc->once && t->done))
				continue;
			if (t->pending || now >= t->next_poll) {
				pick = i;
				break;
			}
		}
		if (pick == n) {
			struct timespec ts;

			if (rc->once && rc->ndone == rc->cfg->nstacks)
				break;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rc->cond, &rc->lock, &ts);
			continue;
		}
		{
			stack_rt *t = &rc->rt[pick];
			const ferry_stack *stack = &rc->cfg->stacks[pick];
			ferry_trigger trig = t->pending ? t->trigger : FERRY_TRIGGER_POLL;
			char actor[160], to[72], reason[FERRY_REASON_MAX + 1];
			ferry_cycle_result res;
			stack_metrics *m = metrics_of(rc, stack->name);
			uint64_t serving = m ? m->ticket : 0;
			int64_t next;
			int cerr;

			snprintf(actor, sizeof(actor), "%s", t->pending ? t->actor : "ferry-reconciler");
			snprintf(to, sizeof(to), "%s", t->pending ? t->to : "");
			snprintf(reason, sizeof(reason), "%s", t->pending ? t->reason : "");
			t->pending = 0;
			t->running = 1;
			pthread_mutex_unlock(&rc->lock);
			if ((cerr = ferry_reconcile_cycle(&res, rc, stack, trig, actor,
							  *to ? to : NULL,
							  *reason ? reason : NULL)) < 0) {
				ferry_log(FERRY_LOG_WARN, "stack %s: %s", stack->name,
					  ferry_error_last());
				if (!res.message || !*res.message) {
					free(res.message);
					res.message = strdup(ferry_error_last());
				}
			} else {
				ferry_log(FERRY_LOG_INFO, "stack %s: %s %.12s", stack->name,
					  res.outcome, res.revision);
			}
			ferry_error_clear();
			notify(rc, stack, &res);
			next = (int64_t)time(NULL) + stack->interval;
			pthread_mutex_lock(&rc->db);
			ferry_store_stack_state_set_next_poll(rc->st, stack->name, next);
			pthread_mutex_unlock(&rc->db);
			ferry_error_clear();
			pthread_mutex_lock(&rc->lock);
			metrics_count(rc, stack->name, &res);
			if ((m = metrics_of(rc, stack->name))) {
				m->served = serving;
				m->last.error = cerr < 0 ? cerr : 0;
				snprintf(m->last.outcome, sizeof(m->last.outcome), "%s",
					 res.outcome ? res.outcome : "failed");
				snprintf(m->last.revision, sizeof(m->last.revision), "%s",
					 res.revision);
				free(m->last.message);
				m->last.message = res.message ? strdup(res.message) : NULL;
			}
			t->running = 0;
			t->cycled = 1;
			t->next_poll = mono_ms() + stack->interval * 1000;
			ferry_cycle_result_dispose(&res);
			if (rc->once && !t->done) {
				t->done = 1;
				rc->ndone++;
			}
			pthread_cond_broadcast(&rc->cond);
		}
	}
	pthread_mutex_unlock(&rc->lock);
	return NULL;
}

/* ---- metrics and health --------------------------------------------------- */

int ferry_reconciler_ready(size_t *pending, ferry_reconciler *rc)
{
	size_t i;

	pthread_mutex_lock(&rc->lock);
	*pending = 0;
	for (i = 0; i < rc->cfg->nstacks; i++)
		if (!rc->rt[i].cycled)
			(*pending)++;
	pthread_mutex_unlock(&rc->lock);
	return *pending == 0;
}

/* One gauge per stack of `cfg`: its HELP and TYPE lines, then `v[i]`. */
static int metrics_gauge(ferry_buf *out, const char *name, const char *help,
			 const ferry_reconcile_config *cfg, const int64_t *v)
{
	size_t i;
	int error;

	error = ferry_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (i = 0; i < cfg->nstacks && !error; i++)
		error = ferry_buf_printf(out, "%s{stack=\"%s\"} %lld\n", name, cfg->stacks[i].name,
					 (long long)v[i]);
	return error;
}

int ferry_reconciler_metrics(ferry_buf *out, ferry_reconciler *rc)
{
	const ferry_reconcile_config *cfg = rc->cfg;
	size_t n = cfg->nstacks, i, j;
	/* per stack: suspended, last success, drift */
	int64_t *v = calloc(n ? 3 * n : 1, sizeof(*v));
	int error = 0;

	if (!v)
		return ferry_error_oom();
	pthread_mutex_lock(&rc->db);
	for (i = 0; i < n && !error; i++) {
		int suspended = 0;

		error = ferry_store_stack_suspension_load(&suspended, NULL, rc->st,
							  cfg->stacks[i].name);
		v[i] = suspended;
	}
	pthread_mutex_unlock(&rc->db);
	if (error < 0)
		goto done;

	/* a sample left out would read as a reset counter */
	pthread_mutex_lock(&rc->lock);
	error = ferry_buf_printf(out,
		"# HELP ferry_reconcile_stacks Stacks in the running config.\n"
		"# TYPE ferry_reconcile_stacks gauge\n"
		"ferry_reconcile_stacks %zu\n"
		"# HELP ferry_reconcile_config_reloads_total Config reloads by result.\n"
		"# TYPE ferry_reconcile_config_reloads_total counter\n"
		"ferry_reconcile_config_reloads_total{result=\"accepted\"} %llu\n"
		"ferry_reconcile_config_reloads_total{result=\"rejected\"} %llu\n"
		"# HELP ferry_reconcile_sync_total Cycles the daemon ran, by stack and outcome.\n"
		"# TYPE ferry_reconcile_sync_total counter\n",
		n, (unsigned long long)rc->reloads[0], (unsigned long long)rc->reloads[1]);
	for (i = 0; i < n && !error; i++) {
		stack_metrics *m = metrics_of(rc, cfg->stacks[i].name);

		for (j = 0; m && j < NOUTCOMES && !error; j++)
			error = ferry_buf_printf(out, "ferry_reconcile_sync_total"
						 "{stack=\"%s\",outcome=\"%s\"} %llu\n", m->name,
						 metric_outcomes[j],
						 (unsigned long long)m->outcomes[j]);
		v[n + i] = m ? m->last_success : 0;
		v[2 * n + i] = m ? m->drift != 0 : 0;
	}
	if (!error)
		error = metrics_gauge(out, "ferry_reconcile_last_success_timestamp_seconds",
				      "When a cycle last applied or found the stack in sync "
				      "(0: never).", cfg, v + n);
	if (!error)
		error = metrics_gauge(out, "ferry_reconcile_drift", "1 when the last cycle found "
				      "the live state differing from what was applied.", cfg,
				      v + 2 * n);
	if (!error)
		error = metrics_gauge(out, "ferry_reconcile_suspended",
				      "1 when the stack is suspended.", cfg, v);
	if (!error)
		error = ferry_buf_puts(out, "# HELP ferry_reconcile_apply_duration_seconds "
				       "Checkout, render and apply of a stack.\n"
				       "# TYPE ferry_reconcile_apply_duration_seconds histogram\n");
	for (i = 0; i < n && !error; i++) {
		stack_metrics *m = metrics_of(rc, cfg->stacks[i].name);

		if (!m)
			continue;
		for (j = 0; j < NBUCKETS && !error; j++)
			error = ferry_buf_printf(out, "ferry_reconcile_apply_duration_seconds_bucket"
						 "{stack=\"%s\",le=\"%g\"} %llu\n", m->name,
						 metric_buckets[j],
						 (unsigned long long)m->buckets[j]);
		if (!error)
			error = ferry_buf_printf(out, "ferry_reconcile_apply_duration_seconds_bucket"
						 "{stack=\"%s\",le=\"+Inf\"} %llu\n"
						 "ferry_reconcile_apply_duration_seconds_sum"
						 "{stack=\"%s\"} %.6f\n"
						 "ferry_reconcile_apply_duration_seconds_count"
						 "{stack=\"%s\"} %llu\n",
						 m->name, (unsigned long long)m->count, m->name,
						 m->sum, m->name, (unsigned long long)m->count);
	}
	if (!error)
		error = ferry_buf_printf(out, "# HELP ferry_reconcile_notifications_total "
					 "Notifications of health changes, by delivery result.\n"
					 "# TYPE ferry_reconcile_notifications_total counter\n"
					 "ferry_reconcile_notifications_total{result=\"sent\"} %llu\n"
					 "ferry_reconcile_notifications_total{result=\"failed\"} %llu\n",
					 (unsigned long long)rc->notified[0],
					 (unsigned long long)rc->notified[1]);
	pthread_mutex_unlock(&rc->lock);
done:
	free(v);
	return error;
}

static int webhook_metrics(ferry_buf *out, void *payload)
{
	return ferry_reconciler_metrics(out, payload);
}

static int webhook_ready(size_t *pending, void *payload)
{
	return ferry_reconciler_ready(pending, payload);
}

/* Drop quiet-cycle events older than history-keep; a failure is only logged. */
static void prune_history(ferry_reconciler *rc)
{
	int64_t removed = 0;

	if (!rc->cfg->history_keep)
		return;
	pthread_mutex_lock(&rc->db);
	if (ferry_store_stack_event_prune(rc->st, (int64_t)time(NULL) - rc->cfg->history_keep, &removed) < 0) {
		ferry_log(FERRY_LOG_WARN, "history: %s", ferry_error_last());
		ferry_error_clear();
	} else if (removed) {
		ferry_log(FERRY_LOG_INFO, "history: removed %lld unchanged-cycle events past "
			  "history-keep", (long long)removed);
	}
	pthread_mutex_unlock(&rc->db);
}

/* ---- reload ---------------------------------------------------------------- */

static int str_differs(const char *a, const char *b)
{
	return (a || b) && (!a || !b || strcmp(a, b));
}

/* One field of a fingerprint: a string with its length (or "-" for NULL),
 * so that no two different definitions serialize alike. */
static int put_field(ferry_buf *b, const char *s, size_t len)
{
	int error;

	if (!s)
		return ferry_buf_puts(b, "-;");
	if ((error = ferry_buf_printf(b, "%zu:", len)) < 0 || (error = ferry_buf_put(b, s, len)) < 0)
		return error;
	return ferry_buf_puts(b, ";");
}

/*
 * The stack's definition as one number: a hash of everything that says
 * what it deploys and how. Two stacks are the same when their fingerprints
 * are; the daemon keeps each stack's in the store, so a definition edited
 * while no daemon ran is noticed at the next start.
 */
static int stack_fingerprint(int64_t *out, const ferry_stack *s)
{
	const char *strs[] = { s->name, s->repo, s->ref, s->path, s->values, s->release,
			       s->namespace_, s->freeze_file, s->workload_reason, s->chart };
	ferry_buf b = FERRY_BUF_INIT;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	size_t i;
	int error = 0;

	*out = 0;
	for (i = 0; !error && i < sizeof(strs) / sizeof(strs[0]); i++)
		error = put_field(&b, strs[i], strs[i] ? strlen(strs[i]) : 0);
	if (!error)
		error = ferry_buf_printf(&b, "%d %d %d %d %d %d %d %d %lld %u %zu;", (int)s->source,
					 (int)s->ref_kind, (int)s->format, (int)s->runtime,
					 s->auto_sync, s->always_apply, s->prune,
					 s->require_digests, (long long)s->interval,
					 s->workload_allow, s->nhost_paths);
	for (i = 0; !error && i < s->nhost_paths; i++)
		error = put_field(&b, s->host_paths[i], strlen(s->host_paths[i]));
	if (!error)
		error = put_field(&b, (const char *)s->secret, s->secret_len);
	if (!error && !(error = ferry_sha256_hex(hex, b.ptr, b.size))) {
		hex[15] = '\0';  /* 60 bits: a positive int64 */
		*out = strtoll(hex, NULL, 16);
	}
	/* the secret passed through it */
	if (b.ptr)
		sodium_memzero(b.ptr, b.size);
	ferry_buf_dispose(&b);
	return error;
}

/* Nonzero when `a` and `b` deploy the same thing the same way. */
static int stack_equal(const ferry_stack *a, const ferry_stack *b)
{
	int64_t fa, fb;

	return !stack_fingerprint(&fa, a) && !stack_fingerprint(&fb, b) && fa == fb;
}

/* The meta key holding the fingerprint of the stack's definition. */
static int definition_key(ferry_buf *key, const ferry_stack *stack)
{
	ferry_buf_clear(key);
	return ferry_buf_printf(key, "reconcile.definition.%s", stack->name);
}

/* Record the definition the daemon now runs for `stack`; rc->db held. */
static int definition_save(ferry_reconciler *rc, const ferry_stack *stack)
{
	ferry_buf key = FERRY_BUF_INIT;
	int64_t fp;
	int error;

	if ((error = stack_fingerprint(&fp, stack)) >= 0 &&
	    (error = definition_key(&key, stack)) >= 0)
		error = ferry_store_meta_set(rc->st, key.ptr, fp);
	ferry_buf_dispose(&key);
	return error;
}

/* What only a restart can change. */
static int reloadable(const ferry_reconcile_config *cur, const ferry_reconcile_config *next)
{
	static const char *const what[] = { "store", "state-dir", "listen", "audit-log" };
	const char *a[4] = { cur->store, cur->state_dir, cur->listen, cur->audit_log };
	const char *b[4] = { next->store, next->state_dir, next->listen, next->audit_log };
	size_t i;

	for (i = 0; i < 4; i++)
		if (str_differs(a[i], b[i]))
			return ferry_error_set(FERRY_EINVALID, "'%s' changed from '%s' to '%s': "
					       "restart the daemon to change it", what[i],
					       a[i] ? a[i] : "", b[i] ? b[i] : "");
	return 0;
}

/* Record what a reload did to `stack` (NULL: the config as a whole). */
static void reload_event(ferry_reconciler *rc, const ferry_stack *stack, const char *actor,
			 const char *outcome, const char *error)
{
	ferry_store_stack_event ev;
	ferry_buf source = FERRY_BUF_INIT;

	memset(&ev, 0, sizeof(ev));
	/* an event with a wrong source would say something false: not written */
	if ((stack ? stack_source(&source, stack)
		   : ferry_buf_printf(&source, "config:%s", rc->config_path)) < 0) {
		ferry_log(FERRY_LOG_WARN, "reload: event '%s' not written: %s", outcome,
			  ferry_error_last());
		ferry_error_clear();
		ferry_buf_dispose(&source);
		return;
	}
	ev.time = (int64_t)time(NULL);
	ev.stack = stack ? stack->name : "*";
	ev.trigger = ferry_trigger_name(FERRY_TRIGGER_RELOAD);
	ev.actor = actor ? actor : "ferry";
	ev.source = source.ptr;
	ev.ref = stack ? stack->ref : NULL;
	ev.runtime = stack ? runtime_name(stack->runtime) : "-";
	ev.outcome = outcome;
	ev.error = error;
	pthread_mutex_lock(&rc->db);
	if (ferry_audit_record(rc->st, rc->audit, &ev) < 0) {
		ferry_log(FERRY_LOG_WARN, "reload: %s", ferry_error_last());
		ferry_error_clear();
	}
	pthread_mutex_unlock(&rc->db);
	ferry_buf_dispose(&source);
}

int ferry_reconciler_reload(ferry_reconciler *rc, const char *actor)
{
	ferry_reconcile_config *next = NULL, *old_owned;
	const ferry_reconcile_config *cur = rc->cfg;
	stack_rt *rt = NULL, *old_rt;
	size_t i, j, added = 0, changed = 0, removed = 0;
	int error;

	if (!rc->config_path)
		return ferry_error_set(FERRY_EINVALID, "the reconciler has no config file to reload");
	if ((error = ferry_reconcile_config_load(&next, rc->config_path)) < 0 ||
	    (error = reloadable(cur, next)) < 0) {
		ferry_log(FERRY_LOG_WARN, "reload rejected, keeping the running config: %s",
			  ferry_error_last());
		reload_event(rc, NULL, actor, "config-rejected", ferry_error_last());
		ferry_reconcile_config_free(next);
		pthread_mutex_lock(&rc->lock);
		rc->reloads[1]++;
		pthread_mutex_unlock(&rc->lock);
		return error;
	}
	if (!(rt = calloc(next->nstacks ? next->nstacks : 1, sizeof(*rt)))) {
		ferry_reconcile_config_free(next);
		return ferry_error_oom();
	}

	/* Let running cycles end; start no new one. */
	pthread_mutex_lock(&rc->lock);
	rc->paused = 1;
	for (;;) {
		for (i = 0; i < cur->nstacks && !rc->rt[i].running; i++)
			;
		if (i == cur->nstacks)
			break;
		pthread_cond_wait(&rc->cond, &rc->lock);
	}
	pthread_mutex_unlock(&rc->lock);

	/* Control requests that hold a stack first, then the webhook's lock, as
	 * a request takes it before rc->lock. */
	pthread_rwlock_wrlock(&rc->cfg_rw);
	ferry_webhook_lock(rc->hook);
	pthread_mutex_lock(&rc->lock);
	for (i = 0; i < next->nstacks; i++) {
		const ferry_stack *ns = &next->stacks[i];
		const ferry_stack *os = ferry_reconcile_config_stack(cur, ns->name);

		if (os) {
			j = (size_t)(os - cur->stacks);
			rt[i] = rc->rt[j];
			if (stack_equal(os, ns))
				continue;
			changed++;
		} else {
			added++;
		}
		rt[i].pending = 1;
		rt[i].trigger = FERRY_TRIGGER_RELOAD;
		snprintf(rt[i].actor, sizeof(rt[i].actor), "%s", actor ? actor : "ferry");
	}
	old_rt = rc->rt;
	old_owned = rc->owned;
	rc->rt = rt;
	rc->cfg = rc->owned = next;
	ferry_webhook_set_config(rc->hook, next);
	rc->paused = 0;
	rc->reloads[0]++;
	pthread_cond_broadcast(&rc->cond);
	pthread_mutex_unlock(&rc->lock);
	ferry_webhook_unlock(rc->hook);

	/* The old config is no longer read by anyone but us. */
	for (i = 0; i < next->nstacks; i++) {
		const ferry_stack *os = ferry_reconcile_config_stack(cur, next->stacks[i].name);

		if (!os)
			reload_event(rc, &next->stacks[i], actor, "config-added", NULL);
		else if (!stack_equal(os, &next->stacks[i]))
			reload_event(rc, &next->stacks[i], actor, "config-changed", NULL);
		else
			continue;
		pthread_mutex_lock(&rc->db);
		if (definition_save(rc, &next->stacks[i]) < 0) {
			ferry_log(FERRY_LOG_WARN, "reload: %s", ferry_error_last());
			ferry_error_clear();
		}
		pthread_mutex_unlock(&rc->db);
	}
	for (i = 0; i < cur->nstacks; i++)
		if (!ferry_reconcile_config_stack(next, cur->stacks[i].name)) {
			removed++;
			reload_event(rc, &cur->stacks[i], actor, "config-removed", NULL);
		}
	ferry_log(FERRY_LOG_INFO, "reloaded '%s': %zu stack(s) added, %zu changed, %zu removed",
		  rc->config_path, added, changed, removed);
	free(old_rt);
	ferry_reconcile_config_free(old_owned);
	pthread_rwlock_unlock(&rc->cfg_rw);
	return 0;
}

/*
 * A stack whose definition changed while no daemon ran (the config edited
 * between two runs) is applied again on its first cycle, as a reload
 * would have done, with a config-changed event. A stack seen for the
 * first time is only recorded. Before the workers start.
 */
static void definitions_check(ferry_reconciler *rc)
{
	ferry_buf key = FERRY_BUF_INIT;
	size_t i;

	for (i = 0; i < rc->cfg->nstacks; i++) {
		const ferry_stack *stack = &rc->cfg->stacks[i];
		int64_t was = 0, now;
		int error;

		pthread_mutex_lock(&rc->db);
		if ((error = stack_fingerprint(&now, stack)) >= 0 &&
		    (error = definition_key(&key, stack)) >= 0 &&
		    (error = ferry_store_meta_get(&was, rc->st, key.ptr)) >= 0 && was != now)
			error = ferry_store_meta_set(rc->st, key.ptr, now);
		pthread_mutex_unlock(&rc->db);
		if (error < 0) {
			ferry_log(FERRY_LOG_WARN, "stack %s: %s", stack->name, ferry_error_last());
			ferry_error_clear();
			continue;
		}
		if (!was || was == now)
			continue;
		reload_event(rc, stack, "ferry-reconciler", "config-changed", NULL);
		pthread_mutex_lock(&rc->lock);
		rc->rt[i].pending = 1;
		rc->rt[i].trigger = FERRY_TRIGGER_RELOAD;
		snprintf(rc->rt[i].actor, sizeof(rc->rt[i].actor), "ferry-reconciler");
		pthread_mutex_unlock(&rc->lock);
	}
	ferry_buf_dispose(&key);
}

/* ---- the control socket ------------------------------------------------ */

/* Run a cycle of `name` in the daemon and wait for it; rc->lock held. */
static int control_cycle(json_t **reply, ferry_reconciler *rc, const char *name,
			 ferry_trigger trigger, const char *actor, const char *to,
			 const char *reason)
{
	stack_metrics *m;
	uint64_t ticket;
	size_t i;

	for (i = 0; i < rc->cfg->nstacks && strcmp(rc->cfg->stacks[i].name, name); i++)
		;
	if (i == rc->cfg->nstacks)
		return ferry_error_set(FERRY_ENOTFOUND, "the daemon runs no stack '%s'", name);
	if (!(m = metrics_of(rc, name)))
		return ferry_error_oom();
	ticket = ++m->ticket;
	queue_cycle(rc, (long)i, trigger, actor, to, reason);
	for (;;) {
		if (!(m = metrics_of(rc, name)))
			return ferry_error_oom();
		if (m->served >= ticket)
			break;
		if (rc->quit || !ferry_reconcile_config_stack(rc->cfg, name))
			return ferry_error_set(FERRY_ERROR, "stack '%s' was removed, or the daemon "
					       "stopped, before the cycle ran", name);
		pthread_cond_wait(&rc->cond, &rc->lock);
	}
	if (m->last.error < 0)
		return ferry_error_set(m->last.error, "%s",
				       m->last.message ? m->last.message : "the cycle failed");
	*reply = json_pack("{s:b,s:s,s:s,s:s,s:s?}", "ok", 1, "stack", name, "outcome",
			   m->last.outcome, "revision", m->last.revision, "message",
			   m->last.message);
	return *reply ? 0 : ferry_error_oom();
}

/* Ask the main thread to reload and wait for it; rc->lock held. */
static int control_reload(json_t **reply, ferry_reconciler *rc, const char *actor)
{
	uint64_t gen = rc->reload_gen;

	rc->reload_asked = 1;
	snprintf(rc->reload_actor, sizeof(rc->reload_actor), "%s", actor);
	pthread_cond_broadcast(&rc->cond);
	while (rc->reload_gen == gen && !rc->quit)
		pthread_cond_wait(&rc->cond, &rc->lock);
	if (rc->reload_gen == gen)
		return ferry_error_set(FERRY_ERROR, "the daemon stopped before reloading");
	if (rc->reload_error)
		return ferry_error_set(FERRY_EINVALID, "%s", rc->reload_error);
	*reply = json_pack("{s:b,s:I}", "ok", 1, "pid", (json_int_t)getpid());
	return *reply ? 0 : ferry_error_oom();
}

static int control_plan(json_t **reply, ferry_reconciler *rc, const char *name);

static int control_request(json_t **reply, json_t *req, unsigned uid, void *payload)
{
	ferry_reconciler *rc = payload;
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *name = json_string_value(json_object_get(req, "stack"));
	const char *to = json_string_value(json_object_get(req, "to"));
	const char *reason = json_string_value(json_object_get(req, "reason"));
	ferry_trigger trigger;
	char actor[128];
	int error;

	ferry_control_actor(actor, sizeof(actor), req, uid);
	if (reason && (error = ferry_reason_check(reason)) < 0)
		return error;
	if (!strcmp(op, "reload")) {
		pthread_mutex_lock(&rc->lock);
		error = control_reload(reply, rc, actor);
		pthread_mutex_unlock(&rc->lock);
		return error;
	}
	if (!name)
		return ferry_error_set(FERRY_EINVALID, "control '%s' needs a stack", op);
	if (!strcmp(op, "plan"))
		return control_plan(reply, rc, name);
	if (!strcmp(op, "suspend") || !strcmp(op, "resume")) {
		const ferry_stack *stack;

		/* The stack is used outside rc->lock: no reload frees it meanwhile. */
		pthread_rwlock_rdlock(&rc->cfg_rw);
		if (!(stack = ferry_reconcile_config_stack(rc->cfg, name)))
			error = ferry_error_set(FERRY_ENOTFOUND, "the daemon runs no stack '%s'",
						name);
		else
			error = ferry_reconciler_suspend(rc, stack, !strcmp(op, "suspend"), actor,
							 reason);
		pthread_rwlock_unlock(&rc->cfg_rw);
		if (error < 0)
			return error;
		*reply = json_pack("{s:b,s:s}", "ok", 1, "stack", name);
		return *reply ? 0 : ferry_error_oom();
	}
	if (!strcmp(op, "sync"))
		trigger = FERRY_TRIGGER_MANUAL;
	else if (!strcmp(op, "rollback"))
		trigger = FERRY_TRIGGER_ROLLBACK;
	else if (!strcmp(op, "down"))
		trigger = FERRY_TRIGGER_DOWN;
	else
		return ferry_error_set(FERRY_EINVALID, "unknown control request '%s'", op);
	pthread_mutex_lock(&rc->lock);
	error = control_cycle(reply, rc, name, trigger, actor, to, reason);
	pthread_mutex_unlock(&rc->lock);
	return error;
}

/* The config's control-group as a gid (-1: none), and the state directory
 * opened to it: the group may reach the socket (0710), nothing more. */
static int control_group(long *out, ferry_reconciler *rc)
{
	struct group g, *found = NULL;
	char buf[4096];

	*out = -1;
	if (!rc->cfg->control_group)
		return 0;
	if (getgrnam_r(rc->cfg->control_group, &g, buf, sizeof(buf), &found) != 0 || !found)
		return ferry_error_set(FERRY_EINVALID, "control-group '%s' is not a group of this "
				       "system", rc->cfg->control_group);
	if (chown(rc->state_dir, (uid_t)-1, found->gr_gid) < 0 || chmod(rc->state_dir, 0710) < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot open '%s' to group '%s'",
					     rc->state_dir, rc->cfg->control_group);
	*out = (long)found->gr_gid;
	return 0;
}

/* The largest diff a plan's answer carries (the control socket's answers
 * are at most 1 MiB). */
#define PLAN_REPLY_DIFF_MAX (768u << 10)

/*
 * What the next sync of `stack` would change: the check of
 * ferry_reconciler_check (`out`, `rev`), and into `diff` the unified diff
 * (diff -u) from the manifests last applied (none: an empty file) to the
 * ones rendered now; empty when they are the same. Errors: those of
 * ferry_reconciler_check, FERRY_ENOTFOUND when diff(1) is not installed.
 */
static int plan_diff(ferry_buf *diff, ferry_preflight *out, ferry_revision *rev,
		     ferry_reconciler *rc, const ferry_stack *stack);

int ferry_reconciler_plan_json(json_t **out, ferry_reconciler *rc, const ferry_stack *stack,
			       size_t max_diff)
{
	ferry_buf diff = FERRY_BUF_INIT;
	ferry_preflight pf;
	ferry_revision rev;
	json_t *lines = NULL, *pre = NULL;
	size_t at = 0, sent = 0;
	int error, truncated = 0;

	*out = NULL;
	memset(&pf, 0, sizeof(pf));
	memset(&rev, 0, sizeof(rev));
	if ((error = plan_diff(&diff, &pf, &rev, rc, stack)) < 0)
		goto done;
	if (!(lines = json_array()) || !(pre = ferry_preflight_json(&pf, stack->name, &rev))) {
		error = ferry_error_oom();
		goto done;
	}
	/* `max_diff` counts the escaped text, which is what the answer carries */
	while (at < diff.size && !error) {
		const char *nl = memchr(diff.ptr + at, '\n', diff.size - at);
		size_t len = nl ? (size_t)(nl - (diff.ptr + at)) : diff.size - at;
		size_t need = ferry_escape_bytes(NULL, 0, diff.ptr + at, len);
		char *esc;

		if (sent + need > max_diff) {
			truncated = 1;
			break;
		}
		if (!(esc = malloc(need + 1))) {
			error = ferry_error_oom();
			break;
		}
		ferry_escape_bytes(esc, need + 1, diff.ptr + at, len);
		error = ferry_json_append(lines, json_string(esc));
		free(esc);
		sent += need + 1;
		at += len + 1;
	}
	if (!error && !(*out = json_pack("{s:O,s:O,s:b}", "preflight", pre, "diff", lines,
					 "truncated", truncated)))
		error = ferry_error_oom();
done:
	json_decref(lines);
	json_decref(pre);
	ferry_buf_dispose(&diff);
	ferry_preflight_dispose(&pf);
	ferry_revision_dispose(&rev);
	return error;
}

/* `plan`: computed here because the daemon reads the applied manifests
 * the console may not. */
static int control_plan(json_t **reply, ferry_reconciler *rc, const char *name)
{
	const ferry_stack *stack;
	int error;

	pthread_rwlock_rdlock(&rc->cfg_rw);
	if (!(stack = ferry_reconcile_config_stack(rc->cfg, name)))
		error = ferry_error_set(FERRY_ENOTFOUND, "the daemon runs no stack '%s'", name);
	else
		error = ferry_reconciler_plan_json(reply, rc, stack, PLAN_REPLY_DIFF_MAX);
	pthread_rwlock_unlock(&rc->cfg_rw);
	if (!error && json_object_set_new(*reply, "ok", json_true()) < 0)
		error = ferry_error_oom();
	return error;
}

static int control_path(ferry_buf *path, ferry_reconciler *rc)
{
	return ferry_buf_printf(path, "%s/" FERRY_CONTROL_SOCKET, rc->state_dir);
}

int ferry_reconciler_control(json_t **reply, ferry_reconciler *rc, json_t *request,
			     unsigned timeout_s)
{
	ferry_buf path = FERRY_BUF_INIT;
	int error;

	*reply = NULL;
	if ((error = control_path(&path, rc)) >= 0)
		error = ferry_control_call(reply, path.ptr, request, timeout_s);
	ferry_buf_dispose(&path);
	return error;
}

/* Lock <state-dir>/daemon.pid and write our pid in it: one daemon per
 * state directory, and `reload` finds it. */
static int pid_lock(int *fd, ferry_reconciler *rc)
{
	ferry_buf path = FERRY_BUF_INIT;
	char pid[24];
	int error = 0;

	if ((error = ferry_buf_printf(&path, "%s/" FERRY_RECONCILER_PID_FILE, rc->state_dir)) < 0)
		return error;
	if ((*fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", path.ptr);
	} else if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = read(*fd, pid, sizeof(pid) - 1);

		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		error = ferry_error_set(FERRY_EEXISTS, "a reconciler daemon (pid %s) already runs "
					"on '%s'", pid[0] ? pid : "?", rc->state_dir);
	} else {
		snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ftruncate(*fd, 0) < 0 || pwrite(*fd, pid, strlen(pid), 0) < 0)
			error = ferry_error_set_errno(FERRY_EIO, "cannot write '%s'", path.ptr);
	}
	if (error < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	ferry_buf_dispose(&path);
	return error;
}

int ferry_reconciler_signal_daemon(long *pid, ferry_reconciler *rc, int sig)
{
	ferry_buf path = FERRY_BUF_INIT;
	char text[24];
	ssize_t n;
	int fd = -1, error = 0;
	uint64_t p = 0;

	*pid = 0;
	if ((error = ferry_buf_printf(&path, "%s/" FERRY_RECONCILER_PID_FILE, rc->state_dir)) < 0)
		return error;
	if ((fd = open(path.ptr, O_RDONLY | O_CLOEXEC)) < 0) {
		error = ferry_error_set(FERRY_ENOTFOUND, "no reconciler daemon runs on '%s'",
					rc->state_dir);
		goto done;
	}
	/* Only a daemon holding the lock is running; a stale file names nobody. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		error = ferry_error_set(FERRY_ENOTFOUND, "no reconciler daemon runs on '%s'",
					rc->state_dir);
		goto done;
	}
	n = read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	text[strcspn(text, "\n")] = '\0';
	if (ferry_parse_u64(&p, text) < 0 || p <= 1 || p > INT32_MAX) {
		error = ferry_error_set(FERRY_ECORRUPT, "'%s' holds no pid", path.ptr);
		goto done;
	}
	if (kill((pid_t)p, sig) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot signal the daemon (pid %ld)",
					      (long)p);
		goto done;
	}
	*pid = (long)p;
done:
	if (fd >= 0)
		close(fd);
	ferry_buf_dispose(&path);
	return error;
}

int ferry_reconciler_run(ferry_reconciler *rc, volatile int *stop, int once, unsigned workers)
{
	int64_t pruned_at, import_at;
	pthread_t th[16];
	ferry_webhook *hook = NULL;
	size_t i, started = 0;
	int error = 0, pid_fd = -1;

	if (!workers)
		workers = 4;
	if (workers > 16)
		workers = 16;
	/* A daemon keeps its workers: a reload may add stacks. */
	if (once && workers > rc->cfg->nstacks)
		workers = (unsigned)rc->cfg->nstacks;
	rc->once = once;
	rc->quit = 0;
	for (i = 0; i < rc->cfg->nstacks; i++)
		rc->rt[i].next_poll = 0;
	if (!once && (error = pid_lock(&pid_fd, rc)) < 0)
		return error;
	if (!once && rc->cfg->listen &&
	    (error = ferry_webhook_start(&hook, rc->cfg, webhook_trigger, rc)) < 0)
		goto done;
	rc->hook = hook;
	ferry_webhook_set_status(hook, webhook_metrics, webhook_ready);
	if (!once) {
		ferry_buf cpath = FERRY_BUF_INIT;
		long group = -1;

		if ((error = control_group(&group, rc)) >= 0 &&
		    (error = control_path(&cpath, rc)) >= 0)
			error = ferry_control_start(&rc->control, cpath.ptr, group, control_request,
						    rc);
		ferry_buf_dispose(&cpath);
		if (error < 0)
			goto done;
	}
	if (hook && rc->port_file) {
		char port[16];

		snprintf(port, sizeof(port), "%u\n", (unsigned)ferry_webhook_port(hook));
		if ((error = ferry_fs_write_output(rc->port_file, port, strlen(port), 0644)) < 0)
			goto done;
	}
	health_restore(rc);
	if (!once)
		definitions_check(rc);
	for (i = 0; i < workers; i++) {
		if (pthread_create(&th[i], NULL, worker, rc) != 0) {
			error = ferry_error_set(FERRY_ERROR, "cannot start a worker thread");
			break;
		}
		started++;
	}
	prune_history(rc);
	pruned_at = (int64_t)time(NULL);
	if (!once)
		import_events(rc);
	import_at = mono_ms();
	if (!error) {
		pthread_mutex_lock(&rc->lock);
		while (!*stop && !(once && rc->ndone == rc->cfg->nstacks)) {
			struct timespec ts;

			if (!once && ((rc->reload && *rc->reload) || rc->reload_asked)) {
				char actor[128];
				int rerr;

				snprintf(actor, sizeof(actor), "%s",
					 rc->reload_asked ? rc->reload_actor : "signal:SIGHUP");

				if (rc->reload && *rc->reload)
					*rc->reload = 0;
				rc->reload_asked = 0;
				pthread_mutex_unlock(&rc->lock);
				rerr = ferry_reconciler_reload(rc, actor);
				pthread_mutex_lock(&rc->lock);
				free(rc->reload_error);
				rc->reload_error = rerr < 0 ? strdup(ferry_error_last()) : NULL;
				rc->reload_gen++;
				pthread_cond_broadcast(&rc->cond);
				ferry_error_clear();
				continue;
			}
			if (!once && mono_ms() - import_at >= IMPORT_CHECK_MS) {
				pthread_mutex_unlock(&rc->lock);
				import_events(rc);
				import_at = mono_ms();
				pthread_mutex_lock(&rc->lock);
			}
			if ((int64_t)time(NULL) - pruned_at >= 3600) {
				pthread_mutex_unlock(&rc->lock);
				prune_history(rc);
				pruned_at = (int64_t)time(NULL);
				pthread_mutex_lock(&rc->lock);
			}
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rc->cond, &rc->lock, &ts);
		}
		pthread_mutex_unlock(&rc->lock);
	}
	/* stop taking webhooks and requests, let running cycles finish (the
	 * requests waiting for one among them) */
	ferry_webhook_stop(hook);
	hook = rc->hook = NULL;
	ferry_control_stop(rc->control);
	rc->control = NULL;
	pthread_mutex_lock(&rc->lock);
	rc->quit = 1;
	pthread_cond_broadcast(&rc->cond);
	pthread_mutex_unlock(&rc->lock);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
done:
	ferry_webhook_stop(hook);
	rc->hook = NULL;
	ferry_control_stop(rc->control);
	rc->control = NULL;
	if (pid_fd >= 0) {
		if (ftruncate(pid_fd, 0) < 0)
			ferry_log(FERRY_LOG_WARN, "cannot empty the pid file");
		close(pid_fd);
	}
	return error;
}

/* ---- status and history -------------------------------------------------- */

static void fmt_time(char *buf, size_t len, int64_t t)
{
	if (t <= 0)
		snprintf(buf, len, "-");
	else
		ferry_time_format(buf, len, t);
}

/* The check of ferry_reconciler_check; the rendered documents into `yaml`
 * when it is not NULL. */
static int check_render(ferry_preflight *out, ferry_revision *rev, ferry_buf *yaml,
			char **applied_file, ferry_reconciler *rc, const ferry_stack *stack)
{
	ferry_store_stack_state s;
	ferry_rendered r;
	char suffix[48];
	int error;

	memset(out, 0, sizeof(*out));
	memset(rev, 0, sizeof(*rev));
	memset(&r, 0, sizeof(r));
	pthread_mutex_lock(&rc->db);
	if ((error = ferry_store_stack_state_load(&s, rc->st, stack->name)) == 0) {
		/* what the next poll would apply: a rollback's hold, or the source */
		if (s.hold)
			snprintf(rev->id, sizeof(rev->id), "%s", s.hold);
		else
			error = ferry_source_resolve(rev, rc->st, stack);
		if (!error) {
			ferry_source_provenance(rev, rc->st, stack);
			ferry_error_clear();
		}
		if (applied_file) {
			*applied_file = s.file;   /* the state is read once */
			s.file = NULL;
		}
		ferry_store_stack_state_dispose(&s);
	}
	pthread_mutex_unlock(&rc->db);
	if (error < 0)
		return error;
	/* a directory of its own: a daemon's cycle, or another check, may be
	 * checking out too */
	snprintf(suffix, sizeof(suffix), "check-%ld-%lx", (long)getpid(),
		 (unsigned long)pthread_self());
	if ((error = render_revision(rc, stack, rev->id, suffix, &r)) == 0)
		error = ferry_preflight_check(out, rc->cfg, rc->st, &r, &rc->db);
	if (!error && yaml && r.yaml.size)
		error = ferry_buf_put(yaml, r.yaml.ptr, r.yaml.size);
	ferry_rendered_dispose(&r);
	return error;
}

int ferry_reconciler_check(ferry_preflight *out, ferry_revision *rev, ferry_reconciler *rc,
			   const ferry_stack *stack)
{
	return check_render(out, rev, NULL, NULL, rc, stack);
}

static int plan_diff(ferry_buf *diff, ferry_preflight *out, ferry_revision *rev,
		     ferry_reconciler *rc, const ferry_stack *stack)
{
	ferry_buf yaml = FERRY_BUF_INIT, tmp = FERRY_BUF_INIT, err = FERRY_BUF_INIT;
	const char *argv[] = { "diff", "-u", "--label", "applied", "--label", "desired",
			       NULL, NULL, NULL };
	char *applied = NULL;
	int error, status = 0;

	if ((error = check_render(out, rev, &yaml, &applied, rc, stack)) < 0 ||
	    (error = ferry_buf_printf(&tmp, "%s/%s.plan-%ld-%lx.yaml", rc->state_dir, stack->name,
				      (long)getpid(), (unsigned long)pthread_self())) < 0 ||
	    (error = ferry_fs_write_atomic(tmp.ptr, yaml.ptr ? yaml.ptr : "", yaml.size,
					   0600)) < 0)
		goto done;
	/* the applied file is gone after a down, or was never written */
	argv[6] = applied && ferry_fs_exists(applied) ? applied : "/dev/null";
	argv[7] = tmp.ptr;
	if ((error = ferry_spawn(&status, diff, &err, argv, NULL)) < 0)
		goto done;
	if (status > 1)
		error = ferry_error_set(FERRY_ERROR, "diff failed (exit %d): %s", status,
					err.ptr ? err.ptr : "");
done:
	if (tmp.ptr)
		unlink(tmp.ptr);
	free(applied);
	ferry_buf_dispose(&yaml);
	ferry_buf_dispose(&tmp);
	ferry_buf_dispose(&err);
	return error;
}

/* Resolutions already made by one status call: stacks that share a source
 * (a repository and ref, or an artifact tag) resolve it once. */
typedef struct {
	const ferry_stack *stack;   /* the first stack with this source */
	char id[72];                /* its revision, or "?" */
} resolved;

static const char *resolve_once(resolved *seen, size_t *nseen, ferry_reconciler *rc,
				const ferry_stack *stack)
{
	ferry_revision rev;
	size_t i;

	for (i = 0; i < *nseen; i++) {
		const ferry_stack *o = seen[i].stack;

		if (o->source == stack->source && o->ref_kind == stack->ref_kind &&
		    !strcmp(o->ref, stack->ref) &&
		    (stack->source != FERRY_SRC_GIT || !strcmp(o->repo, stack->repo)))
			return seen[i].id;
	}
	seen[*nseen].stack = stack;
	if (ferry_source_resolve(&rev, rc->st, stack) < 0)
		snprintf(seen[*nseen].id, sizeof(seen[*nseen].id), "?");
	else
		snprintf(seen[*nseen].id, sizeof(seen[*nseen].id), "%s", rev.id);
	ferry_revision_dispose(&rev);
	return seen[(*nseen)++].id;
}

int ferry_reconciler_status(ferry_buf *out, ferry_reconciler *rc, int json)
{
	return ferry_reconciler_status_of(out, rc, json, NULL);
}

int ferry_reconciler_status_of(ferry_buf *out, ferry_reconciler *rc, int json,
			       const char *only)
{
	json_t *arr = json_array();
	resolved *seen = calloc(rc->cfg->nstacks ? rc->cfg->nstacks : 1, sizeof(*seen));
	size_t i, nseen = 0;
	int error = 0;

	if (!arr || !seen) {
		json_decref(arr);
		free(seen);
		return ferry_error_oom();
	}

	if (!json)
		error = ferry_buf_printf(out, "%-16s %-22s %-12s %-12s %-6s %-20s %-20s %s\n",
					 "STACK", "REF", "DESIRED", "APPLIED", "DRIFT", "LAST SYNC",
					 "NEXT POLL", "LAST OUTCOME");
	for (i = 0; i < rc->cfg->nstacks && !error; i++) {
		const ferry_stack *stack = &rc->cfg->stacks[i];
		ferry_store_stack_state s;
		ferry_store_stack_suspension sus;
		ferry_buf ref = FERRY_BUF_INIT;
		char last[32], next[32], since[32];
		const char *desired, *current = "?";
		int suspended = 0;

		if (only && strcmp(stack->name, only))
			continue;
		memset(&sus, 0, sizeof(sus));
		pthread_mutex_lock(&rc->db);
		error = ferry_store_stack_state_load(&s, rc->st, stack->name);
		if (!error)
			current = resolve_once(seen, &nseen, rc, stack);
		if (!error && (error = ferry_store_stack_suspension_load(&suspended, &sus, rc->st,
									stack->name)) < 0)
			ferry_store_stack_state_dispose(&s);
		pthread_mutex_unlock(&rc->db);
		if (error)
			break;
		ferry_error_clear();
		desired = s.hold ? s.hold : current;
		if (stack->source == FERRY_SRC_GIT)
			error = ferry_buf_printf(&ref, "%s@%s%s", stack->repo,
						 stack->ref_kind == FERRY_REF_BRANCH ? ""
						 : stack->ref_kind == FERRY_REF_TAG ? "tag:"
						 : "commit:", stack->ref);
		else
			error = ferry_buf_puts(&ref, stack->ref);
		fmt_time(last, sizeof(last), s.applied_time);
		if (!stack->auto_sync && !s.next_poll)
			snprintf(next, sizeof(next), "manual");
		else
			fmt_time(next, sizeof(next), s.next_poll);
		fmt_time(since, sizeof(since), sus.time);
		if (!error && json) {
			json_array_append_new(arr, json_pack(
				"{s:s,s:s,s:s,s:o,s:o,s:b,s:o,s:o,s:o,s:o,s:b,s:b,s:o}",
				"stack", stack->name,
				"ref", ref.ptr, "desired", desired,
				"applied", s.applied ? json_string(s.applied) : json_null(),
				"hold", s.hold ? json_string(s.hold) : json_null(),
				"drift", s.drift != NULL,
				"driftDetail", s.drift ? json_string(s.drift) : json_null(),
				"lastSync", s.applied_time ? json_string(last) : json_null(),
				"nextPoll", s.next_poll ? json_string(next) : json_null(),
				"lastOutcome", s.outcome ? json_string(s.outcome) : json_null(),
				"autoSync", stack->auto_sync, "suspended", suspended,
				"suspension", suspended
				? json_pack("{s:s,s:o,s:s}", "actor", sus.actor,
					    "reason", sus.reason ? json_string(sus.reason) : json_null(),
					    "since", since)
				: json_null()));
		} else if (!error) {
			error = ferry_buf_printf(out, "%-16s %-22s %-12.12s %-12.12s %-6s %-20s %-20s "
						 "%s%s", stack->name, ref.ptr, desired,
						 s.applied ? s.applied : "-", s.drift ? "yes" : "no",
						 last, next, s.outcome ? s.outcome : "-",
						 s.hold ? " (held)" : "");
			if (!error && suspended)
				error = ferry_buf_printf(out, " (suspended by %s%s%s)", sus.actor,
							 sus.reason ? ": " : "",
							 sus.reason ? sus.reason : "");
			if (!error)
				error = ferry_buf_puts(out, "\n");
		}
		ferry_store_stack_suspension_dispose(&sus);
		ferry_buf_dispose(&ref);
		ferry_store_stack_state_dispose(&s);
	}
	free(seen);
	if (json && !error) {
		char *text = ferry_json_dumps(arr, JSON_INDENT(2));

		error = ferry_buf_printf(out, "%s\n", text ? text : "[]");
		free(text);
	}
	json_decref(arr);
	return error;
}

typedef struct {
	ferry_buf *out;
	json_t *arr;
	int json;
} history_ctx;

static int history_row(const ferry_store_stack_event *ev, void *payload)
{
	history_ctx *h = payload;
	char when[32], actor[128], text[1024];
	int error = 0;

	ferry_time_format(when, sizeof(when), ev->time);
	if (h->json)
		return ferry_json_append(h->arr, ferry_audit__event_json(ev, "id",
									 json_integer(ev->id)));
	/* The actor (a webhook's pusher login), errors and drift details may
	 * quote outside text, and rows may predate escaping at the source:
	 * every line is escaped here too (escaping is idempotent). */
	ferry_escape_bytes(actor, sizeof(actor), ev->actor, strlen(ev->actor));
	if ((error = ferry_buf_printf(h->out, "%-20s %-12s %-9s %-24.24s %-12.12s %-14s %-5s",
				      when, ev->stack, ev->trigger, actor,
				      ev->revision ? ev->revision : "-", ev->outcome,
				      ev->drift ? "yes" : "no")) < 0 ||
	    (ev->channel &&
	     (error = ferry_buf_printf(h->out, " %s#%lld (%.12s)", ev->channel,
				       (long long)ev->sequence,
				       ev->bundle_id ? ev->bundle_id : "?")) < 0))
		return error;
	if (ev->error)
		error = ferry_buf_printf(h->out, " error: %s",
					 ferry_escape_bytes(text, sizeof(text), ev->error,
							    strlen(ev->error)) ? text : "");
	else if (ev->detail && ev->drift)
		error = ferry_buf_printf(h->out, " drift: %s",
					 ferry_escape_bytes(text, sizeof(text), ev->detail,
							    strlen(ev->detail)) ? text : "");
	if (!error && ev->reason)
		error = ferry_buf_printf(h->out, " reason: %s",
					 ferry_escape_bytes(text, sizeof(text), ev->reason,
							    strlen(ev->reason)) ? text : "");
	return error < 0 ? error : ferry_buf_puts(h->out, "\n");
}

int ferry_reconciler_history(ferry_buf *out, ferry_reconciler *rc, const char *stack,
			     size_t limit, int json)
{
	history_ctx h = { out, json_array(), json };
	int error;

	if (!h.arr)
		return ferry_error_oom();
	if (!json && (error = ferry_buf_printf(out, "%-20s %-12s %-9s %-24s %-12s %-14s %-5s %s\n",
					       "TIME", "STACK", "TRIGGER", "ACTOR", "REVISION",
					       "OUTCOME", "DRIFT", "BUNDLE / DETAIL")) < 0) {
		json_decref(h.arr);
		return error;
	}
	pthread_mutex_lock(&rc->db);
	error = ferry_store_stack_event_foreach(rc->st, stack, limit, history_row, &h);
	pthread_mutex_unlock(&rc->db);
	if (json && !error) {
		char *text = ferry_json_dumps(h.arr, JSON_INDENT(2));

		error = ferry_buf_printf(out, "%s\n", text ? text : "[]");
		free(text);
	}
	json_decref(h.arr);
	return error;
}
