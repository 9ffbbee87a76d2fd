/*
 * Export orchestration. The bundle for an OCI content set is laid out as
 * an OCI image layout: oci-layout, index.json (one descriptor per exported
 * reference, annotated with its full reference name), then every blob under
 * its digest (bundle-format/members.h names the members). Each git
 * repository adds one more blob, its git bundle file, and a binding of its
 * refs (docs/bundle-format.md, section 6.6).
 * The sequence number is recorded only after the bundle is
 * completely on disk; if recording fails the files are removed again.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "bindings.h"
#include "buf.h"
#include "image_closure.h"
#include "baseline.h"
#include "digest.h"
#include "fs.h"
#include "export.h"
#include "outbox.h"
#include "file_source.h"
#include "git_source.h"
#include "hash.h"
#include "members.h"
#include "reader.h"
#include "oci_layout.h"
#include "registry.h"
#include "spec.h"
#include "trust_root.h"
#include "export_state.h"
#include "banned.h"

static const char oci_layout_file[] = FERRY_LAYOUT_MEMBER_CONTENT;


/* A trust root file to carry: it must at least be an envelope of the right
 * kind (the enclave checks its signatures against its current root). */
static int load_trust_root(ferry_buf *out, const char *path)
{
	ferry_buf payload = FERRY_BUF_INIT;
	ferry_envelope_info info;
	int error;

	if ((error = ferry_fs_read_file(out, path, 1u << 20)) < 0)
		return error;
	if ((error = ferry_trust_root_file_open(&payload, &info, out->ptr, out->size,
					       NULL)) < 0)
		error = ferry_error_wrap(error, "'%s' is not a trust root file", path);
	ferry_buf_dispose(&payload);
	return error;
}

static int add_mem_member(ferry_manifest *m, ferry_member_source *src,
			  const char *path, const void *data, size_t len)
{
	char hex[FERRY_SHA256_HEX_LEN + 1];
	int error;

	if ((error = ferry_sha256_hex(hex, data, len)) < 0 ||
	    (error = ferry_manifest_add_member(m, path, len, hex)) < 0)
		return error;
	src->file = NULL;
	src->dir = NULL;
	src->data = data;
	return 0;
}

static int add_repos(ferry_manifest *m, ferry_member_source *src,
		     const ferry_git_content *git)
{
	char member[FERRY_BLOB_MEMBER_SIZE], digest[FERRY_OCI_DIGEST_SIZE];
	size_t i, k;
	int error = 0;

	for (i = 0; i < git->nrepos && !error; i++) {
		const ferry_git_repo_export *r = &git->repos[i];
		ferry_git_repo *mr;

		if (r->bundle_file) {
			ferry_bundle_blob_member(member, r->bundle_sha256);
			if (ferry_manifest_find(m, member) < 0) {
				if ((error = ferry_manifest_add_member(m, member, r->bundle_size,
								       r->bundle_sha256)) < 0)
					break;
				src[m->nmembers - 1].file = r->bundle_file;
			}
			ferry_oci_digest_format(digest, r->bundle_sha256);
		}
		if ((error = ferry_manifest_add_repo(&mr, m, r->name,
						     r->bundle_file ? digest : NULL)) < 0)
			break;
		for (k = 0; k < r->nrefs && !error; k++)
			error = ferry_git_repo_add_ref(mr, r->refs[k].name, r->refs[k].commit,
						       r->refs[k].forced);
		for (k = 0; k < r->ndeleted && !error; k++)
			error = ferry_git_repo_add_deleted(mr, r->deleted[k]);
		for (k = 0; k < r->nprerequisites && !error; k++)
			error = ferry_git_repo_add_prerequisite(mr, r->prerequisites[k]);
	}
	return error;
}

