/*
 * The console's HTTP server on libmicrohttpd: logins and sessions, the
 * routes, the checks in front of every action (role, CSRF token, origin,
 * reason, confirmation), the response headers that keep pages out of
 * frames and caches, and a JSON log of logins and actions. Pages are
 * written by pages.c; actions go to the reconciler daemon's control socket.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "ferry/errors.h"
#include "control.h"
#include "fs.h"
#include "httpd_conf.h"
#include "json.h"
#include "private.h"
#include "util.h"
#include "banned.h"

#define COOKIE "ferry_console"

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- the log ---------------------------------------------------------------- */

/* One JSON line: every value from outside is escaped before jansson sees it. */
static void log_line(ferry_console *c, const ferry_console_request *r, const char *event,
		     const char *user, const char *outcome, const char *detail)
{
	char when[32];
	char *u, *d;
	json_t *o;
	char *text;

	if (!c->log)
		return;
	ferry_time_format(when, sizeof(when), (int64_t)time(NULL));
	u = ferry_escape_dup(user ? user : "");
	d = ferry_escape_dup(detail ? detail : "");
	o = u && d ? json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "time", when, "event", event,
			       "client", r->client, "user", u, "outcome", outcome, "detail", d)
		   : NULL;
	text = o ? ferry_json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (text) {
		pthread_mutex_lock(&c->log_lock);
		fprintf(c->log, "%s\n", text);
		fflush(c->log);
		pthread_mutex_unlock(&c->log_lock);
	}
	free(text);
	json_decref(o);
	free(u);
	free(d);
}

/* ---- responses ----------------------------------------------------------------- */

typedef struct {
	const char *type;           /* Content-Type (default text/html) */
	const char *location;       /* 303 target */
	const char *cookie;         /* Set-Cookie */
	long retry_after;           /* seconds, or 0 */
	int cacheable;
} extra;

static enum MHD_Result respond(struct MHD_Connection *conn, ferry_console_request *r,
			       unsigned status, ferry_buf *body, const extra *x)
{
	struct MHD_Response *resp;
	size_t len = body ? body->size : 0;
	enum MHD_Result ret;

	if (body && body->ptr) {
		char *data = ferry_buf_detach(body);

		if (!(resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)))
			free(data);
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				x && x->type ? x->type : "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'none'; style-src 'self'; img-src 'self'; "
				"form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				x && x->cacheable ? "max-age=3600" : "no-store");
	if (x && x->location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, x->location);
	if (x && x->cookie)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, x->cookie);
	{
		/* the time this request took here, for the benchmark and a browser's
		 * developer tools */
		char timing[48];

		snprintf(timing, sizeof(timing), "app;dur=%.2f",
			 (double)(now_us() - r->start_us) / 1000.0);
		MHD_add_response_header(resp, "Server-Timing", timing);
	}
	if (x && x->retry_after > 0) {
		char s[24];

		snprintf(s, sizeof(s), "%ld", x->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, s);
	}
	r->status = status;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, ferry_console_request *r,
			    unsigned status, const char *msg)
{
	ferry_buf b = FERRY_BUF_INIT;
	extra x = { "text/plain; charset=utf-8", NULL, NULL, 0, 0 };

	if (ferry_buf_puts(&b, msg) < 0 || ferry_buf_puts(&b, "\n") < 0)
		ferry_buf_dispose(&b);
	return respond(conn, r, status, &b, &x);
}

static enum MHD_Result redirect(struct MHD_Connection *conn, ferry_console_request *r,
				const char *to, const char *cookie)
{
	extra x = { NULL, to, cookie, 0, 0 };

	return respond(conn, r, 303, NULL, &x);
}

/* A page built in `h`: sent with `status`, or a 500 when it lost a piece. */
static enum MHD_Result send_page(struct MHD_Connection *conn, ferry_console_request *r,
				 unsigned status, ferry_html *h, const extra *x)
{
	enum MHD_Result ret;

	if (h->error) {
		ferry_html_dispose(h);
		return text(conn, r, 500, "the page could not be built (out of memory)");
	}
	ret = respond(conn, r, status, &h->b, x);
	ferry_html_dispose(h);
	return ret;
}

/* ---- who asks ------------------------------------------------------------------- */

