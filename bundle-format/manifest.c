/*
 * Manifest model, its in-toto Statement serialisation, and the strict
 * parser for manifests read from untrusted bundles. The parser rejects at
 * the first problem and names it; nothing it accepts can make a reader
 * write outside its staging area or skip a member.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "contents.h"
#include "digest.h"
#include "json.h"
#include "manifest.h"
#include "util.h"
#include "banned.h"

#define W "manifest"

static void *grow_array(void *arr, size_t n, size_t elem)
{
	/* Capacity is the next power of two >= n: grow when n reaches it. */
	size_t cap;

	if (n != 0 && (n & (n - 1)) != 0)
		return arr;
	cap = n ? 2 * n : 1;
	if (cap > SIZE_MAX / elem)
		return NULL;
	return realloc(arr, cap * elem);
}

#define PUSH(arr, n, elem_ptr)                                                   \
	do {                                                                     \
		void *grown_ = grow_array((arr), (n), sizeof(*(arr)));           \
		if (!grown_)                                                     \
			return ferry_error_oom();   \
		(arr) = grown_;                                                  \
		(arr)[(n)++] = *(elem_ptr);                                      \
	} while (0)

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ferry_manifest_channel_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > FERRY_CHANNEL_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' ||
		      s[i] == '.'))
			return 0;
	return s[0] != '.';
}

int ferry_manifest_new(ferry_manifest **out, const char *channel)
{
	ferry_manifest *m = calloc(1, sizeof(*m));

	if (!m || !(m->channel = strdup(channel ? channel : ""))) {
		free(m);
		return ferry_error_oom();
	}
	m->version = FERRY_BUNDLE_FORMAT_VERSION;
	m->bindings_all = 1;
	*out = m;
	return 0;
}

void ferry_manifest_clear_volumes(ferry_manifest *m)
{
	size_t v, p;

	for (v = 0; v < m->nvolumes; v++) {
		for (p = 0; p < m->volumes[v].nparts; p++)
			if (!m->volumes[v].parts[p].whole) {
				free(m->volumes[v].parts[p].path);
				free(m->volumes[v].parts[p].sha256);
			}
		free(m->volumes[v].parts);
	}
	free(m->volumes);
	m->volumes = NULL;
	m->nvolumes = 0;
}

void ferry_manifest_free(ferry_manifest *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nmembers; i++)
		free(m->members[i].path);
	free(m->members);
	free(m->by_path);
	ferry_manifest_clear_volumes(m);
	for (i = 0; i < m->nimages; i++) {
		free(m->images[i].reference);
		free(m->images[i].digest);
		free(m->images[i].media_type);
	}
	free(m->images);
	for (i = 0; i < m->nremoved; i++)
		free(m->removed[i]);
	free(m->removed);
	json_decref(m->pending_volumes);
	for (i = 0; i < m->nprereq_blobs; i++)
		free(m->prereq_blobs[i]);
	free(m->prereq_blobs);
	for (i = 0; i < m->nrepos; i++) {
		ferry_git_repo *r = &m->repos[i];
		size_t k;

		free(r->name);
		free(r->bundle);
		for (k = 0; k < r->nrefs; k++) {
			free(r->refs[k].name);
			free(r->refs[k].commit);
		}
		free(r->refs);
		for (k = 0; k < r->ndeleted; k++)
			free(r->deleted[k]);
		free(r->deleted);
		for (k = 0; k < r->nprerequisites; k++)
			free(r->prerequisites[k]);
		free(r->prerequisites);
	}
	free(m->repos);
	for (i = 0; i < m->nsources; i++) {
		free(m->sources[i].kind);
		free(m->sources[i].name);
		free(m->sources[i].location);
	}
	free(m->sources);
	free(m->channel);
	free(m);
}

int ferry_manifest_add_member(ferry_manifest *m, const char *path,
			      uint64_t size, const char *sha256_hex)
{
	ferry_member mem;

	memset(&mem, 0, sizeof(mem));
	if (!ferry_sha256_hex_valid(sha256_hex))
		return ferry_error_set(FERRY_EINVALID, "bad sha256 for '%s'", path);
	if (!(mem.path = strdup(path)))
		return ferry_error_oom();
	mem.size = size;
	memcpy(mem.sha256, sha256_hex, sizeof(mem.sha256));
	PUSH(m->members, m->nmembers, &mem);
	return 0;
}

int ferry_manifest_add_image(ferry_manifest *m, const char *reference,
			     const char *digest, const char *media_type)
{
	ferry_image_ref ref;

	ref.reference = strdup(reference);
	ref.digest = strdup(digest);
	ref.media_type = strdup(media_type ? media_type : "");
	if (!ref.reference || !ref.digest || !ref.media_type) {
		free(ref.reference);
		free(ref.digest);
		free(ref.media_type);
		return ferry_error_oom();
	}
	PUSH(m->images, m->nimages, &ref);
	return 0;
}

/* Append a copy of `s` to an array of strings grown as PUSH grows. */
static int push_string(char ***arr, size_t *n, const char *s)
{
	char **grown = grow_array(*arr, *n, sizeof(**arr)), *copy;

	if (!grown)
		return ferry_error_oom();
	*arr = grown;
	if (!(copy = strdup(s)))
		return ferry_error_oom();
	grown[(*n)++] = copy;
	return 0;
}

int ferry_manifest_add_removed(ferry_manifest *m, const char *reference)
{
	return push_string(&m->removed, &m->nremoved, reference);
}

int ferry_manifest_add_source(ferry_manifest *m, const char *kind,
			      const char *name, const char *location)
{
	ferry_source_info src;

	src.kind = strdup(kind);
	src.name = strdup(name ? name : "");
	src.location = strdup(location ? location : "");
	if (!src.kind || !src.name || !src.location) {
		free(src.kind);
		free(src.name);
		free(src.location);
		return ferry_error_oom();
	}
	PUSH(m->sources, m->nsources, &src);
	return 0;
}

