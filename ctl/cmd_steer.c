/*
 * Steering one schedule: pause, resume and trigger.  Each is a single
 * UPDATE guarded by the state it expects, so that two operators racing
 * see one win and one told why not.  The database trigger on the table
 * wakes the supervisors (NOTIFY) when a schedule becomes due sooner.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

/* Runs the guarded UPDATE; returns rows changed, or -1. */
static int
update(struct ctl *c, const char *sql, int n, const char *const *params)
{
	PGresult	*res;
	int		 rows;

	if ((res = db_query(c, sql, n, params)) == NULL)
		return -1;
	rows = PQntuples(res);
	PQclear(res);
	return rows;
}

static int
finish(struct ctl *c, PGresult *res, int rows, const char *verb,
    const char *note)
{
	char	id[UUID_LEN + 1];

	strlcpy(id, db_get(res, 0, "id"), sizeof(id));
	PQclear(res);
	if (rows < 0)
		return c->dbstatus;
	return sched_report(c, id, verb, 0, note);
}

int
cmd_pause(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	const char	*params[1];
	int		 status, rows;

	if ((status = sched_operand(c, argc, argv, "pause", &res)) != 0)
		return status;
	params[0] = db_get(res, 0, "id");
	rows = update(c, "UPDATE scheduled_evaluations SET is_active = false "
	    "WHERE id = $1::uuid AND is_active RETURNING id", 1, params);
	return finish(c, res, rows, rows == 0 ? "already paused" : "paused",
	    db_int(res, 0, "in_flight") > 0 ?
	    " (the run in flight goes on)" : "");
}

/*
 * The previous worker left the failure count and a stale next_run_at in
 * place, so a resumed schedule fired at once and was disabled again by
 * its next failure.  Resume starts afresh from now.
 */
int
cmd_resume(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	const char	*params[2];
	char		 err[256], next[32];
	int64_t		 t;
	int		 status, rows;

	if ((status = sched_operand(c, argc, argv, "resume", &res)) != 0)
		return status;
	if (db_bool(res, 0, "is_active"))
		return finish(c, res, 0, "already active", "");
	if (sched_next_after(res, 0, c->now, &t, err, sizeof(err)) == -1) {
		fprintf(stderr, "evalschedctl: cannot resume '%s': %s\n",
		    db_get(res, 0, "name"), err);
		PQclear(res);
		return EX_DATAERR;
	}
	snprintf(next, sizeof(next), "%lld", (long long)t);
	params[0] = db_get(res, 0, "id");
	params[1] = next;
	rows = update(c, "UPDATE scheduled_evaluations SET is_active = true, "
	    "consecutive_failures = 0, next_run_at = to_timestamp($2::bigint) "
	    "WHERE id = $1::uuid AND NOT is_active RETURNING id", 2, params);
	return finish(c, res, rows, rows == 0 ? "already active" : "resumed",
	    "");
}

static int
refuse_paused(PGresult *res)
{
	fprintf(stderr, "evalschedctl: schedule '%s' is paused; resume it "
	    "first\n", db_get(res, 0, "name"));
	PQclear(res);
	return EX_DATAERR;
}

/*
 * Due now, by the database clock.  LEAST keeps an overdue slot as it is
 * (moving it later would only delay it).  A run still in flight is not
 * doubled: the supervisors start the next one when it ends.
 */
int
cmd_trigger(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	const char	*params[1];
	int		 status, rows;

	if ((status = sched_operand(c, argc, argv, "trigger", &res)) != 0)
		return status;
	if (!db_bool(res, 0, "is_active"))
		return refuse_paused(res);
	params[0] = db_get(res, 0, "id");
	rows = update(c, "UPDATE scheduled_evaluations "
	    "SET next_run_at = LEAST(next_run_at, now()) "
	    "WHERE id = $1::uuid AND is_active RETURNING id", 1, params);
	if (rows == 0)
		return refuse_paused(res);
	return finish(c, res, rows, "triggered", db_int(res, 0,
	    "in_flight") > 0 ? " (after the run in flight ends)" : "");
}
