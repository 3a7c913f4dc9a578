/*
 * runs [-n count] ID|NAME: a schedule's runs, newest first, with how long
 * each took and why it failed.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

#define RUNS_SYNOPSIS	"[-n count] ID|NAME"
#define RUNS_DEFAULT	20
#define RUNS_MAX	10000
#define ERROR_WIDTH	60

#define R_EPOCH(col)	"floor(extract(epoch FROM r." col "))::bigint AS " col

/* A run still going is measured to now; a closed one to its end. */
static const char runs_sql[] =
    "SELECT r.id, r.status, r.batch_test_run_id, r.error_message, "
    "r.error_details::text AS error_details, r.total_prompts, "
    "r.successful_prompts, r.failed_prompts, s.timezone, "
    R_EPOCH("slot_at") ", " R_EPOCH("triggered_at") ", "
    R_EPOCH("started_at") ", " R_EPOCH("completed_at") ", "
    "floor(extract(epoch FROM CASE "
    "  WHEN r.completed_at IS NOT NULL THEN r.completed_at - r.triggered_at "
    "  WHEN r.status IN ('triggered', 'running') "
    "    THEN now() - r.triggered_at END))::bigint AS duration, "
    "r.completed_at IS NULL AND r.status IN ('triggered', 'running') "
    "  AS ongoing "
    "FROM scheduled_evaluation_runs r "
    "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
    "WHERE r.scheduled_evaluation_id = $1::uuid "
    "ORDER BY r.triggered_at DESC, r.id LIMIT $2::integer";

static int
parse_count(const char *s, int *n)
{
	char	*end;
	long	 v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > RUNS_MAX) {
		fprintf(stderr, "evalschedctl: runs: -n: '%s' is not a count "
		    "from 1 to %d\n", s, RUNS_MAX);
		return EX_USAGE;
	}
	*n = (int)v;
	return 0;
}

static int
parse_opts(struct ctl *c, int argc, char **argv, int *count)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch, status;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "+n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if ((status = parse_count(optarg, count)) != 0)
				return status;
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return ctl_usage("runs", RUNS_SYNOPSIS);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("runs", RUNS_SYNOPSIS);
	return 0;
}

static void
duration_cell(const PGresult *res, int row, char *buf, size_t len)
{
	char	d[32];

	if (db_get(res, row, "duration") == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	fmt_duration(db_int(res, row, "duration"), d, sizeof(d));
	snprintf(buf, len, "%s%s", d, db_bool(res, row, "ongoing") ?
	    " so far" : "");
}

/* On a terminal long ids and errors are cut; a pipe gets them whole. */
static void
cut_cell(const struct ctl *c, const char *s, size_t width, char *buf,
    size_t len)
{
	if (s == NULL)
		snprintf(buf, len, "-");
	else if (!c->aligned || strlen(s) <= width)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "%.*s...", (int)width - 3, s);
}

static void
add_row(struct ctl *c, struct table *t, const PGresult *res, int row)
{
	char	id[UUID_LEN + 1], when[128], dur[48], batch[UUID_LEN + 1];
	char	err[1024];

	id_cell(c, db_get(res, row, "id"), id, sizeof(id));
	fmt_when(c, db_int(res, row, "triggered_at"),
	    db_get(res, row, "timezone"), when, sizeof(when));
	duration_cell(res, row, dur, sizeof(dur));
	id_cell(c, db_get(res, row, "batch_test_run_id"), batch,
	    sizeof(batch));
	cut_cell(c, db_get(res, row, "error_message"), ERROR_WIDTH, err,
	    sizeof(err));
	table_add(t, id, when, db_get(res, row, "status"), dur, batch, err);
}

static void
print_table(struct ctl *c, const PGresult *res)
{
	struct table	*t;
	int		 i;

	t = table_new(6, "RUN", "TRIGGERED", "STATUS", "DURATION",
	    "BATCH TEST", "ERROR");
	for (i = 0; i < PQntuples(res); i++)
		add_row(c, t, res, i);
	table_print(t, c->aligned);
	table_free(t);
}

static json_object *
col_time(const PGresult *res, int row, const char *col)
{
	return json_time(db_int(res, row, col), db_get(res, row, col) == NULL,
	    db_get(res, row, "timezone"));
}

static json_object *
col_int(const PGresult *res, int row, const char *col)
{
	if (db_get(res, row, col) == NULL)
		return NULL;
	return json_object_new_int64(db_int(res, row, col));
}

static json_object *
run_json(const PGresult *res, int row)
{
	json_object	*o = json_object_new_object();
	const char	*details = db_get(res, row, "error_details");

	json_object_object_add(o, "id", json_str(db_get(res, row, "id")));
	json_object_object_add(o, "status", json_str(db_get(res, row,
	    "status")));
	json_object_object_add(o, "slot_at", col_time(res, row, "slot_at"));
	json_object_object_add(o, "triggered_at", col_time(res, row,
	    "triggered_at"));
	json_object_object_add(o, "started_at", col_time(res, row,
	    "started_at"));
	json_object_object_add(o, "completed_at", col_time(res, row,
	    "completed_at"));
	json_object_object_add(o, "duration_seconds", col_int(res, row,
	    "duration"));
	json_object_object_add(o, "ongoing", json_object_new_boolean(
	    db_bool(res, row, "ongoing")));
	json_object_object_add(o, "batch_test_run_id", json_str(db_get(res,
	    row, "batch_test_run_id")));
	json_object_object_add(o, "error_message", json_str(db_get(res, row,
	    "error_message")));
	json_object_object_add(o, "error_details", details != NULL ?
	    json_tokener_parse(details) : NULL);
	json_object_object_add(o, "total_prompts", col_int(res, row,
	    "total_prompts"));
	json_object_object_add(o, "successful_prompts", col_int(res, row,
	    "successful_prompts"));
	json_object_object_add(o, "failed_prompts", col_int(res, row,
	    "failed_prompts"));
	return o;
}

int
cmd_runs(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	const char	*params[2];
	char		 id[UUID_LEN + 1], limit[16];
	int		 count = RUNS_DEFAULT, status;

	if ((status = parse_opts(c, argc, argv, &count)) != 0)
		return status;
	if ((status = ctl_connect(c)) != 0)
		return status;
	if ((status = sched_resolve(c, argv[optind], id, sizeof(id))) != 0)
		return status;
	snprintf(limit, sizeof(limit), "%d", count);
	params[0] = id;
	params[1] = limit;
	if ((res = db_query(c, runs_sql, 2, params)) == NULL)
		return c->dbstatus;
	if (c->json)
		json_print(json_rows(res, run_json));
	else
		print_table(c, res);
	PQclear(res);
	return 0;
}
