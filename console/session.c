/*
 * Sessions and the login throttle (session.h): two small tables under one
 * lock, searched linearly (a site has a handful of operators; the tables
 * are capped, so a flood costs bounded time and memory).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "session.h"
#include "banned.h"

typedef struct {
	char token[FERRY_SESSION_TOKEN_LEN + 1];
	ferry_session s;
	int64_t last;
} slot;

typedef struct {
	char key[80];             /* "a:ADDRESS" or "u:USER" */
	unsigned failures;
	int64_t first;            /* start of the window */
} strike;

#define STRIKES_MAX 4096

struct ferry_sessions {
	pthread_mutex_t lock;
	ferry_sessions_options o;
	slot *slots;
	size_t n;
	strike *strikes;
	size_t nstrikes;
};

const char *ferry_role_name(ferry_role role)
{
	return role == FERRY_ROLE_OPERATOR ? "operator" : role == FERRY_ROLE_VIEWER ? "viewer"
										: "none";
}

int ferry_sessions_new(ferry_sessions **out, const ferry_sessions_options *o)
{
	ferry_sessions *s;

	*out = NULL;
	if (!o || o->version != FERRY_SESSIONS_OPTIONS_VERSION || o->idle <= 0 ||
	    o->lifetime <= 0 || !o->max_sessions || !o->max_failures || o->window <= 0)
		return ferry_error_set(FERRY_EINVALID, "bad session options");
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	if (!(s = calloc(1, sizeof(*s))) ||
	    !(s->slots = calloc(o->max_sessions, sizeof(*s->slots))) ||
	    !(s->strikes = calloc(STRIKES_MAX, sizeof(*s->strikes)))) {
		if (s)
			free(s->slots);
		free(s);
		return ferry_error_oom();
	}
	s->o = *o;
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

void ferry_sessions_free(ferry_sessions *s)
{
	if (!s)
		return;
	sodium_memzero(s->slots, s->o.max_sessions * sizeof(*s->slots));
	free(s->slots);
	free(s->strikes);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int ferry_sessions_token_equal(const char *a, const char *b)
{
	return a && b && strlen(a) == FERRY_SESSION_TOKEN_LEN &&
	       strlen(b) == FERRY_SESSION_TOKEN_LEN &&
	       sodium_memcmp(a, b, FERRY_SESSION_TOKEN_LEN) == 0;
}

static void random_token(char out[FERRY_SESSION_TOKEN_LEN + 1])
{
	unsigned char raw[FERRY_SESSION_TOKEN_LEN / 2];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, FERRY_SESSION_TOKEN_LEN + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
}

static int expired(const ferry_sessions *s, const slot *sl, int64_t now)
{
	return now - sl->last > s->o.idle || now - sl->s.created > s->o.lifetime;
}

static void remove_slot(ferry_sessions *s, size_t i)
{
	sodium_memzero(&s->slots[i], sizeof(s->slots[i]));
	s->slots[i] = s->slots[--s->n];
	sodium_memzero(&s->slots[s->n], sizeof(s->slots[s->n]));
}

int ferry_sessions_create(char token[FERRY_SESSION_TOKEN_LEN + 1], ferry_session *out,
			  ferry_sessions *s, const char *user, ferry_role role, int64_t now)
{
	slot *sl;
	size_t i, oldest = 0, oldest_mine = 0, mine;

	if (strlen(user) > FERRY_PASSWD_USER_MAX)
		return ferry_error_set(FERRY_EINVALID, "user name too long");
	pthread_mutex_lock(&s->lock);
	for (i = s->n; i-- > 0;)
		if (expired(s, &s->slots[i], now))
			remove_slot(s, i);
	/* one user logging in again and again ends their own oldest session,
	 * not another user's */
	for (i = 0, mine = 0; i < s->n; i++)
		if (!strcmp(s->slots[i].s.user, user) &&
		    (!mine++ || s->slots[i].last < s->slots[oldest_mine].last))
			oldest_mine = i;
	if (mine >= FERRY_SESSIONS_PER_USER) {
		remove_slot(s, oldest_mine);
	} else if (s->n == s->o.max_sessions) {
		for (i = 1; i < s->n; i++)
			if (s->slots[i].last < s->slots[oldest].last)
				oldest = i;
		remove_slot(s, oldest);
	}
	sl = &s->slots[s->n++];
	memset(sl, 0, sizeof(*sl));
	random_token(sl->token);
	random_token(sl->s.csrf);
	snprintf(sl->s.user, sizeof(sl->s.user), "%s", user);
	sl->s.role = role;
	sl->s.created = now;
	sl->last = now;
	memcpy(token, sl->token, sizeof(sl->token));
	*out = sl->s;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static slot *find(ferry_sessions *s, const char *token, size_t *at)
{
	size_t i;

	if (!token || strlen(token) != FERRY_SESSION_TOKEN_LEN)
		return NULL;
	for (i = 0; i < s->n; i++)
		if (ferry_sessions_token_equal(s->slots[i].token, token)) {
			*at = i;
			return &s->slots[i];
		}
	return NULL;
}

int ferry_sessions_get(ferry_session *out, ferry_sessions *s, const char *token, int64_t now)
{
	slot *sl;
	size_t at = 0;
	int error = 0;

	pthread_mutex_lock(&s->lock);
	if (!(sl = find(s, token, &at))) {
		error = FERRY_ENOTFOUND;
	} else if (expired(s, sl, now)) {
		remove_slot(s, at);
		error = FERRY_ENOTFOUND;
	} else {
		sl->last = now;
		*out = sl->s;
	}
	pthread_mutex_unlock(&s->lock);
	return error;
}

void ferry_sessions_drop(ferry_sessions *s, const char *token)
{
	size_t at = 0;

	pthread_mutex_lock(&s->lock);
	if (find(s, token, &at))
		remove_slot(s, at);
	pthread_mutex_unlock(&s->lock);
}

/* ---- the login throttle -------------------------------------------------- */

static void evict_oldest(ferry_sessions *s)
{
	size_t i, oldest = 0;

	for (i = 1; i < s->nstrikes; i++)
		if (s->strikes[i].first < s->strikes[oldest].first)
			oldest = i;
	s->strikes[oldest] = s->strikes[--s->nstrikes];
}

static strike *strike_of(ferry_sessions *s, char kind, const char *name, int64_t now,
			 int create)
{
	char key[sizeof(((strike *)0)->key)];
	size_t i;

	snprintf(key, sizeof(key), "%c:%s", kind, name ? name : "");
	for (i = 0; i < s->nstrikes; i++)
		if (!strcmp(s->strikes[i].key, key)) {
			if (now - s->strikes[i].first >= s->o.window) {
				s->strikes[i].failures = 0;
				s->strikes[i].first = now;
			}
			return &s->strikes[i];
		}
	if (!create)
		return NULL;
	if (s->nstrikes == STRIKES_MAX)
		evict_oldest(s);
	i = s->nstrikes++;
	memset(&s->strikes[i], 0, sizeof(s->strikes[i]));
	memcpy(s->strikes[i].key, key, sizeof(key));
	s->strikes[i].first = now;
	return &s->strikes[i];
}

int ferry_sessions_login_attempt(int64_t *retry_after, ferry_sessions *s, const char *client,
				 const char *user, int64_t now)
{
	strike *k[2];
	int64_t wait = 0;
	int i;

	pthread_mutex_lock(&s->lock);
	/* room for both first, so that making one never evicts the other */
	while (s->nstrikes > STRIKES_MAX - 2)
		evict_oldest(s);
	k[0] = strike_of(s, 'a', client, now, 1);
	k[1] = strike_of(s, 'u', user, now, 1);
	for (i = 0; i < 2; i++)
		if (k[i]->failures >= s->o.max_failures && k[i]->first + s->o.window - now > wait)
			wait = k[i]->first + s->o.window - now;
	if (!wait) {
		k[0]->failures++;
		k[1]->failures++;
	}
	pthread_mutex_unlock(&s->lock);
	*retry_after = wait;
	return wait == 0;
}

void ferry_sessions_login_succeeded(ferry_sessions *s, const char *client, const char *user,
				    int64_t now)
{
	strike *k;

	pthread_mutex_lock(&s->lock);
	if ((k = strike_of(s, 'a', client, now, 0)) && k->failures)
		k->failures--;
	if ((k = strike_of(s, 'u', user, now, 0)))
		k->failures = 0;
	pthread_mutex_unlock(&s->lock);
}
