/*
 * The jobrunners: handing out claimed runs, the spare, max_concurrent,
 * and what a jobrunner's end means.  Starting, feeding, reading,
 * stopping and reaping a child is child.c's, for every kind.
 *
 * One jobrunner is kept started ahead of time, as a spare, in a free
 * slot: exec and loading libcurl cost more than the rest of a dispatch,
 * and a spare that is already waiting on its stdin takes its job at the
 * due time.  It counts as alive toward max_concurrent.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

#define SPARE_BACKOFF_MIN_MS	1000
#define SPARE_BACKOFF_MAX_MS	60000

static void	jobrunner_timed_out(struct child *);
static void	jobrunner_done(struct child *, int);

/* The table holds as many as max_concurrent may ever ask for. */
static const struct child_kind jobrunner = {
	.name = "jobrunner",
	.program = "evalsched-jobrunner",
	.work = "run",
	.out_max = 64 * 1024,
	.max = CONFIG_MAX_CONCURRENT,
	.timed_out = jobrunner_timed_out,
	.done = jobrunner_done,
};

static int64_t		 spare_retry_ms, spare_backoff_ms = SPARE_BACKOFF_MIN_MS;

static int
has_run(const struct child *c)
{
	return c->state >= CHILD_RUNNING;
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
	return child_count(&jobrunner, has_run);
}

/* Slots for new runs: an idle spare is one of them, a retiring one not. */
int
children_free_slots(void)
{
	int	n = sv->conf.max_concurrent - children_running() -
	    child_count(&jobrunner, is_retiring);

	return n > 0 ? n : 0;
}

/* Starts a jobrunner; it then waits for its job. */
static struct child *
jobrunner_start(const char *for_whom, const char *then)
{
	struct child	*c;

	if ((c = child_start(&jobrunner, sv->conf.jobrunner)) == NULL)
		log_warn("%s: cannot fork a jobrunner%s", for_whom, then);
	return c;
}

/* An idle spare, unless it died since the last reaping. */
static struct child *
take_spare(void)
{
	struct child	*c = NULL;

	while ((c = child_next(&jobrunner, c)) != NULL)
		if (is_spare(c) && !child_exited(c))
			return c;
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
	    (c = jobrunner_start(who, "; it stays due")) == NULL) {
		explicit_bzero(job, strlen(job));
		free(job);
		return NULL;
	}
	strlcpy(c->id, run_id, sizeof(c->id));
	strlcpy(c->schedule_id, schedule_id, sizeof(c->schedule_id));
	strlcpy(c->owner, sv->id, sizeof(c->owner));
	c->schedule_name = xstrdup(schedule_name);
	sv->dispatched++;
	circuit_dispatched(run_id);
	log_info("schedule \"%s\": dispatched run %s (jobrunner pid %ld)",
	    log_name(schedule_name).s, run_id, (long)c->pid);
	child_give(c, job, sv->conf.run_timeout * 1000LL);
	return c;
}

/* Keeps one spare started while a slot is free for it. */
void
children_keep_spare(void)
{
	struct child	*c;

	if (sv->once || sv->stopping || child_count(&jobrunner, is_spare) > 0 ||
	    children_running() >= sv->conf.max_concurrent ||
	    mono_ms() < spare_retry_ms)
		return;
	if ((c = jobrunner_start("spare", " ahead of time")) == NULL) {
		spare_retry_ms = mono_ms() + SPARE_BACKOFF_MAX_MS;
		return;
	}
	log_debug("spare jobrunner started (pid %ld)", (long)c->pid);
}

/* Reload or shutdown: spares are started afresh, or not at all. */
void
children_retire_spares(void)
{
	struct child	*c = NULL;

	while ((c = child_next(&jobrunner, c)) != NULL)
		if (is_spare(c))
			child_terminate(c, CHILD_RETIRING);
}

/* Shutdown: every run is cancelled, SIGTERM now, SIGKILL soon after. */
void
children_cancel_all(void)
{
	struct child	*c = NULL;

	while ((c = child_next(&jobrunner, c)) != NULL)
		if (c->state == CHILD_RUNNING)
			child_terminate(c, CHILD_CANCELLED);
}

int
children_has_run(const char *run_id)
{
	struct child	*c = NULL;

	while ((c = child_next(&jobrunner, c)) != NULL)
		if (has_run(c) && strcmp(c->id, run_id) == 0)
			return 1;
	return 0;
}

static void
jobrunner_timed_out(struct child *c)
{
	log_warnx("schedule \"%s\": run %s outlived run_timeout (%d s); "
	    "terminating it", log_name(c->schedule_name).s, c->id,
	    sv->conf.run_timeout);
}

/*
 * A spare that ended before it had a job (a jobrunner that cannot run,
 * say) is not started again at once: the backoff keeps the log readable.
 */
static void
spare_done(struct child *c, int wstatus)
{
	char	how[128];

	if (c->state == CHILD_RETIRING)
		return;
	log_warnx("spare jobrunner (pid %ld) %s before it had a job",
	    (long)c->pid, describe_wait_status(wstatus, how, sizeof(how)));
	spare_retry_ms = mono_ms() + spare_backoff_ms;
	spare_backoff_ms = spare_backoff_ms * 2 > SPARE_BACKOFF_MAX_MS ?
	    SPARE_BACKOFF_MAX_MS : spare_backoff_ms * 2;
}

/* A run's end: its outcome, to be written. */
static void
jobrunner_done(struct child *c, int wstatus)
{
	struct outcome	*o;

	if (!has_run(c)) {
		spare_done(c, wstatus);
		return;
	}
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 127)
		spare_backoff_ms = SPARE_BACKOFF_MIN_MS;
	o = outcome_from_child(c, wstatus);
	outcome_log(o, c);
	record_enqueue(o);
	/* A slot is free, and this schedule may be due again already. */
	event_post(EV_CLAIM);
}
