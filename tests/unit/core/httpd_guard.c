/*
 * The slow-client guard on a real libmicrohttpd daemon on 127.0.0.1: its
 * options, the limit it gives libmicrohttpd, a trickling request cut at the
 * header deadline, and a connection over the cap cutting the oldest reader
 * so a complete request is answered.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "httpd_guard.h"
#include "testlib.h"

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **con_cls)
{
	static int marker;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)data;
	ferry_httpd_guard_read(c, *con_cls == NULL, *size);
	if (!*con_cls) {
		*con_cls = &marker;
		return MHD_YES;
	}
	r = MHD_create_response_from_buffer(3, (void *)"ok\n", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)toe;
	*con_cls = NULL;
	ferry_httpd_guard_done(c);
}

static struct MHD_Daemon *serve(ferry_httpd_guard *g, uint16_t *port)
{
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, NULL,
		MHD_OPTION_CONNECTION_LIMIT, ferry_httpd_guard_hard_limit(g, 1),
		MHD_OPTION_NOTIFY_CONNECTION, ferry_httpd_guard_notify, g,
		MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	const union MHD_DaemonInfo *info;

	assert_non_null(d);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*port = info->port;
	return d;
}

static int dial(uint16_t port, const char *text)
{
	struct sockaddr_in sa;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(send(fd, text, strlen(text), 0), (ssize_t)strlen(text));
	return fd;
}

/* The first bytes the server sends, or "" when it closes first. */
static void reply_of(int fd, char *out, size_t len)
{
	ssize_t n = recv(fd, out, len - 1, 0);

	out[n > 0 ? n : 0] = '\0';
}

static void test_core_httpd_guard__options_and_hard_limit(void **state)
{
	ferry_httpd_guard_options o = FERRY_HTTPD_GUARD_OPTIONS_INIT;
	ferry_httpd_guard *g = NULL;

	(void)state;
	o.header_timeout = 0;
	assert_int_equal(ferry_httpd_guard_new(&g, &o), FERRY_EINVALID);
	o.header_timeout = 10;
	o.max_connections = 20;
	assert_int_equal(ferry_httpd_guard_new(&g, &o), 0);
	assert_int_equal(ferry_httpd_guard_hard_limit(g, 1), 28);
	assert_int_equal(ferry_httpd_guard_hard_limit(g, 4), 112);
	ferry_httpd_guard_free(g);
	ferry_httpd_guard_free(NULL);
}

static void test_core_httpd_guard__cuts_a_trickle_at_the_header_deadline(void **state)
{
	ferry_httpd_guard_options o = FERRY_HTTPD_GUARD_OPTIONS_INIT;
	ferry_httpd_guard *g = NULL;
	struct MHD_Daemon *d;
	uint16_t port;
	char buf[256];
	int fd, i;

	(void)state;
	o.header_timeout = 1;
	assert_int_equal(ferry_httpd_guard_new(&g, &o), 0);
	d = serve(g, &port);
	fd = dial(port, "GET / HTTP/1.1\r\n");
	/* one header line every 300 ms: never idle, never done */
	for (i = 0; i < 8; i++) {
		usleep(300 * 1000);
		if (send(fd, "X-A: b\r\n", 8, MSG_NOSIGNAL) < 0)
			break;
	}
	reply_of(fd, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_true(i < 8);   /* cut before the trickle ended (2.4 s) */
	assert_int_equal(ferry_httpd_guard_cut(g), 1);
	close(fd);
	/* a request sent at once is answered */
	fd = dial(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	reply_of(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "200"));
	close(fd);
	MHD_stop_daemon(d);
	ferry_httpd_guard_free(g);
}

static void test_core_httpd_guard__over_the_cap_cuts_the_oldest_reader(void **state)
{
	ferry_httpd_guard_options o = FERRY_HTTPD_GUARD_OPTIONS_INIT;
	ferry_httpd_guard *g = NULL;
	struct MHD_Daemon *d;
	uint16_t port;
	char buf[256];
	int slow1, slow2, fd;

	(void)state;
	o.max_connections = 2;
	assert_int_equal(ferry_httpd_guard_new(&g, &o), 0);
	d = serve(g, &port);
	slow1 = dial(port, "GET / HTTP/1.1\r\n");
	usleep(100 * 1000);
	slow2 = dial(port, "GET / HTTP/1.1\r\n");
	usleep(100 * 1000);
	fd = dial(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	reply_of(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "200"));
	reply_of(slow1, buf, sizeof(buf));
	assert_string_equal(buf, "");   /* the oldest reader made room */
	assert_int_equal(ferry_httpd_guard_cut(g), 1);
	close(fd);
	close(slow1);
	close(slow2);
	MHD_stop_daemon(d);
	ferry_httpd_guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_httpd_guard__options_and_hard_limit),
		cmocka_unit_test(test_core_httpd_guard__cuts_a_trickle_at_the_header_deadline),
		cmocka_unit_test(test_core_httpd_guard__over_the_cap_cuts_the_oldest_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
