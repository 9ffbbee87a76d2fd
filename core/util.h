/*
 * Small parsers shared by the commands and libraries: sizes ("4GiB"),
 * durations ("30d"), RFC 3339 UTC times, and safe relative paths.
 */
#ifndef FERRY_CORE_UTIL_H
#define FERRY_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/**
 * Parse a byte count: digits with an optional suffix K, M, G, T (powers of
 * 1024, optionally followed by "iB" or "B") or KB, MB, GB, TB (powers of
 * 1000). FERRY_EINVALID on anything else or on overflow.
 */
int ferry_parse_size(uint64_t *out, const char *text);

/** Parse a duration: digits followed by s, m, h, d or w, into seconds. */
int ferry_parse_duration(int64_t *out, const char *text);

/** Parse a whole decimal number with no sign, spaces or suffix. */
int ferry_parse_u64(uint64_t *out, const char *text);

/** Format `t` as "YYYY-MM-DDTHH:MM:SSZ" into `out` (at least 21 bytes). */
int ferry_time_format(char *out, size_t outlen, int64_t t);

/** Parse "YYYY-MM-DDTHH:MM:SSZ" (UTC only). */
int ferry_time_parse(int64_t *out, const char *text);

/**
 * Nonzero when `path` is a safe relative member path: not empty, not
 * absolute, no "." or ".." or empty component, no backslash or control
 * character.
 */
int ferry_path_is_safe(const char *path);


#endif
