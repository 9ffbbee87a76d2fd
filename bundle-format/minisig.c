/*
 * minisign-compatible detached signatures (see minisig.h). The file hash is
 * computed by the caller while it writes the file, so signing never reads
 * a bundle a second time; checking a signature that arrived beside a file
 * (the inbox) hashes the file once, with its SHA-256 in the same read.
 * ferry_minisig_sign_file() signs a file written by others, read once.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "key.h"
#include "minisig.h"
#include "banned.h"

static int put_base64(ferry_buf *out, const unsigned char *raw, size_t len)
{
	char b64[256];

	sodium_bin2base64(b64, sizeof(b64), raw, len,
			  sodium_base64_VARIANT_ORIGINAL);
	return ferry_buf_printf(out, "%s\n", b64);
}

int ferry_minisig_write(const char *sig_path, const ferry_key *key,
			const unsigned char hash[FERRY_MINISIG_HASH_BYTES],
			const char *trusted_comment)
{
	ferry_buf text = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_minisig_text(&text, key, hash, trusted_comment)) == 0) {
		remove(sig_path);
		error = ferry_fs_write_atomic(sig_path, text.ptr, text.size, 0644);
	}
	ferry_buf_dispose(&text);
	return error;
}

int ferry_minisig_text(ferry_buf *text, const ferry_key *key,
		       const unsigned char hash[FERRY_MINISIG_HASH_BYTES],
		       const char *trusted_comment)
{
	unsigned char sig_raw[2 + FERRY_KEYNUM_BYTES + 64], global[64];
	ferry_buf signed_part = FERRY_BUF_INIT;
	unsigned char *sig = sig_raw + 2 + FERRY_KEYNUM_BYTES;
	int error;

	if (strchr(trusted_comment, '\n') || strchr(trusted_comment, '\r'))
		return ferry_error_set(FERRY_EINVALID,
				       "trusted comment must be one line");
	memcpy(sig_raw, "ED", 2);
	memcpy(sig_raw + 2, key->pub.keynum, FERRY_KEYNUM_BYTES);
	if ((error = ferry_key__sign(sig, key, hash, FERRY_MINISIG_HASH_BYTES)) < 0)
		goto done;
	/* The global signature covers the signature and the trusted comment. */
	if ((error = ferry_buf_put(&signed_part, sig, 64)) < 0 ||
	    (error = ferry_buf_puts(&signed_part, trusted_comment)) < 0 ||
	    (error = ferry_key__sign(global, key, signed_part.ptr,
				     signed_part.size)) < 0)
		goto done;
	if ((error = ferry_buf_printf(text,
				      "untrusted comment: signature from ferry key %s\n",
				      key->pub.id)) < 0 ||
	    (error = put_base64(text, sig_raw, sizeof(sig_raw))) < 0 ||
	    (error = ferry_buf_printf(text, "trusted comment: %s\n",
				      trusted_comment)) < 0)
		goto done;
	error = put_base64(text, global, sizeof(global));
done:
	ferry_buf_dispose(&signed_part);
	return error;
}

int ferry_minisig_hash_file(unsigned char hash[FERRY_MINISIG_HASH_BYTES],
			    char *sha256_hex, const char *path)
{
	crypto_generichash_state st;
	ferry_sha256 *sha = NULL;
	unsigned char buf[65536];
	ssize_t n;
	int fd, error = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ferry_error_set(errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
				       "cannot open '%s': %s", path, strerror(errno));
	if (sha256_hex && (error = ferry_sha256_new(&sha)) < 0)
		goto done;
	crypto_generichash_init(&st, NULL, 0, FERRY_MINISIG_HASH_BYTES);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = ferry_error_set(FERRY_EIO, "cannot read '%s': %s", path,
						strerror(errno));
			goto done;
		}
		crypto_generichash_update(&st, buf, (size_t)n);
		if (sha && (error = ferry_sha256_update(sha, buf, (size_t)n)) < 0)
			goto done;
	}
	crypto_generichash_final(&st, hash, FERRY_MINISIG_HASH_BYTES);
	if (sha)
		error = ferry_sha256_final_hex(sha, sha256_hex);
