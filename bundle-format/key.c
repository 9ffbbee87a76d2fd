/*
 * Ed25519 keys in minisign's file formats, so that an operator can check
 * ferry's detached signatures with stock minisign and sign with ferry keys.
 *
 * Public key file:  "untrusted comment: ..." line, then base64 of
 *                   "Ed" || keynum[8] || pk[32].
 * Secret key file:  "untrusted comment: ..." line, then base64 of
 *                   "Ed" || kdf "\0\0" (unencrypted) || "B2" || salt[32] ||
 *                   opslimit[8] || memlimit[8] || keynum[8] || sk[64] ||
 *                   blake2b-256("Ed" || keynum || sk)[32].
 * Secrets live in sodium_malloc memory and are wiped when freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "key.h"
#include "banned.h"

#define PUB_RAW_LEN (2 + FERRY_KEYNUM_BYTES + 32)
#define SEC_RAW_LEN (2 + 2 + 2 + 32 + 8 + 8 + FERRY_KEYNUM_BYTES + 64 + 32)
#define KEY_FILE_MAX 4096

static int sodium_ready(void)
{
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	return 0;
}

void ferry_keynum__format(char out[FERRY_KEYID_LEN + 1],
			  const unsigned char keynum[FERRY_KEYNUM_BYTES])
{
	static const char digits[] = "0123456789ABCDEF";
	int i;

	/* minisign prints the key number as a little-endian uint64. */
	for (i = 0; i < FERRY_KEYNUM_BYTES; i++) {
		unsigned char b = keynum[FERRY_KEYNUM_BYTES - 1 - i];

		out[2 * i] = digits[b >> 4];
		out[2 * i + 1] = digits[b & 15];
	}
	out[FERRY_KEYID_LEN] = '\0';
}

static void seckey_checksum(unsigned char chk[32], const unsigned char *keynum,
			    const unsigned char *sk)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)"Ed", 2);
	crypto_generichash_update(&st, keynum, FERRY_KEYNUM_BYTES);
	crypto_generichash_update(&st, sk, 64);
	crypto_generichash_final(&st, chk, 32);
}

/* Write "untrusted comment: <comment>\n<base64>\n" to `path`. */
static int write_key_file(const char *path, const char *comment,
			  const unsigned char *raw, size_t rawlen, mode_t mode)
{
	size_t b64len = sodium_base64_encoded_len(rawlen,
						  sodium_base64_VARIANT_ORIGINAL);
	char *b64 = sodium_malloc(b64len);
	ferry_buf text = FERRY_BUF_INIT;
	int error;

	if (!b64)
		return ferry_error_oom();
	sodium_bin2base64(b64, b64len, raw, rawlen,
			  sodium_base64_VARIANT_ORIGINAL);
	if ((error = ferry_buf_printf(&text, "untrusted comment: %s\n%s\n",
				      comment, b64)) < 0)
		goto done;
	/* a regular file at `path` (--force) is replaced by the rename */
	error = ferry_fs_write_output(path, text.ptr, text.size, mode);
	if (error == FERRY_EEXISTS)
		error = ferry_error_set(FERRY_EEXISTS,
					"'%s' is being written by another process",
					path);
done:
	if (text.ptr)
		sodium_memzero(text.ptr, text.size);
	ferry_buf_dispose(&text);
	sodium_free(b64);
	return error;
}

