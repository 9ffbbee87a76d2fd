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
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <jansson.h>

#include "ferry/errors.h"
#include "digest.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "reconcile.h"
#include "util.h"
#include "webhook.h"
#include "banned.h"

typedef struct {
	int running, pending, done;
	ferry_trigger trigger;
	char actor[160];
	int64_t next_poll;
} stack_rt;

struct ferry_reconciler {
	const ferry_reconcile_config *cfg;
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
	int quit, once;
	size_t ndone;
	char *port_file;
};

const char *ferry_trigger_name(ferry_trigger t)
{
	static const char *const names[] = { "poll", "webhook", "manual", "rollback", "down" };

	return t <= FERRY_TRIGGER_DOWN ? names[t] : "unknown";
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
	if (opts && opts->port_file && !(rc->port_file = strdup(opts->port_file))) {
		free(rc->rt);
		free(rc);
		return ferry_error_oom();
	}
	pthread_mutex_init(&rc->db, NULL);
	pthread_mutex_init(&rc->lock, NULL);
	pthread_cond_init(&rc->cond, NULL);
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
	free(rc->rt);
	pthread_mutex_destroy(&rc->db);
	pthread_mutex_destroy(&rc->lock);
	pthread_cond_destroy(&rc->cond);
	ferry_runtime_invalidate();
	git_libgit2_shutdown();
	free(rc);
}

/* ---- one cycle ----------------------------------------------------------- */

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
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return text;
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

/* Check out, render, check and apply `rev`; fills `r` and `file`. */
static int deploy(ferry_reconciler *rc, const ferry_stack *stack, const char *rev,
		  ferry_rendered *r, ferry_buf *file, ferry_buf *log)
{
	ferry_buf work = FERRY_BUF_INIT;
	ferry_runtime_options topts = { rc->dry_run, rc->out };
	char *sub = NULL;
	int error;

	if ((error = ferry_buf_printf(&work, "%s/%s.work", rc->state_dir, stack->name)) < 0)
		goto done;
	if (ferry_fs_exists(work.ptr) && (error = ferry_fs_remove_tree(work.ptr)) < 0)
		goto done;
	pthread_mutex_lock(&rc->db);
	error = ferry_source_checkout(&sub, rc->st, stack, rev, work.ptr);
	pthread_mutex_unlock(&rc->db);
	if (error < 0 || (error = ferry_render(r, rc->cfg, stack, sub)) < 0)
		goto done;
	if ((error = ferry_buf_printf(file, "%s/%s-%.12s.%s", rc->state_dir, stack->name,
				      ferry_oci_digest_hex(rev) ? ferry_oci_digest_hex(rev) : rev,
				      stack->format == FERRY_FMT_COMPOSE ? "compose.yaml"
									  : "yaml")) < 0 ||
	    (error = ferry_fs_write_atomic(file->ptr, r->yaml.ptr ? r->yaml.ptr : "", r->yaml.size,
					   0600)) < 0)
		goto done;
	if (rc->dry_run)
		fprintf(rc->out, "# stack %s: revision %s rendered to %s (%zu image(s))\n",
			stack->name, rev, file->ptr, r->nimages);
	error = ferry_runtime_apply(rc->cfg, stack, r, file->ptr, &topts, log);
done:
	if (work.ptr && ferry_fs_exists(work.ptr))
		ferry_fs_remove_tree(work.ptr);
	free(sub);
	ferry_buf_dispose(&work);
	return error;
}

