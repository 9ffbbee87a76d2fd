/*
 * Server settings (httpd_conf.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ferry/errors.h"
#include <sodium.h>

#include "fs.h"
#include "httpd_conf.h"
#include "util.h"
#include "banned.h"

int ferry_httpd_parse_listen(struct sockaddr_in *sa, const char *listen, const char *what)
{
	const char *colon = strrchr(listen, ':');
	char host[64];
	uint64_t port;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (!colon || (size_t)(colon - listen) >= sizeof(host) ||
	    ferry_parse_u64(&port, colon + 1) < 0 || port > 65535)
		return ferry_error_set(FERRY_EINVALID, "%s wants ADDR:PORT, not '%s'", what, listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return ferry_error_set(FERRY_EINVALID, "'%s' is not an IPv4 address", host);
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

void ferry_httpd_client_address(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, len, "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)len);
}

int ferry_httpd_tls_load(ferry_buf *cert, ferry_buf *key, const char *cert_path,
			 const char *key_path)
{
	int error;

	if ((error = ferry_fs_read_file(cert, cert_path, 1u << 20)) < 0)
		return error;
	return ferry_fs_read_file(key, key_path, 1u << 20);
}

void ferry_httpd_tls_dispose(ferry_buf *cert, ferry_buf *key)
{
	if (key->ptr)
		sodium_memzero(key->ptr, key->size);
	ferry_buf_dispose(key);
	ferry_buf_dispose(cert);
}
