/*
 * minisign-compatible detached signatures (see minisig.h). The file hash is
 * computed by the caller while it writes the file, so signing never reads
 * a bundle a second time; ferry_minisig_sign_file() reads a file written by
 * others once.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
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
	unsigned char sig_raw[2 + FERRY_KEYNUM_BYTES + 64], global[64];
	ferry_buf text = FERRY_BUF_INIT, signed_part = FERRY_BUF_INIT;
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
	if ((error = ferry_buf_printf(&text,
				      "untrusted comment: signature from ferry key %s\n",
				      key->pub.id)) < 0 ||
	    (error = put_base64(&text, sig_raw, sizeof(sig_raw))) < 0 ||
	    (error = ferry_buf_printf(&text, "trusted comment: %s\n",
				      trusted_comment)) < 0 ||
	    (error = put_base64(&text, global, sizeof(global))) < 0)
		goto done;
	remove(sig_path);
	error = ferry_fs_write_atomic(sig_path, text.ptr, text.size, 0644);
done:
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&signed_part);
	return error;
}

int ferry_minisig_sign_file(const char *sig_path, const ferry_key *key, const char *path,
			    const char *trusted_comment)
{
	unsigned char hash[FERRY_MINISIG_HASH_BYTES], buf[65536];
	crypto_generichash_state st;
	ssize_t n;
	int fd, error = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ferry_error_set_errno(errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
					     "cannot open '%s'", path);
	crypto_generichash_init(&st, NULL, 0, FERRY_MINISIG_HASH_BYTES);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", path);
			break;
		}
		crypto_generichash_update(&st, buf, (size_t)n);
	}
	close(fd);
	if (error < 0)
		return error;
	crypto_generichash_final(&st, hash, sizeof(hash));
	return ferry_minisig_write(sig_path, key, hash, trusted_comment);
}
