/*
 * ferry inbox run, once and status: import what lands in a directory (a
 * diode's output, a share, the copy of removable media) as it becomes
 * complete, and say what waits and what was refused. The work is
 * import/inbox.c's; this file parses, seeds and notifies after each import
 * (the same steps as ferry import), and prints the status.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cmd_import.h"
#include "fs.h"
#include "inbox.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_DIR, OPT_SETTLE, OPT_KEEP_DONE, OPT_INTERVAL, OPT_AUDIT_LOG,
       OPT_NO_WAIT, OPT_NO_SEED, OPT_NOTIFY, OPT_NOTIFY_TOKEN_FILE };

#define INBOX_DIR_OPTION { "dir", 0, "DIR", "the inbox directory (required)", OPT_DIR }
#define INBOX_WORK_OPTIONS \
	CLI_OPTION_STORE(OPT_STORE), \
	INBOX_DIR_OPTION, \
	{ "settle", 0, "SECONDS", "take a file only once it was left unchanged this long " \
	  "(default 5)", OPT_SETTLE }, \
	{ "keep-done", 0, "DAYS", "remove files from DIR/done after DAYS days (default: " \
	  "keep them)", OPT_KEEP_DONE }, \
	{ "audit-log", 0, "FILE", "also append audit events to FILE as JSON lines", \
	  OPT_AUDIT_LOG }, \
	{ "no-wait", 0, NULL, "fail instead of waiting when another process writes the " \
	  "store", OPT_NO_WAIT }, \
	CLI_IMPORT_HOOK_OPTIONS(OPT_NO_SEED, OPT_NOTIFY, OPT_NOTIFY_TOKEN_FILE)

static const cli_option run_options[] = {
	INBOX_WORK_OPTIONS,
	{ "interval", 0, "SECONDS", "rescan DIR this often besides watching it (default 60)",
	  OPT_INTERVAL },
	CLI_OPTION_QUIET("log only warnings"),
	CLI_OPTIONS_END
};

static const cli_option once_options[] = {
	INBOX_WORK_OPTIONS,
	CLI_OPTION_JSON("print the pass's counts as JSON"),
	CLI_OPTION_QUIET("no summary"),
	CLI_OPTIONS_END
};

static const cli_option status_options[] = {
	INBOX_DIR_OPTION,
	CLI_OPTION_JSON("print the status file as it is"),
	CLI_OPTIONS_END
};

#define INBOX_EPILOG \
	"A file is taken once it has settled; names starting with '.' and ending in\n" \
	".part or .tmp are never taken (write there, then rename into DIR). A\n" \
	"volume is checked on arrival and kept in DIR/.ferry-inbox/staging until\n" \
	"its bundle is complete; bundles import in sequence order per channel, and\n" \
	"one that builds on a sequence not yet imported waits for it. Imported,\n" \
	"already imported and superseded bundles move to DIR/done; a file that\n" \
	"cannot be used moves to DIR/rejected with FILE.reason saying what to send\n" \
	"again. Files that are no bundle are left in place and listed by ferry\n" \
	"inbox status. After each import every configured target is seeded and the\n" \
	"--notify URLs are told, as by ferry import.\n\n" \
	"Exit status: 0 the pass ran (rejections are in DIR/rejected and the\n" \
	"status), 1 failure (another inbox holds DIR, no store), 64 usage."

static int inbox_run(int argc, char **argv, cli_args *parent);
static int inbox_once(int argc, char **argv, cli_args *parent);
static int inbox_status(int argc, char **argv, cli_args *parent);

static const cli_command run_command = {
	.name = "inbox run",
	.summary = "watch DIR and import what lands there, until SIGTERM or SIGINT",
	.synopsis = "--dir DIR [--store DIR] [--settle SECONDS] [--interval SECONDS] "
		    "[--keep-done DAYS] [--audit-log FILE] [--no-wait] [--no-seed] "
		    "[--notify URL]... [--notify-token-file FILE] [-q]",
	.description =
		"Run as a daemon: a pass over DIR at start, whenever a file lands in it\n"
		"(inotify), once files still being written have settled, and every\n"
		"--interval seconds. SIGTERM and SIGINT stop it between steps; a pass\n"
		"that is killed is finished by the next one.",
	.epilog = INBOX_EPILOG,
	.options = run_options,
	.run = inbox_run,
};

static const cli_command once_command = {
	.name = "inbox once",
	.summary = "one pass over DIR (for a timer or a path unit)",
	.synopsis = "--dir DIR [--store DIR] [--settle SECONDS] [--keep-done DAYS] "
		    "[--audit-log FILE] [--no-wait] [--no-seed] [--notify URL]... "
		    "[--notify-token-file FILE] [--json] [-q]",
	.description =
		"One pass over DIR: take the files that settled, import the bundles that\n"
		"are complete and in order, move the processed files, write the status.",
	.epilog = INBOX_EPILOG,
	.options = once_options,
	.run = inbox_once,
};

static const cli_command status_command = {
	.name = "inbox status",
	.summary = "what waits in DIR, what was imported, what was rejected and why",
	.synopsis = "--dir DIR [--json]",
	.description =
		"Print the status the last pass wrote: bundles waiting for volumes (which)\n"
		"or for an earlier sequence (which), files still settling, files that are\n"
		"no bundle, and the recent outcomes: imported, skipped, and rejected with\n"
		"the reason.",
	.epilog = "Exit status: 0 printed, 1 no status yet (no pass ran on DIR), 64 usage.",
	.options = status_options,
	.run = inbox_status,
};

static const cli_command *const inbox_subcommands[] = {
	&run_command, &once_command, &status_command, NULL
};

static const cli_command inbox_command = {
	.name = "inbox",
	.description = "Import bundles, volumes and their signatures as they land in a\n"
		       "directory, in order, and say what to send again.",
	.subcommands = inbox_subcommands,
};

int cmd_inbox(int argc, char **argv)
{
	cli_args a;

	cli_args_init(&a, &inbox_command, argc, argv, NULL);
	return cli_args_next(&a) < 0 ? a.exit : cli_dispatch(&a);
}

/* ---- run and once ---------------------------------------------------------------- */

