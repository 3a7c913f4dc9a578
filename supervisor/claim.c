/*
 * Claiming due schedules, in one transaction: pick what is due by the
 * database clock (a fair share per user, oldest first within it, none
 * with a dispatch in flight or backed off by itself, FOR UPDATE SKIP
 * LOCKED so several supervisors share the work), insert a run
 * in 'triggered' for each slot fired, and advance next_run_at to the
 * first fire time after both the slot and now (missed slots coalesce).
 * The unique key on (schedule, slot) makes a second firing impossible.
 * The jobrunners are forked once the claim is committed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "job.h"
#include "jsonnew.h"
#include "log.h"
#include "schedule.h"
#include "supervisor.h"
#include "text.h"
#include "tz.h"

/* Characters of the schedule's name in its batch test's name, at most. */
#define BATCH_NAME_MAX	100

enum {
	COL_ID, COL_NAME, COL_USER, COL_TYPE, COL_CRON, COL_TZ, COL_SUITE,
	COL_MODEL, COL_CONFIG, COL_CONFIG_TYPE, COL_SLOT, COL_NOW, COL_API_KEY
};

#define IN_FLIGHT							\
	"EXISTS (SELECT 1 FROM public.scheduled_evaluation_runs r "	\
	"WHERE r.scheduled_evaluation_id = s.id AND r.status = 'triggered' " \
	"AND r.slot_at IS NOT NULL)"

/* Waiting out a backoff of its own (circuit.c, record.c). */
#define BACKED_OFF							\
	"EXISTS (SELECT 1 FROM public.evalsched_backoffs b "		\
	"WHERE b.scheduled_evaluation_id = s.id AND b.not_before > now())"

/* The users of the oldest this many due schedules take turns. */
#define DUE_WINDOW	1000

/*
 * $1 the free slots, $2 the schedules to take last, in this order (an
 * open circuit's failed probes: probes rotate), or NULL.  The free slots are shared
 * between users: the claimable due schedules are ranked within their
 * user, oldest first, and rank 1 of every user goes before rank 2 of
 * anyone; within a rank the user served least recently goes first (one
 * never served first of all), then the oldest.  Ranking by age alone
 * would hand every freed slot back to whichever user has the oldest
 * backlog, as claims take a slot or two at a time.  Only the oldest
 * DUE_WINDOW due schedules are ranked, so that a claim costs the same
 * whatever the backlog: at 50 active schedules a user, they hold 20
 * users or more, and a schedule that falls due behind more than that is
 * ranked once the backlog ahead of it is under DUE_WINDOW.  PostgreSQL
 * locks no row under a window function: the rows are ranked first,
 * locked after, and checked again then (another supervisor's claim may
 * have advanced one meanwhile).
 */
static const char claim_sql[] =
	"WITH due AS MATERIALIZED (SELECT s.id, s.user_id, s.next_run_at "
	"  FROM public.scheduled_evaluations s "
	"  WHERE s.is_active AND s.next_run_at <= now() "
	"    AND NOT " IN_FLIGHT " AND NOT " BACKED_OFF
	"  ORDER BY s.next_run_at, s.id LIMIT " STR(DUE_WINDOW) "), "
	"ranked AS (SELECT d.id, d.user_id, d.next_run_at, row_number() "
	"    OVER (PARTITION BY d.user_id ORDER BY d.next_run_at, d.id) "
	"    AS rank "
	"  FROM due d), "
	"turn AS (SELECT r.id, r.next_run_at, r.rank, t.dispatched_at, "
	"    coalesce(array_position($2::uuid[], r.id), 0) AS last "
	"  FROM ranked r "
	"  LEFT JOIN public.evalsched_turns t ON t.user_id = r.user_id "
	"  WHERE r.rank <= $1 "
	"  ORDER BY 5, r.rank, t.dispatched_at NULLS FIRST, r.next_run_at, r.id "
	/* More than the slots: a few may be locked by another claim. */
	"  LIMIT $1 + 16) "
	"SELECT s.id, s.name, s.user_id, s.schedule_type, s.cron_expression, "
	"  s.timezone, s.test_suite_id, s.model_id, "
	/* NULL (the application's PATCH allows it) runs as {}, as ever. */
	"  coalesce(nullif(s.batch_test_config, 'null'), '{}')::text, "
	"  jsonb_typeof(coalesce(nullif(s.batch_test_config, 'null'), '{}')), "
	"  extract(epoch FROM s.next_run_at), extract(epoch FROM now()), "
	"  s.api_key_encrypted "
	"FROM turn c JOIN public.scheduled_evaluations s ON s.id = c.id "
	"WHERE s.is_active AND s.next_run_at <= now() "
	"ORDER BY c.last, c.rank, c.dispatched_at NULLS FIRST, c.next_run_at, c.id "
	"LIMIT $1 FOR UPDATE OF s SKIP LOCKED";

