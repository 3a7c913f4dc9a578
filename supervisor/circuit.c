/*
 * The circuit breaker.  A dispatch that fails by the platform's fault
 * (the application down or answering 5xx, a refused service key, a wrong
 * app_url, a jobrunner that cannot run) opens it: dispatch pauses, due
 * slots wait and coalesce, and one probe run at a time goes out, after
 * a pause that doubles from 1 s up to poll_interval.  Probes rotate: a
 * schedule that failed since the circuit opened is probed again only
 * when no other is due.  Any dispatch the application answers for
 * itself (accepted, or refused as the schedule's fault) closes it, and
 * dispatch resumes at once.  Opening and closing are logged once each;
 * the heartbeat carries the state to the database for evalschedctl
 * status.
 *
 * A fault that follows one schedule while the application answers
 * others is that schedule's alone (the application answering 5xx for
 * it, say, or its owner's model hanging): it must not pause everyone.
 * A platform failure is the schedule's alone when another schedule's
 * dispatch reached the application while this one was under way (or in
 * the second before it started), or since this schedule's last platform
 * failure (remembered here for a while), and no other schedule has
 * failed by the platform's fault since the application last answered
 * one: two schedules failing in a row open the circuit.  Such a failure
 * leaves the circuit as it is; the outcome is marked, and recording it
 * backs the schedule off by itself, in the database (record.c), so that
 * every supervisor's claim skips it.  What was seen is this supervisor's
 * own: another one judges from its own dispatches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

#define PROBE_BACKOFF_MIN_MS	1000
#define REASON_MAX		300
#define FAILED_MAX		256	/* schedules whose failure we remember */
#define FAILED_MEMORY_MS	(2 * 3600 * 1000LL)	/* > the longest backoff */
#define RECENT_MS		1000	/* "just before" a dispatch started */

static struct {
	int	 open;
	int64_t	 opened_ms;
	char	 reason[REASON_MAX];
	int64_t	 backoff_ms;
	int64_t	 probe_at_ms;
	char	 probe_run[UUID_LEN + 1];	/* "" : none in flight */
	unsigned long failures;		/* platform failures while open */
} cb;

/* The last platform failure of recent schedules, oldest replaced first. */
static struct failed {
	char	 schedule[UUID_LEN + 1];
	int64_t	 at_ms;
} failed[FAILED_MAX];

/*
 * When a dispatch last reached the application, of which schedule, and
 * when one of a schedule other than that one last did; and the schedule
 * of the last platform failure since then ("" for none).
 */
static struct {
	char	 schedule[UUID_LEN + 1];
	int64_t	 at_ms;
	int64_t	 other_ms;
	char	 failed[UUID_LEN + 1];
} reach = { "", INT64_MIN, INT64_MIN, "" };

int
circuit_is_open(void)
{
	return cb.open;
}

const char *
circuit_reason(void)
{
	return cb.open ? cb.reason : NULL;
}

static void
circuit_changed(void)
{
	/* evalschedctl status should know at once, not at the next beat. */
	event_post(EV_ROW_CHANGED);
	event_post(EV_CLAIM);
}

static int64_t
backoff_max_ms(void)
{
	return sv->conf.poll_interval * 1000LL;
}

static void
circuit_open(const struct outcome *o)
{
	cb.open = 1;
	cb.opened_ms = mono_ms();
	cb.failures = 1;
	snprintf(cb.reason, sizeof(cb.reason), "%s", o->error_message != NULL ?
	    o->error_message : "dispatch failed");
	cb.backoff_ms = PROBE_BACKOFF_MIN_MS;
	cb.probe_at_ms = cb.opened_ms + cb.backoff_ms;
	cb.probe_run[0] = '\0';
	log_warnx("circuit open: dispatch paused, one probe at a time: %s",
	    cb.reason);
	circuit_changed();
}

