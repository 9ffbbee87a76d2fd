/*
 * The command-line parser every ferry command uses. A command declares its
 * options, operands and subcommands in a table (options.h); this file reads
 * argv against it and prints the command's help and usage from it, so that
 * every command accepts the same forms (--opt=value, --opt value, -o value,
 * -qv, a unique prefix of a long option, options after operands, "--") and
 * reports usage errors the same way. It is a small hand-written parser
 * rather than getopt_long so that it keeps no global state, names the
 * offending word in each error, and stops at a subcommand's name.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "banned.h"

#define WIDTH 80          /* help lines stay shorter than this */
#define OPTION_COLUMN 28  /* the widest an option's left column grows */

static const cli_option help_option = { "help", 'h', NULL, "show this help", 0 };

/*
 * Print `len` bytes of `text` from column `col`, breaking at spaces onto
 * lines indented by `indent` before WIDTH; with `brackets`, never inside
 * [...] (a synopsis). Ends the line.
 */
static void wrap(FILE *out, const char *text, size_t len, size_t col, size_t indent,
		 int brackets)
{
	const char *p = text, *end = text + len;
	int first = 1;

	while (p < end) {
		const char *w = p;
		int depth = 0;

		while (w < end && (*w != ' ' || depth > 0)) {
			if (brackets && *w == '[')
				depth++;
			else if (brackets && *w == ']')
				depth--;
			w++;
		}
		if (!first && col + 1 + (size_t)(w - p) >= WIDTH) {
			fprintf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', out);
			col++;
		}
		fwrite(p, 1, (size_t)(w - p), out);
		col += (size_t)(w - p);
		first = 0;
		for (p = w; p < end && *p == ' '; p++)
			;
	}
	fputc('\n', out);
}

static int has_options(const cli_option *o)
{
	return o && (o->name || o->letter);
}

