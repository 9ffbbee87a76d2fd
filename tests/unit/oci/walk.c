/*
 * The manifest and index walk: the order of callbacks, what is opened and
 * what is not, the checks against descriptors, the depth and size limits
 * (which fail, naming the document), and descriptor parsing.
 */
#include "descriptor.h"
#include "digest.h"
#include "json.h"
#include "walk.h"
#include "testlib.h"

#define MAX_BLOBS 64

/* An in-memory layout: blobs by digest, and a log of callbacks. */
typedef struct {
	char hex[MAX_BLOBS][65];
	ferry_buf body[MAX_BLOBS];
	size_t n;
	ferry_buf log;
	size_t loads;
	const char *skip;    /* visit answers 1 for this digest */
	int lie;             /* the loader hands back one byte more */
} store;

static store S;

static void reset(void)
{
	size_t i;

	for (i = 0; i < S.n; i++)
		ferry_buf_dispose(&S.body[i]);
	ferry_buf_dispose(&S.log);
	memset(&S, 0, sizeof(S));
}

/* Store `text`; its descriptor of type `mt` (new reference). */
static json_t *put(const char *mt, const char *text)
{
	char d[FERRY_OCI_DIGEST_SIZE];

	assert_true(S.n < MAX_BLOBS);
	assert_int_equal(ferry_sha256_hex(S.hex[S.n], text, strlen(text)), 0);
	assert_int_equal(ferry_buf_puts(&S.body[S.n], text), 0);
	ferry_oci_digest_format(d, S.hex[S.n]);
	S.n++;
	return json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", d, "size",
			 (json_int_t)strlen(text));
}

/* Store JSON `doc` (taken) as a document of type `mt`. */
static json_t *put_json(const char *mt, json_t *doc)
{
	ferry_buf b = FERRY_BUF_INIT;
	json_t *desc;

	assert_non_null(doc);
	assert_int_equal(ferry_json_dump(&b, doc), 0);
	desc = put(mt, b.ptr);
	ferry_buf_dispose(&b);
	json_decref(doc);
	return desc;
}

/* A manifest over a config and one layer; their descriptors into cfg, lay. */
static json_t *manifest(const char *layer_text, json_t **cfg, json_t **lay)
{
	*cfg = put(FERRY_OCI_MT_CONFIG, "{}");
	*lay = put("application/vnd.oci.image.layer.v1.tar", layer_text);
	return put_json(FERRY_OCI_MT_MANIFEST, json_pack(
		"{s:i,s:s,s:O,s:[O]}", "schemaVersion", 2, "mediaType", FERRY_OCI_MT_MANIFEST,
		"config", *cfg, "layers", *lay));
}

/* An index listing the descriptors of `list` (taken). */
static json_t *index_of(json_t *list)
{
	return put_json(FERRY_OCI_MT_INDEX, json_pack("{s:i,s:s,s:o}", "schemaVersion", 2,
						      "mediaType", FERRY_OCI_MT_INDEX,
						      "manifests", list));
}

/* The first 8 hex digits of a descriptor's digest. */
static const char *h(const json_t *desc)
{
	static char out[8][9];
	static int k;

	k = (k + 1) % 8;
	snprintf(out[k], sizeof(out[k]), "%.8s",
		 json_string_value(json_object_get(desc, "digest")) + 7);
	return out[k];
}

static int load(ferry_buf *body, const ferry_oci_descriptor *desc, void *payload)
{
	size_t i;

	(void)payload;
	S.loads++;
	for (i = 0; i < S.n; i++)
		if (!strcmp(S.hex[i], desc->hex))
			return ferry_buf_put(body, S.body[i].ptr, S.body[i].size + (S.lie ? 1 : 0));
	return ferry_error_set(FERRY_ENOTFOUND, "no blob %s", desc->digest);
}

static const char *const role_names[] = { "root", "manifests", "config", "layer", "subject" };

static int visit(const ferry_oci_descriptor *desc, ferry_oci_role role, int depth, void *payload)
{
	(void)payload;
	assert_int_equal(ferry_buf_printf(&S.log, "visit %s %.8s %d\n", role_names[role], desc->hex,
					  depth), 0);
	return S.skip && !strcmp(S.skip, desc->digest) ? 1 : 0;
}

static int enter(const ferry_oci_document *doc, int depth, void *payload)
{
	(void)payload;
	assert_int_equal(ferry_buf_printf(&S.log, "enter %.8s %d\n", doc->hex, depth), 0);
	return 0;
}

