/*
 * status: is evalsched doing its job?  For people and for monitoring:
 * exit 0 ok, 1 degraded, 2 down.
 *
 *	down	 active schedules exist and no supervisor is live;
 *	degraded not down, but a live supervisor's circuit is open (the
 *		 platform fails and its dispatch is paused), the database
 *		 refuses a live supervisor's statements (a privilege its
 *		 role lacks, row-level security, a constraint), a schedule is
 *		 overdue (due for longer than poll_interval with no run in
 *		 flight) or a run is stuck in 'triggered' (its supervisor is
 *		 not live, or it has outlived run_timeout, for longer than
 *		 lease).
 *
 * A run 'running' is a batch test under way, which is normal; one still
 * running after completion_timeout gets a warning, as its supervisor
 * should have closed it, but it does not change the level.  Nor does a
 * schedule backed off by itself (the platform fails it alone): it is
 * listed, and it is not overdue while it waits.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

#define STATUS_OK	0
#define STATUS_DEGRADED	1
#define STATUS_DOWN	2
#define LIST_MAX	"50"

/*
 * Through the schema's evalsched_monitor_ functions (monitor.c), which
 * hold the statements: times as Unix seconds, lists of at most LIST_MAX
 * rows, each with the count of all of them in "total".
 */
static const char supervisors_sql[] =
    "SELECT * FROM public.evalsched_monitor_supervisors()";

/* $1 lease, $2 run_timeout, from the configuration. */
static const char in_flight_sql[] =
    "SELECT * FROM public.evalsched_monitor_in_flight($1, $2)";

/* $1 poll_interval. */
static const char overdue_sql[] =
    "SELECT * FROM public.evalsched_monitor_overdue($1, " LIST_MAX ")";

static const char backoffs_sql[] =
    "SELECT * FROM public.evalsched_monitor_backoffs(" LIST_MAX ")";

/* $1 completion_timeout. */
static const char slow_sql[] =
    "SELECT * FROM public.evalsched_monitor_slow_runs($1, " LIST_MAX ")";

/* Active schedules, batch tests under way, and the last pruning. */
static const char counts_sql[] =
    "SELECT * FROM public.evalsched_monitor_counts()";

struct status {
	PGresult	*sup;
	PGresult	*runs;
	PGresult	*overdue;
	PGresult	*slow_runs;
	PGresult	*backoffs;
	struct history	 history;
	long long	 active;
	long long	 under_way;
	int		 live;
	int		 paused;
	int		 refused;
	int		 stuck;
	long long	 late;
	long long	 slow;
	long long	 backed_off;
	int		 level;
	char		 reason[1024];
};

static int
count_true(const PGresult *res, const char *col)
{
	int	i, n = 0;

	for (i = 0; i < PQntuples(res); i++)
		n += db_bool(res, i, col);
	return n;
}

static int
fetch_counts(struct ctl *c, struct status *st)
{
	PGresult	*res;

	if ((res = monitor_query(c, counts_sql, 0, NULL)) == NULL)
		return c->dbstatus;
	st->active = db_int(res, 0, "active");
	st->under_way = db_int(res, 0, "under_way");
	history_read(c, res, &st->history);
	PQclear(res);
	return 0;
}

static int
fetch(struct ctl *c, struct status *st)
{
	char		 lease[16], timeout[16], poll[16], done[16];
	const char	*p2[2], *p1[1], *pc[1];

	snprintf(lease, sizeof(lease), "%d", c->cfg.lease);
	snprintf(timeout, sizeof(timeout), "%d", c->cfg.run_timeout);
	snprintf(poll, sizeof(poll), "%d", c->cfg.poll_interval);
	snprintf(done, sizeof(done), "%d", c->cfg.completion_timeout);
	p2[0] = lease;
	p2[1] = timeout;
	p1[0] = poll;
	pc[0] = done;
	if ((st->sup = monitor_query(c, supervisors_sql, 0, NULL)) == NULL ||
	    (st->runs = monitor_query(c, in_flight_sql, 2, p2)) == NULL ||
	    (st->overdue = monitor_query(c, overdue_sql, 1, p1)) == NULL ||
	    (st->slow_runs = monitor_query(c, slow_sql, 1, pc)) == NULL ||
	    (st->backoffs = monitor_query(c, backoffs_sql, 0, NULL)) ==
	    NULL || fetch_counts(c, st) != 0)
		return c->dbstatus;
	return 0;
}

