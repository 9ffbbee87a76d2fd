/*
 * HTTP client on libcurl (see http.h). Single requests reuse one easy
 * handle per client so connections stay open between manifest requests;
 * blob downloads run on a multi handle with a bounded number of transfers.
 * Redirects are never left to libcurl: each Location is resolved and its
 * host checked here, so a registry cannot send ferry (or its credentials)
 * to a host nobody named.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "http.h"
#include "banned.h"

struct ferry_http {
	ferry_http_options opts;
	CURL *easy;
};

static unsigned global_users;

static int global_acquire(void)
{
	if (global_users == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libcurl");
	global_users++;
	return 0;
}

static void global_release(void)
{
	if (global_users && --global_users == 0)
		curl_global_cleanup();
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static unsigned retries_of(const ferry_http *h)
{
	return h->opts.max_retries ? h->opts.max_retries : 4;
}

static unsigned backoff_of(const ferry_http *h, unsigned attempt)
{
	unsigned ms = h->opts.backoff_ms ? h->opts.backoff_ms : 200;

	while (attempt-- > 1 && ms < 8000)
		ms *= 2;
	return ms > 8000 ? 8000 : ms;
}

int ferry_http_new(ferry_http **out, const ferry_http_options *opts)
{
	ferry_http *h;
	int error;

	if (opts && opts->version != FERRY_HTTP_OPTIONS_VERSION)
		return ferry_error_set(FERRY_EINVALID, "bad HTTP options");
	if ((error = global_acquire()) < 0)
		return error;
	if (!(h = calloc(1, sizeof(*h)))) {
		global_release();
		return ferry_error_oom();
	}
	if (opts)
		h->opts = *opts;
	else
		h->opts.version = FERRY_HTTP_OPTIONS_VERSION;
	if (!(h->easy = curl_easy_init())) {
		free(h);
		global_release();
		return ferry_error_set(FERRY_ENOMEM, "cannot create an HTTP handle");
	}
	*out = h;
	return 0;
}

void ferry_http_free(ferry_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->easy);
	free(h);
	global_release();
}

void ferry_http_response_dispose(ferry_http_response *r)
{
	ferry_buf_dispose(&r->body);
	free(r->content_type);
	free(r->docker_content_digest);
	free(r->www_authenticate);
	free(r->url);
	free(r->location);
	free(r->range);
	free(r->oci_subject);
	memset(r, 0, sizeof(*r));
}

/* ---- URLs ----------------------------------------------------------------- */

int ferry_http_url_host(ferry_buf *out, const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	int error = 0;

	if (!u)
		return ferry_error_oom();
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		error = ferry_error_set(FERRY_EINVALID, "'%.300s' is not a valid URL", url);
		goto done;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port)
		error = ferry_buf_printf(out, "%s:%s", host, port);
	else
		error = ferry_buf_puts(out, host);
done:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return error;
}

int ferry_http_url_resolve(ferry_buf *out, const char *base, const char *ref)
{
	CURLU *u = curl_url();
	char *s = NULL;
	int error = 0;

	if (!u)
		return ferry_error_oom();
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK) {
		error = ferry_error_set(FERRY_EINVALID, "cannot resolve '%.300s' against '%.300s'",
					ref, base);
		goto done;
	}
	error = ferry_buf_puts(out, s);
done:
	curl_free(s);
	curl_url_cleanup(u);
	return error;
}

int ferry_http_url_escape(ferry_buf *out, const char *s)
{
	int error = 0;

	for (; *s && !error; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~')
			error = ferry_buf_put(out, s, 1);
		else
			error = ferry_buf_printf(out, "%%%02X", ch);
	}
	return error;
}

