/*
 * ferry import: verify bundles against the store's trust root and history,
 * then publish them into the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cmd_import.h"
#include "strv.h"
#include "fs.h"
#include "import.h"
#include "notify.h"
#include "progress.h"
#include "seed.h"
#include "util.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_AUDIT_LOG, OPT_NO_WAIT, OPT_NO_SEED, OPT_NOTIFY,
       OPT_NOTIFY_TOKEN_FILE, OPT_VERIFY_HELD, OPT_GIT_MAX_OBJECT,
       OPT_GIT_MAX_TOTAL };

static const cli_option import_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ "audit-log", 0, "FILE", "also append audit events to FILE as JSON lines",
	  OPT_AUDIT_LOG },
	{ "no-wait", 0, NULL, "fail instead of waiting when another process writes the "
	  "store", OPT_NO_WAIT },
	{ "verify-held", 0, NULL, "rehash the blobs the bundles carry that the store "
	  "already holds, and replace a damaged one with the bundle's copy", OPT_VERIFY_HELD },
	{ "git-max-object", 0, "SIZE", "refuse a git object that inflates to more than SIZE "
	  "(default 256MiB; 0: no limit)", OPT_GIT_MAX_OBJECT },
	{ "git-max-total", 0, "SIZE", "refuse a repository's pack whose objects inflate to "
	  "more than SIZE in all (default 64GiB; 0: no limit)", OPT_GIT_MAX_TOTAL },
	CLI_IMPORT_HOOK_OPTIONS(OPT_NO_SEED, OPT_NOTIFY, OPT_NOTIFY_TOKEN_FILE),
	CLI_OPTION_JSON("print the result as JSON"),
	CLI_OPTION_QUIET("no progress bar, no summary"),
	CLI_OPTIONS_END
};

static const cli_command import_command = {
	.name = "import",
	.synopsis = "[--store DIR] [--audit-log FILE] [--no-wait] [--no-seed] [--verify-held] "
		    "[--git-max-object SIZE] [--git-max-total SIZE] [--json] [-q] "
		    "[--notify URL]... [--notify-token-file FILE] BUNDLE-OR-VOLUME...",
	.description =
		"Verify bundles completely, then publish them into the enclave store:\n"
		"signatures against the store's trust root, the channel's sequence (replay\n"
		"and rollback), expiry, every member's digest, every volume, every\n"
		"prerequisite. The files are grouped into bundles by their manifests and\n"
		"each channel's bundles are taken in sequence order; every complete, valid\n"
		"bundle is published on its own. A refused bundle (a bad or missing volume,\n"
		"a failed check, a prerequisite that was refused) publishes nothing and\n"
		"holds back only the bundles that build on it. A bundle already imported,\n"
		"or older than its channel when given with others, is skipped.",
	.epilog =
		"After a successful import, every configured target is seeded (as by\n"
		"ferry seed), before any notification; a seed that fails leaves the\n"
		"import in place and exits 1.\n\n"
		"Exit status: 0 every bundle imported or was skipped (already imported,\n"
		"superseded), 2 a bundle was refused (the others still imported), 1 other\n"
		"error (or seeding failed), 64 usage.",
	.options = import_options,
	.operands = "BUNDLE-OR-VOLUME...",
};

static const char *const outcome_name[] = { "", "imported", "already imported", "verified",
					    "superseded", "refused" };

/* One bundle of the result as JSON: `status` is the outcome, `error` the
 * reason it was refused or skipped (null otherwise). */
static json_t *bundle_json(const ferry_import_bundle *b)
{
	json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}",
			      "bundle", b->id, "channel", b->channel, "sequence",
			      (json_int_t)b->sequence, "baseSequence",
			      (json_int_t)b->base_sequence, "outcome", outcome_name[b->outcome],
			      "status", outcome_name[b->outcome], "volumes",
			      (json_int_t)b->nvolumes, "blobsNew", (json_int_t)b->blobs_new,
			      "blobsPresent", (json_int_t)b->blobs_present, "blobsRepaired",
			      (json_int_t)b->blobs_repaired, "bytes", (json_int_t)b->bytes,
			      "images", (json_int_t)b->nimages, "repositories",
			      (json_int_t)b->nrepos, "signers", b->signers);

	if (o)
		json_object_set_new(o, "error", b->reason ? json_string(b->reason) : json_null());
	if (o && b->file)
		json_object_set_new(o, "file", json_string(b->file));
	return o;
}

/* One line per bundle: refused ones on stderr, the others on stdout. The
 * channel, reasons and signers come from the bundle: escaped. */
