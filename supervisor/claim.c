/*
 * Claiming due schedules, in one transaction: pick what is due by the
 * database clock (oldest first, none with a dispatch in flight, FOR
 * UPDATE SKIP LOCKED so several supervisors share the work), insert a run
 * in 'triggered' for each slot fired, and advance next_run_at to the
 * first fire time after both the slot and now (missed slots coalesce).
 * The unique key on (schedule, slot) makes a second firing impossible.
 * The jobrunners are forked once the claim is committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "log.h"
#include "schedule.h"
#include "supervisor.h"

enum {
	COL_ID, COL_NAME, COL_USER, COL_TYPE, COL_CRON, COL_TZ, COL_SUITE,
	COL_MODEL, COL_CONFIG, COL_CONFIG_TYPE, COL_SLOT, COL_NOW, COL_API_KEY
};

#define IN_FLIGHT							\
	"EXISTS (SELECT 1 FROM scheduled_evaluation_runs r "		\
	"WHERE r.scheduled_evaluation_id = s.id AND r.status = 'triggered' " \
	"AND r.slot_at IS NOT NULL)"

static const char *claim_sql =
	"SELECT s.id, s.name, s.user_id, s.schedule_type, s.cron_expression, "
	"  s.timezone, s.test_suite_id, s.model_id, "
	"  s.batch_test_config::text, coalesce(jsonb_typeof(s.batch_test_config), 'null'), "
	"  extract(epoch FROM s.next_run_at), extract(epoch FROM now()), "
	"  s.api_key_encrypted "
	"FROM scheduled_evaluations s "
	"WHERE s.is_active AND s.next_run_at <= now() AND NOT " IN_FLIGHT
	"ORDER BY s.next_run_at, s.id LIMIT $1 "
	"FOR UPDATE OF s SKIP LOCKED";

static const char *insert_runs_sql =
	"INSERT INTO scheduled_evaluation_runs "
	"  (scheduled_evaluation_id, status, slot_at, supervisor_id, "
	"   evalsched_rev) "
	"SELECT s.id, 'triggered', s.next_run_at, $2, 0 "
	"FROM scheduled_evaluations s WHERE s.id = ANY($1::uuid[]) "
	"ON CONFLICT (scheduled_evaluation_id, slot_at) "
	"  WHERE slot_at IS NOT NULL DO NOTHING "
	"RETURNING id, scheduled_evaluation_id";

static const char *advance_sql =
	"UPDATE scheduled_evaluations s SET next_run_at = to_timestamp(u.next) "
	"FROM unnest($1::uuid[], $2::bigint[]) AS u(id, next) "
	"WHERE s.id = u.id";

static const char *disable_sql =
	"WITH run AS (INSERT INTO scheduled_evaluation_runs "
	"  (scheduled_evaluation_id, status, slot_at, supervisor_id, "
	"   completed_at, error_message, error_details, evalsched_rev) "
	"  SELECT id, 'failed', next_run_at, $3, now(), $2, "
	"    jsonb_build_object('reason', 'bad schedule', 'detail', $2::text, "
	"      'blame', 'schedule'), 0 "
	"  FROM scheduled_evaluations WHERE id = $1 "
	"  ON CONFLICT DO NOTHING RETURNING id), "
	/* An auto-disable like any other: its owner hears of it. */
	"alert AS (INSERT INTO evalsched_alerts (event, user_id, "
	"    scheduled_evaluation_id, run_id, title, message, metadata) "
	"  SELECT 'scheduled_eval_disabled', s.user_id, s.id, run.id, "
	"    'Scheduled evaluation disabled: ' || s.name, "
	"    format('%s (model %s) was disabled: %s', s.name, s.model_id, $2), "
	"    json_build_object('scheduledEvaluationId', s.id, "
	"      'userId', s.user_id, 'scheduleName', s.name, "
	"      'modelId', s.model_id, 'status', 'disabled', "
	"      'errorMessage', $2::text, "
	"      'consecutiveFailures', s.consecutive_failures, "
	"      'runId', run.id) "
	"  FROM scheduled_evaluations s, run "
	"  WHERE s.id = $1 AND s.alert_on_failure AND s.user_id IS NOT NULL) "
	"UPDATE scheduled_evaluations SET is_active = false, "
	"  last_run_status = 'failed', last_run_at = now() WHERE id = $1";