/* Scheme + host + port must match, or the host must be listed. */
static int redirect_allowed(const ferry_http *h, const char *from, const char *to,
			    int *same_out)
{
	ferry_buf a = FERRY_BUF_INIT, b = FERRY_BUF_INIT;
	const char *const *p;
	int error, same = 0;

	*same_out = 0;
	if ((error = ferry_http_url_host(&a, from)) < 0 ||
	    (error = ferry_http_url_host(&b, to)) < 0)
		goto done;
	if (strncmp(to, "http://", 7) && strncmp(to, "https://", 8)) {
		error = ferry_error_set(FERRY_EINVALID,
					"'%s' redirected to a URL that is not HTTP(S)",
					a.ptr);
		goto done;
	}
	if (!strcasecmp(a.ptr, b.ptr) &&
	    !strncmp(from, to, (size_t)(strchr(from, ':') - from)))
		same = 1;
	for (p = h->opts.redirect_hosts; !same && p && *p; p++)
		if (!strcasecmp(*p, b.ptr)) {
			*same_out = -1;   /* allowed, but another host */
			goto done;
		}
	if (!same)
		error = ferry_error_set(FERRY_EINVALID,
					"registry host '%s' redirected to another host "
					"'%s' (refused)", a.ptr, b.ptr);
	else
		*same_out = 1;
done:
	ferry_buf_dispose(&a);
	ferry_buf_dispose(&b);
	return error;
}

/* ---- single requests ------------------------------------------------------ */

typedef struct {
	ferry_http_response *r;
	char *location;
	size_t header_bytes;
	int too_big;
	int header_too_big;
	int oom;            /* a header or the body could not be kept */
} req_ctx;

static char *trim_dup(const char *s, size_t len)
{
	char *out;

	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (!(out = malloc(len + 1)))
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* Match "Name:" case-insensitively; return the value's start or NULL. */
static const char *header_value(const char *line, size_t len, const char *name,
				size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return NULL;
	*vlen = len - n - 1;
	return line + n + 1;
}

static void set_header_field(req_ctx *c, char **slot, const char *v, size_t vlen,
			     int keep_first)
{
	if (keep_first && *slot)
		return;
	free(*slot);
	if (!(*slot = trim_dup(v, vlen)))
		c->oom = 1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *payload)
{
	req_ctx *c = payload;
	size_t len = size * nmemb, vlen;
	const char *v;

	c->header_bytes += len;
	if (c->header_bytes > 64 * FERRY_HTTP_MAX_HEADER) {
		c->header_too_big = 1;
		return 0;
	}
	/* A new status line (after a 100 Continue) starts over. */
	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		free(c->location);
		c->location = NULL;
		return len;
	}
	if ((v = header_value(data, len, "location", &vlen)))
		set_header_field(c, &c->location, v, vlen, 0);
	else if ((v = header_value(data, len, "content-type", &vlen))) {
		char *p;

		set_header_field(c, &c->r->content_type, v, vlen, 0);
		if (c->r->content_type) {
			if ((p = strchr(c->r->content_type, ';')))
				*p = '\0';
			for (p = c->r->content_type; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			while (p > c->r->content_type && isspace((unsigned char)p[-1]))
				*--p = '\0';
		}
	} else if ((v = header_value(data, len, "docker-content-digest", &vlen)))
		set_header_field(c, &c->r->docker_content_digest, v, vlen, 0);
	else if ((v = header_value(data, len, "www-authenticate", &vlen)))
		set_header_field(c, &c->r->www_authenticate, v, vlen, 1);
	else if ((v = header_value(data, len, "range", &vlen)))
		set_header_field(c, &c->r->range, v, vlen, 0);
	else if ((v = header_value(data, len, "oci-subject", &vlen)))
		set_header_field(c, &c->r->oci_subject, v, vlen, 0);
	return c->oom ? 0 : len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *payload)
{
	req_ctx *c = payload;
	size_t len = size * nmemb;

	int error = ferry_buf_put(&c->r->body, data, len);

	if (error < 0) {
		if (error == FERRY_ENOMEM)
			c->oom = 1;
		else
			c->too_big = 1;
		return 0;
	}
	return len;
}

static void setup_common(CURL *e, const ferry_http *h)
{
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
			 h->opts.connect_timeout_s ? h->opts.connect_timeout_s : 30L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
			 h->opts.stall_timeout_s ? h->opts.stall_timeout_s : 60L);
	if (h->opts.ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->opts.ca_file);
}

