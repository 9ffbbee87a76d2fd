/*
 * A misbehaving OCI registry for ferry's tests (libmicrohttpd). It listens
 * on 127.0.0.1 (an ephemeral port, printed on stdout) and answers the pull
 * API with one misbehaviour per repository name:
 *
 *   wrongdigest  any manifest asked by digest comes back with other bytes
 *   badheader    a manifest whose Docker-Content-Digest header lies
 *   bigmanifest  a 5 MiB manifest
 *   endless      a layer blob whose body never ends
 *   badblob      a layer blob with the right size and the wrong bytes
 *   redirect     manifests redirect to the same port on "localhost"
 *   malformed    a manifest that is not valid JSON
 *   unknowntype  a manifest with an unknown media type
 *   token        a well-behaved image behind a Bearer token (realm /token)
 *   flaky        the layer blob breaks off half way once, then honours Range
 *   good         a well-behaved image
 *
 * Each request is logged on stderr ("GET /v2/... range=...").
 *   usage: evil-registry
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "hash.h"

#define LAYER_SIZE (256 * 1024)

static char layer[LAYER_SIZE];
static char layer_hex[FERRY_SHA256_HEX_LEN + 1];
static const char config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
static char config_hex[FERRY_SHA256_HEX_LEN + 1];
static char manifest[1024];
static char manifest_hex[FERRY_SHA256_HEX_LEN + 1];
static unsigned port;
static int flaky_broken;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, const void *body, size_t len,
			     const char *h1, const char *v1)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (type)
		MHD_add_response_header(r, "Content-Type", type);
	if (h1)
		MHD_add_response_header(r, h1, v1);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Endless body: the same bytes forever. */
static ssize_t endless_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	memset(buf, 'x', max);
	return (ssize_t)max;
}

/* Half the layer, then the connection breaks. */
static ssize_t half_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= LAYER_SIZE / 2)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (max > LAYER_SIZE / 2 - pos)
		max = LAYER_SIZE / 2 - pos;
	memcpy(buf, layer + pos, max);
	return (ssize_t)max;
}

static enum MHD_Result serve_manifest(struct MHD_Connection *c, const char *repo,
				      const char *ref)
{
	static const char mt[] = "application/vnd.oci.image.manifest.v1+json";
	char digest[80];

	snprintf(digest, sizeof(digest), "sha256:%s", manifest_hex);
	if (!strcmp(repo, "wrongdigest"))
		return reply(c, 200, mt, manifest, strlen(manifest), NULL, NULL);
	if (!strcmp(repo, "badheader"))
		return reply(c, 200, mt, manifest, strlen(manifest), "Docker-Content-Digest",
			     "sha256:1111111111111111111111111111111111111111111111111111111111111111");
	if (!strcmp(repo, "bigmanifest")) {
		size_t n = 5u << 20;
		char *big = malloc(n);
		enum MHD_Result ret;

		memset(big, ' ', n);
		big[0] = '{';
		big[n - 1] = '}';
		ret = reply(c, 200, mt, big, n, NULL, NULL);
		free(big);
		return ret;
	}
	if (!strcmp(repo, "redirect")) {
		char loc[256];

		snprintf(loc, sizeof(loc), "http://localhost:%u/v2/good/manifests/%s", port, ref);
		return reply(c, 307, NULL, "", 0, "Location", loc);
	}
	if (!strcmp(repo, "malformed"))
		return reply(c, 200, mt, "{\"schemaVersion\": 2, ", 21, NULL, NULL);
	if (!strcmp(repo, "unknowntype")) {
		static const char odd[] = "{\"schemaVersion\":2,\"mediaType\":"
					  "\"application/vnd.example.thing+json\"}";
		return reply(c, 200, "application/vnd.example.thing+json", odd,
			     strlen(odd), NULL, NULL);
	}
	if (strncmp(ref, "sha256:", 7) && strcmp(ref, "v1"))
		return reply(c, 404, "application/json", "{\"errors\":[]}", 13, NULL, NULL);
	if (!strncmp(ref, "sha256:", 7) && strcmp(ref, digest))
		return reply(c, 404, "application/json", "{\"errors\":[]}", 13, NULL, NULL);
	return reply(c, 200, mt, manifest, strlen(manifest), "Docker-Content-Digest", digest);
}

