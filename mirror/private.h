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
#include "mirror.h"
#include "request.h"
#include "view.h"

#define FERRY_MIRROR_BUCKETS 10

struct ferry_mirror {
	struct MHD_Daemon *daemon;
	ferry_view view;
	char *store;
	uint16_t port;
	FILE *access_log;
	pthread_mutex_t log_lock;
	char **users;          /* htpasswd: "user" */
	char **hashes;         /* its hash */
	size_t nusers;
	unsigned rate;
	pthread_mutex_t rate_lock;
	struct rate_slot *rates;
	size_t nrates;
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
} ferry_request;

/* ---- responses (response.c) ---------------------------------------------- */

/** Queue a response and record its status and size for logs and metrics. */
enum MHD_Result ferry_mirror__send(struct MHD_Connection *c, ferry_request *r,
				   unsigned status, struct MHD_Response *resp,
				   uint64_t bytes);
/** An OCI error body: {"errors":[{"code", "message"}]}. */
enum MHD_Result ferry_mirror__error(struct MHD_Connection *c, ferry_request *r,
				    unsigned status, const char *code,
				    const char *message);
/** A text/plain response with `body` (static storage). */
enum MHD_Result ferry_mirror__text(struct MHD_Connection *c, ferry_request *r,
				   unsigned status, const char *body);

/* ---- route handlers --------------------------------------------------------- */

/** Serve /git/<name>.git/...: smart HTTP upload-pack. */
enum MHD_Result ferry_mirror__git(ferry_mirror *m, struct MHD_Connection *c,
				  ferry_request *r, const char *url, const char *method,
				  ferry_buf *body);
/** Serve /v2/ and everything below it. */
enum MHD_Result ferry_mirror__oci(ferry_mirror *m, struct MHD_Connection *c,
				  ferry_request *r, const char *url, const char *method);

#endif