static int leave(const ferry_oci_document *doc, int depth, void *payload)
{
	(void)payload;
	assert_int_equal(ferry_buf_printf(&S.log, "leave %.8s %d\n", doc->hex, depth), 0);
	return 0;
}

static int walk(const json_t *root_json, unsigned flags)
{
	ferry_oci_walk_options o = FERRY_OCI_WALK_OPTIONS_INIT;
	ferry_oci_descriptor root;
	int error;

	o.load = load;
	o.visit = visit;
	o.enter = enter;
	o.leave = leave;
	o.flags = flags;
	o.what = "layout 'test'";
	ferry_buf_clear(&S.log);
	S.loads = 0;
	if ((error = ferry_oci_descriptor_parse(&root, root_json, "layout 'test'")) < 0)
		return error;
	return ferry_oci_walk(&o, &root);
}

static void test_oci_walk__visits_in_order_and_opens_only_documents(void **state)
{
	json_t *m1, *m2, *c1, *l1, *c2, *l2, *odd, *idx;
	ferry_buf want = FERRY_BUF_INIT;

	(void)state;
	reset();
	m1 = manifest("layer one", &c1, &l1);
	m2 = manifest("layer two", &c2, &l2);
	odd = put("application/x-odd", "{\"not\":\"opened\"}");
	idx = index_of(json_pack("[O,O,O]", m1, odd, m2));
	assert_int_equal(walk(idx, 0), 0);
	assert_int_equal(ferry_buf_printf(&want, "visit root %s 0\nenter %s 0\n",
					  h(idx), h(idx)), 0);
	assert_int_equal(ferry_buf_printf(&want, "visit manifests %s 1\nenter %s 1\n",
					  h(m1), h(m1)), 0);
	assert_int_equal(ferry_buf_printf(&want, "visit config %s 2\nvisit layer %s 2\n",
					  h(c1), h(l1)), 0);
	assert_int_equal(ferry_buf_printf(&want, "leave %s 1\n", h(m1)), 0);
	assert_int_equal(ferry_buf_printf(&want, "visit manifests %s 1\n", h(odd)), 0);
	assert_int_equal(ferry_buf_printf(&want, "visit manifests %s 1\nenter %s 1\n",
					  h(m2), h(m2)), 0);
	assert_int_equal(ferry_buf_printf(&want, "visit config %s 2\nvisit layer %s 2\n",
					  h(c2), h(l2)), 0);
	assert_int_equal(ferry_buf_printf(&want, "leave %s 1\nleave %s 0\n",
					  h(m2), h(idx)), 0);
	assert_string_equal(S.log.ptr, want.ptr);
	/* Three documents read; configs, layers and the odd entry never. */
	assert_int_equal(S.loads, 3);

	/* visit answering 1 keeps a document closed, and what is below it. */
	S.skip = json_string_value(json_object_get(m1, "digest"));
	assert_int_equal(walk(idx, 0), 0);
	assert_int_equal(S.loads, 2);
	assert_null(strstr(S.log.ptr, h(l1)));
	ferry_buf_dispose(&want);
	json_decref(m1);
	json_decref(m2);
	json_decref(c1);
	json_decref(c2);
	json_decref(l1);
	json_decref(l2);
	json_decref(odd);
	json_decref(idx);
	reset();
}

static void test_oci_walk__fails_past_the_depth_limit(void **state)
{
	json_t *c, *l, *desc;
	int i;

	(void)state;
	reset();
	/* A manifest under FERRY_OCI_MAX_DEPTH nested indexes is at the
	 * deepest level allowed; one index more and the walk fails. */
	desc = manifest("deep", &c, &l);
	json_decref(c);
	json_decref(l);
	for (i = 0; i < FERRY_OCI_MAX_DEPTH; i++)
		desc = index_of(json_pack("[o]", desc));
	assert_int_equal(walk(desc, 0), 0);
	desc = index_of(json_pack("[o]", desc));
	assert_error(walk(desc, 0), FERRY_ETOOBIG, "nests deeper than 8 levels (the limit)");
	assert_non_null(strstr(ferry_error_last(), "layout 'test': manifest sha256:"));
	json_decref(desc);
	reset();
}

static void test_oci_walk__fails_on_oversized_documents(void **state)
{
	json_t *desc;

	(void)state;
	reset();
	desc = json_pack("{s:s,s:s,s:I}", "mediaType", FERRY_OCI_MT_MANIFEST, "digest",
			 "sha256:0000000000000000000000000000000000000000000000000000000000000000",
			 "size", (json_int_t)FERRY_OCI_MANIFEST_MAX_SIZE + 1);
	assert_error(walk(desc, 0), FERRY_ETOOBIG, "layout 'test': manifest sha256:0000000000"
		     "000000000000000000000000000000000000000000000000000000 is larger than "
		     "4194304 bytes");
	/* Refused before anything is read. */
	assert_int_equal(S.loads, 0);
	json_decref(desc);
	reset();
}

