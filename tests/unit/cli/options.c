/*
 * The command-line parser of cli/options.c: the forms an option can take,
 * operands, usage errors (what they say, where, and exit 64), generated
 * help, and subcommand dispatch. Output goes to memory streams so that the
 * tests read what a user would see.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "cli.h"
#include "options.h"

enum { OPT_OUT = 1, OPT_FORCE, OPT_FORMAT, OPT_LEVEL, OPT_NAME };

static const cli_option test_options[] = {
	{ "out", 'o', "FILE", "where to write", OPT_OUT },
	{ "force", 'f', NULL, "replace what is there", OPT_FORCE },
	{ "format", 0, "FMT", "how to write", OPT_FORMAT },
	{ "level", 0, "N", "how hard to try, a long explanation that does not fit on one "
	  "line of the help and so is wrapped onto the next one", OPT_LEVEL },
	{ NULL, 'n', "NAME", "a short-only option", OPT_NAME },
	CLI_OPTION_JSON("print JSON"),
	CLI_OPTION_QUIET("say nothing"),
	CLI_OPTION_VERBOSE("say more"),
	CLI_OPTIONS_END
};

static const cli_command test_command = {
	.name = "frob",
	.synopsis = "[-o FILE] [--force] [--format FMT] [--level N] [-n NAME] [--json] [-q] [-v] "
		    "INPUT [MORE...]",
	.description = "Frobnicate INPUT.",
	.epilog = "Exit status: 0 ok.",
	.options = test_options,
	.operands = "INPUT [MORE...]",
};

static const cli_command one_operand = {
	.name = "one",
	.synopsis = "FILE",
	.operands = "FILE",
};

/* Memory streams for a parse, and what the parse returned. */
typedef struct {
	char *out, *err;
	size_t out_len, err_len;
	FILE *fout, *ferr;
	cli_args a;
	char *argv[16];
	int argc;
	int ids[16];
	const char *values[16];
	int nids;
	int last;
} run;

/* Parse the NULL-terminated words (argv[0] included) against cmd. */
static void parse(run *r, const cli_command *cmd, const char *const *words)
{
	int id;

	memset(r, 0, sizeof(*r));
	while (words[r->argc]) {
		r->argv[r->argc] = (char *)words[r->argc];
		r->argc++;
	}
	assert_non_null(r->fout = open_memstream(&r->out, &r->out_len));
	assert_non_null(r->ferr = open_memstream(&r->err, &r->err_len));
	cli_quiet = 0;
	cli_args_init(&r->a, cmd, r->argc, r->argv, NULL);
	r->a.out = r->fout;
	r->a.err = r->ferr;
	while ((id = cli_args_next(&r->a)) > 0) {
		r->ids[r->nids] = id;
		r->values[r->nids++] = r->a.value;
	}
	r->last = id;
	fflush(r->fout);
	fflush(r->ferr);
}

static int starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

static void done(run *r)
{
	fclose(r->fout);
	fclose(r->ferr);
	free(r->out);
	free(r->err);
}

#define PARSE(r, cmd, ...) parse(r, cmd, (const char *const[]){ __VA_ARGS__, NULL })

static void test_cli_options__reads_every_form_of_an_option(void **state)
{
	run r;

	(void)state;
	PARSE(&r, &test_command, "frob", "--out", "a", "--out=b", "-o", "c", "-od", "--level=",
	      "-fn", "x", "in");
	assert_int_equal(r.last, CLI_ARGS_END);
	assert_int_equal(r.nids, 7);
	assert_int_equal(r.ids[0], OPT_OUT);
	assert_string_equal(r.values[0], "a");
	assert_string_equal(r.values[1], "b");
	assert_string_equal(r.values[2], "c");
	assert_string_equal(r.values[3], "d");
	assert_int_equal(r.ids[4], OPT_LEVEL);
	assert_string_equal(r.values[4], "");
	assert_int_equal(r.ids[5], OPT_FORCE);
	assert_null(r.values[5]);
	assert_int_equal(r.ids[6], OPT_NAME);
	assert_string_equal(r.values[6], "x");
	assert_int_equal(r.a.nargs, 1);
	assert_string_equal(r.a.args[0], "in");
	assert_int_equal(r.out_len + r.err_len, 0);
	done(&r);
}

static void test_cli_options__takes_a_unique_prefix_and_values_that_look_like_options(
	void **state)
{
	run r;

	(void)state;
	PARSE(&r, &test_command, "frob", "--lev", "-1", "--forc", "--out", "-", "in");
	assert_int_equal(r.last, CLI_ARGS_END);
	assert_int_equal(r.nids, 3);
	assert_int_equal(r.ids[0], OPT_LEVEL);
	assert_string_equal(r.values[0], "-1");
	assert_int_equal(r.ids[1], OPT_FORCE);
	assert_string_equal(r.values[2], "-");
	done(&r);
}