static int build_headers(struct curl_slist **out, const char *const *headers,
			 int drop_auth)
{
	struct curl_slist *l = NULL, *n;
	const char *const *p;

	for (p = headers; p && *p; p++) {
		if (drop_auth && !strncasecmp(*p, "authorization:", 14))
			continue;
		if (!(n = curl_slist_append(l, *p))) {
			curl_slist_free_all(l);
			return ferry_error_oom();
		}
		l = n;
	}
	*out = l;
	return 0;
}

static int is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 ||
	       status == 308;
}

static int is_transient(long status)
{
	return status == 429 || status >= 500;
}

int ferry_http_get(ferry_http_response *out, ferry_http *h,
		   const ferry_http_request *req)
{
	ferry_buf url = FERRY_BUF_INIT, next = FERRY_BUF_INIT;
	struct curl_slist *hdrs = NULL;
	req_ctx c;
	unsigned attempt = 0, hops = 0;
	int error = 0, other_host = 0;
	CURLcode rc;
	char errbuf[CURL_ERROR_SIZE];

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.r = out;
	if ((error = ferry_buf_puts(&url, req->url)) < 0)
		return error;
	for (;;) {
		ferry_buf_dispose(&out->body);
		out->body.limit = req->limit ? req->limit : (1u << 20);
		free(out->content_type);
		free(out->docker_content_digest);
		free(out->www_authenticate);
		out->content_type = out->docker_content_digest = out->www_authenticate = NULL;
		free(out->range);
		free(out->oci_subject);
		out->range = out->oci_subject = NULL;
		free(c.location);
		c.location = NULL;
		c.too_big = c.header_too_big = c.oom = 0;
		c.header_bytes = 0;
		curl_slist_free_all(hdrs);
		hdrs = NULL;
		if ((error = build_headers(&hdrs, req->headers, other_host)) < 0)
			goto done;

		curl_easy_reset(h->easy);
		setup_common(h->easy, h);
		errbuf[0] = '\0';
		curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h->easy, CURLOPT_URL, url.ptr);
		curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, &c);
		curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, &c);
		if (req->head)
			curl_easy_setopt(h->easy, CURLOPT_NOBODY, 1L);
		if (req->post) {
			curl_easy_setopt(h->easy, CURLOPT_POST, 1L);
			curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, req->post);
			curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)req->post_len);
		}
		if (req->userpwd && !other_host) {
			curl_easy_setopt(h->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(h->easy, CURLOPT_USERPWD, req->userpwd);
		}
		rc = curl_easy_perform(h->easy);
		out->status = 0;
		curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &out->status);
		if (c.oom) {
			error = ferry_error_oom();
			goto done;
		}
		if (c.too_big) {
			error = ferry_error_set(FERRY_ETOOBIG,
						"the response from '%.300s' is larger than "
						"%zu bytes", url.ptr, out->body.limit);
			goto done;
		}
		if (c.header_too_big) {
			error = ferry_error_set(FERRY_ETOOBIG,
						"the response headers from '%.300s' are too large",
						url.ptr);
			goto done;
		}
		if (rc != CURLE_OK || is_transient(out->status)) {
			if (attempt++ < retries_of(h)) {
				sleep_ms(backoff_of(h, attempt));
				continue;
			}
			if (rc != CURLE_OK)
				error = ferry_error_set(FERRY_EIO, "cannot fetch '%.300s': %s",
							url.ptr,
							errbuf[0] ? errbuf : curl_easy_strerror(rc));
			else
				error = ferry_error_set(FERRY_EIO,
							"'%.300s' answered HTTP %ld after %u attempts",
							url.ptr, out->status, attempt);
			goto done;
		}
		if (is_redirect(out->status) && c.location) {
			int same;

			if (++hops > FERRY_HTTP_MAX_REDIRECTS) {
				error = ferry_error_set(FERRY_EINVALID,
							"'%.300s': more than %d redirects",
							req->url, FERRY_HTTP_MAX_REDIRECTS);
				goto done;
			}
			ferry_buf_clear(&next);
			if ((error = ferry_http_url_resolve(&next, url.ptr, c.location)) < 0 ||
			    (error = redirect_allowed(h, url.ptr, next.ptr, &same)) < 0)
				goto done;
			if (same < 0)
				other_host = 1;
			ferry_buf_clear(&url);
			if ((error = ferry_buf_puts(&url, next.ptr)) < 0)
				goto done;
			attempt = 0;
			continue;
		}
		break;
	}
	out->url = ferry_buf_detach(&url);
	out->location = c.location;
	c.location = NULL;
