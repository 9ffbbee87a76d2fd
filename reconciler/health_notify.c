/*
 * Notifications (health_notify.h): the health state machine that turns cycle
 * outcomes into events, and the three sinks. Delivery is synchronous in
 * the worker that ran the cycle, bounded by each sink's timeouts, and a
 * failing sink is logged, never fatal: the audit stream stays the record,
 * notifications are how a person hears of it.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "ferry/errors.h"
#include "json.h"
#include "http.h"
#include "log.h"
#include "health_notify.h"
#include "reconcile.h"
#include "util.h"
#include "banned.h"

/* How long a syslog or webhook peer may take before the delivery fails. */
#define NOTIFY_TIMEOUT_S 5

static const struct {
	unsigned bit;
	const char *name;
	int severity;   /* RFC 5424: 2 crit, 3 err, 4 warning, 5 notice */
} events[] = {
	{ FERRY_EVENT_FAILED, "failed", 3 },
	{ FERRY_EVENT_REFUSED, "refused", 3 },
	{ FERRY_EVENT_DRIFT, "drift", 4 },
	{ FERRY_EVENT_RECOVERED, "recovered", 5 },
	{ FERRY_EVENT_IMPORT_ALARM, "import-alarm", 2 },
	{ FERRY_EVENT_IMPORT_REJECTED, "import-rejected", 3 },
};
#define NEVENTS (sizeof(events) / sizeof(events[0]))

const char *ferry_notify_event_name(unsigned event)
{
	size_t i;

	for (i = 0; i < NEVENTS; i++)
		if (events[i].bit == event)
			return events[i].name;
	return NULL;
}

unsigned ferry_notify_event_parse(const char *name)
{
	size_t i;

	for (i = 0; name && i < NEVENTS; i++)
		if (!strcmp(events[i].name, name))
			return events[i].bit;
	return 0;
}

unsigned ferry_notify_transition(ferry_health *health, const char *outcome, int drift)
{
	ferry_health was = *health, now;

	if (!outcome)
		outcome = "failed";
	if (!strcmp(outcome, "failed") || !strcmp(outcome, "blocked"))
		now = FERRY_HEALTH_FAILED;   /* blocked: the pre-flight found an image missing */
	else if (!strcmp(outcome, "refused"))
		now = FERRY_HEALTH_REFUSED;
	else if (!strcmp(outcome, "applied") || !strcmp(outcome, "unchanged") ||
		 !strcmp(outcome, "dry-run") || !strcmp(outcome, "out-of-sync") ||
		 !strcmp(outcome, "drift-reported"))
		now = drift ? FERRY_HEALTH_DRIFT : FERRY_HEALTH_OK;
	else
		return 0;   /* suspended, frozen, held, removed: nothing learnt */
	if (now == was)
		return 0;
	*health = now;
	switch (now) {
	case FERRY_HEALTH_FAILED: return FERRY_EVENT_FAILED;
	case FERRY_HEALTH_REFUSED: return FERRY_EVENT_REFUSED;
	case FERRY_HEALTH_DRIFT: return FERRY_EVENT_DRIFT;
	default: return was == FERRY_HEALTH_UNKNOWN ? 0 : FERRY_EVENT_RECOVERED;
	}
}

int ferry_notify_json(ferry_buf *out, const ferry_notify_event *ev, const char *host)
{
	char when[32];
	const char *name = ferry_notify_event_name(ev->event);
	json_t *o;
	char *text = NULL;
	int error;

	ferry_time_format(when, sizeof(when), (int64_t)ev->time);
	o = json_pack("{s:s,s:o,s:o,s:s,s:o,s:s,s:o}", "event", name ? name : "unknown",
		      "stack", ferry_json_text(ev->stack), "outcome", ferry_json_text(ev->outcome),
		      "revision", ev->revision ? ev->revision : "", "message",
		      ferry_json_text(ev->message), "time", when, "host", ferry_json_text(host));
	if (o && (ev->event & (FERRY_EVENT_IMPORT_ALARM | FERRY_EVENT_IMPORT_REJECTED)) &&
	    (json_object_set_new(o, "channel", ferry_json_text(ev->channel)) < 0 ||
	     json_object_set_new(o, "sequence", json_integer((json_int_t)ev->sequence)) < 0 ||
	     json_object_set_new(o, "bundle", ferry_json_text(ev->bundle)) < 0)) {
		json_decref(o);
		o = NULL;
	}
	if (!o || !(text = ferry_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)))
		error = ferry_error_oom();
	else
		error = ferry_buf_puts(out, text);
	free(text);
	json_decref(o);
	return error;
}

static int severity_of(unsigned event)
{
	size_t i;

	for (i = 0; i < NEVENTS; i++)
		if (events[i].bit == event)
			return events[i].severity;
	return 5;
}

