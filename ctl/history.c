/*
 * The run history as run_retention leaves it.  The supervisor that
 * prunes old runs records when, and how many, in evalsched_meta; a value
 * that does not read as what it should be is taken as not recorded
 * (evalsched_monitor_counts() reads it).
 */
#include <stdio.h>

#include "ctl.h"

/* From a row with pruned_at (Unix seconds) and pruned_runs. */
void
history_read(struct ctl *c, const PGresult *res, struct history *h)
{
	h->retention = c->cfg.run_retention;
	h->pruned = db_get(res, 0, "pruned_at") != NULL;
	h->pruned_at = db_int(res, 0, "pruned_at");
	h->runs = db_get(res, 0, "pruned_runs") != NULL ?
	    db_int(res, 0, "pruned_runs") : -1;
}

static const char *
s_if(long long n)
{
	return n == 1 ? "" : "s";
}

/* "(12 runs deleted; run_retention 30 days)" */
static void
pruned_detail(const struct history *h, char *buf, size_t len)
{
	if (h->runs >= 0)
		snprintf(buf, len, "(%lld run%s deleted; run_retention %d "
		    "day%s)", h->runs, s_if(h->runs), h->retention,
		    s_if(h->retention));
	else
		snprintf(buf, len, "(run_retention %d day%s)", h->retention,
		    s_if(h->retention));
}

/* What follows "history: ". */
void
history_line(struct ctl *c, const struct history *h, char *buf, size_t len)
{
	char	when[128], detail[128];

	if (h->retention == 0)
		snprintf(buf, len, "kept in full (run_retention = 0)");
	else if (!h->pruned)
		snprintf(buf, len, "not pruned yet");
	else {
		fmt_when(c, h->pruned_at, NULL, when, sizeof(when));
		pruned_detail(h, detail, sizeof(detail));
		snprintf(buf, len, "last pruned %s %s", when, detail);
	}
}

json_object *
history_json(struct ctl *c, const struct history *h)
{
	json_object	*o = jnew_object();
	char		 line[512];

	history_line(c, h, line, sizeof(line));
	jset(o, "run_retention_days", jnew_int(h->retention));
	jset(o, "pruned_at", json_time(h->pruned_at, !h->pruned, NULL));
	jset(o, "pruned_runs", h->runs >= 0 ? jnew_int(h->runs) : NULL);
	jset(o, "summary", json_str(line));
	return o;
}
