/*
 * ferry import: verify bundles against the store's trust root and history,
 * then publish them into the store.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "fs.h"
#include "import.h"
#include "notify.h"
#include "progress.h"
#include "seed.h"
#include "banned.h"

static const char usage[] =
	"ferry import [--store DIR] [--audit-log FILE] [--no-wait] [--no-seed] [--json]\n"
	"                    [-q] [--notify URL]... [--notify-token-file FILE]\n"
	"                    BUNDLE-OR-VOLUME...";

static void help(void)
{
	printf("usage: %s\n\n"
	       "Verify bundles completely, then publish them into the enclave store:\n"
	       "signatures against the store's trust root, the channel's sequence (replay\n"
	       "and rollback), expiry, every member's digest, every volume, every\n"
	       "prerequisite. Nothing is published unless all files given verify.\n\n"
	       "  --store DIR        the store (default $FERRY_STORE or %s)\n"
	       "  --audit-log FILE   also append audit events to FILE as JSON lines\n"
	       "  --no-wait          fail instead of waiting when another process\n"
	       "                     writes the store\n"
	       "  --no-seed          do not seed the configured targets afterwards\n"
	       "                     (see ferry target, ferry seed)\n"
	       "  --notify URL       after publishing, POST {channel, sequence, bundle} to URL\n"
	       "                     (repeatable; the reconciler's /hooks/import). A failed\n"
	       "                     notification is a warning: the import stands\n"
	       "  --notify-token-file FILE\n"
	       "                     send the token in FILE as Authorization: Bearer\n"
	       "  --json             print the result as JSON\n"
	       "  -q, --quiet        no progress bar, no summary\n\n"
	       "After a successful import, every configured target is seeded (as by\n"
	       "ferry seed), before any notification; a seed that fails leaves the\n"
	       "import in place and exits 1.\n\n"
	       "Exit status: 0 imported (or already imported), 2 verification failed,\n"
	       "1 other error (or seeding failed), 64 usage.\n", usage, FERRY_STORE_DEFAULT);
}

/* The summary; with --json one object, holding `seed` (stolen) if given. */
static void print_result(const ferry_import_result *res, int json, json_t *seed)
{
	static const char *const outcome[] = { "", "imported", "already imported",
					       "verified" };
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < res->nbundles; i++) {
		const ferry_import_bundle *b = &res->bundles[i];

		if (json) {
			json_array_append_new(arr,
				json_pack("{s:s,s:s,s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s}",
					  "bundle", b->id, "channel", b->channel, "sequence",
					  (json_int_t)b->sequence, "baseSequence",
					  (json_int_t)b->base_sequence, "outcome",
					  outcome[b->outcome], "volumes",
					  (json_int_t)b->nvolumes, "blobsNew",
					  (json_int_t)b->blobs_new, "blobsPresent",
					  (json_int_t)b->blobs_present, "bytes",
					  (json_int_t)b->bytes, "images", (json_int_t)b->nimages,
					  "repositories", (json_int_t)b->nrepos, "signers",
					  b->signers));
			continue;
		}
		printf("%s: channel %s sequence %llu (bundle %.16s)", outcome[b->outcome],
		       b->channel, (unsigned long long)b->sequence, b->id);
		if (b->outcome != FERRY_ALREADY)
			printf(", %zu image(s), %zu repositor%s, %zu blob(s) new, %zu "
			       "already held", b->nimages, b->nrepos,
			       b->nrepos == 1 ? "y" : "ies", b->blobs_new, b->blobs_present);
		printf(", signed by %s\n", b->signers);
	}
	if (json) {
		json_t *o = json_pack("{s:b,s:o}", "ok", 1, "bundles", arr);

		if (o && seed)
			json_object_set_new(o, "seed", seed);
		else
			json_decref(seed);
		cli_print_json(o);
	} else {
		json_decref(arr);
		json_decref(seed);
	}
}

