/*
 * Internals shared by the mirror's server (server.c), its route handlers
 * (distribution.c, git_http.c) and their responses (response.c): the
 * server's state and the per-request record. The server calls the
 * handlers; the handlers answer through response.c, never the server.
 */
#ifndef FERRY_MIRROR_PRIVATE_H
#define FERRY_MIRROR_PRIVATE_H

#include <microhttpd.h>
#include <stdatomic.h>

#include "buf.h"
#include "httpd_guard.h"
#include "mirror.h"
#include "passwd.h"
#include "request.h"
#include "view.h"

#define FERRY_MIRROR_BUCKETS 10
/* a git request body, as sent and inflated, at most: about 20000 haves */
#define FERRY_MIRROR_GIT_BODY_MAX (1u << 20)
/* pack requests waiting for a builder, at most */
#define FERRY_MIRROR_PACK_QUEUE_MAX 64

typedef struct ferry_pack_job ferry_pack_job;

struct ferry_mirror {
	struct MHD_Daemon *daemon;
	ferry_httpd_guard *guard;      /* request deadlines, room under the cap */
	ferry_view view;
	char *store;
	uint16_t port;
	FILE *access_log;
	pthread_mutex_t log_lock;
	ferry_passwd *passwd;  /* --htpasswd, or NULL: no auth */
	unsigned rate;
	pthread_mutex_t rate_lock;
	struct rate_slot *rates;
	size_t nrates;
	/* pack builds (git_http.c): a queue and max_pack_builds threads */
	pthread_mutex_t pack_lock;
	pthread_cond_t pack_cond;
	ferry_pack_job *pack_queue;
	size_t pack_queued;
	atomic_int pack_stopping;
	unsigned pack_queue_timeout;   /* seconds a request waits for a builder */
	pthread_t *builders;
	unsigned nbuilders;
	char *pack_config;             /* pack.* bounds, a git config file */
	/* metrics */
	atomic_ullong requests[6];     /* by class: 1xx..5xx, index 0 unused */
	atomic_ullong by_code[600];
	atomic_ullong bytes;
	atomic_ullong latency_bucket[FERRY_MIRROR_BUCKETS];
	atomic_ullong latency_sum_us;
	atomic_ullong latency_count;
};

/** Per request. */
typedef struct {
	uint64_t start_us;
	unsigned status;
	uint64_t bytes;
	char method[8];
	char path[512];
	char client[64];
	ferry_buf body;    /* request body (git POSTs only), size-capped */
	ferry_pack_job *job;   /* a pack request waiting or built (git_http.c) */
} ferry_request;

/** Monotonic microseconds. */
uint64_t ferry_mirror__now_us(void);

/* ---- responses (response.c) ---------------------------------------------- */

/** Queue a response and record its status and size for logs and metrics. */
enum MHD_Result ferry_mirror__send(struct MHD_Connection *c, ferry_request *r,
				   unsigned status, struct MHD_Response *resp,
				   uint64_t bytes);
/** An OCI error body: {"errors":[{"code", "message"}]}. */
enum MHD_Result ferry_mirror__error(struct MHD_Connection *c, ferry_request *r,
				    unsigned status, const char *code,
				    const char *message);
/** 503 with Retry-After and an OCI error body carrying `message`. */
enum MHD_Result ferry_mirror__busy(struct MHD_Connection *c, ferry_request *r,
				   const char *message);
/** A text/plain response with `body` (static storage). */
enum MHD_Result ferry_mirror__text(struct MHD_Connection *c, ferry_request *r,
				   unsigned status, const char *body);

/* ---- route handlers --------------------------------------------------------- */

/** Serve /git/<name>.git/...: smart HTTP upload-pack. */
enum MHD_Result ferry_mirror__git(ferry_mirror *m, struct MHD_Connection *c,
				  ferry_request *r, const char *url, const char *method,
				  ferry_buf *body);
/** Answer a pack request whose connection the builder resumed. */
enum MHD_Result ferry_mirror__git_resumed(ferry_mirror *m, struct MHD_Connection *c,
					 ferry_request *r);
/** A builder thread's body (pthread start routine, `payload` the mirror);
 *  returns when pack_stopping is set, after answering every queued job. */
void *ferry_mirror__pack_builder(void *payload);
/**
 * Start `builds` pack builder threads (queued requests wait at most
 * `queue_timeout` seconds) and set libgit2's pack bounds. FERRY_EIO when the
 * bounds file cannot be written. Undo with ferry_mirror__pack_shutdown,
 * also after a failure.
 */
int ferry_mirror__pack_init(ferry_mirror *m, unsigned builds, unsigned queue_timeout);
/** Stop the builders: queued requests are answered 503, a build in
 *  progress stops. Call while the HTTP daemon still runs. */
void ferry_mirror__pack_shutdown(ferry_mirror *m);
/** Free a pack job and close its reply file; NULL-safe. */
void ferry_mirror__pack_job_free(ferry_pack_job *job);
/** Serve /v2/ and everything below it. */
enum MHD_Result ferry_mirror__oci(ferry_mirror *m, struct MHD_Connection *c,
				  ferry_request *r, const char *url, const char *method);

#endif
