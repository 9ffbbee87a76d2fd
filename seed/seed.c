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
#include <unistd.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "log.h"
#include "pusher.h"
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
			if (!first[0])
				snprintf(first, sizeof(first), "target '%s': %s", t->name,
					 ferry_error_last());
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
