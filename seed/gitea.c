/*
 * Seeding Gitea and Forgejo (see seed.h): before pushing a repository, make
 * sure its owner and the repository exist, through the REST API (basePath
 * /api/v1, `Authorization: token ...`), then push with seed_git.c, then set
 * the default branch and, when the target names one, register a push
 * webhook pointing at the enclave's reconciler.
 *
 * The calls and status codes follow Gitea's API description (the subset in
 * tests/resources/gitea/): an organisation is looked up first (a taken
 * name answers 422 to POST /orgs, not 409); a repository that already
 * exists answers 409 to POST /orgs/{org}/repos and /user/repos; the default
 * branch is set with PATCH and read back, since Gitea ignores a branch that
 * does not exist; hooks have no conflict code, so they are listed and
 * matched by config.url. These requests were checked against that
 * description with a local responder, not against a running Gitea.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "auth.h"
#include "buf.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "catalog.h"
#include "pusher.h"
#include "strv.h"
#include "banned.h"

#define API_MAX (4u << 20)

typedef struct {
	ferry_seed_target_result *r;
	const ferry_target *t;
	ferry_http *http;
	char *api;          /* "<url>/api/v1" */
	char *auth;         /* "Authorization: token ..." (secret) */
	char *token;        /* secret */
	char *login;
} gitea_ctx;

static int api_call(ferry_http_response *resp, gitea_ctx *g, const char *method,
		    const char *path, const json_t *body, const char *what)
{
	const char *headers[4] = { g->auth, "Accept: application/json", NULL, NULL };
	ferry_http_request req = { 0 };
	ferry_buf url = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_buf_printf(&url, "%s%s", g->api, path)) < 0)
		return error;
	if (body) {
		if ((error = ferry_json_dump(&text, body)) < 0)
			goto done;
		headers[2] = "Content-Type: application/json";
		req.body = text.ptr;
		req.body_len = text.size;
	}
	req.url = url.ptr;
	req.headers = headers;
	req.method = method;
	req.limit = API_MAX;
	if ((error = ferry_http_send(resp, g->http, &req, NULL)) < 0) {
		error = ferry_error_wrap(error, "%s", what);
		goto done;
	}
	if (resp->status == 401) {
		ferry_http_response_dispose(resp);
		error = ferry_error_set(FERRY_ERROR, "%s: Gitea refused the token (HTTP 401)",
					what);
	}
done:
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&text);
	return error;
}

static int api_error(const ferry_http_response *resp, const char *what)
{
	json_t *j = NULL;
	const char *msg;
	int error;

	/* the message is a courtesy: an answer that is not JSON just has none */
	if (ferry_json_parse(&j, resp->body.ptr ? resp->body.ptr : "", resp->body.size,
			     what) < 0)
		j = NULL;
	msg = json_string_value(json_object_get(j, "message"));
	error = ferry_error_set(resp->status == 403 ? FERRY_ERROR : FERRY_EIO,
				"%s: Gitea answered HTTP %ld%s%.200s", what, resp->status,
				msg ? ": " : "", msg ? msg : "");

	json_decref(j);
	return error;
}

static int parse_body(json_t **out, const ferry_http_response *resp, const char *what)
{
	return ferry_json_parse(out, resp->body.ptr ? resp->body.ptr : "", resp->body.size,
				what);
}

/* "/seg" percent-encoded onto `b`. */
static int path_seg(ferry_buf *b, const char *seg)
{
	int error;

	if ((error = ferry_buf_puts(b, "/")) < 0)
		return error;
	return ferry_http_url_escape(b, seg);
}

static int who_am_i(gitea_ctx *g)
{
	ferry_http_response resp;
	json_t *j = NULL;
	const char *login;
	int error;

	if ((error = api_call(&resp, g, "GET", "/user", NULL, "Gitea: GET /user")) < 0)
		return error;
	if (resp.status != 200) {
		error = api_error(&resp, "Gitea: GET /user");
		goto done;
	}
	if ((error = parse_body(&j, &resp, "Gitea: GET /user")) < 0)
		goto done;
	if (!(login = json_string_value(json_object_get(j, "login"))) || !*login) {
		error = ferry_error_set(FERRY_EINVALID, "Gitea: GET /user gave no login");
		goto done;
	}
	if (!(g->login = strdup(login)))
		error = ferry_error_oom();
done:
	json_decref(j);
	ferry_http_response_dispose(&resp);
	return error;
}

/* GET `path`: 1 it exists (`resp` holds the answer), 0 it does not (404;
 * `resp` disposed), < 0 any other answer or failure. */
