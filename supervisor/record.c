/*
 * Writing outcomes.  Every outcome waits in a queue until the database
 * has it; while the database is unreachable it is also spooled to disk
 * (spool.c).  Outcomes that end together are written in one statement.
 * A write applies only to a run still 'triggered' and owned by the
 * supervisor that dispatched it, so a late or repeated outcome (after a
 * lost connection, or after another supervisor closed our runs) changes
 * nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "jsonnew.h"
#include "log.h"
#include "supervisor.h"

#define BATCH_MAX	256
#define RETRY_MS	1000
#define STRIP_AFTER	3	/* failed writes of one outcome alone */

static int64_t	retry_at_ms;
static int	one_at_a_time;	/* a batch failed: find the culprit */

/*
 * An accepted run becomes 'running' and waits for its batch test to end
 * (completion.c); a batch test seen to have ended already is marked at
 * once (one that ends while we write is completion.c's to find).  An
 * unresolved run (the request went out, the route did not answer)
 * becomes 'running' too, without a batch test, unless the application
 * has already created the one named for it (evalsched_batch_created):
 * then it is accepted as surely as by an answer, and so is a dispatch
 * cut short by a shutdown after its batch test started.  Only the
 * schedule's failures count toward auto-disable; a success resets
 * nothing yet, as its batch test may still fail every prompt.  A
 * platform failure of the schedule's alone (circuit.c) backs it off by
 * itself: no claim takes it for a second, doubling with each such
 * failure in a row up to BACKOFF_MAX_S; the application answering for
 * it (accepted, or refused as its fault) ends that.
 */
#define BACKOFF_MAX_S	3600
/* The run goes on: o is the outcome, r the run as it stands. */
#define GOES_ON								\
	"(o.kind IN ('success', 'unresolved') OR (o.kind = 'cancelled' "	\
	"AND r.batch_test_run_id IS NOT NULL))"
/* ... and it has its batch test. */
#define HAS_BATCH							\
	"(o.kind = 'success' OR (o.kind IN ('unresolved', 'cancelled') " \
	"AND r.batch_test_run_id IS NOT NULL))"
static const char record_sql[] =
	"WITH o AS (SELECT * FROM json_to_recordset($1::json) AS x("
	"  run_id uuid, owner uuid, kind text, test_run_id uuid, "
	"  error_message text, error_details jsonb, blame text, "
	"  alone boolean)), "
	"b AS (SELECT b.id FROM public.batch_test_runs b "
	"  WHERE b.id IN (SELECT test_run_id FROM o UNION ALL "
	"    SELECT x.batch_test_run_id FROM public.scheduled_evaluation_runs x "
	"    WHERE x.id IN (SELECT run_id FROM o)) "
	"  AND b.status NOT IN ('pending', 'running')), "
	"r AS (UPDATE public.scheduled_evaluation_runs r SET "
	"  status = CASE WHEN " GOES_ON " THEN 'running' ELSE o.kind END, "
	"  batch_test_run_id = CASE o.kind WHEN 'failed' THEN NULL "
	"    ELSE coalesce(o.test_run_id, r.batch_test_run_id) END, "
	/*
	 * Accepted when the application created its batch test, which may
	 * be a while before the jobrunner's answer is written here (and
	 * even after the batch test ended): not later than now.
	 */
	"  started_at = CASE WHEN " GOES_ON " THEN least(now(), (SELECT "
	"    x.created_at FROM public.batch_test_runs x WHERE x.id = "
	"    coalesce(o.test_run_id, r.batch_test_run_id))) "
	"    ELSE r.started_at END, "
	"  completed_at = CASE WHEN " GOES_ON " THEN NULL ELSE now() END, "
	"  batch_ended_at = CASE WHEN o.kind <> 'failed' AND coalesce("
	"    o.test_run_id, r.batch_test_run_id) IN (SELECT id FROM b) "
	"    THEN now() END, "
	"  error_message = CASE WHEN " HAS_BATCH " THEN NULL "
	"    ELSE o.error_message END, "
	"  error_details = CASE WHEN " HAS_BATCH " THEN NULL "
	"    ELSE o.error_details END, "
	"  evalsched_rev = coalesce(r.evalsched_rev, 0) + 1 "
	"  FROM o WHERE r.id = o.run_id AND r.status = 'triggered' "
	"  AND r.supervisor_id = o.owner "
	/* What it came to: an unresolved run with its batch test is accepted. */
	"  RETURNING r.id, r.scheduled_evaluation_id, "
	"  CASE WHEN r.status = 'running' AND r.batch_test_run_id IS NOT NULL "
	"    THEN 'success' WHEN r.status = 'running' THEN 'unresolved' "
	"    ELSE r.status END AS kind, r.batch_test_run_id AS test_run_id, "
	"  r.status = 'failed' AND o.blame = 'schedule' AS counts, "
	"  r.batch_ended_at IS NOT NULL AS ended, "
	"  r.error_message, coalesce(o.alone, false) AS alone), "