static void print_bundle(const char *cmd, const ferry_import_bundle *b)
{
	char chan[256], why[1024], who[512];

	cli_escape(why, sizeof(why), b->reason);
	if (b->outcome == FERRY_REFUSED) {
		fprintf(stderr, "ferry %s: refused: %s\n", cmd, why);
		return;
	}
	printf("%s: channel %s sequence %llu (bundle %.16s)", outcome_name[b->outcome],
	       cli_escape(chan, sizeof(chan), b->channel), (unsigned long long)b->sequence,
	       b->id);
	if (b->outcome == FERRY_SUPERSEDED) {
		printf(", skipped: %s\n", why);
		return;
	}
	if (b->outcome != FERRY_ALREADY)
		printf(", %zu image(s), %zu repositor%s, %zu blob(s) new, %zu already held",
		       b->nimages, b->nrepos, b->nrepos == 1 ? "y" : "ies", b->blobs_new,
		       b->blobs_present);
	if (b->blobs_repaired)
		printf(" (%zu damaged, replaced)", b->blobs_repaired);
	printf(", signed by %s\n", cli_escape(who, sizeof(who), b->signers));
}

/* The summary; with --json one object, holding `seed` (stolen) if given;
 * `error` the call's first refusal, NULL if none. */
static void print_result(const char *cmd, const ferry_import_result *res, int json,
			 json_t *seed, const char *error)
{
	json_t *arr, *o;
	size_t i;

	if (!json) {
		for (i = 0; i < res->nbundles; i++)
			if (!cli_quiet || res->bundles[i].outcome == FERRY_REFUSED)
				print_bundle(cmd, &res->bundles[i]);
		json_decref(seed);
		return;
	}
	arr = json_array();
	for (i = 0; i < res->nbundles; i++)
		json_array_append_new(arr, bundle_json(&res->bundles[i]));
	o = json_pack("{s:b,s:o}", "ok", error == NULL, "bundles", arr);
	if (o && error)
		json_object_set_new(o, "error", json_string(error));
	if (o && seed)
		json_object_set_new(o, "seed", seed);
	else
		json_decref(seed);
	cli_print_json(o);
}

int cli_import_hooks_notify(cli_import_hooks *h, cli_args *a)
{
	if (h->nnotify == CLI_IMPORT_MAX_NOTIFY)
		return cli_args_error(a, "at most 16 --notify URLs");
	if (strncmp(a->value, "http://", 7) && strncmp(a->value, "https://", 8))
		return cli_args_error(a, "--notify wants an http(s) URL, not '%s'", a->value);
	h->notify[h->nnotify++] = a->value;
	return 0;
}

int cli_import_hooks_load(cli_import_hooks *h, const char *cmd)
{
	int error;

	if (!h->token_file)
		return FERRY_EXIT_OK;
	if ((error = ferry_fs_read_file(&h->token, h->token_file, 4096)) < 0)
		return cli_fail(cmd, error);
	while (h->token.size && (h->token.ptr[h->token.size - 1] == '\n' ||
				 h->token.ptr[h->token.size - 1] == '\r'))
		h->token.ptr[--h->token.size] = '\0';
	return FERRY_EXIT_OK;
}

void cli_import_hooks_dispose(cli_import_hooks *h)
{
	if (h->token.ptr)
		memset(h->token.ptr, 0, h->token.size);
	ferry_buf_dispose(&h->token);
}

int cli_import_seed(json_t **seeded, ferry_store *st, const char *cmd, int json)
{
	ferry_seed_result sres;
	int error, rc = FERRY_EXIT_OK;

	*seeded = NULL;
	error = ferry_seed(&sres, st, NULL);
	if (json && sres.ntargets &&
	    (*seeded = json_pack("{s:b,s:o}", "ok", error == 0, "targets",
				 cli_seed_json(&sres))) && error < 0)
		json_object_set_new(*seeded, "error", json_string(ferry_error_last()));
	if (sres.ntargets && !json && !cli_quiet)
		cli_print_seed(&sres, 0);
	if (error < 0) {
		fprintf(stderr, "ferry %s: imported, but seeding failed: %s\n", cmd,
			ferry_error_last());
		rc = FERRY_EXIT_FAILURE;
	}
	ferry_seed_result_dispose(&sres);
	return rc;
}

void cli_import_notify(const cli_import_hooks *h, const ferry_import_result *res,
		       const char *cmd, int json)
{
	const char *token = h->token.size ? h->token.ptr : NULL;
	size_t i, k;

	for (i = 0; i < res->nbundles; i++) {
		if (res->bundles[i].outcome != FERRY_IMPORTED)
			continue;
		for (k = 0; k < h->nnotify; k++)
			if (ferry_import_notify(h->notify[k], token, res->bundles[i].channel,
						res->bundles[i].sequence, res->bundles[i].id) < 0)
				fprintf(stderr, "ferry %s: warning: %s\n", cmd, ferry_error_last());
			else if (!cli_quiet && !json)
				fprintf(stderr, "notified %s\n", h->notify[k]);
	}
}

