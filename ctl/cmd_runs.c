/*
 * runs [-n count] ID|NAME: a schedule's runs, newest first, with how long
 * each took, what its batch test found and how that compares with its
 * baseline, and why it failed and whose fault that was.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "text.h"

#define RUNS_SYNOPSIS	"[-n count] ID|NAME"
#define RUNS_DEFAULT	20
#define RUNS_MAX	10000
#define ERROR_WIDTH	60

static const char runs_where[] =
    "WHERE r.scheduled_evaluation_id = $1::uuid "
    "ORDER BY r.triggered_at DESC, r.id LIMIT $2::integer";

/* One row of the table, as text. */
struct cells {
	char	id[UUID_LEN + 1];
	char	when[128];
	char	status[64];
	char	dur[48];
	char	batch[UUID_LEN + 1];
	char	prompts[96];
	char	latency[32];
	char	quality[32];
	char	vs[128];
	char	err[1024];
};

static int
take_count(struct ctl *c, int ch, const char *arg, void *data)
{
	(void)c;
	(void)ch;
	return ctl_count("runs", "-n", arg, RUNS_MAX, data);
}

static int
parse_opts(struct ctl *c, int argc, char **argv, long *count)
{
	const struct ctl_cmd	cmd = { "runs", RUNS_SYNOPSIS, "n:", NULL,
				    take_count, count };

	return ctl_getopt(c, argc, argv, &cmd, 1, 1);
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

/*
 * On a terminal long ids and errors are cut, between two characters; a
 * pipe gets them whole.
 */
static void
cut_cell(const struct ctl *c, const char *s, size_t width, char *buf,
    size_t len)
{
	if (s == NULL)
		snprintf(buf, len, "-");
	else if (!c->aligned || strlen(s) <= width)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "%.*s...", (int)text_fit(s, width - 3), s);
}

static void
fill_cells(struct ctl *c, const PGresult *res, int row, struct cells *x)
{
	id_cell(c, db_get(res, row, "id"), x->id, sizeof(x->id));
	fmt_when(c, db_int(res, row, "triggered_at"),
	    db_get(res, row, "timezone"), x->when, sizeof(x->when));
	run_status_cell(res, row, x->status, sizeof(x->status));
	duration_cell(res, row, x->dur, sizeof(x->dur));
	id_cell(c, db_get(res, row, "batch_test_run_id"), x->batch,
	    sizeof(x->batch));
	run_prompts_cell(res, row, x->prompts, sizeof(x->prompts));
	run_latency_cell(res, row, x->latency, sizeof(x->latency));
	run_quality_cell(res, row, x->quality, sizeof(x->quality));
	run_vs_baseline_cell(res, row, x->vs, sizeof(x->vs));
	cut_cell(c, db_get(res, row, "error_message"), ERROR_WIDTH, x->err,
	    sizeof(x->err));
}

static void
print_table(struct ctl *c, const PGresult *res)
{
	struct table	*t;
	struct cells	 x;
	int		 i;

	t = table_new(11, "RUN", "TRIGGERED", "STATUS", "DURATION",
	    "BATCH TEST", "PROMPTS", "LATENCY", "QUALITY", "VS BASELINE",
	    "BLAME", "ERROR");
	for (i = 0; i < PQntuples(res); i++) {
		fill_cells(c, res, i, &x);
		table_add(t, x.id, x.when, x.status, x.dur, x.batch, x.prompts,
		    x.latency, x.quality, x.vs, db_get(res, i, "blame"), x.err);
	}
	table_print(t, c->aligned);
	table_free(t);
}

static PGresult *
runs_query(struct ctl *c, const char *const *params)
{
	return run_select(c, runs_where, 2, params);
}

int
cmd_runs(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	const char	*params[2];
	char		 id[UUID_LEN + 1], limit[16];
	long		 count = RUNS_DEFAULT;
	int		 status;

	if ((status = parse_opts(c, argc, argv, &count)) != 0)
		return status;
	if ((status = ctl_connect(c)) != 0)
		return status;
	if ((status = sched_resolve(c, argv[optind], id, sizeof(id))) != 0)
		return status;
	snprintf(limit, sizeof(limit), "%ld", count);
	params[0] = id;
	params[1] = limit;
	if ((res = runs_query(c, params)) == NULL)
		return c->dbstatus;
	if (c->json)
		json_print(json_rows(res, run_json));
	else
		print_table(c, res);
	PQclear(res);
	return 0;
}
