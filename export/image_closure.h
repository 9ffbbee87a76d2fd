/*
 * The image closure: the deployments an export spec names are rendered at
 * the revision being exported (from the export's git cache), every image
 * they use is resolved to a digest, and what the bundle and the channel do
 * not hold yet is added as if listed as an `image` source, or, with
 * `closure: check`, reported. docs/export-spec.md, "Deployments and the
 * image closure", documents the behaviour.
 */
#ifndef FERRY_EXPORT_IMAGE_CLOSURE_H
#define FERRY_EXPORT_IMAGE_CLOSURE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "export_state.h"
#include "git_source.h"
#include "oci_layout.h"
#include "registry.h"
#include "spec.h"

/* The kind of the manifest's source entries that record the closure: name
 * the deployment, location "IMAGE@DIGEST". */
#define FERRY_CLOSURE_SOURCE_KIND "closure"

/* Why an image of the closure is (or is not) in the bundle. */
typedef enum {
	FERRY_CLOSURE_LISTED = 0,  /* the bundle has it already (a source, or
				      another deployment) */
	FERRY_CLOSURE_SENT = 1,    /* an earlier bundle of the channel carried it */
	FERRY_CLOSURE_ADDED = 2,   /* added by the closure */
	FERRY_CLOSURE_MISSING = 3  /* closure: check, and nothing holds it */
} ferry_closure_status;

typedef struct {
	char *image;               /* as the deployment writes it */
	char digest[FERRY_OCI_DIGEST_SIZE];
	char *where;               /* "FILE: Kind/name" of its first use */
	ferry_closure_status status;
} ferry_closure_image;

typedef struct {
	char *name;                /* the deployment's name */
	char *repo;                /* its git source's repository; NULL for a
				      chart from a registry alone */
	char commit[41];           /* the revision rendered */
	ferry_closure_image *images;
	size_t nimages, allocimages;
} ferry_closure_deployment;

typedef struct {
	ferry_closure_deployment *deployments;
	size_t ndeployments;
} ferry_closure;

/** Name of a status ("listed", "sent", "added", "missing"). */
const char *ferry_closure_status_name(ferry_closure_status s);

/**
 * Tie each deployment of `spec` to its git source (`repo`): source.git
 * names a `git` source by its URL or path as written or resolved, or by
 * its repository name. Call after ferry_export_spec_load. FERRY_EINVALID
 * naming the spec line when no git source matches.
 */
int ferry_closure_match(ferry_export_spec *spec);

/**
 * Compute the closure of `spec`'s deployments into `out` (caller disposes,
 * also on failure) and add missing images to `c` through `reg`. `git` is
 * collected; `state`, `channel` and `upto` say what the channel was sent
 * (upto 0: nothing counts as sent). Renders in fresh directories under
 * `workdir` and removes them. Errors: FERRY_EINVALID naming every missing
 * image, its deployment and where it is used under `closure: check`;
 * FERRY_ENOTFOUND for a ref or a path the export does not carry;
 * FERRY_EUNSUPPORTED for format helm without helm; render and registry
 * errors as they come.
 */
int ferry_closure_collect(ferry_closure *out, ferry_registry *reg, ferry_oci_content *c,
			  const ferry_git_content *git, const ferry_export_spec *spec,
			  ferry_export_state *state, const char *channel, uint64_t upto,
			  const char *workdir);
void ferry_closure_dispose(ferry_closure *cl);

#endif
