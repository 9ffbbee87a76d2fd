/*
 * Names (see reference.h): the reference grammar registry sources are
 * written in, repository names, tags and the store's "name:tag" and
 * "name@digest" references, image lists and platforms. Everything here
 * reads untrusted or hand-written text, so every input has a length limit
 * and the first problem stops the parse with a message naming it. The
 * mirror, seeding, the reconciler and export all split and check names
 * with these functions, so they agree on where a tag starts.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "digest.h"
#include "reference.h"
#include "banned.h"

static char *dupn(const char *s, size_t n)
{
	char *out = malloc(n + 1);

	if (out) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

/* ---- references ------------------------------------------------------- */

static int is_alnum_lower(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static int component_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_alnum_lower((unsigned char)s[0]) ||
	    !is_alnum_lower((unsigned char)s[n - 1]))
		return 0;
	while (i < n) {
		if (is_alnum_lower((unsigned char)s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' || s[i] == '_') {
			size_t run = 1;

			if (s[i] == '_' && i + 1 < n && s[i + 1] == '_')
				run = 2;
			i += run;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return 0;
		}
		if (i >= n || !is_alnum_lower((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Components joined by single '/'s. */
static int components_valid(const char *s, size_t n)
{
	const char *end = s + n, *p = s;

	for (;;) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);

		if (!component_valid(p, len))
			return 0;
		if (!slash)
			return 1;
		p = slash + 1;
	}
}

int ferry_reference_name_valid(const char *name, size_t len)
{
	return len > 0 && len <= FERRY_REFERENCE_NAME_MAX && components_valid(name, len);
}

size_t ferry_reference_host_len(const char *name)
{
	const char *slash = strchr(name, '/');
	size_t n;

	if (!slash)
		return 0;
	n = (size_t)(slash - name);
	return memchr(name, '.', n) || memchr(name, ':', n) ||
	       (n == 9 && !strncmp(name, "localhost", 9)) ? n : 0;
}

/* Nonzero when the `n` bytes at `s` are a decimal port (1-5 digits). */
static int port_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 5)
		return 0;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* A registry host: DNS labels of letters, digits and inner '-' joined by
 * '.', or a bracketed IPv6 address; then an optional ":port". Empty labels
 * ("..", a leading or trailing '.') make no host. */
static int domain_valid(const char *s, size_t n)
{
	const char *end = s + n, *colon;
	size_t i, host, label = 0;

	if (n == 0 || n > 253)
		return 0;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close || close == s + 1)
			return 0;
		for (i = 1; s + i < close; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':')
				return 0;
		if (close + 1 == end)
			return 1;
		return close[1] == ':' && port_valid(close + 2, (size_t)(end - close - 2));
	}
	colon = memchr(s, ':', n);
	host = colon ? (size_t)(colon - s) : n;
	if (colon && !port_valid(colon + 1, (size_t)(end - colon - 1)))
		return 0;
	for (i = 0; i < host; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)s[i]) || (s[i] == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
	return label > 0 && s[host - 1] != '-';
}

static int is_alnum_ascii(int c)
{
	return is_alnum_lower(c) || (c >= 'A' && c <= 'Z');
}

