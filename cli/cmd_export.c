/*
 * ferry export: write a signed bundle from an export spec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "cli.h"
#include "export.h"
#include "job.h"
#include "json.h"
#include "progress.h"
#include "util.h"
#include "banned.h"

enum {
	OPT_SPEC = 1, OPT_KEY, OPT_OUT, OPT_MAX_VOLUME_SIZE, OPT_STATE, OPT_CACHE,
	OPT_AUTH_FILE, OPT_FULL, OPT_SINCE_SEQUENCE, OPT_BASELINE, OPT_BASELINE_KEY,
	OPT_OUTBOX, OPT_CHECKSUMS, OPT_IF_CHANGED, OPT_HEARTBEAT, OPT_JOB, OPT_JOB_DIR,
};

static const cli_option export_options[] = {
	{ "job", 0, "NAME", "run the export job NAME: its options come from "
	  "/etc/ferry/export.d/NAME.yaml; options given here win", OPT_JOB },
	{ "job-dir", 0, "DIR", "where jobs are (default $FERRY_EXPORT_JOBS or "
	  "/etc/ferry/export.d)", OPT_JOB_DIR },
	{ "spec", 0, "FILE", "the export spec (YAML; see ferry-export(1))", OPT_SPEC },
	{ "key", 0, "KEY", "a secret key from 'ferry keygen'; repeat for several "
	  "signatures (t-of-n trust)", OPT_KEY },
	{ "out", 0, "DIR", "where to write the bundle", OPT_OUT },
	{ "outbox", 0, "DIR", "hand the bundle to a transfer agent watching DIR: each file "
	  "appears there only whole (instead of --out)", OPT_OUTBOX },
	{ "checksums", 0, NULL, "also write FILE.sha256 beside each file (sha256sum "
	  "format)", OPT_CHECKSUMS },
	{ "if-changed", 0, NULL, "write nothing when the content is what the channel's last "
	  "bundle carried (exit status 3)", OPT_IF_CHANGED },
	{ "heartbeat", 0, "DURATION", "with --if-changed: write a bundle anyway when the "
	  "last is this old (e.g. 24h), so the enclave sees the link alive", OPT_HEARTBEAT },
	{ "max-volume-size", 0, "SIZE", "split into volumes of at most SIZE bytes (K, M, "
	  "G, T suffixes; FAT32 media: 4294967295)", OPT_MAX_VOLUME_SIZE },
	{ "state", 0, "FILE", "export state database (default "
	  "$XDG_STATE_HOME/ferry/export.db)", OPT_STATE },
	{ "cache", 0, "DIR", "where blobs pulled from registries and mirrors of git "
	  "sources are kept (default $XDG_CACHE_HOME/ferry or ~/.cache/ferry)", OPT_CACHE },
	{ "auth-file", 0, "FILE", "registry credentials (auth.json format) for sources "
	  "without their own auth-file", OPT_AUTH_FILE },
	{ "full", 0, NULL, "carry everything: every blob and whole git repositories, even "
	  "what the channel was sent before", OPT_FULL },
	{ "since-sequence", 0, "N", "build on bundle N of the channel instead of the "
	  "newest, when later ones were lost (0: none, like --full)", OPT_SINCE_SEQUENCE },
	{ "baseline", 0, "RECEIPT", "re-base the channel on a receipt from the enclave "
	  "('ferry receipt'): the bundle carries exactly what the enclave lacks",
	  OPT_BASELINE },
	{ "baseline-key", 0, "PUB", "the enclave's public key that signed the receipt",
	  OPT_BASELINE_KEY },
	CLI_OPTION_JSON("print the result as JSON"),
	CLI_OPTION_QUIET("no progress bar"),
	CLI_OPTIONS_END
};

static const cli_command export_command = {
	.name = "export",
	.synopsis = "(--job NAME [--job-dir DIR] | --spec FILE --key KEY [--key KEY]... "
		    "(--out DIR | --outbox DIR)) "
		    "[--checksums] [--if-changed [--heartbeat DURATION]] "
		    "[--max-volume-size SIZE] "
		    "[--state FILE] [--cache DIR] [--auth-file FILE] "
		    "[--full | --since-sequence N] [--baseline RECEIPT --baseline-key PUB] "
		    "[--json] [-q]",
	.description =
		"Snapshot the sources named in the export spec into a signed bundle in DIR,\n"
		"named ferry-<channel>-<sequence>.tar, with a detached minisign signature\n"
		"(.minisig) beside each file. The channel's sequence number advances by one\n"
		"per bundle and is kept in the export state database.\n"
		"\n"
		"--job NAME takes the options from the job file NAME.yaml (spec, key,\n"
		"out or outbox, checksums, if-changed, heartbeat, max-volume-size,\n"
		"state, cache, auth-file), so a timer has one line to run; options on\n"
		"the command line override the file's.",
	.options = export_options,
};

/* deployment -> images -> digests, and why each is (not) in the bundle. */
static json_t *closure_json(const ferry_closure *cl)
{
	json_t *a = json_array();
	size_t i, k;

	for (i = 0; a && i < cl->ndeployments; i++) {
		const ferry_closure_deployment *d = &cl->deployments[i];
		json_t *images = json_array();

		for (k = 0; images && k < d->nimages; k++)
			json_array_append_new(images, json_pack(
				"{s:s,s:s,s:s,s:s}", "image", d->images[k].image, "digest",
				d->images[k].digest, "where", d->images[k].where, "status",
				ferry_closure_status_name(d->images[k].status)));
		json_array_append_new(a, json_pack("{s:s,s:s?,s:s?,s:o*}", "deployment", d->name,
						   "repository", d->repo,
						   "commit", d->commit[0] ? d->commit : NULL,
						   "images", images));
	}
	return a;
}

