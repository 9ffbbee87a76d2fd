/*
 * The git bundle header codec (see git_header.h). The parser reads
 * untrusted bytes one line at a time under a size limit and stops at the
 * first bad line; the file and memory readers feed the same line parser so
 * that both refuse the same headers. The writer emits exactly what git
 * bundle create writes for a v2 bundle: prerequisites with their comment,
 * then refs, then HEAD when the caller adds it last.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "git_header.h"
#include "manifest.h"
#include "banned.h"

void ferry_git_header_init(ferry_git_header *h)
{
	memset(h, 0, sizeof(*h));
	h->version = 2;
}

void ferry_git_header_dispose(ferry_git_header *h)
{
	size_t i;

	for (i = 0; i < h->nprereqs; i++) {
		free(h->prereqs[i].oid);
		free(h->prereqs[i].comment);
	}
	for (i = 0; i < h->nrefs; i++) {
		free(h->refs[i].oid);
		free(h->refs[i].name);
	}
	free(h->prereqs);
	free(h->refs);
	ferry_git_header_init(h);
}

/* Nonzero when the first `len` bytes of `s` are an object id. */
static int oid_valid(const char *s, size_t len)
{
	char hex[65];

	if (len != 40 && len != 64)
		return 0;
	memcpy(hex, s, len);
	hex[len] = '\0';
	return ferry_git_oid_valid(hex);
}

/*
 * Room for element `n` of the array *arr of `n` elements of `size` bytes. The
 * capacity is implied by the count (the next power of two, at least 16),
 * so a header of many refs costs amortised constant time per ref.
 */
static int grow(void **arr, size_t n, size_t size)
{
	void *grown;

	if (n != 0 && (n < 16 || (n & (n - 1))))
		return 0;
	if (n > SIZE_MAX / 2 / size)
		return ferry_error_set(FERRY_ETOOBIG, "git bundle header is too large");
	if (!(grown = realloc(*arr, (n < 16 ? 16 : n * 2) * size)))
		return ferry_error_oom();
	*arr = grown;
	return 0;
}

static int add_prereq(ferry_git_header *h, const char *oid, size_t oidlen,
		      const char *comment, size_t commentlen)
{
	ferry_git_header_prereq *p;
	void *arr = h->prereqs;
	size_t i;
	int error;

	if ((error = grow(&arr, h->nprereqs, sizeof(*p))) < 0)
		return error;
	h->prereqs = arr;
	p = &h->prereqs[h->nprereqs];
	p->oid = strndup(oid, oidlen);
	p->comment = comment ? strndup(comment, commentlen) : NULL;
	if (!p->oid || (comment && !p->comment)) {
		free(p->oid);
		free(p->comment);
		return ferry_error_oom();
	}
	for (i = 0; p->comment && p->comment[i]; i++)
		if (p->comment[i] == '\n' || p->comment[i] == '\r')
			p->comment[i] = ' ';
	h->nprereqs++;
	return 0;
}

static int add_ref(ferry_git_header *h, const char *oid, size_t oidlen,
		   const char *name, size_t namelen)
{
	ferry_git_header_ref *r;
	void *arr = h->refs;
	int error;

	if ((error = grow(&arr, h->nrefs, sizeof(*r))) < 0)
		return error;
	h->refs = arr;
	r = &h->refs[h->nrefs];
	r->oid = strndup(oid, oidlen);
	r->name = strndup(name, namelen);
	if (!r->oid || !r->name) {
		free(r->oid);
		free(r->name);
		return ferry_error_oom();
	}
	h->nrefs++;
	return 0;
}

int ferry_git_header_add_prereq(ferry_git_header *h, const char *oid,
				const char *comment)
{
	if (!oid_valid(oid, strlen(oid)))
		return ferry_error_set(FERRY_EINVALID, "git bundle prerequisite '%.80s' "
				       "is not an object id", oid);
	return add_prereq(h, oid, strlen(oid), comment, comment ? strlen(comment) : 0);
}

int ferry_git_header_add_ref(ferry_git_header *h, const char *oid, const char *name)
{
	const char *p;

	if (!oid_valid(oid, strlen(oid)))
		return ferry_error_set(FERRY_EINVALID, "git bundle ref '%.200s' points at "
				       "'%.80s', not an object id", name, oid);
	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			break;
	if (!*name || *p)
		return ferry_error_set(FERRY_EINVALID, "git bundle ref name '%.200s' is "
				       "empty or holds a control character", name);
	return add_ref(h, oid, strlen(oid), name, strlen(name));
}

