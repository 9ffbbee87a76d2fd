/*
 * The daemon's control socket (see control.h). A listener thread accepts
 * connections and hands each to a thread of its own, at most eight at a
 * time (a ninth is told the daemon is busy), because a request such as
 * `sync` waits for its cycle while `suspend` or `reload` must not wait
 * behind it. A request is one line of at most FERRY_CONTROL_MAX_REQUEST
 * bytes that must arrive within CONTROL_READ_S seconds; the answer is one
 * line. A socket path longer than sun_path is reached through the
 * directory's /proc/self/fd entry.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "buf.h"
#include "control.h"
#include "json.h"
#include "log.h"
#include "banned.h"

#define CONTROL_MAX_ACTIVE 8
#define CONTROL_READ_S 5
/* The longest answer a client takes. */
#define CONTROL_MAX_REPLY (1024 * 1024)

struct ferry_control {
	int fd;                 /* listening */
	int wake[2];            /* a byte here stops the listener */
	char *path;
	ferry_control_fn fn;
	void *payload;
	pthread_t listener;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned active;        /* connections being answered */
};

typedef struct {
	ferry_control *c;
	int fd;
} connection;

/*
 * The address of `path`; when it is too long for sun_path, `*dirfd` gets
 * its directory, opened, and the address goes through /proc/self/fd.
 */
static int address_of(struct sockaddr_un *sa, int *dirfd, const char *path)
{
	const char *slash = strrchr(path, '/');
	ferry_buf dir = FERRY_BUF_INIT;
	int n, error = 0;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	*dirfd = -1;
	if (strlen(path) < sizeof(sa->sun_path)) {
		memcpy(sa->sun_path, path, strlen(path) + 1);
		return 0;
	}
	if (!slash)
		return ferry_error_set(FERRY_EINVALID, "socket name '%s' is too long", path);
	if ((error = ferry_buf_put(&dir, path, (size_t)(slash - path))) < 0)
		return error;
	if ((*dirfd = open(dir.size ? dir.ptr : "/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		error = ferry_error_set_errno(FERRY_EIO, "cannot open '%s'", dir.ptr);
	ferry_buf_dispose(&dir);
	if (error < 0)
		return error;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *dirfd, slash + 1);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
		close(*dirfd);
		*dirfd = -1;
		return ferry_error_set(FERRY_EINVALID, "socket name '%s' is too long", path);
	}
	return 0;
}

static int write_line(int fd, json_t *doc)
{
	char *text = ferry_json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	size_t len, off = 0;
	int error = 0;

	if (!text)
		return ferry_error_oom();
	len = strlen(text);
	text[len++] = '\n';   /* over the NUL: the line is sent by length */
	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot write to the control socket");
			break;
		}
		off += (size_t)n;
	}
	free(text);
	return error;
}

/* One line (without its newline) into `line`: at most `max` bytes. */
static int read_line(ferry_buf *line, int fd, size_t max)
{
	char buf[4096];
	int error;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ferry_error_set_errno(FERRY_EIO, "cannot read the control socket");
		if (n == 0)
			return ferry_error_set(FERRY_EIO, "the control socket closed mid-line");
		nl = memchr(buf, '\n', (size_t)n);
		if ((error = ferry_buf_put(line, buf, nl ? (size_t)(nl - buf) : (size_t)n)) < 0)
			return error;
		if (line->size > max)
			return ferry_error_set(FERRY_EINVALID, "control line longer than %zu bytes",
					       max);
		if (nl)
			return 0;
	}
}

int ferry_control_request_parse(json_t **out, const char *line, size_t len)
{
	json_t *req = NULL;
	int error;

	*out = NULL;
	if ((error = ferry_json_parse(&req, line, len, "control request")) < 0)
		return error;
	if (!json_is_object(req) || !json_is_string(json_object_get(req, "op"))) {
		json_decref(req);
		return ferry_error_set(FERRY_EINVALID, "a control request is an object with an op");
	}
	*out = req;
	return 0;
}

int ferry_control_operator_name_ok(const char *name)
{
	size_t n = 0;

	while (n <= FERRY_CONTROL_OPERATOR_MAX && name[n] &&
	       (isalnum((unsigned char)name[n]) || strchr("._@-", name[n])))
		n++;
	return n > 0 && n <= FERRY_CONTROL_OPERATOR_MAX && !name[n];
}

void ferry_control_actor(char *buf, size_t len, const json_t *request, unsigned peer_uid)
{
	const char *who = json_string_value(json_object_get(request, "actor"));

	if (who && !strncmp(who, "operator:", 9) && ferry_control_operator_name_ok(who + 9))
		snprintf(buf, len, "%s", who);
	else
		snprintf(buf, len, "operator:uid-%u", peer_uid);
}