/* "-q, --quiet", "    --store DIR", "-o FILE" into buf; its length. */
static size_t option_label(char *buf, size_t size, const cli_option *o, int any_short)
{
	int n;

	if (o->name && o->letter)
		n = snprintf(buf, size, "-%c, --%s", o->letter, o->name);
	else if (o->name)
		n = snprintf(buf, size, "%s--%s", any_short ? "    " : "", o->name);
	else
		n = snprintf(buf, size, "-%c", o->letter);
	if (o->arg && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " %s", o->arg);
	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

static void print_options(const cli_option *opts, FILE *out)
{
	const cli_option *o;
	size_t width = 0, len, col;
	int any_short = 0;
	char label[96];

	for (o = opts; has_options(o); o++)
		any_short |= o->letter != 0;
	for (o = opts; has_options(o); o++)
		if ((len = option_label(label, sizeof(label), o, any_short)) <= OPTION_COLUMN &&
		    len > width)
			width = len;
	col = 2 + width + 2;
	for (o = opts; has_options(o); o++) {
		len = option_label(label, sizeof(label), o, any_short);
		if (len > width)
			fprintf(out, "  %s\n%*s", label, (int)col, "");
		else
			fprintf(out, "  %-*s  ", (int)width, label);
		wrap(out, o->help, strlen(o->help), col, col, 0);
	}
}

/* The word that runs a subcommand: the last of its name. */
static const char *sub_word(const cli_command *cmd)
{
	const char *space = strrchr(cmd->name, ' ');

	return space ? space + 1 : cmd->name;
}

static void usage_lines(const cli_command *cmd, FILE *out, int *first)
{
	const char *p = cmd->synopsis;
	size_t len, col;

	do {
		len = p ? strcspn(p, "\n") : 0;
		col = (size_t)fprintf(out, "%sferry %s", *first ? "usage: " : "       ",
				      cmd->name);
		*first = 0;
		if (len) {
			fputc(' ', out);
			wrap(out, p, len, col + 1, col + 1, 1);
		} else {
			fputc('\n', out);
		}
		p = p && p[len] ? p + len + 1 : NULL;
	} while (p);
}

void cli_usage(const cli_command *cmd, FILE *out)
{
	const cli_command *const *s;
	int first = 1;

	if (cmd->synopsis || !cmd->subcommands)
		usage_lines(cmd, out, &first);
	for (s = cmd->subcommands; s && *s; s++)
		usage_lines(*s, out, &first);
}

void cli_help(const cli_command *cmd, FILE *out)
{
	const cli_command *const *s;
	size_t width = 0;

	cli_usage(cmd, out);
	if (cmd->description)
		fprintf(out, "\n%s\n", cmd->description);
	else if (cmd->summary)     /* "list the targets" -> "List the targets." */
		fprintf(out, "\n%c%s.\n", toupper((unsigned char)cmd->summary[0]),
			cmd->summary + 1);
	if (has_options(cmd->options)) {
		fputs("\noptions:\n", out);
		print_options(cmd->options, out);
	}
	if (cmd->subcommands) {
		for (s = cmd->subcommands; *s; s++)
			if (strlen(sub_word(*s)) > width)
				width = strlen(sub_word(*s));
		fputs("\nsubcommands:\n", out);
		for (s = cmd->subcommands; *s; s++) {
			fprintf(out, "  %-*s  ", (int)width, sub_word(*s));
			wrap(out, (*s)->summary ? (*s)->summary : "",
			     (*s)->summary ? strlen((*s)->summary) : 0, width + 4, width + 4, 0);
		}
		fprintf(out, "\n'ferry %s <subcommand> --help' describes a subcommand.\n",
			cmd->name);
	}
	if (cmd->epilog)
		fprintf(out, "\n%s\n", cmd->epilog);
}

void cli_args_init(cli_args *a, const cli_command *cmd, int argc, char **argv,
		   const cli_args *parent)
{
	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	a->argc = argc;
	a->argv = argv;
	a->next = 1;
	a->args = argv + 1;
	a->out = parent ? parent->out : stdout;
	a->err = parent ? parent->err : stderr;
	if (parent) {
		a->common = parent->common;
		a->payload = parent->payload;
	}
}

int cli_args_error(cli_args *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(a->err, "ferry %s: ", a->cmd->name);
	va_start(ap, fmt);
	vfprintf(a->err, fmt, ap);
	va_end(ap);
	fputc('\n', a->err);
	cli_usage(a->cmd, a->err);
	a->exit = FERRY_EXIT_USAGE;
	return FERRY_EXIT_USAGE;
}

/* The option `name` (its first `len` bytes) names: exact, else a unique prefix. */
static const cli_option *find_long(const cli_option *opts, const char *name, size_t len,
				   int *ambiguous)
{
	const cli_option *o, *found = NULL;
	int n = 0;

	*ambiguous = 0;
	for (o = opts; has_options(o); o++) {
		if (!o->name || strncmp(o->name, name, len))
			continue;
		if (!o->name[len])
			return o;
		found = o;
		n++;
	}
	if (len == 4 && !strncmp(name, "help", 4))
		return &help_option;
	*ambiguous = n > 1;
	return n == 1 ? found : NULL;
}

static const cli_option *find_short(const cli_option *opts, char letter)
{
	const cli_option *o;

	for (o = opts; has_options(o); o++)
		if (o->letter == letter)
			return o;
	return letter == 'h' ? &help_option : NULL;
}

/* Hand over option `o`: its id (> 0), 0 for a common flag, or CLI_ARGS_EXIT. */
static int deliver(cli_args *a, const cli_option *o, const char *value)
{
	if (o == &help_option) {
		cli_help(a->cmd, a->out);
		a->exit = FERRY_EXIT_OK;
		return CLI_ARGS_EXIT;
	}
	switch (o->id) {
	case CLI_OPT_JSON: a->common.json = 1; return 0;
	case CLI_OPT_QUIET: a->common.quiet = cli_quiet = 1; return 0;
	case CLI_OPT_VERBOSE: a->common.verbose = 1; return 0;
	}
	a->opt = o;
	a->value = value;
	return o->id;
}

/* The operand counts `spec` allows; max -1: no limit. */
static void operand_bounds(const char *spec, int *min, int *max)
{
	const char *p = spec, *dots;
	size_t len;

	*min = *max = 0;
	while (p && *p) {
		len = strcspn(p, " ");
		if (*p != '[')
			(*min)++;
		if (*max >= 0)
			(*max)++;
		if ((dots = strstr(p, "...")) && dots < p + len)
			*max = -1;
		p += len;
		p += strspn(p, " ");
	}
}

/* The command line is read: check the operands. */
static int finish(cli_args *a)
{
	const char *what = a->cmd->operands_error;
	int min, max;

	if (a->cmd->subcommands)
		return CLI_ARGS_END;
	operand_bounds(a->cmd->operands, &min, &max);
	if (a->nargs >= min && (max < 0 || a->nargs <= max))
		return CLI_ARGS_END;
	if (what)
		cli_args_error(a, "%s", what);
	else if (a->nargs < min)
		cli_args_error(a, "missing %s", a->cmd->operands);
	else
		cli_args_error(a, "unexpected argument '%s'", a->args[max]);
	return CLI_ARGS_EXIT;
}

/* A short option from the current group. */
static int next_short(cli_args *a)
{
	char letter = *a->cluster++;
	const cli_option *o = find_short(a->cmd->options, letter);
	const char *value = NULL;

	if (!o) {
		cli_args_error(a, "bad option '-%c': no such option", letter);
		return CLI_ARGS_EXIT;
	}
	if (o->arg && *a->cluster) {
		value = a->cluster;
		a->cluster = NULL;
	} else if (o->arg) {
		if (a->next >= a->argc) {
			cli_args_error(a, "bad option '-%c': needs %s", letter, o->arg);
			return CLI_ARGS_EXIT;
		}
		value = a->argv[a->next++];
	}
	return deliver(a, o, value);
}

/* The long option in `arg` ("--name" or "--name=value"). */
static int next_long(cli_args *a, const char *arg)
{
	const char *name = arg + 2;
	size_t len = strcspn(name, "=");
	const cli_option *o;
	const char *value = NULL;
	int ambiguous;

	if (!(o = find_long(a->cmd->options, name, len, &ambiguous))) {
		cli_args_error(a, "bad option '--%.*s': %s", (int)len, name,
			       ambiguous ? "ambiguous" : "no such option");
		return CLI_ARGS_EXIT;
	}
	if (name[len] == '=') {
		if (!o->arg) {
			cli_args_error(a, "bad option '--%s': takes no value", o->name);
			return CLI_ARGS_EXIT;
		}
		value = name + len + 1;
	} else if (o->arg) {
		if (a->next >= a->argc) {
			cli_args_error(a, "bad option '--%s': needs %s", o->name, o->arg);
			return CLI_ARGS_EXIT;
		}
		value = a->argv[a->next++];
	}
	return deliver(a, o, value);
}

int cli_args_next(cli_args *a)
{
	const char *arg;
	int id;

	a->opt = NULL;
	a->value = NULL;
	for (;;) {
		if (a->cluster && *a->cluster) {
			if ((id = next_short(a)) != 0)
				return id;
			continue;
		}
		a->cluster = NULL;
		if (a->next >= a->argc)
			return finish(a);
		arg = a->argv[a->next];
		if (a->operands_only || arg[0] != '-' || !arg[1]) {
			if (a->cmd->subcommands)
				return CLI_ARGS_END;
			a->args[a->nargs++] = a->argv[a->next++];
			continue;
		}
		a->next++;
		if (!strcmp(arg, "--"))
			a->operands_only = 1;
		else if (arg[1] != '-')
			a->cluster = arg + 1;
		else if ((id = next_long(a, arg)) != 0)
			return id;
	}
}

int cli_dispatch(cli_args *a)
{
	const cli_command *const *s;
	const char *name;

	if (a->next >= a->argc)
		return cli_args_error(a, "needs a subcommand");
	name = a->argv[a->next];
	for (s = a->cmd->subcommands; s && *s; s++) {
		if (strcmp(sub_word(*s), name))
			continue;
		a->sub = *s;
		return (*s)->run(a->argc - a->next, a->argv + a->next, a);
	}
	return cli_args_error(a, "unknown subcommand '%s'", name);
}
