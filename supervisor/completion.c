/*
 * Completing runs.  Once the application has accepted a run, its batch
 * test goes on in the background; when it ends, the application writes
 * the results to its own tables (batch_test_runs, conversations,
 * messages, judgments), and our trigger on batch_test_runs marks the run
 * (batch_ended_at) and NOTIFYs.  One set-based statement per pass then
 * closes every marked run with its results, counts an all-failed batch
 * test as the schedule's failure, and closes runs whose batch test
 * outlived completion_timeout.
 *
 * A batch test that ends while we are still recording its acceptance
 * goes unmarked: the trigger cannot see our uncommitted row, and we may
 * not see the application's.  So each pass also looks up the batch
 * tests of the runs accepted in the last RECENT_S seconds (and one
 * poll_interval more without LISTEN): the pass woken by the NOTIFY that
 * the trigger sends at the application's commit (or the next periodic
 * pass) is sure to find such a run among them.  It reads marked, recent and expired
 * runs only, so its cost does not grow with the runs under way; after
 * each (re)connect one sweep looks at all of them, for ends we missed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

#define PASS_MAX	1000	/* runs closed by one pass: $3 */
#define SWEEP_S		(100L * 365 * 86400)	/* "recent": every run */
#define PASS_GAP_MS	100	/* between a pass and the next asked for */
/*
 * Passes that notifications ask for are this far apart, at least.  Any
 * role may NOTIFY evalsched_batch_end, so a notification is a hint, and
 * a pass is our heaviest statement: a flood buys at most one a second.
 * A batch test runs for seconds to hours; its run closed a second after
 * it ends is as good as at once for whoever reads it or its alert.
 */
#define HINT_GAP_MS	1000
#define RECENT_S	30	/* see above */

static int64_t	next_pass_ms = INT64_MAX, last_pass_ms;
static int64_t	hint_pass_ms = INT64_MIN / 2;	/* the last one a hint made */
static int	sweep_wanted;
static int	hinted;		/* a NOTIFY asks for a pass */

/*
 * $1 completion_timeout, $2 max_consecutive_failures, $3 PASS_MAX, $4
 * the seconds for which an accepted run counts as recent (SWEEP_S for a
 * sweep: every run's batch test is looked up), $5 how long an unresolved
 * run waits for its batch test to turn up (run_timeout: as long as the
 * request itself could have taken), after which it fails, the
 * platform's fault.  No parameter switches a
 * condition on or off: the plan prepared once must use the indexes
 * whatever the values.
 *
 * A pass closes at most one run per schedule, the one that fired first,
 * so that each run's baseline is the schedule's history as it stands
 * (the next pass follows at once).  The baseline is the pinned run, or
 * the most recent earlier completed run with results that was not
 * itself a regression, so a regression never becomes the new normal;
 * a drop of the quality or the success rate by more than the schedule's
 * regression_threshold_percent, relative to the baseline, is a
 * regression.  A completed run resets the schedule's count unless a
 * failure of the schedule's of a later run was counted already; the
 * last status is that of the schedule's newest run.  The alerts these
 * facts call for go into the outbox in the same statement.
 */