done:
	ferry_sha256_free(sha);
	close(fd);
	return error;
}

/* Decode one base64 line of exactly `len` bytes. */
static int get_base64(unsigned char *raw, size_t len, const char *line, size_t linelen)
{
	size_t got = 0;

	if (sodium_base642bin(raw, len, line, linelen, NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || got != len)
		return -1;
	return 0;
}

int ferry_minisig_verify(const char *sig_path,
			 const unsigned char hash[FERRY_MINISIG_HASH_BYTES],
			 const ferry_trust *trust)
{
	unsigned char sig_raw[2 + FERRY_KEYNUM_BYTES + 64], global[64];
	ferry_buf text = FERRY_BUF_INIT, signed_part = FERRY_BUF_INIT;
	const char *line[4], *comment;
	size_t len[4], i, k = 0;
	const ferry_pubkey *key = NULL;
	char *p;
	int error;

	if ((error = ferry_fs_read_file(&text, sig_path, 4096)) < 0)
		return error;
	/* Four lines: untrusted comment, signature, trusted comment, global
	 * signature. */
	for (p = text.ptr, i = 0; i < 4 && p && *p; i++) {
		char *nl = strchr(p, '\n');

		line[i] = p;
		len[i] = nl ? (size_t)(nl - p) : strlen(p);
		if (len[i] && p[len[i] - 1] == '\r')
			len[i]--;
		p = nl ? nl + 1 : NULL;
	}
	comment = "trusted comment: ";
	if (i < 4 || len[0] < 19 || strncmp(line[0], "untrusted comment: ", 19) ||
	    get_base64(sig_raw, sizeof(sig_raw), line[1], len[1]) < 0 ||
	    len[2] < strlen(comment) || strncmp(line[2], comment, strlen(comment)) ||
	    get_base64(global, sizeof(global), line[3], len[3]) < 0) {
		error = ferry_error_set(FERRY_EINVALID, "'%s' is not a minisign signature",
					sig_path);
		goto done;
	}
	if (memcmp(sig_raw, "ED", 2)) {
		error = ferry_error_set(FERRY_EUNSUPPORTED, "'%s' is not a pre-hashed (ED) "
					"minisign signature", sig_path);
		goto done;
	}
	for (k = 0; trust && k < trust->nkeys && !key; k++)
		if (!memcmp(trust->keys[k]->keynum, sig_raw + 2, FERRY_KEYNUM_BYTES))
			key = trust->keys[k];
	if (!key) {
		char id[FERRY_KEYID_LEN + 1];

		ferry_keynum__format(id, sig_raw + 2);
		error = ferry_error_set(FERRY_EVERIFY, "'%s' is signed by key %s, which is not "
					"trusted", sig_path, id);
		goto done;
	}
	if ((error = ferry_buf_put(&signed_part, sig_raw + 2 + FERRY_KEYNUM_BYTES, 64)) < 0 ||
	    (error = ferry_buf_put(&signed_part, line[2] + strlen(comment),
				   len[2] - strlen(comment))) < 0)
		goto done;
	if (ferry_pubkey__verify(key, sig_raw + 2 + FERRY_KEYNUM_BYTES, hash,
				 FERRY_MINISIG_HASH_BYTES) < 0 ||
	    ferry_pubkey__verify(key, global, signed_part.ptr, signed_part.size) < 0)
		error = ferry_error_set(FERRY_EVERIFY, "'%s' does not match the file it signs",
					sig_path);
done:
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&signed_part);
	return error;
}

int ferry_minisig_sign_file(const char *sig_path, const ferry_key *key, const char *path,
			    const char *trusted_comment)
{
	unsigned char hash[FERRY_MINISIG_HASH_BYTES];
	int error;

	if ((error = ferry_minisig_hash_file(hash, NULL, path)) < 0)
		return error;
	return ferry_minisig_write(sig_path, key, hash, trusted_comment);
}
