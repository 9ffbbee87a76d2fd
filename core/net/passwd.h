/*
 * Credential files of the enclave's servers: one "user:hash" line per
 * user, the hash bcrypt ("$2y$", as `htpasswd -B` writes it) or argon2id
 * ("$argon2id$", as `argon2` and libsodium write it); blank lines and
 * lines starting with '#' are skipped. The mirror reads them for Basic
 * auth, the console for its logins. Hashes are wiped when freed.
 */
#ifndef FERRY_CORE_NET_PASSWD_H
#define FERRY_CORE_NET_PASSWD_H

#include <stddef.h>

typedef struct ferry_passwd ferry_passwd;

/** The longest user name taken, in bytes. */
#define FERRY_PASSWD_USER_MAX 64

/**
 * Read the credential file at `path` (at most 1 MiB) into `*out`, owned by
 * the caller. FERRY_EINVALID when a line is not user:hash with a bcrypt or
 * argon2 hash, a user name is longer than FERRY_PASSWD_USER_MAX or holds a
 * control byte, a user is listed twice, or the file lists nobody;
 * FERRY_ENOTFOUND / FERRY_EIO when it cannot be read.
 */
int ferry_passwd_load(ferry_passwd **out, const char *path);

/**
 * 1 when `user` is listed and `password` matches its hash, else 0. An
 * unknown user costs a hash check too, so that the time taken does not
 * tell which names exist.
 */
int ferry_passwd_check(const ferry_passwd *p, const char *user, const char *password);

/** The `i`th user listed (borrowed), or NULL past the last. */
const char *ferry_passwd_user(const ferry_passwd *p, size_t i);

/** 1 when `user` is listed. */
int ferry_passwd_has(const ferry_passwd *p, const char *user);

/** Free `p` (NULL is fine). */
void ferry_passwd_free(ferry_passwd *p);

#endif
