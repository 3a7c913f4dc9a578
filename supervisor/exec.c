/*
 * Starting a child program (a jobrunner, a notifier): fork and exec, as
 * OpenBSD cron's do_command.c does it.  The child side resets signals, sets up its three pipes and
 * execs at once; its environment is built in the parent from a short
 * allow list, so neither the service key nor the database credentials
 * reach it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

#define ENV_MAX		32

static const char *const env_allowed[] = {
	"PATH", "TZ", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"CURL_CA_BUNDLE", "http_proxy", "https_proxy", "no_proxy",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
	"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL
};

/* Built in the parent: the child between fork and exec only calls exec. */
static void
child_env(char **env)
{
	const char	*v;
	int		 i, n = 0;

	for (i = 0; env_allowed[i] != NULL && n < ENV_MAX - 1; i++)
		if ((v = getenv(env_allowed[i])) != NULL)
			env[n++] = xasprintf("%s=%s", env_allowed[i], v);
	if (getenv("PATH") == NULL)
		env[n++] = xstrdup("PATH=/usr/bin:/bin");
	env[n] = NULL;
}

static void
child_env_free(char **env)
{
	int	i;

	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
}

static void __attribute__((noreturn))
child_exec(const char *path, const char *name, int in[2], int out[2],
    int err[2], char **env)
{
	char	 argv0[64];
	char	*argv[] = { argv0, NULL };

	strlcpy(argv0, name, sizeof(argv0));
	signals_child_reset();
	if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1 ||
	    dup2(err[1], 2) == -1)
		_exit(127);
	closefrom(3);
	execve(path, argv, env);
	dprintf(2, "cannot execute %s: %s\n", path, strerror(errno));
	_exit(127);
}

static void
close_pair(int p[2])
{
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
}

static int
open_pipes(int in[2], int out[2], int err[2])
{
	in[0] = in[1] = out[0] = out[1] = err[0] = err[1] = -1;
	if (pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
	    pipe2(err, O_CLOEXEC) == 0)
		return 0;
	log_warn("pipe");
	close_pair(in);
	close_pair(out);
	close_pair(err);
	return -1;
}

/*
 * Forks and execs path as name with its stdin, stdout and stderr on
 * pipes; returns its pid and our ends (non-blocking), or -1 with errno
 * set.
 */
pid_t
program_start(const char *path, const char *name, int *in_fd, int *out_fd,
    int *err_fd)
{
	char	*env[ENV_MAX];
	int	 in[2], out[2], err[2], saved;
	pid_t	 pid;

	if (open_pipes(in, out, err) == -1)
		return -1;
	child_env(env);
	if ((pid = fork()) == 0)
		child_exec(path, name, in, out, err, env);
	saved = errno;
	child_env_free(env);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (pid == -1) {
		close(in[1]);
		close(out[0]);
		close(err[0]);
		errno = saved;
		return -1;
	}
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	*in_fd = in[1];
	*out_fd = out[0];
	*err_fd = err[0];
	return pid;
}

pid_t
jobrunner_start(int *in_fd, int *out_fd, int *err_fd)
{
	return program_start(sv->conf.jobrunner, "evalsched-jobrunner", in_fd,
	    out_fd, err_fd);
}