static const char *
value(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static char *
make_job(PGresult *res, int row, char *run_id)
{
	struct job	job;
	int		ms = sv->conf.run_timeout * 1000;

	memset(&job, 0, sizeof(job));
	job.run_id = run_id;
	job.schedule_id = PQgetvalue(res, row, COL_ID);
	job.schedule_name = PQgetvalue(res, row, COL_NAME);
	job.user_id = PQgetvalue(res, row, COL_USER);
	job.test_suite_id = PQgetvalue(res, row, COL_SUITE);
	job.model_id = PQgetvalue(res, row, COL_MODEL);
	job.batch_test_config = PQgetvalue(res, row, COL_CONFIG);
	job.app_url = sv->conf.app_url;
	job.service_role_key = sv->conf.service_role_key;
	/* The encryption key goes only to a job that needs it. */
	if (!PQgetisnull(res, row, COL_API_KEY) &&
	    *PQgetvalue(res, row, COL_API_KEY) != '\0') {
		job.api_key_encrypted = PQgetvalue(res, row, COL_API_KEY);
		job.encryption_key = sv->conf.encryption_key;
	}
	job.tls_ca_file = sv->conf.tls_ca_file;
	job.result_dir = sv->conf.spool_dir;
	/* The jobrunner gives up first, so it can still tell us why. */
	job.timeout_ms = ms - 5000 > ms * 9 / 10 ? ms - 5000 : ms * 9 / 10;
	return job_to_json(&job);
}

/* Whether the row's job can be built and read by a jobrunner. */
static int
job_fits(PGresult *res, int row)
{
	char	 placeholder[] = "00000000-0000-4000-8000-000000000000";
	char	*job;
	int	 fits;

	if ((job = make_job(res, row, placeholder)) == NULL)
		return 0;
	fits = strlen(job) <= JOB_MAX_TEXT;
	explicit_bzero(job, strlen(job));
	free(job);
	return fits;
}

/*
 * Checks a due row and computes its next fire time.  Returns 0, or -1
 * with why filled in: such a row is disabled, never dispatched.
 */
static int
check_row(PGresult *res, int row, int64_t *next, char *why, size_t whylen)
{
	struct schedule	*sch;
	char		 err[256];
	double		 slot = atof(PQgetvalue(res, row, COL_SLOT));
	double		 now = atof(PQgetvalue(res, row, COL_NOW));
	/* Both are after 1970: truncation is the floor. */
	int64_t		 after = (int64_t)(slot > now ? slot : now);
	int		 r;

	if (value(res, row, COL_USER) == NULL) {
		snprintf(why, whylen, "bad schedule: no user_id");
		return -1;
	}
	if (strcmp(PQgetvalue(res, row, COL_CONFIG_TYPE), "object") != 0) {
		snprintf(why, whylen, "bad schedule: batch_test_config is a "
		    "JSON %s, not an object",
		    PQgetvalue(res, row, COL_CONFIG_TYPE));
		return -1;
	}
	if (!job_fits(res, row)) {
		snprintf(why, whylen, "bad schedule: batch_test_config cannot "
		    "be sent (larger than %d KiB or nested too deeply)",
		    JOB_MAX_TEXT / 1024);
		return -1;
	}
	sch = schedule_compile(PQgetvalue(res, row, COL_TYPE),
	    value(res, row, COL_CRON), value(res, row, COL_TZ), err,
	    sizeof(err));
	if (sch == NULL) {
		snprintf(why, whylen, "bad schedule: %s", err);
		return -1;
	}
	r = schedule_next(sch, after, next);
	schedule_free(sch);
	if (r == -1)
		snprintf(why, whylen, "bad schedule: no fire time after %lld",
		    (long long)after);
	return r;
}

/*
 * Inside the claim, under a savepoint: if disabling fails, the claim of
 * the good rows still stands, and the bad row is tried again later.
 */
static void
disable_row(PGresult *res, int row, const char *why)
{
	PGresult	*r;

	log_warnx("schedule \"%s\" (%s) disabled: %s",
	    PQgetvalue(res, row, COL_NAME), PQgetvalue(res, row, COL_ID), why);
	if ((r = db_exec("SAVEPOINT disable_row", 0, NULL)) == NULL)
		return;
	PQclear(r);
	r = db_exec(disable_sql, 3, (const char *const[]){
	    PQgetvalue(res, row, COL_ID), why, sv->id });
	PQclear(r);
	if (r != NULL)
		alerts_soon();
	r = db_exec(r != NULL ? "RELEASE SAVEPOINT disable_row" :
	    "ROLLBACK TO SAVEPOINT disable_row", 0, NULL);
	PQclear(r);
}

static int
find_row(PGresult *res, const char *id)
{
	int	i;

	for (i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, COL_ID), id) == 0)
			return i;
	return -1;
}

