/*
 * Export jobs: what one scheduled export of a channel needs (the spec, the
 * signing keys, where the bundle goes and how), kept in one small YAML file
 * per job, /etc/ferry/export.d/<job>.yaml, so that a timer has one line to
 * run: `ferry export --job <job>`.
 */
#ifndef FERRY_EXPORT_JOB_H
#define FERRY_EXPORT_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/** Where jobs live unless told otherwise ($FERRY_EXPORT_JOBS overrides). */
#define FERRY_EXPORT_JOB_DIR "/etc/ferry/export.d"

/** Longest job name. */
#define FERRY_EXPORT_JOB_NAME_MAX 64

/* A job as read. Paths are absolute: relative ones in the file are taken
 * from the job file's directory. Absent values are NULL or 0; the `has_*`
 * flags tell an absent boolean from a false one. */
typedef struct {
	char *name;                /* the job's name (its file name without .yaml) */
	char *spec;                /* the export spec */
	char **keys;               /* secret key files, in order */
	size_t nkeys, allockeys;
	char *out;                 /* exactly one of out and outbox */
	char *outbox;
	char *state;               /* export state database; NULL: the default */
	char *cache;
	char *auth_file;
	uint64_t max_volume_size;  /* 0: one file */
	int64_t heartbeat;         /* seconds; 0: none */
	int checksums, has_checksums;
	int if_changed, has_if_changed;
} ferry_export_job;

#define FERRY_EXPORT_JOB_INIT { NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, \
				0, 0, 0, 0, 0, 0 }

/**
 * Whether `name` may name a job: 1 to FERRY_EXPORT_JOB_NAME_MAX letters,
 * digits, '.', '_' or '-', not starting with '.'. A name is never a path.
 */
int ferry_export_job_name_valid(const char *name);

/**
 * The file of job `name` in `dir` (NULL: $FERRY_EXPORT_JOBS, else
 * FERRY_EXPORT_JOB_DIR), appended to `out`. FERRY_EINVALID for a name that
 * is not valid.
 */
int ferry_export_job_path(ferry_buf *out, const char *dir, const char *name);

/**
 * Read job `name` from `dir` (as ferry_export_job_path) into `*out`, which
 * the caller releases with ferry_export_job_dispose() on success. The
 * grammar is closed: an unknown or repeated key, a missing `spec` or `key`,
 * both or neither of `out` and `outbox`, `heartbeat` without `if-changed`,
 * or a value of the wrong form is FERRY_EINVALID naming the file and the
 * line; FERRY_ENOTFOUND when the job has no file.
 */
int ferry_export_job_load(ferry_export_job *out, const char *dir, const char *name);

void ferry_export_job_dispose(ferry_export_job *job);

#endif
