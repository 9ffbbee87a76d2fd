/*
 * Classic Helm repositories (see helm_repo.h). index.yaml is read with
 * libyaml's document API (aliases are node references, never expanded);
 * the chart archive is read in memory with libarchive to take Chart.yaml.
 * The archive itself is stored byte for byte as the artifact's layer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "ferry/errors.h"
#include "buf.h"
#include "descriptor.h"
#include "digest.h"
#include "hash.h"
#include "helm_repo.h"
#include "http.h"
#include "json.h"
#include "oci.h"
#include "registry.h"
#include "yaml_doc.h"
#include "banned.h"

void ferry_helm_chart_dispose(ferry_helm_chart *hc)
{
	ferry_buf_dispose(&hc->chart);
	ferry_buf_dispose(&hc->config);
	ferry_buf_dispose(&hc->manifest);
}

static int load_yaml(yaml_document_t *doc, const char *text, size_t len,
		     const char *what, const char *name)
{
	yaml_parser_t parser;

	if (!yaml_parser_initialize(&parser))
		return ferry_error_oom();
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, doc)) {
		int line = (int)parser.problem_mark.line + 1;
		int error = ferry_error_set(FERRY_EINVALID, "%s: %s is not valid YAML "
					    "(line %d: %s)", what, name, line,
					    parser.problem ? parser.problem : "malformed");

		yaml_parser_delete(&parser);
		return error;
	}
	yaml_parser_delete(&parser);
	if (!yaml_document_get_root_node(doc)) {
		yaml_document_delete(doc);
		return ferry_error_set(FERRY_EINVALID, "%s: %s is empty", what, name);
	}
	return 0;
}

int ferry_helm_index_find(char **url, char **digest, const char *text,
			  size_t len, const char *chart, const char *version,
			  const char *what)
{
	yaml_document_t doc;
	yaml_node_t *root, *entries, *versions, *urls, *first;
	yaml_node_item_t *it;
	const char *u, *dg;
	int error;

	*url = *digest = NULL;
	if ((error = load_yaml(&doc, text, len, what, "index.yaml")) < 0)
		return error;
	root = yaml_document_get_root_node(&doc);
	entries = ferry_yaml_map_get(&doc, root, "entries");
	if (!entries || entries->type != YAML_MAPPING_NODE) {
		error = ferry_error_set(FERRY_EINVALID, "%s: index.yaml has no 'entries' "
					"mapping", what);
		goto done;
	}
	versions = ferry_yaml_map_get(&doc, entries, chart);
	if (!versions) {
		error = ferry_error_set(FERRY_ENOTFOUND, "%s: the repository has no chart "
					"named '%s'", what, chart);
		goto done;
	}
	if (versions->type != YAML_SEQUENCE_NODE) {
		error = ferry_error_set(FERRY_EINVALID, "%s: index.yaml entry '%s' is not "
					"a list", what, chart);
		goto done;
	}
	for (it = versions->data.sequence.items.start;
	     it < versions->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(&doc, *it);
		const char *v = ferry_yaml_scalar(ferry_yaml_map_get(&doc, e, "version"));

		if (!v || strcmp(v, version))
			continue;
		urls = ferry_yaml_map_get(&doc, e, "urls");
		first = urls && urls->type == YAML_SEQUENCE_NODE &&
				urls->data.sequence.items.top > urls->data.sequence.items.start
			? yaml_document_get_node(&doc, *urls->data.sequence.items.start)
			: NULL;
		if (!(u = ferry_yaml_scalar(first)) || !*u) {
			error = ferry_error_set(FERRY_EINVALID, "%s: index.yaml gives no URL "
						"for the version", what);
			goto done;
		}
		dg = ferry_yaml_scalar(ferry_yaml_map_get(&doc, e, "digest"));
		if (dg && *dg) {
			/* Helm writes the bare hex; a digest is taken too. */
			if (ferry_oci_digest_valid(dg))
				dg = ferry_oci_digest_hex(dg);
			if (!ferry_sha256_hex_valid(dg)) {
				error = ferry_error_set(FERRY_EINVALID, "%s: index.yaml's digest "
							"'%.80s' is not a sha256 hex digest",
							what, dg);
				goto done;
			}
			if (!(*digest = strdup(dg))) {
				error = ferry_error_oom();
				goto done;
			}
		}
		if (!(*url = strdup(u)))
			error = ferry_error_oom();
		goto done;
	}
	error = ferry_error_set(FERRY_ENOTFOUND, "%s: the repository has no version "
				"'%s' of chart '%s'", what, version, chart);
