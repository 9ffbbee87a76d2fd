/*
 * The reconciler's webhook endpoint (libmicrohttpd), internal to the
 * reconciler: POST /hooks/import (the importer, with the config's token)
 * asks every stack to check its source now; POST /hooks/stacks/NAME (the
 * stack's secret as a token, or an HMAC-SHA256 of the body in
 * X-Hub-Signature-256 or X-Gitea-Signature) asks one stack.
 */
#ifndef FERRY_RECONCILER_WEBHOOK_H
#define FERRY_RECONCILER_WEBHOOK_H

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

#endif