static const char complete_sql[] =
	"WITH cand AS (SELECT DISTINCT ON (r.scheduled_evaluation_id) r.id "
	"  FROM public.scheduled_evaluation_runs r "
	"  LEFT JOIN public.batch_test_runs b ON b.id = r.batch_test_run_id "
	"  WHERE r.status = 'running' AND r.slot_at IS NOT NULL "
	"    AND (r.started_at < now() - $1 * interval '1 second' "
	"      OR (r.batch_test_run_id IS NULL "
	"        AND r.started_at < now() - $5 * interval '1 second') "
	"      OR ((r.batch_ended_at IS NOT NULL "
	"          OR r.started_at > now() - $4 * interval '1 second') "
	"        AND b.status NOT IN ('pending', 'running'))) "
	"  ORDER BY r.scheduled_evaluation_id, r.triggered_at), "
	"due AS (SELECT r.id, r.scheduled_evaluation_id AS sid, r.started_at, "
	"    r.triggered_at, r.batch_test_run_id AS named, "
	"    r.error_message AS unclear, r.error_details AS unclear_details, "
	"    b.id AS bid, b.status AS bstatus, b.error AS berror, "
	"    b.completed_at AS bend, coalesce(b.total_prompts, 0) AS total, "
	"    coalesce(b.completed_prompts, 0) AS ok, "
	"    coalesce(b.failed_prompts, 0) AS bad "
	"  FROM public.scheduled_evaluation_runs r "
	"  LEFT JOIN public.batch_test_runs b ON b.id = r.batch_test_run_id "
	"  WHERE r.id IN (SELECT id FROM cand) AND r.status = 'running' "
	"  ORDER BY r.started_at LIMIT $3 "
	"  FOR UPDATE OF r SKIP LOCKED), "
	"res AS (SELECT d.*, l.latency, q.quality, "
	"    CASE WHEN d.named IS NULL "
	"        THEN CASE WHEN d.started_at < now() - $5 * interval '1 second' "
	/* Cut short by a shutdown, and nothing started: cancelled. */
	"          THEN CASE WHEN d.unclear_details ? 'cancelled' "
	"            THEN 'cancelled' ELSE 'no_batch' END END "
	"      WHEN d.bstatus IS NULL OR d.bstatus IN ('pending', 'running') "
	"        THEN CASE WHEN d.started_at < now() - $1 * interval '1 second' "
	"          THEN 'timeout' END "
	"      WHEN d.bstatus = 'cancelled' OR d.berror = 'Cancelled by user' "
	"        THEN 'cancelled' "
	"      WHEN d.bstatus = 'completed' AND d.total > 0 "
	"        AND d.bad >= d.total THEN 'all_failed' "
	"      WHEN d.bstatus = 'failed' THEN 'batch_failed' "
	"      ELSE 'completed' END AS how "
	"  FROM due d "
	"  LEFT JOIN LATERAL (SELECT avg(m.latency_ms) AS latency "
	"    FROM public.conversations c "
	"    JOIN public.messages m ON m.conversation_id = c.id "
	"    WHERE c.batch_test_run_id = d.bid AND m.role = 'assistant') l ON true "
	"  LEFT JOIN LATERAL (SELECT avg(j.score) AS quality "
	"    FROM public.conversations c "
	"    JOIN public.messages m ON m.conversation_id = c.id "
	"    JOIN public.judgments j ON j.message_id = m.id "
	"    WHERE c.batch_test_run_id = d.bid AND m.role = 'assistant' "
	"      AND j.score BETWEEN 0 AND 1) q ON true), "
	"cmp AS (SELECT x.*, s.regression_threshold_percent AS threshold, "
	"    base.id AS base_id, base.quality AS base_quality, base.rate AS base_rate, "
	"    CASE WHEN x.how = 'completed' AND x.total > 0 AND base.quality > 0 "
	"      THEN (x.quality - base.quality) / base.quality * 100 "
	"      END AS q_change, "
	"    CASE WHEN x.how = 'completed' AND x.total > 0 AND base.rate > 0 "
	"      THEN (x.ok::numeric / x.total - base.rate) / base.rate * 100 "
	"      END AS r_change "
	"  FROM res x JOIN public.scheduled_evaluations s ON s.id = x.sid "
	"  LEFT JOIN LATERAL (SELECT p.id, p.avg_quality_score AS quality, "
	"      p.successful_prompts::numeric / nullif(p.total_prompts, 0) AS rate "
	"    FROM public.scheduled_evaluation_runs p "
	"    WHERE x.how = 'completed' AND x.total > 0 AND p.id = coalesce( "
	"      (SELECT b.run_id FROM public.evalsched_baselines b "
	"        JOIN public.scheduled_evaluation_runs pr ON pr.id = b.run_id "
	"        WHERE b.scheduled_evaluation_id = x.sid), "
	"      (SELECT o.id FROM public.scheduled_evaluation_runs o "
	"        WHERE o.scheduled_evaluation_id = x.sid AND o.id <> x.id "
	"          AND o.status = 'completed' AND coalesce(o.total_prompts, 0) > 0 "
	"          AND NOT coalesce(o.regression_detected, false) "
	"          AND o.triggered_at < x.triggered_at "
	"        ORDER BY o.triggered_at DESC LIMIT 1))) base ON true), "
	"runs AS (UPDATE public.scheduled_evaluation_runs r SET "
	"    status = CASE x.how WHEN 'completed' THEN 'completed' "
	"      WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END, "
	"    completed_at = coalesce(x.bend, now()), "
	"    total_prompts = x.total, successful_prompts = x.ok, "
	"    failed_prompts = x.bad, "
	"    avg_latency_ms = x.latency, avg_quality_score = x.quality, "
	"    regression_detected = coalesce(x.q_change < -x.threshold "
	"      OR x.r_change < -x.threshold, false), "
	"    regression_details = CASE WHEN x.base_id IS NOT NULL "
	"      THEN jsonb_strip_nulls(jsonb_build_object( "
	"        'avg_quality_score', CASE WHEN x.q_change IS NOT NULL "
	"          THEN jsonb_build_object('baseline', x.base_quality, "
	"            'current', x.quality, 'change_percent', round(x.q_change, 2), "
	"            'threshold_percent', x.threshold) END, "
	"        'success_rate', CASE WHEN x.r_change IS NOT NULL "
	"          THEN jsonb_build_object('baseline', round(x.base_rate, 4), "
	"            'current', round(x.ok::numeric / x.total, 4), "
	"            'change_percent', round(x.r_change, 2), "
	"            'threshold_percent', x.threshold) END)) END, "
	"    baseline_run_id = x.base_id, "
	"    error_message = CASE WHEN x.named IS NULL AND x.how IS NOT NULL "
	"      THEN format('%s; no batch test turned up in the %s s that "
	"followed', coalesce(x.unclear, 'the answer was unclear'), $5) "
	"      ELSE CASE x.how "
	"      WHEN 'timeout' THEN format('no result within %s s: the batch test %s', "
	"        $1, CASE WHEN x.bid IS NULL THEN 'cannot be found' "
	"          ELSE 'is still ' || x.bstatus END) "
	"      WHEN 'all_failed' THEN format('every prompt failed (%s of %s)', "
	"        x.bad, x.total) "
	"      WHEN 'batch_failed' THEN 'the batch test failed: ' "
	"        || coalesce(x.berror, 'no reason given') "
	"      WHEN 'cancelled' THEN 'the batch test was cancelled' "
	"      END END, "
	"    error_details = CASE WHEN x.how = 'completed' THEN NULL "
	"      WHEN x.named IS NULL THEN (coalesce(x.unclear_details, '{}') "
	"        - 'unresolved') || jsonb_strip_nulls(jsonb_build_object( "
	"        'blame', CASE x.how WHEN 'no_batch' THEN 'platform' END, "
	"        'reason', 'no batch test', 'resolve_window', $5::int)) "
	"      ELSE jsonb_strip_nulls(jsonb_build_object( "
	"        'blame', CASE x.how WHEN 'all_failed' THEN 'schedule' "
	"          WHEN 'cancelled' THEN NULL ELSE 'platform' END, "
	"        'reason', x.how, 'batch_test_status', x.bstatus, "
	"        'batch_test_error', x.berror, "
	"        'completion_timeout', CASE x.how WHEN 'timeout' "
	"          THEN $1::int END)) END, "
	"    evalsched_rev = coalesce(r.evalsched_rev, 0) + 1 "
	"  FROM cmp x WHERE r.id = x.id AND x.how IS NOT NULL "
	"  RETURNING r.id, r.scheduled_evaluation_id AS sid, r.triggered_at, "
	"    r.started_at, r.batch_test_run_id AS bid, "
	"    x.how, x.total, x.ok, x.bad, round(x.latency) AS latency_ms, "
	"    round(x.quality * 100, 1) AS quality_pct, r.error_message, "
	"    r.regression_detected AS regression, r.regression_details, "
	"    x.base_id, round(x.q_change, 2) AS q_change, "
	"    round(x.r_change, 2) AS r_change, x.quality, x.base_quality, "
	"    x.threshold), "
	/* One run per schedule: what it does to the schedule's count. */
	"per AS (SELECT sid, how AS last_how, bid, started_at, "
	"    (how = 'all_failed')::int AS k, "
	"    how = 'completed' AND NOT EXISTS (SELECT 1 "
	"      FROM public.scheduled_evaluation_runs n "
	"      WHERE n.scheduled_evaluation_id = sid "
	"        AND n.triggered_at > runs.triggered_at "
	"        AND n.status = 'failed' "
	"        AND n.error_details->>'blame' = 'schedule') AS reset, "
	"    NOT EXISTS (SELECT 1 FROM public.scheduled_evaluation_runs n "
	"      WHERE n.scheduled_evaluation_id = sid "
	"        AND n.triggered_at > runs.triggered_at) AS newest_run "
	"  FROM runs), "
	"sched AS (UPDATE public.scheduled_evaluations s SET "
	"    consecutive_failures = CASE WHEN p.reset THEN 0 "
	"      ELSE s.consecutive_failures END + p.k, "
	"    is_active = s.is_active AND NOT (p.k > 0 AND CASE WHEN p.reset "
	"      THEN 0 ELSE s.consecutive_failures END + p.k >= $2), "
	"    last_run_status = CASE WHEN NOT p.newest_run "
	"      THEN s.last_run_status "
	"      WHEN p.last_how = 'completed' THEN 'success' "
	"      WHEN p.last_how = 'cancelled' THEN 'cancelled' ELSE 'failed' END, "
	/* A run resolved after its dispatch was recorded: the schedule learns of it now. */
	"    last_run_id = CASE WHEN p.newest_run AND p.bid IS NOT NULL "
	"      THEN p.bid ELSE s.last_run_id END, "
	"    last_run_at = CASE WHEN p.newest_run "
	"      THEN greatest(s.last_run_at, p.started_at) ELSE s.last_run_at END "
	"  FROM per p WHERE s.id = p.sid "
	"  RETURNING s.id, s.name, s.user_id, s.model_id, s.consecutive_failures, "
	"    s.is_active, s.alert_on_failure, s.alert_on_regression, p.k), "
	"alerts AS (INSERT INTO public.evalsched_alerts (event, user_id, "
	"    scheduled_evaluation_id, run_id, title, message, metadata) "
	"  SELECT e.event, s.user_id, s.id, r.id, e.title, e.message, "
	"    json_strip_nulls(json_build_object('scheduledEvaluationId', s.id, "
	"      'userId', s.user_id, 'scheduleName', u.name, 'modelId', u.model, "
	"      'status', e.status, 'totalPrompts', r.total, "
	"      'successfulPrompts', r.ok, 'failedPrompts', r.bad, "
	"      'errorMessage', u.error, "
	"      'consecutiveFailures', s.consecutive_failures, "
	"      'runId', r.id, 'baselineRunId', r.base_id, "
	"      'regression', e.regression)) "
	"  FROM runs r JOIN sched s ON s.id = r.sid "
	"  CROSS JOIN LATERAL (SELECT "
	"    public.evalsched_alert_name(s.name) AS name, "
	"    public.evalsched_alert_name(s.model_id) AS model, "
	"    public.evalsched_alert_error(r.error_message) AS error) u "
	"  CROSS JOIN LATERAL (VALUES "
	"    ('scheduled_eval_regression', r.regression AND s.alert_on_regression, "
	"      'completed', 'Regression detected: ' || u.name, "
	"      format('%s (model %s) dropped below its baseline by more than %s%%: ' "
	"        || 'quality %s vs %s, success rate change %s%%', u.name, u.model, "
	"        r.threshold, "
	"        coalesce(round(r.quality * 100, 1) || '%', '-'), "
	"        coalesce(round(r.base_quality * 100, 1) || '%', '-'), "
	"        coalesce(r.r_change::text, '-')), "
	"      r.regression_details::json), "
	"    ('scheduled_eval_failed', r.how = 'no_batch' AND s.alert_on_failure, "
	"      'failed', 'Scheduled evaluation failed: ' || u.name, "
	"      format('%s (model %s) could not be started: %s (a fault of the "
	"platform, not of the schedule: it does not count toward auto-disable)', "
	"        u.name, u.model, u.error), NULL::json), "
	"    ('scheduled_eval_disabled', s.alert_on_failure AND s.k > 0 "
	"      AND NOT s.is_active AND s.consecutive_failures >= $2 "
	"      AND s.consecutive_failures - s.k < $2, "
	"      'disabled', 'Scheduled evaluation disabled: ' || u.name, "
	"      format('%s (model %s) was disabled after %s consecutive failures; ' "
	"        || 'last: %s', u.name, u.model, s.consecutive_failures, "
	"        u.error), "
	"      NULL::json)) "
	"    AS e(event, wanted, status, title, message, regression) "
	"  WHERE e.wanted "
	"  ON CONFLICT (event, run_id) WHERE run_id IS NOT NULL DO NOTHING "
	"  RETURNING 1) "
	"SELECT r.id, coalesce(s.name, ''), r.how, r.total, r.ok, "
	"  r.latency_ms, r.quality_pct, r.error_message, "
	"  s.consecutive_failures, s.is_active, s.k, r.sid, r.regression, "
	"  r.q_change, r.r_change, r.base_id, (SELECT count(*) FROM alerts) "
	"FROM runs r LEFT JOIN sched s ON s.id = r.sid "
	"ORDER BY r.sid, r.triggered_at";