static int api_lookup(ferry_http_response *resp, gitea_ctx *g, const char *path,
		      const char *what)
{
	int error;

	if ((error = api_call(resp, g, "GET", path, NULL, what)) < 0)
		return error;
	if (resp->status == 200)
		return 1;
	if (resp->status != 404)
		return api_error(resp, what);
	ferry_http_response_dispose(resp);
	return 0;
}

static int ensure_org(gitea_ctx *g, const char *org)
{
	ferry_http_response resp;
	ferry_buf path = FERRY_BUF_INIT, what = FERRY_BUF_INIT;
	json_t *body = NULL;
	int priv = json_is_true(json_object_get(g->t->options, "private")), error;

	memset(&resp, 0, sizeof(resp));
	if ((error = ferry_buf_puts(&path, "/orgs")) < 0 || (error = path_seg(&path, org)) < 0 ||
	    (error = ferry_buf_printf(&what, "Gitea: organisation '%s'", org)) < 0)
		goto done;
	if ((error = api_lookup(&resp, g, path.ptr, what.ptr)) != 0) {
		error = error < 0 ? error : 0; /* exists already */
		goto done;
	}
	if (!(body = json_pack("{s:s,s:s}", "username", org, "visibility",
			       priv ? "private" : "public"))) {
		error = ferry_error_oom();
		goto done;
	}
	if ((error = api_call(&resp, g, "POST", "/orgs", body, what.ptr)) < 0)
		goto done;
	if (resp.status == 201) {
		ferry_log(FERRY_LOG_INFO, "%s: created", what.ptr);
	} else if (resp.status == 422) {
		/* A taken name answers 422: someone created it meanwhile? */
		ferry_http_response_dispose(&resp);
		if ((error = api_call(&resp, g, "GET", path.ptr, NULL, what.ptr)) < 0)
			goto done;
		if (resp.status != 200)
			error = ferry_error_set(FERRY_ERROR, "%s: cannot be created (HTTP 422) "
						"and does not exist", what.ptr);
	} else {
		error = api_error(&resp, what.ptr);
	}
done:
	json_decref(body);
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&what);
	return error;
}

/* Make sure owner/name exists; *current_branch is its default branch. */
static int ensure_repo(gitea_ctx *g, const char *owner, const char *name,
		       const char *branch, char **current_branch)
{
	ferry_http_response resp;
	ferry_buf path = FERRY_BUF_INIT, create = FERRY_BUF_INIT, what = FERRY_BUF_INIT;
	json_t *body = NULL, *j = NULL;
	int priv = json_is_true(json_object_get(g->t->options, "private")), error;

	*current_branch = NULL;
	memset(&resp, 0, sizeof(resp));
	if ((error = ferry_buf_puts(&path, "/repos")) < 0 ||
	    (error = path_seg(&path, owner)) < 0 || (error = path_seg(&path, name)) < 0 ||
	    (error = ferry_buf_printf(&what, "Gitea: repository '%s/%s'", owner, name)) < 0)
		goto done;
	if ((error = api_lookup(&resp, g, path.ptr, what.ptr)) < 0)
		goto done;
	if (error > 0) {
		error = 0;
		goto read;
	}
	if (!strcmp(owner, g->login))
		error = ferry_buf_puts(&create, "/user/repos");
	else if ((error = ferry_buf_puts(&create, "/orgs")) == 0 &&
		 (error = path_seg(&create, owner)) == 0)
		error = ferry_buf_puts(&create, "/repos");
	if (error < 0)
		goto done;
	if (!(body = json_pack("{s:s,s:b,s:b}", "name", name, "private", priv, "auto_init", 0)) ||
	    (branch && json_object_set_new(body, "default_branch", json_string(branch)) < 0)) {
		error = ferry_error_oom();
		goto done;
	}
	if ((error = api_call(&resp, g, "POST", create.ptr, body, what.ptr)) < 0)
		goto done;
	if (resp.status == 201) {
		g->r->repos_created++;
		ferry_log(FERRY_LOG_INFO, "%s: created", what.ptr);
	} else if (resp.status == 409) {
		/* "The repository with the same name already exists." */
		ferry_log(FERRY_LOG_INFO, "%s: already exists", what.ptr);
		ferry_http_response_dispose(&resp);
		if ((error = api_call(&resp, g, "GET", path.ptr, NULL, what.ptr)) < 0)
			goto done;
		if (resp.status != 200) {
			error = api_error(&resp, what.ptr);
			goto done;
		}
	} else {
		error = api_error(&resp, what.ptr);
		goto done;
	}
read:
	if ((error = parse_body(&j, &resp, what.ptr)) < 0)
		goto done;
	if (json_string_value(json_object_get(j, "default_branch")) &&
	    !(*current_branch = strdup(json_string_value(json_object_get(j, "default_branch")))))
		error = ferry_error_oom();
done:
	json_decref(body);
	json_decref(j);
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&create);
	ferry_buf_dispose(&what);
	return error;
}

