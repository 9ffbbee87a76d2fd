/*
 * The streaming size check of a git pack (see git_pack.h). The pack format
 * (git's Documentation/gitformat-pack.txt): a 12-byte header ("PACK",
 * version 2 or 3, object count), then per object a type and inflated size
 * (4 bits, then 7 bits per byte), for an offset delta the distance back to
 * its base, for a reference delta the base's id, then the zlib stream. The
 * scanner runs each zlib stream through a fixed scratch buffer to find
 * where the entry ends, keeping only the first bytes of a delta (its base
 * and result sizes), so what it holds does not depend on the pack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "ferry/errors.h"
#include "git_pack.h"
#include "banned.h"

enum { ST_HEADER, ST_ENTRY, ST_OFS, ST_REF, ST_DATA, ST_TRAILER };

enum { OBJ_COMMIT = 1, OBJ_TREE = 2, OBJ_BLOB = 3, OBJ_TAG = 4, OBJ_OFS_DELTA = 6,
       OBJ_REF_DELTA = 7 };

#define DELTA_HEAD_MAX 20   /* two varints of up to 10 bytes */

struct ferry_git_pack_scan {
	uint64_t max_object, max_total;
	int state, error, z_live, first;
	unsigned char hdr[20];
	size_t nhdr;
	uint32_t count, index;
	uint64_t offset;          /* pack bytes consumed */
	uint64_t entry_offset;    /* where the current entry starts */
	int type;
	uint64_t size;            /* the entry header's inflated size */
	unsigned shift;
	uint64_t base_offset;     /* offset delta: distance back to the base */
	uint64_t out;             /* inflated so far of the current entry */
	unsigned char delta_head[DELTA_HEAD_MAX];
	size_t ndelta;
	int delta_known;
	uint64_t total;           /* inflated size of the objects so far */
	z_stream z;
	unsigned char scratch[65536];
};

int ferry_git_pack_scan_new(ferry_git_pack_scan **out, const ferry_git_pack_limits *limits)
{
	ferry_git_pack_scan *s;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return ferry_error_oom();
	s->max_object = limits && limits->max_object ? limits->max_object
						     : FERRY_GIT_PACK_OBJECT_MAX;
	s->max_total = limits && limits->max_total ? limits->max_total
						   : FERRY_GIT_PACK_TOTAL_MAX;
	if (inflateInit(&s->z) != Z_OK) {
		free(s);
		return ferry_error_oom();
	}
	*out = s;
	return 0;
}

void ferry_git_pack_scan_free(ferry_git_pack_scan *s)
{
	if (!s)
		return;
	inflateEnd(&s->z);
	free(s);
}

void ferry_git_pack_scan_totals(const ferry_git_pack_scan *s, uint64_t *objects,
				uint64_t *inflated)
{
	*objects = s->index;
	*inflated = s->total;
}

static const char *type_name(int type)
{
	switch (type) {
	case OBJ_COMMIT: return "commit";
	case OBJ_TREE: return "tree";
	case OBJ_BLOB: return "blob";
	case OBJ_TAG: return "tag";
	default: return "delta";
	}
}

static int fail(ferry_git_pack_scan *s, int error)
{
	s->error = error;
	return error;
}

static int malformed(ferry_git_pack_scan *s, const char *why)
{
	ferry_error_set(FERRY_EINVALID, "pack entry %u at offset %llu: %s", s->index,
			(unsigned long long)s->entry_offset, why);
	return fail(s, FERRY_EINVALID);
}

/* "object N at offset O (a blob)" or "(a delta on ...)" into buf */
static void describe(char *buf, size_t size, const ferry_git_pack_scan *s)
{
	char hex[41];
	size_t i;

	if (s->type == OBJ_OFS_DELTA) {
		snprintf(buf, size, "object %u at offset %llu of the pack (a delta on the "
			 "object at offset %llu)", s->index, (unsigned long long)s->entry_offset,
			 (unsigned long long)(s->entry_offset - s->base_offset));
	} else if (s->type == OBJ_REF_DELTA) {
		for (i = 0; i < 20; i++)
			snprintf(hex + 2 * i, 3, "%02x", s->hdr[i]);
		snprintf(buf, size, "object %u at offset %llu of the pack (a delta on %s)",
			 s->index, (unsigned long long)s->entry_offset, hex);
	} else {
		snprintf(buf, size, "object %u at offset %llu of the pack (a %s)", s->index,
			 (unsigned long long)s->entry_offset, type_name(s->type));
	}
}

