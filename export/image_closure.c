/*
 * The image closure of an export (image_closure.h). Each deployment is checked
 * out from the export's git cache at the commit its branch or tag has in
 * this export, rendered by the render part exactly as the reconciler will
 * render it, and every image it uses is resolved to a digest with the
 * registry client the `image` sources use. An image is present when the
 * bundle already binds its digest or an earlier bundle of the channel
 * carried its manifest (the export state records every blob sent); the
 * others are collected as `image` sources with the spec's settings for
 * their registry, or reported under `closure: check`. A deployment whose
 * Helm chart comes from a registry (`chart:` or `source: {oci: ...}`) has
 * the chart itself as the first entry of its closure, fetched by digest
 * and rendered from that archive. Nothing here knows a YAML shape: the
 * render part reads the documents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "image_closure.h"
#include "fs.h"
#include "reference.h"
#include "render.h"
#include "banned.h"

static const char *const status_names[] = { "listed", "sent", "added", "missing" };

const char *ferry_closure_status_name(ferry_closure_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "?";
}

void ferry_closure_dispose(ferry_closure *cl)
{
	size_t i, k;

	for (i = 0; i < cl->ndeployments; i++) {
		ferry_closure_deployment *d = &cl->deployments[i];

		for (k = 0; k < d->nimages; k++) {
			free(d->images[k].image);
			free(d->images[k].where);
		}
		free(d->images);
		free(d->name);
		free(d->repo);
	}
	free(cl->deployments);
	memset(cl, 0, sizeof(*cl));
}

/* Each deployment's source.git names a git source: by URL (as written or
 * resolved) or by repository name. */
int ferry_closure_match(ferry_export_spec *spec)
{
	size_t i, k;
	int error = 0;

	for (i = 0; i < spec->ndeployments && !error; i++) {
		ferry_deployment *dep = &spec->deployments[i];

		if (!dep->git)    /* a chart from a registry, nothing from git */
			continue;
		for (k = 0; k < spec->nsources && !dep->repo && !error; k++) {
			const ferry_source *src = &spec->sources[k];
			char *name = NULL;

			if (src->kind != FERRY_SOURCE_GIT)
				continue;
			if (src->name)
				name = strdup(src->name);
			else if (ferry_git_name_from_url(&name, src->location) < 0)
				ferry_error_clear();
			if (!name && src->name) {
				error = ferry_error_oom();
				break;
			}
			if (!strcmp(dep->git, src->written) || !strcmp(dep->git, src->location) ||
			    (name && !strcmp(dep->git, name)))
				dep->repo = name;
			else
				free(name);
			if (!strcmp(dep->git, src->written) && !dep->repo)
				error = ferry_error_set(FERRY_EINVALID, "%s:%d: deployment '%s': "
							"cannot name the repository of '%s'",
							spec->path, dep->line, dep->name, dep->git);
		}
		if (!error && !dep->repo)
			error = ferry_error_set(FERRY_EINVALID, "%s:%d: deployment '%s': no git "
						"source of this spec is '%s' (give its URL or its "
						"name)", spec->path, dep->line, dep->name, dep->git);
	}
	return error;
}

/* The exported object the deployment's ref names in its repository. */
static int deployment_commit(char commit[41], const ferry_git_content *git,
			     const ferry_export_spec *spec, const ferry_deployment *dep)
{
	static const char *const prefix[] = { "refs/heads/", "refs/tags/" };
	static const char *const word[] = { "branch", "tag" };
	const ferry_git_repo_export *repo = NULL;
	size_t i, n;

	if (dep->ref_kind == FERRY_DEPLOY_COMMIT) {
		snprintf(commit, 41, "%s", dep->ref);
		return 0;
	}
	for (i = 0; i < git->nrepos && !repo; i++)
		if (!git->repos[i].submodule && !strcmp(git->repos[i].name, dep->repo))
			repo = &git->repos[i];
	for (i = 0; repo && i < repo->nrefs; i++) {
		n = strlen(prefix[dep->ref_kind]);
		if (!strncmp(repo->refs[i].name, prefix[dep->ref_kind], n) &&
		    !strcmp(repo->refs[i].name + n, dep->ref)) {
			snprintf(commit, 41, "%s", repo->refs[i].commit);
			return 0;
		}
	}
	return ferry_error_set(FERRY_ENOTFOUND, "%s:%d: deployment '%s': %s '%s' of '%s' is "
			       "not exported (see the git source's refs)", spec->path, dep->line,
			       dep->name, word[dep->ref_kind], dep->ref, dep->repo);
}

