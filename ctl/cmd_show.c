/*
 * show ID|NAME: one schedule, every field, its next fire times as the
 * schedule engine computes them, what its last batch test found, the
 * baseline its next run is compared with, whether its last completed run
 * was a regression, how it last failed, and whether it is backed off by
 * itself (the platform failing it alone).
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "schedule.h"

#define UPCOMING	3

/* The newest run that ended with results, and the newest failure. */
static const char results_where[] =
    "WHERE r.scheduled_evaluation_id = $1::uuid AND " RUN_HAS_RESULTS("r") " "
    "ORDER BY r.completed_at DESC NULLS LAST, r.triggered_at DESC, r.id "
    "LIMIT 1";
static const char failure_where[] =
    "WHERE r.scheduled_evaluation_id = $1::uuid AND r.status = 'failed' "
    "ORDER BY coalesce(r.completed_at, r.triggered_at) DESC, r.id LIMIT 1";

/* Its own backoff, kept by the supervisors (evalsched-supervisor(8)). */
static const char backoff_sql[] =
    "SELECT b.failures, b.reason, b.not_before > now() AS waiting, "
    "floor(extract(epoch FROM b.not_before))::bigint AS not_before, "
    "floor(extract(epoch FROM b.since))::bigint AS since "
    "FROM public.evalsched_backoffs b "
    "WHERE b.scheduled_evaluation_id = $1::uuid";

struct last {
	PGresult	*results;
	PGresult	*failure;
	PGresult	*completed;	/* the newest completed with results */
	PGresult	*backoff;	/* its evalsched_backoffs row, or none */
	struct baseline	 base;
};

/*
 * Fire times after the stored next_run_at, as the supervisor will
 * compute them; a row the engine refuses says why instead.
 */
static int
upcoming(const PGresult *res, int64_t *t, char *err, size_t errlen)
{
	int64_t	after = db_int(res, 0, "next_run_at");
	int	n;

	for (n = 0; n < UPCOMING; n++) {
		if (sched_next_after(res, 0, after, &t[n], err, errlen) == -1)
			return n > 0 ? n : -1;
		after = t[n];
	}
	return n;
}

static void
upcoming_cell(struct ctl *c, const PGresult *res, char *buf, size_t len)
{
	int64_t	t[UPCOMING];
	char	err[256], one[64];
	int	n, i;

	if ((n = upcoming(res, t, err, sizeof(err))) == -1) {
		snprintf(buf, len, "none: %s", err);
		return;
	}
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (c->aligned)
			fmt_local(t[i], db_get(res, 0, "timezone"), one,
			    sizeof(one));
		else
			fmt_rfc3339(t[i], db_get(res, 0, "timezone"), one,
			    sizeof(one));
		if (i > 0)
			strlcat(buf, ", ", len);
		strlcat(buf, one, len);
	}
}

static void
when_cell(struct ctl *c, const PGresult *res, const char *col, char *buf,
    size_t len)
{
	if (db_get(res, 0, col) == NULL)
		snprintf(buf, len, "never");
	else
		fmt_when(c, db_int(res, 0, col), db_get(res, 0, "timezone"),
		    buf, len);
}

static void
schedule_cell(const PGresult *res, char *buf, size_t len)
{
	const char	*type = db_get(res, 0, "schedule_type");
	const char	*expr = schedule_type_expression(type);

	if (expr != NULL)
		snprintf(buf, len, "%s (%s)", type, expr);
	else
		snprintf(buf, len, "%s", sched_expression(res, 0));
}

static void
zone_cell(const PGresult *res, char *buf, size_t len)
{
	const char	*zone = db_get(res, 0, "timezone");

	snprintf(buf, len, "%s%s", zone, zone_ok(zone) ? "" :
	    " (unknown zone: times shown in UTC)");
}

static void
last_cell(struct ctl *c, const PGresult *res, char *buf, size_t len)
{
	char	when[128];
	const char *st = db_get(res, 0, "last_run_status");

	when_cell(c, res, "last_run_at", when, sizeof(when));
	if (st == NULL)
		snprintf(buf, len, "%s", when);
	else
		snprintf(buf, len, "%s, %s", when, st);
}

/* "yes"; "no, paused"; "no, disabled by evalsched <when>: <reason>". */
static void
active_cell(struct ctl *c, const PGresult *res, char *buf, size_t len)
{
	char	when[128];

	if (db_bool(res, 0, "is_active"))
		snprintf(buf, len, "yes");
	else if (db_get(res, 0, "evalsched_disabled_reason") == NULL)
		snprintf(buf, len, "no, paused");
	else {
		when_cell(c, res, "evalsched_disabled_at", when, sizeof(when));
		snprintf(buf, len, "no, disabled by evalsched %s: %s", when,
		    db_get(res, 0, "evalsched_disabled_reason"));
	}
}

