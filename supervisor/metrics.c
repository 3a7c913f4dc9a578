/*
 * Metric alert rules.  The application's worker also evaluates each of
 * its users' enabled metric_alert_rules every minute over their
 * llm_traces; evalsched does it in its stead.  A pass is one statement,
 * evalsched_evaluate_metric_rules() of the schema additions: set-based
 * in the database, it takes each rule's slot for the current minute of
 * the database's clock (so that a rule is evaluated once per minute
 * whatever the number of supervisors), writes the evaluation rows and
 * the alerts, and tells which rules it evaluated.  Passes start at the
 * turn of each minute and follow one another while they come back full.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

#define METRICS_MAX		1000	/* rules evaluated by one pass: $1 */
#define METRICS_LATE_MS		250	/* after the turn of the minute */
#define METRICS_RETRY_MS	5000	/* after a pass that failed */

static int64_t	next_metrics_ms;	/* at once after start-up */

/* $1 METRICS_MAX.  The last column: milliseconds to the next minute. */
static const char metrics_sql[] =
	"SELECT e.rule_id, e.rule_name, e.metric_type, e.aggregation, "
	"  e.metric_value, e.operator, e.threshold, e.sample_count, "
	"  e.triggered, e.alerted, n.delay "
	"FROM (SELECT ceil(1000 * extract(epoch FROM "
	"    date_trunc('minute', clock_timestamp()) + interval '1 minute' "
	"    - clock_timestamp()))::bigint AS delay) n "
	"LEFT JOIN public.evalsched_evaluate_metric_rules($1) e ON true";

static struct prepared metrics = { "evalsched_metrics", metrics_sql, 0 };

enum { M_ID, M_NAME, M_METRIC, M_AGG, M_VALUE, M_OP, M_THRESHOLD,
    M_SAMPLES, M_TRIGGERED, M_ALERTED, M_DELAY };

int64_t
metrics_next_ms(void)
{
	return next_metrics_ms;
}

static void
log_triggered(PGresult *r, int i)
{
	int	alerted = strcmp(PQgetvalue(r, i, M_ALERTED), "t") == 0;

	log_info("metric rule \"%s\" (%s) triggered: %s (%s) is %s %s %s "
	    "over %s trace(s)%s", log_name(PQgetvalue(r, i, M_NAME)).s,
	    PQgetvalue(r, i, M_ID), PQgetvalue(r, i, M_METRIC),
	    PQgetvalue(r, i, M_AGG), PQgetvalue(r, i, M_VALUE),
	    PQgetvalue(r, i, M_OP), PQgetvalue(r, i, M_THRESHOLD),
	    PQgetvalue(r, i, M_SAMPLES), alerted ? ", alert sent" :
	    ", in its cooldown: no alert");
}

static void
metrics_read(PGresult **res, void *arg)
{
	PGresult	*r;
	int		 i, n = 0, alerts = 0;
	int64_t		 delay;

	(void)arg;
	if (res == NULL) {
		next_metrics_ms = mono_ms() + METRICS_RETRY_MS;
		return;
	}
	r = res[0];
	for (i = 0; i < PQntuples(r); i++) {
		if (PQgetisnull(r, i, M_ID))
			continue;
		n++;
		if (strcmp(PQgetvalue(r, i, M_TRIGGERED), "t") == 0)
			log_triggered(r, i);
		if (strcmp(PQgetvalue(r, i, M_ALERTED), "t") == 0)
			alerts++;
	}
	if (alerts > 0)
		event_post(EV_ALERT);
	/* A full pass: more rules may be waiting for this minute. */
	if (n >= METRICS_MAX) {
		next_metrics_ms = mono_ms();
		return;
	}
	delay = PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, M_DELAY)) : 60000;
	if (delay < 0 || delay > 60000)
		delay = 60000;
	next_metrics_ms = mono_ms() + delay + METRICS_LATE_MS;
}

/* One pass, when one is due; 1 if it went out. */
int
metrics_step(void)
{
	char	limit[16];

	if (mono_ms() < next_metrics_ms)
		return 0;
	/* Should the statement fail without an answer. */
	next_metrics_ms = mono_ms() + METRICS_RETRY_MS;
	snprintf(limit, sizeof(limit), "%d", METRICS_MAX);
	return db_query_prepared(&metrics, 1, (const char *const[]){ limit },
	    metrics_read, NULL) == 0;
}
