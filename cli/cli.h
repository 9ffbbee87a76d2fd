/*
 * Helpers shared by the command implementations: error reporting with the
 * right exit code, key lists and output formatting. Command lines are read
 * with options.h.
 */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ferry/bundle.h"
#include "exit.h"
#include "options.h"
#include "strv.h"

typedef int (*ferry_cmd_fn)(int argc, char **argv);

int cmd_keygen(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_receipt(int argc, char **argv);
int cmd_mirror(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_target(int argc, char **argv);
int cmd_seed(int argc, char **argv);
int cmd_reconcile(int argc, char **argv);
int cmd_site(int argc, char **argv);
int cmd_kit(int argc, char **argv);

/**
 * A trust root's expiry from --expires: a duration from now ("365d") or a
 * time ("2027-01-01T00:00:00Z"); NULL means 365d. FERRY_EINVALID.
 */
int cli_parse_expires(int64_t *out, const char *text);

/** Print "ferry <cmd>: <message>" for the last error, clear it, and
 *  return its exit code. */
int cli_fail(const char *cmd, int error);
/** The exit code for a library error code. */
int cli_exit_code(int error);

/** A list of public keys loaded from files. */
typedef struct {
	ferry_pubkey **keys;
	size_t n, alloc;
} cli_pubkeys;

int cli_pubkeys_add(cli_pubkeys *list, const char *path);
void cli_pubkeys_dispose(cli_pubkeys *list);

/** Print `value` as indented, key-sorted JSON and a newline on stdout;
 *  takes the reference. */
void cli_print_json(json_t *value);


/**
 * Outside text (from a bundle, a request, a remote) made safe for one output
 * line: ferry_escape_bytes() of S into BUF (LEN bytes, truncated there);
 * returns BUF.
 */
const char *cli_escape(char *buf, size_t len, const char *s);

/* ---- servers (mirror serve, console) ------------------------------------- */

/** Block SIGINT and SIGTERM (into `set`, for cli_serve_wait) and ignore
 *  SIGPIPE; call before the server starts its threads. */
void cli_serve_block_signals(sigset_t *set);
/**
 * The server `cmd` listens on `port`: write the port to `port_file` (NULL:
 * none), say on standard error that it serves `store` on `listen`'s address,
 * and wait for a signal of `set`. The exit status: a failure when the port
 * file cannot be written.
 */
int cli_serve_wait(const char *cmd, sigset_t *set, const char *port_file, unsigned port,
		   const char *store, const char *listen, int tls);
/** Open the log file `path` for appending ("-": standard output); NULL,
 *  with a message, when it cannot be opened. */
FILE *cli_open_log(const char *cmd, const char *path);
/** Close a log from cli_open_log (standard output and NULL are left). */
void cli_close_log(FILE *f);

/** The store directory: `given`, else $FERRY_STORE, else /var/lib/ferry. */
const char *cli_store_path(const char *given);
/** ferry verify --store: every check of import, nothing published. */
int cli_verify_store(const char *store, char *const *paths, size_t npaths, int json);

/**
 * The bundle files named by the operands `args` of `cmd`, as media and
 * inboxes hold them: a directory stands for its "*.tar" files (sorted, not
 * its subdirectories, not names starting with '.'); detached signatures
 * ("*.minisig") and checksum sidecars ("*.sha256") are left out, with a
 * note on stderr unless quiet (the signature inside a bundle is what
 * counts). Anything else named explicitly is kept, to be judged by the
 * reader. 0, or a negative error (a missing or unreadable operand).
 */
int cli_bundle_files(ferry_strv *out, const char *cmd, char *const *args,
		     size_t nargs, int quiet);

struct ferry_seed_result;
/** Print what a seed did (ferry seed, ferry import). */
void cli_print_seed(const struct ferry_seed_result *res, int json);
/** What a seed did, as a JSON array of targets (NULL: out of memory). */
json_t *cli_seed_json(const struct ferry_seed_result *res);

/** Set by -q (options.h), for the commands that list it. */
extern int cli_quiet;

/** The --store option row of the commands that work on the store. */
#define CLI_OPTION_STORE(id) \
	{ "store", 0, "DIR", "the store (default $FERRY_STORE or " FERRY_STORE_DEFAULT ")", id }

#endif