static void
failures_cell(struct ctl *c, const PGresult *res, char *buf, size_t len)
{
	snprintf(buf, len, "%lld in a row (disabled at %d)",
	    db_int(res, 0, "consecutive_failures"),
	    c->cfg.max_consecutive_failures);
}

static void
add_times(struct ctl *c, struct table *t, const PGresult *res)
{
	char	buf[512];

	schedule_cell(res, buf, sizeof(buf));
	table_add(t, "schedule", buf);
	zone_cell(res, buf, sizeof(buf));
	table_add(t, "time zone", buf);
	active_cell(c, res, buf, sizeof(buf));
	table_add(t, "active", buf);
	when_cell(c, res, "next_run_at", buf, sizeof(buf));
	table_add(t, "next run", buf);
	upcoming_cell(c, res, buf, sizeof(buf));
	table_add(t, "then", buf);
	last_cell(c, res, buf, sizeof(buf));
	table_add(t, "last run", buf);
	table_add(t, "last batch test", db_get(res, 0, "last_run_id"));
	failures_cell(c, res, buf, sizeof(buf));
	table_add(t, "failures", buf);
	snprintf(buf, sizeof(buf), "%lld", db_int(res, 0, "in_flight"));
	table_add(t, "runs in flight", buf);
}

/* When a run ended: a closed run has completed_at, else its trigger. */
static void
ended_cell(struct ctl *c, const PGresult *r, char *buf, size_t len)
{
	const char	*col = db_get(r, 0, "completed_at") != NULL ?
			    "completed_at" : "triggered_at";

	fmt_when(c, db_int(r, 0, col), db_get(r, 0, "timezone"), buf, len);
}

/* "<when>, completed, batch test <id>" */
static void
results_cell(struct ctl *c, const PGresult *r, char *buf, size_t len)
{
	char	when[128], status[64], batch[UUID_LEN + 1];

	if (PQntuples(r) == 0) {
		snprintf(buf, len, "none");
		return;
	}
	ended_cell(c, r, when, sizeof(when));
	run_status_cell(r, 0, status, sizeof(status));
	id_cell(c, db_get(r, 0, "batch_test_run_id"), batch, sizeof(batch));
	snprintf(buf, len, "%s, %s, batch test %s", when, status, batch);
}

/* "<when> (blame: schedule): <error message>" */
static void
failure_cell(struct ctl *c, const PGresult *r, char *buf, size_t len)
{
	const char	*blame = db_get(r, 0, "blame");
	const char	*err = db_get(r, 0, "error_message");
	char		 when[128];

	if (PQntuples(r) == 0) {
		snprintf(buf, len, "none");
		return;
	}
	ended_cell(c, r, when, sizeof(when));
	if (blame != NULL)
		snprintf(buf, len, "%s (blame: %s)", when, blame);
	else
		snprintf(buf, len, "%s", when);
	if (err != NULL) {
		strlcat(buf, ": ", len);
		strlcat(buf, err, len);
	}
}

/* Whether the newest completed run with results was a regression. */
static int
last_regressed(const struct last *l)
{
	return PQntuples(l->completed) > 0 &&
	    db_bool(l->completed, 0, "regression_detected");
}

/* Without results every figure is "-". */
static void
add_last(struct ctl *c, struct table *t, const struct last *l,
    const char *zone)
{
	char	buf[1024];

	results_cell(c, l->results, buf, sizeof(buf));
	table_add(t, "last results", buf);
	run_prompts_cell(l->results, 0, buf, sizeof(buf));
	table_add(t, "prompts", buf);
	run_latency_cell(l->results, 0, buf, sizeof(buf));
	table_add(t, "latency", buf);
	run_quality_cell(l->results, 0, buf, sizeof(buf));
	table_add(t, "quality", buf);
	if (last_regressed(l)) {
		run_regression_line(c, l->completed, 0, buf, sizeof(buf));
		table_add(t, "regression", buf);
	}
	baseline_line(c, &l->base, 0, zone, buf, sizeof(buf));
	table_add(t, "baseline", buf);
	failure_cell(c, l->failure, buf, sizeof(buf));
	table_add(t, "last failure", buf);
}

/*
 * "until <when>, 3 failures of its own in a row ...: <reason>", or
 * "no (over since <when>, ...)" once its time has come.
 */
static void
backoff_cell(struct ctl *c, const PGresult *b, const char *zone, char *buf,
    size_t len)
{
	const char	*why = db_get(b, 0, "reason");
	char		 when[128];
	long long	 n = db_int(b, 0, "failures");

	fmt_when(c, db_int(b, 0, "not_before"), zone, when, sizeof(when));
	snprintf(buf, len, "%s%s, %lld failure%s of its own in a row while "
	    "others reach the application%s%s%s", db_bool(b, 0, "waiting") ?
	    "until " : "no (over since ", when, n, n == 1 ? "" : "s",
	    db_bool(b, 0, "waiting") ? "" : ")", why != NULL ? ": " : "",
	    why != NULL ? why : "");
}