/* Import (or verify) and report; the exit code. */
static int run(ferry_store *st, const char *cmd, char *const *paths, size_t npaths,
	       ferry_import_options *io, int json, const cli_import_hooks *hooks)
{
	ferry_import_result res;
	ferry_progress_bar bar;
	json_t *seeded = NULL;
	char *refusal = NULL;
	size_t i, nimported = 0;
	int error, rc = FERRY_EXIT_OK;

	ferry_progress_bar_init(&bar, cmd, !cli_quiet && !json);
	io->progress = ferry_progress_bar_cb;
	io->progress_payload = &bar;
	error = ferry_import(&res, st, (const char *const *)paths, npaths, io);
	ferry_progress_bar_finish(&bar);
	if (error < 0 && !res.nbundles) {
		if (json)
			cli_print_json(json_pack("{s:b,s:s}", "ok", 0, "error", ferry_error_last()));
		fprintf(stderr, "ferry %s: %s\n", cmd, ferry_error_last());
		return cli_exit_code(error);
	}
	/* Some bundles were refused: the others stand, the exit code says so. */
	if (error < 0) {
		rc = cli_exit_code(error);
		if (!(refusal = strdup(ferry_error_last()))) {
			ferry_import_result_dispose(&res);
			return FERRY_EXIT_FAILURE;
		}
	}
	for (i = 0; i < res.nbundles; i++)
		nimported += res.bundles[i].outcome == FERRY_IMPORTED ||
			     res.bundles[i].outcome == FERRY_ALREADY;
	/* Seed the site's servers once the import is published (or was already),
	 * before the reconciler hears of it. The text summary comes first; the
	 * JSON one waits to hold the seed's result too. */
	if (!json)
		print_result(cmd, &res, 0, NULL, refusal);
	if (hooks && hooks->seed && (error == 0 || nimported) &&
	    cli_import_seed(&seeded, st, cmd, json) != FERRY_EXIT_OK && rc == FERRY_EXIT_OK)
		rc = FERRY_EXIT_FAILURE;
	if (json)
		print_result(cmd, &res, 1, seeded, refusal);
	free(refusal);
	/* Tell the reconciler (after the summary: the import already stands). */
	if (hooks)
		cli_import_notify(hooks, &res, cmd, json);
	ferry_import_result_dispose(&res);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	cli_import_hooks hooks = CLI_IMPORT_HOOKS_INIT;
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	ferry_store *st = NULL;
	ferry_strv files = FERRY_STRV_INIT;
	const char *store = NULL, *audit = NULL;
	cli_args a;
	int id, json, wait = 1, error, rc = FERRY_EXIT_OK;

	cli_args_init(&a, &import_command, argc, argv, NULL);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_STORE: store = a.value; break;
		case OPT_AUDIT_LOG: audit = a.value; break;
		case OPT_NO_WAIT: wait = 0; break;
		case OPT_NO_SEED: hooks.seed = 0; break;
		case OPT_VERIFY_HELD: io.verify_held = 1; break;
		case OPT_GIT_MAX_OBJECT:
		case OPT_GIT_MAX_TOTAL: {
			uint64_t v;

			if (ferry_parse_size(&v, a.value) < 0)
				return cli_args_error(&a, "bad size '%s'", a.value);
			if (!v)
				v = UINT64_MAX;
			if (id == OPT_GIT_MAX_OBJECT)
				io.git_limits.max_object = v;
			else
				io.git_limits.max_total = v;
			break;
		}
		case OPT_NOTIFY:
			if ((rc = cli_import_hooks_notify(&hooks, &a)) != 0)
				return rc;
			break;
		case OPT_NOTIFY_TOKEN_FILE: hooks.token_file = a.value; break;
		}
	}
	if (id < 0)
		return a.exit;
	json = a.common.json;
	if ((rc = cli_import_hooks_load(&hooks, "import")) != FERRY_EXIT_OK)
		return rc;
	if (audit && !(io.audit_log = fopen(audit, "a"))) {
		fprintf(stderr, "ferry import: cannot open '%s'\n", audit);
		rc = FERRY_EXIT_FAILURE;
		goto done;
	}
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_WRITE,
				      wait)) < 0) {
		rc = cli_fail("import", error);
		goto done;
	}
	if ((error = cli_bundle_files(&files, "import", a.args, (size_t)a.nargs,
				      cli_quiet || json)) < 0) {
		rc = cli_fail("import", error);
		goto done;
	}
	rc = run(st, "import", files.v, files.n, &io, json, &hooks);
done:
	cli_import_hooks_dispose(&hooks);
	ferry_strv_dispose(&files);
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
	ferry_strv files = FERRY_STRV_INIT;

	io.dry_run = 1;
	if ((error = cli_bundle_files(&files, "verify", paths, npaths, cli_quiet || json)) < 0)
		return cli_fail("verify", error);
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_WRITE, 1)) < 0) {
		ferry_strv_dispose(&files);
		return cli_fail("verify", error);
	}
	rc = run(st, "verify", files.v, files.n, &io, json, NULL);
	ferry_store_close(st);
	ferry_strv_dispose(&files);
	return rc;
}
