/*
 * ferry reconcile: GitOps inside the enclave from the store's own sources.
 * Subcommands run (the daemon), reload, sync, status, history, rollback,
 * down, suspend and resume; the logic is in the reconciler library.
 */
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "json.h"
#include "cli.h"
#include "log.h"
#include "reconcile.h"
#include "util.h"
#include "banned.h"

enum {
	OPT_CONFIG = 1, OPT_STORE, OPT_DRY_RUN, OPT_AUDIT_LOG, OPT_ONCE, OPT_WORKERS,
	OPT_PORT_FILE, OPT_ALL, OPT_TO, OPT_COUNT, OPT_REASON,
};

/* The options of every subcommand, given before or after its name. */
#define RECONCILE_OPTIONS \
	{ "config", 0, "FILE", "the stacks (see ferry-reconcile(1))", OPT_CONFIG }, \
	{ "store", 0, "DIR", "the store (default: the config's store, $FERRY_STORE or " \
	  FERRY_STORE_DEFAULT ")", OPT_STORE }, \
	{ "dry-run", 0, NULL, "render and print the target's commands; change nothing", \
	  OPT_DRY_RUN }, \
	CLI_OPTION_JSON("status, history and check as JSON"), \
	{ "audit-log", 0, "FILE", "also write events as JSON lines to FILE ('-': stdout)", \
	  OPT_AUDIT_LOG }, \
	CLI_OPTION_VERBOSE("log each cycle to stderr"), \
	CLI_OPTION_QUIET("print no line for each stack synced")

static const cli_option reconcile_options[] = { RECONCILE_OPTIONS, CLI_OPTIONS_END };
static const cli_option run_options[] = {
	{ "once", 0, NULL, "one round over every stack, then exit", OPT_ONCE },
	{ "workers", 0, "N", "cycles run in parallel (default 4; never two of a stack)",
	  OPT_WORKERS },
	{ "port-file", 0, "FILE", "write the webhook's port (listen on port 0)",
	  OPT_PORT_FILE },
	RECONCILE_OPTIONS, CLI_OPTIONS_END
};
#define REASON_OPTION(what) \
	{ "reason", 0, "TEXT", "why (" what ")", OPT_REASON }
static const cli_option sync_options[] = {
	{ "all", 0, NULL, "every stack of the config", OPT_ALL },
	REASON_OPTION("recorded in the audit event: a change record, say"),
	RECONCILE_OPTIONS, CLI_OPTIONS_END
};
static const cli_option history_options[] = {
	{ NULL, 'n', "COUNT", "only the last COUNT events", OPT_COUNT },
	RECONCILE_OPTIONS, CLI_OPTIONS_END
};
static const cli_option rollback_options[] = {
	{ "to", 0, "REVISION", "an earlier recorded revision (default: the one applied "
	  "before the current one)", OPT_TO },
	REASON_OPTION("recorded in the audit event"),
	RECONCILE_OPTIONS, CLI_OPTIONS_END
};
static const cli_option stack_options[] = { RECONCILE_OPTIONS, CLI_OPTIONS_END };
static const cli_option suspend_options[] = {
	REASON_OPTION("recorded in the audit event and shown by status"),
	RECONCILE_OPTIONS, CLI_OPTIONS_END
};

static int reconcile(int argc, char **argv, cli_args *parent);