typedef struct {
	const char *store, *dir, *audit;
	cli_import_hooks hooks;
	ferry_inbox_options io;
	int json;
} inbox_cfg;

static int seconds_option(int64_t *out, cli_args *a, int64_t unit)
{
	uint64_t v;

	if (ferry_parse_u64(&v, a->value) < 0 || v > 100000000)
		return cli_args_error(a, "--%s wants a whole number, not '%s'", a->opt->name,
				      a->value);
	*out = (int64_t)v * unit;
	return 0;
}

/* Parse the options `run` and `once` share: 0 to go on, 1 to exit with
 * *code (--help, a usage error). */
static int parse(inbox_cfg *c, int argc, char **argv, cli_args *parent,
		 const cli_command *cmd, int *code)
{
	cli_args a;
	int id, rc;

	cli_args_init(&a, cmd, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0) {
		rc = 0;
		switch (id) {
		case OPT_STORE: c->store = a.value; break;
		case OPT_DIR: c->dir = a.value; break;
		case OPT_SETTLE: rc = seconds_option(&c->io.settle, &a, 1); break;
		case OPT_KEEP_DONE: rc = seconds_option(&c->io.keep_done, &a, 86400); break;
		case OPT_INTERVAL:
			if ((rc = seconds_option(&c->io.interval, &a, 1)) == 0 && !c->io.interval)
				rc = cli_args_error(&a, "--interval must be at least 1");
			break;
		case OPT_AUDIT_LOG: c->audit = a.value; break;
		case OPT_NO_WAIT: c->io.no_wait = 1; break;
		case OPT_NO_SEED: c->hooks.seed = 0; break;
		case OPT_NOTIFY: rc = cli_import_hooks_notify(&c->hooks, &a); break;
		case OPT_NOTIFY_TOKEN_FILE: c->hooks.token_file = a.value; break;
		}
		if (rc) {
			*code = rc;
			return 1;
		}
	}
	if (id < 0) {
		*code = a.exit;
		return 1;
	}
	if (!c->dir) {
		*code = cli_args_error(&a, "needs --dir DIR");
		return 1;
	}
	c->json = a.common.json;
	return 0;
}

