/*
 * The pre-flight: before an apply, is every image the rendered documents
 * use where the runtime will pull it? The most expensive failure of an
 * air-gapped site is a deployment that needs an image nobody carried; a
 * runtime finds out only when its pull fails, often after it stopped what
 * ran before. So the reconciler looks first, and an image that is not
 * there blocks the apply with an event naming it, the workload that uses
 * it and the bundle that brought the revision without it.
 *
 * Where a runtime pulls from is the site's business; the config's
 * `preflight` section says it. Images on a `mirror` host are served by
 * `ferry mirror serve` from this store, so the store is asked the
 * mirror's question: does it hold that repository's tag, or the manifest
 * by digest in a repository it serves? Images on a `registries` host are
 * in a registry that seeding fills, asked with a HEAD of the manifest
 * through the one registry client (oci/client.h). Other images are
 * listed as not checked.
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "auth.h"
#include "catalog.h"
#include "client.h"
#include "digest.h"
#include "oci.h"
#include "json.h"
#include "reconcile.h"
#include "reference.h"
#include "banned.h"

const char *ferry_preflight_status_name(ferry_preflight_status s)
{
	return s == FERRY_PREFLIGHT_PRESENT ? "present"
	       : s == FERRY_PREFLIGHT_MISSING ? "missing" : "unchecked";
}

void ferry_preflight_dispose(ferry_preflight *p)
{
	size_t i;

	for (i = 0; i < p->nimages; i++) {
		free(p->images[i].image);
		free(p->images[i].where);
		free(p->images[i].place);
		free(p->images[i].why);
	}
	free(p->images);
	memset(p, 0, sizeof(*p));
}

/* ---- the store behind the mirror ----------------------------------------- */

typedef struct {
	const char *name;         /* the repository */
	size_t len;
	int known;
} repo_probe;

static int repo_known(const ferry_store_tag *t, void *payload)
{
	repo_probe *p = payload;
	ferry_reference_parts parts;

	if (ferry_reference_split(&parts, t->reference) < 0) {
		ferry_error_clear();
		return 0;
	}
	if (parts.name_len == p->len && !strncmp(t->reference, p->name, p->len)) {
		p->known = 1;
		return 1;     /* stop the walk */
	}
	return 0;
}

/* Is `ref` in the store as the mirror serves it? 1 yes, 0 no (`why`). */
static int in_store(ferry_buf *why, ferry_store *st, const ferry_reference *ref)
{
	ferry_store_tag tag;
	ferry_buf key = FERRY_BUF_INIT;
	repo_probe probe = { ref->repository, strlen(ref->repository), 0 };
	char hex[FERRY_SHA256_HEX_LEN + 1];
	int error;

	memset(&tag, 0, sizeof(tag));
	if (ref->digest) {
		/* a pull by digest: the repository is served and the manifest held */
		if ((error = ferry_store_tag_foreach(st, repo_known, &probe)) < 0)
			return error;
		if (!probe.known)
			return ferry_buf_printf(why, "the store has no repository '%s'",
						ref->repository) < 0 ? ferry_error_oom() : 0;
		if (ferry_oci_digest_parse(hex, ref->digest) < 0 || !ferry_store_has_blob(st, hex)) {
			ferry_error_clear();
			return ferry_buf_printf(why, "the store has no manifest %s",
						ref->digest) < 0 ? ferry_error_oom() : 0;
		}
		return 1;
	}
	if ((error = ferry_buf_printf(&key, "%s:%s", ref->repository, ref->tag)) < 0)
		return error;
	error = ferry_store_tag_get(&tag, st, key.ptr);
	if (error == FERRY_ENOTFOUND) {
		ferry_error_clear();
		error = ferry_buf_printf(why, "the store has no tag '%s'", key.ptr) < 0
			? ferry_error_oom() : 0;
	} else if (error == 0) {
		if (ferry_oci_digest_parse(hex, tag.digest) == 0 && ferry_store_has_blob(st, hex))
			error = 1;
		else if (ferry_buf_printf(why, "the store's tag '%s' names %s, which it does not hold",
					  key.ptr, tag.digest) < 0)
			error = ferry_error_oom();
		ferry_error_clear();
	}
	ferry_store_tag_dispose(&tag);
	ferry_buf_dispose(&key);
	return error;
}

/* ---- a seeded registry ------------------------------------------------------ */