static const cli_command run_command = {
	.name = "reconcile run",
	.summary = "the daemon: poll every stack at its interval, serve the webhook; "
		   "reloads the config on SIGHUP; stops cleanly on SIGTERM or SIGINT",
	.synopsis = "--config FILE [--once] [--workers N] [--port-file FILE]",
	.options = run_options,
	.run = reconcile,
};
static const cli_command reload_command = {
	.name = "reconcile reload",
	.summary = "make the running daemon read the config again (SIGHUP to the pid in "
		   "<state-dir>/daemon.pid); a broken config is rejected and the running "
		   "one kept",
	.synopsis = "--config FILE",
	.options = stack_options,
	.run = reconcile,
};
static const cli_command sync_command = {
	.name = "reconcile sync",
	.summary = "apply the stack's current revision now (the only way when auto-sync is "
		   "off; clears a rollback hold)",
	.synopsis = "--config FILE STACK [--reason TEXT]\n--config FILE --all [--reason TEXT]",
	.options = sync_options,
	.operands = "[STACK]",
	.run = reconcile,
};
static const cli_command status_command = {
	.name = "reconcile status",
	.summary = "stack, ref, desired and applied revision, drift, last sync, next poll",
	.synopsis = "--config FILE [--json]",
	.options = stack_options,
	.run = reconcile,
};
static const cli_command history_command = {
	.name = "reconcile history",
	.summary = "the audit events, of every stack or of STACK",
	.synopsis = "--config FILE [STACK] [-n COUNT] [--json]",
	.options = history_options,
	.operands = "[STACK]",
	.run = reconcile,
};
static const cli_command rollback_command = {
	.name = "reconcile rollback",
	.summary = "apply the revision applied before the current one, or an earlier "
		   "recorded revision",
	.synopsis = "--config FILE STACK [--to REVISION] [--reason TEXT]",
	.options = rollback_options,
	.operands = "STACK",
	.run = reconcile,
};
static const cli_command down_command = {
	.name = "reconcile down",
	.summary = "remove what the stack deployed, and suspend it so the daemon does "
		   "not deploy it again",
	.synopsis = "--config FILE STACK [--reason TEXT]",
	.options = suspend_options,
	.operands = "STACK",
	.run = reconcile,
};
static const cli_command suspend_command = {
	.name = "reconcile suspend",
	.summary = "hold the stack: the daemon's polls and webhooks leave it alone until "
		   "resume (kept in the store, across restarts)",
	.synopsis = "--config FILE STACK [--reason TEXT]",
	.options = suspend_options,
	.operands = "STACK",
	.run = reconcile,
};
static const cli_command resume_command = {
	.name = "reconcile resume",
	.summary = "lift a suspension (or a down): the next poll deploys the stack again",
	.synopsis = "--config FILE STACK",
	.options = stack_options,
	.operands = "STACK",
	.run = reconcile,
};
static const cli_command check_command = {
	.name = "reconcile check",
	.summary = "the pre-flight by hand: render the revision the next cycle would apply "
		   "and check that every image is where the runtime pulls it (exit 2 when "
		   "one is missing); changes nothing, beside a daemon or without one",
	.synopsis = "--config FILE STACK [--json]",
	.options = stack_options,
	.operands = "STACK",
	.run = reconcile,
};
static const cli_command *const reconcile_subcommands[] = {
	&run_command, &reload_command, &sync_command, &check_command, &status_command,
	&history_command, &rollback_command, &down_command, &suspend_command, &resume_command,
	NULL
};
static const cli_command reconcile_command = {
	.name = "reconcile",
	.synopsis = "--config FILE [--store DIR] [--dry-run] [--json] [--audit-log FILE] [-v] "
		    "[-q] <subcommand> [<args>]",
	.description =
		"Deploy stacks from the enclave store's git repositories and OCI artifacts to\n"
		"podman, Kubernetes or compose, on a poll, a webhook or an operator's sync;\n"
		"every cycle is an audit event in ferry.db (and JSON lines). The options\n"
		"below may also follow the subcommand.",
	.epilog = "Exit status: 0 ok, 1 failure, 2 blocked by policy (freeze file,\n"
		  "require-digests, workload policy, an image the pre-flight found\n"
		  "missing), 64 usage.",
	.options = reconcile_options,
	.subcommands = reconcile_subcommands,
};

/* What the command line says, before and after the subcommand's name. */
typedef struct {
	const char *config, *store, *audit, *to, *port_file, *reason;
	uint64_t workers, count;
	int dry_run, once, all;
} reconcile_args;

