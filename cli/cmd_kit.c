/*
 * ferry kit build: write the bootstrap kit for an empty enclave host
 * (site/kit.h does the work): the package and its dependencies, the trust
 * keys, the first bundles, install.sh, README and a signed SHA256SUMS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "util.h"
#include "kit.h"
#include "strv.h"
#include "banned.h"

enum { OPT_OUT = 1, OPT_DEB, OPT_DEPS, OPT_NO_DEPS, OPT_TRUST, OPT_BUNDLE, OPT_KEY };

static const cli_option build_options[] = {
	{ "out", 0, "DIR", "the kit's directory (new or empty)", OPT_OUT },
	{ "deb", 0, "DEB", "the ferry package (from appliance/build-deb.sh)", OPT_DEB },
	{ "deps", 0, "DIR", "the dependency packages (from appliance/kit-deps.sh)", OPT_DEPS },
	{ "no-deps", 0, NULL, "a kit without dependency packages (for hosts that have them)",
	  OPT_NO_DEPS },
	{ "trust", 0, "PUB", "a public key of the site's trust root (repeatable)", OPT_TRUST },
	{ "bundle", 0, "FILE", "a bundle to import first, with its .minisig (repeatable)",
	  OPT_BUNDLE },
	{ "key", 0, "KEY", "the secret key that signs SHA256SUMS (one of the trust keys)",
	  OPT_KEY },
	CLI_OPTION_JSON("print the kit's files as JSON"),
	CLI_OPTIONS_END
};

static int kit_build(int argc, char **argv, cli_args *parent);

static const cli_command build_command = {
	.name = "kit build",
	.summary = "write the bootstrap kit for an empty enclave host",
	.synopsis = "--out DIR --deb DEB (--deps DIR | --no-deps) --trust PUB... "
		    "[--bundle FILE]... --key KEY [--json]",
	.description =
		"Write into DIR everything an empty Debian 12 host needs to become a site\n"
		"without a network: the package and its dependencies (debs/), the trust\n"
		"keys (trust/), the first bundles (bundles/), install.sh, README, and\n"
		"SHA256SUMS signed by --key so that 'minisign -Vm SHA256SUMS -p KEY.pub'\n"
		"checks the kit before anything is installed.",
	.options = build_options,
	.run = kit_build,
};

static const cli_command *const kit_subcommands[] = { &build_command, NULL };

static const cli_command kit_command = {
	.name = "kit",
	.description = "The bootstrap kit for a new enclave: 'build' writes it on the "
		       "connected side.",
	.subcommands = kit_subcommands,
};

int cmd_kit(int argc, char **argv)
{
	cli_args a;

	cli_args_init(&a, &kit_command, argc, argv, NULL);
	return cli_args_next(&a) < 0 ? a.exit : cli_dispatch(&a);
}

static int kit_build(int argc, char **argv, cli_args *parent)
{
	ferry_kit_options o = FERRY_KIT_OPTIONS_INIT;
	ferry_kit_result r;
	ferry_strv trust = FERRY_STRV_INIT, bundles = FERRY_STRV_INIT;
	ferry_key *key = NULL;
	cli_args a;
	size_t i;
	int id, rc = FERRY_EXIT_OK, error, no_deps = 0;

	memset(&r, 0, sizeof(r));
	cli_args_init(&a, &build_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0) {
		const char *v = a.value;

		switch (id) {
		case OPT_OUT: o.out = v; break;
		case OPT_DEB: o.deb = v; break;
		case OPT_DEPS: o.deps = v; break;
		case OPT_NO_DEPS: no_deps = 1; break;
		case OPT_TRUST:
		case OPT_BUNDLE:
			if (ferry_strv_push(id == OPT_TRUST ? &trust : &bundles, v) < 0) {
				rc = FERRY_EXIT_FAILURE;
				goto done;
			}
			break;
		case OPT_KEY:
			ferry_key_free(key);
			key = NULL;
			if ((error = ferry_key_load(&key, v)) < 0) {
				rc = cli_fail("kit", error);
				goto done;
			}
			break;
		}
	}
	if (id < 0) {
		rc = a.exit;
		goto done;
	}
	if (!o.out || !o.deb || !key || !trust.n) {
		rc = cli_args_error(&a, "needs --out, --deb, --trust and --key");
		goto done;
	}
	if (!o.deps == !no_deps) {
		rc = cli_args_error(&a, "needs one of --deps DIR and --no-deps");
		goto done;
	}
	o.key = key;
	o.trust = (const char *const *)trust.v;
	o.ntrust = trust.n;
	o.bundles = (const char *const *)bundles.v;
	o.nbundles = bundles.n;
	if ((error = ferry_kit_build(&r, &o)) < 0) {
		rc = cli_fail("kit", error);
		goto done;
	}
	if (a.common.json) {
		json_t *files = json_array();

		for (i = 0; i < r.files.n; i++)
			json_array_append_new(files, json_string(r.files.v[i]));
		cli_print_json(json_pack("{s:s,s:o,s:I,s:I,s:s}", "kit", o.out, "files", files,
					 "dependencies", (json_int_t)r.ndeps,
					 "bytes", (json_int_t)r.bytes,
					 "signed_by", ferry_pubkey_id(ferry_key_public(key))));
	} else {
		char size[32];

		printf("wrote kit %s: %zu files in SHA256SUMS, %s, %zu dependency package(s)\n", o.out,
		       r.files.n, ferry_size_text(size, sizeof(size), r.bytes), r.ndeps);
		printf("SHA256SUMS signed by key %s; check it with:\n"
		       "  minisign -Vm %s/SHA256SUMS -p %s\n",
		       ferry_pubkey_id(ferry_key_public(key)), o.out, trust.v[0]);
	}
done:
	ferry_kit_result_dispose(&r);
	ferry_key_free(key);
	ferry_strv_dispose(&trust);
	ferry_strv_dispose(&bundles);
	return rc;
}
