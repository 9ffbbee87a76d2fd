/*
 * ferry trust: install, show and rotate the store's trust root, and make
 * and sign root files for a rotation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "alloc.h"
#include "catalog.h"
#include "cli.h"
#include "envelope.h"
#include "fs.h"
#include "trust.h"
#include "util.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_KEY, OPT_THRESHOLD, OPT_EXPIRES, OPT_VERSION, OPT_SIGN,
       OPT_OUTPUT };

#define OPTION_KEY { "key", 0, "PUB", "a public key of the root (repeatable)", OPT_KEY }
#define OPTION_THRESHOLD \
	{ "threshold", 0, "N", "keys that must sign each bundle (default 1)", OPT_THRESHOLD }
#define OPTION_EXPIRES \
	{ "expires", 0, "WHEN", "a duration (365d) or a time (default 365d)", OPT_EXPIRES }
#define OPTION_JSON CLI_OPTION_JSON("print the root as JSON")

static const cli_option init_options[] = {
	CLI_OPTION_STORE(OPT_STORE), OPTION_KEY, OPTION_THRESHOLD, OPTION_EXPIRES, OPTION_JSON,
	CLI_OPTIONS_END
};
static const cli_option show_options[] = {
	CLI_OPTION_STORE(OPT_STORE), OPTION_JSON, CLI_OPTIONS_END
};
static const cli_option create_options[] = {
	{ NULL, 'o', "FILE", "where to write the root file", OPT_OUTPUT },
	{ "version", 0, "N", "the new root's version", OPT_VERSION },
	OPTION_KEY, OPTION_THRESHOLD, OPTION_EXPIRES,
	{ "sign", 0, "KEY", "a secret key that signs the root file (repeatable)", OPT_SIGN },
	CLI_OPTIONS_END
};
static const cli_option sign_options[] = {
	{ "sign", 0, "KEY", "the secret key that adds its signature", OPT_SIGN },
	CLI_OPTIONS_END
};
static const cli_option rotate_options[] = {
	CLI_OPTION_STORE(OPT_STORE), OPTION_JSON, CLI_OPTIONS_END
};

static int trust_init(int argc, char **argv, cli_args *parent);
static int trust_show(int argc, char **argv, cli_args *parent);
static int trust_create(int argc, char **argv, cli_args *parent);
static int trust_sign(int argc, char **argv, cli_args *parent);
static int trust_rotate(int argc, char **argv, cli_args *parent);

static const cli_command init_command = {
	.name = "trust init",
	.summary = "install version 1 of the trust root in a store (creating it)",
	.synopsis = "[--store DIR] --key PUB [--key PUB]... [--threshold N] [--expires WHEN] "
		    "[--json]",
	.description =
		"Create the store where there is none and install version 1 of its trust\n"
		"root: the keys given, the threshold and the expiry. A store has one first\n"
		"root; after that it changes only through 'ferry trust rotate'.",
	.options = init_options,
	.run = trust_init,
};
static const cli_command show_command = {
	.name = "trust show",
	.summary = "print the store's current trust root",
	.synopsis = "[--store DIR] [--json]",
	.options = show_options,
	.run = trust_show,
};
static const cli_command create_command = {
	.name = "trust create",
	.summary = "write a new trust root file, signed by each --sign key",
	.synopsis = "-o FILE --version N --key PUB [--key PUB]... [--threshold N] "
		    "[--expires WHEN] --sign KEY [--sign KEY]...",
	.description =
		"Write a root file (a signed envelope) for a rotation. It does not touch a\n"
		"store; run it where the secret keys are.",
	.options = create_options,
	.run = trust_create,
};
static const cli_command sign_command = {
	.name = "trust sign",
	.summary = "add one more signature to a root file",
	.synopsis = "FILE --sign KEY",
	.description = "Add a signature to a root file in place, so that each key holder\n"
		       "can sign on their own machine.",
	.options = sign_options,
	.operands = "FILE",
	.run = trust_sign,
};
static const cli_command rotate_command = {
	.name = "trust rotate",
	.summary = "replace the store's trust root with a signed successor",
	.synopsis = "[--store DIR] [--json] FILE",
	.description =
		"Install the root FILE when its version is exactly one higher than the\n"
		"current root's and it is signed by a threshold of the current keys and a\n"
		"threshold of its own keys.",
	.options = rotate_options,
	.operands = "FILE",
	.run = trust_rotate,
};

static const cli_command *const trust_subcommands[] = {
	&init_command, &show_command, &create_command, &sign_command, &rotate_command, NULL
};

static const cli_command trust_command = {
	.name = "trust",
	.description =
		"The trust root names the keys that sign bundles and how many of them must\n"
		"(the threshold). 'init' installs version 1 in a store. A new root\n"
		"(made with 'create', completed with 'sign') replaces it only through\n"
		"'rotate', when its version is exactly one higher and it is signed by a\n"
		"threshold of the current keys and a threshold of its own keys. Revoke a\n"
		"key by rotating to a root without it.",
	.subcommands = trust_subcommands,
};

/* A subcommand's command line and what it holds. */
typedef struct {
	cli_args a;
	const char *store, *out, *expires;
	uint64_t threshold, version;
	cli_pubkeys keys;
	ferry_key **sign;
	size_t nsign, alloc_sign;
	ferry_store *st;
	ferry_trust_root *root;
	ferry_buf buf, file;
} trust_args;

