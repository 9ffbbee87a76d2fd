/*
 * ferry store ls, gc, get and fsck: list what the enclave store holds,
 * collect its garbage, write a file artifact's files out, and check the
 * store (and repair it from bundles).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "util.h"
#include "catalog.h"
#include "file_artifact.h"
#include "fsck.h"
#include "git_store.h"
#include "repair.h"
#include "json.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_DRY_RUN, OPT_OUTPUT, OPT_REPAIR_FROM };

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

static const cli_option get_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ NULL, 'o', "DIR", "where to write the files (created when missing)", OPT_OUTPUT },
	CLI_OPTION_JSON("print the files written as JSON"),
	CLI_OPTIONS_END
};
static const cli_option fsck_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ "repair-from", 0, "BUNDLE", "replace damaged and missing content with the copy "
	  "this verified bundle carries (repeatable)", OPT_REPAIR_FROM },
	CLI_OPTION_JSON("print the report as JSON"),
	CLI_OPTIONS_END
};

static int store_ls(int argc, char **argv, cli_args *parent);
static int store_gc(int argc, char **argv, cli_args *parent);
static int store_get(int argc, char **argv, cli_args *parent);
static int store_fsck(int argc, char **argv, cli_args *parent);

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
static const cli_command get_command = {
	.name = "store get",
	.summary = "write the files of a file artifact into a directory",
	.synopsis = "[--store DIR] REFERENCE -o DIR [--json]",
	.description =
		"Write the files that a file source of the export spec carried (an OCI\n"
		"artifact, one layer per file) into DIR, each under its own name.\n"
		"REFERENCE is NAME:TAG or NAME@sha256:DIGEST. Everything is checked\n"
		"before the first file is written, and each file's digest while it is\n"
		"copied; an existing file of the same name is replaced.",
	.options = get_options,
	.operands = "REFERENCE",
	.run = store_get,
};
static const cli_command fsck_command = {
	.name = "store fsck",
	.summary = "check every blob, tag, repository and the database",
	.synopsis = "[--store DIR] [--repair-from BUNDLE]... [--json]",
	.description =
		"Rehash every blob against its name, walk every tag's manifests,\n"
		"configs and layers, check every git repository's objects, history\n"
		"and recorded refs, and check ferry.db's integrity and its agreement\n"
		"with the blob files. Each damaged or missing item is reported with\n"
		"what refers to it. Exit status 0: clean; 1: faults remain.\n"
		"Read-only, unless --repair-from names bundles: then what they carry\n"
		"replaces damaged and missing content, and the store is checked again.",
	.options = fsck_options,
	.run = store_fsck,
};
static const cli_command *const store_subcommands[] = {
	&ls_command, &gc_command, &get_command, &fsck_command, NULL
};
static const cli_command store_command = {
	.name = "store",
	.description = "List what the enclave store holds, collect its garbage, write file\n"
		       "artifacts out, and check the store.",
	.subcommands = store_subcommands,
};

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
		return cli_fail("store", ferry_error_oom());
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
		       ferry_size_text(size, sizeof(size), (uint64_t)json_integer_value(
					      json_object_get(e, "size"))));
	printf("\ngit repositories:\n");
	json_array_foreach(json_object_get(o, "repositories"), i, e)
		printf("  %-24s %-28s %s\n",
		       json_string_value(json_object_get(e, "repository")),
		       json_string_value(json_object_get(e, "ref")),
		       json_string_value(json_object_get(e, "commit")));
	e = json_object_get(o, "blobs");
	printf("\nblobs: %lld, %s\n", (long long)json_integer_value(json_object_get(e, "count")),
	       ferry_size_text(size, sizeof(size),
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
	ferry_store_gc_result res;
	json_t *o = NULL, *digests;
	char size[32];
	cli_args a;
	size_t i;
	int id, dry = 0, error, rc = FERRY_EXIT_OK;

	memset(&res, 0, sizeof(res));
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
	    (error = ferry_store_gc(&res, st, dry)) < 0) {
		rc = cli_fail("store", error);
		goto done;
	}
	if (a.common.json) {
		o = json_pack("{s:I,s:I,s:I,s:b,s:[]}", "removed", (json_int_t)res.removed.n,
			      "removedBytes", (json_int_t)res.removed_bytes, "kept",
			      (json_int_t)res.kept, "dryRun", dry, "digests");
		digests = o ? json_object_get(o, "digests") : NULL;
		for (i = 0; digests && i < res.removed.n; i++)
			if (json_array_append_new(digests, json_sprintf("sha256:%s",
									res.removed.v[i])) < 0)
				digests = NULL;
		if (!digests) {
			rc = cli_fail("store", ferry_error_oom());
			goto done;
		}
		cli_print_json(o);
		o = NULL;
	} else {
		printf("%s %zu blob(s), %s; kept %zu\n", dry ? "would remove" : "removed",
		       res.removed.n, ferry_size_text(size, sizeof(size), res.removed_bytes),
		       res.kept);
	}
done:
	json_decref(o);
	ferry_store_gc_result_dispose(&res);
	ferry_store_close(st);
	return rc;
}

static int store_get(int argc, char **argv, cli_args *parent)
{
	const char *store = NULL, *dir = NULL;
	ferry_strv written = FERRY_STRV_INIT;
	ferry_store *st = NULL;
	cli_args a;
	size_t i;
	int id, error, rc = FERRY_EXIT_OK;

	cli_args_init(&a, &get_command, argc, argv, parent);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_STORE: store = a.value; break;
		case OPT_OUTPUT: dir = a.value; break;
		}
	}
	if (id < 0)
		return a.exit;
	if (!dir)
		return cli_args_error(&a, "-o DIR is required");
	if ((error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0 ||
	    (error = ferry_store_files_get(&written, st, a.args[0], dir)) < 0) {
		rc = cli_fail("store get", error);
		goto done;
	}
	if (a.common.json) {
		json_t *o = json_pack("{s:s,s:s,s:[]}", "reference", a.args[0], "directory", dir,
				      "files");

		for (i = 0; o && i < written.n; i++)
			if (ferry_json_append(json_object_get(o, "files"),
					      json_string(written.v[i])) < 0)
				break;
		if (!o || i < written.n) {
			json_decref(o);
			rc = cli_fail("store get", ferry_error_oom());
			goto done;
		}
		cli_print_json(o);
	} else {
		for (i = 0; i < written.n; i++)
			printf("%s/%s\n", dir, written.v[i]);
	}
done:
	ferry_strv_dispose(&written);
	ferry_store_close(st);
	return rc;
}

/* ---- fsck ------------------------------------------------------------------- */

