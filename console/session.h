/*
 * The console's logins, apart from its server so that they can be tested
 * without one: sessions (a random token in a cookie, its CSRF token, the
 * user and role, an idle and an absolute expiry) and the throttle that
 * answers password guessing (failures counted per client address and per
 * user name; past the limit, logins from there or for that name are
 * refused until the window has passed, even with the right password).
 * Both tables are bounded: a flood of logins evicts the oldest entries
 * and never grows memory. Thread-safe.
 */
#ifndef FERRY_CONSOLE_SESSION_H
#define FERRY_CONSOLE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "passwd.h"

typedef enum {
	FERRY_ROLE_NONE = 0,
	FERRY_ROLE_VIEWER = 1,    /* reads every page */
	FERRY_ROLE_OPERATOR = 2   /* and acts: sync, suspend, resume, rollback */
} ferry_role;

/** The role's name ("viewer", "operator"). */
const char *ferry_role_name(ferry_role role);

/* sessions one user holds at most: a new login ends their oldest */
#define FERRY_SESSIONS_PER_USER 16

/* tokens are 32 random bytes, in hex */
#define FERRY_SESSION_TOKEN_LEN 64

typedef struct {
	char user[FERRY_PASSWD_USER_MAX + 1];
	ferry_role role;
	char csrf[FERRY_SESSION_TOKEN_LEN + 1];
	int64_t created;
} ferry_session;

typedef struct ferry_sessions ferry_sessions;

typedef struct {
	unsigned version;
	int64_t idle;             /* seconds a session lives unused (1800) */
	int64_t lifetime;         /* seconds a session lives at most (43200) */
	size_t max_sessions;      /* the oldest is dropped beyond it (1024) */
	unsigned max_failures;    /* failed logins per address or user ... (5) */
	int64_t window;           /* ... within this many seconds (300) */
} ferry_sessions_options;

#define FERRY_SESSIONS_OPTIONS_VERSION 1
#define FERRY_SESSIONS_OPTIONS_INIT { FERRY_SESSIONS_OPTIONS_VERSION, 1800, 43200, 1024, 5, \
				      300 }

/** A new, empty table into `*out` (ferry_sessions_free). FERRY_EINVALID, FERRY_ENOMEM. */
int ferry_sessions_new(ferry_sessions **out, const ferry_sessions_options *opts);
void ferry_sessions_free(ferry_sessions *s);

/**
 * Start a session for `user` with `role` at `now`: its fresh token into
 * `token` (what the cookie carries) and its record into `*out`. A token
 * is never reused and never chosen by the client, so a session id planted
 * before the login is worthless after it. FERRY_ERROR when no randomness.
 */
int ferry_sessions_create(char token[FERRY_SESSION_TOKEN_LEN + 1], ferry_session *out,
			  ferry_sessions *s, const char *user, ferry_role role, int64_t now);
/**
 * The session of `token` at `now` into `*out` (and its idle time starts
 * again); FERRY_ENOTFOUND when there is none, it expired, or `token` is
 * malformed.
 */
int ferry_sessions_get(ferry_session *out, ferry_sessions *s, const char *token, int64_t now);
/** End the session of `token` (logout); nothing when there is none. */
void ferry_sessions_drop(ferry_sessions *s, const char *token);

/** 1 when `a` and `b` are the same token (constant time), else 0. */
int ferry_sessions_token_equal(const char *a, const char *b);

/**
 * Start a login from `client` for `user` at `now`: 1 when it may be tried,
 * and then it is counted as a failure until ferry_sessions_login_succeeded
 * says otherwise (so parallel attempts cannot all pass the check before
 * the first is judged); 0 when either has used up its failures in the
 * window, with `*retry_after` the seconds until it may again.
 */
int ferry_sessions_login_attempt(int64_t *retry_after, ferry_sessions *s, const char *client,
				 const char *user, int64_t now);
/** The attempt succeeded: the address's count is given back and the
 *  user's cleared. */
void ferry_sessions_login_succeeded(ferry_sessions *s, const char *client, const char *user,
				    int64_t now);

#endif