static int build_manifest(ferry_manifest *m, ferry_member_source **sources_out,
			  const ferry_oci_content *c, const ferry_buf *index,
			  const ferry_git_content *git, const ferry_buf *trust_root)
{
	ferry_member_source *src = calloc(c->nblobs + git->nrepos + 3, sizeof(*src));
	char member[FERRY_BLOB_MEMBER_SIZE];
	size_t i;
	int error;

	if (!src)
		return ferry_error_oom();
	if ((error = add_mem_member(m, &src[0], FERRY_LAYOUT_MEMBER, oci_layout_file,
				    strlen(oci_layout_file))) < 0 ||
	    (error = add_mem_member(m, &src[1], FERRY_INDEX_MEMBER, index->ptr,
				    index->size)) < 0)
		goto done;
	/* A new trust root travels right after the layout files. */
	if (trust_root->size &&
	    (error = add_mem_member(m, &src[2], FERRY_TRUST_ROOT_MEMBER, trust_root->ptr,
				    trust_root->size)) < 0)
		goto done;
	for (i = 0; i < c->nblobs; i++) {
		if (c->blobs[i].skip)
			continue;   /* only bindings the receiver holds reach it */
		if (c->blobs[i].prereq) {
			char digest[FERRY_OCI_DIGEST_SIZE];
			char *copy, **grown;

			ferry_oci_digest_format(digest, c->blobs[i].hex);
			grown = realloc(m->prereq_blobs, (m->nprereq_blobs + 1) * sizeof(*grown));
			if (!grown || !(copy = strdup(digest))) {
				if (grown)
					m->prereq_blobs = grown;
				error = ferry_error_oom();
				goto done;
			}
			m->prereq_blobs = grown;
			m->prereq_blobs[m->nprereq_blobs++] = copy;
			continue;
		}
		ferry_bundle_blob_member(member, c->blobs[i].hex);
		if ((error = ferry_manifest_add_member(m, member, c->blobs[i].size,
						       c->blobs[i].hex)) < 0)
			goto done;
		src[m->nmembers - 1].file = c->blobs[i].file;
		src[m->nmembers - 1].dir = c->blobs[i].dir;
	}
	for (i = 0; i < c->nroots; i++) {
		if (c->roots[i].unchanged)
			continue;
		if ((error = ferry_manifest_add_image(m, c->roots[i].reference,
						      c->roots[i].digest,
						      c->roots[i].media_type)) < 0)
			goto done;
	}
	error = add_repos(m, src, git);
done:
	if (error < 0) {
		free(src);
		return error;
	}
	*sources_out = src;
	return 0;
}

/* The closure travels in the manifest's sources, one entry per image:
 * kind "closure", the deployment's name, "IMAGE@DIGEST". */
static int add_closure(ferry_manifest *m, const ferry_closure *cl)
{
	ferry_buf loc = FERRY_BUF_INIT;
	size_t i, k;
	int error = 0;

	for (i = 0; i < cl->ndeployments && !error; i++)
		for (k = 0; k < cl->deployments[i].nimages && !error; k++) {
			const ferry_closure_image *img = &cl->deployments[i].images[k];

			ferry_buf_clear(&loc);
			if ((error = ferry_buf_printf(&loc, "%s@%s", img->image, img->digest)) == 0)
				error = ferry_manifest_add_source(m, FERRY_CLOSURE_SOURCE_KIND,
								  cl->deployments[i].name,
								  loc.ptr);
		}
	ferry_buf_dispose(&loc);
	return error;
}

/* Gather what one source contributes; each kind checks its own options. */
static int collect_source(ferry_oci_content *oci, ferry_registry *reg,
			  ferry_git_content *git, const char *cache_dir,
			  const ferry_export_spec *spec, const ferry_source *src)
{
	static const char *const no_options[] = { NULL };
	int error;

	switch (src->kind) {
	case FERRY_SOURCE_OCI_LAYOUT:
		if ((error = ferry_source_check_options(spec, src, no_options)) < 0)
			return error;
		return ferry_oci_layout_collect(oci, src->location, src->name);
	case FERRY_SOURCE_IMAGE:
	case FERRY_SOURCE_IMAGES:
	case FERRY_SOURCE_CHART:
		return ferry_registry_collect(reg, oci, spec, src);
	case FERRY_SOURCE_GIT:
		return ferry_git_content_add(git, spec, src);
	case FERRY_SOURCE_FILE:
		return ferry_files_collect(oci, cache_dir, spec, src);
	}
	return ferry_source_error(spec, src, "this kind is not supported");
}

/*
 * An incremental bundle does not carry a blob the receiver already holds
 * (one a bundle up to `upto` carried): it lists it as a prerequisite.
 * Manifests and indexes are small and always carried. upto 0: nothing.
 */
