/*
 * The reconciler's records in ferry.db: one event per reconcile cycle (the
 * audit trail of deployments) and one state row per stack (what was
 * applied, what it looked like, the rollback hold, the next poll), which
 * lets a restarted daemon or a separate `ferry reconcile sync` carry on
 * where the last cycle left off; and the stacks an operator suspended.
 */
#ifndef FERRY_STORE_STACKS_H
#define FERRY_STORE_STACKS_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "store.h"

typedef struct {
	int64_t id;               /* set when read back */
	int64_t time;
	const char *stack, *trigger, *actor, *source, *ref, *revision;
	const char *images;       /* JSON array text, or NULL */
	const char *bundle_id, *channel;
	int64_t sequence;         /* 0: none */
	const char *runtime;      /* where it was deployed: podman, kubernetes, compose */
	const char *outcome;
	int drift;
	const char *detail, *error;
	const char *reason;       /* the operator's reason, or NULL */
} ferry_store_stack_event;

/** Append an event (and its reason, in the same savepoint). */
int ferry_store_stack_event_add(ferry_store *st, const ferry_store_stack_event *ev);
/**
 * Delete the events of quiet cycles (outcome "unchanged", no drift, no
 * operator's reason) older than `before` (Unix seconds); every other event
 * is kept. Sets `*removed`.
 */
int ferry_store_stack_event_prune(ferry_store *st, int64_t before, int64_t *removed);
/** The last `limit` events (0: all) of `stack` (NULL: every stack), oldest
 *  first; strings are borrowed for the call. */
int ferry_store_stack_event_foreach(ferry_store *st, const char *stack, size_t limit,
				    int (*cb)(const ferry_store_stack_event *ev, void *payload),
				    void *payload);
/** The newest `limit` events (0: all) that `filter` keeps (NULL: every
 *  one), oldest first; strings are borrowed for the call. */
int ferry_store_stack_event_query(ferry_store *st, const ferry_store_event_filter *filter,
				  size_t limit,
				  int (*cb)(const ferry_store_stack_event *ev, void *payload),
				  void *payload);
/** The full revision of the newest event in which `stack` applied a revision
 *  starting with `prefix`, into `full`; FERRY_ENOTFOUND when none. */
int ferry_store_stack_applied_revision(char full[72], ferry_store *st, const char *stack,
				       const char *prefix);
/** The earliest bundle an event recorded for `revision` from `source`
 *  ("git:<repo>"); FERRY_ENOTFOUND when none. */
int ferry_store_stack_event_origin(ferry_store_origin *out, ferry_store *st,
				   const char *source, const char *revision);

/** Per-stack state kept between cycles. */
typedef struct {
	char *applied;            /* revision applied, or NULL */
	char *previous;           /* the revision applied before it, or NULL */
	char *images;             /* JSON array */
	char *expected;           /* workloads JSON */
	char *file;               /* the rendered manifests applied */
	char *hold;               /* rollback hold, or NULL */
	char *drift;              /* last drift found, or NULL */
	char *outcome;            /* last outcome */
	int64_t applied_time, last_cycle, next_poll;
} ferry_store_stack_state;

void ferry_store_stack_state_dispose(ferry_store_stack_state *s);
/** The state of `stack`; all fields zero when it has none yet. */
int ferry_store_stack_state_load(ferry_store_stack_state *out, ferry_store *st,
				 const char *stack);
int ferry_store_stack_state_save(ferry_store *st, const char *stack,
				 const ferry_store_stack_state *s);
int ferry_store_stack_state_set_next_poll(ferry_store *st, const char *stack, int64_t t);

/** Why a stack is suspended: the daemon runs no poll or webhook cycle of it. */
typedef struct {
	char *actor;              /* who suspended it ("operator:NAME") */
	char *reason;             /* their reason, or NULL */
	int64_t time;             /* when (Unix seconds) */
} ferry_store_stack_suspension;

void ferry_store_stack_suspension_dispose(ferry_store_stack_suspension *s);
/**
 * Suspend `stack` (all strings borrowed; `reason` may be NULL). Suspending
 * a suspended stack replaces the actor, reason and time.
 */
int ferry_store_stack_suspend(ferry_store *st, const char *stack, const char *actor,
			      const char *reason, int64_t time);
/** Lift the suspension of `stack`; FERRY_ENOTFOUND when it is not suspended. */
int ferry_store_stack_resume(ferry_store *st, const char *stack);
/**
 * `*suspended` nonzero when `stack` is suspended, and then `out` (which may
 * be NULL) gets the details, owned by the caller (dispose it); otherwise
 * `out` is zeroed.
 */
int ferry_store_stack_suspension_load(int *suspended, ferry_store_stack_suspension *out,
				      ferry_store *st, const char *stack);

#endif