static void test_oci_walk__checks_documents_against_descriptors(void **state)
{
	json_t *c, *l, *m, *bad;

	(void)state;
	reset();
	m = manifest("x", &c, &l);
	/* More bytes than the descriptor says. */
	S.lie = 1;
	assert_error(walk(m, 0), FERRY_ECORRUPT, "its descriptor says");
	S.lie = 0;
	/* A document that declares another type than its descriptor. */
	bad = json_deep_copy(m);
	json_object_set_new(bad, "mediaType", json_string(FERRY_OCI_MT_DOCKER_MANIFEST));
	assert_error(walk(bad, 0), FERRY_EINVALID,
		     "is a '" FERRY_OCI_MT_MANIFEST "', its descriptor says '"
		     FERRY_OCI_MT_DOCKER_MANIFEST "'");
	json_decref(bad);
	/* Not an object. */
	bad = put(FERRY_OCI_MT_MANIFEST, "[]");
	assert_error(walk(bad, 0), FERRY_EINVALID, "is not a JSON object");
	json_decref(bad);
	/* A changed byte: the digest no longer matches. */
	S.body[2].ptr[S.body[2].size - 1] = ' ';
	assert_error(walk(m, 0), FERRY_ECORRUPT, "does not match its digest");
	json_decref(m);
	json_decref(c);
	json_decref(l);
	reset();
}

static void test_oci_walk__refuses_malformed_documents(void **state)
{
	json_t *no_layers, *bad_desc, *c;

	(void)state;
	reset();
	c = put(FERRY_OCI_MT_CONFIG, "{}");
	no_layers = put_json(FERRY_OCI_MT_MANIFEST, json_pack(
		"{s:i,s:s,s:O}", "schemaVersion", 2, "mediaType", FERRY_OCI_MT_MANIFEST, "config", c));
	assert_error(walk(no_layers, 0), FERRY_EINVALID, "missing field 'layers'");
	bad_desc = put_json(FERRY_OCI_MT_INDEX, json_pack(
		"{s:i,s:[{s:s,s:I}]}", "schemaVersion", 2, "manifests", "digest",
		"sha256:abc", "size", (json_int_t)1));
	assert_error(walk(bad_desc, 0), FERRY_EINVALID, "missing field 'mediaType'");
	json_decref(no_layers);
	json_decref(bad_desc);
	json_decref(c);
	reset();
}

static void test_oci_walk__lists_children_and_subjects(void **state)
{
	json_t *doc = json_loads("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\","
				 "\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\","
				 "\"size\":2},\"layers\":[],\"subject\":{\"mediaType\":\""
				 FERRY_OCI_MT_MANIFEST "\",\"digest\":\"sha256:2222222222222222222222"
				 "222222222222222222222222222222222222222222\",\"size\":9,"
				 "\"annotations\":{\"k\":\"v\"},\"artifactType\":\"x/y\"}}", 0, NULL);
	ferry_oci_children it;
	ferry_oci_descriptor d;
	ferry_oci_role role;

	(void)state;
	assert_non_null(doc);
	ferry_oci_children_init(&it, doc, FERRY_OCI_MT_MANIFEST, FERRY_OCI_SUBJECTS, "m");
	assert_int_equal(ferry_oci_children_next(&d, &role, &it), 1);
	assert_int_equal(role, FERRY_OCI_CONFIG);
	assert_string_equal(d.media_type, "a/b");
	assert_int_equal(d.size, 2);
	assert_int_equal(ferry_oci_children_next(&d, &role, &it), 1);
	assert_int_equal(role, FERRY_OCI_SUBJECT);
	assert_string_equal(d.hex, "2222222222222222222222222222222222222222222222222222222222222222");
	assert_string_equal(d.artifact_type, "x/y");
	assert_string_equal(json_string_value(json_object_get(d.annotations, "k")), "v");
	assert_int_equal(ferry_oci_children_next(&d, &role, &it), 0);
	assert_int_equal(ferry_oci_children_next(&d, &role, &it), 0);

	/* Without the flag, no subject; a type ferry does not walk, nothing. */
	ferry_oci_children_init(&it, doc, FERRY_OCI_MT_MANIFEST, 0, "m");
	assert_int_equal(ferry_oci_children_next(&d, &role, &it), 1);
	assert_int_equal(ferry_oci_children_next(&d, &role, &it), 0);
	ferry_oci_children_init(&it, doc, "application/x-odd", FERRY_OCI_SUBJECTS, "m");
	assert_int_equal(ferry_oci_children_next(&d, &role, &it), 0);
	/* An index with a manifest's members is malformed. */
	ferry_oci_children_init(&it, doc, FERRY_OCI_MT_INDEX, 0, "doc 'm'");
	assert_error(ferry_oci_children_next(&d, &role, &it), FERRY_EINVALID,
		     "doc 'm': missing field 'manifests'");
	json_decref(doc);
}