static void test_cli_options__gathers_operands_around_options_and_after_dashdash(
	void **state)
{
	run r;

	(void)state;
	PARSE(&r, &test_command, "frob", "one", "-f", "two", "--level", "3", "--", "-o", "-",
	      "--force");
	assert_int_equal(r.last, CLI_ARGS_END);
	assert_int_equal(r.nids, 2);
	assert_int_equal(r.a.nargs, 5);
	assert_string_equal(r.a.args[0], "one");
	assert_string_equal(r.a.args[1], "two");
	assert_string_equal(r.a.args[2], "-o");
	assert_string_equal(r.a.args[3], "-");
	assert_string_equal(r.a.args[4], "--force");
	done(&r);
}

static void test_cli_options__sets_the_common_flags(void **state)
{
	run r;

	(void)state;
	PARSE(&r, &test_command, "frob", "--json", "-qv", "in");
	assert_int_equal(r.last, CLI_ARGS_END);
	assert_int_equal(r.nids, 0);
	assert_true(r.a.common.json && r.a.common.quiet && r.a.common.verbose);
	assert_int_equal(cli_quiet, 1);
	done(&r);
	PARSE(&r, &test_command, "frob", "in");
	assert_false(r.a.common.json || r.a.common.quiet || r.a.common.verbose);
	assert_int_equal(cli_quiet, 0);
	done(&r);
}

/* Nothing on stdout; stderr says `message`, then the usage. */
static void expect_usage_text(run *r, const char *message)
{
	assert_int_equal(r->out_len, 0);
	assert_non_null(r->err);
	if (!strstr(r->err, message))
		fail_msg("stderr lacks '%s': %s", message, r->err);
	assert_non_null(strstr(r->err, "\nusage: ferry "));
}

/* The parse stopped at a usage error (exit 64) that says `message`. */
static void expect_usage_error(run *r, const char *message)
{
	assert_int_equal(r->last, CLI_ARGS_EXIT);
	assert_int_equal(r->a.exit, FERRY_EXIT_USAGE);
	expect_usage_text(r, message);
}

static void test_cli_options__reports_usage_errors(void **state)
{
	run r;

	(void)state;
	PARSE(&r, &test_command, "frob", "--bogus", "in");
	expect_usage_error(&r, "ferry frob: bad option '--bogus': no such option\n");
	assert_string_equal(strstr(r.err, "usage:"),
			    "usage: ferry frob [-o FILE] [--force] [--format FMT] [--level N] "
			    "[-n NAME]\n                  [--json] [-q] [-v] INPUT [MORE...]\n");
	done(&r);
	PARSE(&r, &test_command, "frob", "in", "-x");
	expect_usage_error(&r, "ferry frob: bad option '-x': no such option\n");
	done(&r);
	PARSE(&r, &test_command, "frob", "in", "--out");
	expect_usage_error(&r, "ferry frob: bad option '--out': needs FILE\n");
	done(&r);
	PARSE(&r, &test_command, "frob", "in", "-o");
	expect_usage_error(&r, "ferry frob: bad option '-o': needs FILE\n");
	done(&r);
	PARSE(&r, &test_command, "frob", "in", "--force=yes");
	expect_usage_error(&r, "ferry frob: bad option '--force': takes no value\n");
	done(&r);
	PARSE(&r, &test_command, "frob", "in", "--fo");
	expect_usage_error(&r, "ferry frob: bad option '--fo': ambiguous\n");
	done(&r);
	PARSE(&r, &test_command, "frob", "--force");
	expect_usage_error(&r, "ferry frob: missing INPUT [MORE...]\n");
	assert_int_equal(r.nids, 1);
	done(&r);
	PARSE(&r, &one_operand, "one", "a", "b");
	expect_usage_error(&r, "ferry one: unexpected argument 'b'\n");
	done(&r);
	PARSE(&r, &one_operand, "one");
	expect_usage_error(&r, "ferry one: missing FILE\n");
	done(&r);
}

static void test_cli_options__a_command_reports_its_own_usage_errors_alike(void **state)
{
	run r;
	int rc;

	(void)state;
	PARSE(&r, &test_command, "frob", "in", "--level", "x");
	assert_int_equal(r.last, CLI_ARGS_END);
	rc = cli_args_error(&r.a, "invalid --level '%s'", r.values[0]);
	fflush(r.ferr);
	assert_int_equal(rc, FERRY_EXIT_USAGE);
	assert_int_equal(r.a.exit, FERRY_EXIT_USAGE);
	assert_true(starts_with(r.err, "ferry frob: invalid --level 'x'\nusage: ferry frob "));
	done(&r);
}

