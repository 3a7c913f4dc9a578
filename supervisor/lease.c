/*
 * Registration, heartbeat and lease recovery, all by the database clock.
 * A supervisor that has not renewed its heartbeat for its lease is
 * presumed dead: a live one closes its in-flight runs as failed, naming
 * it.  Such a loss is the infrastructure's fault, not the schedule's, so
 * it does not count toward auto-disable.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

/* How a lost supervisor's runs are closed; $1 is who closes them. */
#define CLOSE_RUNS_OF(dead_cte)						\
	"WITH dead AS (" dead_cte "), "					\
	"closed AS (UPDATE scheduled_evaluation_runs r SET "		\
	"  status = 'failed', completed_at = now(), "			\
	"  error_message = format('lost: supervisor %s (pid %s on %s) "	\
	"%s; the outcome of this dispatch is unknown', "		\
	"    d.id, d.pid, d.node, d.why), "				\
	"  error_details = jsonb_build_object('lost_supervisor', d.id, " \
	"    'node', d.node, 'pid', d.pid, 'reason', d.why, "		\
	"    'blame', 'platform'), "					\
	"  evalsched_rev = coalesce(r.evalsched_rev, 0) + 1 "		\
	"  FROM dead d WHERE r.supervisor_id = d.id "			\
	"  AND r.status = 'triggered' "					\
	"  RETURNING r.id, r.scheduled_evaluation_id, d.node, d.pid), "	\
	"sched AS (UPDATE scheduled_evaluations s SET "			\
	"  last_run_status = 'failed', last_run_at = now() FROM closed c " \
	"  WHERE s.id = c.scheduled_evaluation_id RETURNING s.id, s.name) " \
	"SELECT c.id, coalesce(s.name, ''), c.node, c.pid FROM closed c " \
	"LEFT JOIN sched s ON s.id = c.scheduled_evaluation_id"

static void
lease_log_closed(PGresult *res, const char *why)
{
	int	i;

	/* Their schedules are no longer in flight: look again at once. */
	if (PQntuples(res) > 0)
		sv->poll_now = 1;
	for (i = 0; i < PQntuples(res); i++)
		log_warnx("schedule \"%s\": run %s closed as failed: its "
		    "supervisor (pid %s on %s) %s", PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 3),
		    PQgetvalue(res, i, 2), why);
}

/*
 * Our own earlier incarnations on this node whose process is gone: close
 * their runs at once rather than wait for their lease to run out.
 */
void
lease_close_previous(void)
{
	PGresult	*res;
	struct array	 ids = { 0 };
	int		 i;

	res = db_exec("SELECT id, pid FROM evalsched_supervisors "
	    "WHERE node = $1 AND id <> $2 AND stopped_at IS NULL "
	    "AND lost_at IS NULL", 2,
	    (const char *const[]){ sv->conf.node_name, sv->id });
	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		pid_t pid = (pid_t)atoi(PQgetvalue(res, i, 1));

		if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		array_add(&ids, PQgetvalue(res, i, 0));
	}
	PQclear(res);
	if (ids.len == 0)
		return;
	res = db_exec(CLOSE_RUNS_OF("UPDATE evalsched_supervisors SET "
	    "lost_at = now(), lost_by = $1 WHERE id = ANY($2::uuid[]) "
	    "AND lost_at IS NULL RETURNING id, node, pid, "
	    "'exited without closing its runs (restarted on the same node)' "
	    "AS why"), 2, (const char *const[]){ sv->id, array_text(&ids) });
	array_free(&ids);
	if (res != NULL)
		lease_log_closed(res, "exited without closing its runs");
	PQclear(res);
}

int
lease_register(void)
{
	PGresult	*res;
	char		 pid[16], lease[16], max[16];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	snprintf(lease, sizeof(lease), "%d", sv->conf.lease);
	snprintf(max, sizeof(max), "%d", sv->conf.max_concurrent);
	res = db_exec("INSERT INTO evalsched_supervisors (node, pid, version, "
	    "lease_seconds, max_concurrent) VALUES ($1, $2, $3, $4, $5) "
	    "RETURNING id", 5, (const char *const[]){ sv->conf.node_name,
	    pid, VERSION, lease, max });
	if (res == NULL)
		return -1;
	strlcpy(sv->id, PQgetvalue(res, 0, 0), sizeof(sv->id));
	PQclear(res);
	sv->registered = 1;
	log_info("registered as supervisor %s (node %s, lease %d s)", sv->id,
	    sv->conf.node_name, sv->conf.lease);
	sv->next_heartbeat_ms = mono_ms() + sv->conf.lease * 1000 / 3;
	return 0;
}