/* The total a windowed count(*) put on the first row of a list. */
static long long
total(const PGresult *res)
{
	return PQntuples(res) > 0 ? db_int(res, 0, "total") : 0;
}

static void
plural(char *buf, size_t len, long long n, const char *what)
{
	snprintf(buf, len, "%lld %s%s", n, what, n == 1 ? "" : "s");
}

/* "<when>: <reason>" of an open circuit. */
static void
circuit_since(struct ctl *c, const PGresult *res, int i, char *buf,
    size_t len)
{
	const char	*why = db_get(res, i, "circuit_reason");
	char		 when[128];

	fmt_when(c, db_int(res, i, "circuit_open_since"), NULL, when,
	    sizeof(when));
	snprintf(buf, len, "%s: %s", when, why != NULL ? why :
	    "no reason recorded");
}

/* "open since <when>: <reason>", or "closed". */
static void
circuit_cell(struct ctl *c, const PGresult *res, int i, char *buf,
    size_t len)
{
	char	since[768];

	if (db_get(res, i, "circuit_open_since") == NULL) {
		snprintf(buf, len, "closed");
		return;
	}
	circuit_since(c, res, i, since, sizeof(since));
	snprintf(buf, len, "open since %s", since);
}

/*
 * "supervisor <id> (node <node>): dispatch paused since <when>: <why>",
 * of the first live supervisor whose circuit is open, and how many more.
 */
static void
paused_reason(struct ctl *c, const struct status *st, char *buf,
    size_t len)
{
	const PGresult	*res = st->sup;
	char		 since[768], more[64];
	int		 i;

	for (i = 0; !db_bool(res, i, "paused"); i++)
		;
	circuit_since(c, res, i, since, sizeof(since));
	snprintf(buf, len, "supervisor %s (node %s): dispatch paused since "
	    "%s", db_get(res, i, "id"), db_get(res, i, "node"), since);
	if (st->paused > 1) {
		plural(more, sizeof(more), st->paused - 1, "more supervisor");
		snprintf(buf + strlen(buf), len - strlen(buf), "; %s paused",
		    more);
	}
}

/*
 * "supervisor <id> (node <node>): the database refuses its statements
 * since <when>: <words>", of the first live supervisor refused, and how
 * many more.
 */
static void
refused_reason(struct ctl *c, const struct status *st, char *buf,
    size_t len)
{
	const PGresult	*res = st->sup;
	const char	*why;
	char		 when[128], more[64];
	int		 i;

	for (i = 0; !db_bool(res, i, "refused"); i++)
		;
	why = db_get(res, i, "refusal");
	fmt_when(c, db_int(res, i, "refused_since"), NULL, when, sizeof(when));
	snprintf(buf, len, "supervisor %s (node %s): the database refuses its "
	    "statements since %s: %s", db_get(res, i, "id"), db_get(res, i,
	    "node"), when, why != NULL ? why : "no words recorded");
	if (st->refused > 1) {
		plural(more, sizeof(more), st->refused - 1, "more supervisor");
		snprintf(buf + strlen(buf), len - strlen(buf), "; %s refused",
		    more);
	}
}

/* "1 overdue schedule, 2 stuck runs": only what is wrong. */
static void
late_reason(const struct status *st, char *buf, size_t len)
{
	char	a[64], b[64];

	plural(a, sizeof(a), st->late, "overdue schedule");
	plural(b, sizeof(b), st->stuck, "stuck run");
	if (st->late > 0 && st->stuck > 0)
		snprintf(buf, len, "%s, %s", a, b);
	else
		snprintf(buf, len, "%s", st->late > 0 ? a : b);
}

/*
 * An open circuit first, then what the database refuses: either is
 * often why schedules are late.
 */
static void
degraded_reason(struct ctl *c, const struct status *st, char *buf,
    size_t len)
{
	char	late[160], refused[1024];

	buf[0] = '\0';
	if (st->paused > 0)
		paused_reason(c, st, buf, len);
	if (st->refused > 0) {
		refused_reason(c, st, refused, sizeof(refused));
		if (buf[0] != '\0')
			strlcat(buf, "; ", len);
		strlcat(buf, refused, len);
	}
	if (st->late == 0 && st->stuck == 0)
		return;
	late_reason(st, late, sizeof(late));
	if (buf[0] != '\0')
		strlcat(buf, "; ", len);
	strlcat(buf, late, len);
}

