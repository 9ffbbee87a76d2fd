/*
 * The outbox (see outbox.h). A rename within one filesystem is atomic, so
 * the agent sees either no file or the whole file; the staging directory
 * starts with '.', which transfer agents and diode senders are configured
 * to skip (and which ferry's own inbox skips).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "export.h"
#include "fs.h"
#include "hash.h"
#include "members.h"
#include "outbox.h"
#include "banned.h"

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int ferry_outbox_final_path(ferry_buf *out, const char *outbox, const char *staged)
{
	return ferry_buf_printf(out, "%s/%s", outbox, base_name(staged));
}

static int move_one(const char *from, const char *outbox)
{
	ferry_buf to = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_outbox_final_path(&to, outbox, from)) < 0)
		return error;
	if (rename(from, to.ptr) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot move '%s' into the outbox '%s'",
					      from, outbox);
	ferry_buf_dispose(&to);
	return error;
}

/* "ferry-<channel>-<NNNNNN>...": the sequence, or 0 when not the channel's. */
static uint64_t staged_sequence(const char *name, const char *channel)
{
	size_t n = strlen(channel);
	uint64_t seq = 0;
	const char *p;

	if (strncmp(name, "ferry-", 6) || strncmp(name + 6, channel, n) || name[6 + n] != '-')
		return 0;
	for (p = name + 7 + n; *p >= '0' && *p <= '9'; p++)
		seq = seq * 10 + (uint64_t)(*p - '0');
	return p == name + 7 + n ? 0 : seq;
}

/* Data files first, signatures last, as deliver does. */
static int settle_pass(const char *staging, const char *outbox, const char *channel,
		       uint64_t last, int signatures)
{
	ferry_buf path = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d;
	int error = 0;

	if (!(d = opendir(staging)))
		return ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", staging);
	while (!error && (e = readdir(d))) {
		uint64_t seq = staged_sequence(e->d_name, channel);
		size_t len = strlen(e->d_name);
		int sig = len > strlen(FERRY_BUNDLE_SIGNATURE_SUFFIX) &&
			  !strcmp(e->d_name + len - strlen(FERRY_BUNDLE_SIGNATURE_SUFFIX),
				  FERRY_BUNDLE_SIGNATURE_SUFFIX);

		if (!seq || sig != signatures)
			continue;
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", staging, e->d_name)) < 0)
			break;
		if (seq <= last)
			error = move_one(path.ptr, outbox);
		else if (unlink(path.ptr) < 0 && errno != ENOENT)
			error = ferry_error_set_errno(FERRY_EIO, "cannot remove '%s'", path.ptr);
	}
	closedir(d);
	ferry_buf_dispose(&path);
	return error;
}

int ferry_outbox_prepare(ferry_buf *staging, const char *outbox, const char *channel,
			 uint64_t last)
{
	int error;

	if ((error = ferry_fs_mkdir_p(outbox, 0755)) < 0 ||
	    (error = ferry_buf_printf(staging, "%s/%s", outbox, FERRY_OUTBOX_STAGING)) < 0 ||
	    (error = ferry_fs_mkdir_p(staging->ptr, 0700)) < 0 ||
	    (error = settle_pass(staging->ptr, outbox, channel, last, 0)) < 0 ||
	    (error = settle_pass(staging->ptr, outbox, channel, last, 1)) < 0)
		return error;
	return ferry_fs_fsync_parent(staging->ptr);
}

int ferry_outbox_write_checksums(const ferry_write_result *w)
{
	ferry_buf path = FERRY_BUF_INIT, line = FERRY_BUF_INIT;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	size_t i;
	int error = 0;

	for (i = 0; i < w->npaths && !error; i++) {
		ferry_buf_clear(&path);
		ferry_buf_clear(&line);
		if ((error = ferry_sha256_file(hex, NULL, w->paths[i])) < 0 ||
		    (error = ferry_buf_printf(&path, "%s" FERRY_BUNDLE_CHECKSUM_SUFFIX, w->paths[i])) < 0 ||
		    (error = ferry_buf_printf(&line, "%s  %s\n", hex,
					      base_name(w->paths[i]))) < 0)
			break;
		error = ferry_fs_write_atomic(path.ptr, line.ptr, line.size, 0644);
	}
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&line);
	return error;
}

int ferry_outbox_deliver(ferry_write_result *w, const char *outbox)
{
	static const char *const suffixes[] = { "", FERRY_BUNDLE_CHECKSUM_SUFFIX,
						      FERRY_BUNDLE_SIGNATURE_SUFFIX };
	ferry_buf from = FERRY_BUF_INIT, to = FERRY_BUF_INIT;
	size_t i, k;
	int error = 0;

	for (k = 0; k < 3 && !error; k++)
		for (i = 0; i < w->npaths && !error; i++) {
			ferry_buf_clear(&from);
			if ((error = ferry_buf_printf(&from, "%s%s", w->paths[i], suffixes[k])) < 0)
				break;
			if (k > 0 && !ferry_fs_exists(from.ptr))
				continue;
			error = move_one(from.ptr, outbox);
		}
	for (i = 0; i < w->npaths && !error; i++) {
		char *final;

		ferry_buf_clear(&to);
		if ((error = ferry_outbox_final_path(&to, outbox, w->paths[i])) < 0)
			break;
		if (!(final = ferry_buf_detach(&to))) {
			error = ferry_error_oom();
			break;
		}
		free(w->paths[i]);
		w->paths[i] = final;
	}
	if (!error && w->npaths)
		error = ferry_fs_fsync_parent(w->paths[0]);
	ferry_buf_dispose(&from);
	ferry_buf_dispose(&to);
	return error;
}