done:
	if (error < 0)
		ferry_http_response_dispose(out);
	free(c.location);
	curl_slist_free_all(hdrs);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&next);
	return error;
}

/* ---- requests with a body ----------------------------------------------- */

typedef struct {
	const ferry_http_request *req;
	uint64_t pos;
	int error;
	int kill;      /* test hook (see kill_point) */
} body_ctx;

/*
 * Test hook for crash-convergence tests: with FERRY_HTTP_KILL_AFTER=N in
 * the environment, the process kills itself with SIGKILL during its Nth
 * request, as an operator's kill -9 would: before sending it, after the
 * first piece of its body, or once the server has answered (by N % 3; a
 * request without a body dies before it is sent, one whose body fits one
 * piece after the answer).
 */
static int kill_point(void)
{
	static long count, limit = -1;
	const char *env;

	if (limit < 0) {
		env = getenv("FERRY_HTTP_KILL_AFTER");
		limit = env && *env ? strtol(env, NULL, 10) : 0;
	}
	if (limit <= 0 || ++count != limit)
		return 0;
	return 1 + (int)(limit % 3);   /* 1 before, 2 mid-body, 3 after the answer */
}

static size_t on_read(char *data, size_t size, size_t nmemb, void *payload)
{
	body_ctx *b = payload;
	size_t want = size * nmemb;
	uint64_t left = b->req->body_len - b->pos;

	if (want > left)
		want = (size_t)left;
	if (b->kill == 2 && b->pos > 0)
		raise(SIGKILL);
	if (want == 0)
		return 0;
	if (b->req->body) {
		memcpy(data, (const char *)b->req->body + b->pos, want);
	} else {
		ssize_t got = pread(b->req->body_fd, data, want,
				    (off_t)(b->req->body_offset + b->pos));

		if (got <= 0) {
			b->error = 1;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	}
	b->pos += want;
	return want;
}

int ferry_http_send(ferry_http_response *out, ferry_http *h,
		    const ferry_http_request *req, uint64_t *bytes_sent)
{
	struct curl_slist *hdrs = NULL, *n;
	const char *method = req->method ? req->method : "GET";
	int retry = strcmp(method, "POST") && strcmp(method, "PATCH");
	int kill = kill_point();
	unsigned attempt = 0;
	body_ctx b;
	req_ctx c;
	CURLcode rc;
	char errbuf[CURL_ERROR_SIZE];
	int error = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		ferry_http_response_dispose(out);
		out->body.limit = req->limit ? req->limit : (1u << 20);
		memset(&c, 0, sizeof(c));
		c.r = out;
		memset(&b, 0, sizeof(b));
		b.req = req;
		b.kill = kill;
		if (kill == 1 || (kill && req->body_len == 0))
			raise(SIGKILL);
		curl_slist_free_all(hdrs);
		hdrs = NULL;
		if ((error = build_headers(&hdrs, req->headers, 0)) < 0)
			goto done;
		/* No "Expect: 100-continue" round trip before large bodies. */
		if (!(n = curl_slist_append(hdrs, "Expect:"))) {
			error = ferry_error_oom();
			goto done;
		}
		hdrs = n;
		curl_easy_reset(h->easy);
		setup_common(h->easy, h);
		errbuf[0] = '\0';
		curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h->easy, CURLOPT_URL, req->url);
		curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, &c);
		curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, &c);
		if (req->head) {
			curl_easy_setopt(h->easy, CURLOPT_NOBODY, 1L);
		} else if (strcmp(method, "GET")) {
			curl_easy_setopt(h->easy, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, method);
			curl_easy_setopt(h->easy, CURLOPT_INFILESIZE_LARGE,
					 (curl_off_t)req->body_len);
			curl_easy_setopt(h->easy, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(h->easy, CURLOPT_READDATA, &b);
			curl_easy_setopt(h->easy, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
		}
		if (req->userpwd) {
			curl_easy_setopt(h->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(h->easy, CURLOPT_USERPWD, req->userpwd);
		}
		rc = curl_easy_perform(h->easy);
		if (kill)
			raise(SIGKILL);   /* the server answered; nobody hears it */
		out->status = 0;
		curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &out->status);
		if (bytes_sent)
			*bytes_sent += b.pos;
		out->location = c.location;
		c.location = NULL;
		if (b.error) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot read the body for "
						      "'%.300s'", req->url);
			goto done;
		}
		if (c.oom) {
			error = ferry_error_oom();
			goto done;
		}
		if (c.too_big || c.header_too_big) {
			error = ferry_error_set(FERRY_ETOOBIG, "the response from '%.300s' is "
						"too large", req->url);
			goto done;
		}
		if (rc != CURLE_OK || is_transient(out->status)) {
			if (retry && attempt++ < retries_of(h)) {
				sleep_ms(backoff_of(h, attempt));
				continue;
			}
			if (rc != CURLE_OK)
				error = ferry_error_set(FERRY_EIO, "cannot %s '%.300s': %s", method,
							req->url,
							errbuf[0] ? errbuf : curl_easy_strerror(rc));
			else
				error = ferry_error_set(FERRY_EIO, "%s '%.300s' answered HTTP %ld",
							method, req->url, out->status);
			goto done;
		}
		break;
	}
	if (!(out->url = strdup(req->url)))
		error = ferry_error_oom();
