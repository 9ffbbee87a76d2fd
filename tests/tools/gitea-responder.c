/*
 * A stand-in for the Gitea REST API for ferry's tests (libmicrohttpd +
 * jansson). It loads a Swagger 2.0 description (tests/resources/gitea/
 * gitea-api-subset.json) and checks every request against it: the path
 * exists under basePath, the method is declared for it, the token header
 * (`Authorization: token <TOKEN>`) is present and right, every query
 * parameter is declared, and a JSON body has its schema's required fields,
 * no undeclared fields, the declared types and enum values. It answers
 * from a small in-memory model (user, organisations, repositories, hooks)
 * with status codes the description (or its handler notes) lists, and
 * appends one line per request to the log:
 *
 *   POST /api/v1/orgs 201 ok {"username":"platform","visibility":"public"}
 *   GET /api/v1/nope 404 INVALID: no such path in the description
 *
 * With --git-root DIR, creating a repository also creates the bare
 * repository DIR/<owner>/<name>.git so that git pushes can follow.
 *
 *   usage: gitea-responder --spec FILE --token TOKEN --log FILE
 *            --port-file FILE [--user LOGIN] [--org NAME]...
 *            [--repo OWNER/NAME]... [--race-repo OWNER/NAME]...
 *            [--git-root DIR]
 */
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>
#include <microhttpd.h>

extern char **environ;

#define MAX_ITEMS 256
#define MAX_BODY (1 << 20)

typedef struct {
	char name[256];
	char branch[128];
	int hidden;            /* --race-repo: GET says 404, POST says 409 */
	char hooks[8][512];
	int nhooks;
} repo;

static json_t *spec;
static const char *token, *log_path, *git_root, *login = "ferry-bot";
static char orgs[MAX_ITEMS][128];
static int norgs;
static repo repos[MAX_ITEMS];
static int nrepos;
static int next_id = 100;

typedef struct {
	char *body;
	size_t len;
	int too_big;
} upload;

static void log_line(const char *method, const char *url, unsigned status,
		     const char *verdict, const char *body)
{
	FILE *f = fopen(log_path, "a");

	if (!f)
		return;
	fprintf(f, "%s %s %u %s%s%s\n", method, url, status, verdict, body ? " " : "",
		body ? body : "");
	fclose(f);
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : strdup("");
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text,
								 MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	json_decref(j);
	MHD_add_response_header(r, "Content-Type", "application/json;charset=utf-8");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static json_t *api_error(const char *msg)
{
	return json_pack("{s:s,s:s}", "message", msg, "url", "https://gitea.example/api/swagger");
}

/* ---- the description ------------------------------------------------------ */

/* Match "/repos/{owner}/{repo}" against "/repos/a/b"; fills segs. */
static int path_matches(const char *tmpl, const char *path, char segs[4][256], int *nsegs)
{
	*nsegs = 0;
	while (*tmpl && *path) {
		if (*tmpl != '/' || *path != '/')
			return 0;
		tmpl++;
		path++;
		if (*tmpl == '{') {
			size_t n = strcspn(path, "/");

			if (n == 0 || n >= 256 || *nsegs >= 4)
				return 0;
			memcpy(segs[*nsegs], path, n);
			segs[(*nsegs)++][n] = '\0';
			tmpl = strchr(tmpl, '}');
			if (!tmpl)
				return 0;
			tmpl++;
			path += n;
		} else {
			size_t n = strcspn(tmpl, "/");

			if (strncmp(tmpl, path, n) || (path[n] && path[n] != '/'))
				return 0;
			tmpl += n;
			path += n;
		}
	}
	return !*tmpl && !*path;
}

static json_t *resolve(json_t *schema)
{
	const char *ref = json_string_value(json_object_get(schema, "$ref"));

	if (ref && !strncmp(ref, "#/definitions/", 14))
		return json_object_get(json_object_get(spec, "definitions"), ref + 14);
	return schema;
}

static int type_ok(const char *type, json_t *v)
{
	if (!type)
		return 1;
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(type, "integer"))
		return json_is_integer(v);
	if (!strcmp(type, "number"))
		return json_is_number(v);
	if (!strcmp(type, "array"))
		return json_is_array(v);
	if (!strcmp(type, "object"))
		return json_is_object(v);
	return 1;
}