static enum MHD_Result serve_blob(struct MHD_Connection *c, const char *repo,
				  const char *digest)
{
	const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!strcmp(digest + 7, config_hex))
		return reply(c, 200, "application/octet-stream", config, strlen(config),
			     NULL, NULL);
	if (strcmp(digest + 7, layer_hex))
		return reply(c, 404, "application/json", "{\"errors\":[]}", 13, NULL, NULL);
	if (!strcmp(repo, "endless")) {
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536,
						      endless_reader, NULL, NULL);
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(repo, "badblob")) {
		char *bad = malloc(LAYER_SIZE);

		memcpy(bad, layer, LAYER_SIZE);
		bad[LAYER_SIZE / 2] ^= 1;
		ret = reply(c, 200, "application/octet-stream", bad, LAYER_SIZE, NULL, NULL);
		free(bad);
		return ret;
	}
	if (!strcmp(repo, "flaky")) {
		unsigned long from;

		if (!flaky_broken) {
			flaky_broken = 1;
			r = MHD_create_response_from_callback(LAYER_SIZE, 4096, half_reader,
							      NULL, NULL);
			ret = MHD_queue_response(c, 200, r);
			MHD_destroy_response(r);
			return ret;
		}
		if (range && sscanf(range, "bytes=%lu-", &from) == 1 && from < LAYER_SIZE) {
			char cr[96];

			snprintf(cr, sizeof(cr), "bytes %lu-%d/%d", from, LAYER_SIZE - 1,
				 LAYER_SIZE);
			return reply(c, 206, "application/octet-stream", layer + from,
				     LAYER_SIZE - from, "Content-Range", cr);
		}
	}
	return reply(c, 200, "application/octet-stream", layer, LAYER_SIZE, NULL, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version,
			      const char *upload, size_t *upload_size, void **state)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
	char repo[64], kind[16], ref[128];

	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	fprintf(stderr, "%s %s range=%s\n", method, url, range ? range : "-");
	if (!strcmp(url, "/v2/"))
		return reply(c, 200, "application/json", "{}", 2, NULL, NULL);
	if (!strcmp(url, "/token")) {
		const char *scope = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "scope");
		const char *service = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
								  "service");

		if (!scope || strcmp(scope, "repository:token:pull") || !service ||
		    strcmp(service, "evil"))
			return reply(c, 400, "application/json", "{}", 2, NULL, NULL);
		return reply(c, 200, "application/json", "{\"token\":\"good-token\"}", 22,
			     NULL, NULL);
	}
	if (sscanf(url, "/v2/%63[^/]/%15[^/]/%127s", repo, kind, ref) != 3)
		return reply(c, 404, "application/json", "{\"errors\":[]}", 13, NULL, NULL);
	if (!strcmp(repo, "token") && (!auth || strcmp(auth, "Bearer good-token"))) {
		char ch[256];

		snprintf(ch, sizeof(ch), "Bearer realm=\"http://127.0.0.1:%u/token\","
			 "service=\"evil\",scope=\"repository:token:pull\"", port);
		return reply(c, 401, "application/json", "{\"errors\":[]}", 13,
			     "WWW-Authenticate", ch);
	}
	if (!strcmp(kind, "manifests"))
		return serve_manifest(c, repo, ref);
	if (!strcmp(kind, "blobs"))
		return serve_blob(c, repo, ref);
	return reply(c, 404, "application/json", "{\"errors\":[]}", 13, NULL, NULL);
}

int main(void)
{
	struct sockaddr_in addr;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	size_t i;
	sigset_t set;
	int sig;

	for (i = 0; i < LAYER_SIZE; i++)
		layer[i] = (char)(i * 7 + i / 251);
	ferry_sha256_hex(layer_hex, layer, LAYER_SIZE);
	ferry_sha256_hex(config_hex, config, strlen(config));
	snprintf(manifest, sizeof(manifest),
		 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		 "\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:%s\","
		 "\"size\":%d}]}", config_hex, strlen(config), layer_hex, LAYER_SIZE);
	ferry_sha256_hex(manifest_hex, manifest, strlen(manifest));

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
			     NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
			     MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "evil-registry: cannot start\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	port = info->port;
	printf("%u\n", port);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
