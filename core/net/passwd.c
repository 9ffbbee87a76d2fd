/*
 * Credential files (passwd.h): parsing, and checking a password against a
 * bcrypt hash with crypt_r (libxcrypt) or an argon2 hash with libsodium,
 * comparing in constant time.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "passwd.h"
#include "banned.h"

struct ferry_passwd {
	char **users;
	char **hashes;
	size_t n;
};

static int hash_kind_ok(const char *hash)
{
	return !strncmp(hash, "$2", 2) || !strncmp(hash, "$argon2", 7);
}

static int user_ok(const char *user, size_t len)
{
	size_t i;

	if (!len || len > FERRY_PASSWD_USER_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
			return 0;
	return 1;
}

int ferry_passwd_load(ferry_passwd **out, const char *path)
{
	ferry_buf text = FERRY_BUF_INIT;
	ferry_passwd *p;
	char *line, *next, *colon;
	size_t lineno = 0;
	int error;

	*out = NULL;
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	if (!(p = calloc(1, sizeof(*p))))
		return ferry_error_oom();
	if ((error = ferry_fs_read_file(&text, path, 1u << 20)) < 0)
		goto done;
	for (line = text.ptr; line && *line && !error; line = next) {
		char **u, **h;

		lineno++;
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (!*line || *line == '#')
			continue;
		if (!(colon = strchr(line, ':')) || !hash_kind_ok(colon + 1) ||
		    !user_ok(line, (size_t)(colon - line))) {
			error = ferry_error_set(FERRY_EINVALID,
						"'%s' line %zu: each line must be user:hash with a "
						"bcrypt ($2y$) or argon2 ($argon2id$) hash and a "
						"user name of 1 to %d printable bytes",
						path, lineno, FERRY_PASSWD_USER_MAX);
			break;
		}
		*colon = '\0';
		if (ferry_passwd_has(p, line)) {
			error = ferry_error_set(FERRY_EINVALID, "'%s' line %zu: user '%s' is listed "
						"twice", path, lineno, line);
			break;
		}
		if ((u = realloc(p->users, (p->n + 1) * sizeof(*u))))
			p->users = u;
		if ((h = realloc(p->hashes, (p->n + 1) * sizeof(*h))))
			p->hashes = h;
		if (!u || !h || !(p->users[p->n] = strdup(line))) {
			error = ferry_error_oom();
			break;
		}
		if (!(p->hashes[p->n] = strdup(colon + 1))) {
			free(p->users[p->n]);
			error = ferry_error_oom();
			break;
		}
		p->n++;
	}
	if (!error && !p->n)
		error = ferry_error_set(FERRY_EINVALID, "'%s' lists no users", path);
done:
	if (text.ptr)
		sodium_memzero(text.ptr, text.size);
	ferry_buf_dispose(&text);
	if (error < 0)
		ferry_passwd_free(p);
	else
		*out = p;
	return error;
}

static int hash_matches(const char *hash, const char *password)
{
	struct crypt_data data;
	const char *out;
	int ok;

	if (!strncmp(hash, "$argon2", 7))
		return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
	memset(&data, 0, sizeof(data));
	out = crypt_r(password, hash, &data);
	ok = out && out[0] != '*' && strlen(out) == strlen(hash) &&
	     sodium_memcmp(out, hash, strlen(hash)) == 0;
	sodium_memzero(&data, sizeof(data));
	return ok;
}

int ferry_passwd_check(const ferry_passwd *p, const char *user, const char *password)
{
	size_t i;

	if (!p || !p->n || !user || !password)
		return 0;
	for (i = 0; i < p->n; i++)
		if (!strcmp(p->users[i], user))
			return hash_matches(p->hashes[i], password);
	/* the same work for a name that is not listed */
	(void)hash_matches(p->hashes[0], password);
	return 0;
}

const char *ferry_passwd_user(const ferry_passwd *p, size_t i)
{
	return p && i < p->n ? p->users[i] : NULL;
}

int ferry_passwd_has(const ferry_passwd *p, const char *user)
{
	size_t i;

	for (i = 0; p && user && i < p->n; i++)
		if (!strcmp(p->users[i], user))
			return 1;
	return 0;
}

void ferry_passwd_free(ferry_passwd *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->users[i]);
		sodium_memzero(p->hashes[i], strlen(p->hashes[i]));
		free(p->hashes[i]);
	}
	free(p->users);
	free(p->hashes);
	free(p);
}