/* Take option `id`: 0, or the exit code of a usage error. */
static int option(reconcile_args *r, cli_args *a, int id)
{
	switch (id) {
	case OPT_CONFIG: r->config = a->value; break;
	case OPT_STORE: r->store = a->value; break;
	case OPT_DRY_RUN: r->dry_run = 1; break;
	case OPT_AUDIT_LOG: r->audit = a->value; break;
	case OPT_ONCE: r->once = 1; break;
	case OPT_PORT_FILE: r->port_file = a->value; break;
	case OPT_ALL: r->all = 1; break;
	case OPT_TO: r->to = a->value; break;
	case OPT_REASON: r->reason = a->value; break;
	case OPT_WORKERS:
		if (ferry_parse_u64(&r->workers, a->value) < 0 || !r->workers || r->workers > 16)
			return cli_args_error(a, "--workers wants 1 to 16");
		break;
	case OPT_COUNT:
		if (ferry_parse_u64(&r->count, a->value) < 0)
			return cli_args_error(a, "-n wants a number");
		break;
	}
	return 0;
}

int cmd_reconcile(int argc, char **argv)
{
	reconcile_args r;
	cli_args a;
	int id, rc;

	memset(&r, 0, sizeof(r));
	cli_args_init(&a, &reconcile_command, argc, argv, NULL);
	a.payload = &r;
	while ((id = cli_args_next(&a)) > 0)
		if ((rc = option(&r, &a, id)) != 0)
			return rc;
	return id < 0 ? a.exit : cli_dispatch(&a);
}

static volatile int stop_flag, reload_flag;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else
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
		    const char *to, const char *reason)
{
	ferry_cycle_result res;
	char who[128];
	int error;

	error = ferry_reconcile_cycle(&res, rc, stack, trig, operator_name(who, sizeof(who)), to,
				      reason);
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

/*
 * Have the running daemon do `op` (its control socket), so that a command
 * never races the daemon's own cycles or runs another version of the
 * config. Returns -1 when no daemon runs (the caller then does it in this
 * process), otherwise the exit status, having printed what the daemon said.
 */
static int via_daemon(ferry_reconciler *rc, const char *op, const char *stack, const char *to,
		      const char *reason, const char *config)
{
	json_t *req, *reply = NULL;
	char who[128], e1[1024], e2[256];
	const char *msg;
	int error, exit_code = FERRY_EXIT_OK;

	req = json_pack("{s:s,s:s,s:s?,s:s?,s:s?}", "op", op, "actor",
			operator_name(who, sizeof(who)), "stack", stack, "to", to, "reason", reason);
	if (!req)
		return cli_fail("reconcile", ferry_error_oom());
	error = ferry_reconciler_control(&reply, rc, req, 0);
	json_decref(req);
	if (error == FERRY_ENOTFOUND) {
		ferry_error_clear();
		return -1;
	}
	if (error < 0)
		return cli_fail("reconcile", error);
	msg = json_string_value(json_object_get(reply, "message"));
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_int_t code = json_integer_value(json_object_get(reply, "code"));

		fprintf(stderr, "ferry reconcile: %s\n",
			cli_escape(e1, sizeof(e1), json_string_value(json_object_get(reply, "error"))));
		exit_code = code == FERRY_EVERIFY ? FERRY_EXIT_VERIFY : FERRY_EXIT_FAILURE;
	} else if (cli_quiet) {
		;
	} else if (!strcmp(op, "reload")) {
		printf("asked the daemon (pid %lld) to reload '%s': reloaded\n",
		       (long long)json_integer_value(json_object_get(reply, "pid")), config);
	} else if (!strcmp(op, "suspend") || !strcmp(op, "resume")) {
		printf("%s: %s\n", stack, !strcmp(op, "suspend") ? "suspended" : "resumed");
	} else {
		printf("%s: %s %.12s%s%s\n", stack,
		       cli_escape(e2, sizeof(e2),
				  json_string_value(json_object_get(reply, "outcome"))),
		       json_string_value(json_object_get(reply, "revision")),
		       msg && *msg ? "\n  " : "", msg ? cli_escape(e1, sizeof(e1), msg) : "");
	}
	json_decref(reply);
	return exit_code;
}

