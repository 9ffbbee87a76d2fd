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

/** `bytes` for people ("512 B", "1.5 MiB") into `buf`; returns `buf`. */
const char *ferry_size_text(char *buf, size_t len, uint64_t bytes);

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

/**
 * Escape LEN bytes of outside text (member names, references, HTTP request
 * lines, webhook fields) for one terminal or log line: every control byte
 * (C0 including ESC, CR, LF and TAB, DEL, and the C1 range U+0080-U+009F),
 * and every byte that is not part of valid UTF-8, becomes "\xNN"; valid
 * UTF-8 is kept. Backslash is kept as is, so escaping twice changes nothing.
 * Writes at most DSTSIZE bytes including the NUL (DSTSIZE may be 0 with DST
 * NULL), never splitting an escape or a character; returns the length the
 * whole escaped text needs, without the NUL, like snprintf.
 */
size_t ferry_escape_bytes(char *dst, size_t dstsize, const char *src, size_t len);

/** The value of hex digit `c` (0-9, a-f, A-F), or -1 for any other byte. */
int ferry_hex_digit(int c);

/**
 * The credentials a "scheme://userinfo@host/..." URL carries in its
 * authority: 0 none (or not such a URL), 1 a user name only, 2 a password
 * ("user:password@", or ":token@"). Reads URL only; no error is recorded.
 */
int ferry_url_credentials(const char *url);

/** Nonzero when URL's scheme is ssh (ssh://, git+ssh://, ssh+git://). */
int ferry_url_is_ssh(const char *url);

/**
 * ferry_escape_bytes() of the NUL-terminated S into a new string the caller
 * frees; NULL when out of memory (no error is recorded).
 */
char *ferry_escape_dup(const char *s);


#endif
