/*
 * The site's TLS material: a local certificate authority and the mirror's
 * server certificate it signs, as PEM text. OpenSSL stays inside tls.c;
 * callers see PEM buffers and ferry errors.
 */
#ifndef FERRY_SITE_TLS_H
#define FERRY_SITE_TLS_H

#include <stddef.h>

#include "buf.h"

/** Days a certificate is valid: the CA, the mirror's certificate. */
#define FERRY_SITE_CA_DAYS 3650
#define FERRY_SITE_SERVER_DAYS 825

/**
 * Make a self-signed CA (P-256 key, CA:TRUE, keyCertSign) named `cn`: its
 * certificate and its PKCS#8 key, appended to `cert` and `key` (the key's
 * buffer holds a secret: dispose of it with ferry_site_tls_wipe()).
 * FERRY_EINVALID when OpenSSL refuses.
 */
int ferry_site_tls_make_ca(ferry_buf *cert, ferry_buf *key, const char *cn);

/**
 * Make a server certificate signed by the CA (`ca_cert`, `ca_key`: PEM)
 * for `names` (each a host name or an IPv4/IPv6 address, made a DNS or IP
 * subject alternative name; the first is also the common name), with a new
 * P-256 key. Appends to `cert` and `key`. FERRY_EINVALID for unreadable CA
 * files or a name OpenSSL refuses.
 */
int ferry_site_tls_make_server(ferry_buf *cert, ferry_buf *key, const char *ca_cert,
			       const char *ca_key, const char *const *names, size_t nnames);

/** The subject alternative names of a PEM certificate, as
 *  "DNS:a, IP Address:1.2.3.4" into `out`. FERRY_EINVALID. */
int ferry_site_tls_names(ferry_buf *out, const char *cert);

/** The first subject alternative name of a PEM certificate (a host name or
 *  an address, without its "DNS:" or "IP:") into `out`; FERRY_ENOTFOUND
 *  when it has none, FERRY_EINVALID. */
int ferry_site_tls_first_name(ferry_buf *out, const char *cert);

/** Zero a buffer that held a secret, then dispose of it. */
void ferry_site_tls_wipe(ferry_buf *b);

#endif
