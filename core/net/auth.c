/*
 * Registry authentication pieces shared by the exporter (pulling) and the
 * seeder (pushing): WWW-Authenticate challenges, docker/podman auth.json
 * credentials, the bearer-token exchange, and secrets kept in guarded
 * memory. Credentials never appear in messages.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "auth.h"
#include "buf.h"
#include "fs.h"
#include "http.h"
#include "json.h"
#include "banned.h"

/* ---- WWW-Authenticate --------------------------------------------------- */

void ferry_auth_challenge_dispose(ferry_auth_challenge *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

static int is_token_char(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int ferry_auth_challenge_parse(ferry_auth_challenge *out, const char *header)
{
	const char *p = header, *k;
	size_t klen;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (strlen(header) > FERRY_CHALLENGE_MAX)
		return ferry_error_set(FERRY_EINVALID, "authentication challenge is "
				       "longer than %d bytes", FERRY_CHALLENGE_MAX);
	while (*p == ' ' || *p == '\t')
		p++;
	if (!strncasecmp(p, "bearer", 6) && (p[6] == ' ' || p[6] == '\0'))
		out->scheme = FERRY_AUTH_BEARER;
	else if (!strncasecmp(p, "basic", 5) && (p[5] == ' ' || p[5] == '\0'))
		out->scheme = FERRY_AUTH_BASIC;
	else
		return ferry_error_set(FERRY_EUNSUPPORTED, "unsupported authentication "
				       "scheme in '%.60s' (want Bearer or Basic)", header);
	p += out->scheme == FERRY_AUTH_BEARER ? 6 : 5;
	for (;;) {
		ferry_buf v = FERRY_BUF_INIT;
		char **slot = NULL;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		for (k = p; is_token_char((unsigned char)*p); p++)
			;
		klen = (size_t)(p - k);
		while (*p == ' ' || *p == '\t')
			p++;
		if (klen == 0 || *p != '=') {
			if (klen && (*p == '\0' || *p == ' ' || *p == ','))
				break;   /* the next challenge's scheme */
			error = ferry_error_set(FERRY_EINVALID, "malformed authentication "
						"challenge '%.100s'", header);
			goto done;
		}
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if ((error = ferry_buf_put(&v, p, 1)) < 0)
					break;
			}
			if (!error && *p != '"')
				error = ferry_error_set(FERRY_EINVALID, "unterminated quoted "
							"string in authentication challenge");
			if (!error)
				p++;
		} else {
			const char *s = p;

			while (*p && *p != ',' && *p != ' ' && *p != '\t')
				p++;
			error = ferry_buf_put(&v, s, (size_t)(p - s));
		}
		if (!error && !v.ptr)
			error = ferry_buf_puts(&v, "");
		if (error < 0) {
			ferry_buf_dispose(&v);
			goto done;
		}
		if (klen == 5 && !strncasecmp(k, "realm", 5))
			slot = &out->realm;
		else if (klen == 7 && !strncasecmp(k, "service", 7))
			slot = &out->service;
		else if (klen == 5 && !strncasecmp(k, "scope", 5))
			slot = &out->scope;
		if (slot) {
			free(*slot);
			*slot = ferry_buf_detach(&v);
		}
		ferry_buf_dispose(&v);
	}
	if (out->scheme == FERRY_AUTH_BEARER && (!out->realm || !*out->realm))
		error = ferry_error_set(FERRY_EINVALID, "bearer challenge without a realm");
	else if (out->scheme == FERRY_AUTH_BEARER &&
		 strncmp(out->realm, "https://", 8) && strncmp(out->realm, "http://", 7))
		error = ferry_error_set(FERRY_EINVALID, "bearer challenge realm '%.200s' "
					"is not an HTTP(S) URL", out->realm);
done:
	if (error < 0)
		ferry_auth_challenge_dispose(out);
	return error;
}


/* ---- auth.json ---------------------------------------------------------- */

