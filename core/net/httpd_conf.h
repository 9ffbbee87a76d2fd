/*
 * What ferry's HTTP servers (the mirror, the reconciler's webhook, the
 * console) are set up with: the "ADDR:PORT" they listen on, their TLS
 * certificate and key, and the address of the client a request comes from,
 * for limits and logs.
 */
#ifndef FERRY_CORE_NET_HTTPD_CONF_H
#define FERRY_CORE_NET_HTTPD_CONF_H

#include <netinet/in.h>
#include <stddef.h>

#include <microhttpd.h>

#include "buf.h"

/**
 * Read `listen`, "A.B.C.D:PORT" (port 0 picks a free one), into `*sa`.
 * FERRY_EINVALID with a message naming `what` (the option or key that gave
 * it, as "--listen") when it is not that.
 */
int ferry_httpd_parse_listen(struct sockaddr_in *sa, const char *listen, const char *what);

/**
 * Read the PEM files `cert_path` and `key_path` (at most 1 MiB each) into
 * `cert` and `key` for MHD_OPTION_HTTPS_MEM_CERT and _KEY. Errors of
 * reading a file; release both with ferry_httpd_tls_dispose, also then.
 */
int ferry_httpd_tls_load(ferry_buf *cert, ferry_buf *key, const char *cert_path,
			 const char *key_path);
/** Free what ferry_httpd_tls_load read, wiping the key. */
void ferry_httpd_tls_dispose(ferry_buf *cert, ferry_buf *key);

/** The address of the client of `c` as text into `out` (`len` bytes with
 *  the NUL), or "unknown". */
void ferry_httpd_client_address(struct MHD_Connection *c, char *out, size_t len);

#endif
