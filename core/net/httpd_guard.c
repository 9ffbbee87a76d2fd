/*
 * The slow-client guard of ferry's libmicrohttpd servers (see
 * httpd_guard.h). Each connection gets a record (libmicrohttpd's socket
 * context) in one list: when it began reading its current request and
 * whether it is reading headers, a body, or being answered. A watchdog
 * thread cuts, four times a second, every connection past its phase's
 * deadline; a connection arriving over the cap cuts the one that has been
 * reading its request the longest from the address with the most
 * connections (so one well-behaved client is never the one that goes while
 * another address holds many), or itself when every other is being
 * answered.
 * Cutting is shutdown(2) of the socket: libmicrohttpd sees the end of the
 * stream on its own thread and closes the connection as usual. The list's
 * lock is held while a socket is shut down, and libmicrohttpd closes a
 * socket only after its "closed" notification, which takes the lock, so
 * the descriptor cut is always the connection's own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "ferry/errors.h"
#include "httpd_guard.h"
#include "banned.h"

enum { PHASE_HEADER, PHASE_BODY, PHASE_ANSWER };

typedef struct guard_conn {
	struct guard_conn *prev, *next;
	ferry_httpd_guard *guard;
	int fd;
	struct sockaddr_storage peer;   /* family 0: unknown */
	int phase;
	int cut;
	uint64_t since_us;
} guard_conn;

struct ferry_httpd_guard {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t watchdog;
	int stopping;
	guard_conn *head;
	unsigned count;         /* connections not cut */
	uint64_t header_us, body_us;
	unsigned max_connections;
	atomic_ullong cut;
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Cut `gc`; the caller holds the lock. */
static void cut(ferry_httpd_guard *g, guard_conn *gc)
{
	if (gc->cut || gc->fd < 0)
		return;
	gc->cut = 1;
	g->count--;   /* going: it makes room now */
	shutdown(gc->fd, SHUT_RDWR);
	atomic_fetch_add(&g->cut, 1);
}

static int same_peer(const guard_conn *a, const guard_conn *b)
{
	if (!a->peer.ss_family || a->peer.ss_family != b->peer.ss_family)
		return 0;
	if (a->peer.ss_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)&a->peer)->sin_addr,
			       &((const struct sockaddr_in *)&b->peer)->sin_addr,
			       sizeof(struct in_addr));
	if (a->peer.ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)&a->peer)->sin6_addr,
			       &((const struct sockaddr_in6 *)&b->peer)->sin6_addr,
			       sizeof(struct in6_addr));
	return 0;
}

/* Live connections from `gc`'s address (with itself). */
static unsigned peer_count(const ferry_httpd_guard *g, const guard_conn *gc)
{
	const guard_conn *p;
	unsigned n = 0;

	for (p = g->head; p; p = p->next)
		n += !p->cut && (p == gc || same_peer(p, gc));
	return n;
}

/* The connection to cut for newcomer `gc` over the cap: of those reading
 * a request, one from the address holding the most connections, the one
 * reading the longest among them; NULL when all are being answered. The
 * list is at most the cap long and this runs only over it. */
static guard_conn *victim_for(const ferry_httpd_guard *g, const guard_conn *gc)
{
	guard_conn *victim = NULL, *p;
	unsigned most = 0, n;

	for (p = gc->next; p; p = p->next) {
		if (p->cut || p->phase == PHASE_ANSWER)
			continue;
		n = peer_count(g, p);
		if (!victim || n > most || (n == most && p->since_us < victim->since_us)) {
			victim = p;
			most = n;
		}
	}
	return victim;
}