static struct prepared complete = { "evalsched_complete", complete_sql, 0 };

enum { C_ID, C_NAME, C_HOW, C_TOTAL, C_OK, C_LATENCY, C_QUALITY, C_ERROR,
    C_FAILURES, C_ACTIVE, C_COUNTED, C_SCHEDULE, C_REGRESSION, C_QCHANGE,
    C_RCHANGE, C_BASELINE, C_ALERTS };

static void
pass_at(int64_t t)
{
	if (t < next_pass_ms)
		next_pass_ms = t;
}

/* More to close, or a run recorded after its batch test ended. */
void
completion_soon(void)
{
	pass_at(last_pass_ms + PASS_GAP_MS);
}

/* A NOTIFY: a batch test may have ended. */
void
completion_hint(void)
{
	int64_t	t = hint_pass_ms + HINT_GAP_MS;

	hinted = 1;
	pass_at(t > last_pass_ms + PASS_GAP_MS ? t : last_pass_ms +
	    PASS_GAP_MS);
}

/* After a (re)connect: ends may have gone by unseen. */
void
completion_sweep(void)
{
	sweep_wanted = 1;
	completion_soon();
}

int64_t
completion_next_ms(void)
{
	return next_pass_ms;
}

static const char *
or_dash(PGresult *res, int row, int col, char *buf, size_t len,
    const char *unit)
{
	if (PQgetisnull(res, row, col))
		return "-";
	snprintf(buf, len, "%s%s", PQgetvalue(res, row, col), unit);
	return buf;
}

