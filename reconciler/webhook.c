/*
 * The webhook endpoint (see webhook.h). It only queues triggers: cycles run
 * on the daemon's workers, so a slow apply never holds an HTTP connection
 * and a burst of webhooks for one stack collapses into one pending cycle.
 * Bodies are capped; every answer is a small JSON object, but /metrics,
 * which is Prometheus text. Requests to /hooks/ are counted by result for
 * /metrics.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ferry/errors.h"
#include "httpd_conf.h"
#include "httpd_guard.h"
#include "json.h"
#include "util.h"
#include "log.h"
#include "webhook.h"
#include "banned.h"

#define WEBHOOK_BODY_MAX (1u << 20)
/* Connections at once, from one address, and the seconds to send a
 * request's headers and its body, however slowly. */
#define WEBHOOK_CONNECTIONS 64u
#define WEBHOOK_PER_ADDRESS 8u
#define WEBHOOK_HEADER_SECONDS 10u
#define WEBHOOK_BODY_SECONDS 10u

/* The answers to /hooks/ requests, as /metrics names them. */
static const struct {
	unsigned status;
	const char *result;
} results[] = {
	{ 202, "accepted" }, { 401, "unauthorized" }, { 403, "forbidden" },
	{ 404, "not_found" }, { 405, "method_not_allowed" }, { 413, "too_large" },
	{ 0, "error" }
};
#define NRESULTS (sizeof(results) / sizeof(results[0]))

/* The status of the answer just queued on this thread (MHD's one). */
static _Thread_local unsigned last_status;

struct ferry_webhook {
	struct MHD_Daemon *daemon;
	ferry_httpd_guard *guard;
	pthread_mutex_t lock;         /* cfg, while a request reads it */
	const ferry_reconcile_config *cfg;
	ferry_webhook_trigger_fn trigger;
	ferry_webhook_metrics_fn metrics;
	ferry_webhook_ready_fn ready;
	void *payload;
	uint16_t port;
	uint64_t results[NRESULTS];   /* /hooks/ requests by answer */
};

typedef struct {
	ferry_buf body;
	int too_big;
} req_state;

int ferry_webhook_authentic(const unsigned char *secret, size_t secret_len,
			    const char *bearer, const char *signature,
			    const void *body, size_t body_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE], given[32];
	unsigned int maclen = 0;
	size_t i;

	if (!secret || !secret_len)
		return 0;
	if (bearer) {
		size_t n = strlen(bearer);

		return n == secret_len && CRYPTO_memcmp(bearer, secret, n) == 0;
	}
	if (!signature)
		return 0;
	if (!strncmp(signature, "sha256=", 7))
		signature += 7;
	if (strlen(signature) != 64)
		return 0;
	for (i = 0; i < 32; i++) {
		int hi = ferry_hex_digit(signature[2 * i]), lo = ferry_hex_digit(signature[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		given[i] = (unsigned char)(hi << 4 | lo);
	}
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, body, body_len, mac, &maclen) ||
	    maclen != 32)
		return 0;
	return CRYPTO_memcmp(mac, given, 32) == 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, json_t *o)
{
	char *text = ferry_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(o);
	if (!text)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, status, r);
	last_status = status;
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result fail(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return reply(conn, status, json_pack("{s:b,s:s}", "ok", 0, "error", msg));
}

/* GET /metrics: the daemon's text, then the webhook's own counters. */
static enum MHD_Result serve_metrics(ferry_webhook *w, struct MHD_Connection *conn)
{
	ferry_buf text = FERRY_BUF_INIT;
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t i;
	int error;

	if (!w->metrics)
		return fail(conn, MHD_HTTP_NOT_FOUND, "no metrics");
	error = w->metrics(&text, w->payload);
	if (!error)
		error = ferry_buf_puts(&text, "# HELP ferry_reconcile_webhook_requests_total "
				       "Requests to /hooks/ by result.\n"
				       "# TYPE ferry_reconcile_webhook_requests_total counter\n");
	for (i = 0; i < NRESULTS && !error; i++)
		error = ferry_buf_printf(&text, "ferry_reconcile_webhook_requests_total"
					 "{result=\"%s\"} %llu\n", results[i].result,
					 (unsigned long long)w->results[i]);
	if (error < 0) {
		ferry_buf_dispose(&text);
		return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, ferry_error_last());
	}
	if (!text.ptr) {
		ferry_buf_dispose(&text);
		return MHD_NO;
	}
	r = MHD_create_response_from_buffer(text.size, text.ptr, MHD_RESPMEM_MUST_COPY);
	ferry_buf_dispose(&text);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* The bearer token of a request: Authorization: Bearer X, or X-Ferry-Token. */