static void session_token(char token[FERRY_SESSION_TOKEN_LEN + 1], struct MHD_Connection *conn)
{
	const char *cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_COOKIE);

	if (!cookie || ferry_cookie_value(token, FERRY_SESSION_TOKEN_LEN + 1, cookie, COOKIE) < 0)
		token[0] = '\0';
}

/*
 * A request that changes something must come from the console's own pages:
 * when the browser names the page's origin (Origin, or else Referer), it
 * must be this host. The CSRF token is the check that counts; this one
 * refuses a forged form before its body is read for anything else.
 */
static int same_origin(ferry_console *c, struct MHD_Connection *conn)
{
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	const char *referer = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							  MHD_HTTP_HEADER_REFERER);
	const char *scheme = c->tls ? "https://" : "http://";
	size_t sl = strlen(scheme), hl;

	if (!origin && !referer)
		return 1;
	if (!host)
		return 0;
	hl = strlen(host);
	if (origin)
		return !strncmp(origin, scheme, sl) && !strncmp(origin + sl, host, hl) &&
		       origin[sl + hl] == '\0';
	return !strncmp(referer, scheme, sl) && !strncmp(referer + sl, host, hl) &&
	       (referer[sl + hl] == '/' || referer[sl + hl] == '\0');
}

static char *form(const ferry_console_request *r, const char *key)
{
	char *v = NULL;

	if (ferry_form_value(&v, r->body.ptr, r->body.size, key) < 0) {
		ferry_error_clear();
		return NULL;
	}
	return v;
}

static void free_secret(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

/* ---- login and logout ------------------------------------------------------------ */

static enum MHD_Result login(ferry_console *c, struct MHD_Connection *conn,
			     ferry_console_request *r)
{
	char *user = form(r, "user"), *password = form(r, "password");
	char token[FERRY_SESSION_TOKEN_LEN + 1], old[FERRY_SESSION_TOKEN_LEN + 1];
	char cookie[FERRY_SESSION_TOKEN_LEN + 128];
	ferry_html h = FERRY_HTML_INIT;
	ferry_session s;
	ferry_role role = FERRY_ROLE_NONE;
	int64_t now = (int64_t)time(NULL), wait = 0;
	enum MHD_Result ret;
	extra x = { 0 };

	if (!user || !password || !*user || strlen(user) > FERRY_PASSWD_USER_MAX) {
		ferry_console__login_page(&h, "Give a user name and a password.");
		ret = send_page(conn, r, 400, &h, NULL);
		goto done;
	}
	if (!ferry_sessions_login_attempt(&wait, c->sessions, r->client, user, now)) {
		log_line(c, r, "login", user, "throttled", "too many failed logins");
		ferry_console__login_page(&h, "Too many failed logins: wait, then try again.");
		x.retry_after = (long)wait;
		ret = send_page(conn, r, 429, &h, &x);
		goto done;
	}
	if (ferry_passwd_has(c->operators, user)) {
		if (ferry_passwd_check(c->operators, user, password))
			role = FERRY_ROLE_OPERATOR;
	} else if (ferry_passwd_has(c->viewers, user)) {
		if (ferry_passwd_check(c->viewers, user, password))
			role = FERRY_ROLE_VIEWER;
	} else {
		/* the same work as for a listed name */
		(void)ferry_passwd_check(c->operators ? c->operators : c->viewers, user, password);
	}
	if (role != FERRY_ROLE_NONE)
		ferry_sessions_login_succeeded(c->sessions, r->client, user, now);
	if (role == FERRY_ROLE_NONE) {
		log_line(c, r, "login", user, "refused", "wrong user name or password");
		ferry_console__login_page(&h, "Wrong user name or password.");
		ret = send_page(conn, r, 401, &h, NULL);
		goto done;
	}
	/* a session id the browser brought is never taken over: it ends, and
	 * the login gets a fresh one (no session fixation) */
	session_token(old, conn);
	if (old[0])
		ferry_sessions_drop(c->sessions, old);
	if (ferry_sessions_create(token, &s, c->sessions, user, role, now) < 0) {
		ret = text(conn, r, 500, "cannot start a session");
		goto done;
	}
	snprintf(cookie, sizeof(cookie), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s", token,
		 c->tls ? "; Secure" : "");
	sodium_memzero(token, sizeof(token));
	log_line(c, r, "login", user, "ok", ferry_role_name(role));
	ret = redirect(conn, r, "/", cookie);
	sodium_memzero(cookie, sizeof(cookie));
done:
	free(user);
	free_secret(password);
	return ret;
}

/* ---- actions ---------------------------------------------------------------------- */

static int revision_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 4 && n <= 64 && strspn(s, "0123456789abcdef") == n;
}