int ferry_key_generate(const char *prefix, int force)
{
	unsigned char pk[32], *raw = NULL;
	ferry_buf pub_path = FERRY_BUF_INIT, key_path = FERRY_BUF_INIT;
	char id[FERRY_KEYID_LEN + 1], comment[96];
	unsigned char pub_raw[PUB_RAW_LEN];
	unsigned char *p;
	int error;

	if ((error = sodium_ready()) < 0)
		return error;
	if ((error = ferry_buf_printf(&pub_path, "%s.pub", prefix)) < 0 ||
	    (error = ferry_buf_printf(&key_path, "%s.key", prefix)) < 0)
		goto done;
	if (!force && (ferry_fs_exists(pub_path.ptr) ||
		       ferry_fs_exists(key_path.ptr))) {
		error = ferry_error_set(FERRY_EEXISTS,
					"'%s' or '%s' exists (use --force to replace)",
					pub_path.ptr, key_path.ptr);
		goto done;
	}
	if (!(raw = sodium_malloc(SEC_RAW_LEN))) {
		error = ferry_error_oom();
		goto done;
	}
	memset(raw, 0, SEC_RAW_LEN);
	p = raw;
	memcpy(p, "Ed", 2);                 /* signature algorithm */
	memset(p + 2, 0, 2);                /* kdf: none (not encrypted) */
	memcpy(p + 4, "B2", 2);             /* checksum: blake2b */
	/* salt and scrypt limits stay zero for an unencrypted key */
	p += 2 + 2 + 2 + 32 + 8 + 8;
	randombytes_buf(p, FERRY_KEYNUM_BYTES);
	crypto_sign_keypair(pk, p + FERRY_KEYNUM_BYTES);
	seckey_checksum(p + FERRY_KEYNUM_BYTES + 64, p,
			p + FERRY_KEYNUM_BYTES);

	memcpy(pub_raw, "Ed", 2);
	memcpy(pub_raw + 2, p, FERRY_KEYNUM_BYTES);
	memcpy(pub_raw + 2 + FERRY_KEYNUM_BYTES, pk, 32);
	ferry_keynum__format(id, p);

	snprintf(comment, sizeof(comment), "minisign secret key %s", id);
	if ((error = write_key_file(key_path.ptr, comment, raw, SEC_RAW_LEN,
				    0600)) < 0)
		goto done;
	snprintf(comment, sizeof(comment), "minisign public key %s", id);
	error = write_key_file(pub_path.ptr, comment, pub_raw, PUB_RAW_LEN,
			       0644);
done:
	sodium_free(raw);
	ferry_buf_dispose(&pub_path);
	ferry_buf_dispose(&key_path);
	return error;
}

