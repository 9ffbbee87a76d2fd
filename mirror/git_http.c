/*
 * git over HTTP (the smart protocol, version 0/1, stateless) for every
 * repository in the store: clients clone and fetch with stock git.
 *
 *   GET  /git/<name>.git/info/refs?service=git-upload-pack   ref advertisement
 *   POST /git/<name>.git/git-upload-pack                       negotiation + pack
 *
 * Clients asking for protocol v2 fall back to this. Negotiation follows
 * upload-pack without multi_ack: the first common "have" is ACKed, a batch
 * with none is NAKed, and after "done" the pack holds what the wants reach
 * minus what the common haves reach, sent over side-band-64k.
 *
 * Only the objects the advertisement names (HEAD, each ref's tip, and the
 * commit an annotated tag peels to) may be wanted, as stock upload-pack
 * allows without uploadpack.allowTipSHA1InWant: a want of anything else,
 * even an object reachable from a tip, is refused with an ERR pkt-line
 * before any pack is built. So history rewritten away, which stays in the
 * store's object database until gc, is never served by its id.
 */
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
#include "buf.h"
#include "fs.h"
#include "manifest.h"
#include "private.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#define REQUEST_MAX FERRY_MIRROR_GIT_BODY_MAX    /* an upload-pack request, inflated */
#define CAPS "side-band-64k ofs-delta agent=ferry/" FERRY_VERSION

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

