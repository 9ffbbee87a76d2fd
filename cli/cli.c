/*
 * Shared command-line helpers: error reporting and exit codes, key lists,
 * size formatting.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "cli.h"
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

int cli_fail(const char *cmd, int error)
{
	const char *msg = ferry_error_last();

	fprintf(stderr, "ferry %s: %s\n", cmd, *msg ? msg : ferry_error_name(error));
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

const char *cli_human_size(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
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
