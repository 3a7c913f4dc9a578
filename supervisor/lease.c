/*
 * Registration, heartbeat and lease recovery, all by the database clock.
 * A supervisor that has not renewed its heartbeat for its lease is
 * presumed dead: a live one takes over its in-flight runs, naming it.
 * Such a loss is the infrastructure's fault, not the schedule's, so it
 * does not count toward auto-disable.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

#include "jsonnew.h"
#include "log.h"
#include "supervisor.h"

/*
 * How a lost supervisor's runs are taken over; $1 is who takes them.
 * Each was in flight, and its request may have gone out: the route is
 * not idempotent, so none is dispatched again, and none is closed
 * before the database has shown whether its batch test started.  A run
 * whose batch test the application has created (evalsched_batch_created
 * named it) goes on to its completion.  Every other becomes unresolved,
 * as a dispatch whose answer was lost does (record.c): it gets its
 * batch test if the application creates it later, and fails otherwise,
 * the platform's fault, once run_timeout has passed (completion.c).
 * Its schedule hears of it then.  Its owner reads the error: it names
 * the supervisor by its id alone.  The node (a host name) and pid are
 * the deployment's, in our log and in evalsched_supervisors, which the
 * id finds.
 */
#define BOUND	"r.batch_test_run_id IS NOT NULL"
#define CLOSE_RUNS_OF(dead_cte)						\
	"WITH dead AS (" dead_cte "), "					\
	"closed AS (UPDATE public.scheduled_evaluation_runs r SET "	\
	"  status = 'running', started_at = now(), completed_at = NULL, " \
	"  batch_ended_at = CASE WHEN EXISTS (SELECT 1 "		\
	"    FROM public.batch_test_runs b WHERE b.id = r.batch_test_run_id " \
	"    AND b.status NOT IN ('pending', 'running')) THEN now() END, " \
	"  error_message = CASE WHEN NOT " BOUND " THEN "		\
	"    format('lost: supervisor %s %s; the outcome of this "	\
	"dispatch is unknown', d.id, d.why) END, "			\
	"  error_details = CASE WHEN NOT " BOUND " THEN "		\
	"    jsonb_build_object('lost_supervisor', d.id, "		\
	"    'reason', d.why, 'blame', 'platform', 'unresolved', true) END, " \
	"  evalsched_rev = coalesce(r.evalsched_rev, 0) + 1 "		\
	"  FROM dead d WHERE r.supervisor_id = d.id "			\
	"  AND r.status = 'triggered' "					\
	"  RETURNING r.id, r.scheduled_evaluation_id, d.node, d.pid, "	\
	"  " BOUND " AS goes_on, d.id AS lost) "			\
	"SELECT c.id, coalesce(s.name, ''), c.node, c.pid, c.goes_on, "	\
	"  c.lost "							\
	"FROM closed c LEFT JOIN public.scheduled_evaluations s "	\
	"  ON s.id = c.scheduled_evaluation_id"

static void
lease_log_closed(PGresult *res, const char *why)
{
	int	i;

	/* Their schedules are no longer in flight: look again at once. */
	if (PQntuples(res) > 0)
		event_post(EV_CLAIM);
	for (i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 4), "t") == 0) {
			log_info("schedule \"%s\": run %s goes on: its "
			    "supervisor %s (pid %s on %s) %s, but its batch "
			    "test had started", log_name(PQgetvalue(res, i,
			    1)).s, PQgetvalue(res, i, 0), PQgetvalue(res, i, 5),
			    PQgetvalue(res, i, 3), PQgetvalue(res, i, 2), why);
			event_post(EV_COMPLETION);
			continue;
		}
		/* The run's error names the supervisor by its id alone. */
		log_warnx("schedule \"%s\": run %s left unresolved: its "
		    "supervisor %s (pid %s on %s) %s; it is not sent again: "
		    "whether its batch test started is looked up in the "
		    "database", log_name(PQgetvalue(res, i, 1)).s,
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 5),
		    PQgetvalue(res, i, 3), PQgetvalue(res, i, 2), why);
	}
}

static int	close_previous_wanted, recover_wanted, orphans_wanted;

static void
previous_closed(PGresult **res, void *arg)
{
	(void)arg;
	if (res != NULL)
		lease_log_closed(res[0], "exited without closing its runs");
}

