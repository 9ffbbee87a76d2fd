/*
 * JSON helpers on jansson: bounded parsing of untrusted text, typed field
 * getters whose errors name the document and the field, and compact output.
 */
#ifndef FERRY_CORE_JSON_H
#define FERRY_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

/**
 * A JSON string for text that came from outside (a manifest, a server's
 * message): escaped as for a log line (ferry_escape_bytes), which also
 * makes it valid UTF-8 for jansson. json null for NULL; NULL when out of
 * memory (no error is recorded).
 */
json_t *ferry_json_text(const char *s);

/**
 * Parse `len` bytes as one JSON value. `what` names the document in error
 * messages ("manifest of 'x'"). Duplicate object keys, trailing bytes and
 * NUL bytes are rejected (FERRY_EINVALID).
 */
int ferry_json_parse(json_t **out, const void *data, size_t len,
		     const char *what);

/** Required string member `key` of `obj`; borrowed pointer. */
int ferry_json_get_string(const char **out, const json_t *obj, const char *key,
			  const char *what);
/** Optional string member: *out is NULL when absent. */
int ferry_json_get_string_opt(const char **out, const json_t *obj,
			      const char *key, const char *what);
/** Required non-negative integer member. */
int ferry_json_get_u64(uint64_t *out, const json_t *obj, const char *key,
		       const char *what);
/** Required array member; borrowed. */
int ferry_json_get_array(json_t **out, const json_t *obj, const char *key,
			 const char *what);
/** Required object member; borrowed. */
int ferry_json_get_object(json_t **out, const json_t *obj, const char *key,
			  const char *what);

/*
 * Optional members: absent (or `obj` not an object) is not an error and
 * yields NULL or the default; present with another type is FERRY_EINVALID
 * "<what>: field '<key>' must be <type>". For input from outside, where a
 * value of the wrong type must be refused, not read as missing.
 */
/** Optional array member (borrowed): *out is NULL when absent. */
int ferry_json_get_array_opt(json_t **out, const json_t *obj, const char *key,
			     const char *what);
/** Optional object member (borrowed): *out is NULL when absent. */
int ferry_json_get_object_opt(json_t **out, const json_t *obj, const char *key,
			      const char *what);
/** Optional boolean member: *out is `dflt` when absent, else 0 or 1. */
int ferry_json_get_bool_opt(int *out, const json_t *obj, const char *key, int dflt,
			    const char *what);
/** Optional integer member: *out is `dflt` when absent. */
int ferry_json_get_int_opt(int64_t *out, const json_t *obj, const char *key,
			   int64_t dflt, const char *what);

/** Append the compact, key-sorted serialisation of `value` to `out`.
 *  FERRY_ENOMEM (then `out` holds a partial text). */
int ferry_json_dump(ferry_buf *out, const json_t *value);
/** The same with jansson's JSON_* `flags`. */
int ferry_json_dump_flags(ferry_buf *out, const json_t *value, size_t flags);
/**
 * The serialisation of `value` with jansson's JSON_* `flags`, as a string
 * the caller frees, or NULL (out of memory, error set). Use it instead of
 * json_dumps(), which can drop a key and still return text.
 */
char *ferry_json_dumps(const json_t *value, size_t flags);

/** json_object_set_new that reports allocation failure as FERRY_ENOMEM. */
int ferry_json_set(json_t *obj, const char *key, json_t *value);
/** json_array_append_new with the same reporting. */
int ferry_json_append(json_t *arr, json_t *value);

#endif