static void
dispatch(PGresult *rows, PGresult *runs)
{
	int	 i, row;
	char	*job;

	for (i = 0; i < PQntuples(runs); i++) {
		char *run_id = PQgetvalue(runs, i, 0);

		row = find_row(rows, PQgetvalue(runs, i, 1));
		if ((job = make_job(rows, row, run_id)) == NULL) {
			/* check_row built it once: out of memory, try later. */
			log_warnx("run %s: cannot build the job", run_id);
			record_enqueue(outcome_new(OUTCOME_RELEASE, run_id,
			    PQgetvalue(rows, row, COL_NAME)));
			sv->fork_failed = 1;
			continue;
		}
		if (children_spawn(run_id, PQgetvalue(rows, row, COL_ID),
		    PQgetvalue(rows, row, COL_NAME), job) == NULL) {
			record_enqueue(outcome_new(OUTCOME_RELEASE, run_id,
			    PQgetvalue(rows, row, COL_NAME)));
			sv->fork_failed = 1;
		}
	}
}

/* Inserts the runs and advances the good rows; the runs, or NULL. */
static PGresult *
claim_rows(int ngood, struct array *ids, struct array *nexts)
{
	PGresult	*runs, *r;

	runs = db_exec(insert_runs_sql, 2, (const char *const[]){
	    array_text(ids), sv->id });
	if (runs == NULL)
		return NULL;
	r = db_exec(advance_sql, 2, (const char *const[]){ array_text(ids),
	    array_text(nexts) });
	if (r == NULL) {
		PQclear(runs);
		return NULL;
	}
	PQclear(r);
	if (PQntuples(runs) < ngood)
		log_info("%d due slot(s) had fired already; advanced without "
		    "a dispatch", ngood - PQntuples(runs));
	return runs;
}

/*
 * Claims up to `slots` due schedules and dispatches them.  Returns the
 * number of rows that were due and claimable, or -1 on a database error.
 */
int
claim_due(int slots)
{
	struct array	 ids = { 0 }, nexts = { 0 };
	PGresult	*rows = NULL, *runs = NULL;
	char		 limit[16], why[512], num[32];
	int64_t		 next;
	int		 i, n = -1, ngood = 0;

	snprintf(limit, sizeof(limit), "%d", slots);
	if (db_begin() == -1)
		return -1;
	if ((rows = db_exec(claim_sql, 1, (const char *const[]){ limit })) ==
	    NULL)
		goto fail;
	for (i = 0; i < PQntuples(rows); i++) {
		if (check_row(rows, i, &next, why, sizeof(why)) == -1) {
			disable_row(rows, i, why);
			continue;
		}
		array_add(&ids, PQgetvalue(rows, i, COL_ID));
		snprintf(num, sizeof(num), "%lld", (long long)next);
		array_add(&nexts, num);
		ngood++;
	}
	if (ngood > 0 && (runs = claim_rows(ngood, &ids, &nexts)) == NULL)
		goto fail;
	if (db_commit() == -1)
		goto fail;
	n = PQntuples(rows);
	if (runs != NULL)
		dispatch(rows, runs);
	goto done;
 fail:
	db_rollback();
 done:
	PQclear(runs);
	PQclear(rows);
	array_free(&ids);
	array_free(&nexts);
	return n;
}

/*
 * When the next schedule falls due, by the database clock, as a delay in
 * milliseconds from now; -1 when none is active.  Schedules with a
 * dispatch in flight are not due for us: their end wakes us anyway.
 */
int
claim_next_due(void)
{
	PGresult	*res;
	int64_t		 delay = -1;

	res = db_exec("SELECT ceil(extract(epoch FROM "
	    "  (s.next_run_at - clock_timestamp())) * 1000) "
	    "FROM scheduled_evaluations s "
	    "WHERE s.is_active AND NOT " IN_FLIGHT
	    "ORDER BY s.next_run_at LIMIT 1", 0, NULL);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		delay = atoll(PQgetvalue(res, 0, 0));
		if (delay < 0)
			delay = 0;
	}
	PQclear(res);
	sv->next_due_ms = delay < 0 ? -1 : mono_ms() + delay;
	return 0;
}
