/*
 * Node configuration for container runtimes (see target.h): the
 * containers-registries.conf entries and containerd hosts.toml files that
 * make a node pull through an OCI target instead of upstream registries.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "http.h"
#include "reference.h"
#include "target.h"
#include "banned.h"

/* The registry host a target answers as: option "host", else the URL's. */
static int target_host(ferry_buf *out, const ferry_target *t)
{
	const char *h = json_string_value(json_object_get(t->options, "host"));

	return h ? ferry_buf_puts(out, h) : ferry_http_url_host(out, t->url);
}

/* "docker.io/library/" -> "docker.io/library" (TOML keys want no slash). */
static int trimmed(ferry_buf *out, const char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '/')
		n--;
	return ferry_buf_put(out, s, n);
}

int ferry_target_node_config(ferry_buf *out, const ferry_target *t)
{
	ferry_buf host = FERRY_BUF_INIT, a = FERRY_BUF_INIT, b = FERRY_BUF_INIT;
	char **seen = NULL;
	size_t alloc_seen = 0;
	size_t i, j, nseen = 0;
	int insecure = !strncmp(t->url, "http://", 7), error;

	if (t->kind != FERRY_TARGET_OCI)
		return ferry_error_set(FERRY_EINVALID, "target '%s' is not an OCI registry",
				       t->name);
	if ((error = target_host(&host, t)) < 0)
		goto done;
	error = ferry_buf_printf(out,
		"# containers-registries.conf(5): /etc/containers/registries.conf.d/"
		"50-ferry-%s.conf\n[[registry]]\nlocation = \"%s\"\ninsecure = %s\n",
		t->name, host.ptr, insecure ? "true" : "false");
	for (i = 0; i < t->rewrite.n && !error; i++) {
		const ferry_rewrite_rule *r = &t->rewrite.rules[i];
		if (!ferry_reference_host_len(r->from))
			continue;   /* not an upstream registry name */
		ferry_buf_clear(&a);
		ferry_buf_clear(&b);
		if ((error = trimmed(&a, r->from)) < 0 || (error = trimmed(&b, r->to)) < 0)
			break;
		error = ferry_buf_printf(out, "\n[[registry]]\nprefix = \"%s\"\n"
					 "location = \"%s\"\ninsecure = %s\n", a.ptr, b.ptr,
					 insecure ? "true" : "false");
	}
	/* containerd mirrors whole hosts and keeps paths: one hosts.toml per
	 * upstream host, pointing at the target. */
	for (i = 0; i < t->rewrite.n && !error; i++) {
		const ferry_rewrite_rule *r = &t->rewrite.rules[i];
		const char *path_from, *path_to;
		char *h;
		size_t hl;
		int dup = 0;

		if (!(hl = ferry_reference_host_len(r->from)))
			continue;
		for (j = 0; j < nseen; j++)
			if (strlen(seen[j]) == hl && !strncmp(seen[j], r->from, hl))
				dup = 1;
		if (dup)
			continue;
		if (!(h = malloc(hl + 1))) {
			error = ferry_error_oom();
			break;
		}
		memcpy(h, r->from, hl);
		h[hl] = '\0';
		if ((error = FERRY_ALLOC_GROW(seen, nseen + 1, alloc_seen)) < 0) {
			free(h);
			break;
		}
		seen[nseen++] = h;
		path_from = r->from + hl;
		path_to = r->to + ferry_reference_host_len(r->to);
		error = ferry_buf_printf(out,
			"\n# containerd: /etc/containerd/certs.d/%s/hosts.toml\n"
			"server = \"https://%s\"\n\n[host.\"%s://%s\"]\n"
			"  capabilities = [\"pull\", \"resolve\"]\n%s",
			!strcmp(h, "docker.io") ? "docker.io" : h,
			!strcmp(h, "docker.io") ? "registry-1.docker.io" : h,
			insecure ? "http" : "https", host.ptr,
			insecure ? "  skip_verify = true\n" : "");
		if (!error && strcmp(path_from, path_to))
			error = ferry_buf_printf(out, "# note: containerd keeps repository "
						 "paths; '%s' is served as '%s' on the mirror only "
						 "for runtimes that read registries.conf\n",
						 r->from, r->to);
	}
done:
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	ferry_buf_dispose(&host);
	ferry_buf_dispose(&a);
	ferry_buf_dispose(&b);
	return error;
}
