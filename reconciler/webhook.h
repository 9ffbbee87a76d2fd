/*
 * The reconciler's webhook endpoint (libmicrohttpd), internal to the
 * reconciler: POST /hooks/import (the importer, with the config's token)
 * asks every stack to check its source now; POST /hooks/stacks/NAME (the
 * stack's secret as a token, or an HMAC-SHA256 of the body in
 * X-Hub-Signature-256 or X-Gitea-Signature) asks one stack. GET /healthz
 * (the listener answers), /readyz (every stack had a cycle) and /metrics
 * (Prometheus text) need no credentials: they tell only what the stacks'
 * names and outcomes are, and the listener is on loopback or the site's
 * management network.
 */
#ifndef FERRY_RECONCILER_WEBHOOK_H
#define FERRY_RECONCILER_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "reconcile.h"

typedef struct ferry_webhook ferry_webhook;

/**
 * What an authentic request asks for, called on the webhook's thread with
 * the webhook's lock held: the stack named `stack` (NULL: every stack)
 * should check its source now; `actor` names who asked (both borrowed for
 * the call).
 */
typedef void (*ferry_webhook_trigger_fn)(const char *stack, const char *actor,
					 void *payload);

/** Listen on cfg->listen (both borrowed until ferry_webhook_stop); requests
 *  go to `trigger` with `payload`. */
int ferry_webhook_start(ferry_webhook **out, const ferry_reconcile_config *cfg,
			ferry_webhook_trigger_fn trigger, void *payload);
void ferry_webhook_stop(ferry_webhook *w);
/**
 * Hold off requests (they wait) while the caller swaps the config; the
 * lock is taken before any lock the trigger takes. NULL-safe.
 */
void ferry_webhook_lock(ferry_webhook *w);
void ferry_webhook_unlock(ferry_webhook *w);
/** Use `cfg` (borrowed) for the next requests; call with the lock held.
 *  The listen address stays what it was. NULL-safe. */
void ferry_webhook_set_config(ferry_webhook *w, const ferry_reconcile_config *cfg);
/** The Prometheus text of the daemon, appended to `out`. */
typedef int (*ferry_webhook_metrics_fn)(ferry_buf *out, void *payload);
/** Nonzero when ready; `*pending` stacks are not yet. */
typedef int (*ferry_webhook_ready_fn)(size_t *pending, void *payload);
/** Serve /metrics and /readyz from these (called with the webhook's lock
 *  held, and the trigger's payload). Without them /metrics is 404 and
 *  /readyz is always ready. NULL-safe. */
void ferry_webhook_set_status(ferry_webhook *w, ferry_webhook_metrics_fn metrics,
			      ferry_webhook_ready_fn ready);
/** The bound port (useful with port 0). */
uint16_t ferry_webhook_port(const ferry_webhook *w);

/**
 * Check a request's credentials against `secret`: a bearer token (or
 * X-Ferry-Token), or "sha256=<hex>" / "<hex>" HMAC-SHA256 of `body`.
 * Returns 1 when authentic, 0 otherwise. Comparisons are constant time.
 */
int ferry_webhook_authentic(const unsigned char *secret, size_t secret_len,
			    const char *bearer, const char *signature,
			    const void *body, size_t body_len);

/**
 * Who asked, for the audit trail, from an authenticated request's body
 * (`len` bytes of `body`, which may be NULL when `len` is 0): an import
 * notification's "importer:CHANNEL#SEQUENCE", a Gitea or GitHub push
 * payload's "webhook:LOGIN" (pusher.login, else sender.login, escaped;
 * "webhook:token" without one). A body that is not JSON, or repeats a key,
 * names nobody (logged with `url`). Writes at most `size` bytes with the NUL.
 */
void ferry_webhook_import_actor(char *actor, size_t size, const char *body, size_t len,
				const char *url);
void ferry_webhook_push_actor(char *actor, size_t size, const char *body, size_t len,
			      const char *url);

#endif