int ferry_reconcile_cycle(ferry_cycle_result *out, ferry_reconciler *rc,
			  const ferry_stack *stack, ferry_trigger trigger, const char *actor,
			  const char *to)
{
	ferry_store_stack_state s;
	ferry_revision rev;
	ferry_rendered r;
	ferry_buf detail = FERRY_BUF_INIT, file = FERRY_BUF_INIT, log = FERRY_BUF_INIT,
		  err = FERRY_BUF_INIT, source = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
	ferry_runtime_options topts = { rc->dry_run, rc->out };
	ferry_store_stack_event ev;
	char *images = NULL, *expected = NULL;
	const char *outcome = "unchanged";
	int fd = -1, error = 0, drift = 0, checked = 0, changed, apply = 0, rerr;
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
	if (stack->source == FERRY_SRC_GIT)
		ferry_buf_printf(&source, "git:%s", stack->repo);
	else
		ferry_buf_printf(&source, "oci:%s", stack->ref);

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

	/* Drift: the live state against what was applied. */
	if (s.applied && !rc->dry_run) {
		rerr = ferry_runtime_drift(&drift, &checked, &detail, rc->cfg, stack, s.expected,
					  s.file, &topts);
		if (rerr < 0) {
			ferry_buf_printf(&detail, "%sdrift check failed: %s", detail.size ? "; " : "",
					 ferry_error_last());
			ferry_error_clear();
		}
	}

	/* Decide. */
	if (trigger == FERRY_TRIGGER_MANUAL || trigger == FERRY_TRIGGER_ROLLBACK) {
		apply = 1;
	} else if (changed) {
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
			ferry_buf_printf(&err, "sync blocked by the freeze file %s at %.12s: %s",
					 stack->freeze_file, rev.id, why.ptr ? why.ptr : "");
			if (trigger == FERRY_TRIGGER_MANUAL)
				error = ferry_error_set(FERRY_EVERIFY, "stack '%s': %s", stack->name,
							err.ptr);
		}
		ferry_buf_dispose(&why);
	}
	if (apply) {
		if ((error = deploy(rc, stack, rev.id, &r, &file, &log)) < 0) {
			outcome = "failed";
			images = images_json(&r);
			goto record;
		}
		images = images_json(&r);
		if (rc->dry_run) {
			outcome = "dry-run";
			goto unlock;
		}
		expected = ferry_workloads_to_json(&r);
		outcome = "applied";
		if (!changed && drift)
			ferry_buf_printf(&detail, "%s", " (corrected)");
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
		ferry_buf_puts(&err, ferry_error_last());
	ev.time = now;
	ev.stack = stack->name;
	ev.trigger = ferry_trigger_name(trigger);
	ev.actor = actor ? actor : "ferry";
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
	ev.detail = detail.size ? detail.ptr : (log.size ? log.ptr : NULL);
	ev.error = err.size ? err.ptr : NULL;
	s.last_cycle = now;
	free(s.outcome);
	s.outcome = strdup(outcome);
	free(s.drift);
	s.drift = drift && strcmp(outcome, "applied") && detail.size ? strdup(detail.ptr) : NULL;
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
		ferry_buf_printf(&msg, "%s", err.size ? err.ptr : detail.ptr ? detail.ptr : "");
	else if (trigger == FERRY_TRIGGER_ROLLBACK && !error)
		ferry_buf_printf(&msg, stack->auto_sync
				 ? "auto-sync is on: the stack is held at %.12s; polls and webhooks "
				   "will not move it until 'ferry reconcile sync %s'"
				 : "auto-sync is off: %.12s stays until the next 'ferry reconcile "
				   "sync %s'", rev.id, stack->name);
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
	return error;
}

/* ---- the daemon ---------------------------------------------------------- */

int ferry_reconciler_trigger(ferry_reconciler *rc, long index, ferry_trigger trigger,
			     const char *actor)
{
	size_t i;

	pthread_mutex_lock(&rc->lock);
	for (i = 0; i < rc->cfg->nstacks; i++) {
		if (index >= 0 && (size_t)index != i)
			continue;
		rc->rt[i].pending = 1;
		rc->rt[i].trigger = trigger;
		snprintf(rc->rt[i].actor, sizeof(rc->rt[i].actor), "%s", actor ? actor : "webhook");
	}
	pthread_cond_broadcast(&rc->cond);
	pthread_mutex_unlock(&rc->lock);
	return 0;
}