"bo AS (INSERT INTO public.evalsched_backoffs AS b "
	"    (scheduled_evaluation_id, failures, not_before, reason) "
	"  SELECT DISTINCT ON (r.scheduled_evaluation_id) "
	"    r.scheduled_evaluation_id, 1, now() + interval '1 second', "
	"    r.error_message FROM r WHERE r.alone AND r.kind = 'failed' "
	"  ON CONFLICT (scheduled_evaluation_id) DO UPDATE SET "
	"    failures = b.failures + 1, reason = EXCLUDED.reason, "
	"    not_before = now() + least(interval '" STR(BACKOFF_MAX_S) " "
	"      seconds', interval '1 second' * power(2, least(b.failures, 16))) "
	"  RETURNING b.scheduled_evaluation_id, b.failures, "
	"    ceil(extract(epoch FROM b.not_before - now())) AS wait), "
	"answered AS (DELETE FROM public.evalsched_backoffs b USING r "
	"  WHERE b.scheduled_evaluation_id = r.scheduled_evaluation_id "
	"  AND (r.kind = 'success' OR r.counts)), "
	/*
	 * A failed or cancelled dispatch is the run's end, and the
	 * schedule's second update of the run (the claim's was the first):
	 * what that does to it is evalsched_schedule_after's, auto-disable
	 * included.  An accepted one leaves the schedule to its completion.
	 */
	"s AS (UPDATE public.scheduled_evaluations s SET "
	"  (consecutive_failures, is_active, evalsched_disabled_at, "
	"   evalsched_disabled_reason, last_run_status, last_run_id, "
	"   last_run_at) = (SELECT a.* FROM public.evalsched_schedule_after("
	"    s, r.kind, r.counts, false, true, NULL, now(), $2) a) "
	"  FROM r WHERE s.id = r.scheduled_evaluation_id "
	"    AND r.kind IN ('failed', 'cancelled') "
	/* Disabled by this very statement: now() is the transaction's. */
	"  RETURNING s AS schedule, s.name, CASE WHEN "
	"    s.evalsched_disabled_at = now() THEN s.evalsched_disabled_reason "
	"    END AS disabled, r.id AS run_id, r.kind, r.counts, "
	"    r.error_message), "
	/*
	 * A failed dispatch alerts its owner, in this transaction, saying
	 * whose fault it was; an auto-disable too (evalsched_end_alerts).
	 * The circuit keeps the platform's failures (and so their alerts)
	 * to one probe at a time.
	 */
	"a AS (INSERT INTO public.evalsched_alerts (event, user_id, "
	"    scheduled_evaluation_id, run_id, title, message, metadata) "
	"  SELECT a.* FROM s CROSS JOIN LATERAL public.evalsched_end_alerts("
	"    s.schedule, s.run_id, s.kind = 'failed', s.counts, "
	"    s.disabled IS NOT NULL, NULL, s.error_message, NULL, NULL, NULL) a "
	"  ON CONFLICT (event, run_id) WHERE run_id IS NOT NULL DO NOTHING "
	"  RETURNING 1) "
	"SELECT r.id, s.name, s.disabled, r.kind, r.counts, r.ended, "
	"  (SELECT count(*) FROM a), bo.failures, bo.wait "
	"FROM r LEFT JOIN s ON s.run_id = r.id "
	"LEFT JOIN bo ON bo.scheduled_evaluation_id = r.scheduled_evaluation_id";

enum { W_ID, W_NAME, W_DISABLED, W_KIND, W_COUNTS, W_ENDED, W_ALERTS,
    W_BACKOFFS, W_WAIT };

