/*
 * Node configuration for the mirror (see node_config.h). podman, CRI-O and
 * skopeo read containers-registries.conf, where a [[registry.mirror]] may
 * add a path ("mirror:port/quay.io"), so a name that keeps its upstream
 * host is looked up on the mirror under that host. containerd mirrors
 * whole hosts and would ask the mirror for /v2/<repository> without the
 * host: its hosts.toml names the mirror's /v2/<host> and sets
 * override_path. The texts are built here once for the command that
 * prints them and for site init, which writes them.
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "node_config.h"
#include "reference.h"
#include "banned.h"

static int check_options(const ferry_mirror_node_options *o)
{
	if (!o || o->version != FERRY_MIRROR_NODE_OPTIONS_VERSION || !o->mirror || !*o->mirror)
		return ferry_error_set(FERRY_EINVALID, "node configuration: no mirror address");
	return 0;
}

/* The server containerd asks when it has no mirror for `registry`. */
static const char *upstream(const char *registry)
{
	return !strcmp(registry, "docker.io") ? "registry-1.docker.io" : registry;
}

static int comment(ferry_buf *out, const ferry_mirror_node_options *o, const char *what)
{
	return o->comment ? ferry_buf_printf(out, "%s\n# %s\n", o->comment, what)
			  : ferry_buf_printf(out, "# %s\n", what);
}

int ferry_mirror_node_registries_conf(ferry_buf *out, const ferry_mirror_node_options *o)
{
	const char *insecure = o && o->plain_http ? "true" : "false";
	size_t i;
	int error;

	if ((error = check_options(o)) < 0 ||
	    (error = comment(out, o, "containers-registries.conf(5): pull from the mirror")) < 0 ||
	    (error = ferry_buf_printf(out, "[[registry]]\nlocation = \"%s\"\ninsecure = %s\n",
				      o->mirror, insecure)) < 0)
		return error;
	for (i = 0; o->registries && i < o->registries->n; i++) {
		const char *name = o->registries->v[i];

		if ((error = ferry_buf_printf(out, "\n[[registry]]\nprefix = \"%s\"\n"
					      "location = \"%s\"\n\n[[registry.mirror]]\n"
					      "location = \"%s/%s\"\ninsecure = %s\n", name, name,
					      o->mirror, name, insecure)) < 0)
			return error;
	}
	return 0;
}

int ferry_mirror_node_hosts_toml(ferry_buf *out, const ferry_mirror_node_options *o,
				 const char *registry)
{
	const char *scheme;
	int error;

	if ((error = check_options(o)) < 0)
		return error;
	scheme = o->plain_http ? "http" : "https";
	if (registry)
		error = comment(out, o, "containerd hosts.toml: pulls of this registry's names "
				"go to the mirror, under its name");
	else
		error = comment(out, o, "containerd hosts.toml: the mirror");
	if (error < 0 ||
	    (error = ferry_buf_printf(out, "server = \"%s://%s\"\n\n[host.\"%s://%s%s%s\"]\n"
				      "  capabilities = [\"pull\", \"resolve\"]\n",
				      registry ? "https" : scheme,
				      registry ? upstream(registry) : o->mirror, scheme,
				      o->mirror, registry ? "/v2/" : "",
				      registry ? registry : "")) < 0)
		return error;
	if (o->ca && (error = ferry_buf_printf(out, "  ca = \"%s\"\n", o->ca)) < 0)
		return error;
	if (o->plain_http && (error = ferry_buf_puts(out, "  skip_verify = true\n")) < 0)
		return error;
	if (registry)
		error = ferry_buf_puts(out, "  override_path = true\n");
	return error;
}

int ferry_mirror_node_registry_add(ferry_strv *out, const char *name, size_t len)
{
	char *dup;
	size_t i;

	if (!len || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789.-:") < len)
		return ferry_error_set(FERRY_EINVALID, "invalid registry name '%.*s'",
				       (int)len, name);
	for (i = 0; i < out->n; i++)
		if (strlen(out->v[i]) == len && !strncmp(out->v[i], name, len))
			return 0;
	if (!(dup = strndup(name, len)))
		return ferry_error_oom();
	return ferry_strv_push_owned(out, dup);
}

static int tag_registry(const ferry_store_tag *t, void *payload)
{
	size_t hl = ferry_reference_host_len(t->reference);

	return hl ? ferry_mirror_node_registry_add(payload, t->reference, hl) : 0;
}

int ferry_mirror_node_registries(ferry_strv *out, ferry_store *st)
{
	return ferry_store_tag_foreach(st, tag_registry, out);
}

static int cmp_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ferry_mirror_node_registries_sort(ferry_strv *sv)
{
	if (sv->n)
		qsort(sv->v, sv->n, sizeof(char *), cmp_string);
}
