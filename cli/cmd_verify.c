/*
 * ferry verify: check bundles (or any set of their volumes) against
 * trusted keys: signatures and threshold, expiry, every member's digest,
 * and the completeness of multi-volume bundles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "strv.h"
#include "progress.h"
#include "reader.h"
#include "util.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_TRUST_KEY, OPT_THRESHOLD };

static const cli_option verify_options[] = {
	{ "store", 0, "DIR", "check against an enclave store's trust and history", OPT_STORE },
	{ "trust-key", 0, "PUB", "a trusted public key (minisign format); repeatable",
	  OPT_TRUST_KEY },
	{ "threshold", 0, "N", "distinct trusted keys that must have signed (default 1)",
	  OPT_THRESHOLD },
	CLI_OPTION_JSON("print a JSON report on stdout"),
	CLI_OPTION_QUIET("print nothing on success, no progress bar"),
	CLI_OPTIONS_END
};

static const cli_command verify_command = {
	.name = "verify",
	.synopsis = "--trust-key PUB [--trust-key PUB]... [--threshold N] [--json] [-q] BUNDLE...\n"
		    "--store DIR [--json] [-q] BUNDLE...",
	.description =
		"Verify bundle files, or volumes of split bundles given in any order.\n"
		"Checks, in this order: the signed manifest against the trusted keys\n"
		"and threshold (distinct keys), expiry, then every member's size and\n"
		"sha256 while streaming, and that every volume of each bundle is present.\n\n"
		"With --store, runs every check 'ferry import' runs against that store\n"
		"(its trust root, channel sequences, expiry against the newest bundle it\n"
		"accepted, prerequisites) and publishes nothing.",
	.epilog = "Exit status: 0 all verified, 2 verification failed, 1 other error.",
	.options = verify_options,
	.operands = "[BUNDLE...]",   /* required, but the message depends on the mode */
};

static void print_json(const ferry_verify_report *rep, int ok)
{
	json_t *root = json_pack("{s:b,s:[],s:[]}", "ok", ok, "files", "bundles");
	json_t *files = json_object_get(root, "files");
	json_t *bundles = json_object_get(root, "bundles");
	size_t i, v, s;

	for (i = 0; i < rep->nfiles; i++) {
		const ferry_verify_file *f = &rep->files[i];
		json_t *o = json_pack("{s:s,s:b,s:I}", "path", f->path, "ok", !f->error,
				      "bytes", (json_int_t)f->bytes);
		json_t *signers = json_array();

		if (f->error)
			json_object_set_new(o, "error", json_string(f->message));
		if (f->bundle >= 0) {
			json_object_set_new(o, "bundle",
					    json_string(rep->bundles[f->bundle].manifest->id));
			json_object_set_new(o, "volume", f->volume_known
				? json_integer((json_int_t)f->volume + 1) : json_null());
		}
		for (s = 0; s < f->signatures.nsigners; s++)
			json_array_append_new(signers, json_string(f->signatures.signers[s]));
		json_object_set_new(o, "verifiedSigners", signers);
		json_array_append_new(files, o);
	}
	for (i = 0; i < rep->nbundles; i++) {
		const ferry_verify_bundle *b = &rep->bundles[i];
		json_t *missing = json_array(), *bad = json_array();

		for (v = 0; v < b->manifest->nvolumes; v++) {
			if (b->volume_file[v] < 0)
				json_array_append_new(missing, json_integer((json_int_t)v + 1));
			else if (!b->volume_ok[v])
				json_array_append_new(bad, json_integer((json_int_t)v + 1));
		}
		json_array_append_new(bundles,
			json_pack("{s:s,s:s,s:I,s:I,s:b,s:o,s:o}", "id", b->manifest->id,
				  "channel", b->manifest->channel, "sequence",
				  (json_int_t)b->manifest->sequence, "volumes",
				  (json_int_t)b->manifest->nvolumes, "complete",
				  b->complete, "missingVolumes", missing,
				  "corruptVolumes", bad));
	}
	cli_print_json(root);
}

