/*
 * run_retention: runs older than that many days are deleted, at most
 * RETENTION_BATCH per statement (its own transaction), so that no lock
 * is held for long and the loop stays responsive between batches.  A
 * round starts within a minute of start-up and then hourly, unless
 * another supervisor pruned within the hour; an advisory lock keeps two
 * from deleting at once.  A round never deletes a run in flight, a run
 * that another names as its baseline, a pinned baseline, or the run
 * that would be the schedule's next baseline (its latest completed run
 * with results that was not a regression).
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
static unsigned long	round_deleted;

/* A completed run with results that is no regression: a baseline. */
#define BASELINE_LIKE(r)						\
	r ".status = 'completed' AND coalesce(" r ".total_prompts, 0) > 0 " \
	"AND NOT coalesce(" r ".regression_detected, false)"

/* $1 run_retention in days, $2 RETENTION_BATCH. */
static const char *prune_sql =
	"WITH lock AS (SELECT pg_try_advisory_xact_lock(" RETENTION_LOCK
	"  ) AS got), "
	"doomed AS (SELECT r.id FROM scheduled_evaluation_runs r, lock "
	"  WHERE lock.got "
	"    AND r.triggered_at < now() - $1 * interval '1 day' "
	"    AND r.status NOT IN ('triggered', 'running') "
	"    AND NOT EXISTS (SELECT 1 FROM scheduled_evaluation_runs b "
	"      WHERE b.baseline_run_id = r.id) "
	"    AND NOT EXISTS (SELECT 1 FROM evalsched_baselines p "
	"      WHERE p.run_id = r.id) "
	"    AND NOT (" BASELINE_LIKE("r") " AND NOT EXISTS ("
	"      SELECT 1 FROM scheduled_evaluation_runs n "
	"      WHERE n.scheduled_evaluation_id = r.scheduled_evaluation_id "
	"        AND n.triggered_at > r.triggered_at AND " BASELINE_LIKE("n")
	"    )) "
	"  ORDER BY r.triggered_at LIMIT $2 "
	"  FOR UPDATE OF r SKIP LOCKED), "
	"gone AS (DELETE FROM scheduled_evaluation_runs r USING doomed d "
	"  WHERE r.id = d.id RETURNING 1), "
	/* Alerts long delivered or given up go with the history. */
	"old_alerts AS (DELETE FROM evalsched_alerts WHERE id IN ("
	"  SELECT a.id FROM evalsched_alerts a, lock WHERE lock.got "
	"    AND a.state <> 'pending' "
	"    AND a.created_at < now() - $1 * interval '1 day' LIMIT $2)) "
	"SELECT (SELECT got FROM lock), (SELECT count(*) FROM gone)";

/* Whether another supervisor finished a round within the hour. */
static const char *recent_sql =
	"SELECT count(*) FROM evalsched_meta WHERE key = 'history_pruned_at' "
	"AND value ~ '^\\d{4}-\\d\\d-\\d\\dT' "
	"AND value::timestamptz > now() - interval '55 minutes'";

/* ISO 8601 in UTC: read back the same whatever a session's DateStyle. */
static const char *done_sql =
	"INSERT INTO evalsched_meta (key, value) VALUES "
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

static int
pruned_recently(void)
{
	PGresult	*res;
	int		 recent;

	if ((res = db_exec(recent_sql, 0, NULL)) == NULL)
		return -1;
	recent = atoi(PQgetvalue(res, 0, 0)) > 0;
	PQclear(res);
	return recent;
}

static void
round_end(void)
{
	PGresult	*res;
	char		 n[32];

	snprintf(n, sizeof(n), "%lu", round_deleted);
	if ((res = db_exec(done_sql, 1, (const char *const[]){ n })) == NULL)
		return;
	PQclear(res);
	if (round_deleted > 0)
		log_info("history pruned: %lu run(s) older than %d day(s) "
		    "deleted", round_deleted, sv->conf.run_retention);
	in_round = 0;
	next_ms = mono_ms() + RETENTION_EVERY_MS;
}

/* One batch; 1 when more may be left. */
static int
prune_batch(void)
{
	PGresult	*res;
	char		 days[16], batch[16];
	int		 got, n;

	snprintf(days, sizeof(days), "%d", sv->conf.run_retention);
	snprintf(batch, sizeof(batch), "%d", RETENTION_BATCH);
	if ((res = db_exec(prune_sql, 2, (const char *const[]){ days,
	    batch })) == NULL)
		return -1;
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	n = atoi(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (!got)
		return -2;	/* another supervisor is at it */
	round_deleted += n;
	return n == RETENTION_BATCH;
}

/* At most one statement of pruning per turn of the loop. */
void
retention_step(void)
{
	int	r;

	if (mono_ms() < retention_next_ms())
		return;
	next_ms = mono_ms() + 1000;	/* should a statement below fail */
	if (!in_round) {
		if ((r = pruned_recently()) == -1)
			return;
		if (r == 1) {
			next_ms = mono_ms() + RETENTION_EVERY_MS;
			return;
		}
		in_round = 1;
		round_deleted = 0;
	}
	switch (prune_batch()) {
	case 1:
		next_ms = mono_ms();	/* the next batch, next turn */
		break;
	case 0:
		round_end();
		break;
	case -2:
		in_round = 0;
		next_ms = mono_ms() + RETENTION_EVERY_MS;
		break;
	}
}