static enum MHD_Result act(ferry_console *c, struct MHD_Connection *conn,
			   ferry_console_request *r, const ferry_console_view *v,
			   const char *name, const char *action)
{
	char *csrf = form(r, "csrf"), *reason = form(r, "reason"), *confirm = form(r, "confirm");
	char *to = form(r, "to");
	char actor[FERRY_CONTROL_OPERATOR_MAX + 16];
	json_t *req = NULL, *reply = NULL;
	ferry_html h = FERRY_HTML_INIT;
	enum MHD_Result ret;
	int error;

	if (!ferry_sessions_token_equal(csrf, v->s.csrf)) {
		log_line(c, r, "action", v->s.user, "refused", "missing or wrong CSRF token");
		ret = text(conn, r, 403, "refused: the form is stale or was not sent by this "
					 "console (CSRF token); reload the page");
		goto done;
	}
	if (v->s.role != FERRY_ROLE_OPERATOR) {
		log_line(c, r, "action", v->s.user, "refused", "the viewer role may not act");
		ret = text(conn, r, 403, "refused: acting on a stack needs the operator role");
		goto done;
	}
	if (strcmp(action, "sync") && strcmp(action, "suspend") && strcmp(action, "resume") &&
	    strcmp(action, "rollback")) {
		ret = text(conn, r, 404, "no such action");
		goto done;
	}
	if (!c->cfg || !ferry_reconcile_config_stack(c->cfg, name)) {
		ret = text(conn, r, 404, "no such stack");
		goto done;
	}
	if (!reason || ferry_reason_check(reason) < 0) {
		ret = text(conn, r, 400, reason ? ferry_error_last()
						: "refused: give a reason or change-record id");
		ferry_error_clear();
		goto done;
	}
	if (!confirm || strcmp(confirm, "yes")) {
		ret = text(conn, r, 400, "refused: tick the confirmation");
		goto done;
	}
	if (to && *to && (strcmp(action, "rollback") || !revision_ok(to))) {
		ret = text(conn, r, 400, "refused: a revision is 4 to 64 lowercase hex digits, "
					 "for a rollback only");
		goto done;
	}
	snprintf(actor, sizeof(actor), "operator:%s", v->s.user);
	req = json_pack("{s:s,s:s,s:s,s:s,s:s?}", "op", action, "actor", actor, "stack", name,
			"reason", reason, "to", to && *to ? to : NULL);
	if (!req) {
		ret = text(conn, r, 500, "out of memory");
		goto done;
	}
	if (!ferry_console__control_enter(c)) {
		extra x = { "text/plain; charset=utf-8", NULL, NULL, 5, 0 };
		ferry_buf b = FERRY_BUF_INIT;

		log_line(c, r, "action", v->s.user, "busy", action);
		if (ferry_buf_puts(&b, "busy: other requests to the reconciler are running; try "
				       "again\n") < 0)
			ferry_buf_dispose(&b);
		ret = respond(conn, r, 503, &b, &x);
		goto done;
	}
	log_line(c, r, "action", v->s.user, "asked", action);
	error = ferry_reconciler_control(&reply, c->rc, req, FERRY_CONSOLE_ACTION_TIMEOUT);
	ferry_console__control_leave(c);
	if (error == FERRY_ENOTFOUND) {
		log_line(c, r, "action", v->s.user, "failed", "no reconciler daemon runs");
		ferry_console__action_page(&h, v, name, action, 0, NULL,
					   "No reconciler daemon runs: the console acts only "
					   "through it. Start it (ferry reconcile run), then try "
					   "again.");
		ret = send_page(conn, r, 503, &h, NULL);
	} else if (error < 0 || !json_is_true(json_object_get(reply, "ok"))) {
		const char *msg = error < 0 ? ferry_error_last()
			: json_string_value(json_object_get(reply, "error"));

		log_line(c, r, "action", v->s.user, "failed", msg);
		ferry_console__action_page(&h, v, name, action, 0, NULL, msg);
		ret = send_page(conn, r, 502, &h, NULL);
	} else {
		const char *outcome = json_string_value(json_object_get(reply, "outcome"));

		log_line(c, r, "action", v->s.user, "ok", action);
		ferry_console__action_page(&h, v, name, action, 1,
					   outcome ? outcome : !strcmp(action, "suspend")
					   ? "suspended" : !strcmp(action, "resume") ? "resumed"
					   : "done",
					   json_string_value(json_object_get(reply, "message")));
		ret = send_page(conn, r, 200, &h, NULL);
	}
	ferry_error_clear();
done:
	json_decref(req);
	json_decref(reply);
	free(csrf);
	free(reason);
	free(confirm);
	free(to);
	return ret;
}

