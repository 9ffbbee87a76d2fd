/*
 * ferry target: configure the servers `ferry seed` pushes to (add, ls,
 * show, rm) and print the node configuration that points container
 * runtimes at an OCI target (node-config). Credentials are copied into the
 * store with mode 0600 and never printed back.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "seed.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
	"ferry target add NAME --kind oci|git|gitea --url URL [--credentials FILE]\n"
	"                    [--ssh-key FILE] [--ca-file FILE] [--rewrite FROM=TO]...\n"
	"                    [--chunk-size SIZE] [--host NAME]\n"
	"                    [--force-branches rewritten|always|never]\n"
	"                    [--force-tags never|always] [--prune]\n"
	"                    [--owner NAME] [--private] [--webhook URL] [--git-url URL]\n"
	"                    [--replace] [--store DIR]\n"
	"       ferry target ls [--json] [--store DIR]\n"
	"       ferry target show NAME [--json] [--store DIR]\n"
	"       ferry target rm NAME [--store DIR]\n"
	"       ferry target node-config NAME [--store DIR]";

static void help(void)
{
	printf("usage: %s\n\n"
	       "Configure the servers the store is seeded to (see ferry seed).\n\n"
	       "  --kind KIND          oci (any OCI registry), git (any git server),\n"
	       "                       gitea (Gitea or Forgejo: creates owners and repositories)\n"
	       "  --url URL            registry base URL, git base URL (repositories are\n"
	       "                       URL/<path>.git), or the Gitea server's URL\n"
	       "  --credentials FILE   oci: user:password or an auth.json; git: user:password\n"
	       "                       or a token; gitea: an API token. Copied into the store\n"
	       "                       (mode 0600), never printed\n"
	       "  --ssh-key FILE       private key for ssh:// git URLs (copied likewise)\n"
	       "  --ca-file FILE       PEM bundle of CAs to trust for this target\n"
	       "  --rewrite FROM=TO    name prefix rule, e.g. docker.io/library/=mirror.site/library/\n"
	       "  --chunk-size SIZE    oci: blobs larger than this are uploaded in chunks of\n"
	       "                       this size (default 64M)\n"
	       "  --host NAME          oci: the name runtimes use for this registry\n"
	       "  --force-branches P   rewritten (default): force-push branches whose history\n"
	       "                       the store rewrote; always; never\n"
	       "  --force-tags P       never (default) or always\n"
	       "  --prune              delete refs on the target that the store deleted\n"
	       "  --owner NAME         gitea: owner for names without one (default: the\n"
	       "                       token's user)\n"
	       "  --private            gitea: create private organisations and repositories\n"
	       "  --webhook URL        gitea: register a push webhook to URL\n"
	       "  --git-url URL        gitea: push to URL/<owner>/<repo>.git instead of the\n"
	       "                       server's URL\n"
	       "  --replace            replace a target of the same name\n"
	       "  --store DIR          the store (default $FERRY_STORE or %s)\n\n"
	       "Exit status: 0 ok, 1 failure, 64 usage.\n", usage, FERRY_STORE_DEFAULT);
}

static void print_target(const ferry_target *t, int json, json_t *arr)
{
	if (json) {
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:O,s:b,s:b,s:I}", "name",
						     t->name, "kind",
						     ferry_target_kind_name(t->kind), "url", t->url,
						     "options", t->options, "credentials",
						     t->cred_path != NULL, "sshKey",
						     t->key_path != NULL, "created",
						     (json_int_t)t->created));
		return;
	}
	printf("%s\t%s\t%s\t%s\n", t->name, ferry_target_kind_name(t->kind), t->url,
	       t->cred_path ? "credentials" : "anonymous");
}

static void show_target(const ferry_target *t)
{
	char *opts = json_dumps(t->options, JSON_SORT_KEYS | JSON_COMPACT);
	size_t i;

	printf("name:        %s\nkind:        %s\nurl:         %s\n", t->name,
	       ferry_target_kind_name(t->kind), t->url);
	printf("credentials: %s\n", t->cred_path ? "stored (mode 0600, not shown)" : "none");
	if (t->key_path)
		printf("ssh key:     stored (mode 0600, not shown)\n");
	for (i = 0; i < t->rewrite.n; i++)
		printf("rewrite:     %s -> %s\n", t->rewrite.rules[i].from, t->rewrite.rules[i].to);
	printf("options:     %s\n", opts ? opts : "{}");
	free(opts);
}

static int set_str(json_t *o, const char *key, const char *v)
{
	return json_object_set_new(o, key, json_string(v));
}

int cmd_target(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "kind", required_argument, NULL, 'k' },
		{ "url", required_argument, NULL, 'u' },
		{ "credentials", required_argument, NULL, 'c' },
		{ "ssh-key", required_argument, NULL, 'K' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "rewrite", required_argument, NULL, 'r' },
		{ "chunk-size", required_argument, NULL, 'z' },
		{ "host", required_argument, NULL, 'H' },
		{ "force-branches", required_argument, NULL, 'b' },
		{ "force-tags", required_argument, NULL, 'T' },
		{ "prune", no_argument, NULL, 'p' },
		{ "owner", required_argument, NULL, 'o' },
		{ "private", no_argument, NULL, 'P' },
		{ "webhook", required_argument, NULL, 'w' },
		{ "git-url", required_argument, NULL, 'g' },
		{ "replace", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *options = json_object(), *rules = json_array();
	ferry_target **list = NULL, *t = NULL;
	ferry_target_kind kind = 0;
	ferry_store *st = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	const char *store = NULL, *url = NULL, *cred = NULL, *key = NULL, *sub, *name = NULL;
	size_t n = 0, i;
	uint64_t size;
	int c, json = 0, replace = 0, error = 0, rc = FERRY_EXIT_OK;

	if (!options || !rules) {
		rc = cli_fail("target", ferry_error_set(FERRY_ENOMEM, "out of memory"));
		goto done;
	}
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc < 2)
			rc = cli_usage_error(usage, "target needs a subcommand");
		else
			help();
		goto done;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'k':
			if (ferry_target_kind_parse(&kind, optarg) < 0) {
				rc = cli_usage_error(usage, "%s", ferry_error_last());
				goto done;
			}
			break;
		case 'u': url = optarg; break;
		case 'c': cred = optarg; break;
		case 'K': key = optarg; break;
		case 'C': set_str(options, "ca-file", optarg); break;
		case 'r': {
			const char *eq = strchr(optarg, '=');
			char *from;

			if (!eq || !eq[1]) {
				rc = cli_usage_error(usage, "--rewrite wants FROM=TO");
				goto done;
			}
			if (!(from = strndup(optarg, (size_t)(eq - optarg))))
				goto oom;
			json_array_append_new(rules, json_pack("{s:s,s:s}", "from", from, "to",
							       eq + 1));
			free(from);
			break;
		}
		case 'z':
			if (ferry_parse_size(&size, optarg) < 0) {
				rc = cli_usage_error(usage, "bad --chunk-size '%s'", optarg);
				goto done;
			}
			json_object_set_new(options, "chunk-size", json_integer((json_int_t)size));
			break;
		case 'H': set_str(options, "host", optarg); break;
		case 'b': set_str(options, "force-branches", optarg); break;
		case 'T': set_str(options, "force-tags", optarg); break;
		case 'p': json_object_set_new(options, "prune", json_true()); break;
		case 'o': set_str(options, "owner", optarg); break;
		case 'P': json_object_set_new(options, "private", json_true()); break;
		case 'w': set_str(options, "webhook", optarg); break;
		case 'g': set_str(options, "git-url", optarg); break;
		case 'R': replace = 1; break;
		case 'j': json = 1; break;
		case 'h': help(); goto done;
		default: rc = cli_usage_error(usage, "bad option"); goto done;
		}
	}
	if (json_array_size(rules))
		json_object_set(options, "rewrite", rules);
	if (optind < argc)
		name = argv[optind++];
	if (optind != argc) {
		rc = cli_usage_error(usage, "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	if (!strcmp(sub, "add")) {
		if (!name || !kind || !url) {
			rc = cli_usage_error(usage, "target add needs NAME, --kind and --url");
			goto done;
		}
		if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_WRITE,
					      1)) < 0 ||
		    (error = ferry_target_add(st, name, kind, url, options, cred, key,
					      replace)) < 0)
			goto fail;
		if (!cli_quiet)
			printf("target %s added (%s, %s)\n", name, ferry_target_kind_name(kind), url);
	} else if (!strcmp(sub, "ls")) {
		json_t *arr = json_array();

		if (name) {
			json_decref(arr);
			rc = cli_usage_error(usage, "target ls takes no NAME");
			goto done;
		}
		if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0 ||
		    (error = ferry_target_list(&list, &n, st)) < 0) {
			json_decref(arr);
			goto fail;
		}
		for (i = 0; i < n; i++)
			print_target(list[i], json, arr);
		if (json) {
			json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			fputc('\n', stdout);
		}
		json_decref(arr);
	} else if (!strcmp(sub, "show") || !strcmp(sub, "rm") || !strcmp(sub, "node-config")) {
		if (!name) {
			rc = cli_usage_error(usage, "target %s needs NAME", sub);
			goto done;
		}
		if (!strcmp(sub, "rm")) {
			if ((error = ferry_store_open(&st, cli_store_path(store),
						      FERRY_STORE_WRITE, 1)) < 0 ||
			    (error = ferry_target_remove(st, name)) < 0)
				goto fail;
			goto done;
		}
		if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0 ||
		    (error = ferry_target_load(&t, st, name)) < 0)
			goto fail;
		if (!strcmp(sub, "node-config")) {
			if ((error = ferry_target_node_config(&out, t)) < 0)
				goto fail;
			fwrite(out.ptr, 1, out.size, stdout);
		} else if (json) {
			json_t *arr = json_array();

			print_target(t, 1, arr);
			json_dumpf(json_array_get(arr, 0), stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			fputc('\n', stdout);
			json_decref(arr);
		} else {
			show_target(t);
		}
	} else {
		rc = cli_usage_error(usage, "'%s' is not a target subcommand", sub);
	}
	goto done;
oom:
	error = ferry_error_set(FERRY_ENOMEM, "out of memory");
fail:
	rc = cli_fail("target", error);
done:
	ferry_target_list_free(list, n);
	ferry_target_free(t);
	ferry_store_close(st);
	ferry_buf_dispose(&out);
	json_decref(options);
	json_decref(rules);
	return rc;
}
