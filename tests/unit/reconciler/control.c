/*
 * The control socket: a request and its answer, a handler's error carried
 * back, an oversized or malformed request refused, the peer's uid, a path
 * longer than sun_path, "no daemon" when nothing listens, and the actor a
 * request is recorded under.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "testlib.h"
#include "control.h"
#include "ferry/errors.h"

static int echo(json_t **reply, json_t *request, unsigned uid, void *payload)
{
	const char *op = json_string_value(json_object_get(request, "op"));

	(*(int *)payload)++;
	if (!strcmp(op, "fail"))
		return ferry_error_set(FERRY_ENOTFOUND, "no stack 'x'");
	*reply = json_pack("{s:b,s:s,s:i}", "ok", 1, "op", op, "uid", (int)uid);
	return 0;
}

static char *temp_dir(void)
{
	char tmpl[] = "/tmp/ferry-control-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

/* A raw exchange: `line` sent as is, the answer's first line back. */
static json_t *raw(const char *path, const char *line, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[8192];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	json_t *v;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	while (len) {
		n = send(fd, line, len, MSG_NOSIGNAL);
		if (n <= 0)
			break;   /* the daemon may answer and close before it all went */
		line += n;
		len -= (size_t)n;
	}
	while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	v = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(v);
	return v;
}

static void test_reconciler_control__round_trip(void **state)
{
	char *dir = temp_dir(), path[256], *big;
	ferry_control *c;
	json_t *req, *reply;
	struct stat st;
	int calls = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, FERRY_CONTROL_SOCKET);
	req = json_pack("{s:s}", "op", "sync");
	assert_int_equal(ferry_control_call(&reply, path, req, 5), FERRY_ENOTFOUND);
	assert_null(reply);

	assert_int_equal(ferry_control_start(&c, path, -1, echo, &calls), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ferry_control_call(&reply, path, req, 5), 0);
	assert_true(json_is_true(json_object_get(reply, "ok")));
	assert_string_equal(json_string_value(json_object_get(reply, "op")), "sync");
	assert_int_equal(json_integer_value(json_object_get(reply, "uid")), (int)getuid());
	json_decref(reply);
	json_decref(req);

	req = json_pack("{s:s}", "op", "fail");
	assert_int_equal(ferry_control_call(&reply, path, req, 5), 0);
	assert_false(json_is_true(json_object_get(reply, "ok")));
	assert_string_equal(json_string_value(json_object_get(reply, "error")), "no stack 'x'");
	assert_int_equal(json_integer_value(json_object_get(reply, "code")), FERRY_ENOTFOUND);
	json_decref(reply);
	json_decref(req);
	assert_int_equal(calls, 2);

	/* malformed and oversized requests never reach the handler */
	reply = raw(path, "{\"op\": 7}\n", 10);
	assert_false(json_is_true(json_object_get(reply, "ok")));
	json_decref(reply);
	reply = raw(path, "[1, 2\n", 6);
	assert_false(json_is_true(json_object_get(reply, "ok")));
	json_decref(reply);
	big = malloc(3 * FERRY_CONTROL_MAX_REQUEST);
	memset(big, ' ', 3 * FERRY_CONTROL_MAX_REQUEST);
	reply = raw(path, big, 3 * FERRY_CONTROL_MAX_REQUEST);
	assert_false(json_is_true(json_object_get(reply, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(reply, "error")), "longer than"));
	json_decref(reply);
	free(big);
	assert_int_equal(calls, 2);

	ferry_control_stop(c);
	assert_int_equal(access(path, F_OK), -1);

	/* with a group: 0660, owned by it. A group other than our own, so
	 * that the ownership is the socket's doing: root may give any group,
	 * another user one of its supplementary groups (with none, only the
	 * mode can be shown) */
	{
		gid_t groups[64], want = getgid();
		int n = getgroups(64, groups), k;

		if (geteuid() == 0)
			want = 65534;
		for (k = 0; k < n && want == getgid(); k++)
			want = groups[k];
		assert_int_equal(ferry_control_start(&c, path, (long)want, echo, &calls), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0660);
		assert_int_equal(st.st_gid, want);
		ferry_control_stop(c);
	}
	rmdir(dir);
	free(dir);
}

static void test_reconciler_control__long_path(void **state)
{
	char *dir = temp_dir(), deep[512], path[600];
	ferry_control *c;
	json_t *req, *reply;
	int calls = 0;

	(void)state;
	/* well beyond the 108 bytes of sun_path */
	snprintf(deep, sizeof(deep), "%s/%0100d", dir, 0);
	assert_int_equal(mkdir(deep, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s", deep, FERRY_CONTROL_SOCKET);
	assert_true(strlen(path) > 108);
	assert_int_equal(ferry_control_start(&c, path, -1, echo, &calls), 0);
	req = json_pack("{s:s}", "op", "reload");
	assert_int_equal(ferry_control_call(&reply, path, req, 5), 0);
	assert_true(json_is_true(json_object_get(reply, "ok")));
	json_decref(reply);
	json_decref(req);
	ferry_control_stop(c);
	assert_int_equal(access(path, F_OK), -1);
	rmdir(deep);
	rmdir(dir);
	free(dir);
}

/* The actor: "operator:NAME" as the CLI sends it, else one from the uid;
 * never a control byte, a space or anything past 64 characters. */
static void test_reconciler_control__actor(void **state)
{
	static const struct {
		const char *line;
		const char *actor;
	} cases[] = {
		{ "{\"op\":\"sync\",\"actor\":\"operator:alice\"}", "operator:alice" },
		{ "{\"op\":\"sync\",\"actor\":\"operator:bob.smith@site-1\"}",
		  "operator:bob.smith@site-1" },
		{ "{\"op\":\"sync\"}", "operator:uid-1000" },
		{ "{\"op\":\"sync\",\"actor\":\"operator:x\\n2026 sync ok\"}", "operator:uid-1000" },
		{ "{\"op\":\"sync\",\"actor\":\"operator:\\u001b[2K\"}", "operator:uid-1000" },
		{ "{\"op\":\"sync\",\"actor\":\"operator:\"}", "operator:uid-1000" },
		{ "{\"op\":\"sync\",\"actor\":\"admin\"}", "operator:uid-1000" },
		{ "{\"op\":\"sync\",\"actor\":\"operator:a b\"}", "operator:uid-1000" },
		{ "{\"op\":\"sync\",\"actor\":\"operator:"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		  "operator:uid-1000" },
	};
	char actor[128];
	json_t *req;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ferry_control_request_parse(&req, cases[i].line,
							     strlen(cases[i].line)), 0);
		ferry_control_actor(actor, sizeof(actor), req, 1000);
		assert_string_equal(actor, cases[i].actor);
		json_decref(req);
	}
	assert_int_equal(ferry_control_request_parse(&req, "[1]", 3), FERRY_EINVALID);
	assert_null(req);
	assert_int_equal(ferry_control_request_parse(&req, "{\"op\":5}", 8), FERRY_EINVALID);
	assert_int_equal(ferry_control_request_parse(&req, "{\"op\"", 5), FERRY_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconciler_control__round_trip),
		cmocka_unit_test(test_reconciler_control__long_path),
		cmocka_unit_test(test_reconciler_control__actor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
