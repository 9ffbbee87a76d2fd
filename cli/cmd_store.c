/*
 * ferry store ls, gc and get: list what the enclave store holds, collect
 * its garbage, and write a file artifact's files out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "catalog.h"
#include "file_artifact.h"
#include "json.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_DRY_RUN, OPT_OUTPUT };

static const cli_option ls_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	CLI_OPTION_JSON("print as JSON"),
	CLI_OPTIONS_END
};
static const cli_option gc_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ "dry-run", 0, NULL, "only say what gc would delete", OPT_DRY_RUN },
	CLI_OPTION_JSON("print as JSON"),
	CLI_OPTIONS_END
};

static const cli_option get_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ NULL, 'o', "DIR", "where to write the files (created when missing)", OPT_OUTPUT },
	CLI_OPTION_JSON("print the files written as JSON"),
	CLI_OPTIONS_END
};

static int store_ls(int argc, char **argv, cli_args *parent);
static int store_gc(int argc, char **argv, cli_args *parent);
static int store_get(int argc, char **argv, cli_args *parent);

static const cli_command ls_command = {
	.name = "store ls",
	.summary = "list what the store holds",
	.synopsis = "[--store DIR] [--json]",
	.description =
		"The store's channels with their sequences, images and charts with their\n"
		"digests and sizes, git repositories with their refs, and the blobs held.",
	.options = ls_options,
	.run = store_ls,
};
static const cli_command gc_command = {
	.name = "store gc",
	.summary = "delete blobs that no image or chart tag reaches",
	.synopsis = "[--store DIR] [--dry-run] [--json]",
	.description =
		"Delete blobs that no image or chart tag reaches. It takes the store's\n"
		"write lock, so it never runs during an import. Blobs a future\n"
		"incremental bundle expects may be among them: re-base the exporter\n"
		"with a receipt afterwards.",
	.options = gc_options,
	.run = store_gc,
};
static const cli_command get_command = {
	.name = "store get",
	.summary = "write the files of a file artifact into a directory",
	.synopsis = "[--store DIR] REFERENCE -o DIR [--json]",
	.description =
		"Write the files that a file source of the export spec carried (an OCI\n"
		"artifact, one layer per file) into DIR, each under its own name.\n"
		"REFERENCE is NAME:TAG or NAME@sha256:DIGEST. Everything is checked\n"
		"before the first file is written, and each file's digest while it is\n"
		"copied; an existing file of the same name is replaced.",
	.options = get_options,
	.operands = "REFERENCE",
	.run = store_get,
};
static const cli_command *const store_subcommands[] = {
	&ls_command, &gc_command, &get_command, NULL
};
static const cli_command store_command = {
	.name = "store",
	.description = "List what the enclave store holds, collect its garbage, and write\n"
		       "file artifacts out.",
	.subcommands = store_subcommands,
};

static int add_channel(const ferry_store_channel *c, void *payload)
{
	return ferry_json_append(payload, json_pack("{s:s,s:I,s:s}", "channel", c->name,
						    "sequence", (json_int_t)c->sequence,
						    "bundle", c->bundle_id));
}

static int add_tag(const ferry_store_tag *t, void *payload)
{
	return ferry_json_append(payload, json_pack("{s:s,s:s,s:s,s:I,s:s,s:I}",
						    "reference", t->reference,
						    "digest", t->digest,
						    "mediaType", t->media_type,
						    "size", (json_int_t)t->size,
						    "channel", t->channel,
						    "sequence", (json_int_t)t->sequence));
}

static int add_ref(const ferry_store_ref *r, void *payload)
{
	return ferry_json_append(payload, json_pack("{s:s,s:s,s:s,s:s,s:I}",
						    "repository", r->repo, "ref", r->name,
						    "commit", r->commit, "channel", r->channel,
						    "sequence", (json_int_t)r->sequence));
}

static int ls(ferry_store *st, int json)
{
	json_t *o = json_pack("{s:[],s:[],s:[]}", "channels", "images", "repositories");
	uint64_t count, bytes;
	int error;

	if (!o)
		return cli_fail("store", ferry_error_oom());
	if ((error = ferry_store_begin(st, 0)) < 0 ||
	    (error = ferry_store_channel_foreach(st, add_channel,
						 json_object_get(o, "channels"))) < 0 ||
	    (error = ferry_store_tag_foreach(st, add_tag, json_object_get(o, "images"))) < 0 ||
	    (error = ferry_store_ref_foreach(st, NULL, add_ref,
					     json_object_get(o, "repositories"))) < 0 ||
	    (error = ferry_store_blob_totals(&count, &bytes, st)) < 0 ||
	    (error = ferry_json_set(o, "blobs", json_pack("{s:I,s:I}", "count",
							 (json_int_t)count, "bytes",
							 (json_int_t)bytes))) < 0) {
		ferry_store_rollback(st);
		json_decref(o);
		return cli_fail("store", error);
	}
	ferry_store_rollback(st);
	json_t *e;
	size_t i;
	char size[32];

	if (json) {
		cli_print_json(o);
		return FERRY_EXIT_OK;
	}
	printf("store %s\n\nchannels:\n", ferry_store_root(st));
	json_array_foreach(json_object_get(o, "channels"), i, e)
		printf("  %-20s sequence %lld  (bundle %.16s)\n",
		       json_string_value(json_object_get(e, "channel")),
		       (long long)json_integer_value(json_object_get(e, "sequence")),
		       json_string_value(json_object_get(e, "bundle")));
	printf("\nimages and charts:\n");
	json_array_foreach(json_object_get(o, "images"), i, e)
		printf("  %-40s %s  %s\n", json_string_value(json_object_get(e, "reference")),
		       json_string_value(json_object_get(e, "digest")),
		       cli_human_size(size, sizeof(size), (uint64_t)json_integer_value(
					      json_object_get(e, "size"))));
	printf("\ngit repositories:\n");
	json_array_foreach(json_object_get(o, "repositories"), i, e)
		printf("  %-24s %-28s %s\n",
		       json_string_value(json_object_get(e, "repository")),
		       json_string_value(json_object_get(e, "ref")),
		       json_string_value(json_object_get(e, "commit")));
	e = json_object_get(o, "blobs");
	printf("\nblobs: %lld, %s\n", (long long)json_integer_value(json_object_get(e, "count")),
	       cli_human_size(size, sizeof(size),
			      (uint64_t)json_integer_value(json_object_get(e, "bytes"))));
	json_decref(o);
	return FERRY_EXIT_OK;
}

int cmd_store(int argc, char **argv)
{
	cli_args a;

	cli_args_init(&a, &store_command, argc, argv, NULL);
	return cli_args_next(&a) < 0 ? a.exit : cli_dispatch(&a);
}

static int store_ls(int argc, char **argv, cli_args *parent)
{
	const char *store = NULL;
	ferry_store *st = NULL;
	cli_args a;
	int id, error, rc;

	cli_args_init(&a, &ls_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0)
		store = a.value;        /* --store */
	if (id < 0)
		return a.exit;
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0)
		return cli_fail("store", error);
	rc = ls(st, a.common.json);
	ferry_store_close(st);
	return rc;
}