static int print_json(const ferry_export_result *r)
{
	json_t *o = json_pack("{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:[],s:[]}", "id",
			      r->manifest->id, "channel", r->manifest->channel, "unchanged", 0,
			      "sequence",
			      (json_int_t)r->manifest->sequence, "baseSequence",
			      (json_int_t)r->manifest->base_sequence, "bytes",
			      (json_int_t)r->files.bytes, "members",
			      (json_int_t)r->manifest->nmembers, "prerequisites",
			      (json_int_t)r->manifest->nprereq_blobs, "repositories",
			      (json_int_t)r->manifest->nrepos, "files", "skippedSubmodules");
	json_t *files = json_object_get(o, "files");
	json_t *skipped = json_object_get(o, "skippedSubmodules");
	size_t i;

	if (!o)
		return -1;
	for (i = 0; i < r->files.npaths; i++)
		json_array_append_new(files, json_string(r->files.paths[i]));
	for (i = 0; i < r->nskipped; i++)
		json_array_append_new(skipped, json_string(r->skipped[i]));
	json_object_set_new(o, "closure", closure_json(&r->closure));
	json_object_set_new(o, "bindings", json_string(r->manifest->bindings_all ? "all" : "changes"));
	json_object_set_new(o, "images", json_integer((json_int_t)r->manifest->nimages));
	json_object_set_new(o, "removed", json_integer((json_int_t)r->manifest->nremoved));
	cli_print_json(o);
	return 0;
}