/*
 * The runs of the slots fired, and their users' turn: served now.  The
 * turns are written in the order of their users, so that two claims
 * never wait on each other's in a circle.
 */
static const char insert_runs_sql[] =
	"WITH run AS (INSERT INTO public.scheduled_evaluation_runs "
	"  (scheduled_evaluation_id, status, slot_at, supervisor_id, "
	"   batch_name, evalsched_rev) "
	"  SELECT s.id, 'triggered', s.next_run_at, $2, u.name, 0 "
	"  FROM public.scheduled_evaluations s, json_to_recordset($1::json) "
	"    AS u(id uuid, next bigint, name text) WHERE s.id = u.id "
	"  ON CONFLICT (scheduled_evaluation_id, slot_at) "
	"    WHERE slot_at IS NOT NULL DO NOTHING "
	"  RETURNING id, scheduled_evaluation_id), "
	"turn AS (INSERT INTO public.evalsched_turns AS t "
	"    (user_id, dispatched_at) "
	"  SELECT DISTINCT s.user_id, now() FROM run "
	"  JOIN public.scheduled_evaluations s "
	"    ON s.id = run.scheduled_evaluation_id "
	"  WHERE s.user_id IS NOT NULL ORDER BY 1 "
	"  ON CONFLICT (user_id) DO UPDATE SET dispatched_at = now()) "
	"SELECT id, scheduled_evaluation_id FROM run";

static const char advance_sql[] =
	"UPDATE public.scheduled_evaluations s "
	"SET next_run_at = to_timestamp(u.next) "
	"FROM json_to_recordset($1::json) AS u(id uuid, next bigint) "
	"WHERE s.id = u.id";

static const char disable_sql[] =
	"WITH run AS (INSERT INTO public.scheduled_evaluation_runs "
	"  (scheduled_evaluation_id, status, slot_at, supervisor_id, "
	"   completed_at, error_message, error_details, evalsched_rev) "
	"  SELECT id, 'failed', next_run_at, $3, now(), $2, "
	"    jsonb_build_object('reason', 'bad schedule', 'detail', $2::text, "
	"      'blame', 'schedule'), 0 "
	"  FROM public.scheduled_evaluations WHERE id = $1 "
	"  ON CONFLICT DO NOTHING RETURNING id), "
	/*
	 * An auto-disable like any other: its owner hears of it, in the
	 * application's words; errorMessage says why (evalsched_end_alerts).
	 */
	"alert AS (INSERT INTO public.evalsched_alerts (event, user_id, "
	"    scheduled_evaluation_id, run_id, title, message, metadata) "
	"  SELECT a.* FROM public.scheduled_evaluations s CROSS JOIN run "
	"  CROSS JOIN LATERAL public.evalsched_end_alerts(s, run.id, false, "
	"    false, true, $2, NULL, NULL, NULL, NULL) a "
	"  WHERE s.id = $1) "
	"UPDATE public.scheduled_evaluations SET is_active = false, "
	"  evalsched_disabled_at = now(), evalsched_disabled_reason = $2, "
	"  last_run_status = 'failed', last_run_at = now() WHERE id = $1";