static void
circuit_close(const struct outcome *o)
{
	log_info("circuit closed: dispatch resumes (run %s reached the "
	    "application after %lld s and %lu failed dispatch%s)", o->run_id,
	    (long long)(mono_ms() - cb.opened_ms + 500) / 1000, cb.failures,
	    cb.failures == 1 ? "" : "es");
	memset(&cb, 0, sizeof(cb));
	circuit_changed();
}

/* The probe failed as well: wait twice as long for the next one. */
static void
probe_failed(const struct outcome *o)
{
	cb.probe_run[0] = '\0';
	cb.backoff_ms *= 2;
	if (cb.backoff_ms > backoff_max_ms())
		cb.backoff_ms = backoff_max_ms();
	cb.probe_at_ms = mono_ms() + cb.backoff_ms;
	snprintf(cb.reason, sizeof(cb.reason), "%s", o->error_message != NULL ?
	    o->error_message : "dispatch failed");
	log_debug("circuit: probe run %s failed; next probe in %lld ms",
	    o->run_id, (long long)cb.backoff_ms);
}

static struct failed *
failed_find(const char *schedule)
{
	int	i;

	for (i = 0; i < FAILED_MAX; i++)
		if (strcmp(failed[i].schedule, schedule) == 0)
			return &failed[i];
	return NULL;
}

static void
failed_remember(const char *schedule)
{
	struct failed	*f = failed_find(schedule);
	int		 i;

	if (f == NULL)
		for (f = &failed[0], i = 1; i < FAILED_MAX; i++)
			if (failed[i].at_ms < f->at_ms)
				f = &failed[i];
	strlcpy(f->schedule, schedule, sizeof(f->schedule));
	f->at_ms = mono_ms();
}

static void
failed_forget(const char *schedule)
{
	struct failed	*f = failed_find(schedule);

	if (f != NULL)
		memset(f, 0, sizeof(*f));
}

/* A dispatch of this schedule reached the application. */
static void
reached(const char *schedule)
{
	if (strcmp(reach.schedule, schedule) != 0) {
		reach.other_ms = reach.at_ms;
		strlcpy(reach.schedule, schedule, sizeof(reach.schedule));
	}
	reach.at_ms = mono_ms();
	reach.failed[0] = '\0';
}

/* When a schedule other than this one last reached the application. */
static int64_t
other_reached_ms(const char *schedule)
{
	return strcmp(reach.schedule, schedule) != 0 ? reach.at_ms :
	    reach.other_ms;
}

/*
 * Whether a platform failure is the schedule's alone: the application
 * answered another schedule while this dispatch was under way or just
 * before it started, or since this schedule last failed; and no other
 * schedule has failed since it last answered one (two schedules failing
 * in a row is no fault that follows one of them).
 */
static int
fails_alone(const struct outcome *o)
{
	const struct failed	*f = failed_find(o->schedule_id);
	int64_t			 since = o->started_ms - RECENT_MS;

	if (reach.failed[0] != '\0' &&
	    strcmp(reach.failed, o->schedule_id) != 0)
		return 0;
	if (f != NULL && f->at_ms > mono_ms() - FAILED_MEMORY_MS &&
	    f->at_ms < since)
		since = f->at_ms;
	return other_reached_ms(o->schedule_id) >= since;
}

/* The application answered for this dispatch: the platform works. */
static void
answered(const struct outcome *o)
{
	if (o->schedule_id[0] != '\0') {
		reached(o->schedule_id);
		failed_forget(o->schedule_id);
	}
	if (cb.open)
		circuit_close(o);
}

/* A platform failure: this schedule's alone, or the circuit's. */
static void
platform_failed(struct outcome *o)
{
	int	known = o->schedule_id[0] != '\0';

	o->alone = known && fails_alone(o);
	if (o->alone)
		log_debug("schedule \"%s\": run %s failed alone: other "
		    "schedules reach the application", o->schedule_name,
		    o->run_id);
	if (!o->alone && !cb.open)
		circuit_open(o);
	else if (cb.open) {
		cb.failures++;
		if (strcmp(o->run_id, cb.probe_run) == 0)
			probe_failed(o);
	}
	/* After the opening: the schedule that opened it is avoided too. */
	if (known) {
		failed_remember(o->schedule_id);
		strlcpy(reach.failed, o->schedule_id, sizeof(reach.failed));
	}
}