int cmd_export(int argc, char **argv)
{
	ferry_export_options eo = FERRY_EXPORT_OPTIONS_INIT;
	ferry_export_result res;
	ferry_progress_bar bar, dlbar;
	ferry_key **keys = NULL;
	cli_pubkeys bkeys = { NULL, 0, 0 };
	ferry_trust btrust;
	size_t nkeys = 0, alloc_keys = 0, i;
	ferry_export_job job = FERRY_EXPORT_JOB_INIT;
	const char *job_name = NULL, *job_dir = NULL;
	cli_args a;
	int id, json, error, rc = FERRY_EXIT_OK, have_since = 0, have_checksums = 0;
	int have_if_changed = 0, have_keys;
	char size[32];

	memset(&res, 0, sizeof(res));
	cli_args_init(&a, &export_command, argc, argv, NULL);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_SPEC: eo.spec_path = a.value; break;
		case OPT_OUT: eo.out_dir = a.value; break;
		case OPT_OUTBOX: eo.outbox = a.value; break;
		case OPT_CHECKSUMS: eo.checksums = have_checksums = 1; break;
		case OPT_IF_CHANGED: eo.if_changed = have_if_changed = 1; break;
		case OPT_JOB: job_name = a.value; break;
		case OPT_JOB_DIR: job_dir = a.value; break;
		case OPT_HEARTBEAT:
			if (ferry_parse_duration(&eo.heartbeat, a.value) < 0 || eo.heartbeat <= 0) {
				rc = cli_args_error(&a, "invalid --heartbeat '%s'", a.value);
				goto done;
			}
			break;
		case OPT_STATE: eo.state_path = a.value; break;
		case OPT_CACHE: eo.cache_dir = a.value; break;
		case OPT_AUTH_FILE: eo.auth_file = a.value; break;
		case OPT_BASELINE: eo.baseline = a.value; break;
		case OPT_BASELINE_KEY:
			if ((error = cli_pubkeys_add(&bkeys, a.value)) < 0) {
				rc = cli_fail("export", error);
				goto done;
			}
			break;
		case OPT_FULL: eo.full = 1; break;
		case OPT_SINCE_SEQUENCE:
			if (ferry_parse_u64(&eo.since_sequence, a.value) < 0) {
				rc = cli_args_error(&a, "invalid --since-sequence '%s'", a.value);
				goto done;
			}
			have_since = 1;
			break;
		case OPT_MAX_VOLUME_SIZE:
			if (ferry_parse_size(&eo.max_volume_size, a.value) < 0 ||
			    eo.max_volume_size == 0) {
				rc = cli_args_error(&a, "invalid --max-volume-size '%s'", a.value);
				goto done;
			}
			break;
		case OPT_KEY:
			if (FERRY_ALLOC_GROW(keys, nkeys + 1, alloc_keys) < 0) {
				rc = FERRY_EXIT_FAILURE;
				goto done;
			}
			if ((error = ferry_key_load(&keys[nkeys], a.value)) < 0) {
				rc = cli_fail("export", error);
				goto done;
			}
			nkeys++;
			break;
		}
	}
	if (id < 0) {
		rc = a.exit;
		goto done;
	}
	json = a.common.json;
	if (job_dir && !job_name) {
		rc = cli_args_error(&a, "--job-dir goes with --job");
		goto done;
	}
	if (job_name) {
		if ((error = ferry_export_job_load(&job, job_dir, job_name)) < 0) {
			rc = cli_fail("export", error);
			goto done;
		}
		/* The job fills in what the command line left out. */
		have_keys = nkeys > 0;
		if (!eo.spec_path)
			eo.spec_path = job.spec;
		if (!eo.out_dir && !eo.outbox) {
			eo.out_dir = job.out;
			eo.outbox = job.outbox;
		}
		if (!have_checksums)
			eo.checksums = job.checksums;
		if (!have_if_changed)
			eo.if_changed = job.if_changed;
		if (!eo.heartbeat && eo.if_changed)
			eo.heartbeat = job.heartbeat;
		if (!eo.max_volume_size)
			eo.max_volume_size = job.max_volume_size;
		if (!eo.state_path)
			eo.state_path = job.state;
		if (!eo.cache_dir)
			eo.cache_dir = job.cache;
		if (!eo.auth_file)
			eo.auth_file = job.auth_file;
		for (i = 0; !have_keys && i < job.nkeys; i++) {
			if ((error = FERRY_ALLOC_GROW(keys, nkeys + 1, alloc_keys)) < 0 ||
			    (error = ferry_key_load(&keys[nkeys], job.keys[i])) < 0) {
				rc = cli_fail("export", error);
				goto done;
			}
			nkeys++;
		}
	}
	if (eo.full && have_since) {
		rc = cli_args_error(&a, "--full and --since-sequence exclude each other");
		goto done;
	}
	if (!eo.spec_path || !(eo.out_dir || eo.outbox) || !nkeys) {
		rc = cli_args_error(&a, "export needs --spec, --key and --out or --outbox");
		goto done;
	}
	if (eo.out_dir && eo.outbox) {
		rc = cli_args_error(&a, "--out and --outbox exclude each other");
		goto done;
	}
	if (eo.heartbeat && !eo.if_changed) {
		rc = cli_args_error(&a, "--heartbeat goes with --if-changed");
		goto done;
	}
	if (have_since && eo.since_sequence == 0)
		eo.full = 1;
	if (!!eo.baseline != !!bkeys.n) {
		rc = cli_args_error(&a, "--baseline and --baseline-key go together");
		goto done;
	}
	if (eo.baseline) {
		btrust.keys = (const ferry_pubkey *const *)bkeys.keys;
		btrust.nkeys = bkeys.n;
		btrust.threshold = 1;
		eo.baseline_trust = &btrust;
	}
	eo.keys = keys;
	eo.nkeys = nkeys;
	ferry_progress_bar_init(&bar, "export", !cli_quiet && !json);
	ferry_progress_bar_init(&dlbar, "download", !cli_quiet && !json);
	eo.progress = ferry_progress_bar_cb;
	eo.progress_payload = &bar;
	eo.download_progress = ferry_progress_bar_cb;
	eo.download_progress_payload = &dlbar;
	error = ferry_export_run(&res, &eo);
	ferry_progress_bar_finish(&dlbar);
	ferry_progress_bar_finish(&bar);
	if (error < 0) {
		rc = cli_fail("export", error);
		goto done;
	}
	for (i = 0; i < res.nskipped; i++)
		fprintf(stderr, "ferry export: skipped %s\n", res.skipped[i]);
	if (res.unchanged) {
		if (json)
			printf("{\"unchanged\": true, \"sequence\": %llu}\n",
			       (unsigned long long)res.last_sequence);
		else
			printf("unchanged since sequence %llu: nothing written\n",
			       (unsigned long long)res.last_sequence);
		rc = FERRY_EXIT_UNCHANGED;
		goto done;
	}
	if (json) {
		print_json(&res);
	} else {
		char repos[64] = "";

		if (res.manifest->nrepos)
			snprintf(repos, sizeof(repos), "%zu repositor%s, ",
				 res.manifest->nrepos, res.manifest->nrepos == 1 ? "y" : "ies");
		printf("channel %s sequence %llu: %zu member(s), %zu image(s), %s%s in "
		       "%zu file(s)\n", res.manifest->channel,
		       (unsigned long long)res.manifest->sequence,
		       res.manifest->nmembers, res.manifest->nimages, repos,
		       ferry_size_text(size, sizeof(size), res.files.bytes),
		       res.files.npaths);
		if (!res.manifest->bindings_all)
			printf("incremental on sequence %llu: %zu image binding(s) added or "
			       "moved, %zu removed; the channel binds %zu\n",
			       (unsigned long long)res.manifest->base_sequence,
			       res.manifest->nimages, res.manifest->nremoved,
			       res.manifest->state_images);
		if (res.manifest->nprereq_blobs)
			printf("incremental on sequence %llu: %zu blob(s) not carried "
			       "(prerequisites)\n",
			       (unsigned long long)res.manifest->base_sequence,
			       res.manifest->nprereq_blobs);
		if (res.manifest->base_sequence)
			printf("incremental: builds on sequence %llu\n",
			       (unsigned long long)res.manifest->base_sequence);
		for (i = 0; i < res.files.npaths; i++)
			printf("  %s\n", res.files.paths[i]);
		printf("bundle id %s\n", res.manifest->id);
	}
done:
	ferry_export_job_dispose(&job);
	cli_pubkeys_dispose(&bkeys);
	ferry_export_result_dispose(&res);
	for (i = 0; i < nkeys; i++)
		ferry_key_free(keys[i]);
	free(keys);
	return rc;
}
