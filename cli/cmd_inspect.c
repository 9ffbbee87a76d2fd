/*
 * ferry inspect: show a bundle's manifest (sources, references, digests,
 * sizes, signers, sequence, expiry). Reading the manifest needs no key;
 * with --trust-key the signatures are checked too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "digest.h"
#include "json.h"
#include "reader.h"
#include "util.h"
#include "banned.h"

enum { OPT_TRUST_KEY = 1 };

static const cli_option inspect_options[] = {
	{ "trust-key", 0, "PUB", "check the signatures against this key (repeatable)",
	  OPT_TRUST_KEY },
	CLI_OPTION_JSON("print JSON on stdout"),
	CLI_OPTIONS_END
};

static const cli_command inspect_command = {
	.name = "inspect",
	.synopsis = "[--trust-key PUB]... [--json] BUNDLE",
	.description =
		"Show what a bundle file (or one volume) holds: channel, sequence,\n"
		"creation and expiry times, image references and digests, git\n"
		"repositories (refs, commits, deletions, prerequisites, pack size),\n"
		"members with sizes and digests, volume layout and signers. Without\n"
		"--trust-key the signatures are listed but not checked; use 'ferry verify'\n"
		"before trusting a bundle.",
	.options = inspect_options,
	.operands = "BUNDLE",
};

/* Size of the member a repository's bundle digest names, or -1. */
static long long repo_pack_size(const ferry_manifest *m, const ferry_git_repo *r)
{
	const char *hex = ferry_oci_digest_hex(r->bundle), *name;
	size_t i;

	if (!hex)
		return -1;
	for (i = 0; i < m->nmembers; i++)
		if ((name = ferry_bundle_blob_member_hex(m->members[i].path)) && !strcmp(name, hex))
			return (long long)m->members[i].size;
	return -1;
}

static json_t *repos_json(const ferry_manifest *m)
{
	json_t *arr = json_array();
	size_t i, k;

	for (i = 0; i < m->nrepos; i++) {
		const ferry_git_repo *r = &m->repos[i];
		json_t *o = json_pack("{s:s,s:[],s:[],s:[]}", "name", r->name, "refs",
				      "deleted", "prerequisites");
		long long size = repo_pack_size(m, r);

		if (r->bundle) {
			json_object_set_new(o, "bundle", json_string(r->bundle));
			if (size >= 0)
				json_object_set_new(o, "bundleSize", json_integer(size));
		}
		for (k = 0; k < r->nrefs; k++)
			json_array_append_new(json_object_get(o, "refs"),
				json_pack("{s:s,s:s,s:b}", "name", r->refs[k].name, "commit",
					  r->refs[k].commit, "forced", r->refs[k].forced));
		for (k = 0; k < r->ndeleted; k++)
			json_array_append_new(json_object_get(o, "deleted"),
					      json_string(r->deleted[k]));
		for (k = 0; k < r->nprerequisites; k++)
			json_array_append_new(json_object_get(o, "prerequisites"),
					      json_string(r->prerequisites[k]));
		json_array_append_new(arr, o);
	}
	return arr;
}

static void print_repos(const ferry_manifest *m)
{
	char size[32];
	size_t i, k;

	printf("\nrepositories (%zu):\n", m->nrepos);
	for (i = 0; i < m->nrepos; i++) {
		const ferry_git_repo *r = &m->repos[i];
		long long sz = repo_pack_size(m, r);

		printf("  %s\n", r->name);
		if (r->bundle)
			printf("    bundle  %s (%s)\n", r->bundle,
			       sz >= 0 ? ferry_size_text(size, sizeof(size), (uint64_t)sz)
				       : "not in this file");
		else
			printf("    bundle  none (no new objects)\n");
		for (k = 0; k < r->nrefs; k++)
			printf("    %s  %s%s\n", r->refs[k].commit, r->refs[k].name,
			       r->refs[k].forced ? " (forced)" : "");
		for (k = 0; k < r->ndeleted; k++)
			printf("    %-40s  %s (deleted)\n", "", r->deleted[k]);
		for (k = 0; k < r->nprerequisites; k++)
			printf("    needs   %s\n", r->prerequisites[k]);
	}
}

/* The image closure the manifest records (sources of kind "closure"):
 * deployment -> [{image, digest}]. */