done:
	if (error < 0) {
		free(*url);
		free(*digest);
		*url = *digest = NULL;
	}
	yaml_document_delete(&doc);
	return error;
}

int ferry_helm_config_from_chart_yaml(ferry_buf *out, const char *text,
				      size_t len, const char *chart,
				      const char *version, const char *what)
{
	static const char *const fields[] = {
		"name", "version", "apiVersion", "appVersion", "description", "type",
		"kubeVersion", "home", "icon", NULL
	};
	yaml_document_t doc;
	yaml_node_t *root;
	json_t *cfg = json_object();
	const char *name, *ver;
	size_t i;
	int error = 0;

	if (!cfg)
		return ferry_error_oom();
	if ((error = load_yaml(&doc, text, len, what, "Chart.yaml")) < 0) {
		json_decref(cfg);
		return error;
	}
	root = yaml_document_get_root_node(&doc);
	name = ferry_yaml_scalar(ferry_yaml_map_get(&doc, root, "name"));
	ver = ferry_yaml_scalar(ferry_yaml_map_get(&doc, root, "version"));
	if (!name || !ver || strcmp(name, chart) || strcmp(ver, version)) {
		error = ferry_error_set(FERRY_EINVALID, "%s: the archive's Chart.yaml names "
					"'%.100s' version '%.100s'", what, name ? name : "",
					ver ? ver : "");
		goto done;
	}
	if (!ferry_yaml_scalar(ferry_yaml_map_get(&doc, root, "apiVersion"))) {
		error = ferry_error_set(FERRY_EINVALID, "%s: the archive's Chart.yaml has "
					"no apiVersion", what);
		goto done;
	}
	for (i = 0; fields[i] && !error; i++) {
		const char *v = ferry_yaml_scalar(ferry_yaml_map_get(&doc, root, fields[i]));
		json_t *js;

		if (!v)
			continue;
		if (!(js = json_string(v))) {
			error = ferry_error_set(FERRY_EINVALID, "%s: Chart.yaml's '%s' is not "
						"valid UTF-8", what, fields[i]);
			break;
		}
		error = ferry_json_set(cfg, fields[i], js);
	}
	if (!error)
		error = ferry_json_dump(out, cfg);
done:
	yaml_document_delete(&doc);
	json_decref(cfg);
	return error;
}

/* Chart.yaml at the top of the chart's directory inside the archive. */
static int read_chart_yaml(ferry_buf *out, const ferry_buf *tgz, const char *what)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int error = 0, r;

	if (!a)
		return ferry_error_oom();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tgz->ptr, tgz->size) != ARCHIVE_OK) {
		error = ferry_error_set(FERRY_EINVALID, "%s: the chart archive is not a "
					"gzip tar (%s)", what, archive_error_string(a));
		goto done;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(e), *slash;
		char buf[8192];
		la_ssize_t n;

		if (!p || !(slash = strchr(p, '/')) || strcmp(slash + 1, "Chart.yaml") ||
		    archive_entry_filetype(e) != AE_IFREG)
			continue;
		out->limit = FERRY_HELM_CHART_YAML_MAX_SIZE;
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
			if ((error = ferry_buf_put(out, buf, (size_t)n)) < 0) {
				error = ferry_error_set(error, "%s: Chart.yaml is larger than %u "
							"bytes", what, FERRY_HELM_CHART_YAML_MAX_SIZE);
				goto done;
			}
		if (n < 0)
			error = ferry_error_set(FERRY_EINVALID, "%s: cannot read the chart "
						"archive: %s", what, archive_error_string(a));
		goto done;
	}
	if (r != ARCHIVE_EOF)
		error = ferry_error_set(FERRY_EINVALID, "%s: cannot read the chart archive: "
					"%s", what, archive_error_string(a));
	else
		error = ferry_error_set(FERRY_EINVALID, "%s: the chart archive has no "
					"<chart>/Chart.yaml", what);
done:
	archive_read_free(a);
	return error;
}

static int build_manifest(ferry_helm_chart *hc)
{
	json_t *m;
	int error;

	m = json_pack("{s:i,s:s,s:o,s:[o]}", "schemaVersion", 2,
		      "mediaType", FERRY_OCI_MT_MANIFEST, "config",
		      ferry_oci_descriptor_new(FERRY_OCI_MT_HELM_CONFIG, hc->config_hex,
					       hc->config.size),
		      "layers",
		      ferry_oci_descriptor_new(FERRY_OCI_MT_HELM_CHART, hc->chart_hex,
					       hc->chart.size));
	if (!m)
		return ferry_error_oom();
	error = ferry_json_dump(&hc->manifest, m);
	json_decref(m);
	if (error < 0)
		return error;
	return ferry_sha256_hex(hc->manifest_hex, hc->manifest.ptr, hc->manifest.size);
}