/* Validate `v` against `schema`; on failure write why into err. */
static int validate(json_t *schema, json_t *v, const char *where, char *err, size_t errlen)
{
	json_t *props, *e, *sub, *addl;
	const char *key, *type;
	size_t i;

	schema = resolve(schema);
	type = json_string_value(json_object_get(schema, "type"));
	if (!type_ok(type, v)) {
		snprintf(err, errlen, "%s: must be %s", where, type);
		return 0;
	}
	if ((e = json_object_get(schema, "enum"))) {
		int found = 0;

		json_array_foreach(e, i, sub)
			if (json_equal(sub, v))
				found = 1;
		if (!found) {
			snprintf(err, errlen, "%s: value not in the enum", where);
			return 0;
		}
	}
	if (json_is_array(v) && (sub = json_object_get(schema, "items"))) {
		json_array_foreach(v, i, e)
			if (!validate(sub, e, where, err, errlen))
				return 0;
	}
	if (!json_is_object(v))
		return 1;
	props = json_object_get(schema, "properties");
	addl = json_object_get(schema, "additionalProperties");
	json_array_foreach(json_object_get(schema, "required"), i, e)
		if (!json_object_get(v, json_string_value(e))) {
			snprintf(err, errlen, "%s: required field '%s' missing", where,
				 json_string_value(e));
			return 0;
		}
	/* The description says it in words for hook configs. */
	if (strstr(json_string_value(json_object_get(schema, "description")) ?
		   json_string_value(json_object_get(schema, "description")) : "",
		   "required are \"content_type\" and \"url\"") &&
	    (!json_object_get(v, "content_type") || !json_object_get(v, "url"))) {
		snprintf(err, errlen, "%s: content_type and url are required", where);
		return 0;
	}
	json_object_foreach(v, key, e) {
		char w[256];

		snprintf(w, sizeof(w), "%s.%s", where, key);
		if ((sub = json_object_get(props, key))) {
			if (!validate(sub, e, w, err, errlen))
				return 0;
		} else if (addl) {
			if (json_is_object(addl) && !validate(addl, e, w, err, errlen))
				return 0;
		} else {
			snprintf(err, errlen, "%s: field not in the description", w);
			return 0;
		}
	}
	return 1;
}

/* Is `status` one the operation lists (or its handler note admits)? */
static int status_listed(json_t *op, unsigned status)
{
	char s[8];
	const char *note = json_string_value(json_object_get(op, "x-handler-note"));

	snprintf(s, sizeof(s), "%u", status);
	if (json_object_get(json_object_get(op, "responses"), s))
		return 1;
	return note && strstr(note, s);
}

typedef struct {
	const char *method;
	json_t *op;
	char err[512];
} check_ctx;

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	check_ctx *cc = cls;
	json_t *p;
	size_t i;
	int declared = 0;

	(void)kind;
	(void)value;
	if (cc->err[0])
		return MHD_YES;
	json_array_foreach(json_object_get(cc->op, "parameters"), i, p)
		if (!strcmp(json_string_value(json_object_get(p, "in")) ?
			    json_string_value(json_object_get(p, "in")) : "", "query") &&
		    !strcmp(json_string_value(json_object_get(p, "name")), key))
			declared = 1;
	if (!declared)
		snprintf(cc->err, sizeof(cc->err), "query parameter '%s' is not declared "
			 "(token/access_token are deprecated)", key);
	return MHD_YES;
}

/* ---- the model ------------------------------------------------------------- */

static int has_org(const char *o)
{
	int i;

	for (i = 0; i < norgs; i++)
		if (!strcmp(orgs[i], o))
			return 1;
	return 0;
}

static repo *find_repo(const char *owner, const char *name)
{
	char full[600];
	int i;

	snprintf(full, sizeof(full), "%.250s/%.250s", owner, name);
	for (i = 0; i < nrepos; i++)
		if (!strcmp(repos[i].name, full))
			return &repos[i];
	return NULL;
}

static repo *add_repo(const char *full, const char *branch)
{
	if (nrepos == MAX_ITEMS)
		return NULL;
	memset(&repos[nrepos], 0, sizeof(repos[nrepos]));
	snprintf(repos[nrepos].name, sizeof(repos[nrepos].name), "%s", full);
	snprintf(repos[nrepos].branch, sizeof(repos[nrepos].branch), "%s",
		 branch ? branch : "main");
	return &repos[nrepos++];
}

static void make_bare(const char *full)
{
	char dir[1024], a0[] = "git", a1[] = "init", a2[] = "-q", a3[] = "--bare";
	char *argv[] = { a0, a1, a2, a3, dir, NULL };
	pid_t pid;
	int st;

	if (!git_root)
		return;
	snprintf(dir, sizeof(dir), "%s/%s.git", git_root, full);
	if (posix_spawnp(&pid, "git", NULL, NULL, argv, environ) == 0)
		waitpid(pid, &st, 0);
}

static json_t *repo_json(const repo *r)
{
	const char *slash = strchr(r->name, '/');
	char owner[128];

	snprintf(owner, sizeof(owner), "%.*s", (int)(slash - r->name), r->name);
	return json_pack("{s:i,s:s,s:s,s:{s:s},s:s,s:b,s:b}", "id", next_id++, "name",
			 slash + 1, "full_name", r->name, "owner", "login", owner,
			 "default_branch", r->branch, "empty", 0, "private", 0);
}