/* `check`: the pre-flight of `stack`, printed; 2 when an image is missing. */
static int check_one(ferry_reconciler *rc, const ferry_stack *stack, int json)
{
	ferry_preflight pf;
	ferry_revision rev;
	ferry_buf msg = FERRY_BUF_INIT;
	char e1[1024], e2[1024];
	size_t i;
	int error, exit_code;

	if ((error = ferry_reconciler_check(&pf, &rev, rc, stack)) < 0) {
		exit_code = cli_fail("reconcile", error);
		goto done;
	}
	exit_code = pf.missing ? FERRY_EXIT_VERIFY : FERRY_EXIT_OK;
	if (json) {
		json_t *o = ferry_preflight_json(&pf, stack->name, &rev);
		char *text = o ? ferry_json_dumps(o, JSON_INDENT(2)) : NULL;

		json_decref(o);
		if (!text) {
			exit_code = cli_fail("reconcile", ferry_error_oom());
			goto done;
		}
		printf("%s\n", text);
		free(text);
		goto done;
	}
	if (!cli_quiet) {
		printf("%s: revision %.12s", stack->name, rev.id);
		if (rev.channel)
			printf(" (bundle %s, channel %s, sequence %lld)",
			       rev.bundle_id ? rev.bundle_id : "?", rev.channel,
			       (long long)rev.sequence);
		printf("\n");
		for (i = 0; i < pf.nimages; i++) {
			const ferry_preflight_image *img = &pf.images[i];

			printf("  %-9s %s  %s", ferry_preflight_status_name(img->status),
			       cli_escape(e1, sizeof(e1), img->image),
			       cli_escape(e2, sizeof(e2), img->where));
			if (img->status == FERRY_PREFLIGHT_PRESENT)
				printf("  (in the %s)\n", img->place);
			else
				printf("\n    %s\n", cli_escape(e1, sizeof(e1), img->why ? img->why : ""));
		}
		printf("%s: %zu image(s): %zu missing, %zu not checked\n", stack->name, pf.nimages,
		       pf.missing, pf.unchecked);
	}
	if (pf.missing && ferry_preflight_message(&msg, &pf, stack->name, &rev) == 0)
		fprintf(stderr, "ferry reconcile: stack '%s': %s\n", stack->name,
			cli_escape(e1, sizeof(e1), msg.ptr));
done:
	ferry_buf_dispose(&msg);
	ferry_preflight_dispose(&pf);
	ferry_revision_dispose(&rev);
	return exit_code;
}

