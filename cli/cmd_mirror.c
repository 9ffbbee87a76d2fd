/*
 * ferry mirror serve: serve the enclave store to container runtimes and
 * clients until SIGINT or SIGTERM.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fs.h"
#include "mirror.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
	"ferry mirror serve [--store DIR] --listen ADDR:PORT [--port-file FILE]\n"
	"                    [--tls-cert PEM --tls-key PEM] [--htpasswd FILE]\n"
	"                    [--access-log FILE|-] [--threads N] [--max-connections N]\n"
	"                    [--max-per-client N] [--idle-timeout SECONDS]\n"
	"                    [--max-header-bytes N] [--rate N]";

static void help(void)
{
	printf("usage: %s\n\n"
	       "Serve the store read-only over HTTP: the OCI distribution pull API\n"
	       "(/v2/: manifests, blobs with Range, tags/list, _catalog, referrers),\n"
	       "/healthz, /readyz and Prometheus /metrics. Safe while an import\n"
	       "publishes: a pull sees the old or the new tags, never a half state.\n\n"
	       "  --store DIR            the store (default $FERRY_STORE or /var/lib/ferry)\n"
	       "  --listen ADDR:PORT     IPv4 address and port; port 0 picks a free one\n"
	       "  --port-file FILE       write the port listened on to FILE\n"
	       "  --tls-cert, --tls-key  serve HTTPS with these PEM files\n"
	       "  --htpasswd FILE        require Basic auth: user:hash lines (bcrypt or\n"
	       "                         argon2id); /healthz and /readyz stay open\n"
	       "  --access-log FILE      JSON lines, one per request ('-': stdout)\n"
	       "  --threads N            worker threads (default 4)\n"
	       "  --max-connections N    connections at once (default 512)\n"
	       "  --max-per-client N     connections at once from one address (default 64)\n"
	       "  --idle-timeout S       close connections idle for S seconds (default 30)\n"
	       "  --max-header-bytes N   request line and headers (default 16384)\n"
	       "  --rate N               requests per second per address (default: no limit)\n",
	       usage);
}

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
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'P' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "htpasswd", required_argument, NULL, 'H' },
		{ "access-log", required_argument, NULL, 'a' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "max-per-client", required_argument, NULL, 'p' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "max-header-bytes", required_argument, NULL, 'B' },
		{ "rate", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	ferry_mirror_options mo = FERRY_MIRROR_OPTIONS_INIT;
	ferry_mirror *m = NULL;
	const char *store = NULL, *port_file = NULL, *log = NULL;
	unsigned header = 0;
	sigset_t set;
	int c, sig, error, rc = FERRY_EXIT_OK, bad = 0;

	if (argc < 2 || strcmp(argv[1], "serve")) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			help();
			return FERRY_EXIT_OK;
		}
		return cli_usage_error(usage, "mirror needs the subcommand 'serve'");
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'l': mo.listen = optarg; break;
		case 'P': port_file = optarg; break;
		case 'c': mo.tls_cert = optarg; break;
		case 'k': mo.tls_key = optarg; break;
		case 'H': mo.htpasswd = optarg; break;
		case 'a': log = optarg; break;
		case 't': bad |= number(&mo.threads, optarg); break;
		case 'C': bad |= number(&mo.max_connections, optarg); break;
		case 'p': bad |= number(&mo.max_per_client, optarg); break;
		case 'i': bad |= number(&mo.idle_timeout, optarg); break;
		case 'B': bad |= number(&header, optarg); mo.max_header_bytes = header; break;
		case 'r': bad |= number(&mo.rate, optarg); break;
		case 'h': help(); return FERRY_EXIT_OK;
		default: return cli_usage_error(usage, "bad option");
		}
		if (bad)
			return cli_usage_error(usage, "invalid number '%s'", optarg);
	}
	if (!mo.listen || optind != argc)
		return cli_usage_error(usage, "mirror serve needs --listen ADDR:PORT");
	mo.store = cli_store_path(store);
	if (log) {
		mo.access_log = strcmp(log, "-") ? fopen(log, "a") : stdout;
		if (!mo.access_log) {
			fprintf(stderr, "ferry mirror: cannot open '%s'\n", log);
			return FERRY_EXIT_FAILURE;
		}
	}
	/* Block the stop signals before threads start, then wait for one. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((error = ferry_mirror_start(&m, &mo)) < 0) {
		rc = cli_fail("mirror", error);
		goto done;
	}
	if (port_file) {
		char text[16];
		int n = snprintf(text, sizeof(text), "%u\n", ferry_mirror_port(m));

		remove(port_file);
		if ((error = ferry_fs_write_atomic(port_file, text, (size_t)n, 0644)) < 0) {
			rc = cli_fail("mirror", error);
			goto done;
		}
	}
	fprintf(stderr, "ferry mirror: serving '%s' on %s://%.*s:%u\n", mo.store,
		mo.tls_cert ? "https" : "http",
		(int)(strrchr(mo.listen, ':') - mo.listen), mo.listen, ferry_mirror_port(m));
	sigwait(&set, &sig);
	fprintf(stderr, "ferry mirror: stopping\n");
done:
	ferry_mirror_stop(m);
	if (mo.access_log && mo.access_log != stdout)
		fclose(mo.access_log);
	return rc;
}