static void
log_regression(PGresult *res, int i)
{
	char	q[32], r[32];

	log_warnx("schedule \"%s\": run %s is a regression against run %s: "
	    "quality %s, success rate %s", log_name(PQgetvalue(res, i, C_NAME)).s,
	    PQgetvalue(res, i, C_ID), PQgetvalue(res, i, C_BASELINE),
	    or_dash(res, i, C_QCHANGE, q, sizeof(q), "%"),
	    or_dash(res, i, C_RCHANGE, r, sizeof(r), "%"));
}

static void
log_completed(PGresult *res, int i)
{
	char	lat[32], q[32];

	if (strcmp(PQgetvalue(res, i, C_REGRESSION), "t") == 0)
		log_regression(res, i);
	log_info("schedule \"%s\": run %s completed: %s of %s prompts "
	    "succeeded, latency %s, quality %s",
	    log_name(PQgetvalue(res, i, C_NAME)).s,
	    PQgetvalue(res, i, C_ID), PQgetvalue(res, i, C_OK),
	    PQgetvalue(res, i, C_TOTAL),
	    or_dash(res, i, C_LATENCY, lat, sizeof(lat), " ms"),
	    or_dash(res, i, C_QUALITY, q, sizeof(q), "%"));
}

static void
log_closed(PGresult *res, int i)
{
	const char	*how = PQgetvalue(res, i, C_HOW);
	int		 failures = atoi(PQgetvalue(res, i, C_FAILURES));
	int		 counted = atoi(PQgetvalue(res, i, C_COUNTED));

	if (strcmp(how, "completed") == 0) {
		log_completed(res, i);
		return;
	}
	log_warnx("schedule \"%s\": run %s %s: %s",
	    log_name(PQgetvalue(res, i, C_NAME)).s,
	    PQgetvalue(res, i, C_ID), strcmp(how, "cancelled") == 0 ?
	    "cancelled" : "failed", PQgetvalue(res, i, C_ERROR));
	/* Once per schedule and pass: at its last row (rows come by schedule). */
	if (counted > 0 && strcmp(PQgetvalue(res, i, C_ACTIVE), "f") == 0 &&
	    failures >= sv->conf.max_consecutive_failures &&
	    failures - counted < sv->conf.max_consecutive_failures &&
	    (i + 1 == PQntuples(res) || strcmp(PQgetvalue(res, i + 1,
	    C_SCHEDULE), PQgetvalue(res, i, C_SCHEDULE)) != 0))
		log_warnx("schedule \"%s\": auto-disabled after %d "
		    "consecutive failures", log_name(PQgetvalue(res, i, C_NAME)).s,
		    failures);
}