/*
 * Guarded memory for a secret. libsodium must be initialised before its
 * allocator is used (it aborts otherwise), and callers of this file may
 * not have used libsodium yet: sodium_init() is idempotent and thread-safe.
 */
static void *secret_alloc(size_t size)
{
	if (sodium_init() < 0)
		return NULL;
	return sodium_malloc(size);
}

void ferry_secret_free(char *secret)
{
	if (secret)
		sodium_free(secret);
}

/* "https://host:port/v1/" -> "host:port" for comparison. */
static int key_matches(const char *key, const char *registry)
{
	const char *p = key, *end;

	if (!strncmp(p, "https://", 8))
		p += 8;
	else if (!strncmp(p, "http://", 7))
		p += 7;
	end = strchr(p, '/');
	if (!end)
		end = p + strlen(p);
	if ((size_t)(end - p) == strlen(registry) && !strncasecmp(p, registry, (size_t)(end - p)))
		return 1;
	/* Docker Hub's historical key. */
	return !strcmp(registry, "docker.io") && !strncmp(p, "index.docker.io", 15);
}

static char *secret_dup2(const char *a, size_t alen, const char *b, size_t blen)
{
	char *s = secret_alloc(alen + blen + 2);

	if (!s)
		return NULL;
	memcpy(s, a, alen);
	s[alen] = ':';
	memcpy(s + alen + 1, b, blen);
	s[alen + 1 + blen] = '\0';
	return s;
}