/* Account for one object of `size` bytes inflated. */
static int admit(ferry_git_pack_scan *s, uint64_t size)
{
	char what[160];

	if (size > s->max_object) {
		describe(what, sizeof(what), s);
		ferry_error_set(FERRY_ETOOBIG, "%s inflates to %llu bytes, above the limit of "
				"%llu bytes for one object", what, (unsigned long long)size,
				(unsigned long long)s->max_object);
		return fail(s, FERRY_ETOOBIG);
	}
	if (size > s->max_total - s->total) {
		describe(what, sizeof(what), s);
		ferry_error_set(FERRY_ETOOBIG, "the pack's objects inflate to more than the "
				"limit of %llu bytes in all (%llu bytes before %s of %llu bytes)",
				(unsigned long long)s->max_total, (unsigned long long)s->total,
				what, (unsigned long long)size);
		return fail(s, FERRY_ETOOBIG);
	}
	s->total += size;
	return 0;
}

/* A varint of git's delta header at *p; 1 when complete, 0 when more
 * bytes are needed, -1 when too long. */
static int delta_varint(uint64_t *out, const unsigned char **p, const unsigned char *end)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (*p < end) {
		unsigned char c = *(*p)++;

		if (shift > 63)
			return -1;
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
		if (!(c & 0x80)) {
			*out = v;
			return 1;
		}
	}
	return shift / 7 >= DELTA_HEAD_MAX / 2 ? -1 : 0;
}

/* Once the delta's first bytes are in, check the size it builds. */
static int delta_head(ferry_git_pack_scan *s, const unsigned char *data, size_t len)
{
	const unsigned char *p = s->delta_head, *end;
	uint64_t base_size, result_size;
	size_t n = DELTA_HEAD_MAX - s->ndelta;
	int r;

	if (n > len)
		n = len;
	memcpy(s->delta_head + s->ndelta, data, n);
	s->ndelta += n;
	end = s->delta_head + s->ndelta;
	if ((r = delta_varint(&base_size, &p, end)) <= 0 ||
	    (r = delta_varint(&result_size, &p, end)) <= 0) {
		if (r < 0 || s->ndelta == DELTA_HEAD_MAX)
			return malformed(s, "malformed delta header");
		return 0;
	}
	s->delta_known = 1;
	if (base_size > s->max_object) {
		char what[160];

		describe(what, sizeof(what), s);
		ferry_error_set(FERRY_ETOOBIG, "%s applies to a base of %llu bytes, above the "
				"limit of %llu bytes for one object", what,
				(unsigned long long)base_size, (unsigned long long)s->max_object);
		return fail(s, FERRY_ETOOBIG);
	}
	return admit(s, result_size);
}

/* The end of an entry's header: where its data starts. */
static int start_data(ferry_git_pack_scan *s)
{
	if (inflateReset(&s->z) != Z_OK)
		return malformed(s, "cannot reset zlib");
	s->z_live = 1;
	s->out = 0;
	s->ndelta = 0;
	s->delta_known = 0;
	s->state = ST_DATA;
	return 0;
}

/* A delta's own data (inflated into memory to be applied) is at most what
 * it builds plus its instructions: one byte per 127 literal bytes, and the
 * two sizes. */
static int delta_size(ferry_git_pack_scan *s)
{
	if (s->max_object > (UINT64_MAX >> 1) ||
	    s->size <= s->max_object + (s->max_object >> 6) + 64)
		return 0;
	ferry_error_set(FERRY_ETOOBIG, "object %u at offset %llu of the pack (a delta) has "
			"%llu bytes of delta data, above the limit of %llu bytes for one object",
			s->index, (unsigned long long)s->entry_offset, (unsigned long long)s->size,
			(unsigned long long)s->max_object);
	return fail(s, FERRY_ETOOBIG);
}

static int entry_byte(ferry_git_pack_scan *s, unsigned char c)
{
	int error;

	if (s->first) {
		s->first = 0;
		s->type = (c >> 4) & 7;
		s->size = c & 15;
		s->shift = 4;
	} else {
		if (s->shift > 60)
			return malformed(s, "entry size too long");
		s->size |= (uint64_t)(c & 0x7f) << s->shift;
		s->shift += 7;
	}
	if (c & 0x80)
		return 0;
	switch (s->type) {
	case OBJ_COMMIT: case OBJ_TREE: case OBJ_BLOB: case OBJ_TAG:
		if (admit(s, s->size) < 0)
			return s->error;
		return start_data(s);
	case OBJ_OFS_DELTA:
		if ((error = delta_size(s)) < 0)
			return error;
		s->base_offset = 0;
		s->first = 1;
		s->state = ST_OFS;
		return 0;
	case OBJ_REF_DELTA:
		if ((error = delta_size(s)) < 0)
			return error;
		s->nhdr = 0;
		s->state = ST_REF;
		return 0;
	default:
		return malformed(s, "bad object type");
	}
}

