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
 * platform's fault, $6 quality_settle.  No parameter switches a
 * condition on or off: the plan prepared once must use the indexes
 * whatever the values.
 *
 * A pass closes at most one run per schedule, the one that fired first
 * (the next pass follows at once).  What a run came to is
 * evalsched_outcome's to say; its quality, evalsched_quality's, and
 * provisional: settle.c settles it, and decides a regression, once the
 * late judgments are in.  A completed run resets the schedule's count
 * unless a failure of the schedule's of a later run was counted already;
 * an all-failed one counts, and may disable it; the last status, run and
 * time are those of the schedule's newest run.  The schedule is updated
 * only when one of these changes: each update costs the application's
 * audit trigger a copy of the row.  The alerts these facts call for go
 * into the outbox in the same statement.
 */
/* What the schedule becomes; p is the run's "per" row, s the schedule. */
#define NEW_FAILURES							\
	"(CASE WHEN p.reset THEN 0 ELSE s.consecutive_failures END + p.k)"
#define DISABLES							\
	"(s.is_active AND p.k > 0 AND " NEW_FAILURES " >= $2)"
#define NEW_STATUS							\
	"CASE WHEN NOT p.newest_run THEN s.last_run_status "		\
	"  WHEN p.last_how = 'completed' THEN 'success' "		\
	"  WHEN p.last_how = 'cancelled' THEN 'cancelled' ELSE 'failed' END"
#define NEW_RUN_ID							\
	"CASE WHEN p.newest_run AND p.bid IS NOT NULL THEN p.bid "	\
	"  ELSE s.last_run_id END"
#define NEW_RUN_AT							\
	"CASE WHEN p.newest_run THEN greatest(s.last_run_at, p.started_at) " \
	"  ELSE s.last_run_at END"
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
	"res AS (SELECT d.*, l.latency, q.quality, q.source, "
	"    public.evalsched_outcome(d.named IS NOT NULL, d.bstatus, d.berror, "
	"      d.total, d.bad, d.started_at < now() - $1 * interval '1 second', "
	"      d.started_at < now() - $5 * interval '1 second', "
	"      coalesce(d.unclear_details ? 'cancelled', false)) AS how "
	"  FROM due d "
	"  LEFT JOIN LATERAL (SELECT avg(m.latency_ms) AS latency "
	"    FROM public.conversations c "
	"    JOIN public.messages m ON m.conversation_id = c.id "
	"    WHERE c.batch_test_run_id = d.bid AND m.role = 'assistant') l ON true "
	"  LEFT JOIN LATERAL public.evalsched_quality(d.bid) q ON true), "
	"runs AS (UPDATE public.scheduled_evaluation_runs r SET "
	"    status = CASE x.how WHEN 'completed' THEN 'completed' "
	"      WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END, "
	"    completed_at = coalesce(x.bend, now()), "
	"    total_prompts = x.total, successful_prompts = x.ok, "
	"    failed_prompts = x.bad, "
	"    avg_latency_ms = x.latency, avg_quality_score = x.quality, "
	"    regression_detected = false, baseline_run_id = NULL, "
	/* Provisional until settled: the source, so far. */
	"    regression_details = CASE WHEN x.how = 'completed' AND x.total > 0 "
	"      THEN jsonb_strip_nulls(jsonb_build_object('quality_source', "
	"        x.source, 'settled', false)) END, "
	"    evalsched_settle_at = CASE WHEN x.how = 'completed' AND x.total > 0 "
	"      THEN now() + $6 * interval '1 second' END, "
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
	"      WHEN 'cancelled' THEN 'Cancelled by user' "
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
	"  FROM res x WHERE r.id = x.id AND x.how IS NOT NULL "
	"  RETURNING r.id, r.scheduled_evaluation_id AS sid, r.triggered_at, "
	"    r.started_at, r.batch_test_run_id AS bid, "
	"    x.how, x.total, x.ok, x.bad, round(x.latency) AS latency_ms, "
	"    round(x.quality * 100, 1) AS quality_pct, r.error_message), "
	/* One run per schedule: what it does to the schedule. */
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
	"    consecutive_failures = " NEW_FAILURES ", "
	"    is_active = s.is_active AND NOT " DISABLES ", "
	"    evalsched_disabled_at = CASE WHEN " DISABLES " THEN now() "
	"      ELSE s.evalsched_disabled_at END, "
	"    evalsched_disabled_reason = CASE WHEN " DISABLES " "
	"      THEN format('%s consecutive failures', " NEW_FAILURES ") "
	"      ELSE s.evalsched_disabled_reason END, "
	"    last_run_status = " NEW_STATUS ", "
	"    last_run_id = " NEW_RUN_ID ", "
	"    last_run_at = " NEW_RUN_AT " "
	"  FROM per p WHERE s.id = p.sid "
	"    AND (" NEW_FAILURES ", " DISABLES ", " NEW_STATUS ", "
	"      " NEW_RUN_ID ", " NEW_RUN_AT ") IS DISTINCT FROM "
	"      (s.consecutive_failures, false, s.last_run_status, "
	"      s.last_run_id, s.last_run_at) "
	/* Disabled by this very statement: now() is the transaction's. */
	"  RETURNING s.id, s.consecutive_failures, s.is_active, p.k, "
	"    s.evalsched_disabled_at IS NOT DISTINCT FROM now() AS disabled_now), "
	"alerts AS (INSERT INTO public.evalsched_alerts (event, user_id, "
	"    scheduled_evaluation_id, run_id, title, message, metadata) "
	"  SELECT e.event, s0.user_id, s0.id, r.id, m.title, m.message, "
	"    m.metadata "
	"  FROM runs r JOIN public.scheduled_evaluations s0 ON s0.id = r.sid "
	"  LEFT JOIN sched s ON s.id = r.sid "
	"  CROSS JOIN LATERAL (VALUES "
	/* A dispatch that reached nothing: the platform's, not counted. */
	"    ('scheduled_eval_failed', r.how = 'no_batch', 'failed', "
	"      public.evalsched_failure_text(r.error_message, false)), "
	"    ('scheduled_eval_disabled', coalesce(s.disabled_now, false), "
	"      'auto_disabled', public.evalsched_disabled_text("
	"        s.consecutive_failures, NULL))) "
	"    AS e(event, wanted, status, error) "
	/* Counts of a batch test that ran; none of one that never did. */
	"  CROSS JOIN LATERAL (SELECT CASE WHEN r.bid IS NOT NULL THEN r.total "
	"    END AS total, CASE WHEN r.bid IS NOT NULL THEN r.ok END AS ok, "
	"    CASE WHEN r.bid IS NOT NULL THEN r.bad END AS bad) b "
	"  CROSS JOIN LATERAL public.evalsched_schedule_alert(e.event, s0.id, "
	"    s0.user_id, s0.name, s0.model_id, e.status, b.total, b.ok, b.bad, "
	"    NULL, NULL, NULL, NULL, e.error, coalesce(s.consecutive_failures, "
	"      s0.consecutive_failures), "
	"    json_build_object('runId', r.id, 'lastError', CASE "
	"      WHEN e.event = 'scheduled_eval_disabled' "
	"      THEN public.evalsched_alert_error(r.error_message) END)) m "
	"  WHERE e.wanted AND s0.alert_on_failure AND s0.user_id IS NOT NULL "
	"  ON CONFLICT (event, run_id) WHERE run_id IS NOT NULL DO NOTHING "
	"  RETURNING 1) "
	"SELECT r.id, coalesce(s0.name, ''), r.how, r.total, r.ok, "
	"  r.latency_ms, r.quality_pct, r.error_message, "
	"  s.consecutive_failures, s.is_active, s.k, r.sid, "
	"  coalesce(s.disabled_now, false), (SELECT count(*) FROM alerts) "
	"FROM runs r LEFT JOIN sched s ON s.id = r.sid "
	"LEFT JOIN public.scheduled_evaluations s0 ON s0.id = r.sid "
	"ORDER BY r.sid, r.triggered_at";