static void
previous_found(PGresult **res, void *arg)
{
	json_object	*ids = jnew_array();
	int		 i;

	(void)arg;
	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res[0]); i++) {
		pid_t pid = (pid_t)atoi(PQgetvalue(res[0], i, 1));

		if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		jpush(ids, jnew_string(PQgetvalue(res[0], i, 0)));
	}
	if (json_object_array_length(ids) > 0)
		(void)db_query(CLOSE_RUNS_OF("UPDATE "
		    "public.evalsched_supervisors SET lost_at = now(), "
		    "lost_by = $1 WHERE id IN (SELECT "
		    "json_array_elements_text($2::json)::uuid) "
		    "AND lost_at IS NULL RETURNING id, node, pid, "
		    "'exited without closing its runs (restarted on the same "
		    "node)' AS why"), 2, (const char *const[]){ sv->id,
		    jtext(ids, JSON_C_TO_STRING_PLAIN) },
		    previous_closed, NULL);
	json_object_put(ids);
}

/*
 * Our own earlier incarnations on this node whose process is gone: close
 * their runs at once rather than wait for their lease to run out.
 */
static int
lease_close_previous(void)
{
	return db_query("SELECT id, pid FROM public.evalsched_supervisors "
	    "WHERE node = $1 AND id <> $2 AND stopped_at IS NULL "
	    "AND lost_at IS NULL", 2,
	    (const char *const[]){ sv->conf.node_name, sv->id },
	    previous_found, NULL);
}

#define REGISTER_RETRY_MS	1000	/* after a registration that failed */

static int64_t	register_not_before_ms;
static int64_t	next_beat_ms;		/* our row's next renewal */

/* What our row says changed (the circuit, a refusal): renew it now. */
void
lease_beat_soon(void)
{
	next_beat_ms = mono_ms();
}

/* When our row is next renewed. */
int64_t
lease_next_ms(void)
{
	return next_beat_ms;
}

/* Registration failed: try again in a while. */
static void
register_later(void)
{
	register_not_before_ms = mono_ms() + REGISTER_RETRY_MS;
}

/* When registration is next due, until we are registered. */
int64_t
lease_register_next_ms(void)
{
	return sv->registered ? INT64_MAX : register_not_before_ms;
}

/*
 * Just registered: a previous incarnation's spooled outcomes go in
 * (record_step comes first) before its remaining runs are taken over
 * as lost, and then the real outcomes its orphaned jobrunners left
 * replace those losses.
 */
static void
registered(PGresult **res, void *arg)
{
	(void)arg;
	if (res == NULL) {
		register_later();
		return;
	}
	strlcpy(sv->id, PQgetvalue(res[0], 0, 0), sizeof(sv->id));
	sv->registered = 1;
	log_info("registered as supervisor %s (node %s, lease %d s)", sv->id,
	    sv->conf.node_name, sv->conf.lease);
	next_beat_ms = mono_ms() + sv->conf.lease * 1000 / 3;
	close_previous_wanted = 1;
	event_post(EV_REGISTERED);
}

/* Registers when due; its answer comes in a later turn. */
void
lease_register_step(void)
{
	char	pid[16], lease[16], max[16];

	if (sv->registered || mono_ms() < register_not_before_ms)
		return;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	snprintf(lease, sizeof(lease), "%d", sv->conf.lease);
	snprintf(max, sizeof(max), "%d", sv->conf.max_concurrent);
	if (db_query("INSERT INTO public.evalsched_supervisors (node, pid, "
	    "version, lease_seconds, max_concurrent) "
	    "VALUES ($1, $2, $3, $4, $5) RETURNING id", 5, (const char *const[]){ sv->conf.node_name,
	    pid, VERSION, lease, max }, registered, NULL) == -1)
		register_later();
}

/*
 * If another supervisor declared us lost (we were stopped or cut off
 * past the lease), our in-flight runs were taken over and their late
 * outcomes will be refused; we carry on under a new identity.
 */
static void
renewed(PGresult **res, void *arg)
{
	(void)arg;
	if (res == NULL)
		return;
	if (PQntuples(res[0]) == 1) {
		recover_wanted = 1;
		/*
		 * A claim given up at its deadline may still commit after
		 * the reconnect's look for orphans: look again now and then.
		 */
		orphans_wanted = 1;
		event_post(EV_SPOOL);
		return;
	}
	log_warnx("supervisor %s was declared lost by another (its lease ran "
	    "out); outcomes of its %d in-flight runs will be refused; "
	    "registering again", sv->id, children_running());
	sv->registered = 0;
}