int ferry_notify_syslog_format(ferry_buf *out, const ferry_notify_event *ev,
			       const char *host, long pid)
{
	char when[32];
	const char *name = ferry_notify_event_name(ev->event);
	int error;

	ferry_time_format(when, sizeof(when), (int64_t)ev->time);
	/* facility 3 (daemon); "-": no structured data */
	if ((error = ferry_buf_printf(out, "<%d>1 %s %s ferry-reconcile %ld %s - ",
				      3 * 8 + severity_of(ev->event), when,
				      host && *host ? host : "-", pid,
				      name ? name : "-")) < 0)
		return error;
	return ferry_notify_json(out, ev, host);
}

/* ---- sinks ---------------------------------------------------------------------- */

static int send_webhook(const ferry_notify_sink *s, const ferry_notify_event *ev,
			const ferry_buf *body)
{
	ferry_http_options ho = FERRY_HTTP_OPTIONS_INIT;
	ferry_http_request req = { 0 };
	ferry_http_response res;
	ferry_http *h = NULL;
	ferry_buf event = FERRY_BUF_INIT, sig = FERRY_BUF_INIT;
	const char *headers[4] = { "Content-Type: application/json", NULL, NULL, NULL };
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0, i;
	int error;

	memset(&res, 0, sizeof(res));
	if ((error = ferry_buf_printf(&event, "X-Ferry-Event: %s",
				      ferry_notify_event_name(ev->event))) < 0)
		goto done;
	headers[1] = event.ptr;
	if (s->secret) {
		if (!HMAC(EVP_sha256(), s->secret, (int)s->secret_len,
			  (const unsigned char *)body->ptr, body->size, mac, &maclen)) {
			error = ferry_error_set(FERRY_EIO, "cannot compute the HMAC");
			goto done;
		}
		if ((error = ferry_buf_puts(&sig, "X-Ferry-Signature-256: sha256=")) < 0)
			goto done;
		for (i = 0; i < maclen; i++)
			if ((error = ferry_buf_printf(&sig, "%02x", mac[i])) < 0)
				goto done;
		headers[2] = sig.ptr;
	}
	ho.connect_timeout_s = NOTIFY_TIMEOUT_S;
	ho.stall_timeout_s = NOTIFY_TIMEOUT_S;
	ho.max_retries = 3;
	ho.backoff_ms = 500;
	req.url = s->target;
	req.headers = headers;
	req.post = body->ptr;
	req.post_len = body->size;
	req.limit = 64 * 1024;
	if ((error = ferry_http_new(&h, &ho)) < 0 || (error = ferry_http_get(&res, h, &req)) < 0)
		goto done;
	if (res.status < 200 || res.status > 299)
		error = ferry_error_set(FERRY_EIO, "HTTP %ld", res.status);
done:
	ferry_http_response_dispose(&res);
	ferry_http_free(h);
	ferry_buf_dispose(&event);
	ferry_buf_dispose(&sig);
	return error;
}

/* Connect (or, for datagrams, aim) a socket at a syslog address. */
static int syslog_socket(int *fd, int *stream, const char *target)
{
	struct addrinfo hints, *ai = NULL;
	struct timeval tv = { NOTIFY_TIMEOUT_S, 0 };
	char host[256];
	const char *hp, *colon;
	int error = 0, s = -1;

	*stream = 0;
	if (target[0] == '/') {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(target) >= sizeof(sun.sun_path))
			return ferry_error_set(FERRY_EINVALID, "socket path too long");
		memcpy(sun.sun_path, target, strlen(target) + 1);
		if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
		    connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot reach '%s'", target);
			goto done;
		}
		*fd = s;
		return 0;
	}
	*stream = !strncmp(target, "tcp://", 6);
	hp = target + 6;
	if (!(colon = strrchr(hp, ':')) || (size_t)(colon - hp) >= sizeof(host))
		return ferry_error_set(FERRY_EINVALID, "not a syslog address");
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = *stream ? SOCK_STREAM : SOCK_DGRAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
		return ferry_error_set(FERRY_EIO, "cannot resolve '%s'", host);
	if ((s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(s, ai->ai_addr, ai->ai_addrlen) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot reach '%s'", target);
		goto done;
	}
	*fd = s;
	s = -1;
done:
	if (s >= 0)
		close(s);
	if (ai)
		freeaddrinfo(ai);
	return error;
}

