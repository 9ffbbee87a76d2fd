/*
 * What follows an import, shared by ferry import and ferry inbox: seeding
 * the configured targets once bundles are published, then telling the
 * reconciler (--notify), with the options that ask for it.
 */
#ifndef FERRY_CLI_CMD_IMPORT_H
#define FERRY_CLI_CMD_IMPORT_H

#include <jansson.h>

#include "buf.h"
#include "import.h"
#include "options.h"
#include "store.h"

#define CLI_IMPORT_MAX_NOTIFY 16

/** --no-seed, --notify URL..., --notify-token-file FILE. */
typedef struct {
	const char *notify[CLI_IMPORT_MAX_NOTIFY];
	size_t nnotify;
	const char *token_file;
	ferry_buf token;        /* read by cli_import_hooks_load */
	int seed;
} cli_import_hooks;

#define CLI_IMPORT_HOOKS_INIT { { NULL }, 0, NULL, FERRY_BUF_INIT, 1 }

/** The option rows, with their ids. */
#define CLI_IMPORT_HOOK_OPTIONS(no_seed, notify, token_file) \
	{ "no-seed", 0, NULL, "do not seed the configured targets afterwards (see ferry " \
	  "target, ferry seed)", no_seed }, \
	{ "notify", 0, "URL", "after publishing, POST {channel, sequence, bundle} to URL " \
	  "(repeatable, at most 16; the reconciler's /hooks/import). A failed notification " \
	  "is a warning: the import stands", notify }, \
	{ "notify-token-file", 0, "FILE", "send the token in FILE as Authorization: Bearer", \
	  token_file }

/** Add --notify's value from `a`; the usage error's exit code or 0. */
int cli_import_hooks_notify(cli_import_hooks *h, cli_args *a);
/** Read the token file if one was given; 0 or the exit code of a failure. */
int cli_import_hooks_load(cli_import_hooks *h, const char *cmd);
/** Wipe and free the token. */
void cli_import_hooks_dispose(cli_import_hooks *h);

/**
 * Seed every configured target after an import published bundles; print
 * what was done unless `json` or quiet, where with `json` `*seeded` gets
 * the JSON summary (NULL when no target). FERRY_EXIT_OK, or
 * FERRY_EXIT_FAILURE when seeding failed (the import stands).
 */
int cli_import_seed(json_t **seeded, ferry_store *st, const char *cmd, int json);

/** POST a notification for each bundle of `res` that was imported. */
void cli_import_notify(const cli_import_hooks *h, const ferry_import_result *res,
		       const char *cmd, int json);

#endif
