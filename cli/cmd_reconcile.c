/*
 * ferry reconcile: GitOps inside the enclave from the store's own sources.
 * Subcommands run (the daemon), sync, status, history, rollback and down;
 * the logic is in the reconciler library.
 */
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "cli.h"
#include "log.h"
#include "reconcile.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
	"ferry reconcile --config FILE [--store DIR] [--dry-run] [--json] [-v] <subcommand>\n"
	"  run [--once] [--workers N] [--port-file FILE]\n"
	"  sync STACK | sync --all\n"
	"  status\n"
	"  history [STACK] [-n COUNT]\n"
	"  rollback STACK [--to REVISION]\n"
	"  down STACK";

static void help(void)
{
	printf("usage: %s\n\n"
	       "Deploy stacks from the enclave store's git repositories and OCI artifacts to\n"
	       "podman, Kubernetes or compose, on a poll, a webhook or an operator's sync;\n"
	       "every cycle is an audit event in ferry.db (and JSON lines).\n\n"
	       "  --config FILE      the stacks (see ferry-reconcile(1))\n"
	       "  --store DIR        the store (default: the config's store, $FERRY_STORE\n"
	       "                     or %s)\n"
	       "  --dry-run          render and print the target's commands; change nothing\n"
	       "  --json             status and history as JSON\n"
	       "  --audit-log FILE   also write events as JSON lines to FILE ('-': stdout)\n"
	       "  -v, --verbose      log each cycle to stderr\n\n"
	       "  run                the daemon: poll every stack at its interval, serve the\n"
	       "                     webhook; stops cleanly on SIGTERM or SIGINT\n"
	       "    --once           one round over every stack, then exit\n"
	       "    --workers N      cycles run in parallel (default 4; never two of a stack)\n"
	       "    --port-file FILE write the webhook's port (listen on port 0)\n"
	       "  sync STACK         apply the stack's current revision now (the only way\n"
	       "                     when auto-sync is off; clears a rollback hold)\n"
	       "  status             stack, ref, desired and applied revision, drift, last\n"
	       "                     sync, next poll\n"
	       "  history [STACK]    the audit events (-n COUNT: the last COUNT)\n"
	       "  rollback STACK     apply the revision applied before the current one, or\n"
	       "    --to REVISION    an earlier recorded revision\n"
	       "  down STACK         remove what the stack deployed\n\n"
	       "Exit status: 0 ok, 1 failure, 2 blocked by policy (freeze file,\n"
	       "require-digests), 64 usage.\n", usage, FERRY_STORE_DEFAULT);
}

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const char *operator_name(char *buf, size_t len)
{
	const char *u = getenv("SUDO_USER");
	struct passwd *pw;

	if (!u || !*u)
		u = getenv("USER");
	if ((!u || !*u) && (pw = getpwuid(getuid())))
		u = pw->pw_name;
	snprintf(buf, len, "operator:%s", u && *u ? u : "unknown");
	return buf;
}

static int sync_one(ferry_reconciler *rc, const ferry_stack *stack, ferry_trigger trig,
		    const char *to)
{
	ferry_cycle_result res;
	char who[128];
	int error;

	error = ferry_reconcile_cycle(&res, rc, stack, trig, operator_name(who, sizeof(who)), to);
	if (error < 0) {
		fprintf(stderr, "ferry reconcile: %s\n", ferry_error_last());
		ferry_cycle_result_dispose(&res);
		return error == FERRY_EVERIFY ? FERRY_EXIT_VERIFY : FERRY_EXIT_FAILURE;
	}
	if (!cli_quiet)
		printf("%s: %s %.12s%s%s\n", stack->name, res.outcome, res.revision,
		       res.message && *res.message ? "\n  " : "", res.message ? res.message : "");
	ferry_cycle_result_dispose(&res);
	return FERRY_EXIT_OK;
}

