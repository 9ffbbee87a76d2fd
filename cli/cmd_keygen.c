/*
 * ferry keygen: create an Ed25519 key pair in minisign's formats.
 */
#include <stdio.h>

#include "cli.h"
#include "ferry/bundle.h"
#include "banned.h"

enum { OPT_OUTPUT = 1, OPT_FORCE };

static const cli_option keygen_options[] = {
	{ "output", 'o', "PREFIX", "where to write the key pair", OPT_OUTPUT },
	{ "force", 'f', NULL, "replace existing files", OPT_FORCE },
	CLI_OPTIONS_END
};

static const cli_command keygen_command = {
	.name = "keygen",
	.synopsis = "-o PREFIX [--force]",
	.description =
		"Write PREFIX.pub (public key, minisign format) and PREFIX.key (secret key,\n"
		"mode 0600, unencrypted minisign format).",
	.options = keygen_options,
	.operands_error = "keygen needs -o PREFIX and nothing else",
};

int cmd_keygen(int argc, char **argv)
{
	const char *prefix = NULL;
	int force = 0, id, error;
	ferry_pubkey *pub = NULL;
	cli_args a;
	char path[4096];

	cli_args_init(&a, &keygen_command, argc, argv, NULL);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_OUTPUT: prefix = a.value; break;
		case OPT_FORCE: force = 1; break;
		}
	}
	if (id < 0)
		return a.exit;
	if (!prefix)
		return cli_args_error(&a, "%s", keygen_command.operands_error);
	if ((error = ferry_key_generate(prefix, force)) < 0)
		return cli_fail("keygen", error);
	snprintf(path, sizeof(path), "%s.pub", prefix);
	if ((error = ferry_pubkey_load(&pub, path)) < 0)
		return cli_fail("keygen", error);
	printf("key id %s\npublic key %s.pub\nsecret key %s.key\n",
	       ferry_pubkey_id(pub), prefix, prefix);
	ferry_pubkey_free(pub);
	return FERRY_EXIT_OK;
}