static void *watchdog(void *payload)
{
	ferry_httpd_guard *g = payload;

	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		struct timespec ts;
		uint64_t now = mono_us();
		guard_conn *gc;

		for (gc = g->head; gc; gc = gc->next)
			if ((gc->phase == PHASE_HEADER && now - gc->since_us > g->header_us) ||
			    (gc->phase == PHASE_BODY && now - gc->since_us > g->body_us))
				cut(g, gc);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &ts);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int ferry_httpd_guard_new(ferry_httpd_guard **out, const ferry_httpd_guard_options *o)
{
	ferry_httpd_guard *g;

	if (!o || o->version != FERRY_HTTPD_GUARD_OPTIONS_VERSION || !o->header_timeout ||
	    !o->body_timeout || !o->max_connections)
		return ferry_error_set(FERRY_EINVALID, "bad request deadlines or connection limit");
	if (!(g = calloc(1, sizeof(*g))))
		return ferry_error_oom();
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->wake, NULL);
	g->header_us = (uint64_t)o->header_timeout * 1000000;
	g->body_us = (uint64_t)o->body_timeout * 1000000;
	g->max_connections = o->max_connections;
	if (pthread_create(&g->watchdog, NULL, watchdog, g) != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return ferry_error_set(FERRY_ERROR, "cannot start the request watchdog thread");
	}
	*out = g;
	return 0;
}

void ferry_httpd_guard_free(ferry_httpd_guard *g)
{
	guard_conn *gc;

	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = 1;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->watchdog, NULL);
	while ((gc = g->head)) {   /* none once the daemon stopped */
		g->head = gc->next;
		free(gc);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

unsigned ferry_httpd_guard_hard_limit(const ferry_httpd_guard *g, unsigned threads)
{
	unsigned room = g->max_connections / 8;

	/* libmicrohttpd splits its limit between the pool's threads, and each
	 * takes the connections it wins: each gets the whole cap */
	return (g->max_connections + (room < 8 ? 8 : room)) * (threads ? threads : 1);
}

uint64_t ferry_httpd_guard_cut(const ferry_httpd_guard *g)
{
	return atomic_load(&g->cut);
}

void ferry_httpd_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	ferry_httpd_guard *g = cls;
	guard_conn *gc = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ai =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		guard_conn *victim;

		if (!(gc = calloc(1, sizeof(*gc))))
			return;   /* unguarded; libmicrohttpd's own limits still hold */
		gc->guard = g;
		gc->fd = ci ? ci->connect_fd : -1;
		if (ai && ai->client_addr && (ai->client_addr->sa_family == AF_INET ||
					      ai->client_addr->sa_family == AF_INET6))
			memcpy(&gc->peer, ai->client_addr, ai->client_addr->sa_family == AF_INET
				? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		gc->since_us = mono_us();
		pthread_mutex_lock(&g->lock);
		gc->next = g->head;
		if (g->head)
			g->head->prev = gc;
		g->head = gc;
		if (++g->count > g->max_connections) {
			victim = victim_for(g, gc);
			cut(g, victim ? victim : gc);
		}
		pthread_mutex_unlock(&g->lock);
		*socket_context = gc;
		return;
	}
	if (code != MHD_CONNECTION_NOTIFY_CLOSED || !gc)
		return;
	pthread_mutex_lock(&g->lock);
	if (gc->prev)
		gc->prev->next = gc->next;
	else
		g->head = gc->next;
	if (gc->next)
		gc->next->prev = gc->prev;
	if (!gc->cut)
		g->count--;
	pthread_mutex_unlock(&g->lock);
	free(gc);
	*socket_context = NULL;
}

static guard_conn *record_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void set_phase(struct MHD_Connection *c, int phase)
{
	guard_conn *gc = record_of(c);

	if (!gc)
		return;
	pthread_mutex_lock(&gc->guard->lock);
	if (gc->phase != phase) {
		gc->phase = phase;
		gc->since_us = mono_us();
	}
	pthread_mutex_unlock(&gc->guard->lock);
}

void ferry_httpd_guard_read(struct MHD_Connection *c, int first, size_t upload_size)
{
	if (first)
		set_phase(c, PHASE_BODY);
	else if (!upload_size)
		set_phase(c, PHASE_ANSWER);
}

void ferry_httpd_guard_done(struct MHD_Connection *c)
{
	set_phase(c, PHASE_HEADER);
}