static void test_cli_options__prints_help_with_every_option(void **state)
{
	const cli_option *o;
	char flag[64];
	run r;

	(void)state;
	PARSE(&r, &test_command, "frob", "--bogus-but-later", "--help");
	expect_usage_error(&r, "bad option '--bogus-but-later'");
	done(&r);
	PARSE(&r, &test_command, "frob", "-f", "--help", "--bogus");
	assert_int_equal(r.last, CLI_ARGS_EXIT);
	assert_int_equal(r.a.exit, FERRY_EXIT_OK);
	assert_int_equal(r.err_len, 0);
	assert_true(starts_with(r.out, "usage: ferry frob [-o FILE] "));
	assert_non_null(strstr(r.out, "\nFrobnicate INPUT.\n"));
	assert_non_null(strstr(r.out, "\n  -o, --out FILE    where to write\n"));
	assert_non_null(strstr(r.out, "\n  -f, --force       replace what is there\n"));
	assert_non_null(strstr(r.out, "\n      --format FMT  how to write\n"));
	assert_non_null(strstr(r.out, "\n      --level N     how hard to try, a long "
				      "explanation that does not fit on\n"
				      "                    one line of the help and so is wrapped "
				      "onto the next one\n"));
	assert_non_null(strstr(r.out, "\n  -n NAME           a short-only option\n"));
	assert_non_null(strstr(r.out, "\n      --json        print JSON\n"));
	assert_non_null(strstr(r.out, "\n  -q, --quiet       say nothing\n"));
	assert_non_null(strstr(r.out, "\nExit status: 0 ok.\n"));
	for (o = test_options; o->name || o->letter; o++) {
		if (o->name)
			snprintf(flag, sizeof(flag), "--%s", o->name);
		else
			snprintf(flag, sizeof(flag), "-%c", o->letter);
		if (!strstr(r.out, flag))
			fail_msg("help lacks %s:\n%s", flag, r.out);
		assert_non_null(strstr(r.out, o->help + strlen(o->help) - 8));
	}
	done(&r);
	PARSE(&r, &test_command, "frob", "-h");
	assert_int_equal(r.a.exit, FERRY_EXIT_OK);
	assert_true(starts_with(r.out, "usage: ferry frob "));
	done(&r);
}

/* ---- subcommands -------------------------------------------------------- */

enum { OPT_STORE = 10, OPT_ALL };

static int called;
static char called_with[64];

static int sub_run(int argc, char **argv, cli_args *parent)
{
	static const cli_option opts[] = {
		{ "all", 0, NULL, "everything", OPT_ALL },
		{ "store", 0, "DIR", "the store", OPT_STORE },
		CLI_OPTIONS_END
	};
	static const cli_command ls_cmd = {
		.name = "box ls", .synopsis = "[--all] [--store DIR] [NAME]",
		.options = opts, .operands = "[NAME]",
	};
	cli_args a;
	int id;

	called++;
	cli_args_init(&a, &ls_cmd, argc, argv, parent);
	snprintf(called_with, sizeof(called_with), "%s %s %d", parent->sub->name, argv[0],
		 argc);
	while ((id = cli_args_next(&a)) > 0)
		if (id == OPT_STORE)
			strncat(called_with, a.value, sizeof(called_with) - strlen(called_with) - 1);
	if (id < 0)
		return a.exit;
	return a.common.json ? 7 : 3;
}

static const cli_command box_ls = {
	.name = "box ls",
	.summary = "list what the box holds",
	.synopsis = "[--all] [--store DIR] [NAME]",
	.run = sub_run,
};
static const cli_command box_empty_out = {
	.name = "box empty-out",
	.summary = "take everything out of the box, a summary long enough to be wrapped "
		   "onto a second line of the list",
	.synopsis = "[--store DIR]",
	.run = sub_run,
};
static const cli_command *const box_subs[] = { &box_ls, &box_empty_out, NULL };
static const cli_option box_options[] = {
	CLI_OPTION_JSON("print JSON"),
	CLI_OPTIONS_END
};
static const cli_command box_command = {
	.name = "box",
	.description = "Keep things in a box.",
	.options = box_options,
	.subcommands = box_subs,
};

/* Parse the box's own options, then dispatch; the exit code. */
static int dispatch(run *r, const char *const *words)
{
	int rc;

	called = 0;
	called_with[0] = '\0';
	parse(r, &box_command, words);
	rc = r->last < 0 ? r->a.exit : cli_dispatch(&r->a);
	fflush(r->fout);
	fflush(r->ferr);
	return rc;
}