done:
	if (error < 0)
		ferry_http_response_dispose(out);
	free(c.location);
	curl_slist_free_all(hdrs);
	return error;
}

/* ---- parallel blob downloads -------------------------------------------- */

enum { X_WAITING, X_ACTIVE, X_DONE };

typedef struct dl_ctx dl_ctx;

typedef struct {
	const ferry_http_download *d;
	dl_ctx *ctx;
	CURL *easy;
	struct curl_slist *hdrs;
	ferry_buf url;
	ferry_buf partial;
	char *location;
	ferry_sha256 *sha;
	int fd;
	uint64_t have;        /* bytes in the partial file (and the hash) */
	uint64_t flushed;     /* writeback started up to here */
	unsigned attempts;
	unsigned hops;
	int other_host;
	uint64_t not_before;
	int state;
	int overflow;
	int write_error;
	int status_checked;
	long status;
	char errbuf[CURL_ERROR_SIZE];
} xfer;

struct dl_ctx {
	xfer *x;
	size_t n;
	uint64_t total;
	uint64_t base_done;    /* bytes of finished transfers */
	ferry_progress_cb progress;
	void *payload;
	uint64_t last_report;
};

static void report(dl_ctx *c, int force)
{
	uint64_t done = c->base_done, t = now_ms();
	size_t i;

	if (!c->progress || (!force && t - c->last_report < 100))
		return;
	c->last_report = t;
	for (i = 0; i < c->n; i++)
		if (c->x[i].state == X_ACTIVE)
			done += c->x[i].have;
	c->progress(done, c->total, c->payload);
}

