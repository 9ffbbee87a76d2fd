/*
 * git over HTTP (the smart protocol, version 0/1, stateless) for every
 * repository in the store: clients clone and fetch with stock git.
 *
 *   GET  /git/<name>[.git]/info/refs?service=git-upload-pack   ref advertisement
 *   POST /git/<name>[.git]/git-upload-pack                       negotiation + pack
 *
 * Clients asking for protocol v2 fall back to this. Negotiation follows
 * upload-pack without multi_ack: the first common "have" is ACKed, a batch
 * with none is NAKed, and after "done" the pack holds what the wants reach
 * minus what the common haves reach, sent over side-band-64k. Shallow
 * clones and fetches (deepen, deepen-relative, deepen-since) answer with
 * the shallow-info section first; partial clones (filter) and deepen-not
 * are refused with an ERR pkt-line, as is any push (the mirror is
 * read-only), so that git prints the reason.
 *
 * Only the objects the advertisement names (HEAD, each ref's tip, and the
 * commit an annotated tag peels to) may be wanted, as stock upload-pack
 * allows without uploadpack.allowTipSHA1InWant: a want of anything else,
 * even an object reachable from a tip, is refused with an ERR pkt-line
 * before any pack is built. So history rewritten away, which stays in the
 * store's object database until gc, is never served by its id.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/repository.h>
#include <zlib.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "fs.h"
#include "manifest.h"
#include "private.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#define REQUEST_MAX FERRY_MIRROR_GIT_BODY_MAX    /* an upload-pack request, inflated */
/* What the negotiation below implements; "filter" is named so that a
 * partial clone's request reaches the mirror and is refused with a
 * sentence (unadvertised, git ignores --filter and clones everything). */
#define CAPS "side-band-64k ofs-delta shallow deepen-since deepen-relative filter " \
	     "agent=ferry/" FERRY_VERSION

static int pkt(ferry_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int pkt(ferry_buf *out, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || n + 4 > (int)sizeof(line))
		return -1;
	/* the line may hold a NUL (before the capabilities): copy its bytes */
	if (ferry_buf_printf(out, "%04x", n + 4) < 0)
		return -1;
	return ferry_buf_put(out, line, (size_t)n);
}

/* The smart protocol's endpoints, found after a repository name that
 * lacks ".git" (as git http-backend serves "/repo/info/refs" too). */
static const char *const endpoints[] = { "/info/refs", "/git-upload-pack", "/git-receive-pack" };

int ferry_mirror__git_split_url(const char *url, char *name, size_t len, const char **rest)
{
	const char *p = url + 5, *end = strstr(p, ".git/");
	size_t i, n;

	if (end) {
		*rest = end + 5;
	} else {
		for (i = 0; i < sizeof(endpoints) / sizeof(*endpoints) && !end; i++) {
			size_t e = strlen(endpoints[i]);

			n = strlen(p);
			if (n > e && !strcmp(p + n - e, endpoints[i]))
				end = p + n - e;
		}
		if (!end)
			return -1;
		*rest = end + 1;
	}
	if ((size_t)(end - p) >= len)
		return -1;
	memcpy(name, p, (size_t)(end - p));
	name[end - p] = '\0';
	return ferry_git_repo_name_valid(name) ? 0 : -1;
}

static int open_repo(git_repository **out, ferry_mirror *m, const char *name)
{
	ferry_buf path = FERRY_BUF_INIT;
	int rc = -1;

	if (ferry_store_path_repo(&path, m->store, name) == 0 &&
	    ferry_fs_exists(path.ptr))
		rc = git_repository_open_bare(out, path.ptr);
	ferry_buf_dispose(&path);
	return rc;
}

static enum MHD_Result send_buf(struct MHD_Connection *c, ferry_request *r,
				ferry_buf *b, const char *type)
{
	size_t len = b->size;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, ferry_buf_detach(b), MHD_RESPMEM_MUST_FREE);

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return ferry_mirror__send(c, r, 200, resp, len);
}

static enum MHD_Result advertise(ferry_mirror *m, struct MHD_Connection *c,
				 ferry_request *r, const char *name)
{
	const char *service = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "service");
	git_repository *repo = NULL;
	git_reference_iterator *it = NULL;
	git_reference *ref, *head = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	char hex[GIT_OID_HEXSZ + 1], symref[300] = "";
	git_oid oid;
	int first = 1, bad;
	enum MHD_Result ret;

	if (!service || strcmp(service, "git-upload-pack"))
		return ferry_mirror__error(c, r, 403, "DENIED",
					   "only the smart protocol's git-upload-pack is served");
	if (open_repo(&repo, m, name) < 0)
		return ferry_mirror__error(c, r, 404, "NAME_UNKNOWN", "no such repository");
	/* a line left out would tell the client a ref does not exist */
	bad = pkt(&out, "# service=git-upload-pack\n") < 0 || ferry_buf_puts(&out, "0000") < 0;
	if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
		snprintf(symref, sizeof(symref), " symref=HEAD:%s", git_reference_symbolic_target(head));
	if (git_reference_name_to_id(&oid, repo, "HEAD") == 0) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		if (pkt(&out, "%s HEAD%c%s%s\n", hex, '\0', CAPS, symref) < 0)
			bad = 1;
		first = 0;
	}
	if (!bad && git_reference_iterator_new(&it, repo) < 0)
		bad = 1;
	while (!bad) {
		git_object *peeled = NULL;
		int got = git_reference_next(&ref, it);

		if (got != 0) {
			/* a read error is not the end of the list */
			bad = got != GIT_ITEROVER;
			break;
		}
		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    !strncmp(git_reference_name(ref), "refs/", 5)) {
			git_oid_tostr(hex, sizeof(hex), git_reference_target(ref));
			if ((first ? pkt(&out, "%s %s%c%s\n", hex, git_reference_name(ref), '\0',
					 CAPS)
				   : pkt(&out, "%s %s\n", hex, git_reference_name(ref))) < 0)
				bad = 1;
			first = 0;
			/* annotated tags: also advertise what they point at */
			if (git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) == 0 &&
			    git_oid_cmp(git_object_id(peeled), git_reference_target(ref))) {
				git_oid_tostr(hex, sizeof(hex), git_object_id(peeled));
				if (pkt(&out, "%s %s^{}\n", hex, git_reference_name(ref)) < 0)
					bad = 1;
			}
			git_object_free(peeled);
		}
		git_reference_free(ref);
	}
	if (first && !bad &&   /* an empty repository still names its capabilities */
	    pkt(&out, "%s capabilities^{}%c%s\n",
		"0000000000000000000000000000000000000000", '\0', CAPS) < 0)
		bad = 1;
	if (!bad && ferry_buf_puts(&out, "0000") < 0)
		bad = 1;
	git_reference_iterator_free(it);
	git_reference_free(head);
	git_repository_free(repo);
	if (bad) {
		ferry_buf_dispose(&out);
		return ferry_mirror__error(c, r, 500, "UNKNOWN",
					   "cannot list the repository's refs");
	}
	ret = send_buf(c, r, &out, "application/x-git-upload-pack-advertisement");
	ferry_buf_dispose(&out);
	return ret;
}

