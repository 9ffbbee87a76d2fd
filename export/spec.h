/*
 * The export spec: a YAML file naming the channel, the bundle lifetime and
 * the sources to export. docs/export-spec.md documents the grammar.
 *
 *   channel: site-a
 *   expires: 30d              # a duration, or an RFC 3339 UTC time
 *   sources:
 *     - oci-layout: ./images/app
 *       name: library/app     # repository name for the layout's tags
 */
#ifndef FERRY_EXPORT_SPEC_H
#define FERRY_EXPORT_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "render.h"

/* Source kinds: the key that names the kind in a source's mapping. */
typedef enum {
	FERRY_SOURCE_OCI_LAYOUT = 1,  /* oci-layout: PATH */
	FERRY_SOURCE_IMAGE = 2,       /* image: REFERENCE */
	FERRY_SOURCE_IMAGES = 3,      /* images: PATH (an image list) */
	FERRY_SOURCE_CHART = 4,       /* chart: oci://REFERENCE | https://REPO */
	FERRY_SOURCE_GIT = 5,         /* git: URL or PATH */
	FERRY_SOURCE_FILE = 6         /* file: PATH (a file or a directory of files) */
} ferry_source_kind;

typedef struct {
	ferry_source_kind kind;
	const char *kind_name; /* the key, e.g. "oci-layout" (static) */
	char *location;  /* the kind's value; paths resolved against the spec's directory */
	char *written;   /* the value as the spec writes it */
	char *name;      /* repository name for its references (may be NULL) */
	json_t *options; /* every other key: scalars as strings, lists, mappings */
	int line;        /* where it was declared, for messages */
} ferry_source;

/* What a deployment's source names in its git repository. */
typedef enum {
	FERRY_DEPLOY_BRANCH = 0,
	FERRY_DEPLOY_TAG = 1,
	FERRY_DEPLOY_COMMIT = 2
} ferry_deploy_ref;

/*
 * A deployment: what will be deployed from an exported git source, in the
 * shape of a reconciler stack. Export renders it to find the images it
 * needs (the image closure).
 */
typedef struct {
	char *name;
	int line;
	char *git;            /* source.git as written: a git source's URL or name */
	char *repo;           /* that source's repository name in the bundle */
	ferry_deploy_ref ref_kind;
	char *ref;            /* branch, tag or commit (hex) */
	char *path;           /* directory inside the repository; NULL: the root */
	ferry_format format;
	char *values;         /* helm: values file inside `path` */
	char *release;        /* helm: release name; NULL: the deployment's name */
	char *namespace_;     /* helm: --namespace, or NULL */
	char *chart;          /* helm: the chart as an OCI reference (HOST/NAME:TAG
				 or @DIGEST, "oci://" taken off) instead of the
				 chart at `path`; NULL: the chart is at `path` */
} ferry_deployment;

typedef struct {
	char *path;           /* the spec file, for messages */
	char *dir;            /* its directory, for relative paths */
	char *channel;
	int64_t expires_in;   /* seconds after creation; 0 when absolute */
	int64_t expires_at;   /* absolute time; 0 when relative */
	ferry_source *sources;
	size_t nsources, allocsources;
	char *trust_root;     /* a new trust root file to carry, or NULL */
	ferry_deployment *deployments;
	size_t ndeployments, allocdeployments;
	int closure_check;    /* closure: check (fail on missing images) */
	json_t *registries;   /* host -> options for discovered images, or NULL */
} ferry_export_spec;

#define FERRY_SPEC_MAX_SIZE (1u << 20)
#define FERRY_SPEC_DEFAULT_EXPIRY (30 * 86400)

/**
 * Parse the spec file at `path`. Relative source paths are resolved
 * against the spec's directory. FERRY_EINVALID names the line and the
 * problem (unknown key, wrong type, missing field, bad value).
 */
int ferry_export_spec_load(ferry_export_spec **out, const char *path);
/**
 * Parse `len` bytes of spec text as if read from the file at `path` (which
 * names it in messages and whose directory relative paths are resolved
 * against; nothing is read from disk). Errors as ferry_export_spec_load,
 * FERRY_ETOOBIG over FERRY_SPEC_MAX_SIZE.
 */
int ferry_export_spec_parse(ferry_export_spec **out, const char *text, size_t len,
			    const char *path);
void ferry_export_spec_free(ferry_export_spec *spec);

/*
 * Helpers for source modules, which validate their own options. Errors are
 * FERRY_EINVALID with "SPEC:LINE: ..." naming the source's line.
 */

/** Fail unless every option key is in `allowed` (NULL-terminated). */
int ferry_source_check_options(const ferry_export_spec *spec,
			       const ferry_source *src,
			       const char *const *allowed);
/** Optional string option: *out is NULL when absent (borrowed). */
int ferry_source_option_string(const char **out, const ferry_export_spec *spec,
			       const ferry_source *src, const char *key);
/** Optional boolean option (true/false/yes/no); `dflt` when absent. */
int ferry_source_option_bool(int *out, const ferry_export_spec *spec,
			     const ferry_source *src, const char *key, int dflt);
/** Optional list of strings: *out is NULL when absent (borrowed). */
int ferry_source_option_strings(json_t **out, const ferry_export_spec *spec,
				const ferry_source *src, const char *key);
/** Report a problem with a source: "SPEC:LINE: <kind> source: <message>". */
int ferry_source_error(const ferry_export_spec *spec, const ferry_source *src,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