static const char release_sql[] =
	"WITH d AS (DELETE FROM public.scheduled_evaluation_runs WHERE id = $1 "
	"  AND status = 'triggered' AND supervisor_id = $2 "
	"  RETURNING scheduled_evaluation_id, slot_at) "
	"UPDATE public.scheduled_evaluations s SET next_run_at = d.slot_at "
	"FROM d "
	"WHERE s.id = d.scheduled_evaluation_id AND s.next_run_at > d.slot_at";

/*
 * The real end of a run whose supervisor was lost, left by its orphaned
 * jobrunner: it replaces what lease recovery left (an unresolved run,
 * lease.c) or what became of that (a failure, when no batch test turned
 * up), and nothing else.  An acceptance gives the run its batch test; a
 * failure ends it, with the jobrunner's error; an unclear answer ($7)
 * leaves an unresolved run waiting for its batch test, with that error.
 * It does not count toward auto-disable, as the loss did not: later runs
 * of the schedule may have been counted since.
 */
#define STAYS	"(r.status = 'running' AND $7)"
static const char recovered_sql[] =
	"WITH b AS (SELECT b.id FROM public.batch_test_runs b WHERE b.id = $3 "
	"  AND b.status NOT IN ('pending', 'running')), "
	"r AS (UPDATE public.scheduled_evaluation_runs r SET "
	"  status = CASE WHEN $2 OR " STAYS " THEN 'running' ELSE 'failed' END, "
	"  batch_test_run_id = $3, "
	"  started_at = CASE WHEN $2 AND r.status = 'failed' THEN r.triggered_at "
	"    ELSE r.started_at END, "
	"  completed_at = CASE WHEN $2 OR " STAYS " THEN NULL "
	"    ELSE coalesce(r.completed_at, now()) END, "
	"  batch_ended_at = CASE WHEN EXISTS (SELECT 1 FROM b) THEN now() END, "
	"  error_message = $4, "
	"  error_details = CASE WHEN $2 THEN NULL WHEN " STAYS " THEN "
	"    r.error_details || jsonb_build_object('exit_status', $5::int) "
	"    ELSE jsonb_build_object('exit_status', $5::int, 'blame', $6::text, "
	"    'recovered_after', r.error_details - 'unresolved') END, "
	"  evalsched_rev = coalesce(r.evalsched_rev, 0) + 1 "
	"  WHERE r.id = $1 AND r.error_details ? 'lost_supervisor' "
	"  AND (r.status = 'failed' OR (r.status = 'running' "
	"    AND r.batch_test_run_id IS NULL)) "
	"  RETURNING r.scheduled_evaluation_id, r.status = 'running' "
	"    AND r.batch_test_run_id IS NULL AS unresolved), "
	"s AS (UPDATE public.scheduled_evaluations s SET "
	"  last_run_status = CASE WHEN $2 THEN 'success' ELSE 'failed' END, "
	"  last_run_id = CASE WHEN $2 THEN $3 ELSE s.last_run_id END "
	"  FROM r WHERE s.id = r.scheduled_evaluation_id AND NOT r.unresolved) "
	"SELECT (SELECT count(*) FROM r), "
	"  (SELECT status FROM public.scheduled_evaluation_runs WHERE id = $1)";

struct recovery {
	void	(*done)(int, void *);
	void	 *arg;
};

static void
recovered(PGresult **res, void *arg)
{
	struct recovery	*rc = arg;
	int		 r = -2;

	if (res != NULL && atoi(PQgetvalue(res[0], 0, 0)) == 1)
		r = 1;
	else if (res != NULL)
		r = strcmp(PQgetvalue(res[0], 0, 1), "triggered") == 0 ? 0 : -1;
	if (r == 1)
		event_post(EV_CLAIM);
	rc->done(r, rc->arg);
	free(rc);
}

/*
 * Writes the real end of a run whose supervisor was lost.  done() hears
 * 1 when written, 0 when its run is still in flight (its supervisor not
 * yet found lost: try again later), -1 when it has nothing to replace,
 * -2 when the database failed.  -1 here: not sent, done() not called.
 */
