/*
 * Settling runs.  The application writes a batch test's judgments
 * without waiting for them (the LLM judge's seconds after the
 * heuristic's), many after the batch test has ended; so a run completes
 * with a provisional quality, and quality_settle seconds later
 * (evalsched_settle_at) this pass makes it final, with the judgments
 * that have arrived, and compares it with its baseline.  Only then is a
 * regression decided, alerted, and the run eligible as a baseline.
 *
 * Values are compared as the application stores them: avg_quality_score
 * is NUMERIC(5,2), so two batch tests that scored alike show no change.
 * A run is compared only with a baseline whose quality came from the
 * same judges (evalsched_quality's source).  The application's form
 * promises "alert if quality drops by more than this percentage": a
 * drop of the quality by more than regression_threshold_percent is a
 * regression; the success rate's change is recorded beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

#define SETTLE_MAX	1000	/* runs settled by one pass: $1 */
#define SETTLE_GAP_MS	100	/* between a pass and the next asked for */

static int64_t	next_settle_ms = INT64_MAX, last_settle_ms;

/*
 * $1 SETTLE_MAX.  One run per schedule a pass, the one that fired first,
 * so that each is compared with its schedule's history as it stands.
 * The last row tells when the next run is due to settle.
 */
static const char settle_sql[] =
	"WITH cand AS (SELECT DISTINCT ON (r.scheduled_evaluation_id) r.id "
	"  FROM public.scheduled_evaluation_runs r "
	"  WHERE r.evalsched_settle_at IS NOT NULL "
	"    AND r.evalsched_settle_at <= now() "
	"  ORDER BY r.scheduled_evaluation_id, r.triggered_at), "
	"due AS (SELECT r.id, r.scheduled_evaluation_id AS sid, r.triggered_at, "
	"    r.batch_test_run_id AS bid, coalesce(r.total_prompts, 0) AS total, "
	"    coalesce(r.successful_prompts, 0) AS ok "
	"  FROM public.scheduled_evaluation_runs r "
	"  WHERE r.id IN (SELECT id FROM cand) "
	"    AND r.evalsched_settle_at IS NOT NULL "
	"  ORDER BY r.evalsched_settle_at LIMIT $1 "
	"  FOR UPDATE OF r SKIP LOCKED), "
	"q AS (SELECT d.*, q.quality, q.source, "
	/* As the column will hold it. */
	"    round(q.quality, 2) AS stored "
	"  FROM due d LEFT JOIN LATERAL public.evalsched_quality(d.bid) q "
	"    ON true), "
	"cmp AS (SELECT x.*, s.regression_threshold_percent AS threshold, "
	"    b.id AS base_id, b.avg_quality_score AS base_quality, "
	"    b.regression_details->>'quality_source' AS base_source, "
	"    b.successful_prompts::numeric / nullif(b.total_prompts, 0) "
	"      AS base_rate "
	"  FROM q x JOIN public.scheduled_evaluations s ON s.id = x.sid "
	"  LEFT JOIN public.scheduled_evaluation_runs b "
	"    ON b.id = public.evalsched_baseline(x.sid, x.triggered_at, "
	"      x.source)), "
	"chg AS (SELECT c.*, "
	"    CASE WHEN c.base_quality > 0 AND c.source = c.base_source "
	"      THEN (c.stored - c.base_quality) / c.base_quality * 100 "
	"      END AS q_change, "
	"    CASE WHEN c.base_rate > 0 AND c.total > 0 "
	"      THEN (c.ok::numeric / c.total - c.base_rate) / c.base_rate * 100 "
	"      END AS r_change "
	"  FROM cmp c), "
	"runs AS (UPDATE public.scheduled_evaluation_runs r SET "
	"    avg_quality_score = x.stored, "
	"    regression_detected = coalesce(x.q_change < -x.threshold, false), "
	"    regression_details = jsonb_strip_nulls(jsonb_build_object( "
	"      'quality_source', x.source, "
	"      'baseline_quality_source', CASE WHEN x.base_source "
	"        IS DISTINCT FROM x.source THEN x.base_source END, "
	"      'avg_quality_score', CASE WHEN x.q_change IS NOT NULL "
	"        THEN jsonb_build_object('baseline', x.base_quality, "
	"          'current', x.stored, 'change_percent', round(x.q_change, 2), "
	"          'threshold_percent', x.threshold) END, "
	"      'success_rate', CASE WHEN x.r_change IS NOT NULL "
	"        THEN jsonb_build_object('baseline', round(x.base_rate, 4), "
	"          'current', round(x.ok::numeric / x.total, 4), "
	"          'change_percent', round(x.r_change, 2), "
	"          'threshold_percent', x.threshold) END)), "
	"    baseline_run_id = x.base_id, evalsched_settle_at = NULL, "
	"    evalsched_rev = coalesce(r.evalsched_rev, 0) + 1 "
	"  FROM chg x WHERE r.id = x.id "
	"  RETURNING r.id, r.scheduled_evaluation_id AS sid, "
	"    r.regression_detected AS regression, r.regression_details, "
	"    r.total_prompts AS total, r.successful_prompts AS ok, "
	"    r.failed_prompts AS bad, r.avg_latency_ms AS latency, "
	"    x.base_id, x.stored, x.base_quality, x.threshold, "
	"    x.q_change AS q_exact, round(x.q_change, 2) AS q_change, "
	"    round(x.r_change, 2) AS r_change), "
	/*
	 * The application's words: regressionPercent is the drop of the
	 * quality, to the one decimal its message prints.
	 */
	"alerts AS (INSERT INTO public.evalsched_alerts (event, user_id, "
	"    scheduled_evaluation_id, run_id, title, message, metadata) "
	"  SELECT 'scheduled_eval_regression', s.user_id, s.id, r.id, "
	"    m.title, m.message, m.metadata "
	"  FROM runs r JOIN public.scheduled_evaluations s ON s.id = r.sid "
	"  CROSS JOIN LATERAL public.evalsched_schedule_alert("
	"    'scheduled_eval_regression', s.id, s.user_id, s.name, s.model_id, "
	"    'completed', r.total, r.ok, r.bad, r.latency, r.stored, true, "
	"    round(-r.q_exact, 1), NULL, NULL, "
	"    json_build_object('runId', r.id, 'baselineRunId', r.base_id, "
	"      'regression', r.regression_details::json)) m "
	"  WHERE r.regression AND s.alert_on_regression "
	"    AND s.user_id IS NOT NULL "
	"  ON CONFLICT (event, run_id) WHERE run_id IS NOT NULL DO NOTHING "
	"  RETURNING 1), "
	"next AS (SELECT ceil(extract(epoch FROM min(n.evalsched_settle_at) "
	"    - clock_timestamp()) * 1000) AS delay "
	"  FROM public.scheduled_evaluation_runs n "
	"  WHERE n.evalsched_settle_at IS NOT NULL "
	"    AND n.id NOT IN (SELECT id FROM runs)) "
	"SELECT r.id, coalesce(s.name, ''), r.regression, r.base_id, "
	"  r.q_change, r.r_change, (SELECT count(*) FROM alerts), "
	"  (SELECT delay FROM next) "
	"FROM (SELECT 1) one LEFT JOIN runs r ON true "
	"LEFT JOIN public.scheduled_evaluations s ON s.id = r.sid";