static void
judge(struct ctl *c, struct status *st)
{
	char	a[64];

	st->live = count_true(st->sup, "live");
	st->paused = count_true(st->sup, "paused");
	st->refused = count_true(st->sup, "refused");
	st->stuck = count_true(st->runs, "stuck");
	st->late = total(st->overdue);
	st->slow = total(st->slow_runs);
	st->backed_off = total(st->backoffs);
	if (st->live == 0 && st->active > 0) {
		st->level = STATUS_DOWN;
		plural(a, sizeof(a), st->active, "active schedule");
		snprintf(st->reason, sizeof(st->reason), "no live supervisor "
		    "and %s", a);
	} else if (st->paused > 0 || st->refused > 0 || st->late > 0 ||
	    st->stuck > 0) {
		st->level = STATUS_DEGRADED;
		degraded_reason(c, st, st->reason, sizeof(st->reason));
	} else {
		st->level = STATUS_OK;
		plural(a, sizeof(a), st->live, "live supervisor");
		snprintf(st->reason, sizeof(st->reason), "%s", a);
	}
}

static const char *
level_name(int level)
{
	static const char	names[][9] = { "ok", "degraded", "down" };

	return names[level];
}

static void
print_supervisors(struct ctl *c, const PGresult *res)
{
	struct table	*t;
	char		 pid[16], run[32], beat[128], start[128], circ[1024];
	int		 i;

	t = table_new(7, "NODE", "PID", "STATE", "RUNNING", "HEARTBEAT",
	    "STARTED", "CIRCUIT");
	for (i = 0; i < PQntuples(res); i++) {
		snprintf(pid, sizeof(pid), "%s", db_get(res, i, "pid"));
		snprintf(run, sizeof(run), "%s/%s", db_get(res, i, "running"),
		    db_get(res, i, "max_concurrent"));
		fmt_when(c, db_int(res, i, "heartbeat_at"), NULL, beat,
		    sizeof(beat));
		fmt_when(c, db_int(res, i, "started_at"), NULL, start,
		    sizeof(start));
		circuit_cell(c, res, i, circ, sizeof(circ));
		table_add(t, db_get(res, i, "node"), pid, db_bool(res, i,
		    "live") ? "live" : "expired", run, beat, start, circ);
	}
	table_print(t, c->aligned);
	table_free(t);
}

static void
print_runs(struct ctl *c, const PGresult *res)
{
	struct table	*t;
	char		 id[UUID_LEN + 1], when[128], sup[128];
	int		 i;

	t = table_new(5, "RUN", "SCHEDULE", "TRIGGERED", "SUPERVISOR",
	    "STATE");
	for (i = 0; i < PQntuples(res); i++) {
		id_cell(c, db_get(res, i, "id"), id, sizeof(id));
		fmt_when(c, db_int(res, i, "triggered_at"),
		    db_get(res, i, "timezone"), when, sizeof(when));
		if (db_get(res, i, "node") != NULL)
			snprintf(sup, sizeof(sup), "%s[%s]",
			    db_get(res, i, "node"), db_get(res, i, "pid"));
		else
			snprintf(sup, sizeof(sup), "-");
		table_add(t, id, db_get(res, i, "name"), when, sup,
		    db_bool(res, i, "stuck") ? "stuck" : "in flight");
	}
	table_print(t, c->aligned);
	table_free(t);
}

static void
print_overdue(struct ctl *c, const PGresult *res)
{
	struct table	*t;
	char		 id[UUID_LEN + 1], when[128];
	int		 i;

	t = table_new(3, "ID", "NAME", "DUE");
	for (i = 0; i < PQntuples(res); i++) {
		id_cell(c, db_get(res, i, "id"), id, sizeof(id));
		fmt_when(c, db_int(res, i, "next_run_at"),
		    db_get(res, i, "timezone"), when, sizeof(when));
		table_add(t, id, db_get(res, i, "name"), when);
	}
	table_print(t, c->aligned);
	table_free(t);
}

static void
print_slow(struct ctl *c, const PGresult *res)
{
	struct table	*t;
	char		 id[UUID_LEN + 1], when[128], batch[UUID_LEN + 1];
	int		 i;

	t = table_new(4, "RUN", "SCHEDULE", "STARTED", "BATCH TEST");
	for (i = 0; i < PQntuples(res); i++) {
		id_cell(c, db_get(res, i, "id"), id, sizeof(id));
		fmt_when(c, db_int(res, i, "started_at"),
		    db_get(res, i, "timezone"), when, sizeof(when));
		id_cell(c, db_get(res, i, "batch_test_run_id"), batch,
		    sizeof(batch));
		table_add(t, id, db_get(res, i, "name"), when, batch);
	}
	table_print(t, c->aligned);
	table_free(t);
}

