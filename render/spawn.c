/*
 * Child processes for the renderers and the targets (kubectl, helm,
 * podman, compose): posix_spawnp with an argument vector, never a shell,
 * so nothing from a manifest or a config value is ever parsed as shell
 * syntax. stdout and stderr are drained together with poll() so a child
 * that fills one pipe cannot deadlock against us.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "fs.h"
#include "render.h"
#include "banned.h"

extern char **environ;

#define SPAWN_OUTPUT_MAX (64u << 20)

int ferry_spawn_available(const char *prog)
{
	const char *path = getenv("PATH");
	ferry_buf b = FERRY_BUF_INIT;
	const char *p, *e;
	int found = 0;

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	for (p = path ? path : "/usr/bin:/bin"; !found && *p; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (!e)
			e = p + strlen(p);
		ferry_buf_clear(&b);
		if (ferry_buf_printf(&b, "%.*s/%s", (int)(e - p), p, prog) == 0) {
			struct stat s;

			found = stat(b.ptr, &s) == 0 && S_ISREG(s.st_mode) && access(b.ptr, X_OK) == 0;
		}
	}
	ferry_buf_dispose(&b);
	return found;
}

int ferry_spawn_format(ferry_buf *out, const char *const *argv)
{
	size_t i;
	int error = 0;

	for (i = 0; argv[i] && !error; i++) {
		const char *a = argv[i];

		if (i)
			error = ferry_buf_puts(out, " ");
		if (!error && *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789-_./:=@,+%") == strlen(a)) {
			error = ferry_buf_puts(out, a);
		} else if (!error) {
			const char *q;

			error = ferry_buf_puts(out, "'");
			for (q = a; *q && !error; q++)
				error = *q == '\'' ? ferry_buf_puts(out, "'\\''")
						   : ferry_buf_put(out, q, 1);
			if (!error)
				error = ferry_buf_puts(out, "'");
		}
	}
	return error;
}

static int build_env(char ***out, const char *const *add)
{
	size_t n = 0, m = 0, i, j;
	char **env;

	while (environ[n])
		n++;
	while (add && add[m])
		m++;
	if (!(env = calloc(n + m + 1, sizeof(*env))))
		return ferry_error_oom();
	for (i = 0, j = 0; i < n; i++) {
		size_t k, keep = 1;

		/* a variable given in `add` replaces the inherited one */
		for (k = 0; k < m && keep; k++) {
			size_t len = strcspn(add[k], "=");

			if (!strncmp(environ[i], add[k], len) && environ[i][len] == '=')
				keep = 0;
		}
		if (keep)
			env[j++] = environ[i];
	}
	for (i = 0; i < m; i++)
		env[j++] = (char *)add[i];
	env[j] = NULL;
	*out = env;
	return 0;
}

static int drain(int fd, ferry_buf *into, int *open_fd)
{
	char chunk[16384];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		close(fd);
		*open_fd = -1;
		return 0;
	}
	if (into && into->size + (size_t)n <= SPAWN_OUTPUT_MAX)
		return ferry_buf_put(into, chunk, (size_t)n);
	return 0;
}

int ferry_spawn(int *status, ferry_buf *out, ferry_buf *err,
		const char *const *argv, const char *const *env_add)
{
	posix_spawn_file_actions_t fa;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, devnull = -1;
	char **env = NULL;
	pid_t pid = -1;
	int error = 0, rc, wstatus = 0, have_fa = 0;

	*status = -1;
	if ((error = build_env(&env, env_add)) < 0)
		return error;
	if (ferry_fs_pipe_cloexec(po) < 0 || ferry_fs_pipe_cloexec(pe) < 0 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot run '%s'", argv[0]);
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	have_fa = 1;
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
	if (rc == ENOENT || rc == EACCES) {   /* glibc reports the exec's failure */
		error = ferry_error_set(FERRY_ENOTFOUND, strchr(argv[0], '/')
						? "no executable at that path"
						: "not installed (not found in PATH)");
		pid = -1;
		goto done;
	}
	if (rc != 0) {
		errno = rc;
		error = ferry_error_set_errno(FERRY_EIO, "cannot run '%s'", argv[0]);
		pid = -1;
		goto done;
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	while (po[0] >= 0 || pe[0] >= 0) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			error = ferry_error_set_errno(FERRY_EIO, "poll");
			break;
		}
		if (po[0] >= 0 && p[0].revents && (error = drain(po[0], out, &po[0])) < 0)
			break;
		if (pe[0] >= 0 && p[1].revents && (error = drain(pe[0], err, &pe[0])) < 0)
			break;
	}
done:
	if (pid > 0) {
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		*status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
					     : 128 + (WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
	}
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	if (po[0] >= 0) close(po[0]);
	if (po[1] >= 0) close(po[1]);
	if (pe[0] >= 0) close(pe[0]);
	if (pe[1] >= 0) close(pe[1]);
	if (devnull >= 0)
		close(devnull);
	free(env);
	return error;
}