int ferry_auth_text_lookup(char **out, const char *text, size_t len, const char *what,
			   const char *registry)
{
	json_t *doc = NULL, *auths, *entry;
	const char *key, *auth, *user, *pass;
	unsigned char *raw = NULL;
	size_t rawlen = 0, b64len;
	int error;

	*out = NULL;
	if ((error = ferry_json_parse(&doc, text, len, what)) < 0)
		goto done;
	if ((error = ferry_json_get_object_opt(&auths, doc, "auths", what)) < 0 || !auths)
		goto done;
	json_object_foreach(auths, key, entry) {
		if (!key_matches(key, registry))
			continue;
		if (!json_is_object(entry)) {
			error = ferry_error_set(FERRY_EINVALID, "%s: the entry for '%.200s' "
						"must be an object", what, key);
			goto done;
		}
		if ((error = ferry_json_get_string_opt(&auth, entry, "auth", what)) < 0 ||
		    (error = ferry_json_get_string_opt(&user, entry, "username", what)) < 0 ||
		    (error = ferry_json_get_string_opt(&pass, entry, "password", what)) < 0)
			goto done;
		if (auth && *auth) {
			const char *colon;

			b64len = strlen(auth);
			if (!(raw = secret_alloc(b64len + 1))) {
				error = ferry_error_oom();
				goto done;
			}
			if (sodium_base642bin(raw, b64len, auth, b64len, NULL, &rawlen, NULL,
					      sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    !(colon = memchr(raw, ':', rawlen)) || memchr(raw, '\0', rawlen)) {
				error = ferry_error_set(FERRY_EINVALID, "%s: the 'auth' of '%.200s' "
							"is not base64 of user:password", what, key);
				goto done;
			}
			raw[rawlen] = '\0';
			*out = secret_dup2((const char *)raw, (size_t)(colon - (const char *)raw),
					   colon + 1, rawlen - (size_t)(colon + 1 - (const char *)raw));
		} else if (user && pass) {
			*out = secret_dup2(user, strlen(user), pass, strlen(pass));
		} else {
			error = ferry_error_set(FERRY_EINVALID, "%s: the entry for '%.200s' has "
						"neither 'auth' nor 'username' and 'password'",
						what, key);
			goto done;
		}
		if (!*out)
			error = ferry_error_oom();
		goto done;
	}
	error = 0;
done:
	if (raw)
		sodium_free(raw);
	json_decref(doc);
	return error;
}

int ferry_auth_file_lookup(char **out, const char *path, const char *registry)
{
	ferry_buf text = FERRY_BUF_INIT;
	char what[300];
	int error;

	*out = NULL;
	snprintf(what, sizeof(what), "auth file '%.250s'", path);
	if ((error = ferry_fs_read_file(&text, path, 1u << 20)) == 0)
		error = ferry_auth_text_lookup(out, text.ptr, text.size, what, registry);
	if (text.ptr)
		sodium_memzero(text.ptr, text.size);
	ferry_buf_dispose(&text);
	return error;
}

char *ferry_secret_dup(const char *s)
{
	size_t n = strlen(s);
	char *out = secret_alloc(n + 1);

	if (out)
		memcpy(out, s, n + 1);
	return out;
}

/* ---- token exchange ----------------------------------------------------- */

int ferry_auth_token_parse(char **out, const char *body, size_t len, const char *host,
			   const char *what)
{
	json_t *j = NULL;
	const char *tok;
	int error;

	*out = NULL;
	if ((error = ferry_json_parse(&j, body ? body : "", len, "the token response")) < 0) {
		error = ferry_error_wrap(error, "%s", what);
		goto done;
	}
	if ((error = ferry_json_get_string_opt(&tok, j, "token", "the token response")) < 0 ||
	    ((!tok || !*tok) &&
	     (error = ferry_json_get_string_opt(&tok, j, "access_token",
						"the token response")) < 0)) {
		error = ferry_error_wrap(error, "%s", what);
		goto done;
	}
	if (!tok || !*tok || strlen(tok) > 16384 || strpbrk(tok, "\r\n")) {
		error = ferry_error_set(FERRY_EINVALID, "%s: the token service of '%s' "
					"sent no usable token", what, host);
		goto done;
	}
	if (!(*out = secret_alloc(strlen(tok) + 32))) {
		error = ferry_error_oom();
		goto done;
	}
	snprintf(*out, strlen(tok) + 32, "Authorization: Bearer %s", tok);
done:
	json_decref(j);
	return error;
}

int ferry_auth_fetch_token(char **out, ferry_http *http, const ferry_auth_challenge *ch,
			   const char *scope, const char *userpwd, const char *host,
			   const char *what)
{
	ferry_buf url = FERRY_BUF_INIT;
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	char sep = strchr(ch->realm, '?') ? '&' : '?';
	int error;

	*out = NULL;
	memset(&resp, 0, sizeof(resp));
	if (!scope)
		scope = ch->scope;
	if ((error = ferry_buf_puts(&url, ch->realm)) < 0)
		goto done;
	if (ch->service) {
		if ((error = ferry_buf_printf(&url, "%cservice=", sep)) < 0 ||
		    (error = ferry_http_url_escape(&url, ch->service)) < 0)
			goto done;
		sep = '&';
	}
	if (scope && ((error = ferry_buf_printf(&url, "%cscope=", sep)) < 0 ||
		      (error = ferry_http_url_escape(&url, scope)) < 0))
		goto done;
	req.url = url.ptr;
	req.userpwd = userpwd;
	req.limit = FERRY_AUTH_TOKEN_MAX_SIZE;
	if ((error = ferry_http_get(&resp, http, &req)) < 0) {
		error = ferry_error_wrap(error, "%s", what);
		goto done;
	}
	if (resp.status == 401 || resp.status == 403) {
		error = ferry_error_set(FERRY_ERROR, "%s: the token service of '%s' "
					"refused %s (HTTP %ld)", what, host,
					userpwd ? "the credentials" : "anonymous access",
					resp.status);
		goto done;
	}
	if (resp.status != 200) {
		error = ferry_error_set(FERRY_EIO, "%s: the token service of '%s' answered "
					"HTTP %ld", what, host, resp.status);
		goto done;
	}
	error = ferry_auth_token_parse(out, resp.body.ptr, resp.body.size, host, what);
done:
	if (resp.body.ptr)
		sodium_memzero(resp.body.ptr, resp.body.size);
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&url);
	return error;
}