int
record_recovered(const char *run_id, int exit_status,
    const char *test_run_id, const char *error, enum blame blame,
    int ambiguous, void (*done)(int, void *), void *arg)
{
	struct recovery	*rc = xcalloc(1, sizeof(*rc));
	char		 code[16], *msg = NULL;
	int		 r;

	rc->done = done;
	rc->arg = arg;
	snprintf(code, sizeof(code), "%d", exit_status);
	if (test_run_id == NULL)
		msg = xasprintf("%s (recorded after its supervisor was lost)",
		    error != NULL ? error : "jobrunner failed");
	r = db_query(recovered_sql, 7, (const char *const[]){ run_id,
	    test_run_id != NULL ? "true" : "false", test_run_id, msg, code,
	    blame_name(blame != BLAME_NONE ? blame : BLAME_PLATFORM),
	    ambiguous ? "true" : "false" }, recovered, rc);
	free(msg);
	if (r == -1)
		free(rc);
	return r;
}

int
record_has_run(const char *run_id)
{
	struct outcome	*o;

	TAILQ_FOREACH(o, &sv->outcomes, entry)
		if (strcmp(o->run_id, run_id) == 0)
			return 1;
	return 0;
}

void
record_enqueue(struct outcome *o)
{
	circuit_note(o);
	TAILQ_INSERT_TAIL(&sv->outcomes, o, entry);
	if (!db_connected())
		spool_write(o);
}

/* A schedule the platform fails alone waits by itself. */
static void
log_backoff(PGresult *res, int row)
{
	if (PQgetisnull(res, row, W_BACKOFFS))
		return;
	log_warnx("schedule \"%s\": the platform fails it alone while other "
	    "schedules reach the application; backed off by itself for %s s "
	    "(%s such failure%s in a row)", PQgetvalue(res, row, W_NAME),
	    PQgetvalue(res, row, W_WAIT), PQgetvalue(res, row, W_BACKOFFS),
	    strcmp(PQgetvalue(res, row, W_BACKOFFS), "1") == 0 ? "" : "s");
}

static void
log_written(PGresult *res)
{
	int	i;

	if (PQntuples(res) > 0 && atoi(PQgetvalue(res, 0, W_ALERTS)) > 0)
		event_post(EV_ALERT);
	for (i = 0; i < PQntuples(res); i++) {
		log_backoff(res, i);
		/* Its batch test ended before we recorded the acceptance. */
		if (strcmp(PQgetvalue(res, i, W_ENDED), "t") == 0)
			event_post(EV_COMPLETION);
		/* Why, as the statement wrote it ("3 consecutive failures"). */
		if (!PQgetisnull(res, i, W_DISABLED))
			log_warnx("schedule \"%s\": auto-disabled after %s",
			    log_name(PQgetvalue(res, i, W_NAME)).s,
			    PQgetvalue(res, i, W_DISABLED));
	}
}

static int
was_written(PGresult *res, const struct outcome *o)
{
	int	i;

	for (i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, W_ID), o->run_id) == 0)
			return 1;
	return 0;
}

static void
outcome_done(struct outcome *o)
{
	TAILQ_REMOVE(&sv->outcomes, o, entry);
	if (o->spooled)
		spool_remove(o);
	outcome_free(o);
}

/*
 * Whether the database refused an outcome for its text: a data exception
 * (class 22: a character or escape it cannot store, a JSON it cannot
 * read) or a limit (54).  A privilege, row-level security or a
 * constraint is no fault of the text: stripping it would lose the
 * error and change nothing (refusal.c says what it is).
 */
static int
refused_for_text(const struct db_error *e)
{
	return strncmp(e->sqlstate, "22", 2) == 0 ||
	    strncmp(e->sqlstate, "54", 2) == 0;
}

/*
 * An outcome the database keeps refusing for its text while it takes
 * others: keep the run's end, drop the text it would not take (it stays
 * in our log).
 */
static void
outcome_strip(struct outcome *o, const struct db_error *e)
{
	log_warnx("schedule \"%s\": the database refuses the error text of "
	    "run %s (%s [%s]); recording it without: %s",
	    log_name(o->schedule_name).s, o->run_id, e->message, e->sqlstate,
	    o->error_message != NULL ? o->error_message : "(none)");
	free(o->error_message);
	free(o->error_details);
	o->error_message = xstrdup("the error text could not be stored; "
	    "see the supervisor's log");
	o->error_details = NULL;
}

/* Cut off, failing, or stopping with outcomes unwritten: on disk too. */
void
record_spool_all(void)
{
	struct outcome	*o;

	TAILQ_FOREACH(o, &sv->outcomes, entry)
		if (!o->spooled)
			spool_write(o);
}

