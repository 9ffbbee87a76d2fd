/*
 * A property test of gc: random stores (image manifests over a shared pool
 * of configs and layers, indexes over them, tags that move, unreferenced
 * blobs, and now and then an index chain deeper than the walk's limit),
 * with random damage (a blob deleted, truncated or with a byte flipped).
 * A model of the graph says what each tag reaches. After gc:
 *   - gc failed, deleting nothing, exactly when a document some tag
 *     reaches is damaged or nested too deep;
 *   - otherwise the dry run listed, and the run deleted, exactly the blobs
 *     no tag reaches, the blobs table agrees with the files, and every tag
 *     still resolves to held content of the right sizes.
 * FERRY_GC_CASES sets the number of cases (default 250, for CI; the
 * property was checked with 2000); each case's seed
 * is its number, printed when it fails.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "closure.h"
#include "fs.h"
#include "hash.h"
#include "store.h"
#include "testlib.h"

#define MAX_NODES 64
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"

typedef struct {
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t size;
	int doc;                    /* 1 manifest or index */
	const char *mt;
	int kids[8];
	size_t nkids;
	int damaged;
} node;

typedef struct {
	node n[MAX_NODES];
	size_t nn;
	int live[MAX_NODES];
	uint64_t rng;
} model;

static unsigned rnd(model *m, unsigned below)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return (unsigned)(m->rng % below);
}

static int put(model *m, ferry_store *st, const char *body, int doc, const char *mt)
{
	node *x = &m->n[m->nn];
	ferry_buf path = FERRY_BUF_INIT;
	ferry_store_blob rec;

	assert_true(m->nn < MAX_NODES);
	memset(x, 0, sizeof(*x));
	assert_int_equal(ferry_sha256_hex(x->hex, body, strlen(body)), 0);
	x->size = strlen(body);
	x->doc = doc;
	x->mt = mt;
	assert_int_equal(ferry_store_blob_path(&path, st, x->hex), 0);
	if (!ferry_fs_exists(path.ptr)) {   /* not durable: this store is a scratch one */
		FILE *f = fopen(path.ptr, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(body, 1, x->size, f), x->size);
		assert_int_equal(fclose(f), 0);
	}
	ferry_buf_dispose(&path);
	rec.hex = x->hex;
	rec.size = x->size;
	rec.channel = "c";
	rec.sequence = 1;
	assert_int_equal(ferry_store_blob_add(st, &rec), 0);
	return (int)m->nn++;
}

static void desc(ferry_buf *b, const node *x, const char *mt)
{
	assert_int_equal(ferry_buf_printf(b, "{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\","
					  "\"size\":%llu}", mt, x->hex,
					  (unsigned long long)x->size), 0);
}

static int manifest(model *m, ferry_store *st, int config, const int *layers, size_t nl,
		    unsigned salt)
{
	ferry_buf b = FERRY_BUF_INIT;
	size_t i;
	int id;

	assert_int_equal(ferry_buf_printf(&b, "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\","
					  "\"annotations\":{\"salt\":\"%u\"},\"config\":", salt), 0);
	desc(&b, &m->n[config], "application/vnd.oci.image.config.v1+json");
	assert_int_equal(ferry_buf_puts(&b, ",\"layers\":["), 0);
	for (i = 0; i < nl; i++) {
		if (i)
			assert_int_equal(ferry_buf_puts(&b, ","), 0);
		desc(&b, &m->n[layers[i]], "application/vnd.oci.image.layer.v1.tar");
	}
	assert_int_equal(ferry_buf_puts(&b, "]}"), 0);
	id = put(m, st, b.ptr, 1, MT_MANIFEST);
	m->n[id].kids[m->n[id].nkids++] = config;
	for (i = 0; i < nl; i++)
		m->n[id].kids[m->n[id].nkids++] = layers[i];
	ferry_buf_dispose(&b);
	return id;
}

static int index_of(model *m, ferry_store *st, const int *docs, size_t nd, unsigned salt)
{
	ferry_buf b = FERRY_BUF_INIT;
	size_t i;
	int id;

	assert_int_equal(ferry_buf_printf(&b, "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\","
					  "\"annotations\":{\"salt\":\"%u\"},\"manifests\":[", salt), 0);
	for (i = 0; i < nd; i++) {
		if (i)
			assert_int_equal(ferry_buf_puts(&b, ","), 0);
		desc(&b, &m->n[docs[i]], m->n[docs[i]].mt);
	}
	assert_int_equal(ferry_buf_puts(&b, "]}"), 0);
	id = put(m, st, b.ptr, 1, MT_INDEX);
	for (i = 0; i < nd; i++)
		m->n[id].kids[m->n[id].nkids++] = docs[i];
	ferry_buf_dispose(&b);
	return id;
}

