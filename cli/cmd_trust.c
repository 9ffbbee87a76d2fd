/*
 * ferry trust: install, show and rotate the store's trust root, and make
 * and sign root files for a rotation.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "catalog.h"
#include "cli.h"
#include "envelope.h"
#include "fs.h"
#include "trust.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
	"ferry trust init [--store DIR] --key PUB [--key PUB]... [--threshold N]\n"
	"                        [--expires WHEN]\n"
	"       ferry trust show [--store DIR] [--json]\n"
	"       ferry trust create -o FILE --version N --key PUB [--key PUB]...\n"
	"                        [--threshold N] [--expires WHEN] --sign KEY [--sign KEY]...\n"
	"       ferry trust sign FILE --sign KEY\n"
	"       ferry trust rotate [--store DIR] FILE";

static void help(void)
{
	printf("usage: %s\n\n"
	       "The trust root names the keys that sign bundles and how many of them must\n"
	       "(the threshold). 'init' installs version 1 in a store. A new root\n"
	       "(made with 'create', completed with 'sign') replaces it only through\n"
	       "'rotate', when its version is exactly one higher and it is signed by a\n"
	       "threshold of the current keys and a threshold of its own keys. Revoke a\n"
	       "key by rotating to a root without it.\n\n"
	       "  --store DIR      the store (default $FERRY_STORE or %s)\n"
	       "  --key PUB        a public key of the root (repeatable)\n"
	       "  --threshold N    keys that must sign each bundle (default 1)\n"
	       "  --expires WHEN   a duration (365d) or a time (default 365d)\n"
	       "  --version N      the new root's version\n"
	       "  --sign KEY       a secret key that signs the root file (repeatable)\n"
	       "  -o FILE          where to write the root file\n"
	       "  --json           print as JSON\n", usage, FERRY_STORE_DEFAULT);
}


typedef struct {
	const char *store, *out, *expires;
	uint64_t threshold, version;
	cli_pubkeys keys;
	ferry_key **sign;
	size_t nsign;
	int json;
} trust_args;

static int parse_expires(int64_t *out, const char *text)
{
	int64_t d;

	if (!text)
		text = "365d";
	if (strchr(text, 'T'))
		return ferry_time_parse(out, text);
	if (ferry_parse_duration(&d, text) < 0)
		return FERRY_EINVALID;
	*out = (int64_t)time(NULL) + d;
	return 0;
}

static int parse_args(trust_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "threshold", required_argument, NULL, 't' },
		{ "expires", required_argument, NULL, 'e' },
		{ "version", required_argument, NULL, 'v' },
		{ "sign", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	ferry_key **grown;
	int c, error;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': a->store = optarg; break;
		case 'o': a->out = optarg; break;
		case 'e': a->expires = optarg; break;
		case 'j': a->json = 1; break;
		case 'k':
			if ((error = cli_pubkeys_add(&a->keys, optarg)) < 0)
				return cli_fail("trust", error);
			break;
		case 't':
			if (ferry_parse_u64(&a->threshold, optarg) < 0 || !a->threshold)
				return cli_usage_error(usage, "invalid --threshold '%s'", optarg);
			break;
		case 'v':
			if (ferry_parse_u64(&a->version, optarg) < 0 || !a->version)
				return cli_usage_error(usage, "invalid --version '%s'", optarg);
			break;
		case 'S':
			if (!(grown = realloc(a->sign, (a->nsign + 1) * sizeof(*grown))))
				return FERRY_EXIT_FAILURE;
			a->sign = grown;
			if ((error = ferry_key_load(&a->sign[a->nsign], optarg)) < 0)
				return cli_fail("trust", error);
			a->nsign++;
			break;
		case 'h': help(); return -1;
		default: return cli_usage_error(usage, "bad option");
		}
	}
	return FERRY_EXIT_OK;
}

static int make_root(ferry_trust_root **out, trust_args *a, uint64_t version)
{
	int64_t expires;
	int error;

	if (parse_expires(&expires, a->expires) < 0)
		return cli_usage_error(usage, "invalid --expires '%s'", a->expires);
	if (expires <= (int64_t)time(NULL))
		return cli_usage_error(usage, "--expires '%s' is not in the future", a->expires);
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
	trust_args a;
	ferry_store *st = NULL;
	ferry_trust_root *root = NULL;
	ferry_buf buf = FERRY_BUF_INIT, file = FERRY_BUF_INIT;
	const char *sub;
	size_t i;
	int rc, error;

	memset(&a, 0, sizeof(a));
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc < 2)
			return cli_usage_error(usage, "trust needs a subcommand");
		help();
		return FERRY_EXIT_OK;
	}
	sub = argv[1];
	if ((rc = parse_args(&a, argc - 1, argv + 1)) != FERRY_EXIT_OK) {
		rc = rc < 0 ? FERRY_EXIT_OK : rc;
		goto done;
	}
	argc -= 1;
	argv += 1;
	rc = FERRY_EXIT_OK;
	if (!strcmp(sub, "init")) {
		if (!a.keys.n || optind != argc) {
			rc = cli_usage_error(usage, "trust init needs --key and nothing else");
			goto done;
		}
		if ((rc = make_root(&root, &a, 1)) != FERRY_EXIT_OK)
			goto done;
		if ((error = ferry_store_open(&st, cli_store_path(a.store), FERRY_STORE_CREATE,
					      1)) < 0 ||
		    (error = ferry_trust_init(st, root)) < 0) {
			rc = cli_fail("trust", error);
			goto done;
		}
		show(root, a.json);
	} else if (!strcmp(sub, "show")) {
		if ((error = ferry_store_open(&st, cli_store_path(a.store), FERRY_STORE_READ,
					      0)) < 0 ||
		    (error = ferry_trust_current(&root, st)) < 0) {
			rc = cli_fail("trust", error);
			goto done;
		}
		show(root, a.json);
	} else if (!strcmp(sub, "create")) {
		if (!a.out || !a.version || !a.keys.n || !a.nsign || optind != argc) {
			rc = cli_usage_error(usage, "trust create needs -o, --version, --key "
					     "and --sign");
			goto done;
		}
		if ((rc = make_root(&root, &a, a.version)) != FERRY_EXIT_OK)
			goto done;
		if ((error = ferry_trust_root_file(&buf, root, a.sign, a.nsign)) < 0 ||
		    (error = ferry_fs_write_atomic(a.out, buf.ptr, buf.size, 0644)) < 0) {
			rc = cli_fail("trust", error);
			goto done;
		}
		printf("wrote %s: trust root version %llu signed by %zu key(s)\n", a.out,
		       (unsigned long long)a.version, a.nsign);
	} else if (!strcmp(sub, "sign")) {
		if (optind + 1 != argc || a.nsign != 1) {
			rc = cli_usage_error(usage, "trust sign needs FILE and one --sign KEY");
			goto done;
		}
		if ((error = ferry_fs_read_file(&file, argv[optind],
						FERRY_TRUST_ROOT_MAX_SIZE)) < 0 ||
		    (error = ferry_envelope_add_signature(&buf, file.ptr, file.size,
							  FERRY_TRUST_ROOT_PAYLOAD_TYPE,
							  a.sign[0])) < 0) {
			rc = cli_fail("trust", error);
			goto done;
		}
		if ((error = ferry_fs_write_atomic(argv[optind], buf.ptr, buf.size, 0644)) < 0) {
			rc = cli_fail("trust", error);
			goto done;
		}
		printf("signed %s with key %s\n", argv[optind],
		       ferry_pubkey_id(ferry_key_public(a.sign[0])));
	} else if (!strcmp(sub, "rotate")) {
		if (optind + 1 != argc) {
			rc = cli_usage_error(usage, "trust rotate needs one root FILE");
			goto done;
		}
		if ((error = ferry_fs_read_file(&file, argv[optind],
						FERRY_TRUST_ROOT_MAX_SIZE)) < 0 ||
		    (error = ferry_store_open(&st, cli_store_path(a.store), FERRY_STORE_WRITE,
					      1)) < 0 ||
		    (error = ferry_trust_rotate(&root, st, file.ptr, file.size,
						(int64_t)time(NULL))) < 0) {
			if (st)
				ferry_store_audit(st, "rotation", "rejected", ferry_error_last());
			rc = cli_fail("trust", error);
			goto done;
		}
		{
			char reason[128];

			snprintf(reason, sizeof(reason), "trust root version %llu installed from '%.60s'",
				 (unsigned long long)root->version, argv[optind]);
			ferry_store_audit(st, "rotation", "installed", reason);
		}
		show(root, a.json);
	} else {
		rc = cli_usage_error(usage, "unknown trust subcommand '%s'", sub);
	}
done:
	ferry_trust_root_free(root);
	ferry_store_close(st);
	cli_pubkeys_dispose(&a.keys);
	for (i = 0; i < a.nsign; i++)
		ferry_key_free(a.sign[i]);
	free(a.sign);
	ferry_buf_dispose(&buf);
	ferry_buf_dispose(&file);
	return rc;
}