/* Import (or verify) and report; the exit code. */
static int run(ferry_store *st, const char *cmd, char *const *paths, size_t npaths,
	       ferry_import_options *io, int json, const char *const *notify,
	       size_t nnotify, const char *token, int seed)
{
	ferry_import_result res;
	ferry_seed_result sres;
	ferry_progress_bar bar;
	json_t *seeded = NULL;
	size_t i, k;
	int error, rc = FERRY_EXIT_OK;

	ferry_progress_bar_init(&bar, cmd, !cli_quiet && !json);
	io->progress = ferry_progress_bar_cb;
	io->progress_payload = &bar;
	error = ferry_import(&res, st, (const char *const *)paths, npaths, io);
	ferry_progress_bar_finish(&bar);
	if (error < 0) {
		if (json)
			cli_print_json(json_pack("{s:b,s:s}", "ok", 0, "error", ferry_error_last()));
		fprintf(stderr, "ferry %s: %s\n", cmd, ferry_error_last());
		return cli_exit_code(error);
	}
	/* Seed the site's servers once the import is published (or was already),
	 * before the reconciler hears of it. The text summary comes first; the
	 * JSON one waits to hold the seed's result too. */
	if (!json && !cli_quiet)
		print_result(&res, 0, NULL);
	if (seed) {
		error = ferry_seed(&sres, st, NULL);
		if (json && sres.ntargets &&
		    (seeded = json_pack("{s:b,s:o}", "ok", error == 0, "targets",
					cli_seed_json(&sres))) && error < 0)
			json_object_set_new(seeded, "error", json_string(ferry_error_last()));
		if (sres.ntargets && !json && !cli_quiet)
			cli_print_seed(&sres, 0);
		if (error < 0) {
			fprintf(stderr, "ferry %s: imported, but seeding failed: %s\n", cmd,
				ferry_error_last());
			rc = FERRY_EXIT_FAILURE;
		}
		ferry_seed_result_dispose(&sres);
	}
	if (json)
		print_result(&res, 1, seeded);
	/* Tell the reconciler (after the summary: the import already stands). */
	for (i = 0; i < res.nbundles; i++) {
		if (res.bundles[i].outcome != FERRY_IMPORTED)
			continue;
		for (k = 0; k < nnotify; k++)
			if (ferry_import_notify(notify[k], token, res.bundles[i].channel,
						res.bundles[i].sequence, res.bundles[i].id) < 0)
				fprintf(stderr, "ferry %s: warning: %s\n", cmd, ferry_error_last());
			else if (!cli_quiet && !json)
				fprintf(stderr, "notified %s\n", notify[k]);
	}
	ferry_import_result_dispose(&res);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "audit-log", required_argument, NULL, 'a' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "no-seed", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "notify", required_argument, NULL, 'N' },
		{ "notify-token-file", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *notify[16];
	size_t nnotify = 0;
	const char *token_file = NULL;
	ferry_buf token = FERRY_BUF_INIT;
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	ferry_store *st = NULL;
	const char *store = NULL, *audit = NULL;
	int c, json = 0, wait = 1, seed = 1, error, rc = FERRY_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'a': audit = optarg; break;
		case 'n': wait = 0; break;
		case 'S': seed = 0; break;
		case 'j': json = 1; break;
		case 'N':
			if (nnotify == sizeof(notify) / sizeof(notify[0]))
				return cli_usage_error(usage, "at most 16 --notify URLs");
			if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8))
				return cli_usage_error(usage, "--notify wants an http(s) URL, not '%s'",
						       optarg);
			notify[nnotify++] = optarg;
			break;
		case 'T': token_file = optarg; break;
		case 'q': cli_quiet = 1; break;
		case 'h': help(); return FERRY_EXIT_OK;
		default: return cli_usage_error(usage, "bad option");
		}
	}
	if (optind == argc)
		return cli_usage_error(usage, "import needs at least one bundle file");
	if (token_file) {
		if ((error = ferry_fs_read_file(&token, token_file, 4096)) < 0)
			return cli_fail("import", error);
		while (token.size && (token.ptr[token.size - 1] == '\n' ||
				      token.ptr[token.size - 1] == '\r'))
			token.ptr[--token.size] = '\0';
	}
	if (audit && !(io.audit_log = fopen(audit, "a"))) {
		fprintf(stderr, "ferry import: cannot open '%s'\n", audit);
		return FERRY_EXIT_FAILURE;
	}
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_WRITE,
				      wait)) < 0) {
		rc = cli_fail("import", error);
		goto done;
	}
	rc = run(st, "import", argv + optind, (size_t)(argc - optind), &io, json,
		 (const char *const *)notify, nnotify, token.size ? token.ptr : NULL, seed);
done:
	if (token.ptr)
		memset(token.ptr, 0, token.size);
	ferry_buf_dispose(&token);
	ferry_store_close(st);
	if (io.audit_log)
		fclose(io.audit_log);
	return rc;
}

int cli_verify_store(const char *store, char *const *paths, size_t npaths, int json)
{
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	ferry_store *st = NULL;
	int error, rc = FERRY_EXIT_OK;

	/* Opening an existing store for writing creates nothing where there
	 * is none. */
	io.dry_run = 1;
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_WRITE, 1)) < 0)
		return cli_fail("verify", error);
	rc = run(st, "verify", paths, npaths, &io, json, NULL, 0, NULL, 0);
	ferry_store_close(st);
	return rc;
}