static int mark_prerequisites(ferry_oci_content *c, ferry_export_state *st,
			      const char *channel, uint64_t upto)
{
	size_t i;
	int error, sent;

	if (upto == 0)
		return 0;
	for (i = 0; i < c->nblobs; i++) {
		if (c->blobs[i].manifest || c->blobs[i].skip)
			continue;
		if ((error = ferry_export_state_blob_sent(&sent, st, channel, upto,
							  c->blobs[i].hex)) < 0)
			return error;
		c->blobs[i].prereq = sent;
	}
	return 0;
}

static int add_sent(const char *reference, const char *digest, void *payload)
{
	return ferry_bindings_add(payload, reference, digest);
}

/*
 * An incremental bundle carries only the image bindings that changed since
 * its base `base` (0: a full bundle, which carries them all), and of the
 * content only what those reach: the bindings the receiver holds
 * unchanged are marked so, the references it holds and the channel no
 * longer binds go in the manifest's `removed`, and the manifest states
 * the channel's whole state after the bundle. A base the export state has
 * no bindings for (written before it recorded them) gets them all.
 */
static int plan_bindings(ferry_manifest *m, ferry_oci_content *c, ferry_export_state *st,
			 uint64_t base)
{
	ferry_bindings held = { NULL, 0, 0 }, now = { NULL, 0, 0 };
	size_t i;
	int known = 0, error;

	m->bindings_all = 1;
	if (base == 0)
		return 0;
	if ((error = ferry_export_state_images(&known, st, m->channel, base, add_sent,
					       &held)) < 0 || !known)
		goto done;
	for (i = 0; i < c->nroots && !error; i++) {
		const char *digest = c->roots[i].digest;
		long k = ferry_bindings_find(&held, c->roots[i].reference);
		int sent = 0;

		/* Unchanged, and its document still held: a receipt that re-based
		 * the channel forgets what the enclave collected as garbage, and
		 * then the image travels again. */
		if (k >= 0 && !strcmp(held.items[k].digest, digest) &&
		    (error = ferry_export_state_blob_sent(&sent, st, m->channel, base,
							  ferry_oci_digest_hex(digest))) < 0)
			break;
		c->roots[i].unchanged = sent;
		error = ferry_bindings_add(&now, c->roots[i].reference, digest);
	}
	for (i = 0; i < held.n && !error; i++)
		if (ferry_bindings_find(&now, held.items[i].reference) < 0)
			error = ferry_manifest_add_removed(m, held.items[i].reference);
	if (error || (error = ferry_bindings_digest(m->state_sha256, &now)) < 0 ||
	    (error = ferry_oci_content_prune(c)) < 0)
		goto done;
	m->state_images = now.n;
	m->bindings_all = 0;
	m->base_sequence = base;
done:
	ferry_bindings_dispose(&held);
	ferry_bindings_dispose(&now);
	return error;
}

/* Record the bundle with every blob it carries, in one transaction. */
static int record_export(ferry_export_state *state, const ferry_manifest *m,
			 const char *files, const char *fingerprint,
			 const ferry_oci_content *oci, const ferry_git_content *git)
{
	ferry_export_record rec;
	const char **blobs = calloc(oci->nblobs + git->nrepos + 1, sizeof(*blobs));
	ferry_sent_image *images = calloc(oci->nroots + 1, sizeof(*images));
	ferry_sent_ref *refs = NULL;
	size_t i, k, nblobs = 0, nrefs = 0;
	int error;

	for (i = 0; i < git->nrepos; i++)
		nrefs += git->repos[i].nrefs;
	if (!blobs || !images || !(refs = calloc(nrefs + 1, sizeof(*refs)))) {
		free(blobs);
		free(images);
		return ferry_error_oom();
	}
	/* Every binding of the channel after this bundle, carried or not (the
	 * roots are in reference order since ferry_oci_content_finish). */
	for (i = 0; i < oci->nroots; i++) {
		images[i].reference = oci->roots[i].reference;
		images[i].digest = oci->roots[i].digest;
	}
	for (i = 0; i < oci->nblobs; i++)
		if (!oci->blobs[i].prereq && !oci->blobs[i].skip)   /* carried */
			blobs[nblobs++] = oci->blobs[i].hex;
	for (i = nrefs = 0; i < git->nrepos; i++) {
		if (git->repos[i].bundle_file)
			blobs[nblobs++] = git->repos[i].bundle_sha256;
		for (k = 0; k < git->repos[i].nrefs; k++, nrefs++) {
			refs[nrefs].repo = git->repos[i].name;
			refs[nrefs].ref = git->repos[i].refs[k].name;
			refs[nrefs].commit = git->repos[i].refs[k].commit;
		}
	}
	memset(&rec, 0, sizeof(rec));
	rec.channel = m->channel;
	rec.sequence = m->sequence;
	rec.bundle_id = m->id;
	rec.created = m->created;
	rec.files = files;
	rec.blobs = blobs;
	rec.nblobs = nblobs;
	rec.refs = refs;
	rec.nrefs = nrefs;
	rec.fingerprint = fingerprint;
	rec.images = images;
	rec.nimages = oci->nroots;
	error = ferry_export_state_record(state, &rec);
	free(images);
	free(blobs);
	free(refs);
	return error;
}

