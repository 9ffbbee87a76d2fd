/*
 * The front command: `ferry <verb> [options]`, git style. Each verb lives
 * in the cmd_<verb>.c of the part that owns it.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry/errors.h"
#include "cli.h"
#include "log.h"
#include "manifest.h"
#include "banned.h"

typedef struct {
	const char *name;
	ferry_cmd_fn fn;
	const char *summary;
} ferry_command;

static const ferry_command commands[] = {
	{ "keygen", cmd_keygen, "create a signing key pair (minisign format)" },
	{ "export", cmd_export, "write a signed bundle from an export spec" },
	{ "verify", cmd_verify, "verify bundles or volumes against trusted keys" },
	{ "inspect", cmd_inspect, "show what a bundle holds" },
	{ "import", cmd_import, "verify bundles, then publish them into the store" },
	{ "inbox", cmd_inbox, "import what lands in a directory, in order: run, once, status" },
	{ "trust", cmd_trust, "install, show and rotate the store's trust root" },
	{ "store", cmd_store, "list the store, collect garbage, check it" },
	{ "receipt", cmd_receipt, "write a signed inventory of the store" },
	{ "mirror", cmd_mirror, "serve the store over HTTP (OCI pull API)" },
	{ "console", cmd_console, "serve the enclave's web console: state, stacks, audit" },
	{ "target", cmd_target, "configure the servers the store is seeded to" },
	{ "seed", cmd_seed, "push the store to its registries and git servers" },
	{ "reconcile", cmd_reconcile, "deploy stacks from the store (GitOps): run, sync, status" },
	{ "kit", cmd_kit, "write the bootstrap kit for a new enclave host" },
	{ "site", cmd_site, "set up an enclave host: store, TLS, node config, services" },
};

static void usage(FILE *out)
{
	size_t i;

	fputs("usage: ferry [--version] [--help] <command> [<args>]\n\n"
	      "Move software across an air gap as signed, content-addressed "
	      "bundles.\n\ncommands:\n", out);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'ferry <command> --help' describes a command; exit codes: 0 ok, "
	      "1 failure,\n2 verification failed, 64 usage error.\n", out);
}

/*
 * Run one command. Exhausted memory can fail a command on a path that has
 * no message of its own to add; cli_fail() reports and clears the error,
 * so one still set here when the command failed was never reported.
 */
static int run(const ferry_command *cmd, int argc, char **argv)
{
	int rc = cmd->fn(argc, argv);

	if ((rc == FERRY_EXIT_FAILURE || rc == FERRY_EXIT_VERIFY) &&
	    ferry_error_last_code() == FERRY_ENOMEM)
		fprintf(stderr, "ferry %s: %s\n", cmd->name, ferry_error_last());
	return rc;
}

int main(int argc, char **argv)
{
	size_t i;

	/* Everything ferry creates gets the mode its code asks for (0755
	 * directories, 0644 files, 0600 secrets), whatever the caller's umask:
	 * libgit2, SQLite and libcurl create files with the umask's modes. */
	umask(022);
	ferry_log_set_sink(ferry_log_stderr_sink, FERRY_LOG_WARN, NULL);
	if (argc < 2) {
		usage(stderr);
		return FERRY_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return FERRY_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("ferry %s (bundle format %d)\n", FERRY_VERSION, FERRY_BUNDLE_FORMAT_VERSION);
		return FERRY_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return run(&commands[i], argc - 1, argv + 1);
	fprintf(stderr, "ferry: '%s' is not a ferry command\n\n", argv[1]);
	usage(stderr);
	return FERRY_EXIT_USAGE;
}