/* The object ids the advertisement names: HEAD, each refs/ tip and the
 * commit an annotated tag peels to; sorted for oid_listed(). */
typedef struct {
	git_oid *ids;
	size_t n, cap;
} oid_set;

static int oid_set_add(oid_set *s, const git_oid *id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		git_oid *grown = realloc(s->ids, cap * sizeof(*grown));

		if (!grown)
			return -1;
		s->ids = grown;
		s->cap = cap;
	}
	git_oid_cpy(&s->ids[s->n++], id);
	return 0;
}

static int oid_order(const void *a, const void *b)
{
	return git_oid_cmp(a, b);
}

static int advertised_tips(oid_set *out, git_repository *repo)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	git_oid oid;
	int error = 0;

	if (git_reference_name_to_id(&oid, repo, "HEAD") == 0 && oid_set_add(out, &oid) < 0)
		return -1;
	if (git_reference_iterator_new(&it, repo) < 0)
		return -1;
	while (!error && git_reference_next(&ref, it) == 0) {
		git_object *peeled = NULL;

		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    !strncmp(git_reference_name(ref), "refs/", 5)) {
			error = oid_set_add(out, git_reference_target(ref));
			if (!error && git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) == 0)
				error = oid_set_add(out, git_object_id(peeled));
			git_object_free(peeled);
		}
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	if (out->n)
		qsort(out->ids, out->n, sizeof(*out->ids), oid_order);
	return error;
}

static int oid_listed(const oid_set *s, const git_oid *id)
{
	return s->n && bsearch(id, s->ids, s->n, sizeof(*s->ids), oid_order) != NULL;
}

/* Inflate a gzip request body in place (git compresses large requests). */
int ferry_mirror__gunzip(ferry_buf *body)
{
	ferry_buf out = FERRY_BUF_INIT;
	z_stream z;
	unsigned char chunk[65536];
	int rc;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)body->ptr;
	z.avail_in = (uInt)body->size;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		if ((rc != Z_OK && rc != Z_STREAM_END) ||
		    ferry_buf_put(&out, chunk, sizeof(chunk) - z.avail_out) < 0 ||
		    out.size > REQUEST_MAX) {
			rc = Z_DATA_ERROR;
			break;
		}
	} while (rc != Z_STREAM_END);
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		ferry_buf_dispose(&out);
		return -1;
	}
	ferry_buf_dispose(body);
	*body = out;
	return 0;
}

/*
 * Shallow clones (the "shallow", "deepen", "deepen-relative" and
 * "deepen-since" capabilities). The request names the client's shallow
 * commits and how deep it wants history; the answer starts with the
 * shallow-info section ("shallow <id>" for each new boundary commit,
 * "unshallow <id>" for each of the client's boundaries that now gets its
 * parents, then a flush), and the pack holds every commit of the region so
 * chosen that the client does not already have, each with its whole tree.
 *
 * The region is walked from the wants only (each already checked against
 * the advertisement): the client's shallow and have lines are compared with
 * it, never walked from on their own, so they cannot reach history that no
 * advertised tip reaches.
 */
static int oids_add(git_oid **ids, size_t *n, const git_oid *id)
{
	git_oid *grown;

	if (!(*n & (*n - 1)) || *n == 0) {   /* grow at powers of two */
		grown = realloc(*ids, (*n ? *n * 2 : 4) * sizeof(*grown));
		if (!grown)
			return -1;
		*ids = grown;
	}
	git_oid_cpy(&(*ids)[(*n)++], id);
	return 0;
}

typedef struct {
	git_oid *ids;         /* open addressing; a zero id is an empty slot */
	unsigned char *flags;
	size_t n, cap;
} oid_table;

#define IN_REGION 1    /* chosen for the client's history */
#define BOUNDARY 2     /* in the region, some parent left out: shallow */
#define CLIENT_SHALLOW 4
#define CLIENT_HAS 8
#define EDGE 16        /* the client has it, next to commits it gets */
#define EDGES_MAX 64   /* edge trees walked to leave out what the client has */

static size_t slot_of(const oid_table *t, const git_oid *id)
{
	size_t h, i;

	memcpy(&h, id->id, sizeof(h));
	for (i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1))
		if (git_oid_is_zero(&t->ids[i]) || git_oid_equal(&t->ids[i], id))
			return i;
}

/* The flags of `id` (0 when absent). */
static int table_get(const oid_table *t, const git_oid *id)
{
	size_t i;

	if (!t->cap)
		return 0;
	i = slot_of(t, id);
	return git_oid_is_zero(&t->ids[i]) ? 0 : t->flags[i];
}

/* Set `flags` on `id`, adding it; -1 on OOM. */
static int table_set(oid_table *t, const git_oid *id, int flags)
{
	size_t i;

	if (git_oid_is_zero(id))
		return 0;
	if ((t->n + 1) * 2 > t->cap) {
		oid_table grown = { NULL, NULL, 0, t->cap ? t->cap * 2 : 64 };

		if (!(grown.ids = calloc(grown.cap, sizeof(*grown.ids))) ||
		    !(grown.flags = calloc(grown.cap, 1))) {
			free(grown.ids);
			return -1;
		}
		for (i = 0; i < t->cap; i++)
			if (!git_oid_is_zero(&t->ids[i])) {
				size_t j = slot_of(&grown, &t->ids[i]);

				git_oid_cpy(&grown.ids[j], &t->ids[i]);
				grown.flags[j] = t->flags[i];
				grown.n++;
			}
		free(t->ids);
		free(t->flags);
		*t = grown;
	}
	i = slot_of(t, id);
	if (git_oid_is_zero(&t->ids[i])) {
		git_oid_cpy(&t->ids[i], id);
		t->n++;
	}
	t->flags[i] |= (unsigned char)flags;
	return 0;
}