static void *answer(void *arg)
{
	connection *conn = arg;
	ferry_control *c = conn->c;
	struct timeval tv = { CONTROL_READ_S, 0 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	ferry_buf line = FERRY_BUF_INIT;
	json_t *req = NULL, *reply = NULL;
	int error;

	setsockopt(conn->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (getsockopt(conn->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot read the peer's credentials");
		goto done;
	}
	if ((error = read_line(&line, conn->fd, FERRY_CONTROL_MAX_REQUEST)) < 0 ||
	    (error = ferry_control_request_parse(&req, line.ptr ? line.ptr : "",
						 line.size)) < 0)
		goto done;
	ferry_log(FERRY_LOG_INFO, "control: %s from uid %u",
		  json_string_value(json_object_get(req, "op")), (unsigned)cred.uid);
	error = c->fn(&reply, req, (unsigned)cred.uid, c->payload);
done:
	if (error < 0) {
		json_decref(reply);
		reply = json_pack("{s:b,s:s,s:i}", "ok", 0, "error", ferry_error_last(), "code",
				  error);
	}
	if (reply)
		write_line(conn->fd, reply);
	ferry_error_clear();
	json_decref(reply);
	json_decref(req);
	ferry_buf_dispose(&line);
	close(conn->fd);
	free(conn);
	pthread_mutex_lock(&c->lock);
	c->active--;
	pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void *listener(void *arg)
{
	ferry_control *c = arg;
	struct pollfd p[2] = { { c->fd, POLLIN, 0 }, { c->wake[0], POLLIN, 0 } };

	for (;;) {
		connection *conn;
		pthread_t th;
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if ((fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		pthread_mutex_lock(&c->lock);
		if (c->active >= CONTROL_MAX_ACTIVE || !(conn = malloc(sizeof(*conn)))) {
			pthread_mutex_unlock(&c->lock);
			json_t *busy = json_pack("{s:b,s:s}", "ok", 0, "error",
						 "the daemon is answering too many requests; "
						 "try again");

			if (busy)
				write_line(fd, busy);
			ferry_error_clear();
			json_decref(busy);
			close(fd);
			continue;
		}
		conn->c = c;
		conn->fd = fd;
		c->active++;
		if (pthread_create(&th, NULL, answer, conn) != 0) {
			c->active--;
			pthread_mutex_unlock(&c->lock);
			close(fd);
			free(conn);
			continue;
		}
		pthread_detach(th);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

int ferry_control_start(ferry_control **out, const char *path, long group, ferry_control_fn fn,
			void *payload)
{
	ferry_control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	int dirfd = -1, error;

	*out = NULL;
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return ferry_error_oom();
	}
	c->fd = c->wake[0] = c->wake[1] = -1;
	c->fn = fn;
	c->payload = payload;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	if ((error = address_of(&sa, &dirfd, path)) < 0)
		goto fail;
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    pipe2(c->wake, O_CLOEXEC) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot make the control socket");
		goto fail;
	}
	/* A socket left by a daemon that died: ours now (the caller holds the
	 * daemon's lock). Nobody can connect before listen(), so the mode is
	 * set in between. */
	if ((unlink(path) < 0 && errno != ENOENT) ||
	    bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (group >= 0 && chown(path, (uid_t)-1, (gid_t)group) < 0) ||
	    chmod(path, group >= 0 ? 0660 : 0600) < 0 || listen(c->fd, 16) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot listen on '%s'", path);
		goto fail;
	}
	if (pthread_create(&c->listener, NULL, listener, c) != 0) {
		unlink(path);
		error = ferry_error_set(FERRY_ERROR, "cannot start the control thread");
		goto fail;
	}
	if (dirfd >= 0)
		close(dirfd);
	*out = c;
	return 0;
fail:
	if (dirfd >= 0)
		close(dirfd);
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->idle);
	free(c->path);
	free(c);
	return error;
}

void ferry_control_stop(ferry_control *c)
{
	char b = 0;

	if (!c)
		return;
	if (write(c->wake[1], &b, 1) < 0)
		ferry_log(FERRY_LOG_WARN, "control: cannot wake the listener");
	pthread_join(c->listener, NULL);
	close(c->fd);
	unlink(c->path);
	pthread_mutex_lock(&c->lock);
	while (c->active)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
	close(c->wake[0]);
	close(c->wake[1]);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->idle);
	free(c->path);
	free(c);
}

int ferry_control_call(json_t **reply, const char *path, json_t *request, unsigned timeout_s)
{
	struct sockaddr_un sa;
	struct timeval tv = { (time_t)timeout_s, 0 };
	ferry_buf line = FERRY_BUF_INIT;
	int fd = -1, dirfd = -1, error;

	*reply = NULL;
	if ((error = address_of(&sa, &dirfd, path)) < 0)
		return error;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot make a socket");
		goto done;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			error = ferry_error_set(FERRY_ENOTFOUND, "no daemon listens on '%s'", path);
		else
			error = ferry_error_set_errno(FERRY_EIO, "cannot reach the daemon on '%s'",
						      path);
		goto done;
	}
	if (timeout_s)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if ((error = write_line(fd, request)) < 0 ||
	    (error = read_line(&line, fd, CONTROL_MAX_REPLY)) < 0 ||
	    (error = ferry_json_parse(reply, line.ptr ? line.ptr : "", line.size,
				      "the daemon's answer")) < 0)
		goto done;
	if (!json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		error = ferry_error_set(FERRY_EINVALID, "the daemon's answer is not an object");
	}
done:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	ferry_buf_dispose(&line);
	return error;
}