/* Mark what node `i` reaches; returns its nesting below it (documents). */
static int mark(model *m, int i)
{
	size_t k;
	int deepest = 0, d;

	m->live[i] = 1;
	for (k = 0; k < m->n[i].nkids; k++)
		if (m->n[m->n[i].kids[k]].doc && (d = 1 + mark(m, m->n[i].kids[k])) > deepest)
			deepest = d;
		else
			m->live[m->n[i].kids[k]] = 1;
	return deepest;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The blob files, sorted. */
static void listing(ferry_strv *out, const char *root)
{
	ferry_buf dir = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d;

	assert_int_equal(ferry_store_path(&dir, root, "blobs/sha256"), 0);
	assert_non_null(d = opendir(dir.ptr));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			assert_int_equal(ferry_strv_push(out, e->d_name), 0);
	closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	ferry_buf_dispose(&dir);
}

static int same(const ferry_strv *a, const ferry_strv *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]))
			return 0;
	return 1;
}

static void damage(model *m, ferry_store *st, int i, unsigned how)
{
	ferry_buf path = FERRY_BUF_INIT;
	FILE *f;

	m->n[i].damaged = 1;
	assert_int_equal(ferry_store_blob_path(&path, st, m->n[i].hex), 0);
	if (how == 0) {
		unlink(path.ptr);
	} else if (how == 1) {
		assert_int_equal(truncate(path.ptr, (off_t)(m->n[i].size / 2)), 0);
	} else {
		int c;

		assert_non_null(f = fopen(path.ptr, "r+b"));
		fseek(f, (long)(m->n[i].size / 2), SEEK_SET);
		c = fgetc(f);
		fseek(f, (long)(m->n[i].size / 2), SEEK_SET);
		fputc(c ^ 0x20, f);
		fclose(f);
	}
	ferry_buf_dispose(&path);
}

