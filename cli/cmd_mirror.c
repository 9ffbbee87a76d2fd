/*
 * ferry mirror serve: serve the enclave store to container runtimes and
 * clients until SIGINT or SIGTERM. ferry mirror node-config: print (or
 * write) the registries.conf and containerd hosts.toml that make nodes
 * pull from the mirror.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fs.h"
#include "http.h"
#include "mirror.h"
#include "node_config.h"
#include "store.h"
#include "strv.h"
#include "util.h"
#include "banned.h"

enum {
	OPT_STORE = 1, OPT_LISTEN, OPT_PORT_FILE, OPT_TLS_CERT, OPT_TLS_KEY, OPT_HTPASSWD,
	OPT_ACCESS_LOG, OPT_THREADS, OPT_MAX_CONNECTIONS, OPT_MAX_PER_CLIENT,
	OPT_IDLE_TIMEOUT, OPT_MAX_HEADER_BYTES, OPT_RATE, OPT_MAX_PACK_BUILDS,
	OPT_PACK_QUEUE_TIMEOUT, OPT_HEADER_TIMEOUT, OPT_BODY_TIMEOUT,
};

static const cli_option serve_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ "listen", 0, "ADDR:PORT", "IPv4 address and port; port 0 picks a free one",
	  OPT_LISTEN },
	{ "port-file", 0, "FILE", "write the port listened on to FILE", OPT_PORT_FILE },
	{ "tls-cert", 0, "PEM", "serve HTTPS with this certificate (and --tls-key)",
	  OPT_TLS_CERT },
	{ "tls-key", 0, "PEM", "the private key of --tls-cert", OPT_TLS_KEY },
	{ "htpasswd", 0, "FILE", "require Basic auth: user:hash lines (bcrypt or "
	  "argon2id); /healthz and /readyz stay open", OPT_HTPASSWD },
	{ "access-log", 0, "FILE", "JSON lines, one per request ('-': stdout)",
	  OPT_ACCESS_LOG },
	{ "threads", 0, "N", "worker threads (default 4)", OPT_THREADS },
	{ "max-connections", 0, "N", "connections at once (default 512)",
	  OPT_MAX_CONNECTIONS },
	{ "max-per-client", 0, "N", "connections at once from one address (default 64)",
	  OPT_MAX_PER_CLIENT },
	{ "idle-timeout", 0, "SECONDS", "close connections idle for SECONDS (default 30)",
	  OPT_IDLE_TIMEOUT },
	{ "max-header-bytes", 0, "N", "request line and headers (default 16384)",
	  OPT_MAX_HEADER_BYTES },
	{ "rate", 0, "N", "requests per second per address (default: no limit)", OPT_RATE },
	{ "max-pack-builds", 0, "N", "git packs built at once (default 2)",
	  OPT_MAX_PACK_BUILDS },
	{ "pack-queue-timeout", 0, "SECONDS", "how long a git fetch waits for a pack "
	  "build before a 503 (default 30)", OPT_PACK_QUEUE_TIMEOUT },
	{ "header-timeout", 0, "SECONDS", "time to send a request line and headers, "
	  "however slowly (default 10)", OPT_HEADER_TIMEOUT },
	{ "body-timeout", 0, "SECONDS", "time to send a request body (default 30)",
	  OPT_BODY_TIMEOUT },
	CLI_OPTIONS_END
};

static int mirror_serve(int argc, char **argv, cli_args *parent);

static const cli_command serve_command = {
	.name = "mirror serve",
	.summary = "serve the store until SIGINT or SIGTERM",
	.synopsis = "[--store DIR] --listen ADDR:PORT [--port-file FILE] "
		    "[--tls-cert PEM --tls-key PEM] [--htpasswd FILE] [--access-log FILE|-] "
		    "[--threads N] [--max-connections N] [--max-per-client N] "
		    "[--idle-timeout SECONDS] [--header-timeout SECONDS] "
		    "[--body-timeout SECONDS] [--max-header-bytes N] [--rate N] "
		    "[--max-pack-builds N] [--pack-queue-timeout SECONDS]",
	.description =
		"Serve the store read-only over HTTP: the OCI distribution pull API\n"
		"(/v2/: manifests, blobs with Range, tags/list, _catalog, referrers),\n"
		"/healthz, /readyz and Prometheus /metrics. Safe while an import\n"
		"publishes: a pull sees the old or the new tags, never a half state.",
	.options = serve_options,
	.run = mirror_serve,
};
enum { OPT_NC_STORE = 1, OPT_NC_URL, OPT_NC_REGISTRY, OPT_NC_CA, OPT_NC_OUT };

static const cli_option node_config_options[] = {
	CLI_OPTION_STORE(OPT_NC_STORE),
	{ "url", 0, "URL", "where nodes reach the mirror: http://HOST:PORT or "
	  "https://HOST:PORT", OPT_NC_URL },
	{ "registry", 0, "NAME", "an upstream registry host to pull through the mirror "
	  "besides those the store's names keep (repeatable)", OPT_NC_REGISTRY },
	{ "ca", 0, "FILE", "the CA file containerd checks the mirror's certificate with "
	  "(a path on the node)", OPT_NC_CA },
	{ "out", 0, "DIR", "write DIR/registries.conf and DIR/certs.d/HOST/hosts.toml "
	  "instead of printing", OPT_NC_OUT },
	CLI_OPTIONS_END
};

static int mirror_node_config(int argc, char **argv, cli_args *parent);

static const cli_command node_config_command = {
	.name = "mirror node-config",
	.summary = "print the configuration that makes container runtimes pull from the mirror",
	.synopsis = "--url URL [--store DIR] [--registry NAME]... [--ca FILE] [--out DIR]",
	.description =
		"Print a containers-registries.conf(5) drop-in (podman, CRI-O, skopeo)\n"
		"and one containerd hosts.toml for the mirror and for each upstream\n"
		"registry host the store's names keep (\"quay.io/org/app\" is served as\n"
		"/v2/quay.io/org/app): containerd's points at the mirror's /v2/HOST\n"
		"with override_path = true. No seed target is needed.",
	.options = node_config_options,
	.run = mirror_node_config,
};
static const cli_command *const mirror_subcommands[] = { &serve_command,
							  &node_config_command, NULL };
static const cli_command mirror_command = {
	.name = "mirror",
	.description = "Serve the enclave store to container runtimes and clients.",
	.subcommands = mirror_subcommands,
};

static int number(unsigned *out, const char *s)
{
	uint64_t v;

	if (ferry_parse_u64(&v, s) < 0 || v > 1000000000)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int cmd_mirror(int argc, char **argv)
{
	cli_args a;

	cli_args_init(&a, &mirror_command, argc, argv, NULL);
	return cli_args_next(&a) < 0 ? a.exit : cli_dispatch(&a);
}

static int mirror_serve(int argc, char **argv, cli_args *parent)
{
	ferry_mirror_options mo = FERRY_MIRROR_OPTIONS_INIT;
	ferry_mirror *m = NULL;
	const char *store = NULL, *port_file = NULL, *log = NULL;
	unsigned header = 0;
	sigset_t set;
	cli_args a;
	int id, error, rc = FERRY_EXIT_OK, bad = 0;

	cli_args_init(&a, &serve_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_STORE: store = a.value; break;
		case OPT_LISTEN: mo.listen = a.value; break;
		case OPT_PORT_FILE: port_file = a.value; break;
		case OPT_TLS_CERT: mo.tls_cert = a.value; break;
		case OPT_TLS_KEY: mo.tls_key = a.value; break;
		case OPT_HTPASSWD: mo.htpasswd = a.value; break;
		case OPT_ACCESS_LOG: log = a.value; break;
		case OPT_THREADS: bad |= number(&mo.threads, a.value); break;
		case OPT_MAX_CONNECTIONS: bad |= number(&mo.max_connections, a.value); break;
		case OPT_MAX_PER_CLIENT: bad |= number(&mo.max_per_client, a.value); break;
		case OPT_IDLE_TIMEOUT: bad |= number(&mo.idle_timeout, a.value); break;
		case OPT_MAX_HEADER_BYTES:
			bad |= number(&header, a.value);
			mo.max_header_bytes = header;
			break;
		case OPT_RATE: bad |= number(&mo.rate, a.value); break;
		case OPT_MAX_PACK_BUILDS: bad |= number(&mo.max_pack_builds, a.value); break;
		case OPT_PACK_QUEUE_TIMEOUT:
			bad |= number(&mo.pack_queue_timeout, a.value);
			break;
		case OPT_HEADER_TIMEOUT: bad |= number(&mo.header_timeout, a.value); break;
		case OPT_BODY_TIMEOUT: bad |= number(&mo.body_timeout, a.value); break;
		}
		if (bad)
			return cli_args_error(&a, "invalid number '%s'", a.value);
	}
	if (id < 0)
		return a.exit;
	if (!mo.listen)
		return cli_args_error(&a, "needs --listen ADDR:PORT");
	mo.store = cli_store_path(store);
	if (log && !(mo.access_log = cli_open_log("mirror", log)))
		return FERRY_EXIT_FAILURE;
	/* Block the stop signals before threads start, then wait for one. */
	cli_serve_block_signals(&set);
	if ((error = ferry_mirror_start(&m, &mo)) < 0) {
		rc = cli_fail("mirror", error);
		goto done;
	}
	rc = cli_serve_wait("mirror", &set, port_file, ferry_mirror_port(m), mo.store, mo.listen,
			    mo.tls_cert != NULL);
