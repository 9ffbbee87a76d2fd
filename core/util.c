/*
 * Parsers for sizes, durations, times and member paths. Each rejects
 * anything it does not fully understand rather than guessing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry/errors.h"
#include "util.h"
#include "banned.h"

static int parse_digits(uint64_t *out, const char **p)
{
	uint64_t v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		s++;
	}
	*out = v;
	*p = s;
	return 0;
}

int ferry_parse_u64(uint64_t *out, const char *text)
{
	const char *p = text;

	if (parse_digits(out, &p) < 0 || *p != '\0')
		return ferry_error_set(FERRY_EINVALID, "'%s' is not a number",
				       text);
	return 0;
}

int ferry_parse_size(uint64_t *out, const char *text)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1ULL << 10 }, { "KiB", 1ULL << 10 }, { "KB", 1000ULL },
		{ "M", 1ULL << 20 }, { "MiB", 1ULL << 20 }, { "MB", 1000000ULL },
		{ "G", 1ULL << 30 }, { "GiB", 1ULL << 30 }, { "GB", 1000000000ULL },
		{ "T", 1ULL << 40 }, { "TiB", 1ULL << 40 }, { "TB", 1000000000000ULL },
	};
	const char *p = text;
	uint64_t v;
	size_t i;

	if (parse_digits(&v, &p) < 0)
		goto bad;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			goto bad;
		*out = v * units[i].mult;
		return 0;
	}
bad:
	return ferry_error_set(FERRY_EINVALID, "invalid size '%s'", text);
}

int ferry_parse_duration(int64_t *out, const char *text)
{
	const char *p = text;
	uint64_t v, mult;

	if (parse_digits(&v, &p) < 0 || p[0] == '\0' || p[1] != '\0')
		goto bad;
	switch (*p) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: goto bad;
	}
	if (v > (uint64_t)INT64_MAX / mult)
		goto bad;
	*out = (int64_t)(v * mult);
	return 0;
bad:
	return ferry_error_set(FERRY_EINVALID, "invalid duration '%s'", text);
}

int ferry_time_format(char *out, size_t outlen, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return ferry_error_set(FERRY_EINVALID, "time out of range");
	return 0;
}

int ferry_time_parse(int64_t *out, const char *text)
{
	struct tm tm;
	char *end;
	time_t t;
	char check[32];

	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end != '\0')
		goto bad;
	t = timegm(&tm);
	if (t == (time_t)-1)
		goto bad;
	/* Reject normalised-away input such as a 31st of February. */
	if (ferry_time_format(check, sizeof(check), (int64_t)t) < 0 ||
	    strcmp(check, text) != 0)
		goto bad;
	*out = (int64_t)t;
	return 0;
bad:
	return ferry_error_set(FERRY_EINVALID,
			       "invalid time '%.64s' (want YYYY-MM-DDTHH:MM:SSZ)",
			       text);
}

int ferry_path_is_safe(const char *path)
{
	const char *p = path, *start;

	if (!*path || *path == '/')
		return 0;
	for (;;) {
		start = p;
		while (*p && *p != '/') {
			if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
				return 0;
			p++;
		}
		if (p == start)
			return 0;
		if ((p - start == 1 && start[0] == '.') ||
		    (p - start == 2 && start[0] == '.' && start[1] == '.'))
			return 0;
		if (!*p)
			return 1;
		p++;
	}
}


/* Length of the valid UTF-8 sequence at S (at most N bytes), 0 if invalid. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

int ferry_hex_digit(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

size_t ferry_escape_bytes(char *dst, size_t dstsize, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, out = 0, need = 0;
	int stopped = !dst;

	while (i < len) {
		size_t n = utf8_length(s + i, len - i), k, j;
		int escape = !n || s[i] < 0x20 || s[i] == 0x7f ||
			     (s[i] == 0xc2 && s[i + 1] < 0xa0);

		n = n ? n : 1;
		k = escape ? 4 * n : n;
		if (!stopped && out + k < dstsize) {
			for (j = 0; j < n; j++) {
				if (escape) {
					dst[out++] = '\\';
					dst[out++] = 'x';
					dst[out++] = hex[s[i + j] >> 4];
					dst[out++] = hex[s[i + j] & 15];
				} else {
					dst[out++] = (char)s[i + j];
				}
			}
		} else {
			stopped = 1;
		}
		need += k;
		i += n;
	}
	if (dst && dstsize)
		dst[out] = '\0';
	return need;
}

char *ferry_escape_dup(const char *s)
{
	size_t len = strlen(s), need = ferry_escape_bytes(NULL, 0, s, len);
	char *out = malloc(need + 1);

	if (out)
		ferry_escape_bytes(out, need + 1, s, len);
	return out;
}

/* After "scheme://" of URL, or NULL when URL has no such scheme. */
static const char *url_authority(const char *url)
{
	const char *p = url;

	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	       (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (p == url || strncmp(p, "://", 3) != 0)
		return NULL;
	return p + 3;
}

int ferry_url_credentials(const char *url)
{
	const char *rest = url_authority(url), *at;
	size_t auth;

	if (!rest)
		return 0;
	auth = strcspn(rest, "/?#");
	/* The last '@' ends the userinfo: a password may hold an '@' too. */
	for (at = rest + auth; at > rest && at[-1] != '@'; at--)
		;
	if (at == rest)
		return 0;
	return memchr(rest, ':', (size_t)(at - 1 - rest)) ? 2 : 1;
}

int ferry_url_is_ssh(const char *url)
{
	return !strncmp(url, "ssh://", 6) || !strncmp(url, "git+ssh://", 10) ||
	       !strncmp(url, "ssh+git://", 10);
}

const char *ferry_size_text(char *buf, size_t len, uint64_t bytes)
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