static void test_oci_walk__parses_documents(void **state)
{
	ferry_oci_document d;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(ferry_buf_puts(&d.body, "{\"schemaVersion\":2,\"manifests\":[]}"), 0);
	assert_int_equal(ferry_oci_document_parse(&d, "application/json", "doc"), 0);
	assert_string_equal(d.media_type, FERRY_OCI_MT_INDEX);
	assert_int_equal(ferry_oci_document_parse(&d, FERRY_OCI_MT_DOCKER_LIST, "doc"), 0);
	assert_string_equal(d.media_type, FERRY_OCI_MT_DOCKER_LIST);
	ferry_buf_clear(&d.body);
	assert_int_equal(ferry_buf_puts(&d.body, "{\"schemaVersion\":2}"), 0);
	assert_int_equal(ferry_oci_document_parse(&d, "application/x-odd", "doc"), 0);
	assert_string_equal(d.media_type, "application/x-odd");
	assert_int_equal(ferry_oci_document_parse(&d, NULL, "doc"), 0);
	assert_string_equal(d.media_type, "");
	ferry_buf_clear(&d.body);
	assert_int_equal(ferry_buf_puts(&d.body, "{\"a\":1,\"a\":2}"), 0);
	assert_error(ferry_oci_document_parse(&d, NULL, "doc 'x'"), FERRY_EINVALID,
		     "doc 'x' is not valid JSON");
	ferry_oci_document_dispose(&d);
}

static void test_oci_walk__builds_descriptors(void **state)
{
	json_t *doc = json_loads("{\"config\":{\"mediaType\":\"x/cfg\"},\"annotations\":"
				 "{\"a\":\"b\"}}", 0, NULL);
	json_t *d = ferry_oci_referrer_descriptor(doc, FERRY_OCI_MT_MANIFEST,
		"3333333333333333333333333333333333333333333333333333333333333333", 7);
	json_t *idx = ferry_oci_index_new();
	ferry_oci_descriptor p;

	(void)state;
	assert_non_null(d);
	assert_int_equal(ferry_oci_descriptor_parse(&p, d, "x"), 0);
	assert_string_equal(p.digest, "sha256:3333333333333333333333333333333333333333333333333333333333333333");
	assert_int_equal(p.size, 7);
	assert_string_equal(p.artifact_type, "x/cfg");
	assert_non_null(p.annotations);
	assert_int_equal(json_integer_value(json_object_get(idx, "schemaVersion")), 2);
	assert_string_equal(json_string_value(json_object_get(idx, "mediaType")), FERRY_OCI_MT_INDEX);
	assert_int_equal(json_array_size(json_object_get(idx, "manifests")), 0);
	json_object_set_new(d, "size", json_integer(-1));
	assert_error(ferry_oci_descriptor_parse(&p, d, "index 'i'"), FERRY_EINVALID, "index 'i': ");
	json_object_set_new(d, "size", json_integer(1));
	json_object_set_new(d, "digest", json_string("md5:00"));
	assert_error(ferry_oci_descriptor_parse(&p, d, "index 'i'"), FERRY_EUNSUPPORTED,
		     "index 'i': unsupported digest algorithm");
	json_decref(d);
	json_decref(doc);
	json_decref(idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oci_walk__visits_in_order_and_opens_only_documents),
		cmocka_unit_test(test_oci_walk__fails_past_the_depth_limit),
		cmocka_unit_test(test_oci_walk__fails_on_oversized_documents),
		cmocka_unit_test(test_oci_walk__checks_documents_against_descriptors),
		cmocka_unit_test(test_oci_walk__refuses_malformed_documents),
		cmocka_unit_test(test_oci_walk__lists_children_and_subjects),
		cmocka_unit_test(test_oci_walk__parses_documents),
		cmocka_unit_test(test_oci_walk__builds_descriptors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