static int set_default_branch(gitea_ctx *g, const char *owner, const char *name,
			      const char *branch)
{
	ferry_http_response resp;
	ferry_buf path = FERRY_BUF_INIT, what = FERRY_BUF_INIT;
	json_t *body = NULL, *j = NULL;
	const char *now;
	int error;

	memset(&resp, 0, sizeof(resp));
	if ((error = ferry_buf_puts(&path, "/repos")) < 0 ||
	    (error = path_seg(&path, owner)) < 0 || (error = path_seg(&path, name)) < 0 ||
	    (error = ferry_buf_printf(&what, "Gitea: default branch of '%s/%s'", owner,
				      name)) < 0)
		goto done;
	if (!(body = json_pack("{s:s}", "default_branch", branch))) {
		error = ferry_error_oom();
		goto done;
	}
	if ((error = api_call(&resp, g, "PATCH", path.ptr, body, what.ptr)) < 0)
		goto done;
	if (resp.status != 200) {
		error = api_error(&resp, what.ptr);
		goto done;
	}
	ferry_http_response_dispose(&resp);
	/* Gitea ignores a branch it does not have: read it back. */
	if ((error = api_call(&resp, g, "GET", path.ptr, NULL, what.ptr)) < 0)
		goto done;
	if (resp.status != 200) {
		error = api_error(&resp, what.ptr);
		goto done;
	}
	if ((error = parse_body(&j, &resp, what.ptr)) < 0)
		goto done;
	now = json_string_value(json_object_get(j, "default_branch"));
	if (!now || strcmp(now, branch))
		ferry_log(FERRY_LOG_WARN, "%s: Gitea kept '%s' instead of '%s'", what.ptr,
			  now ? now : "(none)", branch);
done:
	json_decref(body);
	json_decref(j);
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&what);
	return error;
}

static int ensure_hook(gitea_ctx *g, const char *owner, const char *name, const char *hook)
{
	ferry_http_response resp;
	ferry_buf path = FERRY_BUF_INIT, what = FERRY_BUF_INIT;
	json_t *body = NULL, *list = NULL, *h;
	size_t i;
	int error;

	memset(&resp, 0, sizeof(resp));
	if ((error = ferry_buf_puts(&path, "/repos")) < 0 ||
	    (error = path_seg(&path, owner)) < 0 || (error = path_seg(&path, name)) < 0 ||
	    (error = ferry_buf_puts(&path, "/hooks")) < 0 ||
	    (error = ferry_buf_printf(&what, "Gitea: webhook of '%s/%s'", owner, name)) < 0)
		goto done;
	if ((error = api_call(&resp, g, "GET", path.ptr, NULL, what.ptr)) < 0)
		goto done;
	if (resp.status != 200) {
		error = api_error(&resp, what.ptr);
		goto done;
	}
	if ((error = parse_body(&list, &resp, what.ptr)) < 0)
		goto done;
	json_array_foreach(list, i, h) {
		const char *u = json_string_value(json_object_get(json_object_get(h, "config"),
								  "url"));

		if (u && !strcmp(u, hook))
			goto done;   /* registered before */
	}
	ferry_http_response_dispose(&resp);
	if (!(body = json_pack("{s:s,s:{s:s,s:s},s:[s],s:b}", "type", "gitea", "config",
			       "url", hook, "content_type", "json", "events", "push",
			       "active", 1))) {
		error = ferry_error_oom();
		goto done;
	}
	if ((error = api_call(&resp, g, "POST", path.ptr, body, what.ptr)) < 0)
		goto done;
	if (resp.status != 201)
		error = api_error(&resp, what.ptr);
	else
		ferry_log(FERRY_LOG_INFO, "%s: registered", what.ptr);
done:
	json_decref(body);
	json_decref(list);
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&what);
	return error;
}

static void ctx_dispose(gitea_ctx *g)
{
	ferry_http_free(g->http);
	free(g->api);
	ferry_secret_free(g->auth);
	ferry_secret_free(g->token);
	free(g->login);
}