/* Read a subcommand's command line into t: -1 to go on, else the exit code
 * to return (help was printed, or an error reported). */
static int parse(trust_args *t, const cli_command *cmd, int argc, char **argv,
		 cli_args *parent)
{
	int id, error;

	memset(t, 0, sizeof(*t));
	cli_args_init(&t->a, cmd, argc, argv, parent);
	while ((id = cli_args_next(&t->a)) > 0) {
		const char *v = t->a.value;

		switch (id) {
		case OPT_STORE: t->store = v; break;
		case OPT_OUTPUT: t->out = v; break;
		case OPT_EXPIRES: t->expires = v; break;
		case OPT_KEY:
			if ((error = cli_pubkeys_add(&t->keys, v)) < 0)
				return cli_fail("trust", error);
			break;
		case OPT_THRESHOLD:
			if (ferry_parse_u64(&t->threshold, v) < 0 || !t->threshold)
				return cli_args_error(&t->a, "invalid --threshold '%s'", v);
			break;
		case OPT_VERSION:
			if (ferry_parse_u64(&t->version, v) < 0 || !t->version)
				return cli_args_error(&t->a, "invalid --version '%s'", v);
			break;
		case OPT_SIGN:
			if (FERRY_ALLOC_GROW(t->sign, t->nsign + 1, t->alloc_sign) < 0)
				return FERRY_EXIT_FAILURE;
			if ((error = ferry_key_load(&t->sign[t->nsign], v)) < 0)
				return cli_fail("trust", error);
			t->nsign++;
			break;
		}
	}
	return id < 0 ? t->a.exit : -1;
}

/* Free what t holds; returns rc. */
static int dispose(trust_args *t, int rc)
{
	size_t i;

	ferry_trust_root_free(t->root);
	ferry_store_close(t->st);
	cli_pubkeys_dispose(&t->keys);
	for (i = 0; i < t->nsign; i++)
		ferry_key_free(t->sign[i]);
	free(t->sign);
	ferry_buf_dispose(&t->buf);
	ferry_buf_dispose(&t->file);
	return rc;
}

static int make_root(ferry_trust_root **out, trust_args *a, uint64_t version)
{
	int64_t expires;
	int error;

	if (cli_parse_expires(&expires, a->expires) < 0)
		return cli_args_error(&a->a, "invalid --expires '%s'", a->expires);
	if (expires <= (int64_t)time(NULL))
		return cli_args_error(&a->a, "--expires '%s' is not in the future", a->expires);
	if ((error = ferry_trust_root_new(out, version, expires,
					  a->threshold ? (unsigned)a->threshold : 1,
					  a->keys.keys, a->keys.n)) < 0)
		return cli_fail("trust", error);
	return FERRY_EXIT_OK;
}

static void show(const ferry_trust_root *r, int json)
{
	char when[32];
	size_t i;

	ferry_time_format(when, sizeof(when), r->expires);
	if (json) {
		json_t *keys = json_array();
		json_t *o;

		for (i = 0; i < r->nkeys; i++)
			json_array_append_new(keys, json_string(ferry_pubkey_id(r->keys[i])));
		o = json_pack("{s:I,s:s,s:i,s:o}", "version", (json_int_t)r->version,
			      "expires", when, "threshold", (int)r->threshold, "keys", keys);
		cli_print_json(o);
		return;
	}
	printf("trust root version %llu, expires %s\nthreshold %u of %zu key(s):\n",
	       (unsigned long long)r->version, when, r->threshold, r->nkeys);
	for (i = 0; i < r->nkeys; i++)
		printf("  %s\n", ferry_pubkey_id(r->keys[i]));
}

int cmd_trust(int argc, char **argv)
{
	cli_args a;

	cli_args_init(&a, &trust_command, argc, argv, NULL);
	return cli_args_next(&a) < 0 ? a.exit : cli_dispatch(&a);
}