static void
add_what(struct ctl *c, struct table *t, const PGresult *res)
{
	char	buf[128];

	table_add(t, "test suite", db_get(res, 0, "test_suite_id"));
	table_add(t, "model", db_get(res, 0, "model_id"));
	table_add(t, "user", db_get(res, 0, "user_id"));
	table_add(t, "config", db_get(res, 0, "batch_test_config"));
	snprintf(buf, sizeof(buf), "failure %s, regression %s (%s%%)",
	    db_bool(res, 0, "alert_on_failure") ? "yes" : "no",
	    db_bool(res, 0, "alert_on_regression") ? "yes" : "no",
	    db_get(res, 0, "regression_threshold_percent"));
	table_add(t, "alerts", buf);
	fmt_when(c, db_int(res, 0, "created_at"), db_get(res, 0, "timezone"),
	    buf, sizeof(buf));
	table_add(t, "created", buf);
	fmt_when(c, db_int(res, 0, "updated_at"), db_get(res, 0, "timezone"),
	    buf, sizeof(buf));
	table_add(t, "updated", buf);
}

static void
print_page(struct ctl *c, const PGresult *res, const struct last *l)
{
	struct table	*t = table_new_plain(2);
	char		 buf[1024];

	table_add(t, "id", db_get(res, 0, "id"));
	table_add(t, "name", db_get(res, 0, "name"));
	table_add(t, "description", db_get(res, 0, "description"));
	add_times(c, t, res);
	/* Only a schedule the platform has failed alone has the line. */
	if (PQntuples(l->backoff) > 0) {
		backoff_cell(c, l->backoff, db_get(res, 0, "timezone"), buf,
		    sizeof(buf));
		table_add(t, "backed off", buf);
	}
	add_last(c, t, l, db_get(res, 0, "timezone"));
	add_what(c, t, res);
	table_print(t, c->aligned);
	table_free(t);
}

static json_object *
backoff_json(const PGresult *b, const char *zone)
{
	json_object	*o;

	if (PQntuples(b) == 0)
		return NULL;
	o = jnew_object();
	jset(o, "waiting", jnew_bool(db_bool(b, 0, "waiting")));
	jset(o, "until", json_col_time(b, 0, "not_before", zone));
	jset(o, "since", json_col_time(b, 0, "since", zone));
	jset(o, "failures", jnew_int(db_int(b, 0, "failures")));
	jset(o, "reason", json_col_str(b, 0, "reason"));
	return o;
}

/* The run a query found, whole, or null. */
static json_object *
last_json(const PGresult *r)
{
	return PQntuples(r) > 0 ? run_json(r, 0) : NULL;
}

static void
print_json(const PGresult *res, const struct last *l)
{
	json_object	*o = sched_json(res, 0), *a;
	int64_t		 t[UPCOMING];
	char		 err[256];
	int		 n, i;

	a = jnew_array();
	n = upcoming(res, t, err, sizeof(err));
	for (i = 0; i < n; i++)
		jpush(a, json_time(t[i], 0, db_get(res, 0, "timezone")));
	jset(o, "upcoming", a);
	jset(o, "schedule_error", n == -1 ? jnew_string(err) : NULL);
	jset(o, "last_results", last_json(l->results));
	jset(o, "last_failure", last_json(l->failure));
	jset(o, "backoff", backoff_json(l->backoff,
	    db_get(res, 0, "timezone")));
	jset(o, "baseline", baseline_json(&l->base,
	    db_get(res, 0, "timezone")));
	jset(o, "regression", last_regressed(l) ?
	    run_json(l->completed, 0) : NULL);
	json_print(o);
}

static PGresult *
last_query(struct ctl *c, const char *where, const char *id)
{
	return run_select(c, where, 1, (const char *const[]){ id });
}

static int
fetch_last(struct ctl *c, const char *id, struct last *l)
{
	if ((l->results = last_query(c, results_where, id)) == NULL ||
	    (l->failure = last_query(c, failure_where, id)) == NULL ||
	    (l->completed = last_query(c, LATEST_COMPLETED, id)) == NULL ||
	    (l->backoff = db_exec(c, backoff_sql, 1,
	    (const char *const[]){ id })) == NULL)
		return c->dbstatus;
	return baseline_fetch(c, id, &l->base);
}

int
cmd_show(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	struct last	 l = { NULL, NULL, NULL, NULL, { NULL, NULL } };
	int		 status;

	if ((status = sched_operand(c, argc, argv, "show", &res)) != 0)
		return status;
	if ((status = fetch_last(c, db_get(res, 0, "id"), &l)) == 0) {
		if (c->json)
			print_json(res, &l);
		else
			print_page(c, res, &l);
	}
	PQclear(l.results);
	PQclear(l.failure);
	PQclear(l.completed);
	PQclear(l.backoff);
	baseline_free(&l.base);
	PQclear(res);
	return status;
}
