/*
 * A run row as the commands read it (runs, show), its cells and its JSON
 * shape.  Results are printed as the application prints them, so that
 * an operator and a user looking at the same run read the same figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define FIGURE_MAX	1e15	/* larger is no figure; keeps the casts in range */

#define R_EPOCH(col)	"floor(extract(epoch FROM r." col "))::bigint AS " col

/*
 * A run still going is measured to now; a closed one to its end; which
 * has results, RUN_HAS_RESULTS says.  Only a failure is blamed.
 */
const char RUN_SELECT[] =
    "SELECT r.id, r.scheduled_evaluation_id, r.status, r.batch_test_run_id, "
    "r.error_message, r.error_details::text AS error_details, "
    "CASE WHEN r.status = 'failed' THEN r.error_details->>'blame' END "
    "  AS blame, "
    "r.total_prompts, r.successful_prompts, r.failed_prompts, "
    "r.avg_latency_ms::text AS avg_latency_ms, "
    "r.avg_quality_score::text AS avg_quality_score, "
    "r.regression_detected, r.regression_details::text AS regression_details, "
    "r.baseline_run_id, r.supervisor_id, s.timezone, "
    R_EPOCH("slot_at") ", " R_EPOCH("triggered_at") ", "
    R_EPOCH("started_at") ", " R_EPOCH("completed_at") ", "
    R_EPOCH("batch_ended_at") ", " R_EPOCH("created_at") ", "
    "floor(extract(epoch FROM CASE "
    "  WHEN r.completed_at IS NOT NULL THEN r.completed_at - r.triggered_at "
    "  WHEN r.status IN ('triggered', 'running') "
    "    THEN now() - r.triggered_at END))::bigint AS duration, "
    "r.completed_at IS NULL AND r.status IN ('triggered', 'running') "
    "  AS ongoing, "
    "r.status = 'running' AND r.batch_test_run_id IS NULL AS unresolved, "
    "r.batch_name, "
    RUN_HAS_RESULTS("r") " AS has_results "
    "FROM public.scheduled_evaluation_runs r "
    "JOIN public.scheduled_evaluations s ON s.id = r.scheduled_evaluation_id ";

/* Runs, RUN_SELECT's columns, chosen by a WHERE (and ORDER) clause. */
PGresult *
run_select(struct ctl *c, const char *where, int n, const char *const *params)
{
	char	sql[4096];

	snprintf(sql, sizeof(sql), "%s%s", RUN_SELECT, where);
	return db_exec(c, sql, n, params);
}

/*
 * A numeric column as a double, as the application's JSON client has
 * it; NULL, NaN and the infinities are not figures.
 */
static int
col_double(const PGresult *res, int row, const char *col, double *v)
{
	const char	*s = db_get(res, row, col);
	char		*end;

	if (s == NULL)
		return -1;
	*v = strtod(s, &end);
	return *end == '\0' && *v > -FIGURE_MAX && *v < FIGURE_MAX ? 0 : -1;
}

/* JavaScript's Math.round: to the nearest integer, a half going up. */
static long long
js_round(double v)
{
	long long	r = (long long)v;	/* toward zero */

	if ((double)r > v)
		r--;
	if (v - (double)r >= 0.5)
		r++;
	return r;
}

/*
 * JavaScript's x.toFixed(1): the double's exact value to one decimal,
 * a tie going away from zero.  printf rounds a tie to even instead; the
 * only exact ties a double can hold end in .25 or .75.
 */
void
fmt_fixed1(double x, char *buf, size_t len)
{
	double		a = x < 0 ? -x : x;
	long long	q;

	if ((double)(q = (long long)(a * 4)) == a * 4 && q % 2) {
		q = (q * 10 + 2) / 4;
		snprintf(buf, len, "%s%lld.%lld", x < 0 ? "-" : "", q / 10,
		    q % 10);
	} else
		snprintf(buf, len, "%.1f", x);
}

/* "152ms", as Math.round(avg_latency_ms) + "ms" */
void
run_latency_cell(const PGresult *res, int row, char *buf, size_t len)
{
	double	v;

	if (col_double(res, row, "avg_latency_ms", &v) == -1)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lldms", js_round(v));
}

/* "80.0%", as (avg_quality_score * 100).toFixed(1) + "%" */
void
run_quality_cell(const PGresult *res, int row, char *buf, size_t len)
{
	double	v;
	char	n[64];

	if (col_double(res, row, "avg_quality_score", &v) == -1) {
		snprintf(buf, len, "-");
		return;
	}
	fmt_fixed1(v * 100, n, sizeof(n));
	snprintf(buf, len, "%s%%", n);
}

