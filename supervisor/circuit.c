/*
 * The circuit breaker.  A dispatch that fails by the platform's fault
 * (the application down or answering 5xx, a refused service key, a wrong
 * app_url, a jobrunner that cannot run) opens it: dispatch pauses, due
 * slots wait and coalesce, and one probe run at a time goes out, after
 * a pause that doubles from 1 s up to poll_interval.  Any dispatch the
 * application answers for itself (accepted, or refused as the
 * schedule's fault) closes it, and dispatch resumes at once.  Opening
 * and closing are logged once each; the heartbeat carries the state to
 * the database for evalschedctl status.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

#define PROBE_BACKOFF_MIN_MS	1000
#define REASON_MAX		300

static struct {
	int	 open;
	int64_t	 opened_ms;
	char	 reason[REASON_MAX];
	int64_t	 backoff_ms;
	int64_t	 probe_at_ms;
	char	 probe_run[UUID_LEN + 1];	/* "" : none in flight */
	unsigned long failures;		/* platform failures while open */
} cb;

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
	sv->next_heartbeat_ms = mono_ms();
	loop_wake();
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

/* What a finished (or never started) dispatch says about the platform. */
void
circuit_note(const struct outcome *o)
{
	if (o->kind == OUTCOME_CANCELLED || o->kind == OUTCOME_RELEASE) {
		/* A probe that said nothing: another may go. */
		if (strcmp(o->run_id, cb.probe_run) == 0)
			cb.probe_run[0] = '\0';
		return;
	}
	/* A configuration error is the operator's to fix, not an outage. */
	if (o->misconfigured)
		return;
	if (o->kind == OUTCOME_SUCCESS || o->blame == BLAME_SCHEDULE) {
		if (cb.open)
			circuit_close(o);
		return;
	}
	if (!cb.open) {
		circuit_open(o);
		return;
	}
	cb.failures++;
	if (strcmp(o->run_id, cb.probe_run) == 0)
		probe_failed(o);
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
