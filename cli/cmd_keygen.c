/*
 * ferry keygen: create an Ed25519 key pair in minisign's formats.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ferry/bundle.h"
#include "banned.h"

static const char usage[] = "ferry keygen -o PREFIX [--force]";

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prefix = NULL;
	int force = 0, c, error;
	ferry_pubkey *pub = NULL;
	char path[4096];

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': prefix = optarg; break;
		case 'f': force = 1; break;
		case 'h':
			printf("usage: %s\n\nWrite PREFIX.pub (public key, minisign "
			       "format) and PREFIX.key (secret key,\nmode 0600, "
			       "unencrypted minisign format).\n\n"
			       "  -o, --output PREFIX  where to write the key pair\n"
			       "  -f, --force          replace existing files\n",
			       usage);
			return FERRY_EXIT_OK;
		default:
			return cli_usage_error(usage, "bad option");
		}
	}
	if (!prefix || optind != argc)
		return cli_usage_error(usage, "keygen needs -o PREFIX and nothing else");
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