static unsigned handle_op(json_t **out, const char *method, const char *tmpl,
			  char segs[4][256], json_t *body)
{
	repo *r;
	char full[600];

	*out = NULL;
	if (!strcmp(tmpl, "/version"))
		return (*out = json_pack("{s:s}", "version", "1.22.0")), 200;
	if (!strcmp(tmpl, "/user"))
		return (*out = json_pack("{s:i,s:s,s:b}", "id", 1, "login", login, "is_admin",
					 1)), 200;
	if (!strcmp(tmpl, "/orgs/{org}")) {
		if (!has_org(segs[0])) {
			*out = api_error("not found");
			return 404;
		}
		*out = json_pack("{s:i,s:s}", "id", 2, "username", segs[0]);
		return 200;
	}
	if (!strcmp(tmpl, "/orgs")) {
		const char *u = json_string_value(json_object_get(body, "username"));

		if (has_org(u) || !strcmp(u, login) || norgs == MAX_ITEMS)
			return (*out = api_error("user already exists [name: taken]")), 422;
		snprintf(orgs[norgs++], sizeof(orgs[0]), "%s", u);
		return (*out = json_pack("{s:i,s:s}", "id", next_id++, "username", u)), 201;
	}
	if (!strcmp(tmpl, "/orgs/{org}/repos") || !strcmp(tmpl, "/user/repos")) {
		const char *owner = tmpl[1] == 'o' ? segs[0] : login;
		const char *name = json_string_value(json_object_get(body, "name"));

		if (tmpl[1] == 'o' && !has_org(owner))
			return (*out = api_error("org not found")), 404;
		if ((r = find_repo(owner, name))) {
			r->hidden = 0;
			return (*out = api_error("The repository with the same name already "
						 "exists.")), 409;
		}
		snprintf(full, sizeof(full), "%.250s/%.250s", owner, name);
		if (!(r = add_repo(full, json_string_value(json_object_get(body,
									  "default_branch")))))
			return (*out = api_error("full")), 422;
		make_bare(full);
		return (*out = repo_json(r)), 201;
	}
	if (!strcmp(tmpl, "/repos/{owner}/{repo}")) {
		if (!(r = find_repo(segs[0], segs[1])) || r->hidden)
			return (*out = api_error("not found")), 404;
		if (!strcmp(method, "PATCH") && json_object_get(body, "default_branch"))
			snprintf(r->branch, sizeof(r->branch), "%s",
				 json_string_value(json_object_get(body, "default_branch")));
		return (*out = repo_json(r)), 200;
	}
	if (!strcmp(tmpl, "/repos/{owner}/{repo}/hooks")) {
		int i;

		if (!(r = find_repo(segs[0], segs[1])) || r->hidden)
			return (*out = api_error("not found")), 404;
		if (!strcmp(method, "GET")) {
			*out = json_array();
			for (i = 0; i < r->nhooks; i++)
				json_array_append_new(*out, json_pack("{s:i,s:s,s:{s:s,s:s},s:[s],"
								      "s:b}", "id", i + 1, "type",
								      "gitea", "config", "url",
								      r->hooks[i], "content_type",
								      "json", "events", "push",
								      "active", 1));
			return 200;
		}
		if (r->nhooks == 8)
			return (*out = api_error("too many")), 404;
		snprintf(r->hooks[r->nhooks++], sizeof(r->hooks[0]), "%s",
			 json_string_value(json_object_get(json_object_get(body, "config"), "url")));
		return (*out = json_pack("{s:i,s:s,s:b}", "id", r->nhooks, "type", "gitea",
					 "active", 1)), 201;
	}
	return (*out = json_array()), 200;   /* branches, tags: empty lists */
}