static json_t *closure_json(const ferry_manifest *m)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < m->nsources; i++) {
		const char *loc = m->sources[i].location, *at = strrchr(loc, '@');
		json_t *list;
		char *image;

		if (strcmp(m->sources[i].kind, "closure") || !at)
			continue;
		if (!(list = json_object_get(o, m->sources[i].name))) {
			list = json_array();
			json_object_set_new(o, m->sources[i].name, list);
		}
		if ((image = strndup(loc, (size_t)(at - loc)))) {
			json_array_append_new(list, json_pack("{s:s,s:s}", "image", image,
							      "digest", at + 1));
			free(image);
		}
	}
	return o;
}

static json_t *manifest_json(const ferry_read_result *r, int verified)
{
	const ferry_manifest *m = r->manifest;
	char created[32], expires[32];
	json_t *o, *images = json_array(), *members = json_array(), *sigs = json_array();
	json_t *sources = json_array(), *prereqs = json_array();
	uint64_t total = 0;
	size_t i, s;

	ferry_time_format(created, sizeof(created), m->created);
	ferry_time_format(expires, sizeof(expires), m->expires);
	for (i = 0; i < m->nimages; i++)
		json_array_append_new(images,
			json_pack("{s:s,s:s,s:s}", "reference", m->images[i].reference,
				  "digest", m->images[i].digest, "mediaType",
				  m->images[i].media_type));
	for (i = 0; i < m->nprereq_blobs; i++)
		json_array_append_new(prereqs, json_string(m->prereq_blobs[i]));
	for (i = 0; i < m->nsources; i++)
		json_array_append_new(sources,
			json_pack("{s:s,s:s,s:s}", "kind", m->sources[i].kind, "name",
				  m->sources[i].name, "location", m->sources[i].location));
	for (i = 0; i < m->nmembers; i++) {
		total += m->members[i].size;
		json_array_append_new(members,
			json_pack("{s:s,s:I,s:s}", "path", m->members[i].path, "size",
				  (json_int_t)m->members[i].size, "sha256",
				  m->members[i].sha256));
	}
	for (i = 0; i < r->signatures.nsignatures; i++) {
		int ok = 0;

		for (s = 0; s < r->signatures.nsigners; s++)
			if (!strcmp(r->signatures.signers[s], r->signatures.listed[i]))
				ok = 1;
		json_array_append_new(sigs, json_pack("{s:s,s:b}", "keyid",
						      r->signatures.listed[i],
						      "verified", verified && ok));
	}
	o = json_pack("{s:s,s:i,s:s,s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o}",
		      "id", m->id, "formatVersion", (int)m->version, "channel",
		      m->channel, "sequence", (json_int_t)m->sequence, "baseSequence",
		      (json_int_t)m->base_sequence, "created", created, "expires",
		      expires, "volumes", (json_int_t)m->nvolumes, "volume",
		      (json_int_t)r->volume + 1, "totalSize", (json_int_t)total,
		      "images", images, "members", members, "signatures", sigs,
		      "sources", sources, "prerequisites", prereqs);
	json_object_set_new(o, "repositories", repos_json(m));
	json_object_set_new(o, "closure", closure_json(m));
	json_object_set_new(o, "bindings", json_string(m->bindings_all ? "all" : "changes"));
	if (m->version != FERRY_BUNDLE_FORMAT_V1) {
		json_t *removed = json_array();

		for (i = 0; i < m->nremoved; i++)
			json_array_append_new(removed, ferry_json_text(m->removed[i]));
		json_object_set_new(o, "removed", removed);
		json_object_set_new(o, "state", json_pack("{s:I,s:s}", "images",
							  (json_int_t)m->state_images,
							  "sha256", m->state_sha256));
	}
	return o;
}

