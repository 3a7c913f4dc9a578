/*
 * Completing runs.  Once the application has accepted a run, its batch
 * test goes on in the background; when it ends, the application writes
 * the results to its own tables (batch_test_runs, conversations,
 * messages, judgments), and our trigger evalsched_batch_ended on
 * batch_test_runs marks the run (batch_ended_at) and NOTIFYs.  One
 * set-based statement per pass (the schema's evalsched_complete) then
 * closes every marked run with its results, counts an all-failed batch
 * test as the schedule's failure, and closes runs whose batch test
 * outlived completion_timeout.
 *
 * A batch test that ends while we are still recording its acceptance
 * goes unmarked: evalsched_batch_ended cannot see our uncommitted row,
 * and we may not see the application's.  So each pass also looks up the
 * batch tests of the runs accepted in the last RECENT_S seconds (and one
 * poll_interval more without LISTEN): the pass woken by the NOTIFY that
 * evalsched_batch_ended sends at the application's commit (or the next
 * periodic pass) is sure to find such a run among them.  It reads
 * marked, recent and expired runs only, so its cost does not grow with
 * the runs under way; after each (re)connect one sweep looks at all of
 * them, for ends we missed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

#define PASS_MAX	1000	/* runs closed by one pass: $3 */
#define SWEEP_S		(100L * 365 * 86400)	/* "recent": every run */
#define PASS_GAP_MS	100	/* between a pass and the next asked for */
/*
 * Passes that notifications ask for are this far apart, at least.  Any
 * role may NOTIFY evalsched_batch_end, so a notification is a hint, and
 * a pass is our heaviest statement: a flood buys at most one a second.
 * A batch test runs for seconds to hours; its run closed a second after
 * it ends is as good as at once for whoever reads it or its alert.
 */
#define HINT_GAP_MS	1000
#define RECENT_S	30	/* see above */

static int64_t	next_pass_ms = INT64_MAX, last_pass_ms;
static int64_t	hint_pass_ms = INT64_MIN / 2;	/* the last one a hint made */
static int	sweep_wanted;
static int	hinted;		/* a NOTIFY asks for a pass */

/*
 * $1 completion_timeout, $2 max_consecutive_failures, $3 PASS_MAX, $4
 * the seconds for which an accepted run counts as recent (SWEEP_S for a
 * sweep: every run's batch test is looked up), $5 run_timeout, how long
 * an unresolved run waits for its batch test to turn up (as long as the
 * request itself could have taken), $6 quality_settle.  What a pass
 * closes, and how, is the schema's evalsched_complete: one statement,
 * planned once per session.  No parameter switches a condition on or
 * off, so that the plan kept must use the indexes whatever the values.
 */
static const char complete_sql[] =
	"SELECT * FROM public.evalsched_complete($1, $2, $3, $4, $5, $6)";

static struct prepared complete = { "evalsched_complete", complete_sql, 0 };

enum { C_ID, C_NAME, C_HOW, C_TOTAL, C_OK, C_LATENCY, C_QUALITY, C_ERROR,
    C_DISABLED, C_ALERTS };

static void
pass_at(int64_t t)
{
	if (t < next_pass_ms)
		next_pass_ms = t;
}

/* More to close, or a run recorded after its batch test ended. */
void
completion_soon(void)
{
	pass_at(last_pass_ms + PASS_GAP_MS);
}

/* A NOTIFY: a batch test may have ended. */
void
completion_hint(void)
{
	int64_t	t = hint_pass_ms + HINT_GAP_MS;

	hinted = 1;
	pass_at(t > last_pass_ms + PASS_GAP_MS ? t : last_pass_ms +
	    PASS_GAP_MS);
}

/* After a (re)connect: ends may have gone by unseen. */
void
completion_sweep(void)
{
	sweep_wanted = 1;
	completion_soon();
}

int64_t
completion_next_ms(void)
{
	return next_pass_ms;
}

static void
log_completed(PGresult *res, int i)
{
	char	lat[32], q[32];

	log_info("schedule \"%s\": run %s completed: %s of %s prompts "
	    "succeeded, latency %s, quality %s so far",
	    log_name(PQgetvalue(res, i, C_NAME)).s,
	    PQgetvalue(res, i, C_ID), PQgetvalue(res, i, C_OK),
	    PQgetvalue(res, i, C_TOTAL),
	    db_value_or_dash(res, i, C_LATENCY, " ms", lat, sizeof(lat)),
	    db_value_or_dash(res, i, C_QUALITY, "%", q, sizeof(q)));
}

static void
log_closed(PGresult *res, int i)
{
	const char	*how = PQgetvalue(res, i, C_HOW);

	if (strcmp(how, "completed") == 0) {
		log_completed(res, i);
		return;
	}
	log_warnx("schedule \"%s\": run %s %s: %s",
	    log_name(PQgetvalue(res, i, C_NAME)).s,
	    PQgetvalue(res, i, C_ID), strcmp(how, "cancelled") == 0 ?
	    "cancelled" : "failed", PQgetvalue(res, i, C_ERROR));
	/* Why, as the pass wrote it ("3 consecutive failures"). */
	if (!PQgetisnull(res, i, C_DISABLED))
		log_warnx("schedule \"%s\": auto-disabled after %s",
		    log_name(PQgetvalue(res, i, C_NAME)).s,
		    PQgetvalue(res, i, C_DISABLED));
}

static void
pass_read(PGresult **res, void *arg)
{
	int	i, n;

	(void)arg;
	if (res == NULL) {
		next_pass_ms = mono_ms() + 1000;
		return;
	}
	n = PQntuples(res[0]);
	for (i = 0; i < n; i++)
		log_closed(res[0], i);
	if (n > 0 && atoi(PQgetvalue(res[0], 0, C_ALERTS)) > 0)
		event_post(EV_ALERT);
	/* One run per schedule per pass: the next one may be waiting. */
	if (n > 0) {
		completion_soon();
		event_post(EV_SETTLED_SOON);
		event_post(EV_CLAIM);	/* a disabled schedule, a freed slot */
	} else
		sweep_wanted = 0;
}

/* One pass, when one is due; 1 if it went out. */
int
completion_step(void)
{
	char		 timeout[16], max[16], limit[16], recent[16], window[16];
	char		 settle[16];
	int64_t		 now = mono_ms();

	if (now < next_pass_ms)
		return 0;
	snprintf(timeout, sizeof(timeout), "%d", sv->conf.completion_timeout);
	snprintf(max, sizeof(max), "%d", sv->conf.max_consecutive_failures);
	snprintf(limit, sizeof(limit), "%d", PASS_MAX);
	snprintf(recent, sizeof(recent), "%ld", sweep_wanted ? SWEEP_S :
	    RECENT_S + (sv->conf.listen ? 0 : sv->conf.poll_interval));
	last_pass_ms = now;
	if (hinted) {
		hinted = 0;
		hint_pass_ms = now;
	}
	/* The next pass: at poll_interval, for timeouts; sooner if asked. */
	next_pass_ms = now + sv->conf.poll_interval * 1000LL;
	snprintf(window, sizeof(window), "%d", sv->conf.run_timeout);
	snprintf(settle, sizeof(settle), "%d", sv->conf.quality_settle);
	return db_query_prepared(&complete, 6, (const char *const[]){ timeout,
	    max, limit, recent, window, settle }, pass_read, NULL) == 0;
}