/*
 * Renews our lease.  If another supervisor declared us lost (we were
 * stopped or cut off past the lease), our in-flight runs are closed and
 * their late outcomes will be refused; we carry on under a new identity.
 */
int
lease_heartbeat(void)
{
	PGresult	*res;
	char		 running[16], lease[16];
	int		 alive;

	/* The lease and the circuit go along: both may have changed. */
	/* Next time is set first: a failing renewal must not spin. */
	sv->next_heartbeat_ms = mono_ms() + sv->conf.lease * 1000 / 3;
	snprintf(running, sizeof(running), "%d", sv->nchildren);
	snprintf(lease, sizeof(lease), "%d", sv->conf.lease);
	res = db_exec("UPDATE evalsched_supervisors SET heartbeat_at = now(), "
	    "running = $2, lease_seconds = $3, "
	    "circuit_open_since = CASE WHEN $4::text IS NULL THEN NULL "
	    "  ELSE coalesce(circuit_open_since, now()) END, "
	    "circuit_reason = $4 WHERE id = $1 "
	    "AND lost_at IS NULL AND stopped_at IS NULL RETURNING 1", 4,
	    (const char *const[]){ sv->id, running, lease, circuit_reason() });
	if (res == NULL)
		return -1;
	alive = PQntuples(res) == 1;
	PQclear(res);
	if (alive)
		return 0;
	log_warnx("supervisor %s was declared lost by another (its lease ran "
	    "out); outcomes of its %d in-flight runs will be refused; "
	    "registering again", sv->id, sv->nchildren);
	sv->registered = 0;
	return lease_register();
}

/*
 * Closes the runs of supervisors whose lease ran out.  Only once we have
 * been connected for a whole lease ourselves: after an outage that cut
 * everybody off, the others deserve the same chance to renew.
 */
void
lease_recover(void)
{
	PGresult	*res;

	if (mono_ms() - db_up_since_ms() < sv->conf.lease * 1000LL)
		return;
	res = db_exec(CLOSE_RUNS_OF("UPDATE evalsched_supervisors SET "
	    "lost_at = now(), lost_by = $1 WHERE stopped_at IS NULL "
	    "AND lost_at IS NULL AND id <> $1 "
	    "AND heartbeat_at < now() - lease_seconds * interval '1 second' "
	    "RETURNING id, node, pid, format('stopped renewing its lease "
	    "(last heartbeat %s)', heartbeat_at) AS why"), 1,
	    (const char *const[]){ sv->id });
	if (res != NULL)
		lease_log_closed(res, "stopped renewing its lease");
	PQclear(res);
}

/*
 * After a reconnect: a run of ours still 'triggered' that no child runs
 * and no outcome awaits was claimed by a transaction whose COMMIT reply
 * was lost.  It never started, so it is released and its slot is due.
 */
void
lease_release_orphans(void)
{
	PGresult	*res;
	int		 i;

	res = db_exec("SELECT r.id, s.name FROM scheduled_evaluation_runs r "
	    "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
	    "WHERE r.supervisor_id = $1 AND r.status = 'triggered'", 1,
	    (const char *const[]){ sv->id });
	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		const char *run_id = PQgetvalue(res, i, 0);

		if (children_has_run(run_id) || record_has_run(run_id))
			continue;
		log_warnx("schedule \"%s\": run %s was claimed but never "
		    "started (the claim's reply was lost); releasing it",
		    PQgetvalue(res, i, 1), run_id);
		record_enqueue(outcome_new(OUTCOME_RELEASE, run_id,
		    PQgetvalue(res, i, 1)));
	}
	PQclear(res);
}

/* A clean exit: we are not lost, merely gone. */
void
lease_stop(void)
{
	PGresult	*res;

	if (!sv->registered)
		return;
	res = db_exec("UPDATE evalsched_supervisors SET stopped_at = now(), "
	    "running = 0 WHERE id = $1", 1, (const char *const[]){ sv->id });
	PQclear(res);
}