static int ctx_init(gitea_ctx *g, const ferry_target *t, ferry_seed_target_result *r)
{
	ferry_http_options ho = FERRY_HTTP_OPTIONS_INIT;
	ferry_buf api = FERRY_BUF_INIT;
	size_t len = strlen(t->url);
	int error;

	memset(g, 0, sizeof(*g));
	g->t = t;
	g->r = r;
	ho.ca_file = json_string_value(json_object_get(t->options, "ca-file"));
	if ((error = ferry_http_new(&g->http, &ho)) < 0)
		return error;
	while (len && t->url[len - 1] == '/')
		len--;
	if ((error = ferry_buf_printf(&api, "%.*s/api/v1", (int)len, t->url)) < 0)
		return error;
	g->api = ferry_buf_detach(&api);
	if ((error = ferry_target_credentials(&g->token, t)) < 0)
		return error;
	if (!g->token || !*g->token || strpbrk(g->token, "\r\n: "))
		return ferry_error_set(FERRY_EINVALID, "target '%s': a Gitea target needs "
				       "an API token (--credentials FILE holding it)", t->name);
	if (!(g->auth = sodium_malloc(strlen(g->token) + 32)))
		return ferry_error_oom();
	snprintf(g->auth, strlen(g->token) + 32, "Authorization: token %s", g->token);
	return 0;
}

int ferry_seed__gitea(ferry_seed_target_result *r, ferry_store *st, const ferry_target *t,
		      const ferry_seed_options *opts)
{
	ferry_seed_git_push p;
	gitea_ctx g;
	ferry_buf url = FERRY_BUF_INIT, userpwd = FERRY_BUF_INIT;
	ferry_strv repos = FERRY_STRV_INIT;
	const char *git_url = json_string_value(json_object_get(t->options, "git-url"));
	const char *owner_opt = json_string_value(json_object_get(t->options, "owner"));
	const char *hook = json_string_value(json_object_get(t->options, "webhook"));
	char *enclave = NULL, *owner = NULL, *branch = NULL, *current = NULL, *secret = NULL;
	size_t blen, i;
	int error;

	(void)opts;
	ferry_seed__git_policy(&p, t);
	if ((error = ctx_init(&g, t, r)) < 0 || (error = who_am_i(&g)) < 0)
		goto done;
	if (!git_url)
		git_url = t->url;
	blen = strlen(git_url);
	while (blen && git_url[blen - 1] == '/')
		blen--;
	/* Pushes authenticate as the token's user, the token as password. */
	if ((error = ferry_buf_printf(&userpwd, "%s:%s", g.login, g.token)) < 0)
		goto done;
	if (!(secret = ferry_secret_dup(userpwd.ptr))) {
		error = ferry_error_oom();
		goto done;
	}
	sodium_memzero(userpwd.ptr, userpwd.size);
	p.userpwd = secret;
	if ((error = ferry_store_repo_names(&repos, st)) < 0)
		goto done;
	for (i = 0; i < repos.n; i++) {
		const char *repo = repos.v[i], *path, *slash, *name;

		free(enclave);
		free(owner);
		free(branch);
		free(current);
		enclave = owner = branch = current = NULL;
		if ((error = ferry_rewrite_apply(&enclave, &t->rewrite, repo)) < 0)
			goto done;
		path = ferry_rewrite_repo_path(enclave);
		if ((slash = strchr(path, '/'))) {
			if (strchr(slash + 1, '/')) {
				error = ferry_error_set(FERRY_EINVALID, "repository '%s' becomes "
							"'%s': Gitea names are owner/repository; "
							"add a rewrite rule", repo, path);
				goto done;
			}
			owner = strndup(path, (size_t)(slash - path));
			name = slash + 1;
		} else {
			owner = strdup(owner_opt ? owner_opt : g.login);
			name = path;
		}
		if (!owner) {
			error = ferry_error_oom();
			goto done;
		}
		r->repos++;
		if ((error = ferry_seed__git_default_branch(&branch, st, repo)) < 0 ||
		    (strcmp(owner, g.login) && (error = ensure_org(&g, owner)) < 0) ||
		    (error = ensure_repo(&g, owner, name, branch, &current)) < 0)
			goto done;
		ferry_buf_clear(&url);
		if ((error = ferry_buf_printf(&url, "%.*s/%s/%s.git", (int)blen, git_url, owner,
					      name)) < 0)
			goto done;
		p.url = url.ptr;
		if ((error = ferry_seed__git_repo(r, st, t, repo, path, &p)) < 0)
			goto done;
		if (branch && (!current || strcmp(current, branch)) &&
		    (error = set_default_branch(&g, owner, name, branch)) < 0)
			goto done;
		if (hook && (error = ensure_hook(&g, owner, name, hook)) < 0)
			goto done;
	}
done:
	ferry_strv_dispose(&repos);
	free(enclave);
	free(owner);
	free(branch);
	free(current);
	ferry_secret_free(secret);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&userpwd);
	ctx_dispose(&g);
	return error;
}