/* The files as the state records them: where they end up (in the outbox,
 * when there is one). */
static int join_files(ferry_buf *out, const ferry_write_result *w, const char *outbox)
{
	ferry_buf final = FERRY_BUF_INIT;
	size_t i;
	int error = 0;

	for (i = 0; i < w->npaths && !error; i++) {
		ferry_buf_clear(&final);
		if (outbox && (error = ferry_outbox_final_path(&final, outbox, w->paths[i])) < 0)
			break;
		error = ferry_buf_printf(out, "%s%s", i ? "\n" : "",
					 outbox ? final.ptr : w->paths[i]);
	}
	ferry_buf_dispose(&final);
	return error;
}

typedef struct {
	ferry_export_state *state;
	const char *dir;
} naming_ctx;

/* The writer is about to name the bundle's files: until the export is
 * recorded, they are this state's pending bundle. */
static int record_naming(void *payload, const ferry_manifest *m)
{
	naming_ctx *n = payload;

	return ferry_export_state_pending_set(n->state, m->channel, m->sequence, n->dir,
					      m->id);
}

/* Is `path` a file of bundle `id`? (Its signed manifest names it; nothing
 * is trusted or kept from it.) */
static int is_bundle(const char *path, const char *id)
{
	ferry_read_options ro = FERRY_READ_OPTIONS_INIT;
	ferry_read_result r;
	int same;

	ro.manifest_only = 1;
	ro.ignore_expiry = 1;
	(void)ferry_bundle_read(&r, path, &ro);
	same = r.manifest && !strcmp(r.manifest->id, id);
	ferry_read_result_dispose(&r);
	ferry_error_clear();
	return same;
}

/*
 * Remove the files of bundle `id`, BASENAME in `dir`, that an export killed
 * after naming them and before recording them left: BASENAME.tar or
 * BASENAME.volNNN.tar that hold that bundle, and each one's .minisig and
 * .sha256.
 */
static int remove_unrecorded(const char *dir, const char *basename, const char *id)
{
	static const char *const sides[] = { "", FERRY_BUNDLE_SIGNATURE_SUFFIX,
					     FERRY_BUNDLE_CHECKSUM_SUFFIX };
	size_t blen = strlen(basename), k;
	ferry_buf path = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d = opendir(dir);
	int error = 0;

	if (!d)
		return errno == ENOENT ? 0 : ferry_error_set_errno(FERRY_EIO,
								   "cannot read '%s'", dir);
	while (!error && (e = readdir(d))) {
		const char *rest = e->d_name + blen;

		if (strncmp(e->d_name, basename, blen))
			continue;
		if (!strncmp(rest, ".vol", 4) && strspn(rest + 4, "0123456789") == 3)
			rest += 7;
		if (strcmp(rest, FERRY_BUNDLE_FILE_SUFFIX))
			continue;
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir, e->d_name)) < 0 ||
		    !is_bundle(path.ptr, id))
			continue;
		for (k = 0; k < sizeof(sides) / sizeof(sides[0]) && !error; k++) {
			ferry_buf_clear(&path);
			if ((error = ferry_buf_printf(&path, "%s/%s%s", dir, e->d_name,
						      sides[k])) == 0 &&
			    unlink(path.ptr) < 0 && errno != ENOENT)
				error = ferry_error_set_errno(FERRY_EIO, "cannot remove '%s', "
							      "left by an export that did not "
							      "finish", path.ptr);
		}
	}
	closedir(d);
	ferry_buf_dispose(&path);
	return error;
}

