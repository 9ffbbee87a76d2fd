/*
 * ferry console: the enclave's web console. One page per question an
 * operator asks (overview, store, stacks, audit), served as plain HTML
 * with one stylesheet and no script, so it works offline, fast on a slow
 * link and from a keyboard. Every page needs a login; acting on a stack
 * (sync, suspend, resume, rollback) needs the operator role, a CSRF token,
 * a typed reason and a confirmation, and goes to the reconciler daemon
 * over its control socket, which records the event with the operator as
 * actor and the reason. The console itself never deploys anything.
 */
#ifndef FERRY_CONSOLE_CONSOLE_H
#define FERRY_CONSOLE_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ferry_console ferry_console;

typedef struct {
	unsigned version;
	const char *store;
	const char *config;          /* the reconciler's config (its stacks), or NULL */
	const char *listen;          /* "ADDR:PORT"; port 0 picks a free one */
	const char *tls_cert;        /* PEM files; both or neither */
	const char *tls_key;
	const char *viewers;         /* credential file: users who read */
	const char *operators;       /* credential file: users who read and act */
	const char *const *inboxes;  /* inbox directories whose status is shown */
	size_t ninboxes;
	int64_t stale_after;         /* seconds without an import before a channel
					is shown stale (default 2 days) */
	FILE *log;                   /* JSON lines: logins, actions, refusals; or NULL */
	unsigned threads;            /* worker threads (default 4) */
	unsigned max_connections;    /* at once (default 128) */
	unsigned header_timeout;     /* seconds to send a request's headers (10) */
	unsigned body_timeout;       /* seconds to send its body (30) */
} ferry_console_options;

#define FERRY_CONSOLE_OPTIONS_VERSION 1
#define FERRY_CONSOLE_OPTIONS_INIT { FERRY_CONSOLE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, \
				     NULL, NULL, NULL, NULL, 0, 0, NULL, 4, 128, 10, 30 }

/**
 * Start serving. FERRY_EINVALID for bad options or credential files (at
 * least one of viewers and operators is needed; user names are 1 to 64
 * letters, digits and . _ @ -, the names the audit trail records),
 * FERRY_ENOTFOUND when the store does not exist, FERRY_EIO when binding
 * fails.
 */
int ferry_console_start(ferry_console **out, const ferry_console_options *opts);
/** The port it listens on. */
uint16_t ferry_console_port(const ferry_console *c);
/** Stop, finishing requests in flight; NULL is fine. */
void ferry_console_stop(ferry_console *c);

#endif
