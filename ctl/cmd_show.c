/*
 * show ID|NAME: one schedule, every field, and its next fire times as the
 * schedule engine computes them.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "schedule.h"

#define UPCOMING	3

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
	table_add(t, "active", db_bool(res, 0, "is_active") ? "yes" : "no");
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
print_page(struct ctl *c, const PGresult *res)
{
	struct table	*t = table_new_plain(2);

	table_add(t, "id", db_get(res, 0, "id"));
	table_add(t, "name", db_get(res, 0, "name"));
	table_add(t, "description", db_get(res, 0, "description"));
	add_times(c, t, res);
	add_what(c, t, res);
	table_print(t, c->aligned);
	table_free(t);
}

static void
print_json(const PGresult *res)
{
	json_object	*o = sched_json(res, 0), *a;
	int64_t		 t[UPCOMING];
	char		 err[256];
	int		 n, i;

	a = json_object_new_array();
	n = upcoming(res, t, err, sizeof(err));
	for (i = 0; i < n; i++)
		json_object_array_add(a, json_time(t[i], 0,
		    db_get(res, 0, "timezone")));
	json_object_object_add(o, "upcoming", a);
	json_object_object_add(o, "schedule_error", n == -1 ?
	    json_object_new_string(err) : NULL);
	json_print(o);
}

int
cmd_show(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	int		 status;

	if ((status = sched_operand(c, argc, argv, "show", &res)) != 0)
		return status;
	if (c->json)
		print_json(res);
	else
		print_page(c, res);
	PQclear(res);
	return 0;
}
