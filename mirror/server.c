/*
 * The mirror's HTTP server on libmicrohttpd: a pool of threads, each with
 * its own epoll loop; limits on connections (total and per client), idle
 * time, header size and the time to read a request (httpd_guard.c, which
 * also cuts the slowest reader when the cap is reached); an optional per-client request rate; optional TLS
 * and read credentials; a JSON access log; /healthz, /readyz and /metrics.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <git2.h>
#include <jansson.h>
#include <sodium.h>

#include "ferry/errors.h"
#include "json.h"
#include "fs.h"
#include "httpd_conf.h"
#include "passwd.h"
#include "private.h"
#include "store.h"
#include "util.h"
#include "banned.h"

static const double bucket_le[FERRY_MIRROR_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5
};

struct rate_slot {
	char client[64];
	double tokens;
	uint64_t last_us;
};

uint64_t ferry_mirror__now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- read credentials ------------------------------------------------- */

static int authorised(ferry_mirror *m, struct MHD_Connection *c)
{
	char *pass = NULL, *user;
	int ok;

	if (!m->passwd)
		return 1;
	user = MHD_basic_auth_get_username_password(c, &pass);
	ok = user && pass && ferry_passwd_check(m->passwd, user, pass);
	if (pass) {
		sodium_memzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return ok;
}

/* ---- per-client rate: a token bucket per address --------------------- */

static int rate_ok(ferry_mirror *m, const char *client)
{
	uint64_t t = ferry_mirror__now_us();
	struct rate_slot *s = NULL;
	size_t i;
	int ok;

	if (!m->rate)
		return 1;
	pthread_mutex_lock(&m->rate_lock);
	for (i = 0; i < m->nrates; i++)
		if (!strcmp(m->rates[i].client, client)) {
			s = &m->rates[i];
			break;
		}
	if (!s) {
		struct rate_slot *grown = m->nrates < 4096
			? realloc(m->rates, (m->nrates + 1) * sizeof(*grown)) : NULL;

		if (!grown) {
			/* table full: forget the oldest half of the history */
			memmove(m->rates, m->rates + m->nrates / 2,
				(m->nrates - m->nrates / 2) * sizeof(*m->rates));
			m->nrates -= m->nrates / 2;
			grown = m->rates;
		}
		m->rates = grown;
		s = &m->rates[m->nrates++];
		snprintf(s->client, sizeof(s->client), "%s", client);
		s->tokens = m->rate;
		s->last_us = t;
	}
	s->tokens += (double)(t - s->last_us) / 1e6 * m->rate;
	if (s->tokens > m->rate)
		s->tokens = m->rate;
	s->last_us = t;
	ok = s->tokens >= 1.0;
	if (ok)
		s->tokens -= 1.0;
	pthread_mutex_unlock(&m->rate_lock);
	return ok;
}

/* ---- health and metrics ------------------------------------------------ */

static uint64_t store_bytes(ferry_mirror *m)
{
	ferry_view_snapshot *s = ferry_view_get(&m->view);
	uint64_t total = 0;
	size_t i;

	for (i = 0; s && i < s->ntags; i++)
		total += s->tags[i].size;
	ferry_view_release(&m->view, s);
	return total;
}

static enum MHD_Result metrics(ferry_mirror *m, struct MHD_Connection *c, ferry_request *r)
{
	ferry_buf b = FERRY_BUF_INIT;
	unsigned long long cum = 0;
	struct MHD_Response *resp;
	size_t i;
	int error;

	/* a sample left out would read as a reset counter */
	error = ferry_buf_puts(&b, "# HELP ferry_mirror_requests_total Requests answered, by "
				   "status code.\n"
				   "# TYPE ferry_mirror_requests_total counter\n");
	for (i = 100; i < 600 && !error; i++)
		if (atomic_load(&m->by_code[i]))
			error = ferry_buf_printf(&b, "ferry_mirror_requests_total{code=\"%zu\"} %llu\n",
						 i, (unsigned long long)atomic_load(&m->by_code[i]));
	if (!error)
		error = ferry_buf_puts(&b, "# HELP ferry_mirror_errors_total Requests answered "
					   "with 4xx or 5xx.\n"
					   "# TYPE ferry_mirror_errors_total counter\n");
	if (!error)
		error = ferry_buf_printf(&b, "ferry_mirror_errors_total{class=\"4xx\"} %llu\n"
					     "ferry_mirror_errors_total{class=\"5xx\"} %llu\n",
					 (unsigned long long)atomic_load(&m->requests[4]),
					 (unsigned long long)atomic_load(&m->requests[5]));
	if (!error)
		error = ferry_buf_printf(&b, "# HELP ferry_mirror_response_bytes_total Response "
					     "body bytes.\n"
					     "# TYPE ferry_mirror_response_bytes_total counter\n"
					     "ferry_mirror_response_bytes_total %llu\n",
					 (unsigned long long)atomic_load(&m->bytes));
	if (!error)
		error = ferry_buf_puts(&b, "# HELP ferry_mirror_request_duration_seconds Time to "
					   "answer.\n"
					   "# TYPE ferry_mirror_request_duration_seconds histogram\n");
	for (i = 0; i < FERRY_MIRROR_BUCKETS && !error; i++) {
		cum += atomic_load(&m->latency_bucket[i]);
		error = ferry_buf_printf(&b, "ferry_mirror_request_duration_seconds_bucket"
					 "{le=\"%g\"} %llu\n", bucket_le[i], cum);
	}
	if (!error)
		error = ferry_buf_printf(&b, "ferry_mirror_request_duration_seconds_bucket"
					     "{le=\"+Inf\"} %llu\n"
					     "ferry_mirror_request_duration_seconds_sum %.6f\n"
					     "ferry_mirror_request_duration_seconds_count %llu\n",
					 (unsigned long long)atomic_load(&m->latency_count),
					 (double)atomic_load(&m->latency_sum_us) / 1e6,
					 (unsigned long long)atomic_load(&m->latency_count));
	if (!error)
		error = ferry_buf_printf(&b, "# HELP ferry_store_tagged_bytes Bytes of the manifests "
					     "and indexes the store tags.\n"
					     "# TYPE ferry_store_tagged_bytes gauge\n"
					     "ferry_store_tagged_bytes %llu\n",
					 (unsigned long long)store_bytes(m));
	if (error < 0) {
		ferry_buf_dispose(&b);
		return ferry_mirror__error(c, r, 500, "UNKNOWN", "out of memory");
	}
	{
		size_t len = b.size;   /* before detaching resets it */

		resp = MHD_create_response_from_buffer(len, ferry_buf_detach(&b),
						       MHD_RESPMEM_MUST_FREE);
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	return ferry_mirror__send(c, r, 200, resp, 0);
}

/* ---- dispatch ---------------------------------------------------------- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version,
			      const char *upload_data, size_t *upload_data_size,
			      void **con_cls)
{
	ferry_mirror *m = cls;
	ferry_request *r = *con_cls;

	(void)version;
	(void)upload_data;
	ferry_httpd_guard_read(c, r == NULL, *upload_data_size);
	if (!r) {
		if (!(r = calloc(1, sizeof(*r))))
			return MHD_NO;
		r->start_us = ferry_mirror__now_us();
		snprintf(r->method, sizeof(r->method), "%s", method);
		snprintf(r->path, sizeof(r->path), "%s", url);
		ferry_httpd_client_address(c, r->client, sizeof(r->client));
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* Only git's upload-pack requests carry a body worth reading. */
		if (!strncmp(url, "/git/", 5) && !strcmp(method, "POST")) {
			if (!r->body.limit)
				r->body.limit = FERRY_MIRROR_GIT_BODY_MAX;
			if (ferry_buf_put(&r->body, upload_data, *upload_data_size) < 0)
				r->status = 413;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->job)   /* a pack request back from its builder */
		return ferry_mirror__git_resumed(m, c, r);
	if (r->status == 413)
		return ferry_mirror__error(c, r, 413, "SIZE_INVALID", "request body too large");
	if (!rate_ok(m, r->client))
		return ferry_mirror__error(c, r, 429, "TOOMANYREQUESTS", "too many requests");
	if (!strcmp(url, "/healthz"))
		return ferry_mirror__text(c, r, 200, "ok\n");
	if (!strcmp(url, "/readyz")) {
		ferry_buf p = FERRY_BUF_INIT;
		int ready = ferry_store_path(&p, m->store, FERRY_STORE_INDEX) == 0 &&
			    ferry_fs_exists(p.ptr);

		ferry_buf_dispose(&p);
		return ready ? ferry_mirror__text(c, r, 200, "ready\n")
			     : ferry_mirror__text(c, r, 503, "store has no index.json yet\n");
	}
	if (!authorised(m, c))
		return ferry_mirror__error(c, r, 401, "UNAUTHORIZED", "authentication required");
	if (!strcmp(url, "/metrics"))
		return metrics(m, c, r);
	if (!strcmp(url, "/_ferry/notify")) {
		/* An import published: drop the view so the next request reloads
		 * it (it also reloads by itself when index.json changes). */
		if (strcmp(method, "POST"))
			return ferry_mirror__error(c, r, 405, "UNSUPPORTED", "use POST");
		ferry_view_invalidate(&m->view);
		return ferry_mirror__text(c, r, 200, "reloaded\n");
	}
	if (!strncmp(url, "/git/", 5))
		return ferry_mirror__git(m, c, r, url, method, &r->body);
	if (!strcmp(url, "/v2") || !strncmp(url, "/v2/", 4))
		return ferry_mirror__oci(m, c, r, !strcmp(url, "/v2") ? "/v2/" : url, method);
	return ferry_mirror__error(c, r, 404, "NOT_FOUND", "no such endpoint");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	ferry_mirror *m = cls;
	ferry_request *r = *con_cls;
	uint64_t us;
	size_t i;

	(void)toe;
	ferry_httpd_guard_done(c);
	if (!r)
		return;
	us = ferry_mirror__now_us() - r->start_us;
	if (r->status >= 100 && r->status < 600) {
		atomic_fetch_add(&m->by_code[r->status], 1);
		atomic_fetch_add(&m->requests[r->status / 100], 1);
	}
	atomic_fetch_add(&m->bytes, r->bytes);
	atomic_fetch_add(&m->latency_sum_us, us);
	atomic_fetch_add(&m->latency_count, 1);
	for (i = 0; i < FERRY_MIRROR_BUCKETS; i++)
		if ((double)us / 1e6 <= bucket_le[i]) {
			atomic_fetch_add(&m->latency_bucket[i], 1);
			break;
		}
	if (m->access_log) {
		char when[32];

		ferry_time_format(when, sizeof(when), (int64_t)time(NULL));
		pthread_mutex_lock(&m->log_lock);
		/* One JSON object a line for any request: the method, path and
		 * client come from outside, and jansson refuses invalid UTF-8,
		 * so each is escaped (ferry_escape_bytes) before jansson encodes
		 * it. */
		{
			char *method = ferry_escape_dup(r->method);
			char *path = ferry_escape_dup(r->path);
			char *client = ferry_escape_dup(r->client);
			json_t *line = method && path && client
				? json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:f}", "time", when,
					    "client", client, "method", method, "path", path,
					    "status", (int)r->status, "bytes",
					    (json_int_t)r->bytes, "ms", (double)us / 1000.0)
				: NULL;
			char *text = line ? ferry_json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER)
					  : NULL;

			if (text)
				fprintf(m->access_log, "%s\n", text);
			free(text);
			json_decref(line);
			free(method);
			free(path);
			free(client);
		}
		fflush(m->access_log);
		pthread_mutex_unlock(&m->log_lock);
	}
	ferry_buf_dispose(&r->body);
	ferry_mirror__pack_job_free(r->job);
	free(r);
	*con_cls = NULL;
}

