/*
 * Unit-test support (see testlib.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "envelope.h"
#include "hash.h"
#include "testlib.h"

char *test_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *dir = malloc(4096);

	assert_non_null(dir);
	snprintf(dir, 4096, "%s/ferry-unit.XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	return dir;
}

void test_rmdir(char *dir)
{
	char cmd[4200];

	if (!dir)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

const char *test_path(const char *dir, const char *name)
{
	static char bufs[4][4096];
	static int next;
	char *b = bufs[next++ & 3];

	snprintf(b, 4096, "%s/%s", dir, name);
	return b;
}

const char *test_write_bundle(ferry_manifest *m, const ferry_member_source *src,
			      const char *dir, const char *name, ferry_key *key)
{
	static char bufs[4][4096];
	static int next;
	char *out = bufs[next++ & 3];
	ferry_write_options wo = FERRY_WRITE_OPTIONS_INIT;
	ferry_write_result res;

	wo.out_dir = dir;
	wo.basename = name;
	wo.keys = &key;
	wo.nkeys = 1;
	assert_int_equal(ferry_bundle_write(&res, m, src, &wo), 0);
	snprintf(out, 4096, "%s", res.paths[0]);
	ferry_write_result_dispose(&res);
	ferry_manifest_free(m);
	return out;
}

void test_keypair(const char *dir, const char *name, ferry_key **key,
		  ferry_pubkey **pub)
{
	char prefix[4096], path[4200];

	snprintf(prefix, sizeof(prefix), "%s/%s", dir, name);
	assert_int_equal(ferry_key_generate(prefix, 0), 0);
	snprintf(path, sizeof(path), "%s.key", prefix);
	if (key)
		assert_int_equal(ferry_key_load(key, path), 0);
	snprintf(path, sizeof(path), "%s.pub", prefix);
	if (pub)
		assert_int_equal(ferry_pubkey_load(pub, path), 0);
}

void forge_tar(const char *path, const forge_entry *entries, size_t n)
{
	struct archive *a = archive_write_new();
	size_t i;

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		unsigned type = entries[i].type ? entries[i].type : AE_IFREG;

		archive_entry_set_pathname(e, entries[i].name);
		archive_entry_set_filetype(e, type);
		archive_entry_set_perm(e, entries[i].mode ? entries[i].mode : 0644);
		archive_entry_set_uid(e, entries[i].uid);
		if (entries[i].uname)
			archive_entry_set_uname(e, entries[i].uname);
		if (entries[i].link)
			archive_entry_set_symlink(e, entries[i].link);
		if (entries[i].hardlink)
			archive_entry_set_hardlink(e, entries[i].hardlink);
		if (type == AE_IFCHR)
			archive_entry_set_rdev(e, 0x0101);
		archive_entry_set_size(e, type == AE_IFREG && !entries[i].hardlink
						  ? (la_int64_t)entries[i].len : 0);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (type == AE_IFREG && entries[i].len && !entries[i].hardlink)
			assert_int_equal(archive_write_data(a, entries[i].data,
							    entries[i].len),
					 (la_ssize_t)entries[i].len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

void forge_envelope(ferry_buf *out, const ferry_manifest *m,
		    ferry_key *const *keys, size_t nkeys)
{
	ferry_buf payload = FERRY_BUF_INIT;

	assert_int_equal(ferry_manifest_to_json(&payload, m), 0);
	assert_int_equal(ferry_envelope_sign(out, payload.ptr, payload.size, keys,
					     nkeys), 0);
	ferry_buf_dispose(&payload);
}

ferry_manifest *forge_manifest(const char *a, const char *b)
{
	ferry_manifest *m = NULL;
	char hex[65];

	assert_int_equal(ferry_manifest_new(&m, "test"), 0);
	/* Format 1, everything in the envelope: the tests that forge tar files
	 * entry by entry write no contents entry (tests/unit/bundle/contents.c
	 * covers format 2's). */
	m->version = FERRY_BUNDLE_FORMAT_V1;
	m->sequence = 1;
	m->created = (int64_t)time(NULL) - 60;
	m->expires = m->created + 86400;
	assert_int_equal(ferry_sha256_hex(hex, a, strlen(a)), 0);
	assert_int_equal(ferry_manifest_add_member(m, "oci-layout", strlen(a), hex), 0);
	assert_int_equal(ferry_sha256_hex(hex, b, strlen(b)), 0);
	assert_int_equal(ferry_manifest_add_member(m, "index.json", strlen(b), hex), 0);
	assert_int_equal(ferry_manifest_single_volume(m), 0);
	return m;
}

int read_with_key(const char *path, const ferry_pubkey *pub)
{
	return read_with_sink(path, pub, NULL);
}

int read_with_sink(const char *path, const ferry_pubkey *pub,
		   const ferry_bundle_sink *sink)
{
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	const ferry_pubkey *keys[1] = { pub };
	ferry_trust trust = { keys, 1, 1 };
	ferry_read_result res;
	int error;

	ro.trust = &trust;
	ro.sink = sink;
	ferry_error_clear();
	error = ferry_bundle_read(&res, path, &ro);
	ferry_read_result_dispose(&res);
	return error;
}

static int asm_begin(void *p, const ferry_manifest *m, size_t volume,
		     const ferry_part *part)
{
	test_assembler *a = p;

	(void)volume;
	assert_true(part->member < TEST_ASSEMBLER_MAX);
	a->member = part->member;
	a->base = a->at = part->offset;
	if (!a->out[part->member] &&
	    !(a->out[part->member] = calloc(1, m->members[part->member].size + 1)))
		return FERRY_ENOMEM;
	a->parts++;
	a->pieces += !part->whole;
	return 0;
}

static int asm_data(void *p, const void *buf, size_t len)
{
	test_assembler *a = p;

	a->data_calls++;
	memcpy(a->out[a->member] + a->at, buf, len);
	a->at += len;
	return 0;
}

static void asm_data_async(void *p, const void *buf, size_t len, uint64_t at)
{
	test_assembler *a = p;

	a->async_calls++;
	if (pthread_equal(pthread_self(), a->caller))
		a->on_caller++;
	if (a->base + at != a->at || at % 4096)
		a->out_of_order++;
	memcpy(a->out[a->member] + a->base + at, buf, len);
	a->at = a->base + at + len;
}

static int asm_end(void *p, int error)
{
	(void)p;
	return error;
}

ferry_bundle_sink test_assembler_sink(test_assembler *a, int async)
{
	ferry_bundle_sink sink = { asm_begin, asm_data, asm_end, NULL, NULL };

	memset(a, 0, sizeof(*a));
	a->caller = pthread_self();
	sink.payload = a;
	if (async)
		sink.data_async = asm_data_async;
	return sink;
}

void test_assembler_dispose(test_assembler *a)
{
	size_t i;

	for (i = 0; i < TEST_ASSEMBLER_MAX; i++)
		free(a->out[i]);
	memset(a->out, 0, sizeof(a->out));
}