static json_t *fault_json(const ferry_fsck_fault *f)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:[]}", "kind", ferry_fsck_kind_name(f->kind),
			      "object", ferry_fsck_object_name(f->object), "id", f->id,
			      "detail", f->detail, "referencedBy");
	size_t i;

	if (o && f->repo && json_object_set_new(o, "repository", json_string(f->repo)) < 0) {
		json_decref(o);
		return NULL;
	}
	for (i = 0; o && i < f->referrers.n; i++)
		if (json_array_append_new(json_object_get(o, "referencedBy"),
					  json_string(f->referrers.v[i])) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static void print_fault(const char *prefix, const ferry_fsck_fault *f)
{
	size_t i;

	printf("%s%s %s %s%s%s: %s\n", prefix, ferry_fsck_kind_name(f->kind),
	       ferry_fsck_object_name(f->object), f->repo ? f->repo : "", f->repo ? " " : "",
	       f->id, f->detail);
	for (i = 0; i < f->referrers.n; i++)
		printf("%s  referenced by %s\n", prefix, f->referrers.v[i]);
}

/* Whether `after` still lists fault `f`. */
static int still_faulty(const ferry_fsck_report *after, const ferry_fsck_fault *f)
{
	size_t i;

	for (i = 0; i < after->nfaults; i++) {
		const ferry_fsck_fault *g = &after->faults[i];

		if (g->kind == f->kind && g->object == f->object && !strcmp(g->id, f->id) &&
		    (g->repo == f->repo || (g->repo && f->repo && !strcmp(g->repo, f->repo))))
			return 1;
	}
	return 0;
}

static int print_fsck(ferry_store *st, const ferry_fsck_report *before,
		      const ferry_fsck_report *after, const ferry_repair_counts *counts,
		      int json)
{
	size_t i, remaining = after->nfaults, repaired = 0;
	json_t *o, *faults, *fixed = NULL;

	for (i = 0; before && i < before->nfaults; i++)
		repaired += !still_faulty(after, &before->faults[i]);
	if (!json) {
		for (i = 0; before && i < before->nfaults; i++)
			if (!still_faulty(after, &before->faults[i]))
				print_fault("repaired: ", &before->faults[i]);
		for (i = 0; i < after->nfaults; i++)
			print_fault("", &after->faults[i]);
		printf("checked %zu blob(s), %zu tag(s), %zu repositor%s (%zu ref(s), %zu "
		       "git object(s)) and ferry.db: ", after->blobs, after->tags, after->repos,
		       after->repos == 1 ? "y" : "ies", after->refs, after->git_objects);
		if (before)
			printf("%zu fault(s) repaired, ", repaired);
		if (remaining)
			printf("%zu fault(s)\n", remaining);
		else
			printf("clean\n");
		return remaining ? FERRY_EXIT_FAILURE : FERRY_EXIT_OK;
	}
	o = json_pack("{s:s,s:b,s:{s:I,s:I,s:I,s:I,s:I},s:[]}", "store", ferry_store_root(st),
		      "clean", remaining == 0, "checked", "blobs", (json_int_t)after->blobs,
		      "tags", (json_int_t)after->tags, "repositories", (json_int_t)after->repos,
		      "refs", (json_int_t)after->refs, "gitObjects",
		      (json_int_t)after->git_objects, "faults");
	faults = o ? json_object_get(o, "faults") : NULL;
	for (i = 0; faults && i < after->nfaults; i++)
		if (ferry_json_append(faults, fault_json(&after->faults[i])) < 0)
			faults = NULL;
	if (faults && before) {
		fixed = json_array();
		for (i = 0; fixed && i < before->nfaults; i++)
			if (!still_faulty(after, &before->faults[i]) &&
			    ferry_json_append(fixed, fault_json(&before->faults[i])) < 0)
				break;
		if (ferry_json_set(o, "repaired", fixed) < 0 ||
		    ferry_json_set(o, "restored", json_pack("{s:I,s:I,s:I,s:I}",
				"blobs", (json_int_t)counts->blobs,
				"records", (json_int_t)counts->records,
				"repositories", (json_int_t)counts->repos,
				"refs", (json_int_t)counts->refs)) < 0)
			faults = NULL;
	}
	if (!faults) {
		json_decref(o);
		return cli_fail("store", ferry_error_oom());
	}
	cli_print_json(o);
	return remaining ? FERRY_EXIT_FAILURE : FERRY_EXIT_OK;
}

static int store_fsck(int argc, char **argv, cli_args *parent)
{
	ferry_fsck_options opts = FERRY_FSCK_OPTIONS_INIT;
	ferry_fsck_report before = FERRY_FSCK_REPORT_INIT, after = FERRY_FSCK_REPORT_INIT;
	ferry_repair_counts counts;
	const char *store = NULL;
	const char **repair = NULL;
	size_t nrepair = 0;
	ferry_store *st = NULL;
	cli_args a;
	int id, error, rc;

	memset(&counts, 0, sizeof(counts));
	cli_args_init(&a, &fsck_command, argc, argv, parent);
	if (!(repair = calloc((size_t)argc + 1, sizeof(*repair))))
		return cli_fail("store", ferry_error_oom());
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_STORE: store = a.value; break;
		case OPT_REPAIR_FROM: repair[nrepair++] = a.value; break;
		}
	}
	if (id < 0) {
		free(repair);
		return a.exit;
	}
	opts.check_repo = ferry_git_fsck;
	if ((error = ferry_store_open(&st, cli_store_path(store),
				      nrepair ? FERRY_STORE_WRITE : FERRY_STORE_READ, 1)) < 0 ||
	    (error = ferry_store_fsck(&after, st, &opts)) < 0) {
		rc = cli_fail("store", error);
		goto done;
	}
	if (nrepair && after.nfaults) {
		before = after;
		memset(&after, 0, sizeof(after));
		if ((error = ferry_import_repair(&counts, st, &before, repair, nrepair)) < 0 ||
		    (error = ferry_store_fsck(&after, st, &opts)) < 0) {
			rc = cli_fail("store", error);
			goto done;
		}
	}
	rc = print_fsck(st, before.nfaults ? &before : NULL, &after, &counts, a.common.json);
done:
	ferry_fsck_report_dispose(&before);
	ferry_fsck_report_dispose(&after);
	ferry_store_close(st);
	free(repair);
	return rc;
}