/* No outcome is in a batch on its way any more. */
static void
none_writing(void)
{
	struct outcome	*o;

	TAILQ_FOREACH(o, &sv->outcomes, entry)
		o->writing = 0;
}

static void
write_failed(void)
{
	none_writing();
	record_spool_all();
	retry_at_ms = mono_ms() + RETRY_MS;
}

/*
 * The single outcome just tried goes to the back of the queue.  One
 * refused for anything but its text stays whole, and is written once
 * the database takes it.
 */
static void
single_failed(void)
{
	const struct db_error	*e = db_last_error();
	struct outcome		*o;

	TAILQ_FOREACH(o, &sv->outcomes, entry)
		if (o->writing)
			break;
	if (o == NULL)
		return;
	if (refused_for_text(e) && ++o->write_failures >= STRIP_AFTER)
		outcome_strip(o, e);
	TAILQ_REMOVE(&sv->outcomes, o, entry);
	TAILQ_INSERT_TAIL(&sv->outcomes, o, entry);
}

static void
batch_written(PGresult **res, void *arg)
{
	struct outcome	*o, *next;

	(void)arg;
	if (res == NULL) {
		/*
		 * A batch the database refuses while connected is retried
		 * one outcome at a time, so that one bad outcome cannot
		 * hold back the others.
		 */
		if (db_connected()) {
			if (one_at_a_time)
				single_failed();
			one_at_a_time = 1;
		}
		write_failed();
		return;
	}
	log_written(res[0]);
	for (o = TAILQ_FIRST(&sv->outcomes); o != NULL; o = next) {
		next = TAILQ_NEXT(o, entry);
		if (!o->writing)
			continue;
		if (!was_written(res[0], o))
			log_warnx("schedule \"%s\": the outcome of run %s was "
			    "refused: the run was already closed (by lease "
			    "recovery or an earlier write)",
			    log_name(o->schedule_name).s,
			    o->run_id);
		outcome_done(o);
	}
}

/* Sends one batch of non-release outcomes; 1 if sent. */
static int
record_batch(void)
{
	struct outcome	*o;
	json_object	*arr = jnew_array();
	char		 max[16];
	int		 n = 0, limit = one_at_a_time ? 1 : BATCH_MAX, r;

	TAILQ_FOREACH(o, &sv->outcomes, entry)
		if (o->kind != OUTCOME_RELEASE && n < limit) {
			jpush(arr, outcome_to_json(o));
			o->writing = 1;
			n++;
		}
	if (n == 0) {
		json_object_put(arr);
		return 0;
	}
	snprintf(max, sizeof(max), "%d", sv->conf.max_consecutive_failures);
	r = db_query(record_sql, 2, (const char *const[]){
	    jtext(arr, JSON_C_TO_STRING_PLAIN), max }, batch_written, NULL);
	json_object_put(arr);
	if (r == -1) {
		none_writing();
		return 0;
	}
	return 1;
}

static void
released(PGresult **res, void *arg)
{
	struct outcome	*o = arg;

	if (res == NULL) {
		write_failed();
		return;
	}
	outcome_done(o);
	event_post(EV_CLAIM);	/* its slot is due again */
}

/* A dispatch that never happened: its slot becomes due again. */
static int
record_release(void)
{
	struct outcome	*o;

	TAILQ_FOREACH(o, &sv->outcomes, entry)
		if (o->kind == OUTCOME_RELEASE)
			break;
	if (o == NULL)
		return 0;
	return db_query(release_sql, 2, (const char *const[]){ o->run_id,
	    o->owner }, released, o) == 0;
}

/*
 * Sends what is queued, a trip at a time: releases first, then batches.
 * 1 when a write went out; 0 when there is none to make now.
 */
int
record_step(void)
{
	if (TAILQ_EMPTY(&sv->outcomes)) {
		one_at_a_time = 0;
		return 0;
	}
	if (mono_ms() < retry_at_ms) {
		record_spool_all();
		return 0;
	}
	return record_release() || record_batch();
}

/* While the database is away, its return is what wakes us. */
int64_t
record_retry_at(void)
{
	if (TAILQ_EMPTY(&sv->outcomes) || !db_connected())
		return INT64_MAX;
	return retry_at_ms;
}