int ferry_reference_tag_valid(const char *tag)
{
	size_t i, n = strlen(tag);

	if (n == 0 || n > 128 || !(is_alnum_ascii((unsigned char)tag[0]) || tag[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_alnum_ascii((unsigned char)tag[i]) && !strchr("_.-", tag[i]))
			return 0;
	return 1;
}

int ferry_reference_split(ferry_reference_parts *out, const char *reference)
{
	const char *at = strchr(reference, '@'), *end, *p, *colon = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	end = at ? at : reference + strlen(reference);
	for (p = reference; p < end; p++) {
		if (*p == '/')
			colon = NULL;
		else if (*p == ':')
			colon = p;
	}
	out->name_len = (size_t)((colon ? colon : end) - reference);
	if (colon) {
		out->tag = colon + 1;
		out->tag_len = (size_t)(end - out->tag);
	}
	if (at) {
		if ((error = ferry_oci_digest_parse(out->hex, at + 1)) < 0)
			return ferry_error_wrap(error, "reference '%.200s'", reference);
		out->digest = at + 1;
	}
	if (out->name_len == 0)
		return ferry_error_set(FERRY_EINVALID, "reference '%.200s' names no repository",
				       reference);
	if (out->tag && out->tag_len == 0)
		return ferry_error_set(FERRY_EINVALID, "reference '%.200s' has an empty tag",
				       reference);
	if (!out->tag && !out->digest)
		return ferry_error_set(FERRY_EINVALID, "reference '%.200s' has neither tag nor "
				       "digest", reference);
	return 0;
}

int ferry_reference_check(const char *reference)
{
	ferry_reference_parts p;
	size_t host;
	const char *name = reference;
	int error;

	if (strlen(reference) > FERRY_REFERENCE_MAX)
		return ferry_error_set(FERRY_EINVALID, "reference '%.80s...' is longer than %d "
				       "bytes", reference, FERRY_REFERENCE_MAX);
	if ((error = ferry_reference_split(&p, reference)) < 0)
		return error;
	host = ferry_reference_host_len(reference);
	if (host && host < p.name_len) {
		if (!domain_valid(reference, host))
			return ferry_error_set(FERRY_EINVALID, "reference '%.200s' has an invalid "
					       "registry host '%.*s'", reference, (int)host,
					       reference);
		name += host + 1;
	}
	if (!ferry_reference_name_valid(name, p.name_len - (size_t)(name - reference)))
		return ferry_error_set(FERRY_EINVALID, "reference '%.200s' has an invalid "
				       "repository name '%.*s' (lowercase components of "
				       "[a-z0-9] joined by '.', '_', '__' or '-', separated by "
				       "'/')", reference, (int)(p.name_len - (size_t)(name - reference)),
				       name);
	if (p.tag) {
		char tag[130];

		if (p.tag_len >= sizeof(tag))
			return ferry_error_set(FERRY_EINVALID, "reference '%.200s' has a tag "
					       "longer than 128 characters", reference);
		memcpy(tag, p.tag, p.tag_len);
		tag[p.tag_len] = '\0';
		if (!ferry_reference_tag_valid(tag))
			return ferry_error_set(FERRY_EINVALID, "reference '%.200s' has an invalid "
					       "tag '%s' (want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
					       reference, tag);
	}
	return 0;
}

void ferry_reference_dispose(ferry_reference *r)
{
	free(r->registry);
	free(r->api_host);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

int ferry_reference_parse(ferry_reference *out, const char *text)
{
	const char *at, *slash, *name, *tag = NULL, *p, *colon;
	size_t len = strlen(text), name_len, dlen = 0;
	ferry_buf repo = FERRY_BUF_INIT;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > FERRY_REFERENCE_MAX)
		return ferry_error_set(FERRY_EINVALID,
				       "'%.80s' is not an image reference (1-%d characters)",
				       text, FERRY_REFERENCE_MAX);
	for (p = text; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return ferry_error_set(FERRY_EINVALID,
					       "image reference '%.200s' contains a space "
					       "or control character", text);
	if ((at = strchr(text, '@'))) {
		char hex[FERRY_SHA256_HEX_LEN + 1];

		if ((error = ferry_oci_digest_parse(hex, at + 1)) < 0)
			return ferry_error_set(error, "image reference '%.200s' has an "
					       "invalid digest (want sha256:<64 hex digits>)",
					       text);
		if (!(out->digest = strdup(at + 1)))
			return ferry_error_oom();
		len = (size_t)(at - text);
	}
	/* The registry: a first component that looks like a host (before any
	 * digest: the '@' is where the name ends). */
	slash = memchr(text, '/', len);
	if (slash && (dlen = ferry_reference_host_len(text)) > 0) {
		if (!domain_valid(text, dlen)) {
			error = ferry_error_set(FERRY_EINVALID, "image reference '%.200s' "
						"has an invalid registry host", text);
			goto done;
		}
		name = slash + 1;
	} else {
		name = text;
	}
	name_len = len - (size_t)(name - text);
	/* A tag: the last ':' after the last '/'. */
	p = name;
	for (colon = NULL; p < name + name_len; p++) {
		if (*p == '/')
			colon = NULL;
		else if (*p == ':')
			colon = p;
	}
	if (colon) {
		tag = colon + 1;
		if (!(out->tag = dupn(tag, (size_t)(name + name_len - tag)))) {
			error = ferry_error_oom();
			goto done;
		}
		if (!ferry_reference_tag_valid(out->tag)) {
			error = ferry_error_set(FERRY_EINVALID, "image reference '%.200s' "
						"has an invalid tag '%.130s'", text, out->tag);
			goto done;
		}
		name_len = (size_t)(colon - name);
	}
	if (dlen == 0) {
		out->registry = strdup("docker.io");
		out->api_host = strdup("registry-1.docker.io");
		if (!memchr(name, '/', name_len))
			error = ferry_buf_puts(&repo, "library/");
	} else {
		out->registry = dupn(text, dlen);
		if (dlen == 9 && !strncmp(text, "docker.io", 9))
			out->api_host = strdup("registry-1.docker.io");
		else
			out->api_host = dupn(text, dlen);
	}
	if (error < 0 || !out->registry || !out->api_host ||
	    (error = ferry_buf_put(&repo, name, name_len)) < 0) {
		error = error < 0 ? error : ferry_error_oom();
		goto done;
	}
	if (!components_valid(repo.ptr, repo.size)) {
		error = ferry_error_set(FERRY_EINVALID, "image reference '%.200s' "
					"has an invalid repository name (lower-case "
					"letters, digits and separators . _ __ -)", text);
		goto done;
	}
	if (repo.size > FERRY_REFERENCE_NAME_MAX) {
		error = ferry_error_set(FERRY_EINVALID, "image reference '%.200s': the "
					"repository name is longer than %d characters",
					text, FERRY_REFERENCE_NAME_MAX);
		goto done;
	}
	out->repository = ferry_buf_detach(&repo);
	if (!out->tag && !out->digest) {
		out->implicit_tag = 1;
		if (!(out->tag = strdup("latest")))
			error = ferry_error_oom();
	}
done:
	ferry_buf_dispose(&repo);
	if (error < 0)
		ferry_reference_dispose(out);
	return error;
}

/* ---- image lists -------------------------------------------------------- */

void ferry_image_list_free(char **list)
{
	char **p;

	for (p = list; p && *p; p++)
		free(*p);
	free(list);
}

int ferry_image_list_parse(char ***out, size_t *count, const char *text,
			   size_t len, const char *what)
{
	char **list = NULL;
	size_t n = 0, alloc = 0, lineno = 0, pos = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	if (len > FERRY_IMAGE_LIST_MAX_SIZE)
		return ferry_error_set(FERRY_ETOOBIG, "%s is larger than %u bytes",
				       what, FERRY_IMAGE_LIST_MAX_SIZE);
	if (memchr(text, '\0', len))
		return ferry_error_set(FERRY_EINVALID, "%s contains a NUL byte", what);
	if (!(list = calloc(1, sizeof(*list))))
		return ferry_error_oom();
	while (pos < len) {
		const char *line = text + pos, *end = memchr(line, '\n', len - pos);
		size_t l = end ? (size_t)(end - line) : len - pos, i;
		const char *hash;
		ferry_reference ref;
		char *entry;

		pos += l + (end ? 1 : 0);
		lineno++;
		while (l && isspace((unsigned char)*line)) {
			line++;
			l--;
		}
		if (l && line[0] == '#')
			l = 0;
		for (hash = line; hash < line + l; hash++)
			if (*hash == '#' && isspace((unsigned char)hash[-1])) {
				l = (size_t)(hash - line);
				break;
			}
		while (l && isspace((unsigned char)line[l - 1]))
			l--;
		if (l == 0)
			continue;
		for (i = 0; i < l; i++)
			if (isspace((unsigned char)line[i])) {
				error = ferry_error_set(FERRY_EINVALID, "%s:%zu: one reference "
							"per line (found a space)", what, lineno);
				goto done;
			}
		if (n >= FERRY_IMAGE_LIST_MAX_ENTRIES) {
			error = ferry_error_set(FERRY_ETOOBIG, "%s: more than %d references",
						what, FERRY_IMAGE_LIST_MAX_ENTRIES);
			goto done;
		}
		if (!(entry = dupn(line, l))) {
			error = ferry_error_oom();
			goto done;
		}
		if ((error = ferry_reference_parse(&ref, entry)) < 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", ferry_error_last());
			free(entry);
			error = ferry_error_set(error, "%s:%zu: %s", what, lineno, msg);
			goto done;
		}
		ferry_reference_dispose(&ref);
		if ((error = FERRY_ALLOC_GROW(list, n + 2, alloc)) < 0) {
			free(entry);
			goto done;
		}
		list[n++] = entry;
		list[n] = NULL;
	}
	if (n == 0) {
		error = ferry_error_set(FERRY_EINVALID, "%s lists no images", what);
		goto done;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	ferry_image_list_free(list);
	return error;
}

/* ---- platforms ---------------------------------------------------------- */

int ferry_platform_valid(const char *s)
{
	int slashes = 0;
	const char *p;

	if (!*s || *s == '/')
		return 0;
	for (p = s; *p; p++) {
		if (*p == '/') {
			if (p[1] == '/' || p[1] == '\0')
				return 0;
			slashes++;
		} else if (!is_alnum_lower((unsigned char)*p) && !strchr("_.-", *p)) {
			return 0;
		}
	}
	return slashes == 1 || slashes == 2;
}

int ferry_platform_matches(const char *want, const json_t *platform)
{
	const char *os = json_string_value(json_object_get(platform, "os"));
	const char *arch = json_string_value(json_object_get(platform, "architecture"));
	const char *variant = json_string_value(json_object_get(platform, "variant"));
	const char *s1 = strchr(want, '/'), *s2;
	size_t oslen;

	if (!os || !arch || !s1)
		return 0;
	oslen = (size_t)(s1 - want);
	if (strlen(os) != oslen || strncmp(os, want, oslen))
		return 0;
	s2 = strchr(s1 + 1, '/');
	if (!s2)
		return !strcmp(arch, s1 + 1);
	if (strlen(arch) != (size_t)(s2 - s1 - 1) || strncmp(arch, s1 + 1, (size_t)(s2 - s1 - 1)))
		return 0;
	return variant && !strcmp(variant, s2 + 1);
}