done:
	ferry_mirror_stop(m);
	cli_close_log(mo.access_log);
	return rc;
}

/* Print `text` under a line naming where it goes, or write it to DIR/`rel`. */
static int emit(const char *out_dir, const char *rel, const char *node_path,
		const ferry_buf *text)
{
	ferry_buf path = FERRY_BUF_INIT, dir = FERRY_BUF_INIT;
	int error = 0;

	if (!out_dir) {
		printf("# ==> %s <==\n%s\n", node_path, text->ptr);
		return 0;
	}
	if ((error = ferry_buf_printf(&path, "%s/%s", out_dir, rel)) < 0 ||
	    (error = ferry_buf_put(&dir, path.ptr, (size_t)(strrchr(path.ptr, '/') -
								path.ptr))) < 0 ||
	    (error = ferry_fs_mkdir_p(dir.ptr, 0755)) < 0 ||
	    (error = ferry_fs_write_output(path.ptr, text->ptr, text->size, 0644)) < 0)
		goto done;
	printf("wrote %s (%s)\n", path.ptr, node_path);
done:
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&dir);
	return error;
}

static int mirror_node_config(int argc, char **argv, cli_args *parent)
{
	ferry_mirror_node_options o = FERRY_MIRROR_NODE_OPTIONS_INIT;
	ferry_strv registries = FERRY_STRV_INIT;
	ferry_buf host = FERRY_BUF_INIT, text = FERRY_BUF_INIT, rel = FERRY_BUF_INIT;
	ferry_buf node = FERRY_BUF_INIT;
	ferry_store *st = NULL;
	const char *store = NULL, *url = NULL, *out_dir = NULL;
	cli_args a;
	size_t i;
	int id, error = 0, rc = FERRY_EXIT_OK;

	cli_args_init(&a, &node_config_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_NC_STORE: store = a.value; break;
		case OPT_NC_URL: url = a.value; break;
		case OPT_NC_CA: o.ca = a.value; break;
		case OPT_NC_OUT: out_dir = a.value; break;
		case OPT_NC_REGISTRY:
			error = ferry_mirror_node_registry_add(&registries, a.value,
							       strlen(a.value));
			break;
		}
		if (error < 0) {
			rc = cli_fail("mirror", error);
			goto done;
		}
	}
	if (id < 0) {
		rc = a.exit;
		goto done;
	}
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
		rc = cli_args_error(&a, "needs --url http://HOST:PORT or https://HOST:PORT");
		goto done;
	}
	o.plain_http = !strncmp(url, "http://", 7);
	if ((error = ferry_http_url_host(&host, url)) < 0 ||
	    (error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0 ||
	    (error = ferry_mirror_node_registries(&registries, st)) < 0) {
		rc = cli_fail("mirror", error);
		goto done;
	}
	ferry_mirror_node_registries_sort(&registries);
	o.mirror = host.ptr;
	o.registries = &registries;
	if ((error = ferry_mirror_node_registries_conf(&text, &o)) < 0 ||
	    (error = emit(out_dir, "registries.conf",
			  "/etc/containers/registries.conf.d/50-ferry-mirror.conf", &text)) < 0) {
		rc = cli_fail("mirror", error);
		goto done;
	}
	for (i = 0; i <= registries.n; i++) {
		const char *name = i ? registries.v[i - 1] : NULL;

		ferry_buf_clear(&text);
		ferry_buf_clear(&rel);
		ferry_buf_clear(&node);
		if ((error = ferry_mirror_node_hosts_toml(&text, &o, name)) < 0 ||
		    (error = ferry_buf_printf(&rel, "certs.d/%s/hosts.toml",
					      name ? name : host.ptr)) < 0 ||
		    (error = ferry_buf_printf(&node, "/etc/containerd/%s", rel.ptr)) < 0 ||
		    (error = emit(out_dir, rel.ptr, node.ptr, &text)) < 0) {
			rc = cli_fail("mirror", error);
			goto done;
		}
	}
done:
	ferry_store_close(st);
	ferry_strv_dispose(&registries);
	ferry_buf_dispose(&host);
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&rel);
	ferry_buf_dispose(&node);
	return rc;
}