/* Decode the second line of a minisign key file into `raw` (exactly `len`). */
static int read_key_file(const char *path, unsigned char *raw, size_t len)
{
	ferry_buf text = FERRY_BUF_INIT;
	char *line, *end;
	size_t binlen = 0;
	int error;

	if ((error = ferry_fs_read_file(&text, path, KEY_FILE_MAX)) < 0)
		goto done;
	line = strchr(text.ptr ? text.ptr : "", '\n');
	if (!text.ptr || strncmp(text.ptr, "untrusted comment: ", 19) != 0 ||
	    !line) {
		error = ferry_error_set(FERRY_EINVALID,
					"'%s' is not a minisign key file", path);
		goto done;
	}
	line++;
	end = line + strcspn(line, "\r\n");
	if (sodium_base642bin(raw, len, line, (size_t)(end - line), NULL,
			      &binlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    binlen != len) {
		error = ferry_error_set(FERRY_EINVALID,
					"'%s' does not hold a key of the expected kind",
					path);
		goto done;
	}
	if (memcmp(raw, "Ed", 2) != 0)
		error = ferry_error_set(FERRY_EUNSUPPORTED,
					"'%s': unsupported signature algorithm",
					path);
done:
	if (text.ptr)
		sodium_memzero(text.ptr, text.size);
	ferry_buf_dispose(&text);
	return error;
}

int ferry_pubkey_load(ferry_pubkey **out, const char *path)
{
	unsigned char raw[PUB_RAW_LEN];
	ferry_pubkey *key;
	int error;

	if ((error = sodium_ready()) < 0 ||
	    (error = read_key_file(path, raw, sizeof(raw))) < 0)
		return error;
	if (!(key = calloc(1, sizeof(*key))))
		return ferry_error_oom();
	memcpy(key->keynum, raw + 2, FERRY_KEYNUM_BYTES);
	memcpy(key->pk, raw + 2 + FERRY_KEYNUM_BYTES, 32);
	ferry_keynum__format(key->id, key->keynum);
	*out = key;
	return 0;
}

void ferry_pubkey_free(ferry_pubkey *key)
{
	free(key);
}

const char *ferry_pubkey_id(const ferry_pubkey *key)
{
	return key->id;
}

static int check_key_pair(const unsigned char sk[64], const char *path)
{
	unsigned char pk[32], *derived = sodium_malloc(64);
	int ok;

	if (!derived)
		return ferry_error_oom();
	ok = crypto_sign_seed_keypair(pk, derived, sk) == 0 &&
	     sodium_memcmp(pk, sk + 32, 32) == 0;
	sodium_free(derived);
	if (!ok)
		return ferry_error_set(FERRY_ECORRUPT,
				       "'%s': secret key is damaged (its public "
				       "half does not match its seed)", path);
	return 0;
}

int ferry_key_load(ferry_key **out, const char *path)
{
	unsigned char *raw = NULL, chk[32], *p;
	ferry_key *key = NULL;
	int error;

	if ((error = sodium_ready()) < 0)
		return error;
	if (!(raw = sodium_malloc(SEC_RAW_LEN)))
		return ferry_error_oom();
	if ((error = read_key_file(path, raw, SEC_RAW_LEN)) < 0)
		goto done;
	if (raw[2] != 0 || raw[3] != 0) {
		error = ferry_error_set(FERRY_EUNSUPPORTED,
					"'%s' is password-protected; ferry needs an "
					"unencrypted key (minisign -G -W, or ferry keygen)",
					path);
		goto done;
	}
	if (memcmp(raw + 4, "B2", 2) != 0) {
		error = ferry_error_set(FERRY_EUNSUPPORTED,
					"'%s': unsupported checksum algorithm", path);
		goto done;
	}
	p = raw + 2 + 2 + 2 + 32 + 8 + 8;
	/* minisign leaves the checksum of an unencrypted key zero (it checks it
	 * only after decrypting); a key that carries one must match it. */
	seckey_checksum(chk, p, p + FERRY_KEYNUM_BYTES);
	if (!sodium_is_zero(p + FERRY_KEYNUM_BYTES + 64, 32) &&
	    sodium_memcmp(chk, p + FERRY_KEYNUM_BYTES + 64, 32) != 0) {
		error = ferry_error_set(FERRY_ECORRUPT,
					"'%s': secret key checksum mismatch", path);
		goto done;
	}
	/* Either way the key must be whole: its public half must be the one
	 * its seed derives. */
	if ((error = check_key_pair(p + FERRY_KEYNUM_BYTES, path)) < 0)
		goto done;
	if (!(key = calloc(1, sizeof(*key))) || !(key->sk = sodium_malloc(64))) {
		error = ferry_error_oom();
		goto done;
	}
	memcpy(key->sk, p + FERRY_KEYNUM_BYTES, 64);
	memcpy(key->pub.keynum, p, FERRY_KEYNUM_BYTES);
	crypto_sign_ed25519_sk_to_pk(key->pub.pk, key->sk);
	ferry_keynum__format(key->pub.id, key->pub.keynum);
	*out = key;
	key = NULL;
done:
	ferry_key_free(key);
	sodium_free(raw);
	return error;
}

void ferry_key_free(ferry_key *key)
{
	if (!key)
		return;
	sodium_free(key->sk);
	free(key);
}

const ferry_pubkey *ferry_key_public(const ferry_key *key)
{
	return &key->pub;
}

int ferry_key__sign(unsigned char sig[64], const ferry_key *key,
		    const void *data, size_t len)
{
	if (crypto_sign_detached(sig, NULL, data, len, key->sk) != 0)
		return ferry_error_set(FERRY_ERROR, "signing failed");
	return 0;
}

int ferry_pubkey__verify(const ferry_pubkey *key, const unsigned char sig[64],
			 const void *data, size_t len)
{
	return crypto_sign_verify_detached(sig, data, len, key->pk) == 0
		       ? 0
		       : FERRY_EVERIFY;
}

int ferry_pubkey_from_base64(ferry_pubkey **out, const char *b64)
{
	unsigned char raw[PUB_RAW_LEN];
	size_t binlen = 0;
	ferry_pubkey *key;
	int error;

	if ((error = sodium_ready()) < 0)
		return error;
	if (sodium_base642bin(raw, sizeof(raw), b64, strlen(b64), NULL, &binlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    binlen != sizeof(raw) || memcmp(raw, "Ed", 2) != 0)
		return ferry_error_set(FERRY_EINVALID, "malformed public key '%.60s'", b64);
	if (!(key = calloc(1, sizeof(*key))))
		return ferry_error_oom();
	memcpy(key->keynum, raw + 2, FERRY_KEYNUM_BYTES);
	memcpy(key->pk, raw + 2 + FERRY_KEYNUM_BYTES, 32);
	ferry_keynum__format(key->id, key->keynum);
	*out = key;
	return 0;
}

void ferry_pubkey_to_base64(char out[64], const ferry_pubkey *key)
{
	unsigned char raw[PUB_RAW_LEN];

	memcpy(raw, "Ed", 2);
	memcpy(raw + 2, key->keynum, FERRY_KEYNUM_BYTES);
	memcpy(raw + 2 + FERRY_KEYNUM_BYTES, key->pk, 32);
	sodium_bin2base64(out, 64, raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
}
