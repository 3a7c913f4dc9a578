/*
 * run_retention: runs older than that many days are deleted, at most
 * RETENTION_BATCH per statement (its own transaction), so that no lock
 * is held for long and the loop stays responsive between batches.  A
 * round starts within a minute of start-up and then hourly, unless
 * another supervisor pruned within the hour; an advisory lock keeps two
 * from deleting at once.  A round never deletes a run in flight, a run
 * that another names as its baseline, a pinned baseline, or a run that
 * would be the schedule's next baseline: one that can be a baseline
 * (evalsched_can_be_baseline) with no later one of the same source of
 * quality (evalsched_baseline's rule).  The evaluation rows of the
 * metric alert rules (one per rule and minute: metrics.c) go the same
 * way, RETENTION_BATCH at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

#define RETENTION_BATCH		1000
#define RETENTION_FIRST_MS	5000		/* after start-up */
#define RETENTION_EVERY_MS	(3600 * 1000LL)
#define RETENTION_LOCK		"7310431603"	/* advisory lock key */

static int64_t		next_ms = -1;	/* -1: not yet planned */
static int		in_round;
static int		round_over;	/* the last batch was not full */
static unsigned long	round_deleted, round_evaluations;

/* $1 run_retention in days, $2 RETENTION_BATCH. */
static const char prune_sql[] =
	"WITH lock AS (SELECT pg_try_advisory_xact_lock(" RETENTION_LOCK
	"  ) AS got), "
	"doomed AS (SELECT r.id FROM public.scheduled_evaluation_runs r, lock "
	"  WHERE lock.got "
	"    AND r.triggered_at < now() - $1 * interval '1 day' "
	"    AND r.status NOT IN ('triggered', 'running') "
	"    AND NOT EXISTS (SELECT 1 FROM public.scheduled_evaluation_runs b "
	"      WHERE b.baseline_run_id = r.id) "
	"    AND NOT EXISTS (SELECT 1 FROM public.evalsched_baselines p "
	"      WHERE p.run_id = r.id) "
	"    AND NOT (public.evalsched_can_be_baseline(r) AND NOT EXISTS ("
	"      SELECT 1 FROM public.scheduled_evaluation_runs n "
	"      WHERE n.scheduled_evaluation_id = r.scheduled_evaluation_id "
	"        AND n.triggered_at > r.triggered_at "
	"        AND n.regression_details->>'quality_source' IS NOT DISTINCT "
	"          FROM r.regression_details->>'quality_source' "
	"        AND public.evalsched_can_be_baseline(n))) "
	"  ORDER BY r.triggered_at LIMIT $2 "
	"  FOR UPDATE OF r SKIP LOCKED), "
	"gone AS (DELETE FROM public.scheduled_evaluation_runs r "
	"  USING doomed d "
	"  WHERE r.id = d.id RETURNING 1), "
	/* Alerts long delivered or given up go with the history. */
	"old_alerts AS (DELETE FROM public.evalsched_alerts WHERE id IN ("
	"  SELECT a.id FROM public.evalsched_alerts a, lock WHERE lock.got "
	"    AND a.state <> 'pending' "
	"    AND a.created_at < now() - $1 * interval '1 day' LIMIT $2)), "
	"evals AS (SELECT public.evalsched_prune_rule_evaluations($1::integer, "
	"  $2::integer) AS n "
	"  FROM lock WHERE lock.got) "
	"SELECT (SELECT got FROM lock), (SELECT count(*) FROM gone), "
	"  coalesce((SELECT n FROM evals), 0)";

/* Whether another supervisor finished a round within the hour. */
static const char recent_sql[] =
	"SELECT count(*) FROM public.evalsched_meta "
	"WHERE key = 'history_pruned_at' "
	"AND value ~ '^\\d{4}-\\d\\d-\\d\\dT' "
	"AND value::timestamptz > now() - interval '55 minutes'";

/* ISO 8601 in UTC: read back the same whatever a session's DateStyle. */
static const char done_sql[] =
	"INSERT INTO public.evalsched_meta (key, value) VALUES "
	"  ('history_pruned_at', to_char(now() AT TIME ZONE 'UTC', "
	"    'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')), "
	"  ('history_pruned_runs', $1) "
	"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";

int64_t
retention_next_ms(void)
{
	if (sv->conf.run_retention == 0 || next_ms < 0)
		return INT64_MAX;
	return next_ms;
}

/* Called once registered: the first round comes soon after start-up. */
void
retention_plan(void)
{
	if (next_ms < 0)
		next_ms = mono_ms() + RETENTION_FIRST_MS;
}

static void
round_ended(PGresult **res, void *arg)
{
	(void)arg;
	if (res == NULL)
		return;		/* next_ms says when to try again */
	if (round_deleted > 0)
		log_info("history pruned: %lu run(s) older than %d day(s) "
		    "deleted", round_deleted, sv->conf.run_retention);
	if (round_evaluations > 0)
		log_info("history pruned: %lu metric rule evaluation(s) older "
		    "than %d day(s) deleted", round_evaluations,
		    sv->conf.run_retention);
	in_round = 0;
	next_ms = mono_ms() + RETENTION_EVERY_MS;
}

static int
round_end(void)
{
	char	n[32];

	snprintf(n, sizeof(n), "%lu", round_deleted);
	return db_query(done_sql, 1, (const char *const[]){ n }, round_ended,
	    NULL);
}

static void
batch_pruned(PGresult **res, void *arg)
{
	int	n, e;

	(void)arg;
	if (res == NULL)
		return;
	if (strcmp(PQgetvalue(res[0], 0, 0), "t") != 0) {
		/* Another supervisor is at it. */
		in_round = 0;
		next_ms = mono_ms() + RETENTION_EVERY_MS;
		return;
	}
	n = atoi(PQgetvalue(res[0], 0, 1));
	e = atoi(PQgetvalue(res[0], 0, 2));
	round_deleted += n;
	round_evaluations += e;
	round_over = n < RETENTION_BATCH && e < RETENTION_BATCH;
	next_ms = mono_ms();	/* the next batch, or the end, next turn */
}

static int
prune_batch(void)
{
	char	days[16], batch[16];

	snprintf(days, sizeof(days), "%d", sv->conf.run_retention);
	snprintf(batch, sizeof(batch), "%d", RETENTION_BATCH);
	return db_query(prune_sql, 2, (const char *const[]){ days, batch },
	    batch_pruned, NULL);
}

static void
recent_read(PGresult **res, void *arg)
{
	(void)arg;
	if (res == NULL)
		return;
	if (atoi(PQgetvalue(res[0], 0, 0)) > 0) {
		next_ms = mono_ms() + RETENTION_EVERY_MS;
		return;
	}
	in_round = 1;
	round_over = 0;
	round_deleted = 0;
	round_evaluations = 0;
	next_ms = mono_ms();
}

/* At most one statement of pruning per trip; 1 if one went out. */
int
retention_step(void)
{
	if (mono_ms() < retention_next_ms())
		return 0;
	next_ms = mono_ms() + 1000;	/* should the statement fail */
	if (!in_round)
		return db_query(recent_sql, 0, NULL, recent_read, NULL) == 0;
	if (round_over)
		return round_end() == 0;
	return prune_batch() == 0;
}