static const char *
value(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* NULL when batch_test_config cannot be sent (job_to_json). */
static char *
make_job(PGresult *res, int row, char *run_id, char *batch_name)
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
	job.test_run_name = batch_name;
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
job_fits(PGresult *res, int row, char *batch_name)
{
	char	 placeholder[] = "00000000-0000-4000-8000-000000000000";
	char	*job;
	int	 fits;

	if ((job = make_job(res, row, placeholder, batch_name)) == NULL)
		return 0;
	fits = strlen(job) <= JOB_MAX_TEXT;
	explicit_bzero(job, strlen(job));
	free(job);
	return fits;
}

/*
 * The name the run's batch test is given when the schedule's config
 * gives none: the schedule, its slot in the schedule's time zone and
 * the start of the schedule's id, "Nightly - 2026-12-05 02:00 CET
 * (3f2a9c1e)", as a person would want to read it in the application's
 * list of batch tests.  The route stores it before it answers
 * (config.custom_name), which is how a run whose answer was lost finds
 * its batch test (evalsched_batch_created).  The slot makes it the run's
 * own among the schedule's, the id among those of its owner's schedules
 * that have the same name and model and fire at the same time: without
 * it, one of them whose request started nothing would take another's
 * batch test.
 */
static char *
slot_name(const char *schedule_id, const char *schedule_name,
    const struct schedule *sch, int64_t slot)
{
	struct tz_local	 lt;
	char		*name, *full, secs[8] = "";

	name = xstrdup(schedule_name);
	text_one_line(name);
	text_clip(name, BATCH_NAME_MAX);
	tz_local_time(schedule_tz(sch), slot, &lt);
	if (lt.second != 0)
		snprintf(secs, sizeof(secs), ":%02d", lt.second);
	full = xasprintf("%s - %04lld-%02d-%02d %02d:%02d%s %s (%.8s)", name,
	    (long long)lt.year, lt.month, lt.day, lt.hour, lt.minute, secs,
	    lt.abbr, schedule_id);
	free(name);
	return full;
}

/*
 * Checks a due row, computes its next fire time and names its batch
 * test.  Returns 0 with *batch_name set, or -1 with why filled in: such
 * a row is disabled, never dispatched.
 */
static int
check_row(PGresult *res, int row, int64_t *next, char **batch_name, char *why,
    size_t whylen)
{
	struct schedule	*sch;
	char		 err[256];
	double		 slot = atof(PQgetvalue(res, row, COL_SLOT));
	double		 now = atof(PQgetvalue(res, row, COL_NOW));
	/* Both are after 1970: truncation is the floor. */
	int64_t		 after = (int64_t)(slot > now ? slot : now);

	*batch_name = NULL;
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
	sch = schedule_compile(PQgetvalue(res, row, COL_TYPE),
	    value(res, row, COL_CRON), value(res, row, COL_TZ), err,
	    sizeof(err));
	if (sch == NULL) {
		snprintf(why, whylen, "bad schedule: %s", err);
		return -1;
	}
	if (schedule_next(sch, after, next) == -1) {
		snprintf(why, whylen, "bad schedule: no fire time after %lld",
		    (long long)after);
		schedule_free(sch);
		return -1;
	}
	/*
	 * Anyone may write a next_run_at of -infinity, a slot no clock
	 * shows: its batch test is named by the claim's time instead.
	 */
	*batch_name = slot_name(PQgetvalue(res, row, COL_ID),
	    PQgetvalue(res, row, COL_NAME), sch,
	    isfinite(slot) ? (int64_t)slot : after);
	schedule_free(sch);
	if (!job_fits(res, row, *batch_name)) {
		snprintf(why, whylen, "bad schedule: batch_test_config cannot "
		    "be sent (larger than %d KiB or nested too deeply)",
		    JOB_MAX_TEXT / 1024);
		free(*batch_name);
		*batch_name = NULL;
		return -1;
	}
	return 0;
}

/*
 * A row that cannot run is disabled after the claim, in a transaction
 * of its own: the good rows' claim never waits on it or fails with it.
 * It stays locked by nobody meanwhile, so another supervisor may find it
 * bad too; the run and alert it makes are keyed by its slot, made once.
 */
struct bad_row {
	TAILQ_ENTRY(bad_row)	 entry;
	char			 id[UUID_LEN + 1];
	char			*name;
	char			*why;
};
static TAILQ_HEAD(, bad_row) bad_rows = TAILQ_HEAD_INITIALIZER(bad_rows);

static void
bad_row_add(PGresult *res, int row, const char *why)
{
	struct bad_row	*b = xcalloc(1, sizeof(*b));

	strlcpy(b->id, PQgetvalue(res, row, COL_ID), sizeof(b->id));
	b->name = xstrdup(PQgetvalue(res, row, COL_NAME));
	b->why = xstrdup(why);
	TAILQ_INSERT_TAIL(&bad_rows, b, entry);
}

static void
bad_row_free(struct bad_row *b)
{
	TAILQ_REMOVE(&bad_rows, b, entry);
	free(b->name);
	free(b->why);
	free(b);
}

static void
disabled(PGresult **res, void *arg)
{
	struct bad_row	*b = arg;

	if (res != NULL && strcmp(PQcmdTuples(res[0]), "1") == 0) {
		log_warnx("schedule \"%s\" (%s) disabled: %s", log_name(b->name).s,
		    b->id,
		    b->why);
		event_post(EV_ALERT);
	}
	/* Failed: the row is still due and bad, and found again. */
	bad_row_free(b);
}

/* Disables the next bad row found by a claim; 1 if that was sent. */
int
claim_disable_step(void)
{
	struct bad_row	*b = TAILQ_FIRST(&bad_rows);

	if (b == NULL)
		return 0;
	if (db_query(disable_sql, 3, (const char *const[]){ b->id, b->why,
	    sv->id }, disabled, b) == -1)
		return 0;
	return 1;
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

/*
 * The claim under way: its rows, what the good ones advance to, and the
 * names of their batch tests, by row.
 */
static struct {
	PGresult	*rows;
	int		 slots;
	json_object	*good;		/* [{"id", "next", "name"}] */
	char		**names;
} cl;

static void
dispatch(PGresult *rows, PGresult *runs)
{
	int	 i, row;
	char	*job;

	for (i = 0; i < PQntuples(runs); i++) {
		char *run_id = PQgetvalue(runs, i, 0);

		row = find_row(rows, PQgetvalue(runs, i, 1));
		/* Answered after a stop signal: no new dispatch, the slot waits. */
		if (sv->stopping) {
			record_enqueue(outcome_new(OUTCOME_RELEASE, run_id,
			    PQgetvalue(rows, row, COL_NAME)));
			continue;
		}
		/* check_row built it once: it builds again. */
		job = make_job(rows, row, run_id, cl.names[row]);
		if (children_spawn(run_id, PQgetvalue(rows, row, COL_ID),
		    PQgetvalue(rows, row, COL_NAME), job) == NULL) {
			record_enqueue(outcome_new(OUTCOME_RELEASE, run_id,
			    PQgetvalue(rows, row, COL_NAME)));
			sv->fork_failed = 1;
		}
	}
}

static int
good_rows(void)
{
	return cl.good != NULL ? (int)json_object_array_length(cl.good) : 0;
}

static const char next_due_sql[] =
	"SELECT ceil(extract(epoch FROM least("
	"  (SELECT s.next_run_at FROM public.scheduled_evaluations s "
	"    WHERE s.is_active AND NOT " IN_FLIGHT "AND NOT " BACKED_OFF
	"    ORDER BY s.next_run_at LIMIT 1), "
	"  (SELECT min(greatest(s.next_run_at, b.not_before)) "
	"    FROM public.evalsched_backoffs b "
	"    JOIN public.scheduled_evaluations s "
	"      ON s.id = b.scheduled_evaluation_id "
	"    WHERE b.not_before > now() AND s.is_active AND NOT " IN_FLIGHT ")"
	") - clock_timestamp()) * 1000)";

/*
 * When the next schedule falls due, by the database clock, as a delay in
 * milliseconds from now; none when none is active.  Schedules with a
 * dispatch in flight are not due for us: their end wakes us anyway.  A
 * schedule backed off by itself falls due when its backoff ends.
 */
static void
next_due_read(PGresult *res)
{
	int64_t	delay = -1;

	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		delay = atoll(PQgetvalue(res, 0, 0));
		if (delay < 0)
			delay = 0;
	}
	sv->next_due_ms = delay < 0 ? -1 : mono_ms() + delay;
}

/*
 * A good row: its id, the fire time it advances to, and the name its
 * batch test will have: the config's own test_run_name, else ours.
 */
static json_object *
good_row(PGresult *res, int row, int64_t next)
{
	json_object	*o = jnew_object();
	char		*name;

	name = job_batch_name(PQgetvalue(res, row, COL_CONFIG), cl.names[row]);
	jset(o, "id", jnew_string(PQgetvalue(res, row, COL_ID)));
	jset(o, "next", jnew_int(next));
	jset(o, "name", jnew_string(name));
	free(name);
	return o;
}

#define CLAIM_BACKOFF_MS	50	/* due rows locked by another claim */
#define CLAIM_BACKOFF_MAX_MS	1000
#define FORK_BACKOFF_MS		1000

/*
 * Claims that notifications ask for are this far apart, at least.  Any
 * role may NOTIFY evalsched_wakeup, so a notification is a hint, and a
 * flood of them must not become a flood of claims: at most ten a second
 * (each two short trips), far fewer than the transactions the flood
 * itself costs the server.  A real change after a quiet tenth of a
 * second is still claimed at once, and one in a flood waits at most
 * this long, well below what a person who just pressed "run now"
 * notices; a due time (next_due_ms) never waits for it.
 */
#define HINT_GAP_MS		100

/* When to claim: the claim's own times. */
static int64_t	next_poll_ms, not_before_ms;
static int64_t	backoff_ms = CLAIM_BACKOFF_MS;
static int	idle;			/* the last claim found nothing due */
static int	poll_now;		/* claim at the next turn */
static int	hinted;			/* a NOTIFY asks for a claim */
static int64_t	hint_claim_ms = INT64_MIN / 2;	/* the last claim it made */

/* Claim at the next turn: a slot came free, a schedule may be due. */
void
claim_soon(void)
{
	poll_now = 1;
}

/* A NOTIFY: claim at the next turn that is HINT_GAP_MS after the last. */
void
claim_hint(void)
{
	hinted = 1;
}

/* When the claim a NOTIFY asked for may go; none asked: never. */
static int64_t
hint_due_ms(void)
{
	return hinted ? hint_claim_ms + HINT_GAP_MS : INT64_MAX;
}

/* When the next claim is due, were it possible. */
int64_t
claim_next_ms(void)
{
	int64_t	t;

	t = latest(next_poll_ms, not_before_ms);
	if (poll_now)
		t = not_before_ms;
	if (sv->next_due_ms >= 0)
		t = earliest(t, latest(sv->next_due_ms, not_before_ms));
	return earliest(t, latest(hint_due_ms(), not_before_ms));
}

/* The last claim found nothing due, and none is asked for since. */
int
claim_nothing_due(void)
{
	return idle && !poll_now;
}

/*
 * A claim's end: n rows were due and claimable (-1: it failed).  When
 * it found as many as it could take, more may be waiting.
 */
static void
claimed(int n, int slots)
{
	int64_t	now = mono_ms();

	if (n == -1) {
		/* Try again, not before the backoff: what was due still is. */
		not_before_ms = now + FORK_BACKOFF_MS;
		poll_now = 1;
		return;
	}
	if (n == slots)
		poll_now = 1;
	next_poll_ms = now + sv->conf.poll_interval * 1000LL;
	idle = n == 0;
	if (sv->fork_failed)
		not_before_ms = now + FORK_BACKOFF_MS;
	else if (n == 0 && sv->next_due_ms >= 0 && sv->next_due_ms <= now) {
		/* Due, yet locked by another supervisor's claim. */
		not_before_ms = now + backoff_ms;
		if (backoff_ms < CLAIM_BACKOFF_MAX_MS)
			backoff_ms *= 2;
	} else
		backoff_ms = CLAIM_BACKOFF_MS;
}

static void
claim_end(int n)
{
	int	i;

	for (i = 0; cl.names != NULL && i < PQntuples(cl.rows); i++)
		free(cl.names[i]);
	free(cl.names);
	PQclear(cl.rows);
	json_object_put(cl.good);
	claimed(n, cl.slots);
	memset(&cl, 0, sizeof(cl));
}

/* Committed: the runs are ours to start. */
static void
claim_committed(PGresult **res, void *arg)
{
	PGresult	*runs;
	int		 ngood = good_rows();

	(void)arg;
	if (res == NULL) {
		/* Rolled back: the bad rows are found again, too. */
		while (!TAILQ_EMPTY(&bad_rows))
			bad_row_free(TAILQ_FIRST(&bad_rows));
		claim_end(-1);
		return;
	}
	runs = ngood > 0 ? res[0] : NULL;
	next_due_read(res[ngood > 0 ? 2 : 0]);
	if (runs != NULL && PQntuples(runs) < ngood)
		log_info("%d due slot(s) had fired already; advanced without "
		    "a dispatch", ngood - PQntuples(runs));
	if (runs != NULL)
		dispatch(cl.rows, runs);
	claim_end(PQntuples(cl.rows));
}

/*
 * The due rows are locked: the good ones get their runs and their next
 * fire time, and the transaction ends, with when the next one is due.
 */
static void
claim_rows_read(PGresult **res, void *arg)
{
	struct db_stmt	 stmts[3];
	const char	*insert_params[2], *good;
	char		 why[512];
	int64_t		 next;
	int		 i, n = 0;

	(void)arg;
	if (res == NULL) {
		claim_end(-1);
		return;
	}
	cl.rows = res[0];
	res[0] = NULL;
	cl.good = jnew_array();
	cl.names = xcalloc(PQntuples(cl.rows) + 1, sizeof(*cl.names));
	for (i = 0; i < PQntuples(cl.rows); i++) {
		if (check_row(cl.rows, i, &next, &cl.names[i], why,
		    sizeof(why)) == -1) {
			bad_row_add(cl.rows, i, why);
			continue;
		}
		jpush(cl.good, good_row(cl.rows, i, next));
	}
	memset(stmts, 0, sizeof(stmts));
	if (good_rows() > 0) {
		good = jtext(cl.good, JSON_C_TO_STRING_PLAIN);
		insert_params[0] = good;
		insert_params[1] = sv->id;
		stmts[n++] = (struct db_stmt){ insert_runs_sql, NULL, 2,
		    insert_params };
		stmts[n++] = (struct db_stmt){ advance_sql, NULL, 1, &good };
	}
	stmts[n++] = (struct db_stmt){ next_due_sql, NULL, 0, NULL };
	if (db_send(DB_CLOSE, stmts, n, claim_committed, NULL) == -1)
		claim_end(-1);
}

/*
 * Claims up to `slots` due schedules and dispatches them, in two trips
 * of one transaction; claimed() hears how it went.  -1 when it could
 * not even start.
 */
static int
claim_start(int slots)
{
	struct db_stmt	 s = { claim_sql, NULL, 2, NULL };
	char		 limit[16], *avoid = circuit_avoid();
	int		 r;

	snprintf(limit, sizeof(limit), "%d", slots);
	s.params = (const char *const[]){ limit, avoid };
	r = db_send(DB_OPEN, &s, 1, claim_rows_read, NULL);
	free(avoid);
	if (r == -1)
		return -1;
	cl.slots = slots;
	return 0;
}

static int
claim_is_due(int64_t now)
{
	if (now < not_before_ms)
		return 0;
	return poll_now || now >= next_poll_ms || now >= hint_due_ms() ||
	    (sv->next_due_ms >= 0 && now >= sv->next_due_ms);
}

/* Starts a claim of up to `slots` when one is due; 1 if started. */
int
claim_step(int slots)
{
	int64_t	now = mono_ms();

	if (!claim_is_due(now))
		return 0;
	/* Cleared before, not after: a NOTIFY during the claim stands. */
	poll_now = 0;
	if (hinted) {
		hinted = 0;
		hint_claim_ms = now;
	}
	sv->fork_failed = 0;
	idle = 0;
	if (claim_start(slots) == -1) {
		not_before_ms = now + FORK_BACKOFF_MS;
		return 0;
	}
	return 1;
}
