/*
 * Starting a child program (a jobrunner, a notifier; child.c is the one
 * caller): posix_spawn(3), not a hand-written fork and child side.
 *
 * glibc's posix_spawn clones with CLONE_VM | CLONE_VFORK: the
 * supervisor's page tables are not copied, and its pages are not made
 * copy-on-write, for a child that execs at once.  That was most of what
 * a start cost the supervisor: over make bench's burst its CPU per run
 * fell from 0.9 to 0.35 ms, and each child no longer spends about 0.5 ms
 * tearing down its copy of the supervisor in exec.  Like skalibs'
 * cspawn, it reports exec's errno to the caller, here turned back into
 * the exit 127 the callers know (exec_failed).  And the child side is
 * glibc's, which knows what a child sharing our memory must not touch.
 *
 * The attributes give the child what the hand-written side did: an
 * empty signal mask and every signal at its default (the supervisor
 * blocks those it reads from its signalfd and ignores SIGPIPE; glibc
 * leaves only its own two internal signals ignored, as for any
 * posix_spawn), the three pipes on 0, 1 and 2, every other descriptor
 * closed (closefrom, as close_range), and an environment built in the
 * parent from a short allow list, so that neither the service key nor
 * the database credentials reach the child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
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

/*
 * GnuTLS is in our programs only as a dependency of libcurl's librtmp
 * and libldap, for protocols they refuse (CURLOPT_PROTOCOLS_STR is
 * "http,https"; TLS is OpenSSL's).  Its load-time constructor still
 * parses its ASN.1 tables at every start: 0.3 ms of a jobrunner's CPU
 * and 40 of its page faults.  This variable, read by that constructor,
 * skips it.
 */
#define ENV_NO_GNUTLS_INIT	"GNUTLS_NO_IMPLICIT_INIT=1"

static void
child_env(char **env)
{
	const char	*v;
	int		 i, n = 0;

	for (i = 0; env_allowed[i] != NULL && n < ENV_MAX - 3; i++)
		if ((v = getenv(env_allowed[i])) != NULL)
			env[n++] = xasprintf("%s=%s", env_allowed[i], v);
	if (getenv("PATH") == NULL)
		env[n++] = xstrdup("PATH=/usr/bin:/bin");
	env[n++] = xstrdup(ENV_NO_GNUTLS_INIT);
	env[n] = NULL;
}

static void
child_env_free(char **env)
{
	int	i;

	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
}

static void
close_pair(int p[2])
{
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	p[0] = p[1] = -1;
}

/*
 * Moves a descriptor to 3 or above.  A pipe end that is 0, 1 or 2 (the
 * supervisor was started with one of them closed) would go wrong in the
 * child: put on itself, it would keep O_CLOEXEC and be closed by exec,
 * and put on a descriptor another end still occupies, it would close
 * that end first.  Above 2, no end is ever a target of the file actions.
 */
static int
above_stdio(int *fd)
{
	int	nfd;

	if (*fd > 2)
		return 0;
	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3)) == -1)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

static int
open_pipes(int in[2], int out[2], int err[2])
{
	int	*ends[] = { &in[0], &in[1], &out[0], &out[1], &err[0],
		    &err[1] };
	size_t	 i;

	in[0] = in[1] = out[0] = out[1] = err[0] = err[1] = -1;
	if (pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
	    pipe2(err, O_CLOEXEC) == 0) {
		/* All six are open: a moved end cannot take another's place. */
		for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
			if (above_stdio(ends[i]) == -1)
				break;
		if (i == sizeof(ends) / sizeof(ends[0]))
			return 0;
	}
	log_warn("pipe");
	close_pair(in);
	close_pair(out);
	close_pair(err);
	return -1;
}

static int
spawn_attr(posix_spawnattr_t *attr)
{
	sigset_t	none, all;

	sigemptyset(&none);
	sigfillset(&all);
	if (posix_spawnattr_init(attr) != 0)
		return -1;
	if (posix_spawnattr_setsigmask(attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(attr, &all) != 0 ||
	    posix_spawnattr_setflags(attr,
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0) {
		posix_spawnattr_destroy(attr);
		return -1;
	}
	return 0;
}

/* The child's ends on 0, 1 and 2 (all above 2 now), nothing else open. */
static int
spawn_files(posix_spawn_file_actions_t *fa, int in[2], int out[2],
    int err[2])
{
	if (posix_spawn_file_actions_init(fa) != 0)
		return -1;
	if (posix_spawn_file_actions_adddup2(fa, in[0], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, out[1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, err[1], 2) != 0 ||
	    posix_spawn_file_actions_addclosefrom_np(fa, 3) != 0) {
		posix_spawn_file_actions_destroy(fa);
		return -1;
	}
	return 0;
}

/*
 * The program could not be executed: posix_spawn returns exec's errno
 * where a forked child used to report it.  The callers still learn it as
 * before, from a child that says why on its stderr and exits 127
 * (outcome.c and alerts.c describe that).  This child only writes and
 * exits, so a plain fork serves; it happens only when the configured
 * path is wrong.
 */
static pid_t
exec_failed(const char *path, int error, int err_fd)
{
	char	msg[512];
	pid_t	pid;
	int	n;

	n = snprintf(msg, sizeof(msg), "cannot execute %s: %s\n", path,
	    strerror(error));
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = (int)strlen(msg);
	if ((pid = fork()) == 0) {
		(void)write(err_fd, msg, (size_t)n);
		_exit(127);
	}
	return pid;
}

/*
 * Starts path as name with its ends of the pipes; returns its pid, or
 * -1 with errno set when no process could be made (a fork failure, for
 * the caller: temporary).
 */
static pid_t
spawn(const char *path, const char *name, int in[2], int out[2], int err[2])
{
	posix_spawnattr_t		 attr;
	posix_spawn_file_actions_t	 fa;
	char				*env[ENV_MAX], argv0[64];
	char				*argv[] = { argv0, NULL };
	pid_t				 pid = -1;
	int				 r;

	strlcpy(argv0, name, sizeof(argv0));
	/* They fail only for want of memory. */
	if (spawn_attr(&attr) == -1) {
		errno = ENOMEM;
		return -1;
	}
	if (spawn_files(&fa, in, out, err) == -1) {
		posix_spawnattr_destroy(&attr);
		errno = ENOMEM;
		return -1;
	}
	child_env(env);
	r = posix_spawn(&pid, path, &fa, &attr, argv, env);
	child_env_free(env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r == 0)
		return pid;
	/* No process at all: out of processes or memory. */
	if (r == EAGAIN || r == ENOMEM) {
		errno = r;
		return -1;
	}
	return exec_failed(path, r, err[1]);
}

/*
 * Starts path as name with its stdin, stdout and stderr on pipes;
 * returns its pid and our ends (non-blocking), or -1 with errno set.
 */
pid_t
program_start(const char *path, const char *name, int *in_fd, int *out_fd,
    int *err_fd)
{
	int	 in[2], out[2], err[2], saved;
	pid_t	 pid;

	if (open_pipes(in, out, err) == -1)
		return -1;
	pid = spawn(path, name, in, out, err);
	saved = errno;
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