int ferry_git_oid_valid(const char *hex)
{
	size_t n = strlen(hex), i;

	if (n != 40 && n != 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	return 1;
}

int ferry_git_ref_name_valid(const char *name)
{
	size_t n = strlen(name), i;
	const char *c;

	/* git check-ref-format, for full names under refs/ */
	if (n < 6 || n > 255 || strncmp(name, "refs/", 5) != 0 ||
	    name[n - 1] == '/' || name[n - 1] == '.' ||
	    (n >= 5 && !strcmp(name + n - 5, ".lock")) ||
	    strstr(name, "..") || strstr(name, "@{") || strstr(name, "//") ||
	    strstr(name, "/."))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch < 0x21 || ch == 0x7f)
			return 0;
		for (c = "~^:?*[\\"; *c; c++)
			if (ch == (unsigned char)*c)
				return 0;
	}
	return 1;
}

int ferry_git_repo_name_valid(const char *name)
{
	size_t n = strlen(name), i;
	const char *c;

	if (n == 0 || n > 255 || !ferry_path_is_safe(name))
		return 0;
	/* No component may itself look like a repository ("a.git/refs/..."). */
	for (c = name; (c = strstr(c, ".git")); c += 4)
		if (c[4] == '/' || c[4] == '\0')
			return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '.' ||
		      name[i] == '_' || name[i] == '-' || name[i] == '/'))
			return 0;
	return 1;
}

int ferry_manifest_add_repo(ferry_git_repo **out, ferry_manifest *m,
			    const char *name, const char *bundle_digest)
{
	ferry_git_repo r;

	memset(&r, 0, sizeof(r));
	if (!(r.name = strdup(name)) ||
	    (bundle_digest && !(r.bundle = strdup(bundle_digest)))) {
		free(r.name);
		return ferry_error_oom();
	}
	PUSH(m->repos, m->nrepos, &r);
	*out = &m->repos[m->nrepos - 1];
	return 0;
}

int ferry_git_repo_add_ref(ferry_git_repo *r, const char *name,
			   const char *commit, int forced)
{
	ferry_git_ref ref;

	ref.name = strdup(name);
	ref.commit = strdup(commit);
	ref.forced = forced;
	if (!ref.name || !ref.commit) {
		free(ref.name);
		free(ref.commit);
		return ferry_error_oom();
	}
	PUSH(r->refs, r->nrefs, &ref);
	return 0;
}

int ferry_git_repo_add_deleted(ferry_git_repo *r, const char *name)
{
	return push_string(&r->deleted, &r->ndeleted, name);
}

int ferry_git_repo_add_prerequisite(ferry_git_repo *r, const char *commit)
{
	return push_string(&r->prerequisites, &r->nprerequisites, commit);
}

long ferry_manifest_find(const ferry_manifest *m, const char *path)
{
	size_t i, lo = 0, hi = m->nby_path;

	if (m->by_path && m->nby_path == m->nmembers) {
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(m->members[m->by_path[mid]].path, path);

			if (!c)
				return (long)m->by_path[mid];
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return -1;
	}
	for (i = 0; i < m->nmembers; i++)
		if (!strcmp(m->members[i].path, path))
			return (long)i;
	return -1;
}

int ferry_manifest_add_part(ferry_manifest *m, size_t v, const ferry_part *p)
{
	ferry_part copy = *p, *grown;
	ferry_volume empty = { NULL, 0 }, *vol;

	while (m->nvolumes <= v)
		PUSH(m->volumes, m->nvolumes, &empty);
	vol = &m->volumes[v];
	if (!(grown = grow_array(vol->parts, vol->nparts, sizeof(*grown))))
		return ferry_error_oom();
	vol->parts = grown;
	/* A whole member's entry goes by the member's own path and digest;
	 * at tens of thousands of members a copy of each would be megabytes. */
	if (p->whole) {
		copy.path = m->members[p->member].path;
		copy.sha256 = NULL;
	} else if (!(copy.path = strdup(p->path))) {
		return ferry_error_oom();
	} else if (!(copy.sha256 = strdup(p->sha256))) {
		free(copy.path);
		return ferry_error_oom();
	}
	grown[vol->nparts++] = copy;
	return 0;
}

const char *ferry_part_sha256(const ferry_manifest *m, const ferry_part *p)
{
	return p->whole ? m->members[p->member].sha256 : p->sha256;
}

int ferry_manifest_single_volume(ferry_manifest *m)
{
	size_t i;
	int error;

	ferry_manifest_clear_volumes(m);
	for (i = 0; i < m->nmembers; i++) {
		ferry_part p;

		p.path = m->members[i].path;
		p.member = i;
		p.offset = 0;
		p.size = m->members[i].size;
		p.sha256 = NULL;
		p.whole = 1;
		if ((error = ferry_manifest_add_part(m, 0, &p)) < 0)
			return error;
	}
	if (m->nvolumes == 0) {
		ferry_volume empty = { NULL, 0 };

		PUSH(m->volumes, m->nvolumes, &empty);
	}
	return 0;
}

/* ---- the channel's binding state -------------------------------------- */

int ferry_binding_state_init(ferry_binding_state *s)
{
	memset(s, 0, sizeof(*s));
	return ferry_sha256_new(&s->sha);
}

int ferry_binding_state_add(ferry_binding_state *s, const char *reference,
			    const char *digest)
{
	int error;

	if (s->last && strcmp(s->last, reference) >= 0)
		return ferry_error_set(FERRY_EINVALID,
				       "image reference '%.200s' is bound twice", reference);
	free(s->last);
	if (!(s->last = strdup(reference)))
		return ferry_error_oom();
	if ((error = ferry_sha256_update(s->sha, reference, strlen(reference))) < 0 ||
	    (error = ferry_sha256_update(s->sha, " ", 1)) < 0 ||
	    (error = ferry_sha256_update(s->sha, digest, strlen(digest))) < 0 ||
	    (error = ferry_sha256_update(s->sha, "\n", 1)) < 0)
		return error;
	s->count++;
	return 0;
}

int ferry_binding_state_final(ferry_binding_state *s, char hex[FERRY_SHA256_HEX_LEN + 1])
{
	return ferry_sha256_final_hex(s->sha, hex);
}

void ferry_binding_state_dispose(ferry_binding_state *s)
{
	ferry_sha256_free(s->sha);
	free(s->last);
	memset(s, 0, sizeof(*s));
}