static int hash_line(ferry_sha256 *h, const char *a, const char *b, const char *c)
{
	int error;

	if ((error = ferry_sha256_update(h, a, strlen(a) + 1)) < 0 ||
	    (error = ferry_sha256_update(h, b, strlen(b) + 1)) < 0)
		return error;
	return ferry_sha256_update(h, c, strlen(c) + 1);
}

/*
 * What the receiver will hold after the bundle, independent of what is
 * carried and of when: the image bindings (the bundle's index.json), every
 * exported git ref, the trust root and the sources. Equal fingerprints mean
 * a new bundle would change nothing in the enclave.
 */
static int fingerprint(char hex[FERRY_SHA256_HEX_LEN + 1], const ferry_buf *index,
		       const ferry_git_content *git, const ferry_buf *trust_root,
		       const ferry_export_spec *spec)
{
	ferry_sha256 *h = NULL;
	size_t i, k;
	int error;

	if ((error = ferry_sha256_new(&h)) < 0)
		return error;
	error = hash_line(h, "index", index->ptr ? index->ptr : "", "");
	for (i = 0; i < git->nrepos && !error; i++)
		for (k = 0; k < git->repos[i].nrefs && !error; k++)
			error = hash_line(h, git->repos[i].name, git->repos[i].refs[k].name,
					  git->repos[i].refs[k].commit);
	if (!error)
		error = hash_line(h, "trust", trust_root->ptr ? trust_root->ptr : "", "");
	for (i = 0; i < spec->nsources && !error; i++)
		error = hash_line(h, spec->sources[i].kind_name,
				  spec->sources[i].name ? spec->sources[i].name : "",
				  spec->sources[i].written);
	if (!error)
		error = ferry_sha256_final_hex(h, hex);
	ferry_sha256_free(h);
	return error;
}