static void
print_backoffs(struct ctl *c, const PGresult *res)
{
	struct table	*t;
	char		 id[UUID_LEN + 1], when[128], n[32];
	int		 i;

	t = table_new(5, "ID", "NAME", "UNTIL", "FAILURES", "REASON");
	for (i = 0; i < PQntuples(res); i++) {
		id_cell(c, db_get(res, i, "id"), id, sizeof(id));
		fmt_when(c, db_int(res, i, "not_before"),
		    db_get(res, i, "timezone"), when, sizeof(when));
		snprintf(n, sizeof(n), "%lld", db_int(res, i, "failures"));
		table_add(t, id, db_get(res, i, "name"), when, n,
		    db_get(res, i, "reason") != NULL ? db_get(res, i,
		    "reason") : "-");
	}
	table_print(t, c->aligned);
	table_free(t);
}

/* Batch tests under way are normal; only those past the timeout warn. */
static void
print_under_way(struct ctl *c, const struct status *st)
{
	char	n[64], limit[32];

	plural(n, sizeof(n), st->under_way, "batch test");
	putchar('\n');
	out_line(stdout, "under way: %s", n);
	if (st->slow == 0)
		return;
	plural(n, sizeof(n), st->slow, "run");
	fmt_duration(c->cfg.completion_timeout, limit, sizeof(limit));
	out_line(stdout, "warning: %s still running after completion_timeout "
	    "(%s); a supervisor closes %s as failed", n, limit,
	    st->slow == 1 ? "it" : "them");
	print_slow(c, st->slow_runs);
}

/* A heading, then the table when there is something to show. */
static void
section(struct ctl *c, const char *title, const char *summary,
    const PGresult *res, void (*print)(struct ctl *, const PGresult *))
{
	putchar('\n');
	out_line(stdout, "%s: %s", title, summary);
	if (PQntuples(res) > 0)
		print(c, res);
}

static void
print_text(struct ctl *c, const struct status *st)
{
	char	buf[64], line[512];

	out_line(stdout, "status: %s: %s", level_name(st->level), st->reason);
	snprintf(buf, sizeof(buf), "%d live of %d", st->live,
	    PQntuples(st->sup));
	section(c, "supervisors", buf, st->sup, print_supervisors);
	plural(buf, sizeof(buf), PQntuples(st->runs), "run");
	section(c, "in flight", buf, st->runs, print_runs);
	print_under_way(c, st);
	plural(buf, sizeof(buf), st->late, "schedule");
	section(c, "overdue", buf, st->overdue, print_overdue);
	/* The schedule's own fault: shown when there is one, never a level. */
	if (st->backed_off > 0) {
		plural(buf, sizeof(buf), st->backed_off, "schedule");
		section(c, "backed off alone", buf, st->backoffs,
		    print_backoffs);
	}
	history_line(c, &st->history, line, sizeof(line));
	putchar('\n');
	out_line(stdout, "history: %s", line);
}

static json_object *
supervisor_json(const PGresult *res, int i)
{
	json_object	*o = jnew_object();

	jset(o, "id", json_str(db_get(res, i, "id")));
	jset(o, "node", json_str(db_get(res, i, "node")));
	jset(o, "pid", jnew_int(db_int(res, i, "pid")));
	jset(o, "version", json_str(db_get(res, i, "version")));
	jset(o, "live", jnew_bool(db_bool(res, i, "live")));
	jset(o, "running", jnew_int(db_int(res, i, "running")));
	jset(o, "max_concurrent", jnew_int(db_int(res, i, "max_concurrent")));
	jset(o, "lease_seconds", jnew_int(db_int(res, i, "lease_seconds")));
	jset(o, "started_at", json_time(db_int(res, i,
	    "started_at"), 0, "UTC"));
	jset(o, "heartbeat_at", json_time(db_int(res, i,
	    "heartbeat_at"), 0, "UTC"));
	jset(o, "circuit_open", jnew_bool(
	    db_get(res, i, "circuit_open_since") != NULL));
	jset(o, "circuit_open_since", json_time(db_int(res,
	    i, "circuit_open_since"), db_get(res, i, "circuit_open_since") ==
	    NULL, "UTC"));
	jset(o, "circuit_reason", json_str(db_get(res, i, "circuit_reason")));
	jset(o, "refused", jnew_bool(db_get(res, i, "refused_since") != NULL));
	jset(o, "refused_since", json_time(db_int(res, i,
	    "refused_since"), db_get(res, i, "refused_since") == NULL, "UTC"));
	jset(o, "refusal", json_str(db_get(res, i, "refusal")));
	return o;
}