/* Is `digest` bound by a root the bundle already carries? */
static int listed(const ferry_oci_content *c, const char *digest)
{
	size_t i;

	for (i = 0; i < c->nroots; i++)
		if (!strcmp(c->roots[i].digest, digest))
			return 1;
	return 0;
}

/* One image of a deployment: resolve, judge, add. With `chart`, the image
 * is the deployment's Helm chart, whose archive is fetched into it. */
static int close_image(ferry_closure_image *img, ferry_buf *chart, ferry_registry *reg,
		       ferry_oci_content *c, const ferry_export_spec *spec,
		       const ferry_deployment *dep, ferry_export_state *state,
		       const char *channel, uint64_t upto)
{
	ferry_reference ref;
	ferry_source src;
	int error, sent = 0;

	memset(&src, 0, sizeof(src));
	if ((error = ferry_reference_parse(&ref, img->image)) < 0)
		return ferry_error_wrap(error, "%s:%d: deployment '%s' (%s)", spec->path,
					dep->line, dep->name, img->where);
	src.kind = FERRY_SOURCE_IMAGE;
	src.kind_name = "image";
	src.location = img->image;
	src.written = img->image;
	src.line = dep->line;
	src.options = json_object_get(spec->registries, ref.registry);
	if (!src.options)
		src.options = json_object();
	else
		json_incref(src.options);
	ferry_reference_dispose(&ref);
	if (!src.options)
		return ferry_error_oom();
	if ((error = chart ? ferry_registry_fetch_chart(chart, img->digest, reg, spec, &src)
			   : ferry_registry_resolve(img->digest, reg, spec, &src)) < 0) {
		error = ferry_error_wrap(error, "deployment '%s' (%s)", dep->name, img->where);
		goto done;
	}
	if (listed(c, img->digest)) {
		img->status = FERRY_CLOSURE_LISTED;
		goto done;
	}
	if (upto && (error = ferry_export_state_blob_sent(&sent, state, channel, upto,
							  ferry_oci_digest_hex(img->digest))) < 0)
		goto done;
	if (sent) {
		img->status = FERRY_CLOSURE_SENT;
	} else if (spec->closure_check) {
		img->status = FERRY_CLOSURE_MISSING;
	} else {
		img->status = FERRY_CLOSURE_ADDED;
		error = ferry_registry_collect(reg, c, spec, &src);
	}
done:
	json_decref(src.options);
	return error;
}