/* Restart the file and its hash from zero. */
static int xfer_truncate(xfer *x)
{
	char dummy[FERRY_SHA256_HEX_LEN + 1];

	if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot truncate '%s'",
					     x->partial.ptr);
	ferry_sha256_final_hex(x->sha, dummy);   /* restarts the hash */
	x->have = 0;
	x->flushed = 0;
	return 0;
}

static size_t on_xfer_header(char *data, size_t size, size_t nmemb, void *payload)
{
	xfer *x = payload;
	size_t len = size * nmemb, vlen;
	const char *v;

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		free(x->location);
		x->location = NULL;
	} else if ((v = header_value(data, len, "location", &vlen))) {
		free(x->location);
		if (!(x->location = trim_dup(v, vlen)))
			return 0;   /* the transfer fails rather than lose a redirect */
	}
	return len;
}

static size_t on_xfer_body(char *data, size_t size, size_t nmemb, void *payload)
{
	xfer *x = payload;
	size_t len = size * nmemb;

	if (!x->status_checked) {
		x->status_checked = 1;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
		if (x->status == 200 && x->have > 0 && xfer_truncate(x) < 0) {
			x->write_error = 1;
			return 0;
		}
	}
	if (x->status != 200 && x->status != 206)
		return len;   /* an error body: discarded, judged on completion */
	if (x->have + len > x->d->size) {
		x->overflow = 1;
		return 0;
	}
	if (ferry_fs_write_all(x->fd, data, len) < 0 ||
	    ferry_sha256_update(x->sha, data, len) < 0) {
		x->write_error = 1;
		return 0;
	}
	x->have += len;
	/* writeback as the data comes: the fdatasync at the end waits for
	 * the last few megabytes, not for the whole blob */
	ferry_fs_start_writeback(x->fd, &x->flushed, x->have);
	report(x->ctx, 0);
	return len;
}

