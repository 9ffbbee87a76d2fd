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

typedef enum {
	FERRY_SOURCE_OCI_LAYOUT = 1
} ferry_source_kind;

typedef struct {
	ferry_source_kind kind;
	char *location;  /* path of the layout, resolved against the spec's directory */
	char *written;   /* the location as the spec writes it */
	char *name;      /* repository name for its references */
	int line;        /* where it was declared, for messages */
} ferry_source;

typedef struct {
	char *channel;
	int64_t expires_in;   /* seconds after creation; 0 when absolute */
	int64_t expires_at;   /* absolute time; 0 when relative */
	ferry_source *sources;
	size_t nsources;
} ferry_export_spec;

#define FERRY_SPEC_MAX_SIZE (1u << 20)
#define FERRY_SPEC_DEFAULT_EXPIRY (30 * 86400)

/**
 * Parse the spec file at `path`. Relative source paths are resolved
 * against the spec's directory. FERRY_EINVALID names the line and the
 * problem (unknown key, wrong type, missing field, bad value).
 */
int ferry_export_spec_load(ferry_export_spec **out, const char *path);
void ferry_export_spec_free(ferry_export_spec *spec);

#endif
