/*
 * The registry client against a registry stand-in on 127.0.0.1 (an
 * ephemeral port, in this process): the 401 challenge answered with a
 * bearer token asked for the request's scope and then reused, a mount's
 * wider scope, Basic credentials, and the messages for each refusal.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>

#include <microhttpd.h>
#include <sodium.h>

#include "client.h"
#include "testlib.h"

static struct {
	struct MHD_Daemon *d;
	unsigned port;
	pthread_mutex_t lock;
	int tokens;              /* tokens issued */
	char scopes[8][256];     /* their scopes */
	int requests;            /* API requests */
} R = { .lock = PTHREAD_MUTEX_INITIALIZER };

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *body,
			      const char *challenge)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (challenge)
		MHD_add_response_header(r, "WWW-Authenticate", challenge);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The token a request carries grants `repo`: the scope it was issued for
 * names the repository. */
static int granted(const char *auth, const char *repo)
{
	char want[300];
	int n;

	if (!auth || sscanf(auth, "Bearer t%d", &n) != 1 || n < 0 || n >= R.tokens)
		return 0;
	snprintf(want, sizeof(want), "repository:%s:", repo);
	return strstr(R.scopes[n], want) != NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **state)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	char challenge[200], repo[64] = "";
	enum MHD_Result ret;

	(void)cls, (void)method, (void)version, (void)data;
	if (!*state) {   /* headers first; the body (if any) follows */
		*state = (void *)1;
		return MHD_YES;
	}
	*size = 0;
	pthread_mutex_lock(&R.lock);
	if (!strcmp(url, "/token")) {
		const char *scope = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "scope");
		char body[64];

		snprintf(R.scopes[R.tokens], sizeof(R.scopes[0]), "%s", scope ? scope : "");
		snprintf(body, sizeof(body), "{\"token\":\"t%d\"}", R.tokens++);
		ret = answer(c, 200, body, NULL);
		goto done;
	}
	R.requests++;
	sscanf(url, "/v2/%63[^/]/app", repo);
	if (!strcmp(repo, "bearer")) {
		snprintf(challenge, sizeof(challenge), "Bearer realm=\"http://127.0.0.1:%u/token\","
			 "service=\"test\"", R.port);
		ret = granted(auth, "bearer/app") ? answer(c, 200, "{}", NULL)
						  : answer(c, 401, "", challenge);
	} else if (!strcmp(repo, "basic")) {
		/* alice:pw */
		ret = auth && !strcmp(auth, "Basic YWxpY2U6cHc=") ? answer(c, 200, "{}", NULL)
					: answer(c, 401, "", "Basic realm=\"test\"");
	} else if (!strcmp(repo, "nochallenge")) {
		ret = answer(c, 401, "", NULL);
	} else {
		ret = answer(c, 404, "", NULL);
	}
done:
	pthread_mutex_unlock(&R.lock);
	return ret;
}

static int setup(void **state)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_in addr;

	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	R.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, NULL,
			       MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_END);
	assert_non_null(R.d);
	info = MHD_get_daemon_info(R.d, MHD_DAEMON_INFO_BIND_PORT);
	R.port = info->port;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(R.d);
	return 0;
}

static ferry_oci_client *client(const char *userpwd, const char *actions)
{
	ferry_oci_client_options o = FERRY_OCI_CLIENT_OPTIONS_INIT;
	ferry_oci_client *c;
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", R.port);
	o.url = url;
	o.userpwd = userpwd;
	o.actions = actions;
	o.credentials_hint = "give an auth-file";
	assert_int_equal(ferry_oci_client_new(&c, &o), 0);
	return c;
}

/* GET <repo>/app/manifests/v1 (or send it with `mount_from`): the status. */
static long get(ferry_oci_client *c, const char *repo, int send, const char *mount_from)
{
	ferry_http_response resp;
	ferry_http_request req = { 0 };
	ferry_buf url = FERRY_BUF_INIT, name = FERRY_BUF_INIT;
	long status = -1;

	memset(&resp, 0, sizeof(resp));
	assert_int_equal(ferry_buf_printf(&name, "%s/app", repo), 0);
	assert_int_equal(ferry_oci_client_url(&url, c, name.ptr, "manifests/v1"), 0);
	req.url = url.ptr;
	if ((send ? ferry_oci_client_send(&resp, c, name.ptr, mount_from, &req, "test")
		  : ferry_oci_client_get(&resp, c, name.ptr, &req, "test")) == 0)
		status = resp.status;
	ferry_http_response_dispose(&resp);
	ferry_buf_dispose(&url);
	ferry_buf_dispose(&name);
	return status;
}

