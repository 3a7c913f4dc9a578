/*
 * The jobrunners in flight: a fixed table of slots, handing out runs,
 * reaping, and deadlines.  Starting one is exec.c's; its pipes, pipes.c's.
 *
 * One jobrunner is kept started ahead of time, as a spare, in a free
 * slot: exec and loading libcurl cost more than the rest of a dispatch,
 * and a spare that is already waiting on its stdin takes its job at the
 * due time.  It counts as alive toward max_concurrent.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

#define SPARE_BACKOFF_MIN_MS	1000
#define SPARE_BACKOFF_MAX_MS	60000

/*
 * Slots past the high-water mark are never read or written, so the
 * table costs memory only for what max_concurrent has used.  A free
 * slot's other fields mean nothing.  The counts are the table's: at
 * most max_concurrent slots are scanned, so none is kept by hand.
 */
static struct child	 slots[CONFIG_MAX_CONCURRENT];
static int		 nslots;
static int64_t		 spare_retry_ms, spare_backoff_ms = SPARE_BACKOFF_MIN_MS;

/* Which child and which of its pipes each poll entry is. */
static struct {
	struct child	*c;
	int		 fd;
} pollmap[CONFIG_MAX_CONCURRENT * 3];

static int
has_run(const struct child *c)
{
	return c->state >= CHILD_RUNNING;
}

static int
count(int (*which)(const struct child *))
{
	int	i, n = 0;

	for (i = 0; i < nslots; i++)
		n += slots[i].state != CHILD_FREE && which(&slots[i]);
	return n;
}

static int
any(const struct child *c)
{
	(void)c;
	return 1;
}

static int
is_spare(const struct child *c)
{
	return c->state == CHILD_SPARE;
}

static int
is_retiring(const struct child *c)
{
	return c->state == CHILD_RETIRING;
}

/* Runs in flight. */
int
children_running(void)
{
	return count(has_run);
}

/* Slots for new runs: an idle spare is one of them, a retiring one not. */
int
children_free_slots(void)
{
	int	n = sv->conf.max_concurrent - children_running() -
	    count(is_retiring);

	return n > 0 ? n : 0;
}

/* Every process of ours in the table: runs, spares, retiring spares. */
int
children_alive(void)
{
	return count(any);
}

static struct child *
child_by_pid(pid_t pid)
{
	int	i;

	for (i = 0; i < nslots; i++)
		if (slots[i].state != CHILD_FREE && slots[i].pid == pid)
			return &slots[i];
	return NULL;
}

static struct child *
free_slot(void)
{
	int	i;

	for (i = 0; i < CONFIG_MAX_CONCURRENT; i++)
		if (slots[i].state == CHILD_FREE) {
			if (i >= nslots)
				nslots = i + 1;
			return &slots[i];
		}
	return NULL;
}