/* ---- requests ------------------------------------------------------------- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version,
			      const char *upload_data, size_t *upload_size, void **con_cls)
{
	upload *u = *con_cls;
	const char *base = json_string_value(json_object_get(spec, "basePath"));
	const char *auth, *ctype, *key;
	char segs[4][256], lower[16], want[512], *logged = NULL;
	json_t *item, *op = NULL, *p, *body = NULL, *answer = NULL, *bparam = NULL;
	const char *tmpl = NULL;
	check_ctx cc;
	unsigned status;
	size_t i;
	int nsegs = 0;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (!u) {
		if (!(u = calloc(1, sizeof(*u))))
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_size) {
		if (u->len + *upload_size > MAX_BODY) {
			u->too_big = 1;
		} else {
			char *grown = realloc(u->body, u->len + *upload_size + 1);

			if (!grown)
				return MHD_NO;
			u->body = grown;
			memcpy(u->body + u->len, upload_data, *upload_size);
			u->len += *upload_size;
			u->body[u->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&cc, 0, sizeof(cc));
	if (u->body)
		logged = u->body;
	if (strncmp(url, base, strlen(base))) {
		log_line(method, url, 404, "INVALID: not under the basePath", logged);
		return reply_json(c, 404, api_error("not found"));
	}
	json_object_foreach(json_object_get(spec, "paths"), key, item)
		if (path_matches(key, url + strlen(base), segs, &nsegs)) {
			tmpl = key;
			break;
		}
	if (!tmpl) {
		log_line(method, url, 404, "INVALID: no such path in the description", logged);
		return reply_json(c, 404, api_error("not found"));
	}
	for (i = 0; method[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)(method[i] | 0x20);
	lower[i] = '\0';
	if (!(op = json_object_get(item, lower))) {
		log_line(method, url, 405, "INVALID: method not in the description", logged);
		return reply_json(c, 405, api_error("method not allowed"));
	}
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	snprintf(want, sizeof(want), "token %s", token);
	if (!auth || strcmp(auth, want)) {
		log_line(method, url, 401, "INVALID: no or wrong 'Authorization: token' header",
			 logged);
		return reply_json(c, 401, api_error("unauthorized"));
	}
	cc.op = op;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, &cc);
	json_array_foreach(json_object_get(op, "parameters"), i, p)
		if (!strcmp(json_string_value(json_object_get(p, "in")), "body"))
			bparam = p;
	if (!cc.err[0] && u->too_big)
		snprintf(cc.err, sizeof(cc.err), "body too large");
	if (!cc.err[0] && bparam) {
		ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		if (!u->body) {
			snprintf(cc.err, sizeof(cc.err), "the operation takes a JSON body; none "
				 "was sent");
		} else if (!ctype || strncmp(ctype, "application/json", 16)) {
			snprintf(cc.err, sizeof(cc.err), "Content-Type must be application/json");
		} else if (!(body = json_loadb(u->body, u->len, 0, NULL))) {
			snprintf(cc.err, sizeof(cc.err), "the body is not JSON");
		} else {
			validate(json_object_get(bparam, "schema"), body, "body", cc.err,
				 sizeof(cc.err));
		}
	} else if (!cc.err[0] && u->body && u->len) {
		snprintf(cc.err, sizeof(cc.err), "the operation takes no body");
	}
	for (i = 0; i < (size_t)nsegs && !cc.err[0]; i++)
		if (!segs[i][0])
			snprintf(cc.err, sizeof(cc.err), "empty path parameter");
	if (cc.err[0]) {
		char verdict[600];

		snprintf(verdict, sizeof(verdict), "INVALID: %s", cc.err);
		log_line(method, url, 422, verdict, logged);
		json_decref(body);
		return reply_json(c, 422, api_error(cc.err));
	}
	status = handle_op(&answer, method, tmpl, segs, body);
	log_line(method, url, status, status_listed(op, status) ? "ok" :
		 "INVALID: answered a status the description does not list", logged);
	json_decref(body);
	ret = reply_json(c, status, answer);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	upload *u = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (u) {
		free(u->body);
		free(u);
	}
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	const char *spec_path = NULL, *port_file = NULL;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	json_error_t jerr;
	struct sockaddr_in addr;
	sigset_t set;
	FILE *f;
	int i, sig;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (!strcmp(o, "--spec")) spec_path = v;
		else if (!strcmp(o, "--token")) token = v;
		else if (!strcmp(o, "--log")) log_path = v;
		else if (!strcmp(o, "--port-file")) port_file = v;
		else if (!strcmp(o, "--user")) login = v;
		else if (!strcmp(o, "--git-root")) git_root = v;
		else if (!strcmp(o, "--org") && norgs < MAX_ITEMS)
			snprintf(orgs[norgs++], sizeof(orgs[0]), "%s", v);
		else if (!strcmp(o, "--repo") || !strcmp(o, "--race-repo")) {
			repo *r = add_repo(v, "master");

			if (r)
				r->hidden = !strcmp(o, "--race-repo");
		} else {
			fprintf(stderr, "gitea-responder: unknown option %s\n", o);
			return 64;
		}
	}
	if (!spec_path || !token || !log_path || !port_file) {
		fprintf(stderr, "usage: gitea-responder --spec FILE --token TOKEN --log FILE "
			"--port-file FILE [...]\n");
		return 64;
	}
	for (i = 0; i < nrepos; i++)
		make_bare(repos[i].name);
	if (!(spec = json_load_file(spec_path, 0, &jerr))) {
		fprintf(stderr, "gitea-responder: %s: %s\n", spec_path, jerr.text);
		return 1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
			     NULL, handle, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "gitea-responder: cannot start\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (!(f = fopen(port_file, "w"))) {
		MHD_stop_daemon(d);
		return 1;
	}
	fprintf(f, "%u\n", info ? info->port : 0);
	fclose(f);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	json_decref(spec);
	return 0;
}
