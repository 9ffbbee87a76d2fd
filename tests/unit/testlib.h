/*
 * Shared unit-test support: scratch directories, keys, and a forge that
 * writes arbitrary (including hostile) tar files around a signed manifest.
 */
#ifndef FERRY_TESTLIB_H
#define FERRY_TESTLIB_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ferry/bundle.h"
#include "buf.h"
#include "manifest.h"
#include "reader.h"
#include "writer.h"

/** A fresh directory under $TMPDIR (or /tmp); removed by test_rmdir(). */
char *test_mkdtemp(void);
void test_rmdir(char *dir);
/** "<dir>/<name>" in a static rotating buffer. */
const char *test_path(const char *dir, const char *name);

/** Generate "<dir>/<name>.key/.pub" and load both. */
void test_keypair(const char *dir, const char *name, ferry_key **key,
		  ferry_pubkey **pub);

/** One tar entry to forge. type 0 means a regular file. */
typedef struct {
	const char *name;
	const void *data;
	size_t len;
	unsigned type;       /* AE_IFREG, AE_IFLNK, AE_IFCHR, AE_IFIFO, AE_IFDIR */
	const char *link;    /* symlink target */
	const char *hardlink;/* hard link target */
	unsigned mode;       /* permission bits; 0 means 0644 */
	long uid;            /* owner */
	const char *uname;   /* owner name */
} forge_entry;

/** Write `entries` as a pax tar at `path`. */
void forge_tar(const char *path, const forge_entry *entries, size_t n);

/** Sign `m` (as manifest JSON) with `keys` into an envelope. */
void forge_envelope(ferry_buf *out, const ferry_manifest *m,
		    ferry_key *const *keys, size_t nkeys);

/** Bytes tests give forge_manifest()'s two members. */
#define TEST_LAYOUT_JSON "{\"imageLayoutVersion\":\"1.0.0\"}"
#define TEST_INDEX_JSON "{\"schemaVersion\":2,\"manifests\":[]}"

/** A manifest with members "oci-layout" and "index.json" of the given
 *  bytes, valid from now for a day. */
ferry_manifest *forge_manifest(const char *a, const char *b);

/** Write `m` (freed) with `src` as bundle `name` in `dir`, signed by `key`;
 *  the first volume's path, in a static rotating buffer. */
const char *test_write_bundle(ferry_manifest *m, const ferry_member_source *src,
			      const char *dir, const char *name, ferry_key *key);

/** Read `path` trusting `pub` (threshold 1); returns the error code and
 *  leaves the message in ferry_error_last(). */
int read_with_key(const char *path, const ferry_pubkey *pub);
/** The same, feeding `sink` (NULL: none). */
int read_with_sink(const char *path, const ferry_pubkey *pub,
		   const ferry_bundle_sink *sink);

/**
 * A sink that reassembles members into memory: out[i] holds member i
 * (allocated at its first entry, whole or piece, in any volume order).
 * With `async` it takes large entries on the reader's worker too, and
 * counts calls on the caller's thread and chunks out of order or not at a
 * multiple of 4096 bytes.
 */
#define TEST_ASSEMBLER_MAX 16
typedef struct {
	unsigned char *out[TEST_ASSEMBLER_MAX];
	size_t member;
	uint64_t base;      /* offset of the current entry in its member */
	uint64_t at;        /* offset in the member of the next byte */
	int parts, pieces;
	size_t data_calls, async_calls, on_caller, out_of_order;
	pthread_t caller;
} test_assembler;

/** Clear `a` and return a sink into it. */
ferry_bundle_sink test_assembler_sink(test_assembler *a, int async);
/** Free what `a` assembled. */
void test_assembler_dispose(test_assembler *a);

/** Assert that `code` is `want` and the last error contains `text`. */
#define assert_error(code, want, text)                                        \
	do {                                                                  \
		int code_ = (code);                                           \
		if (code_ != (want) || !strstr(ferry_error_last(), (text)))   \
			fail_msg("got %d '%s', want %d containing '%s'", code_, \
				 ferry_error_last(), (want), (text));         \
	} while (0)

#endif
