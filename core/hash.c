/*
 * SHA-256 through OpenSSL EVP. One context per stream; no global state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ferry/errors.h"
#include "hash.h"
#include "banned.h"

struct ferry_sha256 {
	EVP_MD_CTX *ctx;
};

int ferry_sha256_new(ferry_sha256 **out)
{
	ferry_sha256 *h = calloc(1, sizeof(*h));

	if (!h || !(h->ctx = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		ferry_sha256_free(h);
		return ferry_error_set(FERRY_ENOMEM, "cannot start sha256");
	}
	*out = h;
	return 0;
}

int ferry_sha256_update(ferry_sha256 *h, const void *data, size_t len)
{
	if (EVP_DigestUpdate(h->ctx, data, len) != 1)
		return ferry_error_set(FERRY_ERROR, "sha256 update failed");
	return 0;
}

int ferry_sha256_final_hex(ferry_sha256 *h, char out[FERRY_SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int len = 0, i;

	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1 || len != 32 ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		return ferry_error_set(FERRY_ERROR, "sha256 final failed");
	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

void ferry_sha256_free(ferry_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int ferry_sha256_hex(char out[FERRY_SHA256_HEX_LEN + 1], const void *data,
		     size_t len)
{
	ferry_sha256 *h = NULL;
	int error;

	if ((error = ferry_sha256_new(&h)) < 0)
		return error;
	if ((error = ferry_sha256_update(h, data, len)) == 0)
		error = ferry_sha256_final_hex(h, out);
	ferry_sha256_free(h);
	return error;
}

int ferry_sha256_file(char out[FERRY_SHA256_HEX_LEN + 1], uint64_t *size,
		      const char *path)
{
	enum { CHUNK = 1 << 20 };
	ferry_sha256 *h = NULL;
	unsigned char *buf = malloc(CHUNK);
	uint64_t total = 0;
	int fd = -1, error = 0;

	if (!buf || (error = ferry_sha256_new(&h)) < 0) {
		error = error ? error : ferry_error_oom();
		goto done;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", path);
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", path);
			goto done;
		}
		if (n == 0)
			break;
		if ((error = ferry_sha256_update(h, buf, (size_t)n)) < 0)
			goto done;
		total += (uint64_t)n;
	}
	if ((error = ferry_sha256_final_hex(h, out)) == 0 && size)
		*size = total;
done:
	if (fd >= 0)
		close(fd);
	ferry_sha256_free(h);
	free(buf);
	return error;
}

int ferry_sha256_hex_valid(const char *hex)
{
	size_t i;

	for (i = 0; i < FERRY_SHA256_HEX_LEN; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		      (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	return hex[i] == '\0';
}