/* Every subcommand: its options, then the run, sync, status, ... it names. */
static int reconcile(int argc, char **argv, cli_args *parent)
{
	reconcile_args *ra = parent->payload;
	ferry_reconciler_options ro = FERRY_RECONCILER_OPTIONS_INIT;
	ferry_reconcile_config *cfg = NULL;
	ferry_reconciler *rc = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	const char *config, *store, *audit, *to, *sub = argv[0], *name;
	FILE *audit_file = NULL;
	uint64_t workers, count;
	cli_args a;
	int id, json, once, all, verbose, error, rc_exit = FERRY_EXIT_OK;
	size_t i;

	cli_args_init(&a, parent->sub, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0)
		if ((rc_exit = option(ra, &a, id)) != 0)
			return rc_exit;
	if (id < 0)
		return a.exit;
	config = ra->config;
	store = ra->store;
	audit = ra->audit;
	to = ra->to;
	workers = ra->workers;
	count = ra->count;
	once = ra->once;
	all = ra->all;
	ro.dry_run = ra->dry_run;
	ro.port_file = ra->port_file;
	ro.config_path = ra->config;
	ro.reload = &reload_flag;
	json = a.common.json;
	verbose = a.common.verbose;
	name = a.nargs ? a.args[0] : NULL;
	if (!config)
		return cli_args_error(&a, "needs --config FILE");
	if (!strcmp(sub, "sync") && !all && !name)
		return cli_args_error(&a, "needs a STACK or --all");
	if (!strcmp(sub, "check") && !name)
		return cli_args_error(&a, "needs a STACK");
	if (ra->reason && ferry_reason_check(ra->reason) < 0)
		return cli_args_error(&a, "--reason: %s", ferry_error_last());
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
	if (audit && !(ro.audit_stream = audit_file = cli_open_log("reconcile", audit))) {
		rc_exit = FERRY_EXIT_FAILURE;
		goto done;
	}
	ro.store = store ? store : cfg->store ? cfg->store : cli_store_path(NULL);
	ro.out = stdout;
	if ((error = ferry_reconciler_new(&rc, cfg, &ro)) < 0) {
		rc_exit = cli_fail("reconcile", error);
		goto done;
	}

	if (!ra->dry_run &&
	    (!strcmp(sub, "sync") || !strcmp(sub, "rollback") || !strcmp(sub, "down") ||
	     !strcmp(sub, "suspend") || !strcmp(sub, "resume") || !strcmp(sub, "reload"))) {
		int r = -1;

		if (!strcmp(sub, "sync") && all) {
			for (i = 0; i < cfg->nstacks; i++) {
				int one = via_daemon(rc, sub, cfg->stacks[i].name, NULL, ra->reason,
						     config);

				if (one < 0)
					break;
				r = r < 0 || one != FERRY_EXIT_OK ? one : r;
			}
		} else {
			r = via_daemon(rc, sub, name, to, !strcmp(sub, "resume") ? NULL : ra->reason,
				       config);
		}
		if (r >= 0) {
			rc_exit = r;
			if (r == FERRY_EXIT_OK && !strcmp(sub, "down") && !cli_quiet)
				printf("  suspended: 'ferry reconcile resume %s' lets the daemon deploy "
				       "it again\n", name);
			goto done;
		}
	}

	if (!strcmp(sub, "run")) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
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
			r = sync_one(rc, &cfg->stacks[i], FERRY_TRIGGER_MANUAL, NULL, ra->reason);
			if (r != FERRY_EXIT_OK)
				rc_exit = r;   /* one broken stack does not stop the others */
		}
	} else if (!strcmp(sub, "rollback")) {
		rc_exit = sync_one(rc, ferry_reconcile_config_stack(cfg, name),
				   FERRY_TRIGGER_ROLLBACK, to, ra->reason);
	} else if (!strcmp(sub, "down")) {
		rc_exit = sync_one(rc, ferry_reconcile_config_stack(cfg, name), FERRY_TRIGGER_DOWN,
				   NULL, ra->reason);
		if (rc_exit == FERRY_EXIT_OK && !ra->dry_run && !cli_quiet)
			printf("  suspended: 'ferry reconcile resume %s' lets the daemon deploy it "
			       "again\n", name);
	} else if (!strcmp(sub, "suspend") || !strcmp(sub, "resume")) {
		char who[128];
		int suspend = !strcmp(sub, "suspend");

		if ((error = ferry_reconciler_suspend(rc, ferry_reconcile_config_stack(cfg, name),
						      suspend, operator_name(who, sizeof(who)),
						      suspend ? ra->reason : NULL)) < 0)
			rc_exit = cli_fail("reconcile", error);
		else if (!cli_quiet && !ra->dry_run)
			printf("%s: %s\n", name, suspend ? "suspended" : "resumed");
	} else if (!strcmp(sub, "reload")) {
		long pid = 0;

		if ((error = ferry_reconciler_signal_daemon(&pid, rc, SIGHUP)) < 0)
			rc_exit = cli_fail("reconcile", error);
		else if (!cli_quiet)
			printf("asked the daemon (pid %ld) to reload '%s'; its outcome is in "
			       "'ferry reconcile history'\n", pid, config);
	} else if (!strcmp(sub, "check")) {
		rc_exit = check_one(rc, ferry_reconcile_config_stack(cfg, name), json);
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
	cli_close_log(audit_file);
	return rc_exit;
}