static int get_ok(ferry_http_response *resp, ferry_http *http, const char *url,
		  const char *userpwd, size_t limit, const char *what, const char *name)
{
	ferry_http_request req = { 0 };
	int error;

	req.url = url;
	req.userpwd = userpwd;
	req.limit = limit;
	if ((error = ferry_http_get(resp, http, &req)) < 0) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s", ferry_error_last());
		return ferry_error_set(error, "%s: %s", what, msg);
	}
	if (resp->status == 200)
		return 0;
	error = ferry_error_set(resp->status == 404 ? FERRY_ENOTFOUND
			       : FERRY_EIO,
			       "%s: %s answered HTTP %ld", what, name, resp->status);
	ferry_http_response_dispose(resp);
	return error;
}

int ferry_helm_repo_fetch(ferry_helm_chart *out, ferry_http *http,
			  const char *repo_url, const char *chart,
			  const char *version, const char *userpwd,
			  const char *what)
{
	ferry_http_response resp;
	ferry_buf base = FERRY_BUF_INIT, url = FERRY_BUF_INIT, chart_url = FERRY_BUF_INIT;
	ferry_buf h1 = FERRY_BUF_INIT, h2 = FERRY_BUF_INIT, yaml = FERRY_BUF_INIT;
	char *rel = NULL, *digest = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	memset(&resp, 0, sizeof(resp));
	if ((error = ferry_buf_puts(&base, repo_url)) < 0 ||
	    (base.size && base.ptr[base.size - 1] != '/' &&
	     (error = ferry_buf_puts(&base, "/")) < 0) ||
	    (error = ferry_buf_printf(&url, "%sindex.yaml", base.ptr)) < 0)
		goto done;
	if ((error = get_ok(&resp, http, url.ptr, userpwd, FERRY_HELM_INDEX_MAX_SIZE, what,
			    "index.yaml")) < 0)
		goto done;
	if ((error = ferry_helm_index_find(&rel, &digest, resp.body.ptr ? resp.body.ptr : "",
					   resp.body.size, chart, version, what)) < 0)
		goto done;
	ferry_http_response_dispose(&resp);
	if ((error = ferry_http_url_resolve(&chart_url, base.ptr, rel)) < 0 ||
	    (error = ferry_http_url_host(&h1, base.ptr)) < 0 ||
	    (error = ferry_http_url_host(&h2, chart_url.ptr)) < 0)
		goto done;
	if (strncmp(chart_url.ptr, "https://", 8) && strncmp(chart_url.ptr, "http://", 7)) {
		error = ferry_error_set(FERRY_EINVALID, "%s: index.yaml's URL '%.200s' is "
					"not HTTP(S)", what, chart_url.ptr);
		goto done;
	}
	/* Credentials go only to the repository's own host. */
	if ((error = get_ok(&resp, http, chart_url.ptr, strcmp(h1.ptr, h2.ptr) ? NULL : userpwd,
			    FERRY_HELM_CHART_MAX_SIZE, what, "the chart archive")) < 0)
		goto done;
	out->chart = resp.body;
	memset(&resp.body, 0, sizeof(resp.body));
	if ((error = ferry_sha256_hex(out->chart_hex, out->chart.ptr ? out->chart.ptr : "",
				      out->chart.size)) < 0)
		goto done;
	if (digest && strcmp(digest, out->chart_hex)) {
		char got[FERRY_OCI_DIGEST_SIZE], said[FERRY_OCI_DIGEST_SIZE];

		ferry_oci_digest_format(got, out->chart_hex);
		ferry_oci_digest_format(said, digest);
		error = ferry_error_set(FERRY_ECORRUPT, "%s: the chart archive has digest "
					"%s, index.yaml says %s (wrong digest)",
					what, got, said);
		goto done;
	}
	if ((error = read_chart_yaml(&yaml, &out->chart, what)) < 0 ||
	    (error = ferry_helm_config_from_chart_yaml(&out->config, yaml.ptr ? yaml.ptr : "",
						       yaml.size, chart, version, what)) < 0 ||
	    (error = ferry_sha256_hex(out->config_hex, out->config.ptr,
				      out->config.size)) < 0)
		goto done;
	error = build_manifest(out);
done:
	if (error < 0)
		ferry_helm_chart_dispose(out);
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&base);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&chart_url);
	ferry_buf_dispose(&h1);
	ferry_buf_dispose(&h2);
	ferry_buf_dispose(&yaml);
	free(rel);
	free(digest);
	return error;
}