static int trust_init(int argc, char **argv, cli_args *parent)
{
	trust_args t;
	int rc, error;

	if ((rc = parse(&t, &init_command, argc, argv, parent)) >= 0)
		return dispose(&t, rc);
	if (!t.keys.n)
		return dispose(&t, cli_args_error(&t.a, "needs --key"));
	if ((rc = make_root(&t.root, &t, 1)) != FERRY_EXIT_OK)
		return dispose(&t, rc);
	if ((error = ferry_store_open(&t.st, cli_store_path(t.store), FERRY_STORE_CREATE,
				      1)) < 0 ||
	    (error = ferry_trust_init(t.st, t.root)) < 0)
		return dispose(&t, cli_fail("trust", error));
	show(t.root, t.a.common.json);
	return dispose(&t, FERRY_EXIT_OK);
}

static int trust_show(int argc, char **argv, cli_args *parent)
{
	trust_args t;
	int rc, error;

	if ((rc = parse(&t, &show_command, argc, argv, parent)) >= 0)
		return dispose(&t, rc);
	if ((error = ferry_store_open(&t.st, cli_store_path(t.store), FERRY_STORE_READ,
				      0)) < 0 ||
	    (error = ferry_trust_current(&t.root, t.st)) < 0)
		return dispose(&t, cli_fail("trust", error));
	show(t.root, t.a.common.json);
	return dispose(&t, FERRY_EXIT_OK);
}

static int trust_create(int argc, char **argv, cli_args *parent)
{
	trust_args t;
	int rc, error;

	if ((rc = parse(&t, &create_command, argc, argv, parent)) >= 0)
		return dispose(&t, rc);
	if (!t.out || !t.version || !t.keys.n || !t.nsign)
		return dispose(&t, cli_args_error(&t.a, "needs -o, --version, --key and "
						   "--sign"));
	if ((rc = make_root(&t.root, &t, t.version)) != FERRY_EXIT_OK)
		return dispose(&t, rc);
	if ((error = ferry_trust_root_file(&t.buf, t.root, t.sign, t.nsign)) < 0 ||
	    (error = ferry_fs_write_output(t.out, t.buf.ptr, t.buf.size, 0644)) < 0)
		return dispose(&t, cli_fail("trust", error));
	printf("wrote %s: trust root version %llu signed by %zu key(s)\n", t.out,
	       (unsigned long long)t.version, t.nsign);
	return dispose(&t, FERRY_EXIT_OK);
}

static int trust_sign(int argc, char **argv, cli_args *parent)
{
	trust_args t;
	const char *path;
	int rc, error;

	if ((rc = parse(&t, &sign_command, argc, argv, parent)) >= 0)
		return dispose(&t, rc);
	if (t.nsign != 1)
		return dispose(&t, cli_args_error(&t.a, "needs one --sign KEY"));
	path = t.a.args[0];
	if ((error = ferry_fs_read_file(&t.file, path, FERRY_TRUST_ROOT_MAX_SIZE)) < 0 ||
	    (error = ferry_envelope_add_signature(&t.buf, t.file.ptr, t.file.size,
						  FERRY_TRUST_ROOT_PAYLOAD_TYPE,
						  t.sign[0])) < 0 ||
	    (error = ferry_fs_write_output(path, t.buf.ptr, t.buf.size, 0644)) < 0)
		return dispose(&t, cli_fail("trust", error));
	printf("signed %s with key %s\n", path,
	       ferry_pubkey_id(ferry_key_public(t.sign[0])));
	return dispose(&t, FERRY_EXIT_OK);
}

static int trust_rotate(int argc, char **argv, cli_args *parent)
{
	trust_args t;
	const char *path;
	char reason[128];
	int rc, error;

	if ((rc = parse(&t, &rotate_command, argc, argv, parent)) >= 0)
		return dispose(&t, rc);
	path = t.a.args[0];
	if ((error = ferry_fs_read_file(&t.file, path, FERRY_TRUST_ROOT_MAX_SIZE)) < 0 ||
	    (error = ferry_store_open(&t.st, cli_store_path(t.store), FERRY_STORE_WRITE,
				      1)) < 0 ||
	    (error = ferry_trust_rotate(&t.root, t.st, t.file.ptr, t.file.size,
					(int64_t)time(NULL))) < 0) {
		if (t.st)
			ferry_store_audit(t.st, "rotation", "rejected", ferry_error_last());
		return dispose(&t, cli_fail("trust", error));
	}
	snprintf(reason, sizeof(reason), "trust root version %llu installed from '%.60s'",
		 (unsigned long long)t.root->version, path);
	ferry_store_audit(t.st, "rotation", "installed", reason);
	show(t.root, t.a.common.json);
	return dispose(&t, FERRY_EXIT_OK);
}