int ferry_mirror_start(ferry_mirror **out, const ferry_mirror_options *o)
{
	ferry_mirror *m;
	struct sockaddr_in sa;
	ferry_buf cert = FERRY_BUF_INIT, key = FERRY_BUF_INIT;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME;
	int error;

	if (!o || o->version != FERRY_MIRROR_OPTIONS_VERSION || !o->store || !o->listen)
		return ferry_error_set(FERRY_EINVALID, "bad mirror options");
	if (!!o->tls_cert != !!o->tls_key)
		return ferry_error_set(FERRY_EINVALID, "TLS needs both a certificate and a key");
	if ((error = ferry_httpd_parse_listen(&sa, o->listen, "--listen")) < 0)
		return error;
	if ((o->max_per_client ? o->max_per_client : 64) >
	    (o->max_connections ? o->max_connections : 512) / 2)
		return ferry_error_set(FERRY_EINVALID, "--max-per-client must be at most half "
				       "of --max-connections");
	{
		ferry_buf db = FERRY_BUF_INIT;
		int exists = ferry_store_path(&db, o->store, FERRY_STORE_DB) == 0 &&
			     ferry_fs_exists(db.ptr);

		ferry_buf_dispose(&db);
		if (!exists)
			return ferry_error_set(FERRY_ENOTFOUND, "'%s' is not a ferry store "
					       "(create one with 'ferry trust init --store %s')",
					       o->store, o->store);
	}
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	git_libgit2_init();
	if (!(m = calloc(1, sizeof(*m))) || !(m->store = strdup(o->store))) {
		free(m);
		return ferry_error_oom();
	}
	pthread_mutex_init(&m->log_lock, NULL);
	pthread_mutex_init(&m->rate_lock, NULL);
	m->access_log = o->access_log;
	m->rate = o->rate;
	if ((error = ferry_view_init(&m->view, o->store)) < 0 ||
	    (error = ferry_mirror__pack_init(m, o->max_pack_builds ? o->max_pack_builds : 2,
					     o->pack_queue_timeout ? o->pack_queue_timeout
								   : 30)) < 0 ||
	    (o->htpasswd && (error = ferry_passwd_load(&m->passwd, o->htpasswd)) < 0))
		goto fail;
	{
		ferry_httpd_guard_options go = FERRY_HTTPD_GUARD_OPTIONS_INIT;

		go.header_timeout = o->header_timeout ? o->header_timeout : 10;
		go.body_timeout = o->body_timeout ? o->body_timeout : 30;
		go.max_connections = o->max_connections ? o->max_connections : 512;
		if ((error = ferry_httpd_guard_new(&m->guard, &go)) < 0)
			goto fail;
	}
	if (o->tls_cert) {
		if ((error = ferry_httpd_tls_load(&cert, &key, o->tls_cert, o->tls_key)) < 0)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	m->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, m,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads ? o->threads : 4),
		MHD_OPTION_CONNECTION_LIMIT,
		ferry_httpd_guard_hard_limit(m->guard, o->threads ? o->threads : 4),
		MHD_OPTION_NOTIFY_CONNECTION, ferry_httpd_guard_notify, m->guard,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)(o->max_per_client ? o->max_per_client : 64),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(o->idle_timeout ? o->idle_timeout : 30),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)(o->max_header_bytes ? o->max_header_bytes : 16384),
		MHD_OPTION_NOTIFY_COMPLETED, completed, m,
		o->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert.ptr,
		MHD_OPTION_HTTPS_MEM_KEY, key.ptr,
		MHD_OPTION_END);
	if (!m->daemon) {
		error = ferry_error_set(FERRY_EIO, "cannot listen on %s (address in use, or "
					"bad TLS files)", o->listen);
		goto fail;
	}
	info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info ? info->port : ntohs(sa.sin_port);
	ferry_httpd_tls_dispose(&cert, &key);
	*out = m;
	return 0;
fail:
	ferry_httpd_tls_dispose(&cert, &key);
	ferry_mirror_stop(m);
	return error;
}

uint16_t ferry_mirror_port(const ferry_mirror *m)
{
	return m->port;
}

void ferry_mirror_stop(ferry_mirror *m)
{
	if (!m)
		return;
	/* queued pack requests are answered while the daemon still runs */
	ferry_mirror__pack_shutdown(m);
	if (m->daemon)
		MHD_stop_daemon(m->daemon);
	ferry_httpd_guard_free(m->guard);
	ferry_view_dispose(&m->view);
	ferry_passwd_free(m->passwd);
	free(m->rates);
	pthread_mutex_destroy(&m->log_lock);
	pthread_mutex_destroy(&m->rate_lock);
	free(m->store);
	free(m);
	git_libgit2_shutdown();
}
