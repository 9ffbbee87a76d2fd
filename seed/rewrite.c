/*
 * The rewrite map (see rewrite.h): upstream names to enclave names by the
 * longest matching prefix, and the repository path a name has on a target.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "reference.h"
#include "rewrite.h"
#include "banned.h"

int ferry_rewrite_map_add(ferry_rewrite_map *m, const char *from, const char *to)
{
	ferry_rewrite_rule *grown;
	int error;

	if (!to || !*to)
		return ferry_error_set(FERRY_EINVALID, "rewrite rule '%.200s': the enclave "
				       "name is empty", from ? from : "");
	if ((error = FERRY_ALLOC_GROW(m->rules, m->n + 1, m->alloc)) < 0)
		return error;
	grown = m->rules;
	if (!(grown[m->n].from = strdup(from ? from : "")) ||
	    !(grown[m->n].to = strdup(to))) {
		free(grown[m->n].from);
		return ferry_error_oom();
	}
	m->n++;
	return 0;
}

int ferry_rewrite_map_from_json(ferry_rewrite_map *m, const json_t *rules)
{
	const json_t *r;
	size_t i;
	int error;

	json_array_foreach(rules, i, r) {
		if ((error = ferry_rewrite_map_add(m,
				json_string_value(json_object_get(r, "from")),
				json_string_value(json_object_get(r, "to")))) < 0)
			return error;
	}
	return 0;
}

void ferry_rewrite_map_dispose(ferry_rewrite_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->rules[i].from);
		free(m->rules[i].to);
	}
	free(m->rules);
	m->rules = NULL;
	m->n = m->alloc = 0;
}

int ferry_rewrite_apply(char **out, const ferry_rewrite_map *m, const char *name)
{
	const ferry_rewrite_rule *best = NULL;
	ferry_buf b = FERRY_BUF_INIT;
	size_t i, len;
	int error;

	for (i = 0; i < m->n; i++) {
		len = strlen(m->rules[i].from);
		if (strncmp(name, m->rules[i].from, len))
			continue;
		if (!best || len > strlen(best->from))
			best = &m->rules[i];
	}
	if (best)
		error = ferry_buf_printf(&b, "%s%s", best->to, name + strlen(best->from));
	else
		error = ferry_buf_puts(&b, name);
	if (error < 0)
		return error;
	*out = ferry_buf_detach(&b);
	return 0;
}

const char *ferry_rewrite_repo_path(const char *name)
{
	size_t n = ferry_reference_host_len(name);

	return n ? name + n + 1 : name;
}
