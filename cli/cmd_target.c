/*
 * ferry target: configure the servers `ferry seed` pushes to (add, ls,
 * show, rm) and print the node configuration that points container
 * runtimes at an OCI target (node-config). Credentials are copied into the
 * store with mode 0600 and never printed back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json.h"
#include "cli.h"
#include "seed.h"
#include "util.h"
#include "banned.h"

enum {
	OPT_STORE = 1, OPT_KIND, OPT_URL, OPT_CREDENTIALS, OPT_SSH_KEY, OPT_CA_FILE,
	OPT_REWRITE, OPT_CHUNK_SIZE, OPT_HOST, OPT_FORCE_BRANCHES, OPT_FORCE_TAGS, OPT_PRUNE,
	OPT_OWNER, OPT_PRIVATE, OPT_WEBHOOK, OPT_GIT_URL, OPT_REPLACE,
};

static const cli_option add_options[] = {
	{ "kind", 0, "KIND", "oci (any OCI registry), git (any git server), gitea (Gitea "
	  "or Forgejo: creates owners and repositories)", OPT_KIND },
	{ "url", 0, "URL", "registry base URL, git base URL (repositories are "
	  "URL/<path>.git), or the Gitea server's URL", OPT_URL },
	{ "credentials", 0, "FILE", "oci: user:password or an auth.json; git: "
	  "user:password or a token; gitea: an API token. Copied into the store (mode "
	  "0600), never printed", OPT_CREDENTIALS },
	{ "ssh-key", 0, "FILE", "private key for ssh:// git URLs (copied likewise)",
	  OPT_SSH_KEY },
	{ "ca-file", 0, "FILE", "PEM bundle of CAs to trust for this target", OPT_CA_FILE },
	{ "rewrite", 0, "FROM=TO", "name prefix rule, e.g. "
	  "docker.io/library/=mirror.site/library/ (repeatable)", OPT_REWRITE },
	{ "chunk-size", 0, "SIZE", "oci: blobs larger than this are uploaded in chunks of "
	  "this size (default 64M)", OPT_CHUNK_SIZE },
	{ "host", 0, "NAME", "oci: the name runtimes use for this registry", OPT_HOST },
	{ "force-branches", 0, "POLICY", "rewritten (default): force-push branches whose "
	  "history the store rewrote; always; never", OPT_FORCE_BRANCHES },
	{ "force-tags", 0, "POLICY", "never (default) or always", OPT_FORCE_TAGS },
	{ "prune", 0, NULL, "delete refs on the target that the store deleted", OPT_PRUNE },
	{ "owner", 0, "NAME", "gitea: owner for names without one (default: the token's "
	  "user)", OPT_OWNER },
	{ "private", 0, NULL, "gitea: create private organisations and repositories",
	  OPT_PRIVATE },
	{ "webhook", 0, "URL", "gitea: register a push webhook to URL", OPT_WEBHOOK },
	{ "git-url", 0, "URL", "gitea: push to URL/<owner>/<repo>.git instead of the "
	  "server's URL", OPT_GIT_URL },
	{ "replace", 0, NULL, "replace a target of the same name", OPT_REPLACE },
	CLI_OPTION_STORE(OPT_STORE),
	CLI_OPTIONS_END
};
static const cli_option list_options[] = {
	CLI_OPTION_JSON("print as JSON"),
	CLI_OPTION_STORE(OPT_STORE),
	CLI_OPTIONS_END
};
static const cli_option store_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	CLI_OPTIONS_END
};

static int target_add(int argc, char **argv, cli_args *parent);
static int target_ls(int argc, char **argv, cli_args *parent);
static int target_show(int argc, char **argv, cli_args *parent);
static int target_rm(int argc, char **argv, cli_args *parent);

static const cli_command add_command = {
	.name = "target add",
	.summary = "add a target (or replace one, with --replace)",
	.synopsis = "NAME --kind oci|git|gitea --url URL [--credentials FILE] [--ssh-key FILE] "
		    "[--ca-file FILE] [--rewrite FROM=TO]... [--chunk-size SIZE] [--host NAME] "
		    "[--force-branches rewritten|always|never] [--force-tags never|always] "
		    "[--prune] [--owner NAME] [--private] [--webhook URL] [--git-url URL] "
		    "[--replace] [--store DIR]",
	.options = add_options,
	.operands = "NAME",
	.run = target_add,
};
static const cli_command ls_command = {
	.name = "target ls",
	.summary = "list the targets",
	.synopsis = "[--json] [--store DIR]",
	.options = list_options,
	.run = target_ls,
};
static const cli_command show_command = {
	.name = "target show",
	.summary = "show a target's settings (never its credentials)",
	.synopsis = "NAME [--json] [--store DIR]",
	.options = list_options,
	.operands = "NAME",
	.run = target_show,
};
static const cli_command rm_command = {
	.name = "target rm",
	.summary = "remove a target",
	.synopsis = "NAME [--store DIR]",
	.options = store_options,
	.operands = "NAME",
	.run = target_rm,
};
static const cli_command node_config_command = {
	.name = "target node-config",
	.summary = "print the configuration that points container runtimes at an OCI target",
	.synopsis = "NAME [--store DIR]",
	.options = store_options,
	.operands = "NAME",
	.run = target_show,
};
static const cli_command *const target_subcommands[] = {
	&add_command, &ls_command, &show_command, &rm_command, &node_config_command, NULL
};
static const cli_command target_command = {
	.name = "target",
	.description = "Configure the servers the store is seeded to (see ferry seed).",
	.epilog = "Exit status: 0 ok, 1 failure, 64 usage.",
	.subcommands = target_subcommands,
};

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
	char *opts = ferry_json_dumps(t->options, JSON_SORT_KEYS | JSON_COMPACT);
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
	cli_args a;

	cli_args_init(&a, &target_command, argc, argv, NULL);
	return cli_args_next(&a) < 0 ? a.exit : cli_dispatch(&a);
}

/* Read the command line of a subcommand other than add: the store, or NULL
 * with the exit code in a->exit. */
