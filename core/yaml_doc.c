/*
 * The YAML helpers ferry's YAML readers share (see yaml_doc.h), so that
 * every file ferry reads reports a syntax error, a repeated key or a bad
 * value the same way: the file, the line, what was wrong.
 */
#include <string.h>

#include "ferry/errors.h"
#include "yaml_doc.h"
#include "banned.h"

int ferry_yaml_load(yaml_document_t *out, const char *text, size_t len,
		    const char *what)
{
	yaml_parser_t parser;
	int error = 0;

	if (!yaml_parser_initialize(&parser))
		return ferry_error_set(FERRY_ENOMEM, "cannot start YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, out))
		error = ferry_error_set(FERRY_EINVALID, "%s:%d: %s", what,
					(int)parser.problem_mark.line + 1,
					parser.problem ? parser.problem : "malformed YAML");
	yaml_parser_delete(&parser);
	return error;
}

int ferry_yaml_line(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

const char *ferry_yaml_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *ferry_yaml_map_get(yaml_document_t *doc, const yaml_node_t *map,
				const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = ferry_yaml_scalar(yaml_document_get_node(doc, p->key));

		if (k && !strcmp(k, key))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

yaml_node_t *ferry_yaml_repeated_key(yaml_document_t *doc, const yaml_node_t *map,
				     const yaml_node_pair_t *pair)
{
	const char *k = ferry_yaml_scalar(yaml_document_get_node(doc, pair->key));
	const yaml_node_pair_t *b;

	if (!k)
		return NULL;
	for (b = pair + 1; b < map->data.mapping.pairs.top; b++) {
		yaml_node_t *kb = yaml_document_get_node(doc, b->key);
		const char *s = ferry_yaml_scalar(kb);

		if (s && !strcmp(s, k))
			return kb;
	}
	return NULL;
}

int ferry_yaml_error(const char *path, const yaml_node_t *n, const char *msg,
		     const char *arg)
{
	return ferry_error_set(FERRY_EINVALID, "%s:%d: %s%s%s%s", path, ferry_yaml_line(n),
			       msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
}

int ferry_yaml_bool(int *out, const char *s)
{
	if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")))
		*out = 1;
	else if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")))
		*out = 0;
	else
		return -1;
	return 0;
}