static int ofs_byte(ferry_git_pack_scan *s, unsigned char c)
{
	if (!s->first) {
		if (s->base_offset >= (UINT64_MAX >> 8))
			return malformed(s, "delta base offset too long");
		s->base_offset = ((s->base_offset + 1) << 7);
	}
	s->first = 0;
	s->base_offset |= c & 0x7f;
	if (c & 0x80)
		return 0;
	if (s->base_offset == 0 || s->base_offset > s->entry_offset)
		return malformed(s, "delta base offset out of the pack");
	return start_data(s);
}

/* Inflate what `data` holds of the current entry; *used is how much of it
 * the entry took. */
static int data_bytes(ferry_git_pack_scan *s, const unsigned char *data, size_t len,
		      size_t *used)
{
	int delta = s->type == OBJ_OFS_DELTA || s->type == OBJ_REF_DELTA, r;

	s->z.next_in = (unsigned char *)data;
	s->z.avail_in = (uInt)(len > (1u << 30) ? (1u << 30) : len);
	for (;;) {
		size_t produced;

		s->z.next_out = s->scratch;
		s->z.avail_out = sizeof(s->scratch);
		r = inflate(&s->z, Z_NO_FLUSH);
		produced = sizeof(s->scratch) - s->z.avail_out;
		if (delta && !s->delta_known && produced &&
		    delta_head(s, s->scratch, produced) < 0)
			return s->error;
		s->out += produced;
		if (s->out > s->size)
			return malformed(s, "inflates to more than its header states");
		if (r == Z_STREAM_END)
			break;
		if ((r == Z_OK || r == Z_BUF_ERROR) && s->z.avail_in == 0 && s->z.avail_out) {
			*used = (size_t)(s->z.next_in - data);
			return 0;
		}
		if (r != Z_OK)
			return malformed(s, "bad zlib data");
	}
	*used = (size_t)(s->z.next_in - data);
	if (s->out != s->size)
		return malformed(s, "inflates to less than its header states");
	if (delta && !s->delta_known)
		return malformed(s, "malformed delta header");
	s->z_live = 0;
	s->first = 1;
	s->state = ++s->index < s->count ? ST_ENTRY : ST_TRAILER;
	return 0;
}

int ferry_git_pack_scan_feed(ferry_git_pack_scan *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t used;
	int error = 0;

	if (s->error)
		return s->error;
	while (len > 0 && !error) {
		used = 1;
		switch (s->state) {
		case ST_HEADER:
			s->hdr[s->nhdr++] = *p;
			if (s->nhdr < 12)
				break;
			if (memcmp(s->hdr, "PACK", 4) || s->hdr[4] || s->hdr[5] || s->hdr[6] ||
			    (s->hdr[7] != 2 && s->hdr[7] != 3)) {
				ferry_error_set(FERRY_EINVALID, "not a version 2 or 3 pack");
				error = fail(s, FERRY_EINVALID);
				break;
			}
			s->count = ((uint32_t)s->hdr[8] << 24) | ((uint32_t)s->hdr[9] << 16) |
				   ((uint32_t)s->hdr[10] << 8) | s->hdr[11];
			if (s->count > FERRY_GIT_PACK_COUNT_MAX) {
				ferry_error_set(FERRY_ETOOBIG, "the pack claims %u objects, above "
						"the limit of %llu", s->count,
						(unsigned long long)FERRY_GIT_PACK_COUNT_MAX);
				error = fail(s, FERRY_ETOOBIG);
				break;
			}
			s->first = 1;
			s->state = s->count ? ST_ENTRY : ST_TRAILER;
			break;
		case ST_ENTRY:
			if (s->first)
				s->entry_offset = s->offset;
			error = entry_byte(s, *p);
			break;
		case ST_OFS:
			error = ofs_byte(s, *p);
			break;
		case ST_REF:
			s->hdr[s->nhdr++] = *p;
			if (s->nhdr == 20)
				error = start_data(s);
			break;
		case ST_DATA:
			error = data_bytes(s, p, len, &used);
			break;
		default:   /* the trailer, and anything after it, is libgit2's */
			used = len;
			break;
		}
		p += used;
		len -= used;
		s->offset += used;
	}
	return error;
}

int ferry_git_pack_scan_finish(ferry_git_pack_scan *s)
{
	if (s->error)
		return s->error;
	if (s->state != ST_TRAILER) {
		ferry_error_set(FERRY_EINVALID, "the pack ends inside object %u of %u",
				s->index, s->count);
		return fail(s, FERRY_EINVALID);
	}
	return 0;
}
