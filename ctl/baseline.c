/*
 * A schedule's baseline as the supervisor chooses it when a run
 * settles: the schema's evalsched_baseline(), the one rule for both.  It
 * is the run pinned in evalsched_baselines while that run exists, or
 * else the latest good run, the most recent completed run with results,
 * settled, that was not itself a regression (so a regression never
 * becomes the new normal).  For the next run, whose quality's source is
 * not known yet, a run of any source is shown.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const char baseline_of_next[] =
    "WHERE r.id = public.evalsched_baseline($1::uuid, 'infinity', NULL)";

/* The newest completed run with results, a regression or not. */
const char LATEST_COMPLETED[] =
    "WHERE r.scheduled_evaluation_id = $1::uuid AND "
    RUN_WITH_RESULTS("r") " "
    "ORDER BY r.triggered_at DESC, r.id DESC LIMIT 1";

static const char pin_sql[] =
    "SELECT run_id, floor(extract(epoch FROM pinned_at))::bigint "
    "  AS pinned_at "
    "FROM public.evalsched_baselines WHERE scheduled_evaluation_id = $1::uuid";

static PGresult *
run_query(struct ctl *c, const char *where, const char *param)
{
	return run_select(c, where, 1, (const char *const[]){ param });
}

int
baseline_fetch(struct ctl *c, const char *sched_id, struct baseline *b)
{
	const char	*params[] = { sched_id };

	b->run = NULL;
	if ((b->pin = db_exec(c, pin_sql, 1, params)) == NULL)
		return c->dbstatus;
	b->run = run_query(c, baseline_of_next, sched_id);
	return b->run != NULL ? 0 : c->dbstatus;
}

void
baseline_free(struct baseline *b)
{
	PQclear(b->pin);
	PQclear(b->run);
	b->pin = b->run = NULL;
}

/* A run is pinned, and it is the baseline: it exists. */
int
baseline_pinned(const struct baseline *b)
{
	return PQntuples(b->pin) > 0 && PQntuples(b->run) > 0 &&
	    strcmp(db_get(b->pin, 0, "run_id"), db_get(b->run, 0, "id")) == 0;
}

/* A run is pinned that no longer exists: the rule decides instead. */
static int
pin_gone(const struct baseline *b)
{
	return PQntuples(b->pin) > 0 && !baseline_pinned(b);
}

/* "ran <when>, quality 80.0%, success rate 90.0% (9/10)" */
void
baseline_figures(struct ctl *c, const PGresult *r, char *buf, size_t len)
{
	char	when[128], quality[32], success[32];

	fmt_when(c, db_int(r, 0, "triggered_at"), db_get(r, 0, "timezone"),
	    when, sizeof(when));
	run_quality_cell(r, 0, quality, sizeof(quality));
	run_success_cell(r, 0, success, sizeof(success));
	snprintf(buf, len, "ran %s, quality %s, success rate %s (%lld/%lld)",
	    when, quality, success, db_int(r, 0, "successful_prompts"),
	    db_int(r, 0, "total_prompts"));
}

static void
run_id(const struct ctl *c, const char *id, int whole, char *buf, size_t len)
{
	if (whole)
		snprintf(buf, len, "%s", id);
	else
		id_cell(c, id, buf, len);
}

/*
 * "run <id>, pinned <when>: ran ..., quality ..., success rate ...";
 * "run <id>, the latest good run (none pinned): ran ..."; or why there
 * is none.
 */
void
baseline_line(struct ctl *c, const struct baseline *b, int whole_ids,
    const char *zone, char *buf, size_t len)
{
	char	id[UUID_LEN + 1], pid[UUID_LEN + 1], pinned[160], fig[512];
	char	gone[256] = "none pinned";
	int	found = PQntuples(b->run) > 0;

	if (PQntuples(b->pin) > 0) {
		run_id(c, db_get(b->pin, 0, "run_id"), whole_ids, pid,
		    sizeof(pid));
		fmt_when(c, db_int(b->pin, 0, "pinned_at"), zone, pinned,
		    sizeof(pinned));
		snprintf(gone, sizeof(gone), "run %s, pinned %s, no longer "
		    "exists", pid, pinned);
	}
	if (found) {
		run_id(c, db_get(b->run, 0, "id"), whole_ids, id, sizeof(id));
		baseline_figures(c, b->run, fig, sizeof(fig));
	}
	if (baseline_pinned(b))
		snprintf(buf, len, "run %s, pinned %s: %s", id, pinned, fig);
	else if (found)
		snprintf(buf, len, "run %s, the latest good run (%s): %s", id,
		    gone, fig);
	else if (pin_gone(b))
		snprintf(buf, len, "none: %s, and no settled completed run "
		    "with results that was not a regression", gone);
	else
		snprintf(buf, len, "none: nothing pinned, and no settled "
		    "completed run with results that was not a regression");
}

/*
 * {"source": "pinned" | "latest" | null, "run_id", "pinned_at", "run",
 * "missing_pin"}: run is the run in the shape of runs, null when there
 * is none; missing_pin {"run_id", "pinned_at"} names a pinned run that
 * no longer exists (null otherwise).
 */
json_object *
baseline_json(const struct baseline *b, const char *zone)
{
	json_object	*o = jnew_object();
	int		 found = PQntuples(b->run) > 0;
	int		 pinned = baseline_pinned(b);

	json_object	*gone = NULL;

	jset(o, "source", pinned ?
	    jnew_string("pinned") : found ? jnew_string("latest") : NULL);
	jset(o, "run_id", found ? json_col_str(b->run, 0, "id") : NULL);
	jset(o, "pinned_at", pinned ?
	    json_col_time(b->pin, 0, "pinned_at", zone) : NULL);
	jset(o, "run", found ? run_json(b->run, 0) : NULL);
	if (pin_gone(b)) {
		gone = jnew_object();
		jset(gone, "run_id", json_col_str(b->pin, 0, "run_id"));
		jset(gone, "pinned_at",
		    json_col_time(b->pin, 0, "pinned_at", zone));
	}
	jset(o, "missing_pin", gone);
	return o;
}