/* ---- requests to the reconciler daemon ------------------------------------- */

int ferry_console__control_enter(ferry_console *c)
{
	int n = atomic_fetch_add(&c->control_busy, 1);

	if (n < FERRY_CONSOLE_CONTROL_MAX)
		return 1;
	atomic_fetch_sub(&c->control_busy, 1);
	return 0;
}

void ferry_console__control_leave(ferry_console *c)
{
	atomic_fetch_sub(&c->control_busy, 1);
}

/* ---- dispatch --------------------------------------------------------------------- */

/* "/stacks/NAME" or "/stacks/NAME/ACTION": NAME (decoded) and ACTION. */
static int split_stack_url(char *name, size_t nlen, char *action, size_t alen, const char *url)
{
	const char *p = url + strlen("/stacks/"), *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);

	if (!n || n >= nlen)
		return -1;
	memcpy(name, p, n);
	name[n] = '\0';
	action[0] = '\0';
	if (slash) {
		if (strlen(slash + 1) >= alen || strchr(slash + 1, '/') || !slash[1])
			return -1;
		snprintf(action, alen, "%s", slash + 1);
	}
	return 0;
}

static enum MHD_Result route(ferry_console *c, struct MHD_Connection *conn,
			     ferry_console_request *r, const char *url)
{
	int post = !strcmp(r->method, "POST"), get = !strcmp(r->method, "GET") ||
						    !strcmp(r->method, "HEAD");
	char token[FERRY_SESSION_TOKEN_LEN + 1];
	ferry_console_view v;
	ferry_html h = FERRY_HTML_INIT;
	int error;

	if (!post && !get)
		return text(conn, r, 405, "method not allowed");
	if (!strcmp(url, "/healthz"))
		return text(conn, r, 200, "ok");
	if (!strcmp(url, "/console.css")) {
		ferry_buf b = FERRY_BUF_INIT;
		extra x = { "text/css; charset=utf-8", NULL, NULL, 0, 1 };

		if (ferry_buf_puts(&b, ferry_console__css) < 0)
			return text(conn, r, 500, "out of memory");
		return respond(conn, r, 200, &b, &x);
	}
	if (post && !same_origin(c, conn)) {
		log_line(c, r, "request", NULL, "refused", "cross-origin POST");
		return text(conn, r, 403, "refused: a form from another site");
	}
	if (r->too_big)
		return text(conn, r, 413, "request body too large");
	if (!strcmp(url, "/login")) {
		if (post)
			return login(c, conn, r);
		ferry_console__login_page(&h, NULL);
		return send_page(conn, r, 200, &h, NULL);
	}
	memset(&v, 0, sizeof(v));
	v.url = url;
	v.conn = conn;
	session_token(token, conn);
	if (!token[0] || ferry_sessions_get(&v.s, c->sessions, token, (int64_t)time(NULL)) < 0) {
		sodium_memzero(token, sizeof(token));
		if (get)
			return redirect(conn, r, "/login", NULL);
		log_line(c, r, "request", NULL, "refused", "no session");
		return text(conn, r, 401, "refused: log in first");
	}
	if (!strcmp(url, "/logout") && post) {
		char *csrf = form(r, "csrf");
		int ok = ferry_sessions_token_equal(csrf, v.s.csrf);

		free(csrf);
		if (!ok)
			return text(conn, r, 403, "refused: missing or wrong CSRF token");
		ferry_sessions_drop(c->sessions, token);
		sodium_memzero(token, sizeof(token));
		log_line(c, r, "logout", v.s.user, "ok", NULL);
		return redirect(conn, r, "/login", COOKIE "=; Path=/; Max-Age=0; HttpOnly; "
					   "SameSite=Strict");
	}
	sodium_memzero(token, sizeof(token));
	if (post && !strncmp(url, "/stacks/", 8)) {
		char name[256], action[32];

		if (split_stack_url(name, sizeof(name), action, sizeof(action), url) < 0 ||
		    !action[0])
			return text(conn, r, 404, "no such page");
		return act(c, conn, r, &v, name, action);
	}
	if (post)
		return text(conn, r, 405, "method not allowed");
	if (!strcmp(url, "/"))
		error = ferry_console__overview(&h, c, &v);
	else if (!strcmp(url, "/store"))
		error = ferry_console__store(&h, c, &v);
	else if (!strcmp(url, "/stacks"))
		error = ferry_console__stacks(&h, c, &v);
	else if (!strcmp(url, "/audit"))
		error = ferry_console__audit(&h, c, &v, 0);
	else if (!strcmp(url, "/audit.jsonl")) {
		extra x = { "application/x-ndjson; charset=utf-8", NULL, NULL, 0, 0 };

		if ((error = ferry_console__audit(&h, c, &v, 1)) < 0) {
			enum MHD_Result ret = text(conn, r, error == FERRY_EINVALID ? 400 : 500,
						   ferry_error_last());

			ferry_html_dispose(&h);
			ferry_error_clear();
			return ret;
		}
		return send_page(conn, r, 200, &h, &x);
	} else if (!strncmp(url, "/stacks/", 8)) {
		char name[256], action[32];

		if (split_stack_url(name, sizeof(name), action, sizeof(action), url) < 0)
			error = FERRY_ENOTFOUND;
		else if (!strcmp(action, "plan"))
			error = ferry_console__plan(&h, c, &v, name);
		else if (action[0])
			error = FERRY_ENOTFOUND;
		else
			error = ferry_console__stack(&h, c, &v, name);
	} else {
		error = FERRY_ENOTFOUND;
	}
	if (error == FERRY_ENOTFOUND) {
		ferry_html_dispose(&h);
		ferry_error_clear();
		return text(conn, r, 404, "no such page");
	}
	if (error < 0) {
		enum MHD_Result ret;

		ferry_html_dispose(&h);
		ret = text(conn, r, 500, ferry_error_last());
		ferry_error_clear();
		return ret;
	}
	return send_page(conn, r, 200, &h, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version,
			      const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	ferry_console *c = cls;
	ferry_console_request *r = *con_cls;

	(void)version;
	ferry_httpd_guard_read(conn, r == NULL, *upload_data_size);
	if (!r) {
		if (!(r = calloc(1, sizeof(*r))))
			return MHD_NO;
		r->start_us = now_us();
		snprintf(r->method, sizeof(r->method), "%s", method);
		ferry_httpd_client_address(conn, r->client, sizeof(r->client));
		r->body.limit = FERRY_CONSOLE_BODY_MAX;
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->too_big && ferry_buf_put(&r->body, upload_data, *upload_data_size) < 0)
			r->too_big = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	return route(c, conn, r, url);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	ferry_console_request *r = *con_cls;

	(void)cls;
	(void)toe;
	ferry_httpd_guard_done(conn);
	if (!r)
		return;
	if (r->body.ptr)
		sodium_memzero(r->body.ptr, r->body.size);   /* it may hold a password */
	ferry_buf_dispose(&r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- start and stop --------------------------------------------------------------- */

/* Every user of a credential file must be a name the audit trail carries
 * as the actor ("operator:NAME"). */
static int load_users(ferry_passwd **out, const char *path)
{
	const char *user;
	size_t i;
	int error;

	if (!path)
		return 0;
	if ((error = ferry_passwd_load(out, path)) < 0)
		return error;
	for (i = 0; (user = ferry_passwd_user(*out, i)); i++)
		if (!ferry_control_operator_name_ok(user))
			return ferry_error_set(FERRY_EINVALID, "'%s': user '%s': a console user "
					       "name is 1 to %d letters, digits and . _ @ - (the "
					       "audit trail records it)", path, user,
					       FERRY_CONTROL_OPERATOR_MAX);
	return 0;
}

int ferry_console_start(ferry_console **out, const ferry_console_options *o)
{
	ferry_sessions_options so = FERRY_SESSIONS_OPTIONS_INIT;
	ferry_reconciler_options ro = FERRY_RECONCILER_OPTIONS_INIT;
	ferry_httpd_guard_options go = FERRY_HTTPD_GUARD_OPTIONS_INIT;
	ferry_buf cert = FERRY_BUF_INIT, key = FERRY_BUF_INIT;
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa;
	ferry_console *c;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	unsigned threads;
	size_t i;
	int error;

	*out = NULL;
	if (!o || o->version != FERRY_CONSOLE_OPTIONS_VERSION || !o->store || !o->listen)
		return ferry_error_set(FERRY_EINVALID, "bad console options");
	if (!!o->tls_cert != !!o->tls_key)
		return ferry_error_set(FERRY_EINVALID, "TLS needs both a certificate and a key");
	if (!o->viewers && !o->operators)
		return ferry_error_set(FERRY_EINVALID, "the console needs --viewers or --operators "
				       "(credential files): it has no anonymous access");
	if ((error = ferry_httpd_parse_listen(&sa, o->listen, "--listen")) < 0)
		return error;
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	if (!(c = calloc(1, sizeof(*c))) || !(c->store = strdup(o->store))) {
		free(c);
		return ferry_error_oom();
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->log_lock, NULL);
	c->log = o->log;
	c->tls = o->tls_cert != NULL;
	c->stale_after = o->stale_after > 0 ? o->stale_after : 2 * 86400;
	for (i = 0; i < o->ninboxes; i++)
		if ((error = ferry_strv_push(&c->inboxes, o->inboxes[i])) < 0)
			goto fail;
	if ((error = load_users(&c->viewers, o->viewers)) < 0 ||
	    (error = load_users(&c->operators, o->operators)) < 0 ||
	    (error = ferry_sessions_new(&c->sessions, &so)) < 0 ||
	    (error = ferry_store_open(&c->st, o->store, FERRY_STORE_READ, 0)) < 0)
		goto fail;
	if (o->config) {
		ro.store = o->store;
		ro.no_audit_log = 1;   /* the daemon writes the audit log, not the console */
		if ((error = ferry_reconcile_config_load_public(&c->cfg, o->config)) < 0 ||
		    (error = ferry_reconciler_new(&c->rc, c->cfg, &ro)) < 0)
			goto fail;
	}
	go.header_timeout = o->header_timeout ? o->header_timeout : 10;
	go.body_timeout = o->body_timeout ? o->body_timeout : 30;
	go.max_connections = o->max_connections ? o->max_connections : 128;
	if ((error = ferry_httpd_guard_new(&c->guard, &go)) < 0)
		goto fail;
	if (o->tls_cert) {
		if ((error = ferry_httpd_tls_load(&cert, &key, o->tls_cert, o->tls_key)) < 0)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	threads = o->threads ? o->threads : 4;
	c->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, c,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, ferry_httpd_guard_hard_limit(c->guard, threads),
		MHD_OPTION_NOTIFY_CONNECTION, ferry_httpd_guard_notify, c->guard,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)32,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
		MHD_OPTION_NOTIFY_COMPLETED, completed, c,
		o->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert.ptr,
		MHD_OPTION_HTTPS_MEM_KEY, key.ptr,
		MHD_OPTION_END);
	if (!c->daemon) {
		error = ferry_error_set(FERRY_EIO, "cannot listen on %s (address in use, or "
					"bad TLS files)", o->listen);
		goto fail;
	}
	info = MHD_get_daemon_info(c->daemon, MHD_DAEMON_INFO_BIND_PORT);
	c->port = info ? info->port : ntohs(sa.sin_port);
	ferry_httpd_tls_dispose(&cert, &key);
	*out = c;
	return 0;
fail:
	ferry_httpd_tls_dispose(&cert, &key);
	ferry_console_stop(c);
	return error;
}

uint16_t ferry_console_port(const ferry_console *c)
{
	return c->port;
}

void ferry_console_stop(ferry_console *c)
{
	if (!c)
		return;
	if (c->daemon)
		MHD_stop_daemon(c->daemon);
	ferry_httpd_guard_free(c->guard);
	ferry_reconciler_free(c->rc);
	ferry_reconcile_config_free(c->cfg);
	ferry_store_close(c->st);
	ferry_sessions_free(c->sessions);
	ferry_passwd_free(c->viewers);
	ferry_passwd_free(c->operators);
	ferry_strv_dispose(&c->inboxes);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->log_lock);
	free(c->store);
	free(c);
}