static void table_dispose(oid_table *t)
{
	free(t->ids);
	free(t->flags);
	memset(t, 0, sizeof(*t));
}

/* What a request asks of history (from its want, shallow and deepen lines). */
typedef struct {
	git_oid *wants;
	size_t nwants;
	git_oid *shallows;      /* the client's shallow commits */
	size_t nshallows;
	git_oid *haves;
	size_t nhaves;
	long long depth;        /* "deepen N", 0 when absent */
	long long since;        /* "deepen-since T", 0 when absent */
	int relative;           /* deepen-relative: N more below the client's boundary */
} depth_request;

typedef struct {
	git_oid id;
	long long level;
} queued;

/* Breadth first from `start` (each at level 1) through the parents into the
 * region: a commit at level `limit` (0: none), or with a parent older than
 * r->since, is a boundary; `stop` flags end the walk at a commit (kept). The
 * commits added are appended to *order. */
static int walk_region(oid_table *t, git_oid **order, size_t *norder, git_repository *repo,
		       const git_oid *start, size_t nstart, long long limit,
		       const depth_request *r, int stop)
{
	queued *q = NULL;
	size_t head = 0, n = 0, cap = 0, i;
	int error = -1;

	for (i = 0; i < nstart; i++) {
		if (FERRY_ALLOC_GROW(q, n + 1, cap) < 0)
			goto done;
		q[n].id = start[i];
		q[n++].level = 1;
	}
	while (head < n) {
		queued cur = q[head++];
		git_commit *c = NULL;
		unsigned k, np;
		int flags = table_get(t, &cur.id);

		if (head > nstart && (flags & IN_REGION))
			continue;   /* reached before, at a level no deeper */
		if (git_commit_lookup(&c, repo, &cur.id) < 0)
			continue;   /* not a commit: nothing below it */
		if (!(flags & IN_REGION) &&
		    (table_set(t, &cur.id, IN_REGION) < 0 ||
		     oids_add(order, norder, &cur.id) < 0)) {
			git_commit_free(c);
			goto done;
		}
		np = git_commit_parentcount(c);
		if (np && ((limit && cur.level >= limit) || (flags & stop))) {
			if (!(flags & stop) && table_set(t, &cur.id, BOUNDARY) < 0) {
				git_commit_free(c);
				goto done;
			}
			git_commit_free(c);
			continue;
		}
		for (k = 0; k < np; k++) {
			const git_oid *pid = git_commit_parent_id(c, k);

			if (r->since) {
				git_commit *pc = NULL;
				int old = git_commit_lookup(&pc, repo, pid) == 0 &&
					  git_commit_time(pc) < r->since;

				git_commit_free(pc);
				if (old) {
					if (table_set(t, &cur.id, BOUNDARY) < 0)
						break;
					continue;
				}
			}
			if (table_get(t, pid) & IN_REGION)
				continue;
			if (FERRY_ALLOC_GROW(q, n + 1, cap) < 0)
				break;
			q[n].id = *pid;
			q[n++].level = cur.level + 1;
		}
		git_commit_free(c);
		if (k < np)
			goto done;
	}
	error = 0;
done:
	free(q);
	return error;
}

/*
 * Choose the region `r` asks for: the shallow-info section into `section`
 * and the commits to send into *out (caller frees; the commits the client
 * has are left out). 0, or -1 on OOM or a broken repository.
 */