/*
 * "90.0%": successful of total prompts, as a percentage rounded as the
 * quality is, for a run with results.
 */
void
run_success_cell(const PGresult *res, int row, char *buf, size_t len)
{
	long long	total = db_int(res, row, "total_prompts");
	char		n[64];

	if (!db_bool(res, row, "has_results") || total <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	fmt_fixed1(db_int(res, row, "successful_prompts") * 100.0 / total, n,
	    sizeof(n));
	snprintf(buf, len, "%s%%", n);
}

/* "9/10 (1 failed)": successful of total, for a run with results. */
void
run_prompts_cell(const PGresult *res, int row, char *buf, size_t len)
{
	long long	failed = db_int(res, row, "failed_prompts");

	if (!db_bool(res, row, "has_results") ||
	    db_get(res, row, "total_prompts") == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%lld/%lld", db_int(res, row, "successful_prompts"),
	    db_int(res, row, "total_prompts"));
	if (failed > 0)
		snprintf(buf + strlen(buf), len - strlen(buf), " (%lld failed)",
		    failed);
}

/*
 * "completed", or "completed, regression" once detection has found one;
 * "running, unresolved" while the database has not shown whether an
 * unclear answer's request started a batch test.
 */
void
run_status_cell(const PGresult *res, int row, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", db_get(res, row, "status"),
	    db_bool(res, row, "regression_detected") ? ", regression" : "",
	    db_bool(res, row, "unresolved") ? ", unresolved" : "");
}

static json_object *
col_time(const PGresult *res, int row, const char *col)
{
	return json_col_time(res, row, col, db_get(res, row, "timezone"));
}

static json_object *
col_int(const PGresult *res, int row, const char *col)
{
	if (db_get(res, row, col) == NULL)
		return NULL;
	return jnew_int(db_int(res, row, col));
}

static json_object *
col_bool(const PGresult *res, int row, const char *col)
{
	return jnew_bool(db_bool(res, row, col));
}

static void
add_results(json_object *o, const PGresult *res, int row)
{
	jset(o, "has_results", col_bool(res, row, "has_results"));
	jset(o, "total_prompts", col_int(res, row, "total_prompts"));
	jset(o, "successful_prompts", col_int(res, row, "successful_prompts"));
	jset(o, "failed_prompts", col_int(res, row, "failed_prompts"));
	jset(o, "avg_latency_ms", json_numeric(db_get(res, row,
	    "avg_latency_ms")));
	jset(o, "avg_quality_score", json_numeric(db_get(res, row,
	    "avg_quality_score")));
	jset(o, "regression_detected", col_bool(res, row,
	    "regression_detected"));
	jset(o, "regression_details", json_col_jsonb(res, row,
	    "regression_details"));
	jset(o, "baseline_run_id", json_col_str(res, row, "baseline_run_id"));
}

json_object *
run_json(const PGresult *res, int row)
{
	json_object	*o = jnew_object();

	jset(o, "id", json_col_str(res, row, "id"));
	jset(o, "scheduled_evaluation_id", json_col_str(res, row,
	    "scheduled_evaluation_id"));
	jset(o, "status", json_col_str(res, row, "status"));
	jset(o, "slot_at", col_time(res, row, "slot_at"));
	jset(o, "triggered_at", col_time(res, row, "triggered_at"));
	jset(o, "started_at", col_time(res, row, "started_at"));
	jset(o, "completed_at", col_time(res, row, "completed_at"));
	jset(o, "duration_seconds", col_int(res, row, "duration"));
	jset(o, "ongoing", col_bool(res, row, "ongoing"));
	jset(o, "unresolved", col_bool(res, row, "unresolved"));
	jset(o, "batch_test_run_id", json_col_str(res, row,
	    "batch_test_run_id"));
	jset(o, "batch_name", json_col_str(res, row, "batch_name"));
	jset(o, "batch_ended_at", col_time(res, row, "batch_ended_at"));
	add_results(o, res, row);
	jset(o, "blame", json_col_str(res, row, "blame"));
	jset(o, "error_message", json_col_str(res, row, "error_message"));
	jset(o, "error_details", json_col_jsonb(res, row, "error_details"));
	jset(o, "supervisor_id", json_col_str(res, row, "supervisor_id"));
	jset(o, "created_at", col_time(res, row, "created_at"));
	return o;
}