/* HEAD of the manifest on `reg`: 1 present, 0 not (`why`). */
static int in_registry(ferry_buf *why, const ferry_preflight_registry *reg,
		       const ferry_reference *ref)
{
	static const char *const accept[] = { "Accept: " FERRY_OCI_MT_ACCEPT, NULL };
	ferry_oci_client_options co = FERRY_OCI_CLIENT_OPTIONS_INIT;
	ferry_oci_client *client = NULL;
	ferry_http_response resp;
	ferry_http_request req;
	ferry_buf url = FERRY_BUF_INIT, base = FERRY_BUF_INIT, path = FERRY_BUF_INIT,
		  what = FERRY_BUF_INIT;
	char *userpwd = NULL;
	int error, have_resp = 0;

	memset(&req, 0, sizeof(req));
	if ((error = reg->url ? ferry_buf_puts(&base, reg->url)
			      : ferry_buf_printf(&base, "https://%s", ref->api_host)) < 0 ||
	    (error = ferry_buf_printf(&path, "manifests/%s", ref->digest ? ref->digest
									 : ref->tag)) < 0 ||
	    (error = ferry_buf_printf(&what, "registry '%s'", reg->host)) < 0)
		goto done;
	if (reg->auth_file && (error = ferry_auth_file_lookup(&userpwd, reg->auth_file,
							      reg->host)) < 0)
		goto failed;
	co.url = base.ptr;
	co.host = reg->host;
	co.ca_file = reg->ca_file;
	co.userpwd = userpwd;
	co.credentials_hint = "give an auth-file for the registry in the preflight config";
	if ((error = ferry_oci_client_new(&client, &co)) < 0 ||
	    (error = ferry_oci_client_url(&url, client, ref->repository, path.ptr)) < 0)
		goto failed;
	req.url = url.ptr;
	req.head = 1;
	req.headers = accept;
	if ((error = ferry_oci_client_get(&resp, client, ref->repository, &req, what.ptr)) < 0)
		goto failed;
	have_resp = 1;
	if (resp.status == 200)
		error = 1;
	else if (ferry_buf_printf(why, "%s has no manifest %s:%s (HTTP %ld)", what.ptr,
				  ref->repository, ref->digest ? ref->digest : ref->tag,
				  resp.status) < 0)
		error = ferry_error_oom();
	goto done;
failed:
	if (error == FERRY_ENOMEM)
		goto done;
	/* it cannot be shown to be there: as good as missing */
	error = ferry_buf_puts(why, ferry_error_last()) < 0 ? ferry_error_oom() : 0;
	ferry_error_clear();
done:
	if (have_resp)
		ferry_http_response_dispose(&resp);
	ferry_oci_client_free(client);
	ferry_secret_free(userpwd);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&base);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&what);
	return error;
}

/* ---- the check ------------------------------------------------------------- */

static const ferry_preflight_registry *registry_of(const ferry_reconcile_config *cfg,
						   const char *host)
{
	size_t i;

	for (i = 0; i < cfg->preflight.nregistries; i++)
		if (!strcmp(cfg->preflight.registries[i].host, host))
			return &cfg->preflight.registries[i];
	return NULL;
}

static int is_mirror(const ferry_reconcile_config *cfg, const char *host)
{
	size_t i;

	for (i = 0; i < cfg->preflight.nmirror; i++)
		if (!strcmp(cfg->preflight.mirror[i], host))
			return 1;
	return 0;
}

/* Check one image into `img` (its image and where already set). */
static int check_one(ferry_preflight_image *img, const ferry_reconcile_config *cfg,
		     ferry_store *st, pthread_mutex_t *db)
{
	const ferry_preflight_registry *reg;
	ferry_reference ref;
	ferry_buf why = FERRY_BUF_INIT, place = FERRY_BUF_INIT;
	int error, found = 0;

	memset(&ref, 0, sizeof(ref));
	if (ferry_reference_parse(&ref, img->image) < 0) {
		error = ferry_buf_printf(&why, "not an image reference: %s", ferry_error_last());
		ferry_error_clear();
		img->status = FERRY_PREFLIGHT_UNCHECKED;
		goto done;
	}
	if (is_mirror(cfg, ref.registry)) {
		if ((error = ferry_buf_puts(&place, "store")) < 0)
			goto done;
		if (db)
			pthread_mutex_lock(db);
		found = in_store(&why, st, &ref);
		if (db)
			pthread_mutex_unlock(db);
	} else if ((reg = registry_of(cfg, ref.registry))) {
		if ((error = ferry_buf_printf(&place, "registry %s", reg->host)) < 0)
			goto done;
		found = in_registry(&why, reg, &ref);
	} else {
		img->status = FERRY_PREFLIGHT_UNCHECKED;
		error = ferry_buf_printf(&why, "'%s' is neither a mirror nor a registry of the "
					 "preflight config", ref.registry);
		goto done;
	}
	if ((error = found < 0 ? found : 0) < 0)
		goto done;
	img->status = found ? FERRY_PREFLIGHT_PRESENT : FERRY_PREFLIGHT_MISSING;
done:
	if (!error) {
		img->place = place.size ? ferry_buf_detach(&place) : NULL;
		img->why = why.size && img->status != FERRY_PREFLIGHT_PRESENT
			   ? ferry_buf_detach(&why) : NULL;
	}
	ferry_reference_dispose(&ref);
	ferry_buf_dispose(&why);
	ferry_buf_dispose(&place);
	return error;
}

