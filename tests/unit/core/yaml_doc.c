/*
 * The shared YAML helpers: loading, scalars, key lookup, repeated keys and
 * errors that name the file and the line.
 */
#include <string.h>

#include "testlib.h"
#include "yaml_doc.h"

static void load(yaml_document_t *doc, const char *text)
{
	assert_int_equal(ferry_yaml_load(doc, text, strlen(text), "t.yaml"), 0);
}

static void test_core_yaml_doc__loads_and_reads(void **state)
{
	yaml_document_t doc;
	yaml_node_t *root, *v;

	(void)state;
	load(&doc, "a: one\nb:\n  - x\nc: {d: two}\n");
	root = yaml_document_get_root_node(&doc);
	assert_non_null(root);
	assert_int_equal(ferry_yaml_line(root), 1);
	assert_string_equal(ferry_yaml_scalar(ferry_yaml_map_get(&doc, root, "a")), "one");
	v = ferry_yaml_map_get(&doc, root, "b");
	assert_non_null(v);
	assert_int_equal(v->type, YAML_SEQUENCE_NODE);
	assert_null(ferry_yaml_scalar(v));
	assert_int_equal(ferry_yaml_line(v), 3);
	v = ferry_yaml_map_get(&doc, root, "c");
	assert_string_equal(ferry_yaml_scalar(ferry_yaml_map_get(&doc, v, "d")), "two");
	assert_null(ferry_yaml_map_get(&doc, root, "missing"));
	assert_null(ferry_yaml_map_get(&doc, ferry_yaml_map_get(&doc, root, "a"), "x"));
	assert_null(ferry_yaml_map_get(&doc, NULL, "a"));
	assert_null(ferry_yaml_scalar(NULL));
	assert_int_equal(ferry_yaml_line(NULL), 0);
	yaml_document_delete(&doc);

	/* empty text: a document without a root */
	load(&doc, "# nothing\n");
	assert_null(yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
}

static void test_core_yaml_doc__rejects_malformed(void **state)
{
	yaml_document_t doc;
	const char *text = "a: [1, 2\nb: c\n";

	(void)state;
	assert_int_equal(ferry_yaml_load(&doc, text, strlen(text), "bad.yaml"), FERRY_EINVALID);
	assert_true(strncmp(ferry_error_last(), "bad.yaml:", 9) == 0);
}

static void test_core_yaml_doc__finds_repeated_keys(void **state)
{
	yaml_document_t doc;
	yaml_node_t *root, *k;
	yaml_node_pair_t *p;

	(void)state;
	load(&doc, "a: 1\nb: 2\na: 3\n[x]: 4\n");
	root = yaml_document_get_root_node(&doc);
	p = root->data.mapping.pairs.start;
	k = ferry_yaml_repeated_key(&doc, root, p);
	assert_non_null(k);
	assert_int_equal(ferry_yaml_line(k), 3);
	assert_null(ferry_yaml_repeated_key(&doc, root, p + 1));
	assert_null(ferry_yaml_repeated_key(&doc, root, p + 2));
	assert_null(ferry_yaml_repeated_key(&doc, root, p + 3));
	assert_int_equal(ferry_yaml_error("t.yaml", k, "duplicate key", "a"), FERRY_EINVALID);
	assert_string_equal(ferry_error_last(), "t.yaml:3: duplicate key 'a'");
	assert_int_equal(ferry_yaml_error("t.yaml", NULL, "the file is empty", NULL),
			 FERRY_EINVALID);
	assert_string_equal(ferry_error_last(), "t.yaml:0: the file is empty");
	yaml_document_delete(&doc);
}

static void test_core_yaml_doc__reads_booleans(void **state)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	static const char *const neither[] = { "", "1", "True ", "maybe", "truex", "of" };
	size_t i;
	int b;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = -7;
		assert_int_equal(ferry_yaml_bool(&b, yes[i]), 0);
		assert_int_equal(b, 1);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = -7;
		assert_int_equal(ferry_yaml_bool(&b, no[i]), 0);
		assert_int_equal(b, 0);
	}
	for (i = 0; i < sizeof(neither) / sizeof(neither[0]); i++) {
		b = -7;
		assert_int_equal(ferry_yaml_bool(&b, neither[i]), -1);
		assert_int_equal(b, -7);
	}
	assert_int_equal(ferry_yaml_bool(&b, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_yaml_doc__loads_and_reads),
		cmocka_unit_test(test_core_yaml_doc__rejects_malformed),
		cmocka_unit_test(test_core_yaml_doc__finds_repeated_keys),
		cmocka_unit_test(test_core_yaml_doc__reads_booleans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