/* Starts a jobrunner in a free slot; it then waits for its job. */
static struct child *
child_fork(const char *for_whom, const char *then)
{
	struct child	*c;
	int		 in, out, err;
	pid_t		 pid;

	if ((c = free_slot()) == NULL)
		return NULL;
	if ((pid = jobrunner_start(&in, &out, &err)) == -1) {
		log_warn("%s: cannot fork a jobrunner%s", for_whom, then);
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->state = CHILD_SPARE;
	c->pid = pid;
	c->in_fd = in;
	c->out_fd = out;
	c->err_fd = err;
	c->deadline_ms = INT64_MAX;
	return c;
}

static void	spare_finish(struct child *, int);
static void	terminate(struct child *, enum child_state);

/* An idle spare, unless it died since the last reaping. */
static struct child *
take_spare(void)
{
	struct child	*c;
	int		 wstatus;

	for (c = slots; c < slots + nslots; c++) {
		if (c->state != CHILD_SPARE)
			continue;
		if (waitpid(c->pid, &wstatus, WNOHANG) == c->pid) {
			spare_finish(c, wstatus);
			continue;
		}
		return c;
	}
	return NULL;
}

/*
 * Hands a claimed run to the spare, or to a jobrunner forked now.  Takes
 * the job text.  NULL when it cannot (no slot, no pipe, fork failed): a
 * temporary failure, the caller leaves the slot due for the next tick.
 */
struct child *
children_spawn(const char *run_id, const char *schedule_id,
    const char *schedule_name, char *job)
{
	struct child	*c;
	char		 who[sizeof(struct log_name) + 16];

	snprintf(who, sizeof(who), "schedule \"%s\"", log_name(schedule_name).s);
	if ((c = take_spare()) == NULL &&
	    (c = child_fork(who, "; it stays due")) == NULL) {
		explicit_bzero(job, strlen(job));
		free(job);
		return NULL;
	}
	strlcpy(c->run_id, run_id, sizeof(c->run_id));
	strlcpy(c->schedule_id, schedule_id, sizeof(c->schedule_id));
	strlcpy(c->owner, sv->id, sizeof(c->owner));
	c->schedule_name = xstrdup(schedule_name);
	c->job = job;
	c->job_len = strlen(job);
	c->started_ms = mono_ms();
	c->deadline_ms = c->started_ms + sv->conf.run_timeout * 1000LL;
	c->state = CHILD_RUNNING;
	sv->dispatched++;
	circuit_dispatched(run_id);
	log_info("schedule \"%s\": dispatched run %s (jobrunner pid %ld)",
	    log_name(schedule_name).s, run_id, (long)c->pid);
	child_write_job(c);
	return c;
}

/* Keeps one spare started while a slot is free for it. */
void
children_keep_spare(void)
{
	struct child	*c;

	if (sv->once || sv->stopping || count(is_spare) > 0 ||
	    children_running() >= sv->conf.max_concurrent ||
	    mono_ms() < spare_retry_ms)
		return;
	if ((c = child_fork("spare", " ahead of time")) == NULL) {
		spare_retry_ms = mono_ms() + SPARE_BACKOFF_MAX_MS;
		return;
	}
	log_debug("spare jobrunner started (pid %ld)", (long)c->pid);
}

/* Reload or shutdown: spares are started afresh, or not at all. */
void
children_retire_spares(void)
{
	struct child	*c;

	for (c = slots; c < slots + nslots; c++)
		if (c->state == CHILD_SPARE)
			terminate(c, CHILD_RETIRING);
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

int
children_pollfds(struct pollfd *pfd, int max)
{
	struct child	*c;
	int		 n = 0;

	for (c = slots; c < slots + nslots; c++) {
		if (c->state == CHILD_FREE)
			continue;
		/* A spare's stdin stays open, unpolled, until it has a job. */
		if (c->job != NULL)
			n = add_pollfd(pfd, n, max, c, c->in_fd, POLLOUT);
		n = add_pollfd(pfd, n, max, c, c->out_fd, POLLIN);
		n = add_pollfd(pfd, n, max, c, c->err_fd, POLLIN);
	}
	return n;
}

void
children_io(struct pollfd *pfd, int n)
{
	struct child	*c;
	int		 i;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		c = pollmap[i].c;
		if (pollmap[i].fd == c->in_fd && c->job != NULL)
			child_write_job(c);
		else if (pollmap[i].fd == c->out_fd)
			child_read_stdout(c);
		else if (pollmap[i].fd == c->err_fd)
			child_read_stderr(c);
	}
}

static void
child_release(struct child *c)
{
	child_job_done(c);
	child_close_fd(&c->out_fd);
	child_close_fd(&c->err_fd);
	free(c->out);
	free(c->schedule_name);
	memset(c, 0, sizeof(*c));
	c->in_fd = c->out_fd = c->err_fd = -1;
}

/*
 * A spare that ended before it had a job (a jobrunner that cannot run,
 * say) is not started again at once: the backoff keeps the log readable.
 */
static void
spare_finish(struct child *c, int wstatus)
{
	char	how[128];

	if (c->state != CHILD_RETIRING) {
		log_warnx("spare jobrunner (pid %ld) %s before it had a job",
		    (long)c->pid, describe_wait_status(wstatus, how,
		    sizeof(how)));
		spare_retry_ms = mono_ms() + spare_backoff_ms;
		spare_backoff_ms = spare_backoff_ms * 2 > SPARE_BACKOFF_MAX_MS ?
		    SPARE_BACKOFF_MAX_MS : spare_backoff_ms * 2;
	}
	child_release(c);
}

static void
child_finish(struct child *c, int wstatus)
{
	struct outcome	*o;

	/* What it wrote before it exited is in the pipes still. */
	if (c->out_fd != -1)
		child_read_stdout(c);
	if (c->err_fd != -1)
		child_read_stderr(c);
	if (!has_run(c)) {
		spare_finish(c, wstatus);
		return;
	}
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 127)
		spare_backoff_ms = SPARE_BACKOFF_MIN_MS;
	o = outcome_from_child(c, wstatus);
	outcome_log(o, c);
	record_enqueue(o);
	child_release(c);
	/* A slot is free, and this schedule may be due again already. */
	loop_wake();
}

/* Reaps every child that has exited; no zombie survives a turn. */
void
children_reap(void)
{
	struct child	*c;
	pid_t		 pid;
	int		 wstatus;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
		if ((c = child_by_pid(pid)) != NULL)
			child_finish(c, wstatus);
		else
			(void)alerts_reaped(pid, wstatus);
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

static void
child_signal(struct child *c, int sig)
{
	if (kill(c->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill %ld", (long)c->pid);
}

/* Into a terminating state: SIGTERM now, SIGKILL at the deadline. */
static void
terminate(struct child *c, enum child_state why)
{
	c->state = why;
	child_signal(c, SIGTERM);
	c->deadline_ms = mono_ms() + KILL_GRACE_MS;
}

/* run_timeout: SIGTERM, then SIGKILL after a short grace. */
void
children_check_deadlines(int64_t now)
{
	struct child	*c;

	for (c = slots; c < slots + nslots; c++) {
		if (c->state == CHILD_FREE || now < c->deadline_ms)
			continue;
		if (c->state == CHILD_RUNNING) {
			log_warnx("schedule \"%s\": run %s outlived "
			    "run_timeout (%d s); terminating it",
			    log_name(c->schedule_name).s, c->run_id,
			    sv->conf.run_timeout);
			terminate(c, CHILD_TIMED_OUT);
		} else {
			/* Terminating, and it ignored SIGTERM. */
			child_signal(c, SIGKILL);
			c->deadline_ms = INT64_MAX;
		}
	}
}

/* Shutdown: every run is cancelled, SIGTERM now, SIGKILL soon after. */
void
children_cancel_all(void)
{
	struct child	*c;

	for (c = slots; c < slots + nslots; c++)
		if (c->state == CHILD_RUNNING)
			terminate(c, CHILD_CANCELLED);
}

int64_t
children_next_deadline(void)
{
	struct child	*c;
	int64_t		 next = INT64_MAX;

	for (c = slots; c < slots + nslots; c++)
		if (c->state != CHILD_FREE && c->deadline_ms < next)
			next = c->deadline_ms;
	return next;
}

int
children_has_run(const char *run_id)
{
	struct child	*c;

	for (c = slots; c < slots + nslots; c++)
		if (has_run(c) && strcmp(c->run_id, run_id) == 0)
			return 1;
	return 0;
}

/* For the status lines. */
const struct child *
children_table(int *n)
{
	*n = nslots;
	return slots;
}
