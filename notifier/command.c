/*
 * The operator's alert command: run with no shell and no arguments, the
 * generic body on its stdin, an environment of PATH, LANG, TZ and the
 * event's one-line values only (cmdenv.c), its stdout and stderr read
 * (the last line of stderr explains a failure), and killed after the
 * timeout: SIGTERM to its process group, SIGKILL NOTIFY_KILL_GRACE_MS
 * later.  deliver.c's loop drives it beside the webhooks; nothing here
 * blocks.
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notifier.h"
#include "text.h"

#define LINE_KEEP	400		/* bytes of the last stderr line */
#define NO_PIDFD_TICK	100L		/* ms between looks without a pidfd */

struct command {
	pid_t	 pid;
	int	 out, err, pidfd;	/* -1: closed */
	long	 timeout_ms;
	long	 term_at, kill_at, give_up_at;
	int	 sent;			/* the last signal we sent, or 0 */
	int	 reaped, status;
	char	 line[LINE_KEEP + 1];	/* the stderr line being read */
	size_t	 line_len;
	char	 last[LINE_KEEP + 1];	/* the last one not blank */
};

/* The input as a file: a command reads it at its pace, we never block. */
static int
input_fd(const char *input, size_t len)
{
	ssize_t	n;
	size_t	off = 0;
	int	fd;

	if ((fd = memfd_create("evalsched-alert", MFD_CLOEXEC)) == -1)
		return -1;
	while (off < len) {
		if ((n = write(fd, input + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The child side: the signal mask and SIGPIPE (ignored here, and an
 * ignored signal survives exec) back to the defaults, its own process
 * group so that a timeout reaches what it started, the fds, exec.
 */
static void __attribute__((noreturn))
child(const char *path, char *const argv[], int in, int out, int err,
    char **env)
{
	sigset_t	 none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		_exit(126);
	closefrom(3);
	execve(path, argv, env);
	dprintf(2, "cannot execute %s: %s\n", path, strerror(errno));
	_exit(127);
}

static void
close_fd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

static int
spawn(struct command *c, const char *path, char *const argv[], int in,
    char **env)
{
	int	out[2], err[2];

	if (pipe2(out, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(err, O_CLOEXEC) == -1) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if ((c->pid = fork()) == 0)
		child(path, argv, in, out[1], err[1], env);
	close(out[1]);
	close(err[1]);
	c->out = out[0];
	c->err = err[0];
	if (c->pid == -1) {
		close_fd(&c->out);
		close_fd(&c->err);
		return -1;
	}
	/* Both sides set the group, so that it exists whoever runs first. */
	setpgid(c->pid, c->pid);
	fcntl(c->out, F_SETFL, O_NONBLOCK);
	fcntl(c->err, F_SETFL, O_NONBLOCK);
	/* Without pidfds (before Linux 5.3) deliver.c looks every tick. */
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	return 0;
}

/*
 * Starts path with argv, env, and input on its stdin, to be stopped
 * after timeout_ms.  NULL with errno set when it could not be started (a
 * failed exec is the child's exit status 127).
 */
struct command *
command_run(const char *path, char *const argv[], char **env,
    const char *input, size_t len, long timeout_ms)
{
	struct command	*c;
	int		 in, r, saved;

	c = xcalloc(1, sizeof(*c));
	c->out = c->err = c->pidfd = -1;
	c->timeout_ms = timeout_ms;
	if ((in = input_fd(input, len)) == -1) {
		free(c);
		return NULL;
	}
	r = spawn(c, path, argv, in, env);
	saved = errno;
	close(in);
	if (r == -1) {
		free(c);
		errno = saved;
		return NULL;
	}
	c->term_at = mono_ms() + timeout_ms;
	return c;
}

/* The alert command: no arguments, the environment of cmdenv.c. */
struct command *
command_start(const struct notice *n, const char *input, size_t len)
{
	struct command	*c;
	char		**env, *argv[2];
	int		  saved;

	env = cmdenv_build(n);
	argv[0] = n->command;
	argv[1] = NULL;
	c = command_run(n->command, argv, env, input, len, n->timeout_ms);
	saved = errno;
	cmdenv_free(env);
	errno = saved;
	return c;
}

static void
end_line(struct command *c)
{
	char	*s = c->line;
	size_t	 n = c->line_len;

	s[n] = '\0';
	c->line_len = 0;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r' ||
	    s[n - 1] == '\t'))
		s[--n] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0')
		strlcpy(c->last, s, sizeof(c->last));
}

static void
take_stderr(struct command *c, const char *buf, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n')
			end_line(c);
		else if (c->line_len < LINE_KEEP)
			c->line[c->line_len++] = buf[i];
	}
}

/* Reads what is there; closes the pipe at its end. */
static void
drain(struct command *c, int *fd)
{
	char	buf[4096];
	ssize_t	n;
	int	rounds;

	/* Bounded, so that a chatty command cannot hold up the webhooks. */
	for (rounds = 0; *fd != -1 && rounds < 16; rounds++) {
		n = read(*fd, buf, sizeof(buf));
		if (n > 0) {
			if (fd == &c->err)
				take_stderr(c, buf, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		close_fd(fd);
	}
}

static void
signal_group(struct command *c, int sig)
{
	if (kill(-c->pid, sig) == -1)
		kill(c->pid, sig);
	c->sent = sig;
}

static void
escalate(struct command *c, long now)
{
	if (c->sent == 0 && now >= c->term_at) {
		signal_group(c, SIGTERM);
		c->kill_at = now + NOTIFY_KILL_GRACE_MS;
	} else if (c->sent == SIGTERM && now >= c->kill_at) {
		signal_group(c, SIGKILL);
		c->give_up_at = now + NOTIFY_KILL_GRACE_MS;
	}
}

/*
 * One look: output read, the child reaped, the timeout enforced.
 * Returns 1 while the command runs, 0 once it is over.
 */
int
command_step(struct command *c, long now)
{
	pid_t	pid;

	drain(c, &c->out);
	drain(c, &c->err);
	while ((pid = waitpid(c->pid, &c->status, WNOHANG)) == -1 &&
	    errno == EINTR)
		;
	if (pid == c->pid || pid == -1) {
		c->reaped = pid == c->pid;
		/*
		 * What it wrote before it ended is in the pipes; anything
		 * it left running that holds them is not waited for.
		 */
		drain(c, &c->out);
		drain(c, &c->err);
		close_fd(&c->out);
		close_fd(&c->err);
		close_fd(&c->pidfd);
		return 0;
	}
	/* A process that SIGKILL does not end (stuck in the kernel). */
	if (c->sent == SIGKILL && now >= c->give_up_at)
		return 0;
	escalate(c, now);
	return 1;
}

/* The fds worth waiting on: the pipes and the pidfd still open. */
int
command_fds(const struct command *c, int fds[3])
{
	int	n = 0;

	if (c->out != -1)
		fds[n++] = c->out;
	if (c->err != -1)
		fds[n++] = c->err;
	if (c->pidfd != -1)
		fds[n++] = c->pidfd;
	return n;
}

/* How long the loop may wait before command_step must look again. */
long
command_wait_ms(const struct command *c, long now)
{
	long	next, wait;

	if (c->sent == 0)
		next = c->term_at;
	else if (c->sent == SIGTERM)
		next = c->kill_at;
	else
		next = c->give_up_at;
	wait = next > now ? next - now : 0;
	if (c->pidfd == -1 && wait > NO_PIDFD_TICK)
		wait = NO_PIDFD_TICK;
	return wait;
}

static void
describe(const struct command *c, struct command_result *res, char *buf,
    size_t len)
{
	char	secs[32];
	size_t	used;

	text_seconds(c->timeout_ms, secs, sizeof(secs));
	if (c->sent != 0 && !c->reaped)
		snprintf(buf, len, "timed out after %s and did not end on "
		    "SIGKILL", secs);
	else if (c->sent != 0 && res->signal != -1)
		snprintf(buf, len, "timed out after %s, killed by signal %d",
		    secs, res->signal);
	else if (c->sent != 0)
		snprintf(buf, len, "timed out after %s, exited %d", secs,
		    res->exit_status);
	else if (!c->reaped)
		snprintf(buf, len, "lost track of the command");
	else if (res->signal != -1)
		snprintf(buf, len, "killed by signal %d", res->signal);
	else
		snprintf(buf, len, "exited %d", res->exit_status);
	used = strlen(buf);
	if (*c->last != '\0' && used < len)
		snprintf(buf + used, len - used, ": %s", c->last);
}

/* The outcome into res; c is freed. */
void
command_finish(struct command *c, struct command_result *res)
{
	char	error[NOTIFY_MAX_ERROR + 1];

	if (c->line_len > 0)
		end_line(c);
	res->ran = 1;
	res->exit_status = c->reaped && WIFEXITED(c->status) ?
	    WEXITSTATUS(c->status) : -1;
	res->signal = c->reaped && WIFSIGNALED(c->status) ?
	    WTERMSIG(c->status) : -1;
	res->ok = c->reaped && c->sent == 0 && res->exit_status == 0;
	free(res->error);
	res->error = NULL;
	if (!res->ok) {
		describe(c, res, error, sizeof(error));
		text_tidy_end(error);
		text_make_valid(error);
		res->error = xstrdup(error);
	}
	close_fd(&c->out);
	close_fd(&c->err);
	close_fd(&c->pidfd);
	free(c);
}