/*
 * What a finished (or never started) dispatch says about the platform;
 * a platform failure that is the schedule's alone is marked so.
 */
void
circuit_note(struct outcome *o)
{
	/* Cut short by a shutdown (no blame: nobody's fault), or no call. */
	if (o->kind == OUTCOME_CANCELLED || o->kind == OUTCOME_RELEASE ||
	    (o->kind == OUTCOME_UNRESOLVED && o->blame == BLAME_NONE)) {
		/* A probe that said nothing: another may go. */
		if (strcmp(o->run_id, cb.probe_run) == 0)
			cb.probe_run[0] = '\0';
		return;
	}
	/* A configuration error is the operator's to fix, not an outage. */
	if (o->misconfigured)
		return;
	if (o->kind == OUTCOME_SUCCESS || o->blame == BLAME_SCHEDULE)
		answered(o);
	else
		platform_failed(o);
}

/*
 * How many of the free slots may be claimed now: all of them while
 * closed; while open, one for a probe once its time has come and no
 * other probe is out.  -1 (run once) dispatches what is due regardless.
 */
int
circuit_allowance(int free_slots)
{
	if (!cb.open || sv->once)
		return free_slots;
	if (cb.probe_run[0] != '\0' || mono_ms() < cb.probe_at_ms)
		return 0;
	return free_slots > 0 ? 1 : 0;
}

/* A run dispatched while open is the probe. */
void
circuit_dispatched(const char *run_id)
{
	if (cb.open && cb.probe_run[0] == '\0')
		strlcpy(cb.probe_run, run_id, sizeof(cb.probe_run));
}

/*
 * No claim before this: 0 while closed, the next probe's time while
 * open, INT64_MAX while a probe is out (its end wakes the loop anyway).
 */
int64_t
circuit_not_before_ms(void)
{
	if (!cb.open || sv->once)
		return 0;
	if (cb.probe_run[0] != '\0')
		return INT64_MAX;
	return cb.probe_at_ms;
}

/* A reload may have fixed what failed: probe at once, from a short pause. */
void
circuit_probe_now(void)
{
	if (!cb.open)
		return;
	cb.backoff_ms = PROBE_BACKOFF_MIN_MS;
	cb.probe_at_ms = mono_ms();
}

static int
failed_older(const void *a, const void *b)
{
	const struct failed *const	*fa = a, *const *fb = b;

	return (*fa)->at_ms < (*fb)->at_ms ? -1 : (*fa)->at_ms > (*fb)->at_ms;
}

/*
 * The schedules a probe takes last, as a PostgreSQL array of uuids:
 * those that failed since the circuit opened, the one that failed
 * longest ago first, so that probes rotate and the last one failed is
 * the last one tried again.  NULL while closed.  The caller frees it.
 */
char *
circuit_avoid(void)
{
	const struct failed	*order[FAILED_MAX];
	char			*list;
	size_t			 len;
	int			 i, n = 0;

	if (!cb.open)
		return NULL;
	for (i = 0; i < FAILED_MAX; i++)
		if (failed[i].schedule[0] != '\0' &&
		    failed[i].at_ms >= cb.opened_ms)
			order[n++] = &failed[i];
	qsort(order, n, sizeof(order[0]), failed_older);
	len = 3 + n * (UUID_LEN + 1);
	list = xcalloc(1, len);
	strlcpy(list, "{", len);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strlcat(list, ",", len);
		strlcat(list, order[i]->schedule, len);
	}
	strlcat(list, "}", len);
	return list;
}
