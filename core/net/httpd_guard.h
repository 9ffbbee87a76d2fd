/*
 * A guard for libmicrohttpd servers against slow and crowding clients:
 * deadlines on reading a request's headers and its body, whatever the pace
 * (libmicrohttpd's own timeout only measures inactivity, which one byte a
 * second defeats), and room for well-behaved clients when the connection
 * cap is reached (the connection that has been reading its request the
 * longest is cut). The mirror and the reconciler's webhook both use it.
 *
 * Wire-up: pass ferry_httpd_guard_notify with the guard as
 * MHD_OPTION_NOTIFY_CONNECTION, give libmicrohttpd a connection limit of
 * ferry_httpd_guard_hard_limit(), call ferry_httpd_guard_read at the top of
 * the access handler and ferry_httpd_guard_done in the completed callback.
 */
#ifndef FERRY_CORE_NET_HTTPD_GUARD_H
#define FERRY_CORE_NET_HTTPD_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

typedef struct ferry_httpd_guard ferry_httpd_guard;

typedef struct {
	unsigned version;
	unsigned header_timeout;   /* seconds from connect (or the end of the
				      previous request) to the end of the headers */
	unsigned body_timeout;     /* seconds from the headers to the end of the body */
	unsigned max_connections;  /* beyond it a connection still reading is cut */
} ferry_httpd_guard_options;

#define FERRY_HTTPD_GUARD_OPTIONS_VERSION 1
#define FERRY_HTTPD_GUARD_OPTIONS_INIT { FERRY_HTTPD_GUARD_OPTIONS_VERSION, 10, 30, 64 }

/**
 * Start a guard and its watchdog thread. `*out` is owned by the caller
 * (ferry_httpd_guard_free, after the daemon stopped). FERRY_EINVALID for
 * bad options, FERRY_ENOMEM, FERRY_ERROR when the thread cannot start.
 */
int ferry_httpd_guard_new(ferry_httpd_guard **out, const ferry_httpd_guard_options *opts);
/** Stop the watchdog and free; call after MHD_stop_daemon. NULL-safe. */
void ferry_httpd_guard_free(ferry_httpd_guard *g);
/**
 * The connection limit to give libmicrohttpd with `threads` in its pool
 * (it splits its limit between them): max_connections plus room for the
 * connections that arrive to be let in or to cut a slow one, for each
 * thread. The guard holds the total to max_connections.
 */
unsigned ferry_httpd_guard_hard_limit(const ferry_httpd_guard *g, unsigned threads);
/** MHD_OPTION_NOTIFY_CONNECTION callback; `cls` is the guard. */
void ferry_httpd_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			      enum MHD_ConnectionNotificationCode code);
/**
 * From the access handler, every call: `first` on the call that starts a
 * request (its headers are read), `upload_size` the handler's
 * *upload_data_size (0 once the body is read).
 */
void ferry_httpd_guard_read(struct MHD_Connection *c, int first, size_t upload_size);
/** From the completed callback: the next request's header deadline starts. */
void ferry_httpd_guard_done(struct MHD_Connection *c);
/** Connections cut so far (deadline or eviction). */
uint64_t ferry_httpd_guard_cut(const ferry_httpd_guard *g);

#endif