int ferry_preflight_check(ferry_preflight *out, const ferry_reconcile_config *cfg,
			  ferry_store *st, const ferry_rendered *r, pthread_mutex_t *db)
{
	size_t i;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (r->nimages && !(out->images = calloc(r->nimages, sizeof(*out->images))))
		return ferry_error_oom();
	out->alloc = r->nimages;
	for (i = 0; i < r->nimages; i++) {
		ferry_preflight_image *img = &out->images[out->nimages];

		if (!(img->image = strdup(r->images[i])) ||
		    !(img->where = strdup(r->image_where[i]))) {
			free(img->image);
			img->image = NULL;
			return ferry_error_oom();
		}
		out->nimages++;
		if ((error = check_one(img, cfg, st, db)) < 0)
			return error;
		if (img->status == FERRY_PREFLIGHT_MISSING)
			out->missing++;
		else if (img->status == FERRY_PREFLIGHT_UNCHECKED)
			out->unchecked++;
	}
	return 0;
}

int ferry_preflight_message(ferry_buf *out, const ferry_preflight *p, const char *stack,
			    const ferry_revision *rev)
{
	size_t i, n = 0;
	int error = 0;

	for (i = 0; i < p->nimages && !error; i++) {
		const ferry_preflight_image *img = &p->images[i];

		if (img->status != FERRY_PREFLIGHT_MISSING)
			continue;
		error = ferry_buf_printf(out, "%s image '%s' used by %s is missing (%s)",
					 n++ ? ";" : "pre-flight blocked the apply:", img->image,
					 img->where, img->why ? img->why : img->place);
	}
	if (!error && n && rev && rev->channel)
		error = ferry_buf_printf(out, "; revision %.12s came with bundle %s (channel '%s', "
					 "sequence %lld), which did not carry %s",
					 rev->id, rev->bundle_id ? rev->bundle_id : "?",
					 rev->channel, (long long)rev->sequence,
					 n > 1 ? "them" : "it");
	else if (!error && n)
		error = ferry_buf_printf(out, "; no bundle of the store is known to have brought "
					 "revision %.12s of stack '%s'", rev ? rev->id : "?", stack);
	return error;
}

json_t *ferry_preflight_json(const ferry_preflight *p, const char *stack,
			     const ferry_revision *rev)
{
	json_t *o, *images = json_array();
	size_t i;

	if (!images)
		return NULL;
	for (i = 0; i < p->nimages; i++) {
		const ferry_preflight_image *img = &p->images[i];

		if (json_array_append_new(images, json_pack(
				"{s:o,s:o,s:s,s:o,s:o}", "image", ferry_json_text(img->image),
				"where", ferry_json_text(img->where),
				"status", ferry_preflight_status_name(img->status),
				"place", ferry_json_text(img->place),
				"why", ferry_json_text(img->why))) < 0) {
			json_decref(images);
			return NULL;
		}
	}
	o = json_pack("{s:s,s:s?,s:s?,s:s?,s:o,s:I,s:I,s:o}", "stack", stack,
		      "revision", rev && rev->id[0] ? rev->id : NULL,
		      "bundle", rev ? rev->bundle_id : NULL, "channel", rev ? rev->channel : NULL,
		      "sequence", rev && rev->channel ? json_integer(rev->sequence) : json_null(),
		      "missing", (json_int_t)p->missing, "unchecked", (json_int_t)p->unchecked,
		      "images", images);
	return o;
}