static int close_deployment(ferry_closure_deployment *out, ferry_registry *reg,
			    ferry_oci_content *c, const ferry_git_content *git,
			    const ferry_export_spec *spec, const ferry_deployment *dep,
			    ferry_export_state *state, const char *channel, uint64_t upto,
			    const char *dir)
{
	ferry_render_params p;
	ferry_rendered r;
	ferry_buf owner = FERRY_BUF_INIT, where = FERRY_BUF_INIT, chart = FERRY_BUF_INIT;
	ferry_buf chart_path = FERRY_BUF_INIT;
	size_t i;
	int error;

	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	if (!(out->name = strdup(dep->name)) || (dep->repo && !(out->repo = strdup(dep->repo)))) {
		error = ferry_error_oom();
		goto done;
	}
	if (dep->repo) {
		if ((error = deployment_commit(out->commit, git, spec, dep)) < 0 ||
		    (error = ferry_buf_printf(&owner, "deployment '%s'", dep->name)) < 0 ||
		    (error = ferry_git_content_checkout(git, dep->repo, out->commit, dep->path,
							dir, owner.ptr)) < 0)
			goto done;
	} else if ((error = ferry_fs_mkdir_p(dir, 0700)) < 0) {
		goto done;
	}
	/* A chart from a registry is part of the closure: the first entry,
	 * judged like an image, and rendered from its archive. */
	if (dep->chart) {
		ferry_closure_image *img;

		if ((error = FERRY_ALLOC_GROW(out->images, 1, out->allocimages)) < 0)
			goto done;
		img = &out->images[out->nimages];
		memset(img, 0, sizeof(*img));
		if (!(img->image = strdup(dep->chart)) || !(img->where = strdup("chart"))) {
			free(img->image);
			error = ferry_error_oom();
			goto done;
		}
		out->nimages++;
		if ((error = close_image(img, &chart, reg, c, spec, dep, state, channel,
					 upto)) < 0 ||
		    (error = ferry_buf_printf(&chart_path, "%s.chart.tgz", dir)) < 0 ||
		    (error = ferry_fs_write_atomic(chart_path.ptr, chart.ptr ? chart.ptr : "",
						   chart.size, 0600)) < 0)
			goto done;
		p.chart = chart_path.ptr;
	}
	p.kind_word = "deployment";
	p.name = dep->name;
	p.format = dep->format;
	p.values = dep->values;
	p.release = dep->release;
	p.namespace_ = dep->namespace_;
	if ((error = ferry_render_dir(&r, &p, dir)) < 0)
		goto done;
	if ((error = FERRY_ALLOC_GROW(out->images, out->nimages + r.nimages,
				      out->allocimages)) < 0)
		goto done;
	for (i = 0; i < r.nimages; i++) {
		ferry_closure_image *img = &out->images[out->nimages];

		memset(img, 0, sizeof(*img));
		ferry_buf_clear(&where);
		if ((error = ferry_buf_printf(&where, "%s%s%s", dep->path ? dep->path : "",
					      dep->path ? "/" : "", r.image_where[i])) < 0)
			goto done;
		if (!(img->image = strdup(r.images[i])) || !(img->where = ferry_buf_detach(&where))) {
			free(img->image);
			error = ferry_error_oom();
			goto done;
		}
		out->nimages++;
		if ((error = close_image(img, NULL, reg, c, spec, dep, state, channel, upto)) < 0)
			goto done;
	}
done:
	ferry_rendered_dispose(&r);
	ferry_buf_dispose(&owner);
	ferry_buf_dispose(&where);
	ferry_buf_dispose(&chart);
	ferry_buf_dispose(&chart_path);
	return error;
}

int ferry_closure_collect(ferry_closure *out, ferry_registry *reg, ferry_oci_content *c,
			  const ferry_git_content *git, const ferry_export_spec *spec,
			  ferry_export_state *state, const char *channel, uint64_t upto,
			  const char *workdir)
{
	ferry_buf tmp = FERRY_BUF_INIT, dir = FERRY_BUF_INIT, missing = FERRY_BUF_INIT;
	size_t i, k;
	int error = 0, made = 0;

	memset(out, 0, sizeof(*out));
	if (!spec->ndeployments)
		return 0;
	if (!(out->deployments = calloc(spec->ndeployments, sizeof(*out->deployments))))
		return ferry_error_oom();
	if ((error = ferry_fs_mkdir_p(workdir, 0700)) < 0 ||
	    (error = ferry_buf_printf(&tmp, "%s/closure-XXXXXX", workdir)) < 0)
		goto done;
	if (!mkdtemp(tmp.ptr)) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot create a directory in '%s'",
					      workdir);
		goto done;
	}
	made = 1;
	for (i = 0; i < spec->ndeployments && !error; i++) {
		ferry_buf_clear(&dir);
		if ((error = ferry_buf_printf(&dir, "%s/%zu", tmp.ptr, i)) < 0)
			break;
		out->ndeployments++;
		error = close_deployment(&out->deployments[i], reg, c, git, spec,
					 &spec->deployments[i], state, channel, upto, dir.ptr);
	}
	for (i = 0; i < out->ndeployments && !error; i++) {
		const ferry_closure_deployment *d = &out->deployments[i];

		for (k = 0; k < d->nimages && !error; k++)
			if (d->images[k].status == FERRY_CLOSURE_MISSING)
				error = ferry_buf_printf(&missing, "%s'%s' (%s) of deployment '%s' "
							 "at %s", missing.size ? "; " : "",
							 d->images[k].image, d->images[k].where,
							 d->name, d->images[k].digest);
	}
	if (!error && missing.size)
		error = ferry_error_set(FERRY_EINVALID, "%s: closure: check: the bundle and "
					"the channel lack %s", spec->path, missing.ptr);
done:
	if (made)
		ferry_fs_remove_tree(tmp.ptr);
	ferry_buf_dispose(&tmp);
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&missing);
	return error;
}