static const char *parse(cli_args *a, const cli_command *cmd, int argc, char **argv,
			 cli_args *parent)
{
	const char *store = NULL;
	int id;

	cli_args_init(a, cmd, argc, argv, parent);
	while ((id = cli_args_next(a)) > 0)
		store = a->value;       /* --store */
	if (id < 0)
		return NULL;
	return cli_store_path(store);
}

static int target_add(int argc, char **argv, cli_args *parent)
{
	json_t *options = json_object(), *rules = json_array();
	ferry_target_kind kind = 0;
	ferry_store *st = NULL;
	const char *store = NULL, *url = NULL, *cred = NULL, *key = NULL, *name;
	uint64_t size;
	cli_args a;
	int id, replace = 0, error = 0, rc = FERRY_EXIT_OK;

	if (!options || !rules) {
		rc = cli_fail("target", ferry_error_oom());
		goto done;
	}
	cli_args_init(&a, &add_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0) {
		const char *v = a.value;

		switch (id) {
		case OPT_STORE: store = v; break;
		case OPT_KIND:
			if (ferry_target_kind_parse(&kind, v) < 0) {
				rc = cli_args_error(&a, "%s", ferry_error_last());
				goto done;
			}
			break;
		case OPT_URL: url = v; break;
		case OPT_CREDENTIALS: cred = v; break;
		case OPT_SSH_KEY: key = v; break;
		case OPT_CA_FILE: set_str(options, "ca-file", v); break;
		case OPT_REWRITE: {
			const char *eq = strchr(v, '=');
			char *from;

			if (!eq || !eq[1]) {
				rc = cli_args_error(&a, "--rewrite wants FROM=TO");
				goto done;
			}
			if (!(from = strndup(v, (size_t)(eq - v))))
				goto oom;
			json_array_append_new(rules, json_pack("{s:s,s:s}", "from", from, "to",
							       eq + 1));
			free(from);
			break;
		}
		case OPT_CHUNK_SIZE:
			if (ferry_parse_size(&size, v) < 0) {
				rc = cli_args_error(&a, "bad --chunk-size '%s'", v);
				goto done;
			}
			json_object_set_new(options, "chunk-size", json_integer((json_int_t)size));
			break;
		case OPT_HOST: set_str(options, "host", v); break;
		case OPT_FORCE_BRANCHES: set_str(options, "force-branches", v); break;
		case OPT_FORCE_TAGS: set_str(options, "force-tags", v); break;
		case OPT_PRUNE: json_object_set_new(options, "prune", json_true()); break;
		case OPT_OWNER: set_str(options, "owner", v); break;
		case OPT_PRIVATE: json_object_set_new(options, "private", json_true()); break;
		case OPT_WEBHOOK: set_str(options, "webhook", v); break;
		case OPT_GIT_URL: set_str(options, "git-url", v); break;
		case OPT_REPLACE: replace = 1; break;
		}
	}
	if (id < 0) {
		rc = a.exit;
		goto done;
	}
	if (json_array_size(rules))
		json_object_set(options, "rewrite", rules);
	name = a.args[0];
	if (!kind || !url) {
		rc = cli_args_error(&a, "needs --kind and --url");
		goto done;
	}
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_WRITE, 1)) < 0 ||
	    (error = ferry_target_add(st, name, kind, url, options, cred, key, replace)) < 0)
		goto fail;
	if (!cli_quiet)
		printf("target %s added (%s, %s)\n", name, ferry_target_kind_name(kind), url);
	goto done;
