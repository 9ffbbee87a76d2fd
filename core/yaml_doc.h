/*
 * Helpers over libyaml's document API for ferry's YAML files (the export
 * spec, the reconciler config, Helm repository indexes): loading a text
 * into a document, reading scalars, finding keys, and errors that name the
 * file and the line. Named yaml_doc.h so as not to shadow libyaml's own
 * <yaml.h>. In the ferry_yaml library: only the parts that parse YAML
 * link libyaml.
 */
#ifndef FERRY_CORE_YAML_DOC_H
#define FERRY_CORE_YAML_DOC_H

#include <stddef.h>

#include <yaml.h>

/**
 * Parse the first YAML document of `len` bytes of `text` into `*out`.
 * `what` names the text in messages (usually its path). On success the
 * caller owns the document and releases it with yaml_document_delete();
 * on failure there is nothing to release. A document with no root node
 * (an empty or comment-only text) loads successfully. Returns
 * FERRY_EINVALID "<what>:<line>: <problem>" on a syntax error, FERRY_ENOMEM
 * when libyaml cannot start.
 */
int ferry_yaml_load(yaml_document_t *out, const char *text, size_t len,
		    const char *what);

/** The 1-based line `n` starts on; 0 for NULL. */
int ferry_yaml_line(const yaml_node_t *n);

/** The value of a scalar node (borrowed from the document); NULL for NULL or
 *  a node that is not a scalar. */
const char *ferry_yaml_scalar(const yaml_node_t *n);

/** The value node of the first pair of mapping `map` whose key is the
 *  scalar `key` (borrowed); NULL when absent or when `map` is not a mapping. */
yaml_node_t *ferry_yaml_map_get(yaml_document_t *doc, const yaml_node_t *map,
				const char *key);

/**
 * The key node of the first pair after `pair` in mapping `map` whose
 * scalar key equals `pair`'s (borrowed), or NULL when `pair`'s key is not
 * repeated (or is not a scalar). A mapping must not repeat a key: libyaml
 * keeps both and a later value would silently win.
 */
yaml_node_t *ferry_yaml_repeated_key(yaml_document_t *doc, const yaml_node_t *map,
				     const yaml_node_pair_t *pair);

/**
 * A YAML boolean: `true`, `yes` or `on` sets `*out` to 1, `false`, `no`
 * or `off` to 0, and 0 is returned; anything else (NULL included) returns
 * -1 and leaves `*out` alone. No error is recorded: the caller names the
 * file, line and key.
 */
int ferry_yaml_bool(int *out, const char *s);

/**
 * Record FERRY_EINVALID with "<path>:<line of n>: <msg>", followed by
 * " '<arg>'" when `arg` is not NULL, and return FERRY_EINVALID.
 */
int ferry_yaml_error(const char *path, const yaml_node_t *n, const char *msg,
		     const char *arg);

#endif