/* After each import: seed, then notify, as ferry import does. */
static void after_import(ferry_store *st, const ferry_import_result *res, void *payload)
{
	inbox_cfg *c = payload;
	json_t *seeded = NULL;

	if (c->hooks.seed)
		cli_import_seed(&seeded, st, "inbox", 1);
	json_decref(seeded);
	cli_import_notify(&c->hooks, res, "inbox", 1);
}

/* Open the audit log and the token; 0 or the exit code. */
static int prepare(inbox_cfg *c)
{
	int rc;

	if ((rc = cli_import_hooks_load(&c->hooks, "inbox")) != FERRY_EXIT_OK)
		return rc;
	if (c->audit && !(c->io.audit_log = fopen(c->audit, "a"))) {
		fprintf(stderr, "ferry inbox: cannot open '%s'\n", c->audit);
		return FERRY_EXIT_FAILURE;
	}
	c->io.imported = after_import;
	c->io.payload = c;
	return FERRY_EXIT_OK;
}

static void release(inbox_cfg *c)
{
	cli_import_hooks_dispose(&c->hooks);
	if (c->io.audit_log)
		fclose(c->io.audit_log);
}

static void cfg_init(inbox_cfg *c)
{
	ferry_inbox_options io = FERRY_INBOX_OPTIONS_INIT;
	cli_import_hooks hooks = CLI_IMPORT_HOOKS_INIT;

	memset(c, 0, sizeof(*c));
	c->io = io;
	c->hooks = hooks;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int inbox_run(int argc, char **argv, cli_args *parent)
{
	struct sigaction sa;
	inbox_cfg c;
	int rc, error;

	cfg_init(&c);
	if (parse(&c, argc, argv, parent, &run_command, &rc))
		return rc;
	if ((rc = prepare(&c)) != FERRY_EXIT_OK)
		goto done;
	ferry_log_set_sink(ferry_log_stderr_sink, cli_quiet ? FERRY_LOG_WARN : FERRY_LOG_INFO,
			   NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((error = ferry_inbox_run(c.dir, cli_store_path(c.store), &c.io, &stop_flag)) < 0)
		rc = cli_fail("inbox", error);
	else if (!cli_quiet)
		fprintf(stderr, "ferry inbox: stopped\n");
done:
	release(&c);
	return rc;
}

static int inbox_once(int argc, char **argv, cli_args *parent)
{
	ferry_inbox_counts n;
	inbox_cfg c;
	int rc, error;

	cfg_init(&c);
	if (parse(&c, argc, argv, parent, &once_command, &rc))
		return rc;
	if ((rc = prepare(&c)) != FERRY_EXIT_OK)
		goto done;
	if ((error = ferry_inbox_once(&n, c.dir, cli_store_path(c.store), &c.io)) < 0) {
		rc = cli_fail("inbox", error);
		goto done;
	}
	if (c.json)
		cli_print_json(json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "imported",
					 (json_int_t)n.imported, "skipped", (json_int_t)n.skipped,
					 "rejected", (json_int_t)n.rejected, "waiting",
					 (json_int_t)n.waiting, "settling", (json_int_t)n.settling,
					 "ignored", (json_int_t)n.ignored));
	else if (!cli_quiet)
		printf("inbox %s: %zu imported, %zu skipped, %zu rejected, %zu waiting, "
		       "%zu settling, %zu ignored\n", c.dir, n.imported, n.skipped, n.rejected,
		       n.waiting, n.settling, n.ignored);
done:
	release(&c);
	return rc;
}

/* ---- status ---------------------------------------------------------------------- */


static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void print_names(const char *title, const json_t *list)
{
	char b[1024];
	json_t *e;
	size_t i;

	if (!json_array_size(list))
		return;
	printf("\n%s:\n", title);
	json_array_foreach(list, i, e)
		printf("  %s\n", cli_escape(b, sizeof(b), json_string_value(e)));
}

static void print_status(const json_t *o)
{
	char b1[256], b2[4096];
	json_t *e, *v;
	size_t i, k;

	printf("inbox status of %s\n", cli_escape(b1, sizeof(b1), str(o, "updated")));
	if (json_is_string(json_object_get(o, "error")))
		printf("last pass failed: %s\n", cli_escape(b2, sizeof(b2), str(o, "error")));
	{
		json_t *total = json_object_get(o, "waitingTotal");
		size_t listed = json_array_size(json_object_get(o, "waiting"));

		printf("\nwaiting: %zu bundle(s)", json_is_integer(total)
			? (size_t)json_integer_value(total) : listed);
		if (json_is_integer(total) && (size_t)json_integer_value(total) > listed)
			printf(", the first %zu by channel and sequence", listed);
		printf("\n");
	}
	json_array_foreach(json_object_get(o, "waiting"), i, e) {
		printf("  channel %s sequence %lld (bundle %.16s): ",
		       cli_escape(b1, sizeof(b1), str(e, "channel")),
		       (long long)json_integer_value(json_object_get(e, "sequence")),
		       str(e, "bundle"));
		if (json_is_integer(json_object_get(e, "waitsForSequence"))) {
			printf("complete, waits for sequence %lld of its channel\n",
			       (long long)json_integer_value(json_object_get(e, "waitsForSequence")));
			continue;
		}
		printf("%lld of %lld volumes; send volume",
		       (long long)json_integer_value(json_object_get(e, "received")),
		       (long long)json_integer_value(json_object_get(e, "volumes")));
		printf(json_array_size(json_object_get(e, "missingVolumes")) > 1 ? "s" : "");
		json_array_foreach(json_object_get(e, "missingVolumes"), k, v)
			printf("%s %lld", k ? "," : "", (long long)json_integer_value(v));
		printf("\n");
	}
	print_names("settling (still being written)", json_object_get(o, "settling"));
	print_names("ignored (not a bundle; left in place)", json_object_get(o, "ignored"));
	print_names("sidecar files waiting for their file",
		    json_object_get(o, "sidecarsWithoutFile"));
	if (json_array_size(json_object_get(o, "done"))) {
		printf("\nrecently done:\n");
		json_array_foreach(json_object_get(o, "done"), i, e) {
			printf("  %s: ", cli_escape(b1, sizeof(b1), str(e, "outcome")));
			if (*str(e, "channel"))
				printf("channel %s sequence %lld (bundle %.16s)",
				       cli_escape(b2, sizeof(b2), str(e, "channel")),
				       (long long)json_integer_value(json_object_get(e, "sequence")),
				       str(e, "bundle"));
			if (*str(e, "file"))
				printf(" file %s", cli_escape(b2, sizeof(b2), str(e, "file")));
			if (*str(e, "note") && strcmp(str(e, "outcome"), "imported"))
				printf(": %s", cli_escape(b2, sizeof(b2), str(e, "note")));
			printf("\n");
		}
	}
	if (json_array_size(json_object_get(o, "rejected"))) {
		printf("\nrecently rejected (see DIR/rejected/*.reason):\n");
		json_array_foreach(json_object_get(o, "rejected"), i, e) {
			if (*str(e, "file"))
				printf("  %s: ", cli_escape(b1, sizeof(b1), str(e, "file")));
			else
				printf("  ");
			printf("%s\n", cli_escape(b2, sizeof(b2), str(e, "note")));
		}
	}
}

static int inbox_status(int argc, char **argv, cli_args *parent)
{
	ferry_buf path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	const char *dir = NULL;
	json_t *o = NULL;
	cli_args a;
	int id, error, rc = FERRY_EXIT_OK;

	cli_args_init(&a, &status_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0)
		if (id == OPT_DIR)
			dir = a.value;
	if (id < 0)
		return a.exit;
	if (!dir)
		return cli_args_error(&a, "needs --dir DIR");
	if ((error = ferry_inbox_status_path(&path, dir)) < 0 ||
	    (error = ferry_fs_read_file(&text, path.ptr, 64 << 20)) < 0 ||
	    (error = ferry_json_parse(&o, text.ptr, text.size, path.ptr)) < 0) {
		rc = cli_fail("inbox", error);
		goto done;
	}
	if (a.common.json) {
		fwrite(text.ptr, 1, text.size, stdout);
		goto done;
	}
	print_status(o);
done:
	json_decref(o);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&text);
	return rc;
}
