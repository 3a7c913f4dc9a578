/*
 * metrics: the Prometheus text exposition format (version 0.0.4),
 * computed from the database, so that it covers every supervisor that
 * shares it and needs none of them running.  node_exporter's textfile
 * collector, or anything that serves a file, publishes it.
 *
 * One statement reads everything, so all the figures are of one
 * snapshot and one now(): the schema's evalsched_monitor_metrics()
 * (monitor.c).  A counter is a running total the schema's triggers keep
 * as runs and alerts change: it never goes down, whatever run_retention
 * prunes or a schedule deleted takes along, and reading it costs the
 * same whatever the size of the history.  Series with known label
 * values are always there, at 0 when nothing matches, so that they
 * never come and go.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

struct family {
	const char	*name;
	const char	*type;
	const char	*help;
};

/* In the order they are printed. */
static const struct family families[] = {
	{ "evalsched_runs_total", "counter",
	  "Runs evalsched fired that have ended, by final status and blame "
	  "(schedule, platform, or \"\" when none or unknown), counted as "
	  "they end: runs pruned by run_retention or deleted with their "
	  "schedule stay counted." },
	{ "evalsched_runs_in_flight", "gauge",
	  "Runs being dispatched (status triggered)." },
	{ "evalsched_runs_awaiting_completion", "gauge",
	  "Runs the application accepted whose batch test has not ended "
	  "(status running)." },
	{ "evalsched_regressions_total", "counter",
	  "Completed runs found to be a regression of their baseline "
	  "(see evalsched_runs_total)." },
	{ "evalsched_dispatch_lag_seconds", "histogram",
	  "Seconds from a run's slot (the next_run_at it fired for) to its "
	  "dispatch (triggered_at), over every run evalsched fired "
	  "(see evalsched_runs_total)." },
	{ "evalsched_due_schedules", "gauge",
	  "Active schedules that are due and have no run in flight nor a "
	  "backoff of their own." },
	{ "evalsched_oldest_due_seconds", "gauge",
	  "Seconds the longest-waiting due schedule has been due; 0 when "
	  "none is." },
	{ "evalsched_schedules", "gauge",
	  "Schedules by state: active; auto_disabled, disabled by "
	  "evalsched (failures in a row, a bad row); paused, any other "
	  "inactive." },
	{ "evalsched_supervisors_live", "gauge",
	  "Supervisors not stopped, not lost, and heartbeating within their "
	  "lease." },
	{ "evalsched_circuit_open", "gauge",
	  "1 when a live supervisor of the node has its circuit open (the "
	  "platform fails; dispatch is paused to one probe at a time), "
	  "else 0." },
	{ "evalsched_circuit_open_seconds", "gauge",
	  "Seconds the circuit of a live supervisor of the node has been "
	  "open, the longest if several; 0 when closed." },
	{ "evalsched_alerts_total", "counter",
	  "Alert events that ended, by event and state: delivered, or "
	  "failed once retries ran out." },
	{ "evalsched_alerts_pending", "gauge",
	  "Alert events still to be delivered, by event." },
	{ "evalsched_alert_deliveries_total", "counter",
	  "Webhook deliveries of scheduled_eval_* alerts in alert_history, "
	  "the application's own included, by result." },
	{ "evalsched_metric_rule_evaluations_total", "counter",
	  "Evaluations of the metric alert rules by evalsched, by whether "
	  "the rule's condition held (triggered)." },
};
#define NFAMILIES	(sizeof(families) / sizeof(families[0]))

/*
 * Rows of (family, suffix, ord, k1, v1, k2, v2, value): a label kN is
 * printed when it is not NULL; ord orders a histogram's series.
 */
static const char metrics_sql[] =
    "SELECT * FROM public.evalsched_monitor_metrics() "
    "ORDER BY family, ord, v1, v2";

/* A label value as the format wants it: \\, \" and \n escaped. */
static void
put_label_value(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
put_label(FILE *f, const PGresult *res, int row, const char *k,
    const char *v, int *n)
{
	const char	*key = db_get(res, row, k);

	if (key == NULL)
		return;
	fprintf(f, "%s%s=\"", (*n)++ == 0 ? "{" : ",", key);
	put_label_value(f, db_get(res, row, v) != NULL ?
	    db_get(res, row, v) : "");
	fputc('"', f);
}

static void
put_sample(FILE *f, const PGresult *res, int row)
{
	const char	*suffix = db_get(res, row, "suffix");
	int		 n = 0;

	fprintf(f, "%s%s", db_get(res, row, "family"),
	    suffix != NULL ? suffix : "");
	put_label(f, res, row, "k1", "v1", &n);
	put_label(f, res, row, "k2", "v2", &n);
	fprintf(f, "%s %s\n", n > 0 ? "}" : "", db_get(res, row, "value"));
}

static void
put_family(FILE *f, const struct family *fam, const PGresult *res)
{
	int	i;

	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help,
	    fam->name, fam->type);
	for (i = 0; i < PQntuples(res); i++)
		if (strcmp(db_get(res, i, "family"), fam->name) == 0)
			put_sample(f, res, i);
}

/*
 * The document is made whole before any of it is written.  To a
 * terminal, every line goes through the escaping of every other text
 * evalschedctl prints (a node name is anyone's text); elsewhere it is
 * the exact format.  A short write fails the command, so that
 * "metrics > tmp && mv tmp file" never publishes half a document.
 */
static int
emit(struct ctl *c, const char *doc, size_t len)
{
	if (c->aligned)
		out_lines(stdout, "", doc);
	else
		fwrite(doc, 1, len, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("evalschedctl: metrics: stdout");
		return EX_IOERR;
	}
	return 0;
}

static int
print_metrics(struct ctl *c, const PGresult *res)
{
	FILE	*f;
	char	*buf, *doc;
	size_t	 len, i;
	int	 status;

	f = xmemstream(&buf, &len);
	for (i = 0; i < NFAMILIES; i++)
		put_family(f, &families[i], res);
	doc = xmemstream_text(f, &buf);
	status = emit(c, doc, len);
	free(doc);
	return status;
}

/* --json is taken, as by every command, and changes nothing. */
int
cmd_metrics(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	int		 status;

	if ((status = ctl_opts(c, argc, argv, "metrics", "", 0)) != 0 ||
	    (status = monitor_connect(c)) != 0)
		return status;
	/* Label values are written as UTF-8, as the format requires. */
	if (PQsetClientEncoding(c->conn, "UTF8") != 0) {
		fprintf(stderr, "evalschedctl: database: cannot set the client "
		    "encoding to UTF8\n");
		return PQstatus(c->conn) != CONNECTION_OK ? EX_UNAVAILABLE :
		    EX_SOFTWARE;
	}
	if ((res = monitor_query(c, metrics_sql, 0, NULL)) == NULL)
		return c->dbstatus;
	status = print_metrics(c, res);
	PQclear(res);
	return status;
}
