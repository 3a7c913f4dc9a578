/*
 * baseline [--clear] ID|NAME [RUN|latest]: the run a schedule's runs are
 * compared with for regression detection.  With RUN, pin it: it must be
 * a completed run of this schedule with results.  With --clear, unpin:
 * the latest good run is the baseline again.  Alone, say which run the
 * next one will be compared with, and why that one.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

#define BASELINE_SYNOPSIS	"[--clear] ID|NAME [RUN|latest]"
#define ONLY_GOOD	"only a completed run with results can be a baseline"

/* What the command did, for the report. */
struct outcome {
	const char	*action;	/* "show", "pin", "clear" */
	int		 changed;
	char		 previous[UUID_LEN + 1];	/* "" for none */
};

static const char by_id_where[] = "WHERE r.id = $1::uuid";
static const char by_prefix_where[] =
    "WHERE r.scheduled_evaluation_id = $1::uuid "
    "AND r.id::text LIKE lower($2) || '%' ORDER BY r.triggered_at DESC, r.id";

/*
 * The pin, in one statement so that the run is checked where it is
 * pinned; pinning the run already pinned changes nothing, not even when.
 */
static const char pin_sql[] =
    "WITH old AS (SELECT run_id FROM public.evalsched_baselines "
    "  WHERE scheduled_evaluation_id = $1::uuid), "
    "ok AS (SELECT r.id FROM public.scheduled_evaluation_runs r "
    "  WHERE r.id = $2::uuid AND r.scheduled_evaluation_id = $1::uuid "
    "    AND " RUN_WITH_RESULTS("r") " FOR SHARE), "
    "ins AS (INSERT INTO public.evalsched_baselines "
    "    (scheduled_evaluation_id, run_id) "
    "  SELECT $1::uuid, id FROM ok "
    "  ON CONFLICT (scheduled_evaluation_id) DO UPDATE "
    "    SET run_id = EXCLUDED.run_id, pinned_at = now() "
    "    WHERE evalsched_baselines.run_id IS DISTINCT FROM EXCLUDED.run_id "
    "  RETURNING run_id) "
    "SELECT (SELECT run_id FROM old) AS old_run_id, "
    "EXISTS (SELECT 1 FROM ok) AS valid, EXISTS (SELECT 1 FROM ins) AS changed";

static const char clear_sql[] =
    "DELETE FROM public.evalsched_baselines "
    "WHERE scheduled_evaluation_id = $1::uuid "
    "RETURNING run_id";

static int
take_clear(struct ctl *c, int ch, const char *arg, void *data)
{
	(void)c;
	(void)ch;
	(void)arg;
	*(int *)data = 1;
	return 0;
}