static int depth_plan(ferry_buf *section, git_oid **out, size_t *nout, git_oid **edges,
		      size_t *nedges, git_repository *repo, const depth_request *r)
{
	oid_table t = { NULL, NULL, 0, 0 };
	git_oid *order = NULL, *starts = NULL, *commits = NULL, *known = NULL;
	size_t norder = 0, nstarts = 0, ncommits = 0, nknown = 0, i, k;
	char hex[GIT_OID_HEXSZ + 1];
	int error = -1;

	*out = *edges = NULL;
	*nout = *nedges = 0;
	for (i = 0; i < r->nshallows; i++)
		if (table_set(&t, &r->shallows[i], CLIENT_SHALLOW) < 0)
			goto done;
	/* the commits the wants name (annotated tags peeled) */
	for (i = 0; i < r->nwants; i++) {
		git_object *obj = NULL, *commit = NULL;

		if (git_object_lookup(&obj, repo, &r->wants[i], GIT_OBJECT_ANY) == 0 &&
		    git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) == 0 &&
		    oids_add(&starts, &nstarts, git_object_id(commit)) < 0) {
			git_object_free(commit);
			git_object_free(obj);
			goto done;
		}
		git_object_free(commit);
		git_object_free(obj);
	}
	if (r->relative) {
		/* all the way down to the client's boundary, then N more */
		size_t first;

		if (walk_region(&t, &order, &norder, repo, starts, nstarts, 0, r,
				CLIENT_SHALLOW) < 0)
			goto done;
		free(starts);
		starts = NULL;
		nstarts = 0;
		for (first = 0; first < norder; first++)
			if ((table_get(&t, &order[first]) & CLIENT_SHALLOW) &&
			    oids_add(&starts, &nstarts, &order[first]) < 0)
				goto done;
		if (walk_region(&t, &order, &norder, repo, starts, nstarts, r->depth + 1, r, 0) < 0)
			goto done;
	} else if (walk_region(&t, &order, &norder, repo, starts, nstarts,
			       r->depth, r, 0) < 0) {
		goto done;
	}
	/* what the client has: its haves and their parents in the region,
	 * down to its own boundary */
	free(starts);
	starts = NULL;
	nstarts = 0;
	for (i = 0; i < r->nhaves + r->nshallows; i++) {
		const git_oid *id = i < r->nhaves ? &r->haves[i] : &r->shallows[i - r->nhaves];

		if ((table_get(&t, id) & (IN_REGION | CLIENT_HAS)) == IN_REGION &&
		    (table_set(&t, id, CLIENT_HAS) < 0 || oids_add(&starts, &nstarts, id) < 0))
			goto done;
	}
	for (i = 0; i < nstarts; i++) {
		git_commit *c = NULL;
		unsigned np;

		if (table_get(&t, &starts[i]) & CLIENT_SHALLOW ||
		    git_commit_lookup(&c, repo, &starts[i]) < 0)
			continue;
		for (np = 0; np < git_commit_parentcount(c); np++) {
			const git_oid *pid = git_commit_parent_id(c, np);

			if ((table_get(&t, pid) & (IN_REGION | CLIENT_HAS)) == IN_REGION &&
			    (table_set(&t, pid, CLIENT_HAS) < 0 ||
			     oids_add(&starts, &nstarts, pid) < 0)) {
				git_commit_free(c);
				goto done;
			}
		}
		git_commit_free(c);
	}
	/* the shallow-info section: new boundaries, then the client's
	 * boundaries that get their parents now */
	for (k = 0; k < 2; k++)
		for (i = 0; i < norder; i++) {
			int f = table_get(&t, &order[i]);

			git_oid_tostr(hex, sizeof(hex), &order[i]);
			if (k == 0 && (f & BOUNDARY) && !(f & CLIENT_SHALLOW) &&
			    pkt(section, "shallow %s\n", hex) < 0)
				goto done;
			if (k == 1 && (f & CLIENT_SHALLOW) && !(f & BOUNDARY) &&
			    pkt(section, "unshallow %s\n", hex) < 0)
				goto done;
		}
	for (i = 0; i < norder; i++)
		if (!(table_get(&t, &order[i]) & CLIENT_HAS) &&
		    oids_add(&commits, &ncommits, &order[i]) < 0)
			goto done;
	/* the edges: commits the client has next to those it gets (a
	 * parent, or its own boundary that gets its parents); what their
	 * trees hold is not sent again */
	for (i = 0; i < norder && nknown < EDGES_MAX; i++) {
		int f = table_get(&t, &order[i]);
		git_commit *c = NULL;
		unsigned np;

		if ((f & CLIENT_HAS) && (f & CLIENT_SHALLOW) && !(f & (BOUNDARY | EDGE))) {
			if (table_set(&t, &order[i], EDGE) < 0 || oids_add(&known, &nknown, &order[i]) < 0)
				goto done;
			continue;
		}
		if ((f & CLIENT_HAS) || git_commit_lookup(&c, repo, &order[i]) < 0)
			continue;
		for (np = 0; np < git_commit_parentcount(c) && nknown < EDGES_MAX; np++) {
			const git_oid *pid = git_commit_parent_id(c, np);

			if ((table_get(&t, pid) & (CLIENT_HAS | EDGE)) == CLIENT_HAS &&
			    (table_set(&t, pid, EDGE) < 0 || oids_add(&known, &nknown, pid) < 0)) {
				git_commit_free(c);
				goto done;
			}
		}
		git_commit_free(c);
	}
	*out = commits;
	*nout = ncommits;
	*edges = known;
	*nedges = nknown;
	commits = known = NULL;
	error = 0;
done:
	free(commits);
	free(known);
	free(starts);
	free(order);
	table_dispose(&t);
	return error;
}

/*
 * A pack request after its "done": the wants and haves it named, queued for
 * one of the builder threads (pack_builder) while its connection is
 * suspended. The builder writes the reply (ACK/NAK, then the pack over
 * side-band-64k) to an unlinked temporary file and resumes the connection,
 * which answers with the file: no pack is ever held whole in memory, and at
 * most max_pack_builds are built at once.
 */
enum { JOB_QUEUED, JOB_BUILDING, JOB_DONE, JOB_FAILED, JOB_EXPIRED };

struct ferry_pack_job {
	ferry_pack_job *next;
	struct MHD_Connection *conn;
	char name[256];
	git_oid *wants;
	size_t nwants;
	git_oid *haves;
	size_t nhaves;
	git_oid *commits;       /* a shallow request: the commits to send, or NULL */
	size_t ncommits;
	git_oid *edges;         /* commits the client has whose trees are not sent */
	size_t nedges;
	int depth;              /* a shallow request (commits names what to send) */
	char *head;             /* shallow-info, then "ACK <id>" or "NAK", as pkt-lines */
	int sideband;
	int state;
	uint64_t deadline_us;   /* queued until */
	int fd;                 /* the reply, once JOB_DONE */
	uint64_t size;
};

void ferry_mirror__pack_job_free(ferry_pack_job *job)
{
	if (!job)
		return;
	if (job->fd >= 0)
		close(job->fd);
	free(job->wants);
	free(job->haves);
	free(job->commits);
	free(job->edges);
	free(job->head);
	free(job);
}

typedef struct {
	FILE *out;
	int sideband;
	ferry_mirror *m;
} pack_sink;

