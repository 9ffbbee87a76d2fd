/*
 * jansson wrappers. Every getter names the document and the field in its
 * message so a rejected manifest says exactly what was wrong with it.
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "json.h"
#include "util.h"
#include "banned.h"

int ferry_json_parse(json_t **out, const void *data, size_t len,
		     const char *what)
{
	json_error_t jerr;
	json_t *v;

	v = json_loadb(data, len, JSON_REJECT_DUPLICATES,
		       &jerr);
	if (!v)
		return ferry_error_set(FERRY_EINVALID,
				       "%s is not valid JSON: %s (line %d, column %d)",
				       what, jerr.text, jerr.line, jerr.column);
	*out = v;
	return 0;
}

static int get_typed(json_t **out, const json_t *obj, const char *key,
		     json_type type, const char *tname, int required,
		     const char *what)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	*out = NULL;
	if (!v) {
		if (!required)
			return 0;
		return ferry_error_set(FERRY_EINVALID, "%s: missing field '%s'",
				       what, key);
	}
	if (json_typeof(v) != type)
		return ferry_error_set(FERRY_EINVALID,
				       "%s: field '%s' must be %s", what, key,
				       tname);
	*out = v;
	return 0;
}

int ferry_json_get_string(const char **out, const json_t *obj, const char *key,
			  const char *what)
{
	json_t *v;
	int error = get_typed(&v, obj, key, JSON_STRING, "a string", 1, what);

	*out = error ? NULL : json_string_value(v);
	return error;
}

int ferry_json_get_string_opt(const char **out, const json_t *obj,
			      const char *key, const char *what)
{
	json_t *v;
	int error = get_typed(&v, obj, key, JSON_STRING, "a string", 0, what);

	*out = v ? json_string_value(v) : NULL;
	return error;
}

int ferry_json_get_u64(uint64_t *out, const json_t *obj, const char *key,
		       const char *what)
{
	json_t *v;
	int error = get_typed(&v, obj, key, JSON_INTEGER, "an integer", 1, what);

	if (error)
		return error;
	if (json_integer_value(v) < 0)
		return ferry_error_set(FERRY_EINVALID,
				       "%s: field '%s' must not be negative",
				       what, key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int ferry_json_get_array(json_t **out, const json_t *obj, const char *key,
			 const char *what)
{
	return get_typed(out, obj, key, JSON_ARRAY, "an array", 1, what);
}

int ferry_json_get_object(json_t **out, const json_t *obj, const char *key,
			  const char *what)
{
	return get_typed(out, obj, key, JSON_OBJECT, "an object", 1, what);
}

int ferry_json_get_array_opt(json_t **out, const json_t *obj, const char *key,
			     const char *what)
{
	return get_typed(out, obj, key, JSON_ARRAY, "an array", 0, what);
}

int ferry_json_get_object_opt(json_t **out, const json_t *obj, const char *key,
			      const char *what)
{
	return get_typed(out, obj, key, JSON_OBJECT, "an object", 0, what);
}

int ferry_json_get_bool_opt(int *out, const json_t *obj, const char *key, int dflt,
			    const char *what)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return ferry_error_set(FERRY_EINVALID, "%s: field '%s' must be true or false",
				       what, key);
	*out = json_is_true(v);
	return 0;
}

int ferry_json_get_int_opt(int64_t *out, const json_t *obj, const char *key,
			   int64_t dflt, const char *what)
{
	json_t *v;
	int error = get_typed(&v, obj, key, JSON_INTEGER, "an integer", 0, what);

	*out = v ? (int64_t)json_integer_value(v) : dflt;
	return error;
}

/*
 * Serialising keeps failing once one piece could not be kept: jansson
 * (2.14) ignores the result of writing an object's key, so a key lost to a
 * failed allocation would otherwise leave valid-looking JSON without it.
 * json_dumps() has the same flaw and is not used; ferry_json_dumps() is.
 */
typedef struct {
	ferry_buf *out;
	int failed;
} dump_ctx;

static int dump_cb(const char *buffer, size_t size, void *data)
{
	dump_ctx *d = data;

	if (d->failed || ferry_buf_put(d->out, buffer, size) < 0)
		d->failed = 1;
	return d->failed ? -1 : 0;
}

int ferry_json_dump_flags(ferry_buf *out, const json_t *value, size_t flags)
{
	dump_ctx d = { out, 0 };

	if (json_dump_callback(value, dump_cb, &d, flags) < 0 || d.failed)
		return ferry_error_set(FERRY_ENOMEM, "cannot serialise JSON");
	return 0;
}

int ferry_json_dump(ferry_buf *out, const json_t *value)
{
	return ferry_json_dump_flags(out, value, JSON_COMPACT | JSON_SORT_KEYS);
}

char *ferry_json_dumps(const json_t *value, size_t flags)
{
	ferry_buf text = FERRY_BUF_INIT;
	char *str;

	if (ferry_json_dump_flags(&text, value, flags) < 0) {
		ferry_buf_dispose(&text);
		return NULL;
	}
	if (!(str = ferry_buf_detach(&text)))
		ferry_error_oom();
	return str;
}

int ferry_json_set(json_t *obj, const char *key, json_t *value)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		return ferry_error_oom();
	return 0;
}

int ferry_json_append(json_t *arr, json_t *value)
{
	if (!value || json_array_append_new(arr, value) < 0)
		return ferry_error_oom();
	return 0;
}

json_t *ferry_json_text(const char *s)
{
	json_t *v;
	char *copy;

	if (!s)
		return json_null();
	if (!(copy = ferry_escape_dup(s)))
		return NULL;
	v = json_string(copy);
	free(copy);
	return v;
}
