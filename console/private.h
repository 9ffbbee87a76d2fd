/*
 * Internals shared by the console's server (server.c) and its pages
 * (pages.c): the server's state, the request being answered, and the
 * page functions. The server authenticates and routes; a page function
 * only reads the store and writes HTML.
 */
#ifndef FERRY_CONSOLE_PRIVATE_H
#define FERRY_CONSOLE_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <microhttpd.h>

#include "buf.h"
#include "console.h"
#include "html.h"
#include "httpd_guard.h"
#include "passwd.h"
#include "reconcile.h"
#include "session.h"
#include "store.h"
#include "strv.h"

/* a form body, at most */
#define FERRY_CONSOLE_BODY_MAX 16384
/* rows a page lists at most (the rest: a count and a filter) */
#define FERRY_CONSOLE_ROWS 500
/* events of each kind an export holds at most (its memory is bounded) */
#define FERRY_CONSOLE_EXPORT_MAX 50000
/* requests to the reconciler daemon at once (the rest: 503), and how long
 * an action and a plan may take there, in seconds */
#define FERRY_CONSOLE_CONTROL_MAX 2
#define FERRY_CONSOLE_ACTION_TIMEOUT 600
#define FERRY_CONSOLE_PLAN_TIMEOUT 120

struct ferry_console {
	struct MHD_Daemon *daemon;
	ferry_httpd_guard *guard;
	ferry_sessions *sessions;
	ferry_passwd *viewers, *operators;
	ferry_reconcile_config *cfg;   /* NULL: no stacks */
	ferry_reconciler *rc;
	ferry_store *st;               /* read; `lock` held while used */
	pthread_mutex_t lock;
	char *store;
	ferry_strv inboxes;
	int64_t stale_after;
	int tls;
	FILE *log;
	pthread_mutex_t log_lock;
	uint16_t port;
	atomic_int control_busy;       /* requests to the daemon in flight */
};

/** A slot for a request to the daemon: 1, or 0 when FERRY_CONSOLE_CONTROL_MAX
 *  are in flight (answer 503). Give it back with ferry_console__control_leave. */
int ferry_console__control_enter(ferry_console *c);
void ferry_console__control_leave(ferry_console *c);

/** Per request. */
typedef struct {
	uint64_t start_us;
	char method[8];
	char client[64];
	ferry_buf body;
	int too_big;
	unsigned status;
} ferry_console_request;

/** What a page knows of who asks. */
typedef struct {
	ferry_session s;
	const char *url;
	struct MHD_Connection *conn;   /* for query arguments */
} ferry_console_view;

/* ---- pages (pages.c): each writes a whole document into `h` --------------- */

/** Open a document: head, stylesheet, navigation (`active` names the tab),
 *  the user and the logout form. */
void ferry_console__page_open(ferry_html *h, const ferry_console_view *v, const char *title,
			      const char *active);
void ferry_console__page_close(ferry_html *h);
/** The login form, with `message` (NULL: none) above it. */
void ferry_console__login_page(ferry_html *h, const char *message);

/* Each returns 0, FERRY_ENOTFOUND for a page that does not exist (a stack
 * not in the config), or a store's error. */
int ferry_console__overview(ferry_html *h, ferry_console *c, const ferry_console_view *v);
int ferry_console__store(ferry_html *h, ferry_console *c, const ferry_console_view *v);
int ferry_console__stacks(ferry_html *h, ferry_console *c, const ferry_console_view *v);
int ferry_console__stack(ferry_html *h, ferry_console *c, const ferry_console_view *v,
			 const char *name);
/** The plan of stack `name`: the pre-flight and the diff of the next sync. */
int ferry_console__plan(ferry_html *h, ferry_console *c, const ferry_console_view *v,
			const char *name);
/** The audit page, or (`jsonl`) every matching event as JSON lines into `h`. */
int ferry_console__audit(ferry_html *h, ferry_console *c, const ferry_console_view *v,
			 int jsonl);
/** The page after an action: what was asked, and the daemon's answer. */
void ferry_console__action_page(ferry_html *h, const ferry_console_view *v, const char *stack,
				const char *action, int ok, const char *outcome,
				const char *message);

/** The stylesheet (static). */
extern const char ferry_console__css[];

#endif