oom:
	error = ferry_error_oom();
fail:
	rc = cli_fail("target", error);
done:
	ferry_store_close(st);
	json_decref(options);
	json_decref(rules);
	return rc;
}

static int target_ls(int argc, char **argv, cli_args *parent)
{
	ferry_target **list = NULL;
	ferry_store *st = NULL;
	json_t *arr;
	const char *store;
	size_t n = 0, i;
	cli_args a;
	int error, rc = FERRY_EXIT_OK;

	if (!(store = parse(&a, &ls_command, argc, argv, parent)))
		return a.exit;
	if (!(arr = json_array()))
		return cli_fail("target", ferry_error_oom());
	if ((error = ferry_store_open(&st, store, FERRY_STORE_READ, 0)) < 0 ||
	    (error = ferry_target_list(&list, &n, st)) < 0) {
		rc = cli_fail("target", error);
		goto done;
	}
	for (i = 0; i < n; i++)
		print_target(list[i], a.common.json, arr);
	if (a.common.json) {
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
	}
done:
	json_decref(arr);
	ferry_target_list_free(list, n);
	ferry_store_close(st);
	return rc;
}

/* target show and target node-config. */
static int target_show(int argc, char **argv, cli_args *parent)
{
	ferry_target *t = NULL;
	ferry_store *st = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	const char *store;
	cli_args a;
	int error, rc = FERRY_EXIT_OK;

	if (!(store = parse(&a, parent->sub, argc, argv, parent)))
		return a.exit;
	if ((error = ferry_store_open(&st, store, FERRY_STORE_READ, 0)) < 0 ||
	    (error = ferry_target_load(&t, st, a.args[0])) < 0) {
		rc = cli_fail("target", error);
		goto done;
	}
	if (parent->sub == &node_config_command) {
		if ((error = ferry_target_node_config(&out, t)) < 0) {
			rc = cli_fail("target", error);
			goto done;
		}
		fwrite(out.ptr, 1, out.size, stdout);
	} else if (a.common.json) {
		json_t *arr = json_array();

		print_target(t, 1, arr);
		json_dumpf(json_array_get(arr, 0), stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(arr);
	} else {
		show_target(t);
	}
done:
	ferry_target_free(t);
	ferry_store_close(st);
	ferry_buf_dispose(&out);
	return rc;
}

static int target_rm(int argc, char **argv, cli_args *parent)
{
	ferry_store *st = NULL;
	const char *store;
	cli_args a;
	int error, rc = FERRY_EXIT_OK;

	if (!(store = parse(&a, &rm_command, argc, argv, parent)))
		return a.exit;
	if ((error = ferry_store_open(&st, store, FERRY_STORE_WRITE, 1)) < 0 ||
	    (error = ferry_target_remove(st, a.args[0])) < 0)
		rc = cli_fail("target", error);
	ferry_store_close(st);
	return rc;
}