static int store_gc(int argc, char **argv, cli_args *parent)
{
	const char *store = NULL;
	ferry_store *st = NULL;
	ferry_store_gc_result res;
	json_t *o = NULL, *digests;
	char size[32];
	cli_args a;
	size_t i;
	int id, dry = 0, error, rc = FERRY_EXIT_OK;

	memset(&res, 0, sizeof(res));
	cli_args_init(&a, &gc_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_STORE: store = a.value; break;
		case OPT_DRY_RUN: dry = 1; break;
		}
	}
	if (id < 0)
		return a.exit;
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_WRITE, 1)) < 0 ||
	    (error = ferry_store_gc(&res, st, dry)) < 0) {
		rc = cli_fail("store", error);
		goto done;
	}
	if (a.common.json) {
		o = json_pack("{s:I,s:I,s:I,s:b,s:[]}", "removed", (json_int_t)res.removed.n,
			      "removedBytes", (json_int_t)res.removed_bytes, "kept",
			      (json_int_t)res.kept, "dryRun", dry, "digests");
		digests = o ? json_object_get(o, "digests") : NULL;
		for (i = 0; digests && i < res.removed.n; i++)
			if (json_array_append_new(digests, json_sprintf("sha256:%s",
									res.removed.v[i])) < 0)
				digests = NULL;
		if (!digests) {
			rc = cli_fail("store", ferry_error_oom());
			goto done;
		}
		cli_print_json(o);
		o = NULL;
	} else {
		printf("%s %zu blob(s), %s; kept %zu\n", dry ? "would remove" : "removed",
		       res.removed.n, cli_human_size(size, sizeof(size), res.removed_bytes),
		       res.kept);
	}
done:
	json_decref(o);
	ferry_store_gc_result_dispose(&res);
	ferry_store_close(st);
	return rc;
}

static int store_get(int argc, char **argv, cli_args *parent)
{
	const char *store = NULL, *dir = NULL;
	ferry_strv written = FERRY_STRV_INIT;
	ferry_store *st = NULL;
	cli_args a;
	size_t i;
	int id, error, rc = FERRY_EXIT_OK;

	cli_args_init(&a, &get_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_STORE: store = a.value; break;
		case OPT_OUTPUT: dir = a.value; break;
		}
	}
	if (id < 0)
		return a.exit;
	if (!dir)
		return cli_args_error(&a, "-o DIR is required");
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0 ||
	    (error = ferry_store_files_get(&written, st, a.args[0], dir)) < 0) {
		rc = cli_fail("store get", error);
		goto done;
	}
	if (a.common.json) {
		json_t *o = json_pack("{s:s,s:s,s:[]}", "reference", a.args[0], "directory", dir,
				      "files");

		for (i = 0; o && i < written.n; i++)
			if (ferry_json_append(json_object_get(o, "files"),
					      json_string(written.v[i])) < 0)
				break;
		if (!o || i < written.n) {
			json_decref(o);
			rc = cli_fail("store get", ferry_error_oom());
			goto done;
		}
		cli_print_json(o);
	} else {
		for (i = 0; i < written.n; i++)
			printf("%s/%s\n", dir, written.v[i]);
	}
done:
	ferry_strv_dispose(&written);
	ferry_store_close(st);
	return rc;
}
