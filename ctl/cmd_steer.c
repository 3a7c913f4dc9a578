/*
 * Steering one schedule: pause, resume and trigger.  Each is a single
 * UPDATE guarded by the state it expects, so that two operators racing
 * see one win and one told why not.  The trigger evalsched_notify_wakeup
 * on the table wakes the supervisors (NOTIFY) when a schedule becomes
 * due sooner.
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

	if ((res = db_exec(c, sql, n, params)) == NULL)
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
	rows = update(c, "UPDATE public.scheduled_evaluations "
	    "SET is_active = false WHERE id = $1::uuid AND is_active "
	    "RETURNING id", 1, params);
	return finish(c, res, rows, rows == 0 ? "already paused" : "paused",
	    db_int(res, 0, "in_flight") > 0 ?
	    " (the run in flight goes on)" : "");
}

/*
 * The database resets the failure count on any re-enable (the trigger
 * evalsched_reset_on_enable); the UPDATE does too, for a database still
 * without it.  The count reported is the one the row ends with.
 */
static const char resume_sql[] =
    "UPDATE public.scheduled_evaluations SET is_active = true, "
    "consecutive_failures = 0, next_run_at = to_timestamp($2::bigint) "
    "WHERE id = $1::uuid AND NOT is_active "
    "RETURNING id, consecutive_failures";

/* Returns rows changed, or -1; note gets ", consecutive failures 0 (was 3)". */
static int
resume_update(struct ctl *c, const PGresult *res, const char *next,
    char *note, size_t len)
{
	PGresult	*upd;
	const char	*params[2];
	int		 rows;

	params[0] = db_get(res, 0, "id");
	params[1] = next;
	if ((upd = db_exec(c, resume_sql, 2, params)) == NULL)
		return -1;
	if ((rows = PQntuples(upd)) > 0)
		snprintf(note, len, ", consecutive failures %lld (was %lld)",
		    db_int(upd, 0, "consecutive_failures"),
		    db_int(res, 0, "consecutive_failures"));
	PQclear(upd);
	return rows;
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
	char		 err[256], next[32], note[96] = "";
	int64_t		 t;
	int		 status, rows;

	if ((status = sched_operand(c, argc, argv, "resume", &res)) != 0)
		return status;
	if (db_bool(res, 0, "is_active"))
		return finish(c, res, 0, "already active", "");
	if (sched_next_after(res, 0, c->now, &t, err, sizeof(err)) == -1) {
		out_line(stderr, "evalschedctl: cannot resume '%s': %s",
		    db_get(res, 0, "name"), err);
		PQclear(res);
		return EX_DATAERR;
	}
	snprintf(next, sizeof(next), "%lld", (long long)t);
	rows = resume_update(c, res, next, note, sizeof(note));
	return finish(c, res, rows, rows == 0 ? "already active" : "resumed",
	    note);
}

static int
refuse_paused(PGresult *res)
{
	out_line(stderr, "evalschedctl: schedule '%s' is paused; resume it "
	    "first", db_get(res, 0, "name"));
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
	rows = update(c, "UPDATE public.scheduled_evaluations "
	    "SET next_run_at = LEAST(next_run_at, now()) "
	    "WHERE id = $1::uuid AND is_active RETURNING id", 1, params);
	if (rows == 0)
		return refuse_paused(res);
	return finish(c, res, rows, "triggered", db_int(res, 0,
	    "in_flight") > 0 ? " (after the run in flight ends)" : "");
}
