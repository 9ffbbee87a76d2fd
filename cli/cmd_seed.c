/*
 * ferry seed: push what the store holds to its configured targets (OCI
 * registries, git servers, Gitea/Forgejo). Also the summary `ferry import`
 * prints when it seeds after a publish.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "log.h"
#include "seed.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_TARGET, OPT_FULL };

static const cli_option seed_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ "target", 0, "NAME", "only this target", OPT_TARGET },
	{ "full", 0, NULL, "ignore recorded progress: check every tag and ref again",
	  OPT_FULL },
	CLI_OPTION_JSON("print the result as JSON"),
	CLI_OPTION_QUIET("no summary"),
	CLI_OPTION_VERBOSE("log every blob, manifest, tag and ref"),
	CLI_OPTIONS_END
};

static const cli_command seed_command = {
	.name = "seed",
	.synopsis = "[--store DIR] [--target NAME] [--full] [--json] [-q] [-v]",
	.description =
		"Push the store's images, charts and git refs to every configured target\n"
		"(see ferry target). Blobs the target holds are skipped, tags and refs are\n"
		"moved last and only to content that is complete on the target, and an\n"
		"interrupted seed continues where it stopped when run again.",
	.epilog = "Exit status: 0 seeded, 1 a target failed or refused a ref, 64 usage.",
	.options = seed_options,
};

json_t *cli_seed_json(const ferry_seed_result *res)
{
	json_t *arr = json_array();
	size_t i, j;

	for (i = 0; arr && i < res->ntargets; i++) {
		const ferry_seed_target_result *r = &res->targets[i];
		json_t *refused = json_array(), *o;

		for (j = 0; j < r->nrefused; j++)
			json_array_append_new(refused, json_string(r->refused[j]));
		o = json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
			      "s:I,s:I,s:I,s:I,s:I,s:o}",
			      "target", r->target, "ok", !r->failed && !r->nrefused,
			      "blobsPushed", (json_int_t)r->blobs_pushed,
			      "blobsPresent", (json_int_t)r->blobs_present,
			      "blobsMounted", (json_int_t)r->blobs_mounted,
			      "manifestsPushed", (json_int_t)r->manifests_pushed,
			      "manifestsPresent", (json_int_t)r->manifests_present,
			      "tagsSet", (json_int_t)r->tags_set,
			      "tagsUnchanged", (json_int_t)r->tags_unchanged,
			      "referrerIndexes", (json_int_t)r->referrer_indexes,
			      "bytesSent", (json_int_t)r->bytes_sent,
			      "repositories", (json_int_t)r->repos,
			      "repositoriesCreated", (json_int_t)r->repos_created,
			      "refsPushed", (json_int_t)r->refs_pushed,
			      "refsForced", (json_int_t)r->refs_forced,
			      "refsUnchanged", (json_int_t)r->refs_unchanged,
			      "refsRefused", (json_int_t)r->refs_refused,
			      "refsDeleted", (json_int_t)r->refs_deleted,
			      "refused", refused);
		if (o && r->failed)
			json_object_set_new(o, "error", json_string(r->error ? r->error : ""));
		json_array_append_new(arr, o);
	}
	return arr;
}

void cli_print_seed(const ferry_seed_result *res, int json)
{
	size_t i, j;

	for (i = 0; !json && i < res->ntargets; i++) {
		const ferry_seed_target_result *r = &res->targets[i];

		if (r->failed) {
			printf("target %s: failed: %s\n", r->target, r->error ? r->error : "");
			continue;
		}
		printf("target %s: %zu blob(s) pushed (%llu bytes), %zu present, %zu mounted; "
		       "%zu manifest(s) pushed, %zu present; %zu tag(s) set, %zu unchanged",
		       r->target, r->blobs_pushed, (unsigned long long)r->bytes_sent,
		       r->blobs_present, r->blobs_mounted, r->manifests_pushed,
		       r->manifests_present, r->tags_set, r->tags_unchanged);
		if (r->repos)
			printf("; %zu repositor%s (%zu created), %zu ref(s) pushed, %zu forced, "
			       "%zu unchanged, %zu deleted, %zu refused", r->repos,
			       r->repos == 1 ? "y" : "ies", r->repos_created, r->refs_pushed,
			       r->refs_forced, r->refs_unchanged, r->refs_deleted,
			       r->refs_refused);
		putchar('\n');
		for (j = 0; j < r->nrefused; j++)
			printf("  refused: %s\n", r->refused[j]);
	}
	if (json) {
		json_t *o = json_pack("{s:o}", "targets", cli_seed_json(res));

		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(o);
	}
}

int cmd_seed(int argc, char **argv)
{
	ferry_seed_options so = FERRY_SEED_OPTIONS_INIT;
	ferry_seed_result res;
	ferry_store *st = NULL;
	const char *store = NULL;
	cli_args a;
	int id, json, error, rc = FERRY_EXIT_OK;

	memset(&res, 0, sizeof(res));
	cli_args_init(&a, &seed_command, argc, argv, NULL);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_STORE: store = a.value; break;
		case OPT_TARGET: so.target = a.value; break;
		case OPT_FULL: so.full = 1; break;
		}
	}
	if (id < 0)
		return a.exit;
	json = a.common.json;
	if (a.common.verbose)
		ferry_log_set_sink(ferry_log_stderr_sink, FERRY_LOG_INFO, NULL);
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0)
		return cli_fail("seed", error);
	error = ferry_seed(&res, st, &so);
	if (json || !cli_quiet)
		cli_print_seed(&res, json);
	if (error < 0) {
		fprintf(stderr, "ferry seed: %s\n", ferry_error_last());
		rc = FERRY_EXIT_FAILURE;
	}
	ferry_seed_result_dispose(&res);
	ferry_store_close(st);
	return rc;
}