static int pack_chunk(void *buf, size_t len, void *payload)
{
	pack_sink *s = payload;
	const char *p = buf;

	if (atomic_load(&s->m->pack_stopping))
		return -1;
	if (!s->sideband)
		return fwrite(buf, 1, len, s->out) == len ? 0 : -1;
	while (len > 0) {
		size_t n = len < 65515 ? len : 65515;

		if (fprintf(s->out, "%04zx\001", n + 5) != 5 || fwrite(p, 1, n, s->out) != n)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int pack_progress(int stage, uint32_t current, uint32_t total, void *payload)
{
	ferry_mirror *m = payload;

	(void)stage;
	(void)current;
	(void)total;
	return atomic_load(&m->pack_stopping) ? -1 : 0;
}

/* An unlinked temporary file in $TMPDIR (or /tmp), opened for writing and
 * reading back. */
static FILE *spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	ferry_buf path = FERRY_BUF_INIT;
	FILE *f = NULL;
	int fd = -1;

	if (ferry_buf_printf(&path, "%s/ferry-pack-XXXXXX", dir && *dir ? dir : "/tmp") < 0)
		return NULL;
	if ((fd = mkstemp(path.ptr)) >= 0) {
		unlink(path.ptr);
		if (!(f = fdopen(fd, "w+")))
			close(fd);
	}
	ferry_buf_dispose(&path);
	return f;
}

/* Put in `seen` the ids of the tree `id`, its subtrees and blobs (not
 * submodule commits) that are not in it yet; with `pb`, insert each of
 * them in the pack too. Subtrees seen before are not walked again. */
static int tree_objects(oid_table *seen, git_packbuilder *pb, git_repository *repo,
			const git_oid *id)
{
	git_oid *stack = NULL;
	size_t n = 0;
	int error = -1;

	if (table_get(seen, id))
		return 0;
	if (table_set(seen, id, IN_REGION) < 0 || oids_add(&stack, &n, id) < 0 ||
	    (pb && git_packbuilder_insert(pb, id, NULL) < 0))
		goto done;
	while (n) {
		git_oid cur = stack[--n];
		git_tree *tree = NULL;
		size_t i, count;

		if (git_tree_lookup(&tree, repo, &cur) < 0)
			goto done;
		count = git_tree_entrycount(tree);
		for (i = 0; i < count; i++) {
			const git_tree_entry *e = git_tree_entry_byindex(tree, i);
			const git_oid *eid = git_tree_entry_id(e);
			git_object_t type = git_tree_entry_type(e);

			if ((type != GIT_OBJECT_TREE && type != GIT_OBJECT_BLOB) ||
			    table_get(seen, eid))
				continue;
			if (table_set(seen, eid, IN_REGION) < 0 ||
			    (pb && git_packbuilder_insert(pb, eid, git_tree_entry_name(e)) < 0) ||
			    (type == GIT_OBJECT_TREE && oids_add(&stack, &n, eid) < 0)) {
				git_tree_free(tree);
				goto done;
			}
		}
		git_tree_free(tree);
	}
	error = 0;
done:
	free(stack);
	return error;
}

/* Insert the commits of a shallow job's plan and the objects of their
 * trees the client lacks (not in its edges' trees); 0 or -1. */
static int shallow_objects(git_packbuilder *pb, git_repository *repo, const ferry_pack_job *job)
{
	oid_table seen = { NULL, NULL, 0, 0 };
	size_t i;
	int error = -1;

	for (i = 0; i < job->nedges + job->ncommits; i++) {
		int edge = i < job->nedges;
		const git_oid *id = edge ? &job->edges[i] : &job->commits[i - job->nedges];
		git_commit *c = NULL;

		int rc;

		if (git_commit_lookup(&c, repo, id) < 0)
			goto done;
		rc = edge ? 0 : git_packbuilder_insert(pb, id, NULL);
		if (rc == 0)
			rc = tree_objects(&seen, edge ? NULL : pb, repo, git_commit_tree_id(c));
		git_commit_free(c);
		if (rc < 0)
			goto done;
	}
	error = 0;
done:
	table_dispose(&seen);
	return error;
}

/* Build the reply of `job` into job->fd; 0 or -1. On the builder's thread. */
static int build_pack(ferry_mirror *m, ferry_pack_job *job)
{
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	git_revwalk *walk = NULL;
	git_packbuilder *pb = NULL;
	pack_sink sink = { NULL, job->sideband, m };
	size_t i;
	int error = -1;

	if (open_repo(&repo, m, job->name) < 0 || !(sink.out = spool_open()))
		goto done;
	/* the packbuilder's memory bounds (pack.windowMemory and friends) come
	 * from the repository's config: give it the mirror's instead */
	if (git_config_new(&cfg) < 0 ||
	    git_config_add_file_ondisk(cfg, m->pack_config, GIT_CONFIG_LEVEL_APP, repo, 0) < 0)
		goto done;
	git_repository_set_config(repo, cfg);
	if (git_revwalk_new(&walk, repo) < 0 || git_packbuilder_new(&pb, repo) < 0)
		goto done;
	git_packbuilder_set_threads(pb, 1);
	git_packbuilder_set_callbacks(pb, pack_progress, m);
	for (i = 0; i < job->nwants; i++) {
		git_object *obj = NULL, *commit = NULL;
		int rc = git_object_lookup(&obj, repo, &job->wants[i], GIT_OBJECT_ANY);

		if (!rc && git_object_type(obj) == GIT_OBJECT_TAG)
			rc = git_packbuilder_insert(pb, &job->wants[i], NULL);
		if (!rc) {
			if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) == 0)
				/* a shallow request's commits come from its plan */
				rc = job->depth ? 0 : git_revwalk_push(walk, git_object_id(commit));
			else
				rc = git_packbuilder_insert_recur(pb, &job->wants[i], NULL);
		}
		git_object_free(commit);
		git_object_free(obj);
		if (rc < 0)
			goto done;
	}
	for (i = 0; i < job->nhaves; i++)
		if (git_revwalk_hide(walk, &job->haves[i]) < 0)
			goto done;
	/* A shallow request's commits from its plan, with what their trees
	 * hold that the edges' trees do not: libgit2 1.5's walk cannot stop at
	 * a depth, nor treat the client's boundary as parentless when it
	 * hides the haves. */
	if (job->depth && shallow_objects(pb, repo, job) < 0)
		goto done;
	if (fputs(job->head, sink.out) < 0 ||
	    (!job->depth && git_packbuilder_insert_walk(pb, walk) < 0) ||
	    git_packbuilder_foreach(pb, pack_chunk, &sink) < 0 ||
	    (job->sideband && fputs("0000", sink.out) < 0) || fflush(sink.out) != 0)
		goto done;
	{
		off_t end = ftello(sink.out);

		if (end < 0 || (job->fd = dup(fileno(sink.out))) < 0)
			goto done;
		job->size = (uint64_t)end;
	}
	error = 0;
done:
	if (sink.out)
		fclose(sink.out);
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_config_free(cfg);
	git_repository_free(repo);
	return error;
}

/* Take queued jobs whose time is up off the queue; the caller holds
 * pack_lock and resumes what lands in `expired`. */
static void expire_jobs(ferry_mirror *m, ferry_pack_job **expired, int all)
{
	ferry_pack_job **p = &m->pack_queue;
	uint64_t now = ferry_mirror__now_us();

	while (*p) {
		ferry_pack_job *job = *p;

		if (all || job->deadline_us <= now) {
			*p = job->next;
			m->pack_queued--;
			job->state = JOB_EXPIRED;
			job->next = *expired;
			*expired = job;
		} else {
			p = &job->next;
		}
	}
}