static struct prepared complete = { "evalsched_complete", complete_sql, 0 };

enum { C_ID, C_NAME, C_HOW, C_TOTAL, C_OK, C_LATENCY, C_QUALITY, C_ERROR,
    C_FAILURES, C_ACTIVE, C_COUNTED, C_SCHEDULE, C_DISABLED, C_ALERTS };

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

static void
log_completed(PGresult *res, int i)
{
	char	lat[32], q[32];

	log_info("schedule \"%s\": run %s completed: %s of %s prompts "
	    "succeeded, latency %s, quality %s so far",
	    log_name(PQgetvalue(res, i, C_NAME)).s,
	    PQgetvalue(res, i, C_ID), PQgetvalue(res, i, C_OK),
	    PQgetvalue(res, i, C_TOTAL),
	    db_value_or_dash(res, i, C_LATENCY, " ms", lat, sizeof(lat)),
	    db_value_or_dash(res, i, C_QUALITY, "%", q, sizeof(q)));
}

static void
log_closed(PGresult *res, int i)
{
	const char	*how = PQgetvalue(res, i, C_HOW);

	if (strcmp(how, "completed") == 0) {
		log_completed(res, i);
		return;
	}
	log_warnx("schedule \"%s\": run %s %s: %s",
	    log_name(PQgetvalue(res, i, C_NAME)).s,
	    PQgetvalue(res, i, C_ID), strcmp(how, "cancelled") == 0 ?
	    "cancelled" : "failed", PQgetvalue(res, i, C_ERROR));
	if (strcmp(PQgetvalue(res, i, C_DISABLED), "t") == 0)
		log_warnx("schedule \"%s\": auto-disabled after %s "
		    "consecutive failures", log_name(PQgetvalue(res, i, C_NAME)).s,
		    PQgetvalue(res, i, C_FAILURES));
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
		event_post(EV_ALERT);
	/* One run per schedule per pass: the next one may be waiting. */
	if (n > 0) {
		completion_soon();
		event_post(EV_SETTLED_SOON);
		event_post(EV_CLAIM);	/* a disabled schedule, a freed slot */
	} else
		sweep_wanted = 0;
}

/* One pass, when one is due; 1 if it went out. */
int
completion_step(void)
{
	char		 timeout[16], max[16], limit[16], recent[16], window[16];
	char		 settle[16];
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
	snprintf(settle, sizeof(settle), "%d", sv->conf.quality_settle);
	return db_query_prepared(&complete, 6, (const char *const[]){ timeout,
	    max, limit, recent, window, settle }, pass_read, NULL) == 0;
}