/* Open "<path>.partial", hashing what an interrupted run left in it. */
static int xfer_open(xfer *x)
{
	char buf[65536];
	struct stat st;
	ssize_t got;
	int error;

	if ((error = ferry_buf_printf(&x->partial, "%s.partial", x->d->path)) < 0 ||
	    (error = ferry_sha256_new(&x->sha)) < 0 ||
	    (error = ferry_buf_puts(&x->url, x->d->url)) < 0)
		return error;
	x->fd = open(x->partial.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (x->fd < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", x->partial.ptr);
	if (fstat(x->fd, &st) < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot stat '%s'", x->partial.ptr);
	if ((uint64_t)st.st_size > x->d->size)
		return xfer_truncate(x);
	while ((got = read(x->fd, buf, sizeof(buf))) > 0) {
		if ((error = ferry_sha256_update(x->sha, buf, (size_t)got)) < 0)
			return error;
		x->have += (uint64_t)got;
	}
	if (got < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", x->partial.ptr);
	return 0;
}

/* The whole blob is in the partial file: check it and give it its name. */
static int xfer_finish(xfer *x)
{
	char got[FERRY_SHA256_HEX_LEN + 1];
	int error;

	if ((error = ferry_sha256_final_hex(x->sha, got)) < 0)
		return error;
	if (strcmp(got, x->d->hex)) {
		unlink(x->partial.ptr);
		return ferry_error_set(FERRY_ECORRUPT,
				       "%s: the registry sent content with digest "
				       "sha256:%s (wrong digest)", x->d->what, got);
	}
	if (fdatasync(x->fd) < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot sync '%s'", x->partial.ptr);
	close(x->fd);
	x->fd = -1;
	if (rename(x->partial.ptr, x->d->path) < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot rename '%s'",
					     x->partial.ptr);
	return 0;
}

static int xfer_start(xfer *x, CURLM *multi)
{
	char range[64];
	int error;

	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	if ((error = build_headers(&x->hdrs, x->d->headers, x->other_host)) < 0)
		return error;
	if (x->have > 0) {
		struct curl_slist *n;

		snprintf(range, sizeof(range), "Range: bytes=%llu-",
			 (unsigned long long)x->have);
		if (!(n = curl_slist_append(x->hdrs, range)))
			return ferry_error_oom();
		x->hdrs = n;
	}
	if (!x->easy && !(x->easy = curl_easy_init()))
		return ferry_error_set(FERRY_ENOMEM, "cannot create an HTTP handle");
	curl_easy_reset(x->easy);
	setup_common(x->easy, x->d->client);
	x->errbuf[0] = '\0';
	x->status = 0;
	x->status_checked = 0;
	x->overflow = x->write_error = 0;
	free(x->location);
	x->location = NULL;
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_URL, x->url.ptr);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_xfer_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_xfer_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if (x->d->userpwd && !x->other_host) {
		curl_easy_setopt(x->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(x->easy, CURLOPT_USERPWD, x->d->userpwd);
	}
	if (curl_multi_add_handle(multi, x->easy) != CURLM_OK)
		return ferry_error_set(FERRY_ERROR, "cannot start a transfer");
	x->state = X_ACTIVE;
	return 0;
}

/* Schedule another attempt, or fail when the attempts are used up. */
static int xfer_retry(xfer *x, const char *why)
{
	const ferry_http *h = x->d->client;

	if (x->attempts++ >= retries_of(h))
		return ferry_error_set(FERRY_EIO, "%s: %s (gave up after %u attempts)",
				       x->d->what, why, x->attempts);
	x->not_before = now_ms() + backoff_of(h, x->attempts);
	x->state = X_WAITING;
	return 0;
}

/* Judge a finished transfer: done, retry, follow a redirect, or fail. */
static int xfer_done(xfer *x, CURLcode rc)
{
	char why[CURL_ERROR_SIZE + 64];
	ferry_buf next = FERRY_BUF_INIT;
	long status = 0;
	int error, same;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (x->overflow) {
		unlink(x->partial.ptr);
		return ferry_error_set(FERRY_ECORRUPT,
				       "%s: the registry sent more than the %llu bytes "
				       "its descriptor gives (body too long)",
				       x->d->what, (unsigned long long)x->d->size);
	}
	if (x->write_error)
		return ferry_error_last_code() ? ferry_error_last_code()
					       : ferry_error_set(FERRY_EIO, "%s: cannot write '%s'",
								 x->d->what, x->partial.ptr);
	if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s",
			 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
		return xfer_retry(x, why);
	}
	if (is_redirect(status) && x->location) {
		if (++x->hops > FERRY_HTTP_MAX_REDIRECTS)
			return ferry_error_set(FERRY_EINVALID, "%s: more than %d redirects",
					       x->d->what, FERRY_HTTP_MAX_REDIRECTS);
		if ((error = ferry_http_url_resolve(&next, x->url.ptr, x->location)) < 0 ||
		    (error = redirect_allowed(x->d->client, x->url.ptr, next.ptr, &same)) < 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", ferry_error_last());
			ferry_buf_dispose(&next);
			return ferry_error_set(error, "%s: %s", x->d->what, msg);
		}
		if (same < 0)
			x->other_host = 1;
		ferry_buf_clear(&x->url);
		error = ferry_buf_puts(&x->url, next.ptr);
		ferry_buf_dispose(&next);
		x->state = X_WAITING;
		x->not_before = 0;
		return error;
	}
	if (status == 416 && x->have > 0) {
		if ((error = xfer_truncate(x)) < 0)
			return error;
		return xfer_retry(x, "the registry refused to resume (HTTP 416)");
	}
	if (is_transient(status)) {
		snprintf(why, sizeof(why), "HTTP %ld", status);
		return xfer_retry(x, why);
	}
	if (status == 404)
		return ferry_error_set(FERRY_ENOTFOUND, "%s: not found on the registry "
				       "(HTTP 404)", x->d->what);
	if (status == 401 || status == 403)
		return ferry_error_set(FERRY_ERROR, "%s: the registry refused access "
				       "(HTTP %ld)", x->d->what, status);
	if (status != 200 && status != 206)
		return ferry_error_set(FERRY_EIO, "%s: the registry answered HTTP %ld",
				       x->d->what, status);
	if (x->have < x->d->size)
		return xfer_retry(x, "the body ended early");
	if ((error = xfer_finish(x)) < 0)
		return error;
	x->state = X_DONE;
	return 0;
}

static void xfer_dispose(xfer *x, CURLM *multi)
{
	if (x->easy) {
		if (x->state == X_ACTIVE)
			curl_multi_remove_handle(multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->hdrs);
	if (x->fd >= 0)
		close(x->fd);
	ferry_sha256_free(x->sha);
	ferry_buf_dispose(&x->url);
	ferry_buf_dispose(&x->partial);
	free(x->location);
}

int ferry_http_download_all(const ferry_http_download *dl, size_t n,
			    unsigned parallel, ferry_progress_cb progress,
			    void *payload)
{
	dl_ctx c;
	CURLM *multi = NULL;
	CURLMsg *msg;
	size_t i, ndone = 0, active = 0;
	int error = 0, running, left, globals = 0;

	memset(&c, 0, sizeof(c));
	if (n == 0)
		return 0;
	if (parallel == 0)
		parallel = 4;
	if ((error = global_acquire()) < 0)
		return error;
	globals = 1;
	c.progress = progress;
	c.payload = payload;
	if (!(c.x = calloc(n, sizeof(*c.x))) || !(multi = curl_multi_init())) {
		error = ferry_error_oom();
		goto done;
	}
	c.n = n;
	for (i = 0; i < n; i++) {
		c.x[i].fd = -1;
		c.x[i].d = &dl[i];
		c.x[i].ctx = &c;
		c.total += dl[i].size;
	}
	for (i = 0; i < n; i++) {
		xfer *x = &c.x[i];

		if ((error = xfer_open(x)) < 0)
			goto done;
		if (x->have == x->d->size) {
			/* Complete from an earlier run, but never renamed. */
			if (xfer_finish(x) == 0) {
				x->state = X_DONE;
				c.base_done += x->have;
				ndone++;
				continue;
			}
			ferry_error_clear();
			if ((x->fd = open(x->partial.ptr, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
					  0644)) < 0) {
				error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'",
							      x->partial.ptr);
				goto done;
			}
			x->have = 0;
		}
	}
	while (ndone < n) {
		uint64_t t = now_ms();

		for (i = 0; i < n && active < parallel; i++) {
			if (c.x[i].state != X_WAITING || c.x[i].not_before > t)
				continue;
			if ((error = xfer_start(&c.x[i], multi)) < 0)
				goto done;
			active++;
		}
		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			error = ferry_error_set(FERRY_EIO, "HTTP transfer failed");
			goto done;
		}
		while ((msg = curl_multi_info_read(multi, &left))) {
			xfer *x = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			curl_multi_remove_handle(multi, x->easy);
			x->state = X_WAITING;   /* not active any more */
			active--;
			if ((error = xfer_done(x, msg->data.result)) < 0)
				goto done;
			if (x->state == X_DONE) {
				c.base_done += x->have;
				ndone++;
			}
		}
		report(&c, 0);
		if (ndone < n)
			curl_multi_poll(multi, NULL, 0, 50, NULL);
	}
	report(&c, 1);
done:
	for (i = 0; c.x && i < c.n; i++)
		xfer_dispose(&c.x[i], multi);
	free(c.x);
	if (multi)
		curl_multi_cleanup(multi);
	if (globals)
		global_release();
	return error;
}
