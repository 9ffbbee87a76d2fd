/*
 * Streaming SHA-256 on OpenSSL's EVP interface (which uses the CPU's SHA
 * extensions where present), as lowercase hex. The "sha256:<hex>" digest
 * grammar is OCI's and lives in oci/digest.h.
 */
#ifndef FERRY_CORE_HASH_H
#define FERRY_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_SHA256_HEX_LEN 64

typedef struct ferry_sha256 ferry_sha256;

/** Start a hash; FERRY_ENOMEM on failure. Free with ferry_sha256_free(). */
int ferry_sha256_new(ferry_sha256 **out);
int ferry_sha256_update(ferry_sha256 *h, const void *data, size_t len);
/** Finish into 64 lowercase hex digits plus NUL; the hash restarts. */
int ferry_sha256_final_hex(ferry_sha256 *h, char out[FERRY_SHA256_HEX_LEN + 1]);
void ferry_sha256_free(ferry_sha256 *h);

/** One-shot hash of a memory range. */
int ferry_sha256_hex(char out[FERRY_SHA256_HEX_LEN + 1], const void *data,
		     size_t len);

/**
 * Hash the file at `path` in 1 MiB reads into `out`; its length into
 * `*size` when `size` is not NULL. FERRY_EIO names the file.
 */
int ferry_sha256_file(char out[FERRY_SHA256_HEX_LEN + 1], uint64_t *size,
		      const char *path);

/** Nonzero when `hex` is exactly 64 lowercase hex digits. */
int ferry_sha256_hex_valid(const char *hex);

#endif