#define DISPATCH(r, ...) dispatch(r, (const char *const[]){ __VA_ARGS__, NULL })

static void test_cli_options__dispatches_subcommands(void **state)
{
	run r;

	(void)state;
	assert_int_equal(DISPATCH(&r, "box", "ls", "--store", "s", "name"), 3);
	assert_int_equal(called, 1);
	assert_string_equal(called_with, "box ls ls 4s");
	done(&r);
	/* The parent's common flags reach the subcommand. */
	assert_int_equal(DISPATCH(&r, "box", "--json", "empty-out", "--store=t"), 7);
	assert_string_equal(called_with, "box empty-out empty-out 2t");
	done(&r);
	/* The subcommand's options are its own. */
	assert_int_equal(DISPATCH(&r, "box", "--store", "s", "ls"), FERRY_EXIT_USAGE);
	assert_int_equal(called, 0);
	expect_usage_text(&r, "ferry box: bad option '--store': no such option\n");
	done(&r);
	assert_int_equal(DISPATCH(&r, "box", "ls", "--nope"), FERRY_EXIT_USAGE);
	assert_int_equal(called, 1);
	expect_usage_text(&r, "ferry box ls: bad option '--nope': no such option\n");
	assert_non_null(strstr(r.err, "\nusage: ferry box ls [--all] [--store DIR] [NAME]\n"));
	done(&r);
	assert_int_equal(DISPATCH(&r, "box", "ls", "a", "b"), FERRY_EXIT_USAGE);
	expect_usage_text(&r, "ferry box ls: unexpected argument 'b'\n");
	done(&r);
}

static void test_cli_options__refuses_a_missing_or_unknown_subcommand(void **state)
{
	run r;

	(void)state;
	assert_int_equal(DISPATCH(&r, "box", "frob", "--store", "s"), FERRY_EXIT_USAGE);
	assert_int_equal(called, 0);
	expect_usage_text(&r, "ferry box: unknown subcommand 'frob'\n");
	assert_non_null(strstr(r.err, "\nusage: ferry box ls [--all] [--store DIR] [NAME]\n"
				      "       ferry box empty-out [--store DIR]\n"));
	done(&r);
	assert_int_equal(DISPATCH(&r, "box", "--json"), FERRY_EXIT_USAGE);
	expect_usage_text(&r, "ferry box: needs a subcommand\n");
	done(&r);
}

static void test_cli_options__lists_subcommands_in_help(void **state)
{
	run r;

	(void)state;
	assert_int_equal(DISPATCH(&r, "box", "--help", "ls"), FERRY_EXIT_OK);
	assert_int_equal(called, 0);
	assert_int_equal(r.err_len, 0);
	assert_string_equal(r.out,
		"usage: ferry box ls [--all] [--store DIR] [NAME]\n"
		"       ferry box empty-out [--store DIR]\n"
		"\n"
		"Keep things in a box.\n"
		"\n"
		"options:\n"
		"  --json  print JSON\n"
		"\n"
		"subcommands:\n"
		"  ls         list what the box holds\n"
		"  empty-out  take everything out of the box, a summary long enough to be\n"
		"             wrapped onto a second line of the list\n"
		"\n"
		"'ferry box <subcommand> --help' describes a subcommand.\n");
	done(&r);
	/* A subcommand's help is its own. */
	assert_int_equal(DISPATCH(&r, "box", "ls", "--help"), FERRY_EXIT_OK);
	assert_int_equal(called, 1);
	assert_true(starts_with(r.out, "usage: ferry box ls [--all] [--store DIR] [NAME]\n\n"
				       "options:\n  --all        everything\n"));
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_options__reads_every_form_of_an_option),
		cmocka_unit_test(
			test_cli_options__takes_a_unique_prefix_and_values_that_look_like_options),
		cmocka_unit_test(
			test_cli_options__gathers_operands_around_options_and_after_dashdash),
		cmocka_unit_test(test_cli_options__sets_the_common_flags),
		cmocka_unit_test(test_cli_options__reports_usage_errors),
		cmocka_unit_test(test_cli_options__a_command_reports_its_own_usage_errors_alike),
		cmocka_unit_test(test_cli_options__prints_help_with_every_option),
		cmocka_unit_test(test_cli_options__dispatches_subcommands),
		cmocka_unit_test(test_cli_options__refuses_a_missing_or_unknown_subcommand),
		cmocka_unit_test(test_cli_options__lists_subcommands_in_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