static int cmp_image_ref(const void *a, const void *b)
{
	return strcmp((*(ferry_image_ref *const *)a)->reference,
		      (*(ferry_image_ref *const *)b)->reference);
}

int ferry_manifest_images_state(char hex[FERRY_SHA256_HEX_LEN + 1],
				const ferry_manifest *m)
{
	const ferry_image_ref **sorted = malloc((m->nimages ? m->nimages : 1) * sizeof(*sorted));
	ferry_binding_state s;
	size_t i;
	int error;

	if (!sorted)
		return ferry_error_oom();
	if ((error = ferry_binding_state_init(&s)) < 0) {
		free(sorted);
		return error;
	}
	for (i = 0; i < m->nimages; i++)
		sorted[i] = &m->images[i];
	if (m->nimages)
		qsort(sorted, m->nimages, sizeof(*sorted), cmp_image_ref);
	for (i = 0; i < m->nimages && !error; i++)
		error = ferry_binding_state_add(&s, sorted[i]->reference, sorted[i]->digest);
	if (!error)
		error = ferry_binding_state_final(&s, hex);
	ferry_binding_state_dispose(&s);
	free(sorted);
	return error;
}

int ferry_manifest_check_changes(const ferry_manifest *m)
{
	size_t n = m->nimages + m->nremoved, i, k = 0;
	const char **refs = malloc((n ? n : 1) * sizeof(*refs));
	int error = 0;

	if (!refs)
		return ferry_error_oom();
	for (i = 0; i < m->nimages; i++)
		refs[k++] = m->images[i].reference;
	for (i = 0; i < m->nremoved; i++)
		refs[k++] = m->removed[i];
	if (n)
		qsort(refs, n, sizeof(*refs), cmp_str);
	for (i = 1; i < n && !error; i++)
		if (!strcmp(refs[i - 1], refs[i]))
			error = ferry_error_set(FERRY_EINVALID, W ": image reference '%.200s' "
						"is bound or removed twice", refs[i]);
	free(refs);
	return error;
}

/* ---- serialisation ---------------------------------------------------- */

/* The in-toto digest set {"sha256": hex} of an image digest (parsed). */
static json_t *digest_set(const char *digest)
{
	const char *hex = ferry_oci_digest_hex(digest);

	return json_pack("{s:s}", "sha256", hex ? hex : digest);
}

/* Format 1: the images, then the git refs. Format 2 leaves the images out
 * (their own list is the contents entry, which the first subject names). */
static int build_subjects(json_t **out, const ferry_manifest *m, int images)
{
	json_t *subjects = json_array();
	size_t i;
	int error = 0;

	if (!subjects)
		return ferry_error_oom();
	for (i = 0; images && i < m->nimages && !error; i++)
		error = ferry_json_append(subjects,
					  json_pack("{s:s,s:o}", "name",
						    m->images[i].reference, "digest",
						    digest_set(m->images[i].digest)));
	for (i = 0; i < m->nrepos && !error; i++) {
		size_t k;

		for (k = 0; k < m->repos[i].nrefs && !error; k++) {
			ferry_buf name = FERRY_BUF_INIT;

			if ((error = ferry_buf_printf(&name, "git:%s@%s", m->repos[i].name,
						      m->repos[i].refs[k].name)) == 0)
				error = ferry_json_append(subjects,
					json_pack("{s:s,s:{s:s}}", "name", name.ptr, "digest",
						  "gitCommit", m->repos[i].refs[k].commit));
			ferry_buf_dispose(&name);
		}
	}
	if (error) {
		json_decref(subjects);
		return error;
	}
	*out = subjects;
	return 0;
}

