/*
 * The git command as a child process (see git_cmd.h): posix_spawnp with an
 * argument vector, its output to a file the caller chose, its errors to a
 * temporary file read back for the message, so that no pipe can fill and
 * stall either side while the caller works in parallel. git is told never
 * to prompt.
 */
#define _GNU_SOURCE   /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "fs.h"
#include "git_cmd.h"
#include "banned.h"

extern char **environ;

#define ERR_TAIL 4096

/* The subcommand's name, for messages: the first word that is neither an
 * option nor the value of "-c" or "--git-dir". */
static const char *subcommand(const char *const *argv)
{
	size_t i;

	for (i = 1; argv[i]; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--git-dir")) && argv[i + 1]) {
			i++;
			continue;
		}
		if (argv[i][0] != '-')
			return argv[i];
	}
	return "";
}

static int starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The environment git runs with: ours, no prompts and, with
 * FERRY_GIT_NO_CONFIG, no configuration but the repository's and none of
 * git's variables (no GIT_COMMON_DIR or GIT_OBJECT_DIRECTORY to lead it
 * elsewhere, no GIT_TRACE to write files). */
static int child_env(char ***out, unsigned flags)
{
	size_t n = 0, i, k = 0;
	char **env;

	while (environ[n])
		n++;
	if (!(env = calloc(n + 5, sizeof(*env))))
		return ferry_error_oom();
	for (i = 0; i < n; i++)
		if (!starts(environ[i], "GIT_TERMINAL_PROMPT=") &&
		    !starts(environ[i], "GIT_ASKPASS=") &&
		    !((flags & FERRY_GIT_NO_CONFIG) && starts(environ[i], "GIT_")))
			env[k++] = environ[i];
	env[k++] = (char *)"GIT_TERMINAL_PROMPT=0";
	env[k++] = (char *)"GIT_ASKPASS=true";
	if (flags & FERRY_GIT_NO_CONFIG) {
		env[k++] = (char *)"GIT_CONFIG_NOSYSTEM=1";
		env[k++] = (char *)"GIT_CONFIG_GLOBAL=/dev/null";
	}
	env[k] = NULL;
	*out = env;
	return 0;
}

/*
 * Write all of `data` to git's input with SIGPIPE blocked, so that git
 * ending early gives EPIPE here instead of ending the process; a SIGPIPE
 * this raised is taken back before the mask is restored. 0, or -1 with
 * errno.
 */
static int write_input(int fd, const void *data, size_t len)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = { 0, 0 };
	int was_pending, rc = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	if (ferry_fs_write_all(fd, data, len) < 0) {
		int saved = errno;

		rc = -1;
		if (saved == EPIPE && !was_pending)
			while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
				;
		errno = saved;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Start the child; *in gets the write end of its standard input. */
static int spawn(ferry_git_child *out, const char *const *argv, int out_fd, unsigned flags,
		 int *in)
{
	posix_spawn_file_actions_t fa;
	int pin[2] = { -1, -1 }, devnull = -1, fa_ready = 0, error = 0, rc;
	char **env = NULL;

	memset(out, 0, sizeof(*out));
	out->pid = -1;
	out->in = -1;
	*in = -1;
	out->sub = subcommand(argv);
	if ((error = child_env(&env, flags)) < 0)
		goto done;
	if (!(out->err = tmpfile()) || fcntl(fileno(out->err), F_SETFD, FD_CLOEXEC) < 0 ||
	    ferry_fs_pipe_cloexec(pin) < 0 ||
	    (out_fd < 0 && (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot start git %s", out->sub);
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	fa_ready = 1;
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd >= 0 ? out_fd : devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, fileno(out->err), 2);
	if ((rc = posix_spawnp(&out->pid, argv[0], &fa, NULL, (char *const *)argv, env))) {
		out->pid = -1;
		if (rc == ENOENT)
			error = ferry_error_set(FERRY_ENOTFOUND, "no '%s' command on PATH "
						"(exporting git repositories needs git on the "
						"connected side)", argv[0]);
		else
			error = ferry_error_set(FERRY_EIO, "cannot run %s: %s", argv[0],
						strerror(rc));
		goto done;
	}
	*in = pin[1];
	pin[1] = -1;
done:
	if (pin[0] >= 0)
		close(pin[0]);
	if (pin[1] >= 0)
		close(pin[1]);
	if (devnull >= 0)
		close(devnull);
	if (fa_ready)
		posix_spawn_file_actions_destroy(&fa);
	free(env);
	if (error < 0 && out->err) {
		fclose(out->err);
		out->err = NULL;
	}
	return error;
}

int ferry_git_start(ferry_git_child *out, const char *const *argv, int out_fd,
		    const void *input, size_t inputlen)
{
	int in, error;

	if ((error = spawn(out, argv, out_fd, 0, &in)) < 0)
		return error;
	/* EPIPE: git stopped reading; its exit status says why */
	if (inputlen)
		write_input(in, input, inputlen);
	close(in);
	return 0;
}

int ferry_git_start_fed(ferry_git_child *out, const char *const *argv, int out_fd,
			unsigned flags)
{
	int error = spawn(out, argv, out_fd, flags, &out->in);

	/* a larger pipe: the feeder and git block on each other less */
	if (!error)
		(void)fcntl(out->in, F_SETPIPE_SZ, 1 << 20);
	return error;
}

int ferry_git_write(ferry_git_child *c, const void *data, size_t len)
{
	if (c->in < 0 || write_input(c->in, data, len) < 0)
		return ferry_error_set_errno(FERRY_EIO, "git %s stopped reading", c->sub);
	return 0;
}

/* The last non-empty line of what git wrote on standard error. */
static void last_line(char *buf, size_t size, FILE *f)
{
	long end;
	size_t n = 0;
	char *p;

	snprintf(buf, size, "no message");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) <= 0)
		return;
	if (fseek(f, end > (long)size - 1 ? end - (long)size + 1 : 0, SEEK_SET) != 0)
		return;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (!n) {
		snprintf(buf, size, "no message");
		return;
	}
	if ((p = strrchr(buf, '\n')))
		memmove(buf, p + 1, strlen(p + 1) + 1);
}

int ferry_git_finish(ferry_git_child *c)
{
	char line[ERR_TAIL];
	int status = 0, error = 0;

	if (c->in >= 0) {
		close(c->in);
		c->in = -1;
	}
	if (c->pid > 0) {
		while (waitpid(c->pid, &status, 0) < 0)
			if (errno != EINTR) {
				error = ferry_error_set_errno(FERRY_EIO, "git %s", c->sub);
				break;
			}
		c->pid = -1;
		if (!error && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			last_line(line, sizeof(line), c->err);
			error = ferry_error_set(FERRY_ERROR, "git %s: %s", c->sub, line);
		}
	}
	if (c->err)
		fclose(c->err);
	c->err = NULL;
	return error;
}

void ferry_git_abort(ferry_git_child *c)
{
	int status;

	if (c->in >= 0) {
		close(c->in);
		c->in = -1;
	}
	if (c->pid > 0) {
		kill(c->pid, SIGTERM);
		while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	c->pid = -1;
	if (c->err)
		fclose(c->err);
	c->err = NULL;
}

int ferry_git_run(const char *const *argv, int out_fd, const void *input, size_t inputlen)
{
	ferry_git_child c;
	int error;

	if ((error = ferry_git_start(&c, argv, out_fd, input, inputlen)) < 0)
		return error;
	return ferry_git_finish(&c);
}
