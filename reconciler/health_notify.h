/*
 * Notifications: telling someone when a stack's health changes. Each
 * cycle's outcome moves the stack between healthy, failed, refused (by the
 * workload policy) and drifted; a change into one of the three raises an
 * event, and the way back raises "recovered". An event goes once to each
 * configured sink that wants it: a webhook (a JSON body, HMAC-SHA256
 * signed, retried with backoff), syslog (RFC 5424, to a local socket or
 * UDP/TCP), or a command (the event in its environment). A cycle that
 * changes nothing notifies nobody, however often the stack is polled.
 */
#ifndef FERRY_RECONCILER_HEALTH_NOTIFY_H
#define FERRY_RECONCILER_HEALTH_NOTIFY_H

#include <stddef.h>

#include "buf.h"

/** Events, as bits of a sink's `events`. */
enum {
	FERRY_EVENT_FAILED = 1u << 0,     /* a render or apply failed */
	FERRY_EVENT_REFUSED = 1u << 1,    /* the workload policy refused it */
	FERRY_EVENT_DRIFT = 1u << 2,      /* the running workload drifted */
	FERRY_EVENT_RECOVERED = 1u << 3,  /* healthy again after one of those */
	FERRY_EVENT_IMPORT_ALARM = 1u << 4,     /* an import raised an alarm */
	FERRY_EVENT_IMPORT_REJECTED = 1u << 5,  /* an import refused a bundle */
	FERRY_EVENT_ALL = 0x3f
};

typedef enum {
	FERRY_NOTIFY_WEBHOOK = 1,
	FERRY_NOTIFY_SYSLOG,
	FERRY_NOTIFY_COMMAND
} ferry_notify_kind;

typedef struct {
	ferry_notify_kind kind;
	char *target;               /* webhook URL; syslog address: a socket path,
				       udp://HOST:PORT or tcp://HOST:PORT */
	char **argv;                /* command, NULL-terminated */
	unsigned char *secret;      /* webhook HMAC key (sodium memory), or NULL */
	size_t secret_len;
	unsigned events;            /* FERRY_EVENT_* bits */
	int line;                   /* in the config, for messages */
} ferry_notify_sink;

/** A stack's health as notifications see it; starts at UNKNOWN. */
typedef enum {
	FERRY_HEALTH_UNKNOWN = 0,
	FERRY_HEALTH_OK,
	FERRY_HEALTH_FAILED,
	FERRY_HEALTH_REFUSED,
	FERRY_HEALTH_DRIFT
} ferry_health;

/**
 * The event a cycle with `outcome` (ferry_cycle_result's) and `drift`
 * raises for a stack whose health was `*health`, which is updated: a
 * FERRY_EVENT_* bit, or 0 when the health did not change or the outcome
 * says nothing about it (suspended, frozen, held, removed). A first
 * healthy cycle raises nothing; a first failed one raises "failed".
 */
unsigned ferry_notify_transition(ferry_health *health, const char *outcome, int drift);

/** "failed", "refused", "drift", "recovered"; NULL for anything else. */
const char *ferry_notify_event_name(unsigned event);

/** The event bit named `name`, or 0. */
unsigned ferry_notify_event_parse(const char *name);

/** What an event says: the stack, its outcome, revision and message. */
typedef struct {
	unsigned event;
	const char *stack;
	const char *outcome;
	const char *revision;       /* may be empty */
	const char *message;        /* may be NULL */
	long long time;             /* seconds since the epoch */
	const char *channel;        /* import events: the bundle's channel, or NULL */
	unsigned long long sequence;  /* with channel */
	const char *bundle;         /* import events: the bundle id, or NULL */
} ferry_notify_event;

/**
 * The event as the JSON document every sink carries (appended to `out`):
 * {"event","stack","outcome","revision","message","time","host"}, and for
 * an import event "channel", "sequence" and "bundle" (stack null; channel
 * and bundle null when the bundle could not be read), keys
 * sorted, one line. FERRY_ENOMEM.
 */
int ferry_notify_json(ferry_buf *out, const ferry_notify_event *ev, const char *host);

/**
 * The event as one RFC 5424 syslog message (appended to `out`, no
 * framing): facility daemon, severity err (failed, refused), warning
 * (drift) or notice (recovered), APP-NAME ferry-reconcile, MSGID the
 * event's name, the JSON document as the message. Control characters
 * cannot occur in it (JSON escapes them). FERRY_ENOMEM.
 */
int ferry_notify_syslog_format(ferry_buf *out, const ferry_notify_event *ev,
			       const char *host, long pid);

/**
 * Deliver `ev` to each of the `n` sinks whose events include it. A sink
 * that fails is logged (ferry_log, naming the sink) and does not stop the
 * others. Returns the number of sinks that failed; `*sent` gets the
 * number that took it.
 */
size_t ferry_notify_send(size_t *sent, const ferry_notify_sink *sinks, size_t n,
			 const ferry_notify_event *ev);

/** Release what `s` owns (not `s`). */
void ferry_notify_sink_dispose(ferry_notify_sink *s);

#endif