static json_t *string_array(char *const *items, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(items[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *repo_json(const ferry_git_repo *r)
{
	json_t *o = json_pack("{s:s,s:[]}", "name", r->name, "refs");
	json_t *refs = json_object_get(o, "refs");
	size_t k;

	if (!o)
		return NULL;
	if (r->bundle)
		json_object_set_new(o, "bundle", json_string(r->bundle));
	for (k = 0; k < r->nrefs; k++) {
		json_t *ref = json_pack("{s:s,s:s}", "name", r->refs[k].name, "commit",
					r->refs[k].commit);

		if (ref && r->refs[k].forced)
			json_object_set_new(ref, "forced", json_true());
		if (!ref || json_array_append_new(refs, ref) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	if (r->ndeleted)
		json_object_set_new(o, "deleted", string_array(r->deleted, r->ndeleted));
	if (r->nprerequisites)
		json_object_set_new(o, "prerequisites",
				    string_array(r->prerequisites, r->nprerequisites));
	return o;
}

/* Format 2: the contents entry, then the git refs, as in-toto subjects. */
static int build_subjects_v2(json_t **out, const ferry_manifest *m, const char *contents_hex)
{
	json_t *subjects = NULL;
	int error;

	if ((error = build_subjects(&subjects, m, 0)) < 0)
		return error;
	if (json_array_insert_new(subjects, 0,
				  json_pack("{s:s,s:{s:s}}", "name", FERRY_CONTENTS_MEMBER,
					    "digest", "sha256", contents_hex)) < 0) {
		json_decref(subjects);
		return ferry_error_oom();
	}
	*out = subjects;
	return 0;
}

int ferry_manifest_to_json(ferry_buf *out, const ferry_manifest *m)
{
	json_t *st = NULL, *pred, *members = NULL, *images = NULL, *subjects = NULL, *vols;
	char created[32], expires[32], contents_hex[FERRY_SHA256_HEX_LEN + 1];
	char state_hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t contents_size = 0;
	int v2 = m->version != FERRY_BUNDLE_FORMAT_V1;
	size_t i, v;
	int error;

	if ((error = ferry_time_format(created, sizeof(created), m->created)) < 0 ||
	    (error = ferry_time_format(expires, sizeof(expires), m->expires)) < 0)
		return error;
	if (v2 && m->contents_sha256[0]) {
		/* Computed by the writer, or read and checked. */
		contents_size = m->contents_size;
		memcpy(contents_hex, m->contents_sha256, sizeof(contents_hex));
	}
	if (v2) {
		if ((!m->contents_sha256[0] &&
		     (error = ferry_contents_digest(&contents_size, contents_hex, m)) < 0) ||
		    (m->bindings_all && (error = ferry_manifest_images_state(state_hex, m)) < 0) ||
		    (error = build_subjects_v2(&subjects, m, contents_hex)) < 0)
			return error;
		if (!m->bindings_all)
			memcpy(state_hex, m->state_sha256, sizeof(state_hex));
		pred = json_pack("{s:i,s:s,s:I,s:I,s:s,s:s,s:{s:I,s:s},s:s,s:{s:I,s:s}}",
				 "formatVersion", (int)FERRY_BUNDLE_FORMAT_VERSION,
				 "channel", m->channel, "sequence", (json_int_t)m->sequence,
				 "baseSequence", (json_int_t)m->base_sequence,
				 "created", created, "expires", expires,
				 "contents", "size", (json_int_t)contents_size,
				 "sha256", contents_hex,
				 "bindings", m->bindings_all ? "all" : "changes",
				 "state", "images",
				 (json_int_t)(m->bindings_all ? m->nimages : m->state_images),
				 "sha256", state_hex);
	} else {
		if ((error = build_subjects(&subjects, m, 1)) < 0)
			return error;
		members = json_array();
		images = json_array();
		pred = json_pack("{s:i,s:s,s:I,s:I,s:s,s:s,s:o,s:o}", "formatVersion",
				 (int)FERRY_BUNDLE_FORMAT_V1, "channel", m->channel, "sequence",
				 (json_int_t)m->sequence, "baseSequence",
				 (json_int_t)m->base_sequence, "created", created, "expires",
				 expires, "members", members, "images", images);
	}
	st = json_pack("{s:s,s:o,s:s,s:o}", "_type", FERRY_STATEMENT_TYPE,
		       "subject", subjects, "predicateType",
		       v2 ? FERRY_PREDICATE_TYPE : FERRY_PREDICATE_TYPE_V1, "predicate", pred);
	if (!st)
		return ferry_error_oom();
	for (i = 0; !v2 && i < m->nmembers && !error; i++)
		error = ferry_json_append(members,
					  json_pack("{s:s,s:I,s:s}", "path",
						    m->members[i].path, "size",
						    (json_int_t)m->members[i].size,
						    "sha256", m->members[i].sha256));
	for (i = 0; !v2 && i < m->nimages && !error; i++)
		error = ferry_json_append(images,
					  json_pack("{s:s,s:s,s:s}", "reference",
						    m->images[i].reference, "digest",
						    m->images[i].digest, "mediaType",
						    m->images[i].media_type));
	if (!error && !v2 && m->nprereq_blobs) {
		json_t *blobs = json_array();

		error = ferry_json_set(pred, "prerequisites",
				       json_pack("{s:o}", "blobs", blobs));
		for (i = 0; i < m->nprereq_blobs && !error; i++)
			error = ferry_json_append(blobs,
						  json_string(m->prereq_blobs[i]));
	}
	if (!error && m->nrepos) {
		json_t *repos = json_array();

		error = ferry_json_set(pred, "repositories", repos);
		for (i = 0; i < m->nrepos && !error; i++)
			error = ferry_json_append(repos, repo_json(&m->repos[i]));
	}
	if (!error && m->nsources) {
		json_t *srcs = json_array();

		error = ferry_json_set(pred, "sources", srcs);
		for (i = 0; i < m->nsources && !error; i++)
			error = ferry_json_append(srcs,
						  json_pack("{s:s,s:s,s:s}", "kind",
							    m->sources[i].kind, "name",
							    m->sources[i].name, "location",
							    m->sources[i].location));
	}
	if (!error && m->nvolumes > 1) {
		vols = json_array();
		error = ferry_json_set(pred, "volumes", vols);
		for (v = 0; v < m->nvolumes && !error; v++) {
			json_t *parts = json_array();

			error = ferry_json_append(vols, parts);
			for (i = 0; i < m->volumes[v].nparts && !error; i++) {
				const ferry_part *p = &m->volumes[v].parts[i];

				error = ferry_json_append(parts,
					p->whole ? json_pack("{s:I}", "member",
							     (json_int_t)p->member)
						 : json_pack("{s:I,s:s,s:I,s:I,s:s}",
							     "member", (json_int_t)p->member,
							     "path", p->path,
							     "offset", (json_int_t)p->offset,
							     "size", (json_int_t)p->size,
							     "sha256", p->sha256));
			}
		}
	}
	if (!error)
		error = ferry_json_dump(out, st);
	json_decref(st);
	return error;
}

/* ---- parsing ---------------------------------------------------------- */

static int parse_members(ferry_manifest *m, json_t *arr)
{
	json_t *e;
	size_t i;
	int error;

	if (!json_is_array(arr))
		return ferry_error_set(FERRY_EINVALID, W ": missing field 'members'");
	if (json_array_size(arr) == 0 ||
	    json_array_size(arr) > FERRY_MANIFEST_MAX_MEMBERS)
		return ferry_error_set(FERRY_EINVALID,
				       W ": between 1 and %d members are allowed",
				       FERRY_MANIFEST_MAX_MEMBERS);
	json_array_foreach(arr, i, e) {
		const char *path, *sha;
		uint64_t size;

		if ((error = ferry_json_get_string(&path, e, "path", W " member")) < 0 ||
		    (error = ferry_json_get_u64(&size, e, "size", W " member")) < 0 ||
		    (error = ferry_json_get_string(&sha, e, "sha256", W " member")) < 0 ||
		    (error = ferry_manifest__member(m, path, size, sha)) < 0)
			return error;
	}
	return 0;
}

int ferry_manifest__member(ferry_manifest *m, const char *path, uint64_t size,
			   const char *sha)
{
	const char *hex;

	if (m->nmembers >= FERRY_MANIFEST_MAX_MEMBERS)
		return ferry_error_set(FERRY_EINVALID, W ": more than %d members",
				       FERRY_MANIFEST_MAX_MEMBERS);
	if (strlen(path) > FERRY_PATH_MAX || !ferry_path_is_safe(path))
		return ferry_error_set(FERRY_EINVALID,
				       W ": unsafe member path '%.300s'", path);
	if (!strcmp(path, FERRY_MANIFEST_MEMBER) || !strcmp(path, FERRY_CONTENTS_MEMBER) ||
	    !strncmp(path, FERRY_PARTS_DIR, strlen(FERRY_PARTS_DIR)))
		return ferry_error_set(FERRY_EINVALID,
				       W ": reserved member path '%s'", path);
	if (!ferry_sha256_hex_valid(sha))
		return ferry_error_set(FERRY_EINVALID,
				       W ": member '%s' has a malformed sha256", path);
	/* Content addressing: a blob's name is its digest. */
	if ((hex = ferry_bundle_blob_member_hex(path)) && strcmp(hex, sha))
		return ferry_error_set(FERRY_EINVALID,
				       W ": member '%s' lists sha256 %s", path, sha);
	return ferry_manifest_add_member(m, path, size, sha);
}

typedef struct {
	const char *path;
	size_t index;
} path_index;

static int cmp_path_index(const void *a, const void *b)
{
	return strcmp(((const path_index *)a)->path, ((const path_index *)b)->path);
}

/* Member paths must be unique: sort them to check, and keep their order
 * as the manifest's index for ferry_manifest_find. */
static int check_unique_members(ferry_manifest *m)
{
	size_t n = m->nmembers ? m->nmembers : 1, i;
	path_index *sorted = malloc(n * sizeof(*sorted));
	size_t *order = malloc(n * sizeof(*order));
	int error = 0;

	if (!sorted || !order) {
		error = ferry_error_oom();
		goto done;
	}
	for (i = 0; i < m->nmembers; i++) {
		sorted[i].path = m->members[i].path;
		sorted[i].index = i;
	}
	qsort(sorted, m->nmembers, sizeof(*sorted), cmp_path_index);
	for (i = 0; i < m->nmembers; i++)
		order[i] = sorted[i].index;
	for (i = 1; i < m->nmembers; i++)
		if (!strcmp(sorted[i - 1].path, sorted[i].path)) {
			error = ferry_error_set(FERRY_EINVALID,
						W ": member '%s' is listed twice",
						sorted[i].path);
			goto done;
		}
	free(m->by_path);
	m->by_path = order;
	m->nby_path = m->nmembers;
	order = NULL;
done:
	free(sorted);
	free(order);
	return error;
}

static int parse_part(ferry_manifest *m, size_t v, json_t *e)
{
	ferry_part p;
	uint64_t idx;
	const char *path = NULL, *sha = NULL;
	int error;

	memset(&p, 0, sizeof(p));
	if ((error = ferry_json_get_u64(&idx, e, "member", W " volume entry")) < 0)
		return error;
	if (idx >= m->nmembers)
		return ferry_error_set(FERRY_EINVALID,
				       W ": volume %zu names member %llu of %zu",
				       v + 1, (unsigned long long)idx, m->nmembers);
	p.member = (size_t)idx;
	if (json_object_size(e) == 1) {
		p.whole = 1;
		p.path = m->members[idx].path;
		p.size = m->members[idx].size;
		return ferry_manifest_add_part(m, v, &p);
	}
	if ((error = ferry_json_get_string(&path, e, "path", W " volume entry")) < 0 ||
	    (error = ferry_json_get_u64(&p.offset, e, "offset", W " volume entry")) < 0 ||
	    (error = ferry_json_get_u64(&p.size, e, "size", W " volume entry")) < 0 ||
	    (error = ferry_json_get_string(&sha, e, "sha256", W " volume entry")) < 0)
		return error;
	if (strlen(path) > FERRY_PATH_MAX || !ferry_path_is_safe(path) ||
	    strncmp(path, FERRY_PARTS_DIR, strlen(FERRY_PARTS_DIR)) != 0)
		return ferry_error_set(FERRY_EINVALID,
				       W ": bad part path '%.300s'", path);
	if (!ferry_sha256_hex_valid(sha))
		return ferry_error_set(FERRY_EINVALID,
				       W ": part '%s' has a malformed sha256", path);
	p.path = (char *)path;
	p.sha256 = (char *)sha;
	return ferry_manifest_add_part(m, v, &p);
}

/* Check that volume entries cover every member exactly once, in order. */
static int check_coverage(const ferry_manifest *m)
{
	uint64_t *next = calloc(m->nmembers ? m->nmembers : 1, sizeof(*next));
	size_t v, i;
	int error = 0;

	if (!next)
		return ferry_error_oom();
	for (v = 0; v < m->nvolumes && !error; v++) {
		if (m->volumes[v].nparts == 0)
			error = ferry_error_set(FERRY_EINVALID,
						W ": volume %zu is empty", v + 1);
		for (i = 0; i < m->volumes[v].nparts && !error; i++) {
			const ferry_part *p = &m->volumes[v].parts[i];
			const ferry_member *mem = &m->members[p->member];

			if (p->offset != next[p->member] ||
			    p->size > mem->size - p->offset ||
			    (!p->whole && (p->size == 0 || p->size == mem->size)))
				error = ferry_error_set(FERRY_EINVALID,
							W ": volume %zu: entry '%s' does "
							"not continue member '%s'",
							v + 1, p->path, mem->path);
			else
				next[p->member] += p->size;
			if (p->whole && p->offset != 0)
				error = ferry_error_set(FERRY_EINVALID,
							W ": member '%s' laid out twice",
							mem->path);
		}
	}
	for (i = 0; i < m->nmembers && !error; i++)
		if (next[i] != m->members[i].size)
			error = ferry_error_set(FERRY_EINVALID,
						W ": member '%s' is not fully laid "
						"out over the volumes",
						m->members[i].path);
	free(next);
	return error;
}

/* Part paths (and whole-entry paths) must be unique across all volumes. */
static int check_unique_parts(const ferry_manifest *m)
{
	size_t total = 0, v, i, k = 0;
	char **paths;
	int error = 0;

	for (v = 0; v < m->nvolumes; v++)
		total += m->volumes[v].nparts;
	if (!(paths = malloc((total ? total : 1) * sizeof(*paths))))
		return ferry_error_oom();
	for (v = 0; v < m->nvolumes; v++)
		for (i = 0; i < m->volumes[v].nparts; i++)
			paths[k++] = m->volumes[v].parts[i].path;
	qsort(paths, total, sizeof(*paths), cmp_str);
	for (i = 1; i < total; i++)
		if (!strcmp(paths[i - 1], paths[i])) {
			error = ferry_error_set(FERRY_EINVALID,
						W ": entry '%s' appears twice in the "
						"volume layout", paths[i]);
			break;
		}
	free(paths);
	return error;
}

static int parse_volumes(ferry_manifest *m, json_t *vols)
{
	json_t *parts, *e;
	size_t v, i;
	int error;

	if (!vols) {
		if ((error = ferry_manifest_single_volume(m)) < 0)
			return error;
	} else {
		if (!json_is_array(vols) || json_array_size(vols) < 2 ||
		    json_array_size(vols) > FERRY_MANIFEST_MAX_VOLUMES)
			return ferry_error_set(FERRY_EINVALID,
					       W ": 'volumes' must list 2 to %d volumes",
					       FERRY_MANIFEST_MAX_VOLUMES);
		json_array_foreach(vols, v, parts) {
			if (!json_is_array(parts))
				return ferry_error_set(FERRY_EINVALID,
						       W ": volume %zu is not an array",
						       v + 1);
			json_array_foreach(parts, i, e)
				if ((error = parse_part(m, v, e)) < 0)
					return error;
			if (json_array_size(parts) == 0)
				return ferry_error_set(FERRY_EINVALID,
						       W ": volume %zu is empty", v + 1);
		}
	}
	if ((error = check_coverage(m)) < 0)
		return error;
	return check_unique_parts(m);
}

int ferry_manifest_reference_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 512)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int parse_images(ferry_manifest *m, json_t *pred)
{
	json_t *arr, *e;
	size_t i;
	int error;

	if ((error = ferry_json_get_array(&arr, pred, "images", W)) < 0)
		return error;
	json_array_foreach(arr, i, e) {
		const char *ref, *digest, *mt;

		if ((error = ferry_json_get_string(&ref, e, "reference", W " image")) < 0 ||
		    (error = ferry_json_get_string(&digest, e, "digest", W " image")) < 0 ||
		    (error = ferry_json_get_string(&mt, e, "mediaType", W " image")) < 0 ||
		    (error = ferry_manifest__image(m, ref, digest, mt)) < 0)
			return error;
	}
	return 0;
}

int ferry_manifest__image(ferry_manifest *m, const char *ref, const char *digest,
			  const char *media_type)
{
	char hex[FERRY_SHA256_HEX_LEN + 1];
	int error;

	if (m->nimages >= FERRY_MANIFEST_MAX_IMAGES)
		return ferry_error_set(FERRY_EINVALID, W ": more than %d image bindings",
				       FERRY_MANIFEST_MAX_IMAGES);
	if (!ferry_manifest_reference_valid(ref))
		return ferry_error_set(FERRY_EINVALID,
				       W ": malformed image reference '%.200s'", ref);
	if ((error = ferry_oci_digest_parse(hex, digest)) < 0)
		return error;
	return ferry_manifest_add_image(m, ref, digest, media_type);
}

int ferry_manifest__prerequisite(ferry_manifest *m, const char *digest)
{
	char hex[FERRY_SHA256_HEX_LEN + 1];
	int error;

	if (m->nprereq_blobs >= FERRY_MANIFEST_MAX_MEMBERS)
		return ferry_error_set(FERRY_EINVALID, W ": more than %d prerequisites",
				       FERRY_MANIFEST_MAX_MEMBERS);
	if ((error = ferry_oci_digest_parse(hex, digest)) < 0)
		return error;
	return push_string(&m->prereq_blobs, &m->nprereq_blobs, digest);
}

static int parse_prereqs(ferry_manifest *m, json_t *pred)
{
	json_t *pre, *blobs, *e;
	size_t i;
	int error;

	if ((error = ferry_json_get_object_opt(&pre, pred, "prerequisites", W)) < 0 || !pre)
		return error;
	if ((error = ferry_json_get_array(&blobs, pre, "blobs", W " prerequisites")) < 0)
		return error;
	json_array_foreach(blobs, i, e) {
		if (!json_is_string(e))
			return ferry_error_set(FERRY_EINVALID,
					       W ": prerequisite blobs must be digests");
		if ((error = ferry_manifest__prerequisite(m, json_string_value(e))) < 0)
			return error;
	}
	return 0;
}

static int parse_oid_list(ferry_git_repo *r, json_t *arr, int prereq,
			  const char *what)
{
	json_t *e;
	size_t i;
	int error;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return ferry_error_set(FERRY_EINVALID, W ": repository '%s': %s must be a list",
				       r->name, what);
	json_array_foreach(arr, i, e) {
		const char *v = json_string_value(e);

		if (!v || (prereq ? !ferry_git_oid_valid(v) : !ferry_git_ref_name_valid(v)))
			return ferry_error_set(FERRY_EINVALID,
					       W ": repository '%s': malformed %s entry",
					       r->name, what);
		if ((error = prereq ? ferry_git_repo_add_prerequisite(r, v)
				    : ferry_git_repo_add_deleted(r, v)) < 0)
			return error;
	}
	return 0;
}

static int parse_repos(ferry_manifest *m, json_t *pred)
{
	json_t *arr = json_object_get(pred, "repositories"), *e, *refs, *ref;
	size_t i, k, j;
	int error;

	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > FERRY_MANIFEST_MAX_MEMBERS)
		return ferry_error_set(FERRY_EINVALID, W ": 'repositories' must be a list");
	json_array_foreach(arr, i, e) {
		const char *name, *bundle;
		ferry_git_repo *r;
		char hex[FERRY_SHA256_HEX_LEN + 1];

		if ((error = ferry_json_get_string(&name, e, "name", W " repository")) < 0 ||
		    (error = ferry_json_get_string_opt(&bundle, e, "bundle", W " repository")) < 0 ||
		    (error = ferry_json_get_array(&refs, e, "refs", W " repository")) < 0)
			return error;
		if (!ferry_git_repo_name_valid(name))
			return ferry_error_set(FERRY_EINVALID,
					       W ": malformed repository name '%.200s'", name);
		for (k = 0; k < m->nrepos; k++)
			if (!strcmp(m->repos[k].name, name))
				return ferry_error_set(FERRY_EINVALID,
						       W ": repository '%s' is listed twice", name);
		if (bundle && (error = ferry_oci_digest_parse(hex, bundle)) < 0)
			return error;
		if ((error = ferry_manifest_add_repo(&r, m, name, bundle)) < 0)
			return error;
		json_array_foreach(refs, k, ref) {
			const char *rname, *commit;
			int forced;

			if ((error = ferry_json_get_string(&rname, ref, "name", W " ref")) < 0 ||
			    (error = ferry_json_get_string(&commit, ref, "commit", W " ref")) < 0 ||
			    (error = ferry_json_get_bool_opt(&forced, ref, "forced", 0,
							     W " ref")) < 0)
				return error;
			if (!ferry_git_ref_name_valid(rname) || !ferry_git_oid_valid(commit))
				return ferry_error_set(FERRY_EINVALID,
						       W ": repository '%s': malformed ref "
						       "'%.200s'", name, rname);
			for (j = 0; j < r->nrefs; j++)
				if (!strcmp(r->refs[j].name, rname))
					return ferry_error_set(FERRY_EINVALID,
							       W ": repository '%s': ref '%s' "
							       "is listed twice", name, rname);
			if ((error = ferry_git_repo_add_ref(r, rname, commit, forced)) < 0)
				return error;
		}
		if ((error = parse_oid_list(r, json_object_get(e, "deleted"), 0,
					    "deleted")) < 0 ||
		    (error = parse_oid_list(r, json_object_get(e, "prerequisites"), 1,
					    "prerequisites")) < 0)
			return error;
		for (k = 0; k < r->ndeleted; k++)
			for (j = 0; j < r->nrefs; j++)
				if (!strcmp(r->deleted[k], r->refs[j].name))
					return ferry_error_set(FERRY_EINVALID,
							       W ": repository '%s': ref '%s' "
							       "is both kept and deleted",
							       name, r->deleted[k]);
	}
	return 0;
}

/* Each repository's git bundle is a member. */
static int check_repo_bundles(const ferry_manifest *m)
{
	char path[FERRY_BLOB_MEMBER_SIZE];
	size_t i;

	for (i = 0; i < m->nrepos; i++) {
		if (!m->repos[i].bundle)
			continue;
		ferry_bundle_blob_member(path, ferry_oci_digest_hex(m->repos[i].bundle));
		if (ferry_manifest_find(m, path) < 0)
			return ferry_error_set(FERRY_EINVALID,
					       W ": repository '%s': its bundle %.80s "
					       "is not a member", m->repos[i].name,
					       m->repos[i].bundle);
	}
	return 0;
}

static int parse_sources(ferry_manifest *m, json_t *pred)
{
	json_t *arr = json_object_get(pred, "sources"), *e;
	size_t i;
	int error;

	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > FERRY_MANIFEST_MAX_MEMBERS)
		return ferry_error_set(FERRY_EINVALID, W ": 'sources' must be a list");
	json_array_foreach(arr, i, e) {
		const char *kind, *name, *location;

		if ((error = ferry_json_get_string(&kind, e, "kind", W " source")) < 0 ||
		    (error = ferry_json_get_string(&name, e, "name", W " source")) < 0 ||
		    (error = ferry_json_get_string(&location, e, "location", W " source")) < 0)
			return error;
		if (strlen(kind) > 64 || strlen(name) > 512 || strlen(location) > 4096)
			return ferry_error_set(FERRY_EINVALID, W ": source %zu is too long", i);
		if ((error = ferry_manifest_add_source(m, kind, name, location)) < 0)
			return error;
	}
	return 0;
}

static int parse_header(ferry_manifest *m, json_t *st, json_t **pred_out)
{
	const char *type, *ptype, *channel, *created, *expires;
	json_t *pred, *subject;
	uint64_t version;
	int error;

	if (!json_is_object(st))
		return ferry_error_set(FERRY_EINVALID, W " is not a JSON object");
	if ((error = ferry_json_get_string(&type, st, "_type", W)) < 0 ||
	    (error = ferry_json_get_string(&ptype, st, "predicateType", W)) < 0)
		return error;
	if (strcmp(type, FERRY_STATEMENT_TYPE) != 0)
		return ferry_error_set(FERRY_EUNSUPPORTED,
				       W ": unsupported statement type '%.100s'", type);
	if (strcmp(ptype, FERRY_PREDICATE_TYPE) != 0 &&
	    strcmp(ptype, FERRY_PREDICATE_TYPE_V1) != 0) {
		if (!strncmp(ptype, FERRY_PREDICATE_PREFIX, strlen(FERRY_PREDICATE_PREFIX)))
			return ferry_error_set(FERRY_EUNSUPPORTED,
					       "unsupported bundle format version "
					       "'%.100s' (this build reads '%s' and '%s')",
					       ptype, FERRY_PREDICATE_TYPE_V1,
					       FERRY_PREDICATE_TYPE);
		return ferry_error_set(FERRY_EINVALID,
				       W ": predicate type '%.100s' is not a ferry "
				       "bundle", ptype);
	}
	if ((error = ferry_json_get_array(&subject, st, "subject", W)) < 0 ||
	    (error = ferry_json_get_object(&pred, st, "predicate", W)) < 0 ||
	    (error = ferry_json_get_u64(&version, pred, "formatVersion", W)) < 0)
		return error;
	if (version != (strcmp(ptype, FERRY_PREDICATE_TYPE) ? FERRY_BUNDLE_FORMAT_V1
							       : FERRY_BUNDLE_FORMAT_VERSION))
		return ferry_error_set(FERRY_EUNSUPPORTED,
				       "unsupported bundle format version %llu for "
				       "predicate type '%s'", (unsigned long long)version,
				       ptype);
	m->version = (unsigned)version;
	if ((error = ferry_json_get_string(&channel, pred, "channel", W)) < 0 ||
	    (error = ferry_json_get_u64(&m->sequence, pred, "sequence", W)) < 0 ||
	    (error = ferry_json_get_u64(&m->base_sequence, pred, "baseSequence", W)) < 0 ||
	    (error = ferry_json_get_string(&created, pred, "created", W)) < 0 ||
	    (error = ferry_json_get_string(&expires, pred, "expires", W)) < 0)
		return error;
	if (!ferry_manifest_channel_valid(channel))
		return ferry_error_set(FERRY_EINVALID, W ": malformed channel name '%.80s'",
				       channel);
	free(m->channel);
	if (!(m->channel = strdup(channel)))
		return ferry_error_oom();
	if (m->sequence == 0 || m->base_sequence >= m->sequence)
		return ferry_error_set(FERRY_EINVALID,
				       W ": sequence %llu with base %llu is not valid",
				       (unsigned long long)m->sequence,
				       (unsigned long long)m->base_sequence);
	if ((error = ferry_time_parse(&m->created, created)) < 0 ||
	    (error = ferry_time_parse(&m->expires, expires)) < 0)
		return error;
	if (m->expires <= m->created)
		return ferry_error_set(FERRY_EINVALID, W ": expires before it was created");
	*pred_out = pred;
	return 0;
}

/* Format 2's own predicate fields: the contents entry, the bindings' kind
 * and the state they leave. */
static int parse_v2(ferry_manifest *m, json_t *pred)
{
	json_t *contents, *state, *vols;
	const char *sha, *bindings;
	uint64_t count;
	int error;

	if ((error = ferry_json_get_object(&contents, pred, "contents", W)) < 0 ||
	    (error = ferry_json_get_u64(&m->contents_size, contents, "size", W " contents")) < 0 ||
	    (error = ferry_json_get_string(&sha, contents, "sha256", W " contents")) < 0)
		return error;
	if (!ferry_sha256_hex_valid(sha))
		return ferry_error_set(FERRY_EINVALID, W ": contents has a malformed sha256");
	if (m->contents_size > FERRY_CONTENTS_MAX_SIZE)
		return ferry_error_set(FERRY_ETOOBIG, W ": contents of %llu bytes, over the "
				       "%u byte limit", (unsigned long long)m->contents_size,
				       FERRY_CONTENTS_MAX_SIZE);
	memcpy(m->contents_sha256, sha, sizeof(m->contents_sha256));
	if ((error = ferry_json_get_string(&bindings, pred, "bindings", W)) < 0 ||
	    (error = ferry_json_get_object(&state, pred, "state", W)) < 0 ||
	    (error = ferry_json_get_u64(&count, state, "images", W " state")) < 0 ||
	    (error = ferry_json_get_string(&sha, state, "sha256", W " state")) < 0)
		return error;
	if (!strcmp(bindings, "all"))
		m->bindings_all = 1;
	else if (!strcmp(bindings, "changes"))
		m->bindings_all = 0;
	else
		return ferry_error_set(FERRY_EINVALID, W ": 'bindings' is '%.40s', not "
				       "'all' or 'changes'", bindings);
	if (!m->bindings_all && m->base_sequence == 0)
		return ferry_error_set(FERRY_EINVALID, W ": a full bundle must carry all "
				       "its bindings");
	if (!ferry_sha256_hex_valid(sha) || count > FERRY_MANIFEST_MAX_IMAGES)
		return ferry_error_set(FERRY_EINVALID, W ": malformed state");
	memcpy(m->state_sha256, sha, sizeof(m->state_sha256));
	m->state_images = (size_t)count;
	if ((vols = json_object_get(pred, "volumes")))
		m->pending_volumes = json_incref(vols);
	m->contents_pending = 1;
	return 0;
}

int ferry_manifest__complete(ferry_manifest *m)
{
	json_t *vols = m->pending_volumes;
	int error;

	m->pending_volumes = NULL;
	if (m->nmembers == 0)
		error = ferry_error_set(FERRY_EINVALID, W ": the contents lists no member");
	else if ((error = check_unique_members(m)) == 0 &&
		 (error = parse_volumes(m, vols)) == 0)
		error = check_repo_bundles(m);
	json_decref(vols);
	if (!error)
		m->contents_pending = 0;
	return error;
}

int ferry_manifest_parse(ferry_manifest **out, const void *data, size_t len)
{
	ferry_manifest *m = NULL;
	json_t *st = NULL, *pred = NULL, *want = NULL;
	int error;

	if (len > FERRY_MANIFEST_MAX_SIZE)
		return ferry_error_set(FERRY_ETOOBIG,
				       W " is larger than the %u byte limit",
				       FERRY_MANIFEST_MAX_SIZE);
	if ((error = ferry_manifest_new(&m, "")) < 0 ||
	    (error = ferry_json_parse(&st, data, len, W)) < 0 ||
	    (error = parse_header(m, st, &pred)) < 0)
		goto done;
	if (m->version == FERRY_BUNDLE_FORMAT_V1) {
		if ((error = parse_members(m, json_object_get(pred, "members"))) < 0 ||
		    (error = check_unique_members(m)) < 0 ||
		    (error = parse_volumes(m, json_object_get(pred, "volumes"))) < 0 ||
		    (error = parse_images(m, pred)) < 0 ||
		    (error = parse_prereqs(m, pred)) < 0 ||
		    (error = parse_repos(m, pred)) < 0 ||
		    (error = check_repo_bundles(m)) < 0 ||
		    (error = parse_sources(m, pred)) < 0 ||
		    (error = build_subjects(&want, m, 1)) < 0)
			goto done;
	} else if ((error = parse_v2(m, pred)) < 0 ||
		   (error = parse_repos(m, pred)) < 0 ||
		   (error = parse_sources(m, pred)) < 0 ||
		   (error = build_subjects_v2(&want, m, m->contents_sha256)) < 0) {
		goto done;
	}
	/* The subjects restate the bindings for in-toto tools; they must agree. */
	if (!json_equal(want, json_object_get(st, "subject"))) {
		error = ferry_error_set(FERRY_EINVALID,
					W ": subjects do not match the image and git bindings");
		goto done;
	}
	if ((error = ferry_sha256_hex(m->id, data, len)) < 0)
		goto done;
	*out = m;
	m = NULL;
done:
	json_decref(want);
	json_decref(st);
	ferry_manifest_free(m);
	return error;
}