int cmd_reconcile(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "store", required_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "audit-log", required_argument, NULL, 'a' },
		{ "once", no_argument, NULL, 'o' },
		{ "workers", required_argument, NULL, 'w' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'A' },
		{ "to", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	ferry_reconciler_options ro = FERRY_RECONCILER_OPTIONS_INIT;
	ferry_reconcile_config *cfg = NULL;
	ferry_reconciler *rc = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	const char *config = NULL, *store = NULL, *audit = NULL, *to = NULL, *sub, *name = NULL;
	FILE *audit_file = NULL;
	uint64_t workers = 0, count = 0;
	int c, json = 0, once = 0, all = 0, verbose = 0, error, rc_exit = FERRY_EXIT_OK;
	size_t i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 's': store = optarg; break;
		case 'd': ro.dry_run = 1; break;
		case 'j': json = 1; break;
		case 'a': audit = optarg; break;
		case 'o': once = 1; break;
		case 'p': ro.port_file = optarg; break;
		case 'A': all = 1; break;
		case 't': to = optarg; break;
		case 'v': verbose = 1; break;
		case 'q': cli_quiet = 1; break;
		case 'w':
			if (ferry_parse_u64(&workers, optarg) < 0 || !workers || workers > 16)
				return cli_usage_error(usage, "--workers wants 1 to 16");
			break;
		case 'n':
			if (ferry_parse_u64(&count, optarg) < 0)
				return cli_usage_error(usage, "-n wants a number");
			break;
		case 'h': help(); return FERRY_EXIT_OK;
		default: return cli_usage_error(usage, "bad option");
		}
	}
	if (optind >= argc)
		return cli_usage_error(usage, "reconcile needs a subcommand");
	sub = argv[optind++];
	if (optind < argc)
		name = argv[optind++];
	if (optind < argc)
		return cli_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (!config)
		return cli_usage_error(usage, "reconcile needs --config FILE");
	if (strcmp(sub, "run") && strcmp(sub, "sync") && strcmp(sub, "status") &&
	    strcmp(sub, "history") && strcmp(sub, "rollback") && strcmp(sub, "down"))
		return cli_usage_error(usage, "unknown subcommand '%s'", sub);
	if ((!strcmp(sub, "rollback") || !strcmp(sub, "down") ||
	     (!strcmp(sub, "sync") && !all)) && !name)
		return cli_usage_error(usage, "%s needs a STACK", sub);
	if ((!strcmp(sub, "run") || !strcmp(sub, "status")) && name)
		return cli_usage_error(usage, "%s takes no STACK", sub);
	if (verbose)
		ferry_log_set_sink(ferry_log_stderr_sink, FERRY_LOG_INFO, NULL);

	if ((error = ferry_reconcile_config_load(&cfg, config)) < 0) {
		rc_exit = cli_fail("reconcile", error);
		goto done;
	}
	if (name && strcmp(sub, "history") && !ferry_reconcile_config_stack(cfg, name)) {
		fprintf(stderr, "ferry reconcile: no stack '%s' in '%s'\n", name, config);
		rc_exit = FERRY_EXIT_FAILURE;
		goto done;
	}
	if (audit) {
		if (!strcmp(audit, "-")) {
			ro.audit_stream = stdout;
		} else if (!(audit_file = fopen(audit, "a"))) {
			fprintf(stderr, "ferry reconcile: cannot open '%s'\n", audit);
			rc_exit = FERRY_EXIT_FAILURE;
			goto done;
		} else {
			ro.audit_stream = audit_file;
		}
	}
	ro.store = store ? store : cfg->store ? cfg->store : cli_store_path(NULL);
	ro.out = stdout;
	if ((error = ferry_reconciler_new(&rc, cfg, &ro)) < 0) {
		rc_exit = cli_fail("reconcile", error);
		goto done;
	}

	if (!strcmp(sub, "run")) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		if ((error = ferry_reconciler_run(rc, &stop_flag, once, (unsigned)workers)) < 0)
			rc_exit = cli_fail("reconcile", error);
		else if (verbose)
			fprintf(stderr, "ferry reconcile: stopped\n");
	} else if (!strcmp(sub, "sync")) {
		for (i = 0; i < cfg->nstacks; i++) {
			int r;

			if (!all && strcmp(cfg->stacks[i].name, name))
				continue;
			r = sync_one(rc, &cfg->stacks[i], FERRY_TRIGGER_MANUAL, NULL);
			if (r != FERRY_EXIT_OK)
				rc_exit = r;   /* one broken stack does not stop the others */
		}
	} else if (!strcmp(sub, "rollback")) {
		rc_exit = sync_one(rc, ferry_reconcile_config_stack(cfg, name),
				   FERRY_TRIGGER_ROLLBACK, to);
	} else if (!strcmp(sub, "down")) {
		rc_exit = sync_one(rc, ferry_reconcile_config_stack(cfg, name), FERRY_TRIGGER_DOWN,
				   NULL);
	} else if (!strcmp(sub, "status")) {
		if ((error = ferry_reconciler_status(&out, rc, json)) < 0)
			rc_exit = cli_fail("reconcile", error);
		else
			fputs(out.ptr ? out.ptr : "", stdout);
	} else {
		if ((error = ferry_reconciler_history(&out, rc, name, (size_t)count, json)) < 0)
			rc_exit = cli_fail("reconcile", error);
		else
			fputs(out.ptr ? out.ptr : "", stdout);
	}
done:
	ferry_buf_dispose(&out);
	ferry_reconciler_free(rc);
	ferry_reconcile_config_free(cfg);
	if (audit_file)
		fclose(audit_file);
	return rc_exit;
}
