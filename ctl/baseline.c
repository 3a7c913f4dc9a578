/*
 * A schedule's baseline as the supervisor chooses it when a run
 * completes: the run pinned in evalsched_baselines, or else the latest
 * good run, the most recent completed run with results that was not
 * itself a regression (so a regression never becomes the new normal).
 * A pinned run that no longer exists leaves the next run without a
 * baseline, as it does in the supervisor, until it is unpinned.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* A run that could be a baseline: completed with results. */
#define WITH_RESULTS	"r.status = 'completed' AND r.total_prompts > 0 "

static const char baseline_good[] =
    "WHERE r.scheduled_evaluation_id = $1::uuid AND " WITH_RESULTS
    "AND NOT coalesce(r.regression_detected, false) "
    "ORDER BY r.triggered_at DESC, r.id DESC LIMIT 1";

/* The newest completed run with results, a regression or not. */
const char LATEST_COMPLETED[] =
    "WHERE r.scheduled_evaluation_id = $1::uuid AND " WITH_RESULTS
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
	if ((b->pin = db_query(c, pin_sql, 1, params)) == NULL)
		return c->dbstatus;
	if (baseline_pinned(b))
		b->run = run_query(c, "WHERE r.id = $1::uuid",
		    db_get(b->pin, 0, "run_id"));
	else
		b->run = run_query(c, baseline_good, sched_id);
	return b->run != NULL ? 0 : c->dbstatus;
}

void
baseline_free(struct baseline *b)
{
	PQclear(b->pin);
	PQclear(b->run);
	b->pin = b->run = NULL;
}

int
baseline_pinned(const struct baseline *b)
{
	return PQntuples(b->pin) > 0;
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
	char	id[UUID_LEN + 1], pinned[160], fig[512];
	int	found = PQntuples(b->run) > 0;

	if (baseline_pinned(b)) {
		run_id(c, db_get(b->pin, 0, "run_id"), whole_ids, id,
		    sizeof(id));
		fmt_when(c, db_int(b->pin, 0, "pinned_at"), zone, pinned,
		    sizeof(pinned));
	} else if (found)
		run_id(c, db_get(b->run, 0, "id"), whole_ids, id, sizeof(id));
	if (found)
		baseline_figures(c, b->run, fig, sizeof(fig));
	if (baseline_pinned(b) && found)
		snprintf(buf, len, "run %s, pinned %s: %s", id, pinned, fig);
	else if (baseline_pinned(b))
		snprintf(buf, len, "run %s, pinned %s, no longer exists: the "
		    "next run has no baseline until it is unpinned", id,
		    pinned);
	else if (found)
		snprintf(buf, len, "run %s, the latest good run (none "
		    "pinned): %s", id, fig);
	else
		snprintf(buf, len, "none: nothing pinned, and no completed "
		    "run with results that was not a regression");
}

/*
 * {"source": "pinned" | "latest" | null, "run_id", "pinned_at", "run"}:
 * run is the run in the shape of runs, null when there is none (or
 * when the pinned run no longer exists).
 */
json_object *
baseline_json(const struct baseline *b, const char *zone)
{
	json_object	*o = json_object_new_object();
	int		 found = PQntuples(b->run) > 0;
	int		 pinned = baseline_pinned(b);

	json_object_object_add(o, "source", pinned ?
	    json_object_new_string("pinned") : found ?
	    json_object_new_string("latest") : NULL);
	json_object_object_add(o, "run_id", pinned ?
	    json_col_str(b->pin, 0, "run_id") : found ?
	    json_col_str(b->run, 0, "id") : NULL);
	json_object_object_add(o, "pinned_at", pinned ?
	    json_col_time(b->pin, 0, "pinned_at", zone) : NULL);
	json_object_object_add(o, "run", found ? run_json(b->run, 0) : NULL);
	return o;
}
