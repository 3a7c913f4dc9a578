/*
 * Every child the supervisor runs, whatever its kind (a jobrunner, a
 * notifier): one table of slots, one way to start a child (exec.c) and
 * hand it its job, one poll set for its pipes (pipes.c), one deadline
 * with one SIGTERM-then-SIGKILL, and one reaping loop that hands each
 * end to its kind (struct child_kind).
 *
 * The loop never waits on a child: the job is written as the pipe takes
 * it, and stdout and stderr are read as they come.  A child that writes
 * more than a pipe holds, or reads its job slowly, only waits for the
 * next turn; a child that stops reading or writing meets its deadline.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

/*
 * Slots past the high-water mark are never read or written, so the
 * table costs memory only for what has been used.  A free slot's other
 * fields mean nothing.
 */
static struct child	 slots[CHILD_SLOTS];
static int		 nslots;

/* Which child and which of its pipes each poll entry is. */
static struct {
	struct child	*c;
	int		 fd;
} pollmap[CHILD_SLOTS * 3];

static int
is_kind(const struct child *c, const struct child_kind *kind)
{
	return c->kind != NULL && (kind == NULL || c->kind == kind);
}

/* The next child of a kind (NULL: any) after c (NULL: the first). */
struct child *
child_next(const struct child_kind *kind, struct child *c)
{
	for (c = c == NULL ? slots : c + 1; c < slots + nslots; c++)
		if (is_kind(c, kind))
			return c;
	return NULL;
}

/* Children of a kind (NULL: any) for which which() holds (NULL: all). */
int
child_count(const struct child_kind *kind, int (*which)(const struct child *))
{
	struct child	*c = NULL;
	int		 n = 0;

	while ((c = child_next(kind, c)) != NULL)
		n += which == NULL || which(c);
	return n;
}

static struct child *
child_by_pid(pid_t pid)
{
	struct child	*c = NULL;

	while ((c = child_next(NULL, c)) != NULL)
		if (c->pid == pid)
			return c;
	return NULL;
}

static struct child *
free_slot(void)
{
	int	i;

	for (i = 0; i < CHILD_SLOTS; i++)
		if (slots[i].kind == NULL) {
			if (i >= nslots)
				nslots = i + 1;
			return &slots[i];
		}
	return NULL;
}

/*
 * Starts path as a child of its kind, waiting for its job on stdin.
 * NULL with errno set when it cannot (no slot for its kind: EAGAIN; no
 * pipe or process): a temporary failure, for the caller to say.
 */
struct child *
child_start(const struct child_kind *kind, const char *path)
{
	struct child	*c;
	int		 in, out, err;
	pid_t		 pid;

	if (child_count(kind, NULL) >= kind->max ||
	    (c = free_slot()) == NULL) {
		errno = EAGAIN;
		return NULL;
	}
	if ((pid = program_start(path, kind->program, &in, &out, &err)) == -1)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->state = CHILD_SPARE;
	c->pid = pid;
	c->in_fd = in;
	c->out_fd = out;
	c->err_fd = err;
	c->started_ms = mono_ms();
	c->deadline_ms = INT64_MAX;
	return c;
}

/*
 * Hands a started child its job (taken, and wiped once written) and its
 * time to do it.  What the pipe does not take now goes as it drains.
 */
void
child_give(struct child *c, char *job, int64_t timeout_ms)
{
	c->job = job;
	c->job_len = strlen(job);
	c->job_off = 0;
	c->started_ms = mono_ms();
	c->deadline_ms = c->started_ms + timeout_ms;
	c->state = CHILD_RUNNING;
	pipes_write_job(c);
}

static int
add_pollfd(struct pollfd *pfd, int n, int max, struct child *c, int fd,
    short events)
{
	if (fd == -1 || n >= max)
		return n;
	pfd[n].fd = fd;
	pfd[n].events = events;
	pfd[n].revents = 0;
	pollmap[n].c = c;
	pollmap[n].fd = fd;
	return n + 1;
}

/* Every child's pipes that have something for us, or room for its job. */
int
child_pollfds(struct pollfd *pfd, int max)
{
	struct child	*c = NULL;
	int		 n = 0;

	while ((c = child_next(NULL, c)) != NULL) {
		/* A spare's stdin stays open, unpolled, until it has a job. */
		if (c->job != NULL)
			n = add_pollfd(pfd, n, max, c, c->in_fd, POLLOUT);
		n = add_pollfd(pfd, n, max, c, c->out_fd, POLLIN);
		n = add_pollfd(pfd, n, max, c, c->err_fd, POLLIN);
	}
	return n;
}

void
child_io(struct pollfd *pfd, int n)
{
	struct child	*c;
	int		 i;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		c = pollmap[i].c;
		if (pollmap[i].fd == c->in_fd && c->job != NULL)
			pipes_write_job(c);
		else if (pollmap[i].fd == c->out_fd)
			pipes_read_stdout(c);
		else if (pollmap[i].fd == c->err_fd)
			pipes_read_stderr(c);
	}
}

static void
child_release(struct child *c)
{
	pipes_close(c);
	free(c->out);
	free(c->schedule_name);
	memset(c, 0, sizeof(*c));
	c->in_fd = c->out_fd = c->err_fd = -1;
}

/* Its kind hears of its end once what it wrote before is read. */
static void
child_finish(struct child *c, int wstatus)
{
	if (c->out_fd != -1)
		pipes_read_stdout(c);
	if (c->err_fd != -1)
		pipes_read_stderr(c);
	c->kind->done(c, wstatus);
	child_release(c);
}

/* Reaps every child that has exited; no zombie survives a turn. */
void
child_reap(void)
{
	struct child	*c;
	pid_t		 pid;
	int		 wstatus;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
		if ((c = child_by_pid(pid)) != NULL)
			child_finish(c, wstatus);
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

/* Whether it ended since the last reaping; if so, it is finished now. */
int
child_exited(struct child *c)
{
	int	wstatus;

	if (waitpid(c->pid, &wstatus, WNOHANG) != c->pid)
		return 0;
	child_finish(c, wstatus);
	return 1;
}

static void
child_signal(struct child *c, int sig)
{
	if (kill(c->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill %ld", (long)c->pid);
}

/* Into a terminating state: SIGTERM now, SIGKILL at the deadline. */
void
child_terminate(struct child *c, enum child_state why)
{
	c->state = why;
	child_signal(c, SIGTERM);
	c->deadline_ms = mono_ms() + KILL_GRACE_MS;
}

/* Past its deadline: a running child is stopped, a stopping one killed. */
void
child_check_deadlines(int64_t now)
{
	struct child	*c = NULL;

	while ((c = child_next(NULL, c)) != NULL) {
		if (now < c->deadline_ms)
			continue;
		if (c->state == CHILD_RUNNING) {
			c->kind->timed_out(c);
			child_terminate(c, CHILD_TIMED_OUT);
		} else {
			/* Terminating, and it ignored SIGTERM. */
			child_signal(c, SIGKILL);
			c->deadline_ms = INT64_MAX;
		}
	}
}

int64_t
child_next_deadline(void)
{
	struct child	*c = NULL;
	int64_t		 next = INT64_MAX;

	while ((c = child_next(NULL, c)) != NULL)
		if (c->deadline_ms < next)
			next = c->deadline_ms;
	return next;
}