static const char *bearer_of(struct MHD_Connection *conn)
{
	const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

	if (a && !strncasecmp(a, "Bearer ", 7))
		return a + 7;
	if (a && !strncasecmp(a, "token ", 6))   /* Gitea's "Authorization: token X" */
		return a + 6;
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Ferry-Token");
}

/*
 * The JSON document of an authenticated request's body, read only to name
 * the actor in the audit trail: NULL when the body is empty, and NULL with
 * a warning when it is not valid JSON or repeats a key (ferry_json_parse),
 * so a forged duplicate cannot choose the name that is recorded.
 */
static json_t *body_json(const char *body, size_t len, const char *url)
{
	json_t *doc = NULL;

	if (!len)
		return NULL;
	if (ferry_json_parse(&doc, body, len, "the request body") < 0) {
		ferry_log(FERRY_LOG_WARN, "webhook %.100s: %s", url, ferry_error_last());
		return NULL;
	}
	return doc;
}

void ferry_webhook_import_actor(char *actor, size_t size, const char *body, size_t len,
				const char *url)
{
	json_t *doc = body_json(body, len, url);
	const char *channel = json_string_value(json_object_get(doc, "channel"));
	json_int_t seq = json_integer_value(json_object_get(doc, "sequence"));
	char name[80];

	/* The channel is outside text, as the pusher's login is. */
	ferry_escape_bytes(name, sizeof(name), channel ? channel : "?",
			   channel ? strnlen(channel, 64) : 1);
	snprintf(actor, size, "importer:%s#%lld", name, (long long)seq);
	json_decref(doc);
}

void ferry_webhook_push_actor(char *actor, size_t size, const char *body, size_t len,
			      const char *url)
{
	/* A Gitea/GitHub push payload names who pushed. */
	json_t *doc = body_json(body, len, url);
	const char *who = json_string_value(
		json_object_get(json_object_get(doc, "pusher"), "login"));
	char login[128];

	if (!who)
		who = json_string_value(json_object_get(json_object_get(doc, "sender"), "login"));
	/* Outside text: shown by 'reconcile history' and logged. */
	ferry_escape_bytes(login, sizeof(login), who ? who : "token", who ? strlen(who) : 5);
	snprintf(actor, size, "webhook:%s", login);
	json_decref(doc);
}