static void test_oci_client__answers_a_bearer_challenge_once(void **state)
{
	ferry_oci_client *c = client(NULL, NULL);
	const char *header, *userpwd;
	ferry_buf url = FERRY_BUF_INIT;

	(void)state;
	R.tokens = R.requests = 0;
	assert_int_equal(ferry_oci_client_url(&url, c, "bearer/app", "blobs/x"), 0);
	assert_non_null(strstr(url.ptr, "/v2/bearer/app/blobs/x"));
	assert_null(strstr(url.ptr, "//v2"));
	ferry_buf_dispose(&url);
	assert_int_equal(get(c, "bearer", 0, NULL), 200);
	assert_int_equal(R.tokens, 1);
	assert_string_equal(R.scopes[0], "repository:bearer/app:pull");
	assert_int_equal(R.requests, 2);   /* the 401, then with the token */
	/* The token is kept for the repository: sent at once next time. */
	assert_int_equal(get(c, "bearer", 0, NULL), 200);
	assert_int_equal(R.tokens, 1);
	assert_int_equal(R.requests, 3);
	ferry_oci_client_auth(&header, &userpwd, c, "bearer/app");
	assert_string_equal(header, "Authorization: Bearer t0");
	assert_null(userpwd);
	ferry_oci_client_auth(&header, &userpwd, c, "other/app");
	assert_null(header);
	ferry_oci_client_free(c);
}

static void test_oci_client__asks_a_mount_scope_and_reuses_it(void **state)
{
	ferry_oci_client *c = client("alice:pw", "pull,push");

	(void)state;
	R.tokens = R.requests = 0;
	assert_int_equal(get(c, "bearer", 1, "team/src"), 200);
	assert_int_equal(R.tokens, 1);
	assert_string_equal(R.scopes[0], "repository:bearer/app:pull,push repository:team/src:pull");
	/* A push in the same repository: the wider token serves. */
	assert_int_equal(get(c, "bearer", 1, NULL), 200);
	assert_int_equal(R.tokens, 1);
	/* A mount from the repository itself asks for no more. */
	assert_int_equal(get(c, "bearer", 1, "bearer/app"), 200);
	assert_int_equal(R.tokens, 1);
	ferry_oci_client_free(c);
}

static void test_oci_client__sends_basic_credentials(void **state)
{
	ferry_oci_client *c = client("alice:pw", NULL);
	const char *header, *userpwd;

	(void)state;
	assert_int_equal(get(c, "basic", 0, NULL), 200);
	ferry_oci_client_auth(&header, &userpwd, c, "basic/app");
	assert_null(header);
	assert_string_equal(userpwd, "alice:pw");
	ferry_oci_client_free(c);

	c = client("alice:wrong", NULL);
	assert_int_equal(get(c, "basic", 0, NULL), -1);
	assert_error(FERRY_ERROR, FERRY_ERROR, "test: registry '127.0.0.1:");
	assert_non_null(strstr(ferry_error_last(), "refused the credentials (HTTP 401)"));
	assert_null(strstr(ferry_error_last(), "wrong"));
	ferry_oci_client_free(c);

	c = client(NULL, NULL);
	assert_int_equal(get(c, "basic", 0, NULL), -1);
	assert_error(ferry_error_last_code(), FERRY_ERROR,
		     "wants credentials (Basic); give an auth-file");
	assert_int_equal(get(c, "nochallenge", 0, NULL), -1);
	assert_error(ferry_error_last_code(), FERRY_ERROR, "answered HTTP 401 without a challenge");
	/* Other statuses are the caller's to judge. */
	assert_int_equal(get(c, "missing", 0, NULL), 404);
	ferry_oci_client_free(c);
}

static void test_oci_client__refuses_bad_options(void **state)
{
	ferry_oci_client_options o = FERRY_OCI_CLIENT_OPTIONS_INIT;
	ferry_oci_client *c;

	(void)state;
	assert_error(ferry_oci_client_new(&c, &o), FERRY_EINVALID, "bad registry client options");
	o.url = "ftp://x/";
	assert_error(ferry_oci_client_new(&c, &o), FERRY_EINVALID, "is not http:// or https://");
	assert_null(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oci_client__answers_a_bearer_challenge_once),
		cmocka_unit_test(test_oci_client__asks_a_mount_scope_and_reuses_it),
		cmocka_unit_test(test_oci_client__sends_basic_credentials),
		cmocka_unit_test(test_oci_client__refuses_bad_options),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