static void resume_all(ferry_pack_job *list)
{
	while (list) {
		ferry_pack_job *next = list->next;

		/* after this the job belongs to its connection again */
		MHD_resume_connection(list->conn);
		list = next;
	}
}

/* A builder thread: the oldest queued job, built; queued jobs past their
 * time answered 503. */
void *ferry_mirror__pack_builder(void *payload)
{
	ferry_mirror *m = payload;

	pthread_mutex_lock(&m->pack_lock);
	for (;;) {
		ferry_pack_job *job, *expired = NULL;

		expire_jobs(m, &expired, atomic_load(&m->pack_stopping));
		if (expired) {
			pthread_mutex_unlock(&m->pack_lock);
			resume_all(expired);
			pthread_mutex_lock(&m->pack_lock);
			continue;
		}
		if (atomic_load(&m->pack_stopping))
			break;
		if (!(job = m->pack_queue)) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&m->pack_cond, &m->pack_lock, &ts);
			continue;
		}
		m->pack_queue = job->next;
		m->pack_queued--;
		job->state = JOB_BUILDING;
		pthread_mutex_unlock(&m->pack_lock);
		job->state = build_pack(m, job) == 0 ? JOB_DONE : JOB_FAILED;
		MHD_resume_connection(job->conn);
		pthread_mutex_lock(&m->pack_lock);
	}
	pthread_mutex_unlock(&m->pack_lock);
	return NULL;
}

/* Queue `job` and suspend its connection; -1 when the queue is full or the
 * mirror stops (the caller keeps the job). */
static int pack_submit(ferry_mirror *m, ferry_pack_job *job)
{
	ferry_pack_job **tail;
	int ok;

	pthread_mutex_lock(&m->pack_lock);
	ok = !atomic_load(&m->pack_stopping) && m->pack_queued < FERRY_MIRROR_PACK_QUEUE_MAX;
	if (ok) {
		for (tail = &m->pack_queue; *tail; tail = &(*tail)->next)
			;
		job->deadline_us = ferry_mirror__now_us() +
				   (uint64_t)m->pack_queue_timeout * 1000000;
		*tail = job;
		m->pack_queued++;
		/* suspended before a builder can take it and resume it */
		MHD_suspend_connection(job->conn);
		pthread_cond_signal(&m->pack_cond);
	}
	pthread_mutex_unlock(&m->pack_lock);
	return ok ? 0 : -1;
}

/* The answer to a pack request whose job came back. */
enum MHD_Result ferry_mirror__git_resumed(ferry_mirror *m, struct MHD_Connection *c,
					 ferry_request *r)
{
	ferry_pack_job *job = r->job;
	struct MHD_Response *resp;

	(void)m;
	if (job->state == JOB_EXPIRED)
		return ferry_mirror__busy(c, r, "too many pack requests at once, try again");
	if (job->state != JOB_DONE)
		return ferry_mirror__error(c, r, 500, "UNKNOWN", "cannot build the pack");
	/* MHD owns the file from here and closes it */
	resp = MHD_create_response_from_fd64(job->size, job->fd);
	if (!resp)
		return MHD_NO;
	job->fd = -1;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/x-git-upload-pack-result");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return ferry_mirror__send(c, r, 200, resp, job->size);
}

int ferry_mirror__pkt_next(char **line, const ferry_buf *body, size_t *at)
{
	*line = NULL;
	while (*at + 4 <= body->size) {
		size_t n = 0, i;

		/* Exactly four hex digits: strtoul would also take a sign, spaces
		 * or "0x", and "-004" would move *at backwards (for ever). */
		for (i = 0; i < 4; i++) {
			int d = ferry_hex_digit(body->ptr[*at + i]);

			if (d < 0)
				return -1;
			n = n << 4 | (size_t)d;
		}
		if (n == 0) {   /* flush */
			*at += 4;
			continue;
		}
		if (n < 4 || n > body->size - *at)
			return -1;
		if (!(*line = strndup(body->ptr + *at + 4, n - 4)))
			return -1;
		*at += n;
		(*line)[strcspn(*line, "\n")] = '\0';
		return 1;
	}
	return 0;
}

/* The FERRY_UPLOAD_CAP_* bits of the capabilities after a want's id. */
static int want_caps(const char *caps)
{
	int bits = 0;

	while (*caps) {
		size_t n;

		caps += strspn(caps, " ");
		n = strcspn(caps, " ");
		if (n == 13 && !strncmp(caps, "side-band-64k", n))
			bits |= FERRY_UPLOAD_CAP_SIDEBAND;
		else if (n == 15 && !strncmp(caps, "deepen-relative", n))
			bits |= FERRY_UPLOAD_CAP_DEEPEN_RELATIVE;
		caps += n;
	}
	return bits;
}

int ferry_mirror__upload_line(git_oid *oid, int *caps, const char *line)
{
	*caps = 0;
	if (!strncmp(line, "want ", 5) && git_oid_fromstrn(oid, line + 5, GIT_OID_HEXSZ) == 0) {
		if (strlen(line + 5) > GIT_OID_HEXSZ)
			*caps = want_caps(line + 5 + GIT_OID_HEXSZ);
		return FERRY_UPLOAD_WANT;
	}
	if (!strncmp(line, "have ", 5) && git_oid_fromstrn(oid, line + 5, GIT_OID_HEXSZ) == 0)
		return FERRY_UPLOAD_HAVE;
	if (!strcmp(line, "done"))
		return FERRY_UPLOAD_DONE;
	if (!strncmp(line, "shallow ", 8))
		return git_oid_fromstrn(oid, line + 8, GIT_OID_HEXSZ) == 0 &&
		       strlen(line + 8) == GIT_OID_HEXSZ ? FERRY_UPLOAD_SHALLOW
							 : FERRY_UPLOAD_REFUSED;
	if (!strncmp(line, "deepen ", 7))
		return FERRY_UPLOAD_DEEPEN;
	if (!strncmp(line, "deepen-since ", 13))
		return FERRY_UPLOAD_DEEPEN_SINCE;
	if (!strncmp(line, "filter ", 7))
		return FERRY_UPLOAD_FILTER;
	if (!strncmp(line, "deepen", 6))
		return FERRY_UPLOAD_REFUSED;   /* deepen-not: not advertised */
	return FERRY_UPLOAD_IGNORED;   /* as upload-pack ignores what it does not ask for */
}