static void run_case(const char *dir, unsigned seed)
{
	model *m = calloc(1, sizeof(*m));
	ferry_store *st = NULL;
	ferry_store_gc_result dry, run;
	ferry_strv before = FERRY_STRV_INIT, after = FERRY_STRV_INIT, want = FERRY_STRV_INIT;
	char root[4200], ref[64], digest[80];
	int leaves[12], docs[MAX_NODES], tags[8], ndocs = 0, nleaves, ntags, i, k;
	int expect_fail = 0, error, deep = 0;
	size_t j;

	m->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0x2545f4914f6cdd1dull);
	snprintf(root, sizeof(root), "%s/s%u", dir, seed);
	assert_int_equal(ferry_store_open(&st, root, FERRY_STORE_CREATE, 0), 0);
	assert_int_equal(ferry_store_begin(st, 1), 0);
	assert_int_equal(ferry_store_trust_root_add(st, 1, "{}", 2), 0);

	/* leaves shared by the images, some of them garbage */
	nleaves = 2 + (int)rnd(m, 10);
	for (i = 0; i < nleaves; i++) {
		char body[64];

		snprintf(body, sizeof(body), "blob %u.%d %u", seed, i, rnd(m, 1000));
		leaves[i] = put(m, st, body, 0, NULL);
	}
	for (i = 0, k = 1 + (int)rnd(m, 6); i < k; i++) {
		int layers[3];
		size_t nl = rnd(m, 4), l;

		for (l = 0; l < nl; l++)
			layers[l] = leaves[rnd(m, (unsigned)nleaves)];
		docs[ndocs++] = manifest(m, st, leaves[rnd(m, (unsigned)nleaves)], layers, nl,
					 rnd(m, 1u << 30));
	}
	for (i = 0, k = (int)rnd(m, 5); i < k; i++) {
		int pick[3];
		size_t np = 1 + rnd(m, 3), p;

		for (p = 0; p < np; p++)
			pick[p] = docs[rnd(m, (unsigned)ndocs)];
		docs[ndocs] = index_of(m, st, pick, np, rnd(m, 1u << 30));
		ndocs++;
	}
	/* now and then an index chain: 9 or more levels is over the limit */
	if (rnd(m, 10) == 0) {
		int d = docs[rnd(m, (unsigned)ndocs)], len = 4 + (int)rnd(m, 8);

		for (i = 0; i < len && ndocs < MAX_NODES - 8; i++) {
			d = index_of(m, st, &d, 1, rnd(m, 1u << 30));
			docs[ndocs++] = d;
		}
		deep = d;
	}
	/* tags, some moved (only the last binding counts) */
	ntags = 1 + (int)rnd(m, 4);
	for (i = 0; i < ntags; i++) {
		int moves = 1 + (int)rnd(m, 3), t = 0;

		snprintf(ref, sizeof(ref), "library/app%d:v1", i);
		while (moves--) {
			t = deep && i == 0 ? deep : docs[rnd(m, (unsigned)ndocs)];
			snprintf(digest, sizeof(digest), "sha256:%s", m->n[t].hex);
			assert_int_equal(ferry_store_tag_set(st, ref, digest, m->n[t].mt,
							     m->n[t].size, "c", 1), 0);
		}
		tags[i] = t;
	}
	assert_int_equal(ferry_store_commit(st), 0);
	for (i = 0; i < ntags; i++)
		if (mark(m, tags[i]) > 8)
			expect_fail = 1;
	/* damage */
	if (rnd(m, 3) == 0) {
		i = (int)rnd(m, (unsigned)m->nn);
		damage(m, st, i, rnd(m, 3));
		if (m->live[i] && m->n[i].doc)
			expect_fail = 1;
	}
	listing(&before, root);
	for (j = 0; j < before.n; j++) {
		for (i = 0; i < (int)m->nn; i++)
			if (!strcmp(m->n[i].hex, before.v[j]))
				break;
		if (i == (int)m->nn || !m->live[i])
			assert_int_equal(ferry_strv_push(&want, before.v[j]), 0);
	}

	error = ferry_store_gc(&dry, st, 1);
	if (expect_fail) {
		if (error == 0)
			fail_msg("case %u: gc did not stop: %s", seed, ferry_error_last());
		assert_int_equal(ferry_store_gc(&run, st, 0) < 0, 1);
		listing(&after, root);
		if (!same(&before, &after))
			fail_msg("case %u: a failed gc deleted blobs", seed);
	} else {
		if (error < 0)
			fail_msg("case %u: gc failed: %s", seed, ferry_error_last());
		if (!same(&dry.removed, &want))
			fail_msg("case %u: the dry run lists %zu blobs, the model %zu", seed,
				 dry.removed.n, want.n);
		assert_int_equal(ferry_store_gc(&run, st, 0), 0);
		if (!same(&run.removed, &want))
			fail_msg("case %u: gc deleted other blobs than its dry run listed", seed);
		listing(&after, root);
		for (j = 0; j < after.n; j++)
			for (k = 0; k < (int)want.n; k++)
				if (!strcmp(after.v[j], want.v[k]))
					fail_msg("case %u: %s survived gc", seed, want.v[k]);
		if (after.n + want.n != before.n)
			fail_msg("case %u: gc deleted live blobs", seed);
		/* every tag resolves to held content, unless damage hit a leaf */
		for (i = 0; i < ntags; i++) {
			ferry_store_closure cl = FERRY_STORE_CLOSURE_INIT;
			ferry_store_closure_options o = FERRY_STORE_CLOSURE_OPTIONS_INIT;
			int damaged_leaf = 0;

			for (k = 0; k < (int)m->nn; k++)
				damaged_leaf |= m->n[k].damaged && m->live[k];
			if (damaged_leaf)
				break;
			snprintf(digest, sizeof(digest), "sha256:%s", m->n[tags[i]].hex);
			o.flags = FERRY_STORE_CLOSURE_HELD;
			o.what = "tag";
			if (ferry_store_closure_add(&cl, st, &o, digest, m->n[tags[i]].mt) < 0)
				fail_msg("case %u: a tag no longer resolves after gc: %s", seed,
					 ferry_error_last());
			ferry_store_closure_dispose(&cl);
		}
		ferry_store_gc_result_dispose(&dry);
		ferry_store_gc_result_dispose(&run);
	}
	ferry_strv_dispose(&before);
	ferry_strv_dispose(&after);
	ferry_strv_dispose(&want);
	ferry_store_close(st);
	ferry_fs_remove_tree(root);
	free(m);
}

static void test_store_gc__never_deletes_what_a_tag_reaches(void **state)
{
	const char *env = getenv("FERRY_GC_CASES");
	unsigned cases = env ? (unsigned)strtoul(env, NULL, 10) : 250, i;
	char *dir = test_mkdtemp();

	(void)state;
	for (i = 1; i <= cases; i++)
		run_case(dir, i);
	test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_gc__never_deletes_what_a_tag_reaches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