/* Renews our lease. */
static int
lease_heartbeat(void)
{
	char	running[16], lease[16];

	/*
	 * The lease, the circuit and what the database refuses (refusal.c)
	 * go along: each may have changed.
	 */
	/* Next time is set first: a failing renewal must not spin. */
	next_beat_ms = mono_ms() + sv->conf.lease * 1000 / 3;
	snprintf(running, sizeof(running), "%d", children_running());
	snprintf(lease, sizeof(lease), "%d", sv->conf.lease);
	return db_query("UPDATE public.evalsched_supervisors "
	    "SET heartbeat_at = now(), running = $2, lease_seconds = $3, "
	    "circuit_open_since = CASE WHEN $4::text IS NULL THEN NULL "
	    "  ELSE coalesce(circuit_open_since, now()) END, "
	    "circuit_reason = $4, "
	    "refused_since = CASE WHEN $5::text IS NULL THEN NULL "
	    "  ELSE coalesce(refused_since, now()) END, "
	    "refusal = $5 WHERE id = $1 "
	    "AND lost_at IS NULL AND stopped_at IS NULL RETURNING 1", 5,
	    (const char *const[]){ sv->id, running, lease, circuit_reason(),
	    refusal_current() }, renewed, NULL);
}

static void
others_closed(PGresult **res, void *arg)
{
	(void)arg;
	if (res != NULL)
		lease_log_closed(res[0], "stopped renewing its lease");
}

/*
 * Closes the runs of supervisors whose lease ran out.  Only once we have
 * been connected for a whole lease ourselves: after an outage that cut
 * everybody off, the others deserve the same chance to renew.
 */
static int
lease_recover(void)
{
	if (mono_ms() - db_up_since_ms() < sv->conf.lease * 1000LL)
		return -1;
	return db_query(CLOSE_RUNS_OF("UPDATE public.evalsched_supervisors "
	    "SET lost_at = now(), lost_by = $1 WHERE stopped_at IS NULL "
	    "AND lost_at IS NULL AND id <> $1 "
	    "AND heartbeat_at < now() - lease_seconds * interval '1 second' "
	    "RETURNING id, node, pid, format('stopped renewing its lease "
	    "(last heartbeat %s)', heartbeat_at) AS why"), 1,
	    (const char *const[]){ sv->id }, others_closed, NULL);
}

/* The lease's next statement, when one is due; 1 if it went out. */
int
lease_step(void)
{
	if (close_previous_wanted) {
		close_previous_wanted = 0;
		return lease_close_previous() == 0;
	}
	if (recover_wanted) {
		recover_wanted = 0;
		if (lease_recover() == 0)
			return 1;
	}
	if (orphans_wanted) {
		orphans_wanted = 0;
		if (lease_release_orphans() == 0)
			return 1;
	}
	return mono_ms() >= next_beat_ms && lease_heartbeat() == 0;
}

static void
orphans_found(PGresult **res, void *arg)
{
	int	i;

	(void)arg;
	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res[0]); i++) {
		const char *run_id = PQgetvalue(res[0], i, 0);

		if (children_has_run(run_id) || record_has_run(run_id))
			continue;
		log_warnx("schedule \"%s\": run %s was claimed but never "
		    "started (the claim's reply was lost); releasing it",
		    log_name(PQgetvalue(res[0], i, 1)).s, run_id);
		record_enqueue(outcome_new(OUTCOME_RELEASE, run_id,
		    PQgetvalue(res[0], i, 1)));
	}
}

/*
 * After a reconnect: a run of ours still 'triggered' that no child runs
 * and no outcome awaits was claimed by a transaction whose COMMIT reply
 * was lost.  It never started, so it is released and its slot is due.
 * 0 when the question went out.
 */
int
lease_release_orphans(void)
{
	return db_query("SELECT r.id, s.name "
	    "FROM public.scheduled_evaluation_runs r "
	    "JOIN public.scheduled_evaluations s "
	    "ON s.id = r.scheduled_evaluation_id "
	    "WHERE r.supervisor_id = $1 AND r.status = 'triggered'", 1,
	    (const char *const[]){ sv->id }, orphans_found, NULL);
}

/* A clean exit: we are not lost, merely gone.  -1: nothing to say. */
int
lease_stop(db_reply_fn *done)
{
	if (!sv->registered)
		return -1;
	return db_query("UPDATE public.evalsched_supervisors "
	    "SET stopped_at = now(), running = 0 WHERE id = $1", 1,
	    (const char *const[]){ sv->id }, done, NULL);
}