int ferry_mirror__upload_number(long long *out, const char *line)
{
	const char *p = strchr(line, ' ');
	long long v = 0;

	if (!p || !p[1])
		return -1;
	for (p++; *p; p++) {
		if (*p < '0' || *p > '9' || v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
}

/* An ERR pkt-line with a sentence: what git prints as "remote error". */
static enum MHD_Result send_err(struct MHD_Connection *c, ferry_request *r,
				const char *type, const char *sentence)
{
	ferry_buf out = FERRY_BUF_INIT;
	enum MHD_Result ret;

	if (pkt(&out, "ERR %s\n", sentence) < 0) {
		ferry_buf_dispose(&out);
		return ferry_mirror__error(c, r, 500, "UNKNOWN", "out of memory");
	}
	ret = send_buf(c, r, &out, type);
	ferry_buf_dispose(&out);
	return ret;
}

#define RESULT_TYPE "application/x-git-upload-pack-result"

static enum MHD_Result upload_pack(ferry_mirror *m, struct MHD_Connection *c,
				   ferry_request *r, const char *name, ferry_buf *body)
{
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
	git_repository *repo = NULL;
	ferry_pack_job *job = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	depth_request dr;
	git_oid oid, common;
	oid_set tips = { NULL, 0, 0 };
	char refused[300] = "";
	size_t at = 0;
	int done = 0, have_common = 0, bad = 0, negotiating = 0;
	enum MHD_Result ret;

	memset(&dr, 0, sizeof(dr));
	if (enc && !strcmp(enc, "gzip") && ferry_mirror__gunzip(body) < 0)
		return ferry_mirror__error(c, r, 400, "BAD_REQUEST", "bad gzip request body");
	if (open_repo(&repo, m, name) < 0)
		return ferry_mirror__error(c, r, 404, "NAME_UNKNOWN", "no such repository");
	if (!(job = calloc(1, sizeof(*job))) || advertised_tips(&tips, repo) < 0) {
		bad = 1;
		goto respond;
	}
	job->fd = -1;
	job->conn = c;
	snprintf(job->name, sizeof(job->name), "%s", name);
	/* pkt-lines: want*, shallow*, [deepen*], flush, have*, (flush | done) */
	while (!bad && !*refused) {
		char *line = NULL;
		int caps = 0, kind = ferry_mirror__pkt_next(&line, body, &at);
		long long number = 0;

		if (kind <= 0) {
			bad = kind < 0;
			break;
		}
		kind = ferry_mirror__upload_line(&oid, &caps, line);
		if ((kind == FERRY_UPLOAD_DEEPEN || kind == FERRY_UPLOAD_DEEPEN_SINCE) &&
		    (ferry_mirror__upload_number(&number, line) < 0 || number <= 0))
			bad = 1;
		if (kind == FERRY_UPLOAD_FILTER)
			snprintf(refused, sizeof(refused), "this mirror does not serve partial "
				 "clones (%.60s): clone or fetch without --filter", line);
		else if (kind == FERRY_UPLOAD_REFUSED)
			snprintf(refused, sizeof(refused), "this mirror does not offer "
				 "'%.60s'", line);
		free(line);
		if (kind == FERRY_UPLOAD_WANT) {
			if (job->nwants == 0) {
				job->sideband = !!(caps & FERRY_UPLOAD_CAP_SIDEBAND);
				dr.relative = !!(caps & FERRY_UPLOAD_CAP_DEEPEN_RELATIVE);
			}
			if (!oid_listed(&tips, &oid)) {
				/* Only what the advertisement names may be wanted:
				 * history rewritten away stays in the store's
				 * object database until gc, and must not be
				 * served by its id. */
				char hex[GIT_OID_HEXSZ + 1];

				git_oid_tostr(hex, sizeof(hex), &oid);
				snprintf(refused, sizeof(refused), "upload-pack: not our ref %s", hex);
			} else if (oids_add(&job->wants, &job->nwants, &oid) < 0) {
				bad = 1;
			}
		} else if (kind == FERRY_UPLOAD_SHALLOW) {
			if (oids_add(&dr.shallows, &dr.nshallows, &oid) < 0)
				bad = 1;
		} else if (kind == FERRY_UPLOAD_DEEPEN) {
			dr.depth = number;
		} else if (kind == FERRY_UPLOAD_DEEPEN_SINCE) {
			dr.since = number;
		} else if (kind == FERRY_UPLOAD_HAVE) {
			git_commit *commit = NULL;

			negotiating = 1;
			if (git_commit_lookup(&commit, repo, &oid) == 0) {
				if (oids_add(&job->haves, &job->nhaves, &oid) < 0)
					bad = 1;
				if (!have_common) {
					have_common = 1;
					common = oid;
				}
			}
			git_commit_free(commit);
		} else if (kind == FERRY_UPLOAD_DONE) {
			done = negotiating = 1;
		}
	}
	if (!bad && !*refused && job->nwants && (dr.depth || dr.since)) {
		dr.wants = job->wants;
		dr.nwants = job->nwants;
		dr.haves = job->haves;
		dr.nhaves = job->nhaves;
		if (depth_plan(&out, &job->commits, &job->ncommits, &job->edges,
			       &job->nedges, repo, &dr) < 0 ||
		    ferry_buf_puts(&out, "0000") < 0)
			bad = 1;
		job->depth = 1;
	}
respond:
	free(dr.shallows);
	free(tips.ids);
	git_repository_free(repo);
	if (*refused) {
		/* as upload-pack answers: an ERR pkt-line, no pack */
		ferry_mirror__pack_job_free(job);
		ferry_buf_dispose(&out);
		return send_err(c, r, RESULT_TYPE, refused);
	}
	if (bad || !job || job->nwants == 0) {
		ferry_mirror__pack_job_free(job);
		ferry_buf_dispose(&out);
		return ferry_mirror__error(c, r, 400, "BAD_REQUEST",
					   "malformed upload-pack request, or unknown object wanted");
	}
	if (job->depth && !negotiating) {
		/* the first request of a shallow fetch: its shallow-info only */
		ferry_mirror__pack_job_free(job);
		ret = send_buf(c, r, &out, RESULT_TYPE);
		ferry_buf_dispose(&out);
		return ret;
	}
	if (have_common) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), &common);
		bad = pkt(&out, "ACK %s\n", hex) < 0;
	} else {
		bad = pkt(&out, "NAK\n") < 0;
	}
	if (bad) {
		ferry_mirror__pack_job_free(job);
		ferry_buf_dispose(&out);
		return ferry_mirror__error(c, r, 500, "UNKNOWN", "out of memory");
	}
	if (!done) {   /* negotiation continues: no pack yet */
		ferry_mirror__pack_job_free(job);
		ret = send_buf(c, r, &out, RESULT_TYPE);
		ferry_buf_dispose(&out);
		return ret;
	}
	if (!(job->head = ferry_buf_detach(&out))) {
		ferry_mirror__pack_job_free(job);
		return ferry_mirror__error(c, r, 500, "UNKNOWN", "out of memory");
	}
	ferry_buf_dispose(body);   /* read; not needed while the job waits */
	r->job = job;
	if (pack_submit(m, job) < 0) {
		r->job = NULL;
		ferry_mirror__pack_job_free(job);
		return ferry_mirror__busy(c, r, "too many pack requests at once, try again");
	}
	return MHD_YES;
}

