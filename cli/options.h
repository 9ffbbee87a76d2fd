/*
 * Declarative command lines for the ferry commands: a command is a table
 * (name, synopsis, description, options, operands, subcommands) and one
 * parser reads any argv against it. The parser prints --help from the
 * table, reports every usage error the same way (exit 64), handles the
 * common flags --json, -q and -v for the commands that list them, and
 * dispatches subcommands (`ferry store ls`).
 */
#ifndef FERRY_CLI_OPTIONS_H
#define FERRY_CLI_OPTIONS_H

#include <stdio.h>

/* Option ids the parser handles itself, setting cli_args.common. */
enum {
	CLI_OPT_JSON = -3,
	CLI_OPT_QUIET = -2,
	CLI_OPT_VERBOSE = -1,
};

/** One option of a command. A row with neither name nor letter ends a table. */
typedef struct {
	const char *name;   /* long name without "--"; NULL: short only */
	char letter;        /* short letter; 0: long only */
	const char *arg;    /* the value's name ("DIR"); NULL: takes no value */
	const char *help;   /* one sentence, wrapped to fit the help */
	int id;             /* > 0: returned to the caller; CLI_OPT_*: common */
} cli_option;

#define CLI_OPTIONS_END { NULL, 0, NULL, NULL, 0 }
/* The common flags, each with the command's own help line. */
#define CLI_OPTION_JSON(help) { "json", 0, NULL, help, CLI_OPT_JSON }
#define CLI_OPTION_QUIET(help) { "quiet", 'q', NULL, help, CLI_OPT_QUIET }
#define CLI_OPTION_VERBOSE(help) { "verbose", 'v', NULL, help, CLI_OPT_VERBOSE }

typedef struct cli_args cli_args;
typedef struct cli_command cli_command;

/** What a subcommand runs: argv[0] is its name; `parent` is the parsed
 *  command line before it (streams, common flags, payload). */
typedef int (*cli_run_fn)(int argc, char **argv, cli_args *parent);

/** A command or subcommand. Everything but `name` is optional. */
struct cli_command {
	const char *name;        /* after "ferry ": "keygen", "store ls" */
	const char *summary;     /* one line, for the parent's list */
	const char *synopsis;    /* forms after "ferry <name> ", one per line */
	const char *description; /* paragraphs after the usage, as written */
	const char *epilog;      /* paragraphs after the options, as written */
	const cli_option *options;
	/* The operands, as in "BUNDLE", "FILE...", "[STACK]": each word is one
	 * operand, "[...]" optional, a final "..." any number more. NULL: none. */
	const char *operands;
	/* Said instead of the generic message when operands are missing or extra. */
	const char *operands_error;
	/* NULL-terminated; a command with subcommands stops at its first operand,
	 * the subcommand's name (the last word of the subcommand's `name`). */
	const cli_command *const *subcommands;
	cli_run_fn run;          /* a subcommand's body, called by cli_dispatch */
};

/** The common flags a command may list. */
typedef struct {
	int json, quiet, verbose;
} cli_common;

/** A command line being parsed. Fields are read-only for the caller except
 *  `payload`, `out` and `err`, which may be set after cli_args_init. */
struct cli_args {
	const cli_command *cmd;
	int argc;
	char **argv;
	int next;                 /* index of the next word to read */
	const char *cluster;      /* the rest of a group of short options "-qv" */
	int operands_only;        /* after "--" */
	char **args;              /* the operands, in order (within argv) */
	int nargs;
	const cli_option *opt;    /* the option just returned */
	const char *value;        /* its value, or NULL */
	int exit;                 /* after CLI_ARGS_EXIT: the exit code */
	cli_common common;
	const cli_command *sub;   /* set by cli_dispatch before it runs one */
	void *payload;            /* the caller's; seen by subcommands as parent->payload */
	FILE *out, *err;          /* help, usage errors (stdout, stderr) */
};

#define CLI_ARGS_END 0
#define CLI_ARGS_EXIT (-1)

/**
 * Start parsing `argv` (argv[0] is the command's own name) against `cmd`.
 * With `parent` (a subcommand), the streams, common flags and payload are
 * taken from it. `argv` is reordered in place (operands gather at its start).
 */
void cli_args_init(cli_args *a, const cli_command *cmd, int argc, char **argv,
		   const cli_args *parent);

/**
 * The next option: its id (> 0), with a->value set when it takes one.
 * CLI_ARGS_END when the command line is read and its operands are right
 * (a->args, a->nargs; for a command with subcommands, a->next is the
 * subcommand's name, if any). CLI_ARGS_EXIT when help was printed
 * (a->exit 0) or a usage error was reported (a->exit FERRY_EXIT_USAGE):
 * the caller returns a->exit. Common flags are handled here, never returned.
 */
int cli_args_next(cli_args *a);

/**
 * Report a usage error: "ferry <name>: <message>" and the short usage on
 * a->err. Returns FERRY_EXIT_USAGE (also left in a->exit).
 */
int cli_args_error(cli_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * After the options of a command with subcommands: run the subcommand
 * named at a->next with the rest of argv. A missing or unknown subcommand
 * is a usage error. Returns the subcommand's exit code.
 */
int cli_dispatch(cli_args *a);

/** Print the command's full help (usage, description, options, subcommands). */
void cli_help(const cli_command *cmd, FILE *out);
/** Print the "usage: ..." lines of the command (and of its subcommands). */
void cli_usage(const cli_command *cmd, FILE *out);

#endif
