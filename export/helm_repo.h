/*
 * Classic Helm chart repositories: find a chart version in the
 * repository's index.yaml, download its .tgz, check it against the index's
 * digest, and describe it as an OCI Helm artifact (config from Chart.yaml,
 * the archive as its one layer) so the enclave has one kind of chart.
 */
#ifndef FERRY_EXPORT_HELM_REPO_H
#define FERRY_EXPORT_HELM_REPO_H

#include "buf.h"
#include "hash.h"
#include "http.h"

typedef struct {
	ferry_buf chart;       /* the .tgz, as the repository serves it */
	char chart_hex[FERRY_SHA256_HEX_LEN + 1];
	ferry_buf config;      /* FERRY_OCI_MT_HELM_CONFIG */
	char config_hex[FERRY_SHA256_HEX_LEN + 1];
	ferry_buf manifest;    /* OCI image manifest over config and chart */
	char manifest_hex[FERRY_SHA256_HEX_LEN + 1];
} ferry_helm_chart;

/**
 * Fetch `chart` `version` from the repository at `repo_url` with `http`
 * (`userpwd`: Basic credentials for the repository's host, or NULL).
 * Messages start with `what`. FERRY_ENOTFOUND (no such chart or version),
 * FERRY_ECORRUPT (digest mismatch), FERRY_EINVALID (malformed index.yaml,
 * archive or Chart.yaml), FERRY_ETOOBIG, FERRY_EIO.
 */
int ferry_helm_repo_fetch(ferry_helm_chart *out, ferry_http *http,
			  const char *repo_url, const char *chart,
			  const char *version, const char *userpwd,
			  const char *what);
void ferry_helm_chart_dispose(ferry_helm_chart *hc);

/**
 * Find `chart` `version` in index.yaml text: *url (caller frees) is its
 * first URL as written, *digest (caller frees, may be NULL) its sha256.
 */
int ferry_helm_index_find(char **url, char **digest, const char *text,
			  size_t len, const char *chart, const char *version,
			  const char *what);

/** Build the OCI config JSON from Chart.yaml text (checked against
 *  `chart` and `version`). */
int ferry_helm_config_from_chart_yaml(ferry_buf *out, const char *text,
				      size_t len, const char *chart,
				      const char *version, const char *what);

#endif