static void webhook_trigger(long index, const char *actor, void *payload)
{
	ferry_reconciler_trigger(payload, index, FERRY_TRIGGER_WEBHOOK, actor);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *worker(void *arg)
{
	ferry_reconciler *rc = arg;
	size_t n = rc->cfg->nstacks, i;

	pthread_mutex_lock(&rc->lock);
	while (!rc->quit) {
		int64_t now = mono_ms();
		size_t pick = n;

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

			if (rc->once && rc->ndone == n)
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
			char actor[160];
			ferry_cycle_result res;
			int64_t next;

			snprintf(actor, sizeof(actor), "%s", t->pending ? t->actor : "ferry-reconciler");
			t->pending = 0;
			t->running = 1;
			pthread_mutex_unlock(&rc->lock);
			if (ferry_reconcile_cycle(&res, rc, stack, trig, actor, NULL) < 0)
				ferry_log(FERRY_LOG_WARN, "stack %s: %s", stack->name,
					  ferry_error_last());
			else
				ferry_log(FERRY_LOG_INFO, "stack %s: %s %.12s", stack->name,
					  res.outcome, res.revision);
			ferry_cycle_result_dispose(&res);
			ferry_error_clear();
			next = (int64_t)time(NULL) + stack->interval;
			pthread_mutex_lock(&rc->db);
			ferry_store_stack_state_set_next_poll(rc->st, stack->name, next);
			pthread_mutex_unlock(&rc->db);
			ferry_error_clear();
			pthread_mutex_lock(&rc->lock);
			t->running = 0;
			t->next_poll = mono_ms() + stack->interval * 1000;
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

int ferry_reconciler_run(ferry_reconciler *rc, volatile int *stop, int once, unsigned workers)
{
	int64_t pruned_at;
	pthread_t th[16];
	ferry_webhook *hook = NULL;
	size_t i, started = 0;
	int error = 0;

	if (!workers)
		workers = 4;
	if (workers > 16)
		workers = 16;
	if (workers > rc->cfg->nstacks)
		workers = (unsigned)rc->cfg->nstacks;
	rc->once = once;
	rc->quit = 0;
	for (i = 0; i < rc->cfg->nstacks; i++)
		rc->rt[i].next_poll = 0;
	if (!once && rc->cfg->listen &&
	    (error = ferry_webhook_start(&hook, rc->cfg, webhook_trigger, rc)) < 0)
		return error;
	if (hook && rc->port_file) {
		char port[16];

		snprintf(port, sizeof(port), "%u\n", (unsigned)ferry_webhook_port(hook));
		if ((error = ferry_fs_write_output(rc->port_file, port, strlen(port), 0644)) < 0) {
			ferry_webhook_stop(hook);
			return error;
		}
	}
	for (i = 0; i < workers; i++) {
		if (pthread_create(&th[i], NULL, worker, rc) != 0) {
			error = ferry_error_set(FERRY_ERROR, "cannot start a worker thread");
			break;
		}
		started++;
	}
	prune_history(rc);
	pruned_at = (int64_t)time(NULL);
	if (!error) {
		pthread_mutex_lock(&rc->lock);
		while (!*stop && !(once && rc->ndone == rc->cfg->nstacks)) {
			struct timespec ts;

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
	/* stop taking webhooks, let running cycles finish */
	ferry_webhook_stop(hook);
	pthread_mutex_lock(&rc->lock);
	rc->quit = 1;
	pthread_cond_broadcast(&rc->cond);
	pthread_mutex_unlock(&rc->lock);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
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

int ferry_reconciler_status(ferry_buf *out, ferry_reconciler *rc, int json)
{
	json_t *arr = json_array();
	size_t i;
	int error = 0;

	if (!json)
		ferry_buf_printf(out, "%-16s %-22s %-12s %-12s %-6s %-20s %-20s %s\n", "STACK", "REF",
				 "DESIRED", "APPLIED", "DRIFT", "LAST SYNC", "NEXT POLL", "LAST OUTCOME");
	for (i = 0; i < rc->cfg->nstacks && !error; i++) {
		const ferry_stack *stack = &rc->cfg->stacks[i];
		ferry_store_stack_state s;
		ferry_revision rev;
		ferry_buf ref = FERRY_BUF_INIT;
		char last[32], next[32];
		const char *desired;

		pthread_mutex_lock(&rc->db);
		error = ferry_store_stack_state_load(&s, rc->st, stack->name);
		if (!error && ferry_source_resolve(&rev, rc->st, stack) < 0)
			snprintf(rev.id, sizeof(rev.id), "?");
		pthread_mutex_unlock(&rc->db);
		ferry_error_clear();
		if (error)
			break;
		desired = s.hold ? s.hold : rev.id;
		if (stack->source == FERRY_SRC_GIT)
			ferry_buf_printf(&ref, "%s@%s%s", stack->repo,
					 stack->ref_kind == FERRY_REF_BRANCH ? ""
					 : stack->ref_kind == FERRY_REF_TAG ? "tag:" : "commit:",
					 stack->ref);
		else
			ferry_buf_puts(&ref, stack->ref);
		fmt_time(last, sizeof(last), s.applied_time);
		if (!stack->auto_sync && !s.next_poll)
			snprintf(next, sizeof(next), "manual");
		else
			fmt_time(next, sizeof(next), s.next_poll);
		if (json) {
			json_array_append_new(arr, json_pack(
				"{s:s,s:s,s:s,s:o,s:o,s:b,s:o,s:o,s:o,s:o,s:b}", "stack", stack->name,
				"ref", ref.ptr, "desired", desired,
				"applied", s.applied ? json_string(s.applied) : json_null(),
				"hold", s.hold ? json_string(s.hold) : json_null(),
				"drift", s.drift != NULL,
				"driftDetail", s.drift ? json_string(s.drift) : json_null(),
				"lastSync", s.applied_time ? json_string(last) : json_null(),
				"nextPoll", s.next_poll ? json_string(next) : json_null(),
				"lastOutcome", s.outcome ? json_string(s.outcome) : json_null(),
				"autoSync", stack->auto_sync));
		} else {
			ferry_buf_printf(out, "%-16s %-22s %-12.12s %-12.12s %-6s %-20s %-20s %s%s\n",
					 stack->name, ref.ptr, desired, s.applied ? s.applied : "-",
					 s.drift ? "yes" : "no", last, next,
					 s.outcome ? s.outcome : "-", s.hold ? " (held)" : "");
		}
		ferry_buf_dispose(&ref);
		ferry_store_stack_state_dispose(&s);
		ferry_revision_dispose(&rev);
	}
	if (json && !error) {
		char *text = json_dumps(arr, JSON_INDENT(2));

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
	char when[32];

	ferry_time_format(when, sizeof(when), ev->time);
	if (h->json)
		return ferry_json_append(h->arr, ferry_audit__event_json(ev, "id",
									 json_integer(ev->id)));
	ferry_buf_printf(h->out, "%-20s %-12s %-9s %-24.24s %-12.12s %-14s %-5s", when, ev->stack,
			 ev->trigger, ev->actor, ev->revision ? ev->revision : "-", ev->outcome,
			 ev->drift ? "yes" : "no");
	if (ev->channel)
		ferry_buf_printf(h->out, " %s#%lld (%.12s)", ev->channel, (long long)ev->sequence,
				 ev->bundle_id ? ev->bundle_id : "?");
	if (ev->error)
		ferry_buf_printf(h->out, " error: %s", ev->error);
	else if (ev->detail && ev->drift)
		ferry_buf_printf(h->out, " drift: %s", ev->detail);
	return ferry_buf_puts(h->out, "\n");
}

int ferry_reconciler_history(ferry_buf *out, ferry_reconciler *rc, const char *stack,
			     size_t limit, int json)
{
	history_ctx h = { out, json_array(), json };
	int error;

	if (!h.arr)
		return ferry_error_oom();
	if (!json)
		ferry_buf_printf(out, "%-20s %-12s %-9s %-24s %-12s %-14s %-5s %s\n", "TIME", "STACK",
				 "TRIGGER", "ACTOR", "REVISION", "OUTCOME", "DRIFT", "BUNDLE / DETAIL");
	pthread_mutex_lock(&rc->db);
	error = ferry_store_stack_event_foreach(rc->st, stack, limit, history_row, &h);
	pthread_mutex_unlock(&rc->db);
	if (json && !error) {
		char *text = json_dumps(h.arr, JSON_INDENT(2));

		error = ferry_buf_printf(out, "%s\n", text ? text : "[]");
		free(text);
	}
	json_decref(h.arr);
	return error;
}