static enum MHD_Result route(void *cls, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version, const char *data,
			     size_t *size, void **con_cls)
{
	ferry_webhook *w = cls;
	req_state *st = *con_cls;
	const char *bearer, *sig;
	char actor[160];

	(void)version;
	if (!strcmp(method, "GET") && !strcmp(url, "/healthz"))
		return reply(conn, MHD_HTTP_OK, json_pack("{s:b}", "ok", 1));
	if (!strcmp(method, "GET") && !strcmp(url, "/readyz")) {
		size_t pending = 0;

		if (w->ready && !w->ready(&pending, w->payload))
			return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				     json_pack("{s:b,s:I}", "ok", 0, "pending", (json_int_t)pending));
		return reply(conn, MHD_HTTP_OK, json_pack("{s:b}", "ok", 1));
	}
	if (!strcmp(method, "GET") && !strcmp(url, "/metrics"))
		return serve_metrics(w, conn);
	if (strcmp(method, "POST"))
		return fail(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only POST");
	if (!st) {
		if (!(st = calloc(1, sizeof(*st))))
			return MHD_NO;
		st->body.limit = WEBHOOK_BODY_MAX;
		*con_cls = st;
		return MHD_YES;
	}
	if (*size) {
		if (ferry_buf_put(&st->body, data, *size) < 0)
			st->too_big = 1;
		*size = 0;
		return MHD_YES;
	}
	if (st->too_big)
		return fail(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body too large");
	bearer = bearer_of(conn);
	sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Hub-Signature-256");
	if (!sig)
		sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Gitea-Signature");
	if (!strcmp(url, "/hooks/import")) {
		if (!ferry_webhook_authentic(w->cfg->token, w->cfg->token_len, bearer, sig,
					     st->body.ptr ? st->body.ptr : "", st->body.size))
			return fail(conn, MHD_HTTP_UNAUTHORIZED, "bad or missing token");
		ferry_webhook_import_actor(actor, sizeof(actor), st->body.ptr, st->body.size, url);
		w->trigger(NULL, actor, w->payload);
		ferry_log(FERRY_LOG_INFO, "webhook: import notification %s", actor);
		return reply(conn, MHD_HTTP_ACCEPTED,
			     json_pack("{s:b,s:I}", "ok", 1, "stacks", (json_int_t)w->cfg->nstacks));
	}
	if (!strncmp(url, "/hooks/stacks/", 14)) {
		const char *name = url + 14;
		size_t i;

		for (i = 0; i < w->cfg->nstacks; i++)
			if (!strcmp(w->cfg->stacks[i].name, name))
				break;
		if (i == w->cfg->nstacks)
			return fail(conn, MHD_HTTP_NOT_FOUND, "no such stack");
		if (!w->cfg->stacks[i].secret)
			return fail(conn, MHD_HTTP_FORBIDDEN, "the stack has no webhook secret");
		if (!ferry_webhook_authentic(w->cfg->stacks[i].secret, w->cfg->stacks[i].secret_len,
					     bearer, sig, st->body.ptr ? st->body.ptr : "",
					     st->body.size))
			return fail(conn, MHD_HTTP_UNAUTHORIZED, "bad or missing token or signature");
		ferry_webhook_push_actor(actor, sizeof(actor), st->body.ptr, st->body.size, url);
		w->trigger(w->cfg->stacks[i].name, actor, w->payload);
		return reply(conn, MHD_HTTP_ACCEPTED, json_pack("{s:b,s:s}", "ok", 1, "stack", name));
	}
	return fail(conn, MHD_HTTP_NOT_FOUND, "unknown endpoint");
}

/* Every request, under the lock a config reload takes. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **con_cls)
{
	ferry_webhook *w = cls;
	enum MHD_Result r;

	ferry_httpd_guard_read(conn, *con_cls == NULL, *size);
	pthread_mutex_lock(&w->lock);
	last_status = 0;
	r = route(cls, conn, url, method, version, data, size, con_cls);
	if (last_status && !strncmp(url, "/hooks/", 7)) {
		size_t i = 0;

		while (results[i].status && results[i].status != last_status)
			i++;
		w->results[i]++;
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	req_state *st = *con_cls;

	(void)cls;
	(void)toe;
	ferry_httpd_guard_done(conn);
	if (st) {
		ferry_buf_dispose(&st->body);
		free(st);
	}
	*con_cls = NULL;
}

int ferry_webhook_start(ferry_webhook **out, const ferry_reconcile_config *cfg,
			ferry_webhook_trigger_fn trigger, void *payload)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	ferry_webhook *w;
	int error;

	if ((error = ferry_httpd_parse_listen(&sa, cfg->listen, "webhook listen")) < 0)
		return error;
	if (!(w = calloc(1, sizeof(*w))))
		return ferry_error_oom();
	pthread_mutex_init(&w->lock, NULL);
	w->cfg = cfg;
	w->trigger = trigger;
	w->payload = payload;
	{
		ferry_httpd_guard_options go = FERRY_HTTPD_GUARD_OPTIONS_INIT;

		go.header_timeout = WEBHOOK_HEADER_SECONDS;
		go.body_timeout = WEBHOOK_BODY_SECONDS;
		go.max_connections = WEBHOOK_CONNECTIONS;
		if ((error = ferry_httpd_guard_new(&w->guard, &go)) < 0) {
			pthread_mutex_destroy(&w->lock);
			free(w);
			return error;
		}
	}
	w->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, w,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				     MHD_OPTION_CONNECTION_LIMIT,
				     ferry_httpd_guard_hard_limit(w->guard, 1),
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, WEBHOOK_PER_ADDRESS,
				     MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				     MHD_OPTION_NOTIFY_CONNECTION, ferry_httpd_guard_notify,
				     w->guard,
				     MHD_OPTION_NOTIFY_COMPLETED, completed, w,
				     MHD_OPTION_END);
	if (!w->daemon) {
		ferry_httpd_guard_free(w->guard);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return ferry_error_set(FERRY_EIO, "cannot listen on %s", cfg->listen);
	}
	info = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_BIND_PORT);
	w->port = info ? info->port : ntohs(sa.sin_port);
	*out = w;
	return 0;
}

void ferry_webhook_lock(ferry_webhook *w)
{
	if (w)
		pthread_mutex_lock(&w->lock);
}

void ferry_webhook_unlock(ferry_webhook *w)
{
	if (w)
		pthread_mutex_unlock(&w->lock);
}

void ferry_webhook_set_status(ferry_webhook *w, ferry_webhook_metrics_fn metrics,
			      ferry_webhook_ready_fn ready)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->metrics = metrics;
	w->ready = ready;
	pthread_mutex_unlock(&w->lock);
}

void ferry_webhook_set_config(ferry_webhook *w, const ferry_reconcile_config *cfg)
{
	if (w)
		w->cfg = cfg;
}

uint16_t ferry_webhook_port(const ferry_webhook *w)
{
	return w->port;
}

void ferry_webhook_stop(ferry_webhook *w)
{
	if (!w)
		return;
	MHD_stop_daemon(w->daemon);
	ferry_httpd_guard_free(w->guard);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
