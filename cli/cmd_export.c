/*
 * ferry export: write a signed bundle from an export spec.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "export.h"
#include "json.h"
#include "progress.h"
#include "util.h"
#include "banned.h"

static const char usage[] =
	"ferry export --spec FILE --key KEY [--key KEY]... --out DIR\n"
	"                    [--max-volume-size SIZE] [--state FILE] [--cache DIR]\n"
	"                    [--auth-file FILE] [--full | --since-sequence N]\n"
	"                    [--baseline RECEIPT --baseline-key PUB] [--json] [-q]";

static void help(void)
{
	printf("usage: %s\n\n"
	       "Snapshot the sources named in the export spec into a signed bundle in DIR,\n"
	       "named ferry-<channel>-<sequence>.tar, with a detached minisign signature\n"
	       "(.minisig) beside each file. The channel's sequence number advances by one\n"
	       "per bundle and is kept in the export state database.\n\n"
	       "  --spec FILE             the export spec (YAML; see ferry-export(1))\n"
	       "  --key KEY               a secret key from 'ferry keygen'; repeat for\n"
	       "                          several signatures (t-of-n trust)\n"
	       "  --out DIR               where to write the bundle\n"
	       "  --max-volume-size SIZE  split into volumes of at most SIZE bytes (K, M,\n"
	       "                          G, T suffixes; FAT32 media: 4294967295)\n"
	       "  --state FILE            export state database (default\n"
	       "                          $XDG_STATE_HOME/ferry/export.db)\n"
	       "  --cache DIR             where blobs pulled from registries and mirrors of\n"
	       "                          git sources are kept (default $XDG_CACHE_HOME/ferry\n"
	       "                          or ~/.cache/ferry)\n"
	       "  --auth-file FILE        registry credentials (auth.json format) for\n"
	       "                          sources without their own auth-file\n"
	       "  --full                  carry everything: every blob and whole git\n"
	       "                          repositories, even what the channel was sent before\n"
	       "  --since-sequence N      build on bundle N of the channel instead of the\n"
	       "                          newest, when later ones were lost (0: none, like\n"
	       "                          --full)\n"
	       "  --baseline RECEIPT      re-base the channel on a receipt from the enclave\n"
	       "                          ('ferry receipt'): the bundle carries exactly\n"
	       "                          what the enclave lacks\n"
	       "  --baseline-key PUB      the enclave's public key that signed the receipt\n"
	       "  --json                  print the result as JSON\n"
	       "  -q, --quiet             no progress bar\n", usage);
}

static int print_json(const ferry_export_result *r)
{
	json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:[],s:[]}", "id",
			      r->manifest->id, "channel", r->manifest->channel, "sequence",
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
	cli_print_json(o);
	return 0;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "spec", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "max-volume-size", required_argument, NULL, 'V' },
		{ "state", required_argument, NULL, 'S' },
		{ "cache", required_argument, NULL, 'C' },
		{ "auth-file", required_argument, NULL, 'A' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "baseline-key", required_argument, NULL, 'K' },
		{ "full", no_argument, NULL, 'F' },
		{ "since-sequence", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	ferry_export_options eo = FERRY_EXPORT_OPTIONS_INIT;
	ferry_export_result res;
	ferry_progress_bar bar, dlbar;
	ferry_key **keys = NULL, **grown;
	cli_pubkeys bkeys = { NULL, 0 };
	ferry_trust btrust;
	size_t nkeys = 0, i;
	int c, json = 0, error, rc = FERRY_EXIT_OK, have_since = 0;
	char size[32];

	memset(&res, 0, sizeof(res));
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 's': eo.spec_path = optarg; break;
		case 'o': eo.out_dir = optarg; break;
		case 'S': eo.state_path = optarg; break;
		case 'C': eo.cache_dir = optarg; break;
		case 'A': eo.auth_file = optarg; break;
		case 'b': eo.baseline = optarg; break;
		case 'K':
			if ((error = cli_pubkeys_add(&bkeys, optarg)) < 0) {
				rc = cli_fail("export", error);
				goto done;
			}
			break;
		case 'F': eo.full = 1; break;
		case 'N':
			if (ferry_parse_u64(&eo.since_sequence, optarg) < 0) {
				rc = cli_usage_error(usage, "invalid --since-sequence '%s'",
						     optarg);
				goto done;
			}
			have_since = 1;
			break;
		case 'j': json = 1; break;
		case 'q': cli_quiet = 1; break;
		case 'V':
			if (ferry_parse_size(&eo.max_volume_size, optarg) < 0 ||
			    eo.max_volume_size == 0) {
				rc = cli_usage_error(usage, "invalid --max-volume-size '%s'",
						     optarg);
				goto done;
			}
			break;
		case 'k':
			if (!(grown = realloc(keys, (nkeys + 1) * sizeof(*keys)))) {
				rc = FERRY_EXIT_FAILURE;
				goto done;
			}
			keys = grown;
			if ((error = ferry_key_load(&keys[nkeys], optarg)) < 0) {
				rc = cli_fail("export", error);
				goto done;
			}
			nkeys++;
			break;
		case 'h':
			help();
			goto done;
		default:
			rc = cli_usage_error(usage, "bad option");
			goto done;
		}
	}
	if (eo.full && eo.since_sequence) {
		rc = cli_usage_error(usage, "--full and --since-sequence exclude each other");
		goto done;
	}
	if (!eo.spec_path || !eo.out_dir || !nkeys || optind != argc) {
		rc = cli_usage_error(usage, "export needs --spec, --key and --out");
		goto done;
	}
	if (eo.full && have_since) {
		rc = cli_usage_error(usage, "--full and --since-sequence exclude each other");
		goto done;
	}
	if (have_since && eo.since_sequence == 0)
		eo.full = 1;
	if (!!eo.baseline != !!bkeys.n) {
		rc = cli_usage_error(usage, "--baseline and --baseline-key go together");
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
		       cli_human_size(size, sizeof(size), res.files.bytes),
		       res.files.npaths);
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
	cli_pubkeys_dispose(&bkeys);
	ferry_export_result_dispose(&res);
	for (i = 0; i < nkeys; i++)
		ferry_key_free(keys[i]);
	free(keys);
	return rc;
}
