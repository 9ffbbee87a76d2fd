/*
 * ferry store: list what the enclave store holds, and collect garbage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "catalog.h"
#include "json.h"
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
		return cli_fail("store", ferry_error_set(FERRY_ENOMEM, "out of memory"));
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

/* ---- ferry receipt ----------------------------------------------------- */

#include <time.h>

#include "fs.h"
#include "receipt.h"

static const char receipt_usage[] = "ferry receipt [--store DIR] --key KEY -o FILE";

int cmd_receipt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL, *keyfile = NULL, *outfile = NULL;
	ferry_store *st = NULL;
	ferry_key *key = NULL;
	ferry_buf buf = FERRY_BUF_INIT;
	int c, error, rc = FERRY_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'o': outfile = optarg; break;
		case 'h':
			printf("usage: %s\n\n"
			       "Write a signed inventory of the store (per channel its last\n"
			       "sequence; every blob; every repository's refs), signed with the\n"
			       "enclave's own KEY. Where a return path is allowed, give it to\n"
			       "'ferry export --baseline' on the connected side so the next\n"
			       "incremental bundle carries exactly what the enclave lacks.\n\n"
			       "  --store DIR  the store (default $FERRY_STORE or %s)\n"
			       "  --key KEY    the enclave's secret key\n"
			       "  -o FILE      where to write the receipt\n",
			       receipt_usage, FERRY_STORE_DEFAULT);
			return FERRY_EXIT_OK;
		default:
			return cli_usage_error(receipt_usage, "bad option");
		}
	}
	if (!keyfile || !outfile || optind != argc)
		return cli_usage_error(receipt_usage, "receipt needs --key and -o");
	if ((error = ferry_key_load(&key, keyfile)) < 0 ||
	    (error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0 ||
	    (error = ferry_receipt_make(&buf, st, key, (int64_t)time(NULL))) < 0 ||
	    (error = ferry_fs_write_atomic(outfile, buf.ptr, buf.size, 0644)) < 0) {
		rc = cli_fail("receipt", error);
		goto done;
	}
	printf("wrote %s (signed by %s)\n", outfile, ferry_pubkey_id(ferry_key_public(key)));
done:
	ferry_buf_dispose(&buf);
	ferry_store_close(st);
	ferry_key_free(key);
	return rc;
}
