/*
 * ferry store ls and ferry store gc: list what the enclave store holds,
 * and collect its garbage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "store.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_DRY_RUN };

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

static int store_ls(int argc, char **argv, cli_args *parent);
static int store_gc(int argc, char **argv, cli_args *parent);

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
static const cli_command *const store_subcommands[] = { &ls_command, &gc_command, NULL };
static const cli_command store_command = {
	.name = "store",
	.description = "List what the enclave store holds, and collect its garbage.",
	.subcommands = store_subcommands,
};

static json_t *query(ferry_store *st, const char *sql, int ncols,
		     const char *const *names, const int *is_int)
{
	sqlite3_stmt *q = NULL;
	json_t *rows = json_array();
	int i;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return rows;
	while (sqlite3_step(q) == SQLITE_ROW) {
		json_t *row = json_object();

		for (i = 0; i < ncols; i++)
			json_object_set_new(row, names[i],
					    is_int[i] ? json_integer(sqlite3_column_int64(q, i))
						      : json_string((const char *)
								    sqlite3_column_text(q, i)));
		json_array_append_new(rows, row);
	}
	sqlite3_finalize(q);
	return rows;
}

static int ls(ferry_store *st, int json)
{
	static const char *const ch_names[] = { "channel", "sequence", "bundle" };
	static const int ch_int[] = { 0, 1, 0 };
	static const char *const tag_names[] = { "reference", "digest", "mediaType",
						 "size", "channel", "sequence" };
	static const int tag_int[] = { 0, 0, 0, 1, 0, 1 };
	static const char *const ref_names[] = { "repository", "ref", "commit",
						 "channel", "sequence" };
	static const int ref_int[] = { 0, 0, 0, 0, 1 };
	static const char *const blob_names[] = { "count", "bytes" };
	static const int blob_int[] = { 1, 1 };
	json_t *blob_rows = query(st, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs",
				  2, blob_names, blob_int);
	json_t *blob_totals = json_incref(json_array_get(blob_rows, 0));
	json_t *o;

	json_decref(blob_rows);
	o = json_pack("{s:o,s:o,s:o,s:o}",
		"channels", query(st, "SELECT name, sequence, bundle_id FROM channels "
				  "ORDER BY name", 3, ch_names, ch_int),
		"images", query(st, "SELECT reference, digest, media_type, size, channel, "
				"sequence FROM tags ORDER BY reference", 6, tag_names, tag_int),
		"repositories", query(st, "SELECT repo, ref, commit_id, channel, sequence "
				      "FROM refs ORDER BY repo, ref", 5, ref_names, ref_int),
		"blobs", blob_totals);
	json_t *e;
	size_t i;
	char size[32];

	if (json) {
		cli_print_json(o);
		return FERRY_EXIT_OK;
	}
	printf("store %s\n\nchannels:\n", st->root);
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
	size_t removed, kept;
	uint64_t bytes;
	char size[32];
	cli_args a;
	int id, dry = 0, error, rc = FERRY_EXIT_OK;

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
	    (error = ferry_store_gc(st, dry, &removed, &bytes, &kept)) < 0) {
		rc = cli_fail("store", error);
		goto done;
	}
	if (a.common.json)
		printf("{\"removed\": %zu, \"removedBytes\": %llu, \"kept\": %zu, "
		       "\"dryRun\": %s}\n", removed, (unsigned long long)bytes, kept,
		       dry ? "true" : "false");
	else
		printf("%s %zu blob(s), %s; kept %zu\n", dry ? "would remove" : "removed",
		       removed, cli_human_size(size, sizeof(size), bytes), kept);
done:
	ferry_store_close(st);
	return rc;
}
