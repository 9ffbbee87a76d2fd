/*
 * ferry site init: set up an enclave host in one step (site/site.h does
 * the work): the store and its trust root, the mirror's TLS and read
 * credentials, node configuration for container runtimes, default
 * configuration and the services. Prints what each step did and what is
 * left to do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "site.h"
#include "store.h"
#include "strv.h"
#include "util.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_ROOT, OPT_TRUST, OPT_THRESHOLD, OPT_EXPIRES, OPT_NAME,
       OPT_LISTEN, OPT_REGISTRY, OPT_USER, OPT_NO_ENABLE };

static const cli_option init_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ "root", 0, "DIR", "write every file under DIR instead of / (a chroot, a test)",
	  OPT_ROOT },
	{ "trust", 0, "PUB", "a public key of a new store's trust root (repeatable)",
	  OPT_TRUST },
	{ "threshold", 0, "N", "keys that must sign each bundle (default 1)", OPT_THRESHOLD },
	{ "expires", 0, "WHEN", "the trust root's expiry: a duration or a time (default 365d)",
	  OPT_EXPIRES },
	{ "name", 0, "HOST", "a name or address of the mirror for its certificate "
	  "(repeatable; default: this host's name and 127.0.0.1)", OPT_NAME },
	{ "listen", 0, "ADDR:PORT", "where the mirror listens (default 0.0.0.0:5000)",
	  OPT_LISTEN },
	{ "registry", 0, "NAME", "a registry name to pull through the mirror besides those "
	  "in the store (repeatable)", OPT_REGISTRY },
	{ "user", 0, "USER", "the services' user (default ferry)", OPT_USER },
	{ "no-enable", 0, NULL, "do not enable the services, only say how", OPT_NO_ENABLE },
	CLI_OPTION_JSON("print the steps as JSON"),
	CLI_OPTIONS_END
};

static int site_init(int argc, char **argv, cli_args *parent);

static const cli_command init_command = {
	.name = "site init",
	.summary = "set up this host as an enclave site (store, TLS, node config, services)",
	.synopsis = "[--store DIR] [--root DIR] [--trust PUB]... [--threshold N] "
		    "[--expires WHEN] [--name HOST]... [--listen ADDR:PORT] "
		    "[--registry NAME]... [--user USER] [--no-enable] [--json]",
	.description =
		"Create what an enclave host needs to serve: the store and its trust root\n"
		"(from --trust keys), a local CA and the mirror's certificate for --name,\n"
		"the mirror's read credentials, its settings, the node configuration for\n"
		"podman, CRI-O and containerd, the default configuration in /etc/ferry,\n"
		"and enable the services. Nothing that exists is overwritten but the\n"
		"files site init wrote itself: a second run changes nothing.",
	.options = init_options,
	.run = site_init,
};

static const cli_command *const site_subcommands[] = { &init_command, NULL };

static const cli_command site_command = {
	.name = "site",
	.description = "Set up an enclave host: 'init' does it in one step.",
	.subcommands = site_subcommands,
};

int cmd_site(int argc, char **argv)
{
	cli_args a;

	cli_args_init(&a, &site_command, argc, argv, NULL);
	return cli_args_next(&a) < 0 ? a.exit : cli_dispatch(&a);
}

static void print_report(const ferry_site_report *r, int json)
{
	size_t i;

	if (json) {
		json_t *items = json_array(), *next = json_array();

		for (i = 0; i < r->n; i++) {
			const ferry_site_item *it = &r->items[i];
			json_t *o = json_pack("{s:s,s:s,s:s}", "path", it->path, "what", it->what,
					      "state", ferry_site_state_name(it->state));

			if (it->note)
				json_object_set_new(o, "note", json_string(it->note));
			json_array_append_new(items, o);
		}
		for (i = 0; i < r->next.n; i++)
			json_array_append_new(next, json_string(r->next.v[i]));
		cli_print_json(json_pack("{s:o,s:o,s:b,s:s?,s:s?}", "steps", items, "next", next,
					 "changed", r->changed, "mirror", r->mirror,
					 "names", r->names));
		return;
	}
	for (i = 0; i < r->n; i++) {
		const ferry_site_item *it = &r->items[i];

		printf("%-9s %s: %s%s%s\n", ferry_site_state_name(it->state), it->path, it->what,
		       it->note ? "; " : "", it->note ? it->note : "");
	}
	printf(r->changed ? "site set up; the mirror is https://%s\n" :
	       "nothing changed; the mirror is https://%s\n", r->mirror ? r->mirror : "?");
	if (r->next.n)
		printf("next:\n");
	for (i = 0; i < r->next.n; i++)
		printf("  %s\n", r->next.v[i]);
}

static int site_init(int argc, char **argv, cli_args *parent)
{
	ferry_site_options o = FERRY_SITE_OPTIONS_INIT;
	ferry_site_report r;
	cli_args a;
	cli_pubkeys keys = { NULL, 0, 0 };
	ferry_strv names = FERRY_STRV_INIT, registries = FERRY_STRV_INIT;
	const char *expires = "365d";
	uint64_t threshold = 0;
	int id, rc = FERRY_EXIT_OK, error;

	memset(&r, 0, sizeof(r));
	o.enable_units = 1;
	cli_args_init(&a, &init_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0) {
		const char *v = a.value;

		switch (id) {
		case OPT_STORE: o.store = v; break;
		case OPT_ROOT: o.root = v; break;
		case OPT_EXPIRES: expires = v; break;
		case OPT_LISTEN: o.listen = v; break;
		case OPT_USER: o.user = v; break;
		case OPT_NO_ENABLE: o.enable_units = 0; break;
		case OPT_TRUST:
			if ((error = cli_pubkeys_add(&keys, v)) < 0) {
				rc = cli_fail("site", error);
				goto done;
			}
			break;
		case OPT_THRESHOLD:
			if (ferry_parse_u64(&threshold, v) < 0 || !threshold || threshold > 255) {
				rc = cli_args_error(&a, "invalid --threshold '%s'", v);
				goto done;
			}
			break;
		case OPT_NAME:
		case OPT_REGISTRY:
			if (ferry_strv_push(id == OPT_NAME ? &names : &registries, v) < 0) {
				rc = FERRY_EXIT_FAILURE;
				goto done;
			}
			break;
		}
	}
	if (id < 0) {
		rc = a.exit;
		goto done;
	}
	if (cli_parse_expires(&o.expires, expires) < 0 || o.expires <= (int64_t)time(NULL)) {
		rc = cli_args_error(&a, "invalid --expires '%s'", expires);
		goto done;
	}
	o.keys = (const ferry_pubkey *const *)keys.keys;
	o.nkeys = keys.n;
	o.threshold = (unsigned)threshold;
	o.names = (const char *const *)names.v;
	o.nnames = names.n;
	o.registries = (const char *const *)registries.v;
	o.nregistries = registries.n;
	if (!o.store)
		o.store = cli_store_path(NULL);
	error = ferry_site_init(&r, &o);
	if (error < 0) {
		size_t i;

		for (i = 0; i < r.n; i++)
			fprintf(stderr, "ferry site: done before the failure: %s %s\n",
				ferry_site_state_name(r.items[i].state), r.items[i].path);
		rc = cli_fail("site", error);
		goto done;
	}
	print_report(&r, a.common.json);
done:
	ferry_site_report_dispose(&r);
	cli_pubkeys_dispose(&keys);
	ferry_strv_dispose(&names);
	ferry_strv_dispose(&registries);
	return rc;
}