int ferry_git_header_write(ferry_buf *out, const ferry_git_header *h)
{
	size_t start = out->size, i;
	int error;

	error = ferry_buf_puts(out, FERRY_GIT_HEADER_V2 "\n");
	for (i = 0; i < h->nprereqs && !error; i++) {
		const ferry_git_header_prereq *p = &h->prereqs[i];

		if (p->comment && *p->comment)
			error = ferry_buf_printf(out, "-%s %s\n", p->oid, p->comment);
		else
			error = ferry_buf_printf(out, "-%s\n", p->oid);
	}
	for (i = 0; i < h->nrefs && !error; i++)
		error = ferry_buf_printf(out, "%s %s\n", h->refs[i].oid, h->refs[i].name);
	if (!error)
		error = ferry_buf_puts(out, "\n");
	if (!error && out->size - start > FERRY_GIT_HEADER_MAX)
		error = ferry_error_set(FERRY_ETOOBIG, "git bundle header is over %u bytes",
					FERRY_GIT_HEADER_MAX);
	if (error < 0) {
		out->size = start;
		if (out->ptr)
			out->ptr[start] = '\0';
	}
	return error;
}

/* ---- parsing ---------------------------------------------------------------- */

typedef struct {
	ferry_git_header *h;
	uint64_t at;     /* bytes consumed */
	int first;       /* the signature line is next */
	int ended;       /* the blank line was seen */
} parse_state;

/*
 * One line of `len` bytes (its newline counted in `len`, or missing when
 * the input ended without one). `line` is NUL-terminated in place of the
 * newline.
 */
static int parse_line(parse_state *s, char *line, size_t len)
{
	s->at += len;
	if (s->at > FERRY_GIT_HEADER_MAX)
		return ferry_error_set(FERRY_ETOOBIG, "git bundle header is too large");
	if (line[len - 1] != '\n')
		return ferry_error_set(FERRY_EINVALID, "git bundle header is truncated");
	line[--len] = '\0';
	if (strlen(line) != len)
		return ferry_error_set(FERRY_EINVALID, "git bundle header holds a NUL byte");
	if (s->first) {
		s->first = 0;
		if (!strcmp(line, FERRY_GIT_HEADER_V2))
			s->h->version = 2;
		else if (!strcmp(line, FERRY_GIT_HEADER_V3))
			s->h->version = 3;
		else
			return ferry_error_set(FERRY_EINVALID, "not a git bundle (v2 or v3)");
		return 0;
	}
	if (len == 0) {
		s->ended = 1;
	} else if (line[0] == '@') {
		if (strcmp(line, FERRY_GIT_HEADER_SHA1))
			return ferry_error_set(FERRY_EUNSUPPORTED, "git bundle capability "
					       "'%.60s' is not supported", line);
	} else if (line[0] == '-') {
		size_t n = strcspn(line + 1, " ");

		if (!oid_valid(line + 1, n))
			return ferry_error_set(FERRY_EINVALID, "malformed prerequisite line");
		return add_prereq(s->h, line + 1, n, line[1 + n] ? line + 2 + n : NULL,
				  line[1 + n] ? len - 2 - n : 0);
	} else {
		size_t n = strcspn(line, " ");

		if (!oid_valid(line, n) || line[n] != ' ' || !line[n + 1])
			return ferry_error_set(FERRY_EINVALID, "malformed ref line");
		return add_ref(s->h, line, n, line + n + 1, len - n - 1);
	}
	return 0;
}

static int parse_end(parse_state *s, int error)
{
	if (!error && !s->ended)
		error = ferry_error_set(FERRY_EINVALID, "git bundle has no pack");
	if (error)
		ferry_git_header_dispose(s->h);
	else
		s->h->pack_offset = s->at;
	return error;
}

int ferry_git_header_parse(ferry_git_header *out, const void *data, size_t len)
{
	parse_state s = { out, 0, 1, 0 };
	const char *p = data, *end = p + len;
	ferry_buf line = FERRY_BUF_INIT;
	int error = 0;

	ferry_git_header_init(out);
	while (!s.ended && p < end && !error) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		ferry_buf_clear(&line);
		if ((error = ferry_buf_put(&line, p, n)) == 0)
			error = parse_line(&s, line.ptr, n);
		p += n;
	}
	ferry_buf_dispose(&line);
	return parse_end(&s, error);
}

int ferry_git_header_read(ferry_git_header *out, FILE *f)
{
	parse_state s = { out, 0, 1, 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int error = 0;

	ferry_git_header_init(out);
	while (!s.ended && !error && (len = getline(&line, &cap, f)) > 0)
		error = parse_line(&s, line, (size_t)len);
	if (!error && ferror(f))
		error = ferry_error_set_errno(FERRY_EIO, "cannot read git bundle header");
	free(line);
	return parse_end(&s, error);
}
