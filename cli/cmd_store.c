/*
 * ferry store: list what the enclave store holds, and collect garbage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "store.h"
#include "banned.h"

static const char usage[] =
	"ferry store ls [--store DIR] [--json]\n"
	"       ferry store gc [--store DIR] [--dry-run] [--json]";


static void help(void)
{
	printf("usage: %s\n\n"
	       "ls: the store's channels with their sequences, images and charts with\n"
	       "    their digests and sizes, git repositories with their refs, and the\n"
	       "    blobs held.\n"
	       "gc: delete blobs that no image or chart tag reaches. It takes the store's\n"
	       "    write lock, so it never runs during an import. Blobs a future\n"
	       "    incremental bundle expects may be among them: re-base the exporter\n"
	       "    with a receipt afterwards.\n\n"
	       "  --store DIR  the store (default $FERRY_STORE or %s)\n"
	       "  --dry-run    only say what gc would delete\n"
	       "  --json       print as JSON\n", usage, FERRY_STORE_DEFAULT);
}

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
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL, *sub;
	ferry_store *st = NULL;
	int c, json = 0, dry = 0, error, rc = FERRY_EXIT_OK;

	if (argc < 2)
		return cli_usage_error(usage, "store needs a subcommand");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help();
		return FERRY_EXIT_OK;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'n': dry = 1; break;
		case 'j': json = 1; break;
		case 'h': help(); return FERRY_EXIT_OK;
		default: return cli_usage_error(usage, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (!strcmp(sub, "ls")) {
		if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ,
					      0)) < 0)
			return cli_fail("store", error);
		rc = ls(st, json);
	} else if (!strcmp(sub, "gc")) {
		size_t removed, kept;
		uint64_t bytes;
		char size[32];

		if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_WRITE,
					      1)) < 0 ||
		    (error = ferry_store_gc(st, dry, &removed, &bytes, &kept)) < 0) {
			rc = cli_fail("store", error);
			goto done;
		}
		if (json)
			printf("{\"removed\": %zu, \"removedBytes\": %llu, \"kept\": %zu, "
			       "\"dryRun\": %s}\n", removed, (unsigned long long)bytes, kept,
			       dry ? "true" : "false");
		else
			printf("%s %zu blob(s), %s; kept %zu\n", dry ? "would remove" : "removed",
			       removed, cli_human_size(size, sizeof(size), bytes), kept);
	} else {
		rc = cli_usage_error(usage, "unknown store subcommand '%s'", sub);
	}
done:
	ferry_store_close(st);
	return rc;
}
