/*
 * ferry console: serve the enclave's web console until SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "console.h"
#include "store.h"
#include "strv.h"
#include "util.h"
#include "banned.h"

enum {
	OPT_STORE = 1, OPT_CONFIG, OPT_LISTEN, OPT_PORT_FILE, OPT_TLS_CERT, OPT_TLS_KEY,
	OPT_VIEWERS, OPT_OPERATORS, OPT_INBOX, OPT_STALE_AFTER, OPT_LOG, OPT_THREADS,
};

static const cli_option console_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ "config", 0, "FILE", "the reconciler's config: its stacks are shown, and acted on "
	  "through its running daemon", OPT_CONFIG },
	{ "listen", 0, "ADDR:PORT", "IPv4 address and port; port 0 picks a free one",
	  OPT_LISTEN },
	{ "port-file", 0, "FILE", "write the port listened on to FILE", OPT_PORT_FILE },
	{ "tls-cert", 0, "PEM", "serve HTTPS with this certificate (and --tls-key)",
	  OPT_TLS_CERT },
	{ "tls-key", 0, "PEM", "the private key of --tls-cert", OPT_TLS_KEY },
	{ "viewers", 0, "FILE", "users who may read every page: user:hash lines (bcrypt or "
	  "argon2id)", OPT_VIEWERS },
	{ "operators", 0, "FILE", "users who may also sync, suspend, resume and roll back "
	  "stacks (same format)", OPT_OPERATORS },
	{ "inbox", 0, "DIR", "an inbox whose waiting and rejected bundles are shown "
	  "(repeatable)", OPT_INBOX },
	{ "stale-after", 0, "DURATION", "show a channel stale after this long without an "
	  "import (default 2d)", OPT_STALE_AFTER },
	{ "log", 0, "FILE", "JSON lines for logins, actions and refusals ('-': stdout)",
	  OPT_LOG },
	{ "threads", 0, "N", "worker threads (default 4)", OPT_THREADS },
	CLI_OPTIONS_END
};

static const cli_command console_command = {
	.name = "console",
	.summary = "serve the enclave's web console until SIGINT or SIGTERM",
	.synopsis = "[--store DIR] [--config FILE] --listen ADDR:PORT [--port-file FILE] "
		    "[--tls-cert PEM --tls-key PEM] [--viewers FILE] [--operators FILE] "
		    "[--inbox DIR]... [--stale-after DURATION] [--log FILE|-] [--threads N]",
	.description =
		"Serve the site's state as web pages: channels and their age, alarms and\n"
		"rejected bundles, the inbox, seed targets, the store's content, the\n"
		"stacks with their revisions, plans and history, and the audit trail\n"
		"(filtered, exported as JSON lines). Every page needs a login; an\n"
		"operator may sync, suspend, resume or roll back a stack with a reason,\n"
		"which the reconciler daemon records with the operator as actor.",
	.options = console_options,
};

int cmd_console(int argc, char **argv)
{
	ferry_console_options o = FERRY_CONSOLE_OPTIONS_INIT;
	ferry_strv inboxes = FERRY_STRV_INIT;
	ferry_console *c = NULL;
	const char *store = NULL, *port_file = NULL, *log = NULL;
	uint64_t threads;
	sigset_t set;
	cli_args a;
	int id, error = 0, rc = FERRY_EXIT_OK;

	cli_args_init(&a, &console_command, argc, argv, NULL);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_STORE: store = a.value; break;
		case OPT_CONFIG: o.config = a.value; break;
		case OPT_LISTEN: o.listen = a.value; break;
		case OPT_PORT_FILE: port_file = a.value; break;
		case OPT_TLS_CERT: o.tls_cert = a.value; break;
		case OPT_TLS_KEY: o.tls_key = a.value; break;
		case OPT_VIEWERS: o.viewers = a.value; break;
		case OPT_OPERATORS: o.operators = a.value; break;
		case OPT_LOG: log = a.value; break;
		case OPT_INBOX:
			if ((error = ferry_strv_push(&inboxes, a.value)) < 0) {
				rc = cli_fail("console", error);
				goto done;
			}
			break;
		case OPT_STALE_AFTER:
			if (ferry_parse_duration(&o.stale_after, a.value) < 0 || o.stale_after <= 0) {
				rc = cli_args_error(&a, "invalid duration '%s'", a.value);
				goto done;
			}
			break;
		case OPT_THREADS:
			if (ferry_parse_u64(&threads, a.value) < 0 || !threads || threads > 64) {
				rc = cli_args_error(&a, "invalid number '%s'", a.value);
				goto done;
			}
			o.threads = (unsigned)threads;
			break;
		}
	}
	if (id < 0) {
		rc = a.exit;
		goto done;
	}
	if (!o.listen) {
		rc = cli_args_error(&a, "needs --listen ADDR:PORT");
		goto done;
	}
	if (!o.viewers && !o.operators) {
		rc = cli_args_error(&a, "needs --viewers FILE or --operators FILE (there is no "
				    "anonymous access)");
		goto done;
	}
	o.store = cli_store_path(store);
	o.inboxes = (const char *const *)inboxes.v;
	o.ninboxes = inboxes.n;
	if (log && !(o.log = cli_open_log("console", log))) {
		rc = FERRY_EXIT_FAILURE;
		goto done;
	}
	cli_serve_block_signals(&set);
	if ((error = ferry_console_start(&c, &o)) < 0) {
		rc = cli_fail("console", error);
		goto done;
	}
	rc = cli_serve_wait("console", &set, port_file, ferry_console_port(c), o.store, o.listen,
			    o.tls_cert != NULL);
done:
	ferry_console_stop(c);
	cli_close_log(o.log);
	ferry_strv_dispose(&inboxes);
	return rc;
}