/* A run: its id, its schedule, and one time of it in the schedule's zone. */
static json_object *
run_head_json(const PGresult *res, int i, const char *when)
{
	json_object	*o = jnew_object();

	jset(o, "id", json_str(db_get(res, i, "id")));
	jset(o, "schedule", json_str(db_get(res, i, "name")));
	jset(o, when, json_time(db_int(res, i, when), 0,
	    db_get(res, i, "timezone")));
	return o;
}

static json_object *
slow_json(const PGresult *res, int i)
{
	json_object	*o = run_head_json(res, i, "started_at");

	jset(o, "batch_test_run_id", json_str(db_get(res, i,
	    "batch_test_run_id")));
	return o;
}

static json_object *
in_flight_json(const PGresult *res, int i)
{
	json_object	*o = run_head_json(res, i, "triggered_at");

	jset(o, "supervisor_node", json_str(db_get(res, i, "node")));
	jset(o, "stuck", jnew_bool(db_bool(res, i, "stuck")));
	return o;
}

static json_object *
overdue_json(const PGresult *res, int i)
{
	json_object	*o = jnew_object();

	jset(o, "id", json_str(db_get(res, i, "id")));
	jset(o, "name", json_str(db_get(res, i, "name")));
	jset(o, "next_run_at", json_time(db_int(res, i,
	    "next_run_at"), 0, db_get(res, i, "timezone")));
	return o;
}

static json_object *
backoff_json(const PGresult *res, int i)
{
	json_object	*o = jnew_object();

	jset(o, "id", json_str(db_get(res, i, "id")));
	jset(o, "name", json_str(db_get(res, i, "name")));
	jset(o, "until", json_time(db_int(res, i,
	    "not_before"), 0, db_get(res, i, "timezone")));
	jset(o, "failures", jnew_int(db_int(res, i, "failures")));
	jset(o, "reason", json_str(db_get(res, i, "reason")));
	return o;
}

static void
print_json(struct ctl *c, const struct status *st)
{
	json_object	*o = jnew_object();

	jset(o, "status", json_str(level_name(st->level)));
	jset(o, "exit", jnew_int(st->level));
	jset(o, "reason", json_str(st->reason));
	jset(o, "active_schedules", jnew_int(st->active));
	jset(o, "live_supervisors", jnew_int(st->live));
	jset(o, "supervisors", json_rows(st->sup, supervisor_json));
	jset(o, "in_flight", json_rows(st->runs, in_flight_json));
	jset(o, "stuck_runs", jnew_int(st->stuck));
	jset(o, "overdue_schedules", jnew_int(st->late));
	jset(o, "overdue", json_rows(st->overdue, overdue_json));
	jset(o, "backed_off_schedules", jnew_int(st->backed_off));
	jset(o, "backed_off", json_rows(st->backoffs, backoff_json));
	jset(o, "paused_supervisors", jnew_int(st->paused));
	jset(o, "refused_supervisors", jnew_int(st->refused));
	jset(o, "under_way", jnew_int(st->under_way));
	jset(o, "completion_timeout", jnew_int(c->cfg.completion_timeout));
	jset(o, "late_completions", jnew_int(st->slow));
	jset(o, "late_completion_runs", json_rows(st->slow_runs, slow_json));
	jset(o, "history", history_json(c, &st->history));
	json_print(o);
}

int
cmd_status(struct ctl *c, int argc, char **argv)
{
	struct status	st;
	int		status;

	memset(&st, 0, sizeof(st));
	if ((status = ctl_opts(c, argc, argv, "status", "", 0)) != 0 ||
	    (status = monitor_connect(c)) != 0)
		return status;
	if ((status = fetch(c, &st)) == 0) {
		judge(c, &st);
		if (c->json)
			print_json(c, &st);
		else
			print_text(c, &st);
		status = st.level;
	}
	PQclear(st.sup);
	PQclear(st.runs);
	PQclear(st.overdue);
	PQclear(st.slow_runs);
	PQclear(st.backoffs);
	return status;
}