static int
parse_opts(struct ctl *c, int argc, char **argv, int *clear)
{
	static const struct option longopts[] = {
		{ "clear", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	const struct ctl_cmd	cmd = { "baseline", BASELINE_SYNOPSIS, NULL,
				    longopts, take_clear, clear };
	int			status;

	if ((status = ctl_getopt(c, argc, argv, &cmd, 1, 2)) != 0)
		return status;
	if (*clear && argc - optind != 1)
		return ctl_usage("baseline", BASELINE_SYNOPSIS);
	return 0;
}

static const char *
name_of(const PGresult *sched)
{
	return db_get(sched, 0, "name");
}

static const char *
zone_of(const PGresult *sched)
{
	return db_get(sched, 0, "timezone");
}

static void
print_json(const PGresult *sched, const struct outcome *o,
    const struct baseline *b)
{
	json_object	*j = jnew_object();

	jset(j, "scheduled_evaluation_id", json_col_str(sched, 0, "id"));
	jset(j, "name", json_col_str(sched, 0, "name"));
	jset(j, "action", json_str(o->action));
	jset(j, "changed", jnew_bool(o->changed));
	jset(j, "previous_run_id", o->previous[0] != '\0' ?
	    json_str(o->previous) : NULL);
	jset(j, "baseline", baseline_json(b, zone_of(sched)));
	json_print(j);
}

static void
print_baseline(struct ctl *c, const PGresult *sched, const struct baseline *b)
{
	char	line[1024];

	baseline_line(c, b, 1, zone_of(sched), line, sizeof(line));
	out_line(stdout, "baseline of '%s': %s", name_of(sched), line);
}

static void
print_pinned(struct ctl *c, const PGresult *sched, const struct outcome *o,
    const struct baseline *b)
{
	char	fig[512];

	baseline_figures(c, b->run, fig, sizeof(fig));
	if (!o->changed)
		out_line(stdout, "run %s is already the pinned baseline of "
		    "'%s': %s",
		    db_get(b->run, 0, "id"), name_of(sched), fig);
	else if (o->previous[0] != '\0')
		out_line(stdout, "pinned run %s as the baseline of '%s', "
		    "replacing run %s: %s", db_get(b->run, 0, "id"), name_of(sched),
		    o->previous, fig);
	else
		out_line(stdout, "pinned run %s as the baseline of '%s': %s",
		    db_get(b->run, 0, "id"), name_of(sched), fig);
}

static void
print_cleared(struct ctl *c, const PGresult *sched, const struct outcome *o,
    const struct baseline *b)
{
	if (o->changed)
		out_line(stdout, "unpinned run %s as the baseline of '%s'",
		    o->previous, name_of(sched));
	else
		out_line(stdout, "'%s' had no pinned baseline: nothing to "
		    "unpin",
		    name_of(sched));
	print_baseline(c, sched, b);
}

/* The baseline as it now is, after what the command did. */
static int
report(struct ctl *c, const PGresult *sched, const struct outcome *o)
{
	struct baseline	b;
	int		status;

	if ((status = baseline_fetch(c, db_get(sched, 0, "id"), &b)) != 0) {
		baseline_free(&b);
		return status;
	}
	if (c->json)
		print_json(sched, o, &b);
	else if (strcmp(o->action, "pin") == 0 && PQntuples(b.run) > 0)
		print_pinned(c, sched, o, &b);
	else if (strcmp(o->action, "clear") == 0)
		print_cleared(c, sched, o, &b);
	else
		print_baseline(c, sched, &b);
	baseline_free(&b);
	return 0;
}

static int
run_query(struct ctl *c, const char *where, int n, const char *const *params,
    PGresult **run)
{
	if ((*run = run_select(c, where, n, params)) == NULL)
		return c->dbstatus;
	return 0;
}

static int	refuse(PGresult *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));

/* Says why not, releases run, and returns EX_DATAERR. */
static int
refuse(PGresult *run, const char *fmt, ...)
{
	va_list	ap;

	fputs("evalschedctl: baseline: ", stderr);
	va_start(ap, fmt);
	out_vline(stderr, fmt, ap);
	va_end(ap);
	PQclear(run);
	return EX_DATAERR;
}

static int
ambiguous(PGresult *run, const char *arg)
{
	int	i;

	out_line(stderr, "evalschedctl: baseline: run id prefix '%s' is "
	    "ambiguous; it matches:", arg);
	for (i = 0; i < PQntuples(run); i++)
		out_line(stderr, "  %s  %s", db_get(run, i, "id"),
		    db_get(run, i, "status"));
	PQclear(run);
	return EX_DATAERR;
}

/*
 * The run RUN names: "latest", a whole id, or a unique prefix of the id
 * of one of the schedule's runs (runs prints those on a terminal).
 */
static int
find_run(struct ctl *c, const PGresult *sched, const char *arg,
    PGresult **run)
{
	const char	*params[] = { db_get(sched, 0, "id"), arg };
	int		 status;

	if (strcmp(arg, "latest") == 0) {
		if ((status = run_query(c, LATEST_COMPLETED, 1, params, run)) != 0)
			return status;
		if (PQntuples(*run) == 0)
			return refuse(*run, "'%s' has no completed run with "
			    "results", name_of(sched));
		return 0;
	}
	if (job_is_uuid(arg))
		status = run_query(c, by_id_where, 1, params + 1, run);
	else if (ctl_is_id_prefix(arg))
		status = run_query(c, by_prefix_where, 2, params, run);
	else
		return refuse(NULL, "'%s' is not a run id, a prefix of one, "
		    "or 'latest'", arg);
	if (status != 0)
		return status;
	if (PQntuples(*run) > 1)
		return ambiguous(*run, arg);
	if (PQntuples(*run) == 0)
		return refuse(*run, "no run '%s' of '%s'", arg, name_of(sched));
	return 0;
}

static int
foreign_run(struct ctl *c, const PGresult *sched, PGresult *run)
{
	PGresult	*other;
	char		 what[256];
	int		 status;

	if ((other = sched_fetch(c, db_get(run, 0,
	    "scheduled_evaluation_id"))) == NULL) {
		PQclear(run);
		return c->dbstatus;
	}
	snprintf(what, sizeof(what), "'%s'", PQntuples(other) > 0 ?
	    name_of(other) : "another schedule");
	PQclear(other);
	status = refuse(run, "run %s belongs to schedule %s", db_get(run, 0,
	    "id"), what);
	out_line(stderr, "evalschedctl: baseline: a baseline must be a run "
	    "of '%s'", name_of(sched));
	return status;
}

/* 0 if the run may be pinned; else why not, and EX_DATAERR. */
static int
check_run(struct ctl *c, const PGresult *sched, PGresult *run)
{
	const char	*st = db_get(run, 0, "status");

	if (strcmp(db_get(run, 0, "scheduled_evaluation_id"),
	    db_get(sched, 0, "id")) != 0)
		return foreign_run(c, sched, run);
	if (strcmp(st, "completed") != 0)
		return refuse(run, "run %s has status '%s': " ONLY_GOOD,
		    db_get(run, 0, "id"), st);
	if (db_int(run, 0, "total_prompts") <= 0)
		return refuse(run, "run %s completed without results: "
		    ONLY_GOOD, db_get(run, 0, "id"));
	return 0;
}

static int
pin(struct ctl *c, const PGresult *sched, const char *arg)
{
	PGresult	*run = NULL, *res;
	const char	*params[2];
	struct outcome	 o = { "pin", 0, "" };
	int		 status;

	if ((status = find_run(c, sched, arg, &run)) != 0 ||
	    (status = check_run(c, sched, run)) != 0)
		return status;
	params[0] = db_get(sched, 0, "id");
	params[1] = db_get(run, 0, "id");
	if ((res = db_exec(c, pin_sql, 2, params)) == NULL) {
		PQclear(run);
		return c->dbstatus;
	}
	if (!db_bool(res, 0, "valid")) {
		PQclear(res);
		return refuse(run, "run %s is no longer a completed run with "
		    "results of '%s'", params[1], name_of(sched));
	}
	o.changed = db_bool(res, 0, "changed");
	if (o.changed && db_get(res, 0, "old_run_id") != NULL)
		strlcpy(o.previous, db_get(res, 0, "old_run_id"),
		    sizeof(o.previous));
	PQclear(res);
	PQclear(run);
	return report(c, sched, &o);
}

static int
clear(struct ctl *c, const PGresult *sched)
{
	PGresult	*res;
	const char	*params[] = { db_get(sched, 0, "id") };
	struct outcome	 o = { "clear", 0, "" };

	if ((res = db_exec(c, clear_sql, 1, params)) == NULL)
		return c->dbstatus;
	if ((o.changed = PQntuples(res) > 0))
		strlcpy(o.previous, db_get(res, 0, "run_id"),
		    sizeof(o.previous));
	PQclear(res);
	return report(c, sched, &o);
}

static int
fetch_schedule(struct ctl *c, const char *arg, PGresult **sched)
{
	char	id[UUID_LEN + 1];
	int	status;

	if ((status = sched_resolve(c, arg, id, sizeof(id))) != 0)
		return status;
	if ((*sched = sched_fetch(c, id)) == NULL)
		return c->dbstatus;
	if (PQntuples(*sched) == 1)
		return 0;
	PQclear(*sched);
	out_line(stderr, "evalschedctl: no schedule '%s'", arg);
	return EX_DATAERR;
}

int
cmd_baseline(struct ctl *c, int argc, char **argv)
{
	PGresult	*sched;
	struct outcome	 shown = { "show", 0, "" };
	int		 cleared = 0, status;

	if ((status = parse_opts(c, argc, argv, &cleared)) != 0 ||
	    (status = ctl_connect(c)) != 0 ||
	    (status = fetch_schedule(c, argv[optind], &sched)) != 0)
		return status;
	if (cleared)
		status = clear(c, sched);
	else if (optind + 1 < argc)
		status = pin(c, sched, argv[optind + 1]);
	else
		status = report(c, sched, &shown);
	PQclear(sched);
	return status;
}