static void
pass_read(PGresult **res, void *arg)
{
	int	i, n;

	(void)arg;
	if (res == NULL) {
		next_pass_ms = mono_ms() + 1000;
		return;
	}
	n = PQntuples(res[0]);
	for (i = 0; i < n; i++)
		log_closed(res[0], i);
	if (n > 0 && atoi(PQgetvalue(res[0], 0, C_ALERTS)) > 0)
		alerts_soon();
	/* One run per schedule per pass: the next one may be waiting. */
	if (n > 0) {
		completion_soon();
		loop_wake();	/* a disabled schedule, a freed slot */
	} else
		sweep_wanted = 0;
}

/* One pass, when one is due; 1 if it went out. */
int
completion_step(void)
{
	char		 timeout[16], max[16], limit[16], recent[16], window[16];
	int64_t		 now = mono_ms();

	if (now < next_pass_ms)
		return 0;
	snprintf(timeout, sizeof(timeout), "%d", sv->conf.completion_timeout);
	snprintf(max, sizeof(max), "%d", sv->conf.max_consecutive_failures);
	snprintf(limit, sizeof(limit), "%d", PASS_MAX);
	snprintf(recent, sizeof(recent), "%ld", sweep_wanted ? SWEEP_S :
	    RECENT_S + (sv->conf.listen ? 0 : sv->conf.poll_interval));
	last_pass_ms = now;
	if (hinted) {
		hinted = 0;
		hint_pass_ms = now;
	}
	/* The next pass: at poll_interval, for timeouts; sooner if asked. */
	next_pass_ms = now + sv->conf.poll_interval * 1000LL;
	snprintf(window, sizeof(window), "%d", sv->conf.run_timeout);
	return db_query_prepared(&complete, 5, (const char *const[]){ timeout,
	    max, limit, recent, window }, pass_read, NULL) == 0;
}
