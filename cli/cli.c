/*
 * Shared command-line helpers: error reporting and exit codes, key lists,
 * size formatting.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "cli.h"
#include "fs.h"
#include "util.h"
#include "buf.h"
#include "members.h"
#include "strv.h"
#include "banned.h"

int cli_quiet;

int cli_exit_code(int error)
{
	switch (error) {
	case FERRY_OK: return FERRY_EXIT_OK;
	case FERRY_EVERIFY:
	case FERRY_ECORRUPT:
	case FERRY_EINVALID:
	case FERRY_ETOOBIG:
	case FERRY_EUNSUPPORTED:
		return FERRY_EXIT_VERIFY;
	default:
		return FERRY_EXIT_FAILURE;
	}
}

const char *cli_escape(char *buf, size_t len, const char *s)
{
	ferry_escape_bytes(buf, len, s ? s : "", s ? strlen(s) : 0);
	return buf;
}

int cli_fail(const char *cmd, int error)
{
	const char *msg = ferry_error_last();

	fprintf(stderr, "ferry %s: %s\n", cmd, *msg ? msg : ferry_error_name(error));
	ferry_error_clear();
	return error == FERRY_EVERIFY ? FERRY_EXIT_VERIFY : FERRY_EXIT_FAILURE;
}

int cli_pubkeys_add(cli_pubkeys *list, const char *path)
{
	ferry_pubkey *key = NULL;
	int error;

	if ((error = ferry_pubkey_load(&key, path)) < 0)
		return error;
	if ((error = FERRY_ALLOC_GROW(list->keys, list->n + 1, list->alloc)) < 0) {
		ferry_pubkey_free(key);
		return error;
	}
	list->keys[list->n++] = key;
	return 0;
}

void cli_pubkeys_dispose(cli_pubkeys *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		ferry_pubkey_free(list->keys[i]);
	free(list->keys);
	list->keys = NULL;
	list->n = list->alloc = 0;
}

int cli_parse_expires(int64_t *out, const char *text)
{
	int64_t d;

	if (!text)
		text = "365d";
	if (strchr(text, 'T'))
		return ferry_time_parse(out, text);
	if (ferry_parse_duration(&d, text) < 0)
		return FERRY_EINVALID;
	*out = (int64_t)time(NULL) + d;
	return 0;
}

const char *cli_store_path(const char *given)
{
	const char *env = getenv("FERRY_STORE");

	if (given)
		return given;
	return env && *env ? env : "/var/lib/ferry";
}

void cli_print_json(json_t *value)
{
	if (!value)
		return;
	json_dumpf(value, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(value);
}

/* ---- bundle operands --------------------------------------------------------------- */

static int has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && !strcmp(name + n - k, suffix);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A detached signature or a checksum: beside a bundle file, not one. */
static int side_file(const char *cmd, const char *path, int quiet)
{
	if (!has_suffix(path, FERRY_BUNDLE_SIGNATURE_SUFFIX) && !has_suffix(path, FERRY_BUNDLE_CHECKSUM_SUFFIX))
		return 0;
	if (!quiet)
		fprintf(stderr, "ferry %s: leaving out '%s' (a %s beside a bundle file)\n",
			cmd, path, has_suffix(path, FERRY_BUNDLE_SIGNATURE_SUFFIX) ? "detached signature"
							       : "checksum");
	return 1;
}

static int add_directory(ferry_strv *out, const char *cmd, const char *dir, int quiet)
{
	ferry_strv found = FERRY_STRV_INIT;
	size_t dir_len = strlen(dir);
	struct dirent *e;
	DIR *d;
	size_t i;
	int error = 0;

	while (dir_len > 1 && dir[dir_len - 1] == '/')
		dir_len--;
	if (!(d = opendir(dir)))
		return ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", dir);
	while (!error && (e = readdir(d))) {
		ferry_buf b = FERRY_BUF_INIT;
		char *path;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		if ((error = ferry_buf_printf(&b, "%.*s/%s", (int)dir_len, dir, e->d_name)) < 0)
			break;
		path = ferry_buf_detach(&b);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || side_file(cmd, path, quiet)) {
			free(path);
			continue;
		}
		if (!has_suffix(e->d_name, ".tar")) {
			if (!quiet)
				fprintf(stderr, "ferry %s: leaving out '%s' (not a bundle file)\n",
					cmd, path);
			free(path);
			continue;
		}
		error = ferry_strv_push_owned(&found, path);
	}
	closedir(d);
	if (found.n)
		qsort(found.v, found.n, sizeof(*found.v), by_name);
	for (i = 0; i < found.n && !error; i++)
		error = ferry_strv_push(out, found.v[i]);
	ferry_strv_dispose(&found);
	return error;
}

int cli_bundle_files(ferry_strv *out, const char *cmd, char *const *args, size_t nargs,
		     int quiet)
{
	struct stat st;
	size_t i;
	int error = 0;

	for (i = 0; i < nargs && !error; i++) {
		if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode))
			error = add_directory(out, cmd, args[i], quiet);
		else if (!side_file(cmd, args[i], quiet))
			error = ferry_strv_push(out, args[i]);
	}
	if (!error && out->n == 0)
		error = ferry_error_set(FERRY_ENOTFOUND, "no bundle files among the %zu "
					"operand(s)", nargs);
	return error;
}

void cli_serve_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cli_serve_wait(const char *cmd, sigset_t *set, const char *port_file, unsigned port,
		   const char *store, const char *listen, int tls)
{
	const char *colon = strrchr(listen, ':');
	int sig, error;

	if (port_file) {
		char text[16];
		int n = snprintf(text, sizeof(text), "%u\n", port);

		if ((error = ferry_fs_write_output(port_file, text, (size_t)n, 0644)) < 0)
			return cli_fail(cmd, error);
	}
	fprintf(stderr, "ferry %s: serving '%s' on %s://%.*s:%u\n", cmd, store,
		tls ? "https" : "http", colon ? (int)(colon - listen) : 0, listen, port);
	sigwait(set, &sig);
	fprintf(stderr, "ferry %s: stopping\n", cmd);
	return FERRY_EXIT_OK;
}

FILE *cli_open_log(const char *cmd, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "a") : stdout;

	if (!f)
		fprintf(stderr, "ferry %s: cannot open '%s'\n", cmd, path);
	return f;
}

void cli_close_log(FILE *f)
{
	if (f && f != stdout)
		fclose(f);
}