static int send_syslog(const ferry_notify_sink *s, const ferry_notify_event *ev,
		       const char *host)
{
	ferry_buf msg = FERRY_BUF_INIT, framed = FERRY_BUF_INIT;
	const ferry_buf *out = &msg;
	int fd = -1, stream, error;
	size_t off = 0;

	if ((error = ferry_notify_syslog_format(&msg, ev, host, (long)getpid())) < 0 ||
	    (error = syslog_socket(&fd, &stream, s->target)) < 0)
		goto done;
	/* Over TCP, RFC 6587's octet counting: "LEN SP MSG". */
	if (stream) {
		if ((error = ferry_buf_printf(&framed, "%zu %s", msg.size, msg.ptr)) < 0)
			goto done;
		out = &framed;
	}
	while (off < out->size) {
		ssize_t n = send(fd, out->ptr + off, out->size - off, MSG_NOSIGNAL);

		if (n < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot send to '%s'", s->target);
			goto done;
		}
		off += (size_t)n;
	}
done:
	if (fd >= 0)
		close(fd);
	ferry_buf_dispose(&msg);
	ferry_buf_dispose(&framed);
	return error;
}

static int send_command(const ferry_notify_sink *s, const ferry_notify_event *ev,
			const ferry_buf *body)
{
	ferry_buf env[7] = { FERRY_BUF_INIT, FERRY_BUF_INIT, FERRY_BUF_INIT, FERRY_BUF_INIT,
			     FERRY_BUF_INIT, FERRY_BUF_INIT, FERRY_BUF_INIT };
	const char *env_add[8];
	int status = 0, error = 0;
	size_t i;

	if ((error = ferry_buf_printf(&env[0], "FERRY_EVENT=%s",
				      ferry_notify_event_name(ev->event))) < 0 ||
	    (error = ferry_buf_printf(&env[1], "FERRY_STACK=%s", ev->stack ? ev->stack : "")) < 0 ||
	    (error = ferry_buf_printf(&env[2], "FERRY_OUTCOME=%s", ev->outcome)) < 0 ||
	    (error = ferry_buf_printf(&env[3], "FERRY_REVISION=%s",
				      ev->revision ? ev->revision : "")) < 0 ||
	    (error = ferry_buf_printf(&env[4], "FERRY_EVENT_JSON=%s", body->ptr)) < 0 ||
	    (error = ferry_buf_printf(&env[5], "FERRY_CHANNEL=%s",
				      ev->channel ? ev->channel : "")) < 0 ||
	    (error = ferry_buf_printf(&env[6], "FERRY_SEQUENCE=%llu", ev->sequence)) < 0)
		goto done;
	for (i = 0; i < 7; i++)
		env_add[i] = env[i].ptr;
	env_add[7] = NULL;
	if ((error = ferry_spawn(&status, NULL, NULL, (const char *const *)s->argv,
				 env_add)) < 0)
		goto done;
	if (status)
		error = ferry_error_set(FERRY_EIO, "exit status %d", status);
done:
	for (i = 0; i < 7; i++)
		ferry_buf_dispose(&env[i]);
	return error;
}

size_t ferry_notify_send(size_t *sent, const ferry_notify_sink *sinks, size_t n,
			 const ferry_notify_event *ev)
{
	ferry_buf body = FERRY_BUF_INIT;
	char host[256] = "";
	size_t i, failed = 0;
	int error;

	*sent = 0;
	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	if (ferry_notify_json(&body, ev, host) < 0) {
		ferry_log(FERRY_LOG_WARN, "notify: %s", ferry_error_last());
		return n;
	}
	for (i = 0; i < n; i++) {
		const ferry_notify_sink *s = &sinks[i];

		if (!(s->events & ev->event))
			continue;
		switch (s->kind) {
		case FERRY_NOTIFY_WEBHOOK: error = send_webhook(s, ev, &body); break;
		case FERRY_NOTIFY_SYSLOG: error = send_syslog(s, ev, host); break;
		default: error = send_command(s, ev, &body); break;
		}
		if (error < 0) {
			ferry_log(FERRY_LOG_WARN, "notify (config line %d, %s %s): %s %s, "
				  "event %s not delivered: %s", s->line,
				  s->kind == FERRY_NOTIFY_WEBHOOK ? "webhook" :
				  s->kind == FERRY_NOTIFY_SYSLOG ? "syslog" : "command",
				  s->kind == FERRY_NOTIFY_COMMAND ? s->argv[0] : s->target,
				  ev->stack ? "stack" : "channel",
				  ev->stack ? ev->stack : ev->channel ? ev->channel : "-",
				  ferry_notify_event_name(ev->event), ferry_error_last());
			ferry_error_clear();
			failed++;
		} else {
			(*sent)++;
		}
	}
	ferry_buf_dispose(&body);
	return failed;
}

void ferry_notify_sink_dispose(ferry_notify_sink *s)
{
	size_t i;

	free(s->target);
	if (s->argv)
		for (i = 0; s->argv[i]; i++)
			free(s->argv[i]);
	free(s->argv);
	if (s->secret)
		sodium_free(s->secret);
	memset(s, 0, sizeof(s[0]));
}
