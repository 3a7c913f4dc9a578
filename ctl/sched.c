/*
 * A schedule row as every command reads it, and its JSON shape.  Times
 * come back as Unix seconds so that they can be shown in the schedule's
 * zone and relative to the database clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "schedule.h"

#define EPOCH(col)	"floor(extract(epoch FROM s." col "))::bigint AS " col

const char SCHED_SELECT[] =
    "SELECT s.id, s.name, s.description, s.user_id, s.schedule_type, "
    "s.cron_expression, s.timezone, s.test_suite_id, s.model_id, "
    "s.batch_test_config::text AS batch_test_config, s.is_active, "
    EPOCH("next_run_at") ", " EPOCH("last_run_at") ", "
    "s.last_run_status, s.last_run_id, s.consecutive_failures, "
    EPOCH("evalsched_disabled_at") ", s.evalsched_disabled_reason, "
    "s.alert_on_failure, s.alert_on_regression, "
    "s.regression_threshold_percent::text AS regression_threshold_percent, "
    EPOCH("created_at") ", " EPOCH("updated_at") ", "
    "(SELECT count(*) FROM public.scheduled_evaluation_runs r "
    "  WHERE r.scheduled_evaluation_id = s.id AND r.status = 'triggered') "
    "  AS in_flight "
    "FROM public.scheduled_evaluations s ";

/* What the schedule fires on: the type's name, or the cron expression. */
const char *
sched_expression(const PGresult *res, int row)
{
	const char	*type = db_get(res, row, "schedule_type");
	const char	*cron = db_get(res, row, "cron_expression");

	if (type != NULL && strcmp(type, "custom") == 0)
		return cron != NULL ? cron : "custom (no expression)";
	return type;
}

PGresult *
sched_fetch(struct ctl *c, const char *id)
{
	char		 sql[2048];
	const char	*params[] = { id };

	snprintf(sql, sizeof(sql), "%s WHERE s.id = $1::uuid", SCHED_SELECT);
	return db_exec(c, sql, 1, params);
}

/*
 * The schedule a command's one operand (ID|NAME) names, fetched whole:
 * 0 with the row in *res, or an exit status.
 */
int
sched_operand(struct ctl *c, int argc, char **argv, const char *cmd,
    PGresult **res)
{
	char	id[UUID_LEN + 1];
	int	status;

	if ((status = ctl_opts(c, argc, argv, cmd, "ID|NAME", 1)) != 0 ||
	    (status = ctl_connect(c)) != 0 ||
	    (status = sched_resolve(c, argv[optind], id, sizeof(id))) != 0)
		return status;
	if ((*res = sched_fetch(c, id)) == NULL)
		return c->dbstatus;
	if (PQntuples(*res) == 1)
		return 0;
	PQclear(*res);
	out_line(stderr, "evalschedctl: no schedule '%s'", argv[optind]);
	return EX_DATAERR;
}

/*
 * Reports schedule id as a command left it: the JSON object under --json,
 * else "<head> '<name>', next run <when><tail>", with " (paused)" after
 * the name if mark_paused and the schedule is paused.
 */
int
sched_report(struct ctl *c, const char *id, const char *head,
    int mark_paused, const char *tail)
{
	PGresult	*res;
	char		 when[128];

	if ((res = sched_fetch(c, id)) == NULL)
		return c->dbstatus;
	if (c->json)
		json_print(sched_json(res, 0));
	else {
		fmt_when(c, db_int(res, 0, "next_run_at"),
		    db_get(res, 0, "timezone"), when, sizeof(when));
		out_line(stdout, "%s '%s'%s, next run %s%s", head,
		    db_get(res, 0, "name"), mark_paused &&
		    !db_bool(res, 0, "is_active") ? (db_get(res, 0,
		    "evalsched_disabled_reason") != NULL ? " (disabled)" :
		    " (paused)") : "", when,
		    tail);
	}
	PQclear(res);
	return 0;
}

int
sched_next_after(const PGresult *res, int row, int64_t after, int64_t *next,
    char *err, size_t errlen)
{
	struct schedule	*s;
	int		 r;

	s = schedule_compile(db_get(res, row, "schedule_type"),
	    db_get(res, row, "cron_expression"), db_get(res, row, "timezone"),
	    err, errlen);
	if (s == NULL)
		return -1;
	if ((r = schedule_next(s, after, next)) == -1)
		snprintf(err, errlen, "the schedule never fires again");
	schedule_free(s);
	return r;
}

json_object *
sched_json(const PGresult *res, int row)
{
	json_object	*o = jnew_object();
	const char	*zone = db_get(res, row, "timezone");

	jset(o, "id", json_col_str(res, row, "id"));
	jset(o, "name", json_col_str(res, row, "name"));
	jset(o, "description", json_col_str(res, row, "description"));
	jset(o, "user_id", json_col_str(res, row, "user_id"));
	jset(o, "schedule_type", json_col_str(res, row, "schedule_type"));
	jset(o, "cron_expression", json_col_str(res, row, "cron_expression"));
	jset(o, "timezone", json_str(zone));
	jset(o, "test_suite_id", json_col_str(res, row, "test_suite_id"));
	jset(o, "model_id", json_col_str(res, row, "model_id"));
	jset(o, "batch_test_config", json_col_jsonb(res, row,
	    "batch_test_config"));
	jset(o, "is_active", jnew_bool(db_bool(res, row, "is_active")));
	jset(o, "next_run_at", json_col_time(res, row, "next_run_at", zone));
	jset(o, "last_run_at", json_col_time(res, row, "last_run_at", zone));
	jset(o, "last_run_status", json_col_str(res, row, "last_run_status"));
	jset(o, "last_run_id", json_col_str(res, row, "last_run_id"));
	jset(o, "consecutive_failures", jnew_int((int)db_int(res,
	    row, "consecutive_failures")));
	/* Why it is inactive: disabled by evalsched, or else paused. */
	jset(o, "disabled_at", json_col_time(res, row, "evalsched_disabled_at",
	    zone));
	jset(o, "disabled_reason", json_col_str(res, row,
	    "evalsched_disabled_reason"));
	jset(o, "in_flight", jnew_int((int)db_int(res, row, "in_flight")));
	jset(o, "alert_on_failure", jnew_bool(db_bool(res, row,
	    "alert_on_failure")));
	jset(o, "alert_on_regression", jnew_bool(db_bool(res,
	    row, "alert_on_regression")));
	jset(o, "regression_threshold_percent", json_numeric(db_get(res, row,
	    "regression_threshold_percent")));
	jset(o, "created_at", json_col_time(res, row, "created_at", zone));
	jset(o, "updated_at", json_col_time(res, row, "updated_at", zone));
	return o;
}