static void print_text(const ferry_verify_report *rep)
{
	size_t i, s;

	for (i = 0; i < rep->nfiles; i++) {
		const ferry_verify_file *f = &rep->files[i];

		if (f->error) {
			printf("%s: FAILED: %s\n", f->path, f->message);
			continue;
		}
		printf("%s: OK", f->path);
		if (f->bundle >= 0) {
			const ferry_manifest *m = rep->bundles[f->bundle].manifest;

			if (m->nvolumes > 1)
				printf(" (volume %zu of %zu)", f->volume + 1, m->nvolumes);
			printf(" channel %s sequence %llu, signed by", m->channel,
			       (unsigned long long)m->sequence);
		}
		for (s = 0; s < f->signatures.nsigners; s++)
			printf(" %s", f->signatures.signers[s]);
		putchar('\n');
	}
	for (i = 0; i < rep->nbundles; i++)
		if (rep->bundles[i].manifest->nvolumes > 1)
			printf("bundle %.16s: %s\n", rep->bundles[i].manifest->id,
			       rep->bundles[i].complete ? "all volumes verified"
							: "INCOMPLETE");
}

int cmd_verify(int argc, char **argv)
{
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	ferry_verify_report rep;
	ferry_progress_bar bar;
	cli_pubkeys keys = { NULL, 0, 0 };
	ferry_trust trust;
	uint64_t threshold = 1;
	const char *store = NULL;
	ferry_strv files = FERRY_STRV_INIT;
	cli_args a;
	int id, json, error, rc = FERRY_EXIT_OK;

	memset(&rep, 0, sizeof(rep));
	cli_args_init(&a, &verify_command, argc, argv, NULL);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_TRUST_KEY:
			if ((error = cli_pubkeys_add(&keys, a.value)) < 0) {
				rc = cli_fail("verify", error);
				goto done;
			}
			break;
		case OPT_THRESHOLD:
			if (ferry_parse_u64(&threshold, a.value) < 0 || threshold == 0 ||
			    threshold > 64) {
				rc = cli_args_error(&a, "invalid --threshold '%s'", a.value);
				goto done;
			}
			break;
		case OPT_STORE: store = a.value; break;
		}
	}
	if (id < 0) {
		rc = a.exit;
		goto done;
	}
	json = a.common.json;
	if (store && a.nargs && keys.n == 0) {
		rc = cli_verify_store(store, a.args, (size_t)a.nargs, json);
		goto done;
	}
	if (store) {
		rc = cli_args_error(&a, "--store takes no --trust-key and needs a bundle");
		goto done;
	}
	if (!a.nargs || keys.n == 0) {
		rc = cli_args_error(&a, "verify needs --trust-key and a bundle");
		goto done;
	}
	if (threshold > keys.n) {
		rc = cli_args_error(&a, "threshold %llu is more than the %zu key(s) given",
				    (unsigned long long)threshold, keys.n);
		goto done;
	}
	trust.keys = (const ferry_pubkey *const *)keys.keys;
	trust.nkeys = keys.n;
	trust.threshold = (unsigned)threshold;
	ro.trust = &trust;
	ferry_progress_bar_init(&bar, "verify", !cli_quiet && !json);
	ro.progress = ferry_progress_bar_cb;
	ro.progress_payload = &bar;
	if ((error = cli_bundle_files(&files, "verify", a.args, (size_t)a.nargs,
				      cli_quiet || json)) < 0) {
		rc = cli_fail("verify", error);
		goto done;
	}
	error = ferry_bundle_verify(&rep, (const char *const *)files.v, files.n, &ro);
	ferry_progress_bar_finish(&bar);
	if (json)
		print_json(&rep, error == 0);
	else if (!cli_quiet || error)
		print_text(&rep);
	if (error < 0) {
		fprintf(stderr, "ferry verify: %s\n", ferry_error_last());
		rc = cli_exit_code(error);
	}
done:
	ferry_strv_dispose(&files);
	ferry_verify_report_dispose(&rep);
	cli_pubkeys_dispose(&keys);
	return rc;
}