static void print_text(const ferry_read_result *r, int verified)
{
	const ferry_manifest *m = r->manifest;
	char created[32], expires[32], size[32], e1[512], e2[512], e3[2048];
	uint64_t total = 0;
	size_t i, s;

	for (i = 0; i < m->nmembers; i++)
		total += m->members[i].size;
	ferry_time_format(created, sizeof(created), m->created);
	ferry_time_format(expires, sizeof(expires), m->expires);
	printf("bundle    %s (format %u)\n", m->id, m->version);
	printf("channel   %s\nsequence  %llu (%s)\n", m->channel,
	       (unsigned long long)m->sequence,
	       m->base_sequence ? "incremental" : "full");
	if (m->base_sequence)
		printf("base      %llu\n", (unsigned long long)m->base_sequence);
	printf("created   %s\nexpires   %s\n", created, expires);
	printf("volumes   %zu\n", m->nvolumes);
	printf("signed by");
	for (i = 0; i < r->signatures.nsignatures; i++) {
		int ok = 0;

		for (s = 0; s < r->signatures.nsigners; s++)
			if (!strcmp(r->signatures.signers[s], r->signatures.listed[i]))
				ok = 1;
		printf(" %s%s", r->signatures.listed[i],
		       !verified ? " (not checked)" : ok ? " (verified)" : " (unknown key)");
	}
	printf("\n");
	if (m->nsources) {
		printf("\nsources (%zu):\n", m->nsources);
		/* The manifest may come from a key nobody trusts yet: every
		 * string in it is outside text. */
		for (i = 0; i < m->nsources; i++)
			printf("  %-11s %-28s %s\n",
			       cli_escape(e1, sizeof(e1), m->sources[i].kind),
			       cli_escape(e2, sizeof(e2), m->sources[i].name),
			       cli_escape(e3, sizeof(e3), m->sources[i].location));
	}
	if (m->bindings_all)
		printf("\nimages (%zu, every binding of the channel):\n", m->nimages);
	else
		printf("\nimages (%zu added or moved since %llu; the channel then binds "
		       "%zu):\n", m->nimages, (unsigned long long)m->base_sequence,
		       m->state_images);
	for (i = 0; i < m->nimages; i++)
		printf("  %-40s %s\n  %-40s %s\n",
		       cli_escape(e1, sizeof(e1), m->images[i].reference),
		       cli_escape(e2, sizeof(e2), m->images[i].digest), "",
		       cli_escape(e3, sizeof(e3), m->images[i].media_type));
	if (m->nremoved) {
		printf("\nremoved (%zu reference(s) the channel no longer binds):\n",
		       m->nremoved);
		for (i = 0; i < m->nremoved; i++)
			printf("  %s\n", cli_escape(e1, sizeof(e1), m->removed[i]));
	}
	if (m->nprereq_blobs) {
		printf("\nprerequisites (%zu blob(s) the receiver must already hold):\n",
		       m->nprereq_blobs);
		for (i = 0; i < m->nprereq_blobs; i++)
			printf("  %s\n", m->prereq_blobs[i]);
	}
	if (m->nrepos)
		print_repos(m);
	printf("\nmembers (%zu, %s):\n", m->nmembers,
	       ferry_size_text(size, sizeof(size), total));
	for (i = 0; i < m->nmembers; i++)
		printf("  %10s  %s\n", ferry_size_text(size, sizeof(size),
						      m->members[i].size),
		       cli_escape(e1, sizeof(e1), m->members[i].path));
	if (m->nvolumes > 1) {
		printf("\nvolume layout:\n");
		for (i = 0; i < m->nvolumes; i++)
			printf("  volume %zu: %zu entr%s\n", i + 1,
			       m->volumes[i].nparts,
			       m->volumes[i].nparts == 1 ? "y" : "ies");
	}
}

int cmd_inspect(int argc, char **argv)
{
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	ferry_read_result res;
	cli_pubkeys keys = { NULL, 0, 0 };
	ferry_trust trust;
	cli_args a;
	int id, error, rc = FERRY_EXIT_OK;

	memset(&res, 0, sizeof(res));
	cli_args_init(&a, &inspect_command, argc, argv, NULL);
	while ((id = cli_args_next(&a)) > 0) {
		if (id == OPT_TRUST_KEY && (error = cli_pubkeys_add(&keys, a.value)) < 0) {
			rc = cli_fail("inspect", error);
			goto done;
		}
	}
	if (id < 0) {
		rc = a.exit;
		goto done;
	}
	if (keys.n) {
		trust.keys = (const ferry_pubkey *const *)keys.keys;
		trust.nkeys = keys.n;
		trust.threshold = 1;
		ro.trust = &trust;
	}
	ro.manifest_only = 1;
	ro.ignore_expiry = 1;
	if ((error = ferry_bundle_read(&res, a.args[0], &ro)) < 0) {
		rc = cli_fail("inspect", error);
		goto done;
	}
	if (a.common.json) {
		json_t *o = manifest_json(&res, keys.n > 0);

		cli_print_json(o);
	} else {
		print_text(&res, keys.n > 0);
	}
done:
	ferry_read_result_dispose(&res);
	cli_pubkeys_dispose(&keys);
	return rc;
}
