/*
 * Seeding (see seed.h): the orchestration that runs each target's pusher
 * (seed_oci.c, seed_git.c, gitea.c) under a per-target lock, so two seeds
 * never push to the same target at once, and gathers what each did.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "json.h"
#include "log.h"
#include "pusher.h"
#include "targets.h"
#include "banned.h"

/* Hold STORE/targets/<name>.lock for the seed of one target. */
static int lock_target(int *fd, ferry_store *st, const char *name)
{
	ferry_buf path = FERRY_BUF_INIT, dir = FERRY_BUF_INIT;
	int error = 0;

	*fd = -1;
	if ((error = ferry_store_path(&dir, ferry_store_root(st), FERRY_STORE_TARGETS)) < 0 ||
	    (error = ferry_fs_mkdir_p(dir.ptr, 0700)) < 0 ||
	    (error = ferry_target_file(&path, st, name, "lock")) < 0)
		goto done;
	if ((*fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", path.ptr);
		goto done;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		close(*fd);
		*fd = -1;
		error = ferry_error_set(FERRY_EEXISTS, "another seed of target '%s' is "
					"running", name);
	}
done:
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&dir);
	return error;
}

/* Keep what the seed of `t` did as its last result (ferry_seed_last_result). */
static void record_result(ferry_store *st, const ferry_target *t,
			  const ferry_seed_target_result *r)
{
	ferry_buf detail = FERRY_BUF_INIT;
	json_t *o;
	char *text = NULL;

	if (r->failed)
		ferry_buf_printf_best_effort(&detail, "%s", r->error ? r->error : "failed");
	else if (t->kind == FERRY_TARGET_OCI)
		ferry_buf_printf_best_effort(&detail, "%zu manifests pushed, %zu present; %zu blobs "
					     "pushed, %zu present; %zu tags set",
					     r->manifests_pushed, r->manifests_present,
					     r->blobs_pushed, r->blobs_present + r->blobs_mounted,
					     r->tags_set);
	else
		ferry_buf_printf_best_effort(&detail, "%zu repositories; %zu refs pushed, %zu "
					     "unchanged, %zu refused", r->repos, r->refs_pushed,
					     r->refs_unchanged, r->refs_refused);
	o = json_pack("{s:I,s:s,s:s}", "time", (json_int_t)time(NULL), "outcome",
		      r->failed ? "failed" : r->nrefused ? "refused" : "seeded", "detail",
		      detail.ptr ? detail.ptr : "");
	/* a result that cannot be kept costs only the console's line about it */
	if (o && (text = ferry_json_dumps(o, JSON_COMPACT)))
		(void)ferry_store_progress_set(st, t->name, FERRY_SEED_RESULT_ITEM, text);
	free(text);
	json_decref(o);
	ferry_buf_dispose(&detail);
	ferry_error_clear();
}

int ferry_seed_last_result(ferry_seed_last *out, ferry_store *st, const char *target)
{
	char *state = NULL;
	json_t *o = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_store_progress_get(&state, st, target, FERRY_SEED_RESULT_ITEM)) < 0)
		return error;
	if (!state)
		return FERRY_ENOTFOUND;
	if ((error = ferry_json_parse(&o, state, strlen(state), "a seed result")) < 0 ||
	    !json_is_string(json_object_get(o, "outcome")) ||
	    !json_is_string(json_object_get(o, "detail"))) {
		error = error < 0 ? error : ferry_error_set(FERRY_ECORRUPT, "a malformed seed result");
		goto done;
	}
	out->time = (int64_t)json_integer_value(json_object_get(o, "time"));
	if (!(out->outcome = strdup(json_string_value(json_object_get(o, "outcome")))) ||
	    !(out->detail = strdup(json_string_value(json_object_get(o, "detail"))))) {
		ferry_seed_last_dispose(out);
		error = ferry_error_oom();
	}
done:
	json_decref(o);
	free(state);
	return error;
}

void ferry_seed_last_dispose(ferry_seed_last *r)
{
	free(r->outcome);
	free(r->detail);
	memset(r, 0, sizeof(*r));
}

int ferry_seed(ferry_seed_result *out, ferry_store *st, const ferry_seed_options *opts)
{
	ferry_seed_options defaults = FERRY_SEED_OPTIONS_INIT;
	ferry_target **list = NULL;
	size_t n = 0, i;
	char first[512] = "";
	int error = 0, bad = 0;

	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &defaults;
	if (opts->version != FERRY_SEED_OPTIONS_VERSION)
		return ferry_error_set(FERRY_EINVALID, "bad seed options");
	if (sodium_init() < 0)
		return ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
	if (opts->target) {
		if (!(list = calloc(1, sizeof(*list))))
			return ferry_error_oom();
		if ((error = ferry_target_load(&list[0], st, opts->target)) < 0) {
			free(list);
			return error;
		}
		n = 1;
	} else if ((error = ferry_target_list(&list, &n, st)) < 0) {
		return error;
	}
	if (n && !(out->targets = calloc(n, sizeof(*out->targets)))) {
		ferry_target_list_free(list, n);
		return ferry_error_oom();
	}
	for (i = 0; i < n; i++) {
		ferry_seed_target_result *r = &out->targets[i];
		const ferry_target *t = list[i];
		int fd = -1, e;

		out->ntargets++;
		if (!(r->target = strdup(t->name))) {
			error = ferry_error_oom();
			break;
		}
		ferry_error_clear();
		e = lock_target(&fd, st, t->name);
		if (e == 0) {
			ferry_log(FERRY_LOG_INFO, "seeding target '%s' (%s, %s)", t->name,
				  ferry_target_kind_name(t->kind), t->url);
			switch (t->kind) {
			case FERRY_TARGET_OCI: e = ferry_seed__oci(r, st, t, opts); break;
			case FERRY_TARGET_GIT: e = ferry_seed__git(r, st, t, opts); break;
			case FERRY_TARGET_GITEA: e = ferry_seed__gitea(r, st, t, opts); break;
			}
			close(fd);
		}
		if (e < 0) {
			r->failed = 1;
			r->error = strdup(ferry_error_last());
		}
		if (e != FERRY_EEXISTS)
			record_result(st, t, r);
		if (e < 0) {
			if (!first[0])
				snprintf(first, sizeof(first), "target '%s': %s", t->name,
					 r->error ? r->error : "out of memory");
			bad = 1;
		} else if (r->nrefused) {
			if (!first[0])
				snprintf(first, sizeof(first), "target '%s': %s refused", t->name,
					 r->refused[0]);
			bad = 1;
		}
	}
	ferry_target_list_free(list, n);
	if (error < 0)
		return error;
	if (bad)
		return ferry_error_set(FERRY_ERROR, "%s", first);
	return 0;
}