static struct prepared settle = { "evalsched_settle", settle_sql, 0 };

enum { S_ID, S_NAME, S_REGRESSION, S_BASELINE, S_QCHANGE, S_RCHANGE,
    S_ALERTS, S_NEXT };

/* A run completed: it settles quality_settle from now. */
void
settle_soon(void)
{
	int64_t	t = mono_ms() + sv->conf.quality_settle * 1000LL;

	if (t < last_settle_ms + SETTLE_GAP_MS)
		t = last_settle_ms + SETTLE_GAP_MS;
	if (t < next_settle_ms)
		next_settle_ms = t;
}

/* After a (re)connect: look at once. */
void
settle_sweep(void)
{
	next_settle_ms = 0;
}

int64_t
settle_next_ms(void)
{
	return next_settle_ms;
}

static void
log_settled(PGresult *res, int i)
{
	char	q[32], r[32];

	if (strcmp(PQgetvalue(res, i, S_REGRESSION), "t") != 0)
		return;
	log_warnx("schedule \"%s\": run %s is a regression against run %s: "
	    "quality %s, success rate %s", log_name(PQgetvalue(res, i,
	    S_NAME)).s, PQgetvalue(res, i, S_ID), PQgetvalue(res, i,
	    S_BASELINE), db_value_or_dash(res, i, S_QCHANGE, "%", q,
	    sizeof(q)), db_value_or_dash(res, i, S_RCHANGE, "%", r, sizeof(r)));
}

static void
settle_read(PGresult **res, void *arg)
{
	PGresult	*r;
	int		 i, n = 0;
	int64_t		 delay;

	(void)arg;
	if (res == NULL) {
		next_settle_ms = mono_ms() + 1000;
		return;
	}
	r = res[0];
	for (i = 0; i < PQntuples(r); i++) {
		if (PQgetisnull(r, i, S_ID))
			continue;
		n++;
		log_settled(r, i);
	}
	if (PQntuples(r) > 0 && atoi(PQgetvalue(r, 0, S_ALERTS)) > 0)
		event_post(EV_ALERT);
	/* One run per schedule a pass: the next may be due already. */
	if (n > 0)
		next_settle_ms = mono_ms() + SETTLE_GAP_MS;
	else if (PQntuples(r) > 0 && !PQgetisnull(r, 0, S_NEXT)) {
		delay = atoll(PQgetvalue(r, 0, S_NEXT));
		next_settle_ms = mono_ms() + (delay > 0 ? delay : 0) +
		    SETTLE_GAP_MS;
	}
}

/* One pass, when one is due; 1 if it went out. */
int
settle_step(void)
{
	char	limit[16];
	int64_t	now = mono_ms();

	if (now < next_settle_ms)
		return 0;
	last_settle_ms = now;
	/* Without news, once a poll_interval: another supervisor's runs. */
	next_settle_ms = now + sv->conf.poll_interval * 1000LL;
	snprintf(limit, sizeof(limit), "%d", SETTLE_MAX);
	return db_query_prepared(&settle, 1, (const char *const[]){ limit },
	    settle_read, NULL) == 0;
}