int ferry_mirror__git_split_url(const char *url, char *name, size_t len, const char **rest)
{
	const char *p = url + 5, *end = strstr(p, ".git/");

	if (!end || (size_t)(end - p) >= len)
		return -1;
	memcpy(name, p, (size_t)(end - p));
	name[end - p] = '\0';
	*rest = end + 5;
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
	int first = 1;
	enum MHD_Result ret;

	if (!service || strcmp(service, "git-upload-pack"))
		return ferry_mirror__error(c, r, 403, "DENIED",
					   "only the smart protocol's git-upload-pack is served");
	if (open_repo(&repo, m, name) < 0)
		return ferry_mirror__error(c, r, 404, "NAME_UNKNOWN", "no such repository");
	pkt(&out, "# service=git-upload-pack\n");
	ferry_buf_puts(&out, "0000");
	if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
		snprintf(symref, sizeof(symref), " symref=HEAD:%s", git_reference_symbolic_target(head));
	if (git_reference_name_to_id(&oid, repo, "HEAD") == 0) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		pkt(&out, "%s HEAD%c%s%s\n", hex, '\0', CAPS, symref);
		first = 0;
	}
	if (git_reference_iterator_new(&it, repo) == 0) {
		while (git_reference_next(&ref, it) == 0) {
			git_object *peeled = NULL;

			if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
			    !strncmp(git_reference_name(ref), "refs/", 5)) {
				git_oid_tostr(hex, sizeof(hex), git_reference_target(ref));
				if (first)
					pkt(&out, "%s %s%c%s\n", hex, git_reference_name(ref), '\0', CAPS);
				else
					pkt(&out, "%s %s\n", hex, git_reference_name(ref));
				first = 0;
				/* annotated tags: also advertise what they point at */
				if (git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) == 0 &&
				    git_oid_cmp(git_object_id(peeled), git_reference_target(ref))) {
					git_oid_tostr(hex, sizeof(hex), git_object_id(peeled));
					pkt(&out, "%s %s^{}\n", hex, git_reference_name(ref));
				}
				git_object_free(peeled);
			}
			git_reference_free(ref);
		}
	}
	if (first)   /* an empty repository still names its capabilities */
		pkt(&out, "%s capabilities^{}%c%s\n",
		    "0000000000000000000000000000000000000000", '\0', CAPS);
	ferry_buf_puts(&out, "0000");
	git_reference_iterator_free(it);
	git_reference_free(head);
	git_repository_free(repo);
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
	char head[64];          /* "ACK <id>\n" or "NAK\n", as a pkt-line */
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
				rc = git_revwalk_push(walk, git_object_id(commit));
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
	if (fputs(job->head, sink.out) < 0 || git_packbuilder_insert_walk(pb, walk) < 0 ||
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

int ferry_mirror__upload_line(git_oid *oid, int *sideband, const char *line)
{
	*sideband = 0;
	if (!strncmp(line, "want ", 5) && git_oid_fromstrn(oid, line + 5, GIT_OID_HEXSZ) == 0) {
		*sideband = strstr(line + 5, " side-band-64k") != NULL;
		return FERRY_UPLOAD_WANT;
	}
	if (!strncmp(line, "have ", 5) && git_oid_fromstrn(oid, line + 5, GIT_OID_HEXSZ) == 0)
		return FERRY_UPLOAD_HAVE;
	if (!strcmp(line, "done"))
		return FERRY_UPLOAD_DONE;
	if (strncmp(line, "shallow ", 8) && strncmp(line, "deepen", 6))
		return FERRY_UPLOAD_IGNORED;   /* as upload-pack ignores what it does not ask for */
	return FERRY_UPLOAD_REFUSED;
}

static enum MHD_Result upload_pack(ferry_mirror *m, struct MHD_Connection *c,
				   ferry_request *r, const char *name, ferry_buf *body)
{
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
	git_repository *repo = NULL;
	ferry_pack_job *job = NULL;
	ferry_buf out = FERRY_BUF_INIT;
	git_oid oid, common;
	oid_set tips = { NULL, 0, 0 };
	char refused[GIT_OID_HEXSZ + 1] = "";
	size_t at = 0;
	int done = 0, have_common = 0, bad = 0;
	enum MHD_Result ret;

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
	/* pkt-lines: want*, flush, have*, (flush | done) */
	while (!bad && !*refused) {
		char *line = NULL;
		int caps = 0, kind = ferry_mirror__pkt_next(&line, body, &at);

		if (kind <= 0) {
			bad = kind < 0;
			break;
		}
		kind = ferry_mirror__upload_line(&oid, &caps, line);
		free(line);
		if (kind == FERRY_UPLOAD_WANT) {
			if (job->nwants == 0 && caps)
				job->sideband = 1;
			if (!oid_listed(&tips, &oid))
				/* Only what the advertisement names may be wanted:
				 * history rewritten away stays in the store's
				 * object database until gc, and must not be
				 * served by its id. */
				git_oid_tostr(refused, sizeof(refused), &oid);
			else if (oids_add(&job->wants, &job->nwants, &oid) < 0)
				bad = 1;
		} else if (kind == FERRY_UPLOAD_HAVE) {
			git_commit *commit = NULL;

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
			done = 1;
		} else if (kind == FERRY_UPLOAD_REFUSED) {
			bad = 1;   /* shallow clones are not offered */
		}
	}
respond:
	free(tips.ids);
	git_repository_free(repo);
	if (*refused) {
		/* as upload-pack answers: an ERR pkt-line, no pack */
		ferry_mirror__pack_job_free(job);
		pkt(&out, "ERR upload-pack: not our ref %s\n", refused);
		ret = send_buf(c, r, &out, "application/x-git-upload-pack-result");
		ferry_buf_dispose(&out);
		return ret;
	}
	if (bad || !job || job->nwants == 0) {
		ferry_mirror__pack_job_free(job);
		return ferry_mirror__error(c, r, 400, "BAD_REQUEST",
					   "malformed upload-pack request, or unknown object wanted");
	}
	if (have_common) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), &common);
		pkt(&out, "ACK %s\n", hex);
	} else {
		pkt(&out, "NAK\n");
	}
	if (!done) {   /* negotiation continues: no pack yet */
		ferry_mirror__pack_job_free(job);
		ret = send_buf(c, r, &out, "application/x-git-upload-pack-result");
		ferry_buf_dispose(&out);
		return ret;
	}
	snprintf(job->head, sizeof(job->head), "%s", out.ptr ? out.ptr : "");
	ferry_buf_dispose(&out);
	ferry_buf_dispose(body);   /* read; not needed while the job waits */
	r->job = job;
	if (pack_submit(m, job) < 0) {
		r->job = NULL;
		ferry_mirror__pack_job_free(job);
		return ferry_mirror__busy(c, r, "too many pack requests at once, try again");
	}
	return MHD_YES;
}

enum MHD_Result ferry_mirror__git(ferry_mirror *m, struct MHD_Connection *c,
				  ferry_request *r, const char *url, const char *method,
				  ferry_buf *body)
{
	char name[256];
	const char *rest;

	if (ferry_mirror__git_split_url(url, name, sizeof(name), &rest) < 0)
		return ferry_mirror__error(c, r, 404, "NAME_INVALID", "no such repository");
	if (!strcmp(method, "GET") && !strcmp(rest, "info/refs"))
		return advertise(m, c, r, name);
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
