/*
 * ferry mirror: a read-only HTTP server over the enclave store, on
 * libmicrohttpd (thread pool, epoll; no process per request). It serves the
 * OCI distribution pull API from the store's tags and blobs, plus health
 * and Prometheus metrics, with limits against hostile clients.
 */
#ifndef FERRY_MIRROR_MIRROR_H
#define FERRY_MIRROR_MIRROR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ferry_mirror ferry_mirror;

typedef struct {
	unsigned version;
	const char *store;
	const char *listen;          /* "ADDR:PORT"; port 0 picks a free one */
	const char *tls_cert;        /* PEM files; both or neither */
	const char *tls_key;
	const char *htpasswd;        /* read credentials: user:bcrypt or argon2 hash */
	FILE *access_log;            /* JSON lines; NULL: none */
	unsigned threads;            /* worker threads (default 4) */
	unsigned max_connections;    /* at once (default 512) */
	unsigned max_per_client;     /* at once from one address (default 64) */
	unsigned idle_timeout;       /* seconds a connection may idle (default 30) */
	size_t max_header_bytes;     /* request line + headers (default 16 KiB) */
	unsigned rate;               /* requests per second per address; 0: unlimited */
	unsigned max_pack_builds;    /* git packs built at once (default 2) */
	unsigned pack_queue_timeout; /* seconds a pack request waits for a build
					(default 30), then 503 */
	unsigned header_timeout;     /* seconds to read a request's line and headers,
					however it trickles (default 10) */
	unsigned body_timeout;       /* seconds to read a request body (default 30) */
} ferry_mirror_options;

#define FERRY_MIRROR_OPTIONS_VERSION 1
#define FERRY_MIRROR_OPTIONS_INIT { FERRY_MIRROR_OPTIONS_VERSION, NULL, NULL, NULL, \
				    NULL, NULL, NULL, 4, 512, 64, 30, 16384, 0, 2, 30, 10, 30 }

/** Start serving; FERRY_EINVALID for bad options, FERRY_EIO when binding fails. */
int ferry_mirror_start(ferry_mirror **out, const ferry_mirror_options *opts);
/** The port it listens on. */
uint16_t ferry_mirror_port(const ferry_mirror *m);
/** Stop, finishing requests in flight. */
void ferry_mirror_stop(ferry_mirror *m);

#endif