/* A push: refused with a sentence git prints ("remote error: ..."), after
 * the service line a smart client looks for first. */
static enum MHD_Result refuse_push(struct MHD_Connection *c, ferry_request *r, int advert)
{
	ferry_buf out = FERRY_BUF_INIT;
	enum MHD_Result ret;

	if ((advert && (pkt(&out, "# service=git-receive-pack\n") < 0 ||
			ferry_buf_puts(&out, "0000") < 0)) ||
	    pkt(&out, "ERR this mirror is read-only: push to the site's git server, "
		"which the mirror's store is seeded from\n") < 0) {
		ferry_buf_dispose(&out);
		return ferry_mirror__error(c, r, 500, "UNKNOWN", "out of memory");
	}
	ret = send_buf(c, r, &out, advert ? "application/x-git-receive-pack-advertisement"
					 : "application/x-git-receive-pack-result");
	ferry_buf_dispose(&out);
	return ret;
}

enum MHD_Result ferry_mirror__git(ferry_mirror *m, struct MHD_Connection *c,
				  ferry_request *r, const char *url, const char *method,
				  ferry_buf *body)
{
	char name[256];
	const char *rest;

	if (ferry_mirror__git_split_url(url, name, sizeof(name), &rest) < 0)
		return ferry_mirror__error(c, r, 404, "NAME_INVALID", "no such repository");
	if (!strcmp(method, "GET") && !strcmp(rest, "info/refs")) {
		const char *service = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
								  "service");

		if (service && !strcmp(service, "git-receive-pack"))
			return refuse_push(c, r, 1);
		return advertise(m, c, r, name);
	}
	if (!strcmp(method, "POST") && !strcmp(rest, "git-receive-pack"))
		return refuse_push(c, r, 0);
	if (!strcmp(method, "POST") && !strcmp(rest, "git-upload-pack"))
		return upload_pack(m, c, r, name, body);
	if (!strcmp(rest, "git-receive-pack") || !strcmp(method, "POST"))
		return ferry_mirror__error(c, r, 403, "DENIED", "this server is read-only");
	return ferry_mirror__error(c, r, 404, "NOT_FOUND", "no such endpoint");
}

/* The packbuilder's bounds, as git config (libgit2 1.5 reads
 * pack.deltaCacheSize for both the delta cache and the size above which an
 * object is not delta-compressed: objects above 512 KiB are sent whole,
 * which also saves the delta search that costs a build most of its time). */
#define PACK_CONFIG "[pack]\n\twindowMemory = 8m\n\tdeltaCacheSize = 512k\n" \
		    "\tdeltaCacheLimit = 1000\n"

int ferry_mirror__pack_init(ferry_mirror *m, unsigned builds, unsigned queue_timeout)
{
	const char *dir = getenv("TMPDIR");
	ferry_buf path = FERRY_BUF_INIT;
	unsigned i;
	int fd, error = 0;

	pthread_mutex_init(&m->pack_lock, NULL);
	pthread_cond_init(&m->pack_cond, NULL);
	m->pack_queue_timeout = queue_timeout;
	/* libgit2's pack windows: a few small ones mapped at a time, and a
	 * small object cache, for every repository of the process */
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)1 << 20);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)8 << 20);
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)16 << 20);
	if (ferry_buf_printf(&path, "%s/ferry-mirror-pack-XXXXXX",
			     dir && *dir ? dir : "/tmp") < 0)
		return ferry_error_oom();
	if ((fd = mkstemp(path.ptr)) < 0 ||
	    write(fd, PACK_CONFIG, strlen(PACK_CONFIG)) != (ssize_t)strlen(PACK_CONFIG)) {
		error = ferry_error_set(FERRY_EIO, "cannot write '%s'", path.ptr);
		if (fd >= 0) {
			close(fd);
			unlink(path.ptr);
		}
		ferry_buf_dispose(&path);
		return error;
	}
	close(fd);
	m->pack_config = ferry_buf_detach(&path);
	if (!(m->builders = calloc(builds, sizeof(*m->builders))))
		return ferry_error_oom();
	for (i = 0; i < builds; i++) {
		if (pthread_create(&m->builders[i], NULL, ferry_mirror__pack_builder, m) != 0)
			return ferry_error_set(FERRY_ERROR, "cannot start a pack builder thread");
		m->nbuilders++;
	}
	return 0;
}

void ferry_mirror__pack_shutdown(ferry_mirror *m)
{
	unsigned i;

	if (!m->pack_config)
		return;
	pthread_mutex_lock(&m->pack_lock);
	atomic_store(&m->pack_stopping, 1);
	pthread_cond_broadcast(&m->pack_cond);
	pthread_mutex_unlock(&m->pack_lock);
	for (i = 0; i < m->nbuilders; i++)
		pthread_join(m->builders[i], NULL);
	free(m->builders);
	unlink(m->pack_config);
	free(m->pack_config);
	m->pack_config = NULL;
	pthread_cond_destroy(&m->pack_cond);
	pthread_mutex_destroy(&m->pack_lock);
}