int ferry_export_run(ferry_export_result *out, const ferry_export_options *opts)
{
	ferry_export_spec *spec = NULL;
	ferry_export_state *state = NULL;
	ferry_oci_content content;
	ferry_git_content git;
	ferry_git_options gopts;
	ferry_member_source *sources = NULL;
	ferry_manifest *m = NULL;
	ferry_buf index = FERRY_BUF_INIT, carried = FERRY_BUF_INIT, basename = FERRY_BUF_INIT;
	ferry_buf files = FERRY_BUF_INIT;
	ferry_buf trust_root = FERRY_BUF_INIT;
	ferry_write_options wopts = FERRY_WRITE_OPTIONS_INIT;
	ferry_registry_options ropts = FERRY_REGISTRY_OPTIONS_INIT;
	ferry_registry *reg = NULL;
	ferry_buf staging = FERRY_BUF_INIT;
	ferry_export_last prev;
	naming_ctx naming;
	char *state_path = NULL, *cache_dir = NULL;
	char content_hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t last, upto;
	size_t i;
	int error;

	memset(out, 0, sizeof(*out));
	memset(&content, 0, sizeof(content));
	memset(&git, 0, sizeof(git));
	memset(&gopts, 0, sizeof(gopts));
	if (!opts || opts->version != FERRY_EXPORT_OPTIONS_VERSION)
		return ferry_error_set(FERRY_EINVALID, "bad export options");
	if (opts->full && opts->since_sequence)
		return ferry_error_set(FERRY_EINVALID,
				       "--full and --since-sequence exclude each other");
	if (!opts->out_dir == !opts->outbox)
		return ferry_error_set(FERRY_EINVALID, "give the export either an output "
				       "directory or an outbox");
	if ((error = ferry_export_spec_load(&spec, opts->spec_path)) < 0 ||
	    (error = ferry_closure_match(spec)) < 0)
		goto done;
	state_path = opts->state_path ? strdup(opts->state_path)
				      : ferry_export_state_default_path();
	cache_dir = opts->cache_dir ? strdup(opts->cache_dir)
				    : ferry_registry_default_cache();
	if (!state_path || !cache_dir) {
		error = ferry_error_oom();
		goto done;
	}
	if ((error = ferry_export_state_open(&state, state_path)) < 0 ||
	    (error = ferry_export_state_last_sequence(&last, state, spec->channel)) < 0)
		goto done;
	if (opts->since_sequence > last) {
		error = ferry_error_set(FERRY_EINVALID, "channel '%s' has no bundle %llu "
					"yet (its last is %llu)", spec->channel,
					(unsigned long long)opts->since_sequence,
					(unsigned long long)last);
		goto done;
	}
	/* The base: what the receiver holds, as of the newest bundle, or of an
	 * older one when later bundles were lost on the way. */
	upto = opts->since_sequence ? opts->since_sequence : last;
	if (opts->baseline) {
		/* What the enclave says it holds replaces what was assumed. */
		if (!opts->baseline_trust) {
			error = ferry_error_set(FERRY_EINVALID, "a baseline needs the enclave's key");
			goto done;
		}
		if ((error = ferry_export_baseline(&upto, state, spec->channel, last,
						   opts->baseline, opts->baseline_trust)) < 0)
			goto done;
	}
	ropts.cache_dir = cache_dir;
	ropts.auth_file = opts->auth_file;
	ropts.progress = opts->download_progress;
	ropts.progress_payload = opts->download_progress_payload;
	if ((error = ferry_registry_new(&reg, &ropts)) < 0)
		goto done;
	for (i = 0; i < spec->nsources; i++)
		if ((error = collect_source(&content, reg, &git, cache_dir, spec,
					    &spec->sources[i])) < 0)
			goto done;
	/* Git first: the deployments of the image closure render the commits
	 * this bundle exports. */
	gopts.cache_dir = cache_dir;
	gopts.state = state;
	gopts.channel = spec->channel;
	gopts.upto = opts->full ? 0 : upto;
	if ((error = ferry_git_content_collect(&git, &gopts)) < 0 ||
	    (error = ferry_closure_collect(&out->closure, reg, &content, &git, spec, state,
					   spec->channel, opts->full || last == 0 ? 0 : upto,
					   cache_dir)) < 0)
		goto done;
	/* The index of every binding makes the fingerprint; an incremental
	 * bundle's own index.json lists those it carries. */
	if ((error = ferry_oci_content_finish(&content)) < 0 ||
	    (error = ferry_oci_content_index(&index, &content, 0)) < 0 ||
	    (error = ferry_manifest_new(&m, spec->channel)) < 0 ||
	    (error = plan_bindings(m, &content, state, opts->full || last == 0 ? 0 : upto)) < 0 ||
	    (!m->bindings_all &&
	     (error = ferry_oci_content_index(&carried, &content, 1)) < 0) ||
	    (error = mark_prerequisites(&content, state, spec->channel,
					opts->full || last == 0 ? 0 : upto)) < 0 ||
	    (error = ferry_registry_download(reg, &content)) < 0)
		goto done;
	/* Tens of thousands of roots hold megabytes of text that the indexes
	 * now repeat. */
	ferry_oci_content_drop_descriptors(&content);

	m->sequence = last + 1;
	for (i = 0; i < git.nrepos; i++)
		if (git.repos[i].has_base)
			m->base_sequence = gopts.upto;
	m->created = opts->now ? opts->now : (int64_t)time(NULL);
	m->expires = spec->expires_at ? spec->expires_at : m->created + spec->expires_in;
	if (m->expires <= m->created) {
		error = ferry_error_set(FERRY_EINVALID, "%s: 'expires' is in the past",
					opts->spec_path);
		goto done;
	}
	if (spec->trust_root &&
	    (error = load_trust_root(&trust_root, spec->trust_root)) < 0)
		goto done;
	if ((error = fingerprint(content_hex, &index, &git, &trust_root, spec)) < 0 ||
	    (error = ferry_export_state_last(&prev, state, spec->channel)) < 0)
		goto done;
	/* First settle what an earlier export left in the outbox's staging:
	 * a recorded bundle is handed over even when nothing changed since. */
	if (opts->outbox &&
	    (error = ferry_outbox_prepare(&staging, opts->outbox, spec->channel, last)) < 0)
		goto done;
	if (opts->if_changed && prev.sequence && prev.sequence == last &&
	    !strcmp(prev.fingerprint, content_hex) &&
	    !(opts->heartbeat > 0 && m->created - prev.created >= opts->heartbeat)) {
		/* Nothing the enclave would see changes: keep the sequence. */
		out->unchanged = 1;
		out->last_sequence = last;
		goto done;
	}
	if ((error = build_manifest(m, &sources, &content, m->bindings_all ? &index : &carried,
				    &git, &trust_root)) < 0)
		goto done;
	if (m->nprereq_blobs)
		m->base_sequence = upto;
	for (i = 0; i < spec->nsources; i++)
		if ((error = ferry_manifest_add_source(m, spec->sources[i].kind_name,
						       spec->sources[i].name ? spec->sources[i].name : "",
						       spec->sources[i].written)) < 0)
			goto done;
	if ((error = add_closure(m, &out->closure)) < 0)
		goto done;

	if ((error = ferry_buf_printf(&basename, FERRY_BUNDLE_BASENAME_FORMAT, m->channel,
				      (unsigned long long)m->sequence)) < 0)
		goto done;
	wopts.out_dir = opts->outbox ? staging.ptr : opts->out_dir;
	wopts.basename = basename.ptr;
	/* Files of this sequence that an export of this state named here and
	 * was killed before recording: not recorded, so not used. Only that
	 * bundle's files go; one another state wrote stays (the writer refuses
	 * to replace it). */
	{
		char left[FERRY_SHA256_HEX_LEN + 1];

		if ((error = ferry_export_state_pending(left, state, m->channel, m->sequence,
							wopts.out_dir)) < 0 ||
		    (left[0] && (error = remove_unrecorded(wopts.out_dir, basename.ptr,
							   left)) < 0))
			goto done;
	}
	naming.state = state;
	naming.dir = wopts.out_dir;
	wopts.naming = record_naming;
	wopts.naming_payload = &naming;
	wopts.max_volume_size = opts->max_volume_size;
	wopts.keys = opts->keys;
	wopts.nkeys = opts->nkeys;
	wopts.progress = opts->progress;
	wopts.progress_payload = opts->progress_payload;
	if ((error = ferry_bundle_write(&out->files, m, sources, &wopts)) < 0)
		goto done;
	if ((opts->checksums && (error = ferry_outbox_write_checksums(&out->files)) < 0) ||
	    (error = join_files(&files, &out->files, opts->outbox)) < 0 ||
	    (error = record_export(state, m, files.ptr, content_hex, &content, &git)) < 0) {
		for (i = 0; i < out->files.npaths; i++) {
			ferry_buf side = FERRY_BUF_INIT;

			unlink(out->files.paths[i]);
			if (ferry_buf_printf(&side, "%s" FERRY_BUNDLE_SIGNATURE_SUFFIX, out->files.paths[i]) == 0)
				unlink(side.ptr);
			ferry_buf_clear(&side);
			if (ferry_buf_printf(&side, "%s" FERRY_BUNDLE_CHECKSUM_SUFFIX, out->files.paths[i]) == 0)
				unlink(side.ptr);
			ferry_buf_dispose(&side);
		}
		ferry_write_result_dispose(&out->files);
		goto done;
	}
	/* Recorded: from here the files belong to the channel. A delivery cut
	 * short is finished by the next export to this outbox. */
	if (opts->outbox && (error = ferry_outbox_deliver(&out->files, opts->outbox)) < 0) {
		error = ferry_error_wrap(error, "bundle %llu of channel '%s' is written and "
					 "recorded; the next export to '%s' hands it over",
					 (unsigned long long)m->sequence, m->channel,
					 opts->outbox);
		ferry_write_result_dispose(&out->files);
		goto done;
	}
	out->manifest = m;
	m = NULL;
	out->skipped = git.skipped;
	out->nskipped = git.nskipped;
	git.skipped = NULL;
	git.nskipped = 0;
done:
	if (error < 0)
		ferry_closure_dispose(&out->closure);
	ferry_manifest_free(m);
	free(sources);
	free(state_path);
	free(cache_dir);
	ferry_registry_free(reg);
	ferry_export_state_close(state);
	ferry_export_spec_free(spec);
	ferry_oci_content_dispose(&content);
	ferry_git_content_dispose(&git);
	ferry_buf_dispose(&index);
	ferry_buf_dispose(&carried);
	ferry_buf_dispose(&basename);
	ferry_buf_dispose(&files);
	ferry_buf_dispose(&staging);
	ferry_buf_dispose(&trust_root);
	return error;
}

void ferry_export_result_dispose(ferry_export_result *r)
{
	size_t i;

	for (i = 0; i < r->nskipped; i++)
		free(r->skipped[i]);
	free(r->skipped);
	r->skipped = NULL;
	r->nskipped = 0;
	ferry_manifest_free(r->manifest);
	ferry_write_result_dispose(&r->files);
	ferry_closure_dispose(&r->closure);
}
