/*
 * Delivering alerts.  Events wait in the outbox (evalsched_alerts), put
 * there in the same transaction as the fact that caused them.  A
 * supervisor claims due events with FOR UPDATE SKIP LOCKED (so no two
 * supervisors deliver one), decides at an event's first claim whether
 * its owner's email goes out (the schema's evalsched_alert_email, as the
 * application decides), and hands each to a short-lived
 * evalsched-notifier child with the owner's email, subscribed webhooks
 * and integrations, their secrets on its stdin (alertjob.c).  When the
 * child exits it records what it did (alertresult.c, then the schema's
 * evalsched_alert_result): alert_history rows as the application writes
 * them, the webhooks' and integrations' counters, and what is left to
 * retry, channel by channel, after a pause that doubles from 5 seconds,
 * until alert_retry seconds after the event; then it is recorded as
 * failed.  A channel that keeps failing costs the schedules and the
 * other channels nothing.  The next look is when the earliest event
 * the claim saw is due, or when a NOTIFY says another supervisor queued
 * one.  Starting a notifier, feeding it, reading it and reaping it is
 * child.c's, as for a jobrunner; what its end means is here.
 */
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "log.h"
#include "supervisor.h"

#define NOTIFIERS_MAX		2	/* deliveries at once */
#define CLAIM_S			120	/* a claimed event is ours this long */
#define NOTIFIER_TIMEOUT_MS	60000	/* SIGTERM, then SIGKILL */
#define CHECK_EVERY_MS		30000	/* at the latest, without a NOTIFY */
#define LOCKED_GAP_MS		250	/* a due event another claim holds */
#define HINT_GAP_MS		100	/* between claims NOTIFYs ask for */
#define WEBHOOKS_MAX		100	/* per delivery, as the notifier takes */
#define INTEGRATIONS_MAX	16	/* per delivery, as the notifier takes */
/*
 * Characters of a webhook's URL and secret the notifier has room for
 * (evalsched-notifier(8)), and bytes of an integration's credentials and
 * config; a longer one is handed over as "refused", and fails with that
 * reason.
 */
#define WEBHOOK_URL_MAX		2048
#define WEBHOOK_SECRET_MAX	1024
#define INTEGRATION_JSON_MAX	4096
#define UNWRITTEN_MAX		64	/* results kept while the database fails */

/*
 * A notifier's result names each webhook and integration (a UUID) with
 * its error text (at most 512 bytes, twice that escaped): about 130 KiB
 * for 100 webhooks and 16 integrations at worst, more than a pipe holds,
 * and read as it comes.  A larger result is no notifier's.
 */
#define RESULT_MAX		(1024 * 1024)

_Static_assert(NOTIFIERS_MAX <= CHILD_OTHER_SLOTS,
    "the child table leaves room for the notifiers");

static void	notifier_timed_out(struct child *);
static void	notifier_done(struct child *, int);

static const struct child_kind notifier = {
	.name = "notifier",
	.program = "evalsched-notifier",
	.work = "alert",
	.out_max = RESULT_MAX,
	.max = NOTIFIERS_MAX,
	.timed_out = notifier_timed_out,
	.done = notifier_done,
};

/*
 * A delivery's result, waiting for the connection to be free; one the
 * database would not take yet is written again, so that the webhooks it
 * reached are not sent the event twice.
 */
struct unwritten {
	char			alert_id[UUID_LEN + 1];
	char			owner[UUID_LEN + 1];
	struct alert_result	result;	/* webhooks NULL: no result */
	char			*error;
};

static struct unwritten	unwritten[UNWRITTEN_MAX];
static int		nunwritten;
static int64_t		next_check_ms, last_claim_ms = INT64_MIN / 2;
static int		write_failed;	/* the last result's write */

/* An event no notifier has now: claimed by none, or its claim ran out. */
#define UNCLAIMED(a)							\
	a ".state = 'pending' AND " a ".next_attempt_at <= now() AND ("	\
	a ".claimed_until IS NULL OR " a ".claimed_until < now())"

/* The users of the oldest this many due events take turns. */
#define DUE_WINDOW	1000

/*
 * $1 our id, $2 how many; the channels to try come along, secrets too.
 * The notifiers are shared between users: one at a time per user (none
 * for a user whose event a notifier has now, here or on another
 * supervisor), the user served least recently first (one never served
 * first of all), then the oldest event.  So a user whose webhook hangs
 * holds one notifier, not every one, and their backlog waits behind
 * nobody's but their own.  Ranked first, locked after: PostgreSQL locks
 * no row under a window function.  At an event's first claim its email
 * is decided (email_pending, email_error: why not); a retry takes the
 * owner's address as it is then.  The last column, on every row and on
 * the one row there is when nothing was claimed, is when (in ms from
 * now) the earliest event no notifier has will be due, of a user whose
 * events nobody is delivering.
 */
static const char claim_alerts_sql[] =
	"WITH busy AS (SELECT DISTINCT b.user_id "
	"  FROM public.evalsched_alerts b WHERE b.state = 'pending' "
	"    AND b.claimed_until IS NOT NULL AND b.claimed_until >= now()), "
	"due AS MATERIALIZED (SELECT a.id, a.user_id, a.next_attempt_at "
	"  FROM public.evalsched_alerts a WHERE " UNCLAIMED("a")
	"  ORDER BY a.next_attempt_at, a.id LIMIT " STR(DUE_WINDOW) "), "
	"first AS (SELECT d.id, d.user_id, d.next_attempt_at, row_number() "
	"    OVER (PARTITION BY d.user_id ORDER BY d.next_attempt_at, d.id) "
	"    AS rank "
	"  FROM due d WHERE d.user_id NOT IN (SELECT user_id FROM busy)), "
	"c AS (SELECT a.id, a.user_id, a.event, a.email_pending FROM first f "
	"  JOIN public.evalsched_alerts a ON a.id = f.id "
	"  LEFT JOIN public.evalsched_turns t ON t.user_id = f.user_id "
	"  WHERE f.rank = 1 AND " UNCLAIMED("a")
	"  ORDER BY t.alerted_at NULLS FIRST, f.next_attempt_at, f.id "
	"  LIMIT $2 FOR UPDATE OF a SKIP LOCKED), "
	"m AS (SELECT c.id, e.address, e.address_error, e.skip FROM c "
	"  LEFT JOIN LATERAL (SELECT * FROM public.evalsched_alert_email("
	"    c.user_id, c.event, now()) WHERE c.email_pending IS NOT false) e "
	"  ON true), "
	/* In the order of their users: no two claims wait in a circle. */
	"turn AS (INSERT INTO public.evalsched_turns AS t (user_id, alerted_at) "
	"  SELECT c.user_id, now() FROM c ORDER BY c.user_id "
	"  ON CONFLICT (user_id) DO UPDATE SET alerted_at = now()), "
	"u AS (UPDATE public.evalsched_alerts a SET claimed_by = $1, "
	"  claimed_until = now() + interval '" STR(CLAIM_S) " seconds', "
	"  attempts = a.attempts + 1, "
	"  email_pending = CASE WHEN a.email_pending IS NULL "
	"    THEN m.skip IS NULL ELSE a.email_pending AND m.address IS NOT NULL "
	"    END, "
	"  email_error = CASE WHEN a.email_pending IS NULL THEN m.skip "
	"    WHEN a.email_pending AND m.address IS NULL THEN m.address_error "
	"    ELSE a.email_error END, "
	"  some_failed = a.some_failed "
	"    OR coalesce(a.email_pending AND m.address IS NULL, false) "
	"FROM m WHERE a.id = m.id "
	"RETURNING a.id, a.event, a.title, a.message, a.metadata::text, "
	"  to_char(a.created_at AT TIME ZONE 'UTC', "
	"    'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	"  coalesce(a.command_pending, true), "
	/* The webhooks with the event's type on (evalsched_type_on). */
	"  (SELECT coalesce(json_agg(json_build_object('id', w.id, "
	"      'url', CASE WHEN w.refused IS NULL THEN w.url END, "
	"      'type', coalesce(w.webhook_type, 'generic'), "
	"      'secret', CASE WHEN w.refused IS NULL THEN w.secret END, "
	"      'refused', w.refused) ORDER BY w.created_at, w.id), '[]') "
	"    FROM (SELECT w.*, CASE "
	"      WHEN char_length(w.url) > " STR(WEBHOOK_URL_MAX) " THEN 'its URL "
	"is longer than " STR(WEBHOOK_URL_MAX) " characters' "
	"      WHEN char_length(w.secret) > " STR(WEBHOOK_SECRET_MAX) " THEN "
	"'its secret is longer than " STR(WEBHOOK_SECRET_MAX) " characters' "
	"      END AS refused FROM public.user_webhooks w "
	"      WHERE w.user_id = a.user_id "
	"      AND coalesce(w.enabled, false) "
	"      AND public.evalsched_type_on(a.event, "
	"        w.alert_scheduled_eval_failed, w.alert_scheduled_eval_disabled, "
	"        w.alert_scheduled_eval_regression) "
	"      AND (a.pending_webhooks IS NULL "
	"        OR w.id = ANY (a.pending_webhooks)) "
	"      ORDER BY w.created_at, w.id LIMIT " STR(WEBHOOKS_MAX) ") w)::text, "
	/*
	 * The integrations the application delivers to, every enabled one
	 * (it has no per-type key for these events).
	 */
	"  (SELECT coalesce(json_agg(json_build_object('id', i.id, "
	"      'type', i.integration_type, "
	"      'credentials', CASE WHEN i.refused IS NULL THEN i.credentials END, "
	"      'config', CASE WHEN i.refused IS NULL THEN i.config END, "
	"      'refused', i.refused) ORDER BY i.created_at, i.id), '[]') "
	"    FROM (SELECT i.*, CASE "
	"      WHEN octet_length(i.credentials::text) > " STR(INTEGRATION_JSON_MAX)
	"        THEN 'its credentials are larger than "
	STR(INTEGRATION_JSON_MAX) " bytes' "
	"      WHEN octet_length(i.config::text) > " STR(INTEGRATION_JSON_MAX)
	"        THEN 'its config is larger than " STR(INTEGRATION_JSON_MAX)
	" bytes' END AS refused "
	"      FROM public.user_integrations i WHERE i.user_id = a.user_id "
	"      AND coalesce(i.enabled, false) "
	"      AND i.integration_type IN ('teams', 'telegram', 'pagerduty', "
	"        'notion') "
	"      AND (a.pending_integrations IS NULL "
	"        OR i.id = ANY (a.pending_integrations)) "
	"      ORDER BY i.created_at, i.id LIMIT " STR(INTEGRATIONS_MAX) ") i)::text, "
	"  CASE WHEN a.email_pending THEN m.address END) "
	"SELECT u.*, (SELECT ceil(extract(epoch FROM e.next_attempt_at "
	"    - clock_timestamp()) * 1000) "
	"  FROM public.evalsched_alerts e WHERE e.state = 'pending' "
	"    AND (e.claimed_until IS NULL OR e.claimed_until < now()) "
	"    AND e.user_id NOT IN (SELECT user_id FROM busy) "
	"    AND e.user_id NOT IN (SELECT user_id FROM c) "
	"  ORDER BY e.next_attempt_at LIMIT 1) "
	"FROM (SELECT 1) one LEFT JOIN u ON true";

enum { A_ID, A_EVENT, A_TITLE, A_MESSAGE, A_METADATA, A_TIME, A_COMMAND,
    A_WEBHOOKS, A_INTEGRATIONS, A_EMAIL_TO, A_NEXT };

/* What a delivery attempt came to: see evalsched_alert_result. */
static const char result_sql[] =
	"SELECT state, last_error FROM public.evalsched_alert_result("
	"$1::uuid, $2::uuid, $3::json, $4::json, $5::json, $6::boolean, $7, "
	"$8::integer)";

static int
alerts_running(void)
{
	return child_count(&notifier, NULL);
}

int64_t
alerts_next_ms(void)
{
	if (nunwritten > 0 || alerts_running() < NOTIFIERS_MAX)
		return next_check_ms;
	return INT64_MAX;	/* every notifier busy: their ends wake us */
}

/* An event was just put in the outbox. */
void
alerts_soon(void)
{
	next_check_ms = 0;
}

/*
 * Another supervisor queued one.  Any role may NOTIFY, so a flood of
 * hints costs at most a claim every HINT_GAP_MS.
 */
void
alerts_hint(void)
{
	int64_t	t = last_claim_ms + HINT_GAP_MS, now = mono_ms();

	if (t < now)
		t = now;
	if (t < next_check_ms)
		next_check_ms = t;
}

static void
wipe_column(PGresult *res, int row, int col)
{
	char	*v = PQgetvalue(res, row, col);

	explicit_bzero(v, strlen(v));
}

static const char *
value(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static void
row_of(PGresult *res, int row, struct alert_row *r)
{
	r->id = PQgetvalue(res, row, A_ID);
	r->event = PQgetvalue(res, row, A_EVENT);
	r->title = PQgetvalue(res, row, A_TITLE);
	r->message = PQgetvalue(res, row, A_MESSAGE);
	r->metadata = PQgetvalue(res, row, A_METADATA);
	r->timestamp = PQgetvalue(res, row, A_TIME);
	r->command = strcmp(PQgetvalue(res, row, A_COMMAND), "t") == 0;
	r->webhooks = PQgetvalue(res, row, A_WEBHOOKS);
	r->integrations = PQgetvalue(res, row, A_INTEGRATIONS);
	r->email_to = value(res, row, A_EMAIL_TO);
}

static void	record_result(const char *alert_id, const char *owner,
		    struct alert_result *, const char *error);

/*
 * Hands the event to a notifier.  One that cannot be started leaves the
 * event claimed: it is tried again when its claim runs out.
 */
static void
start_notifier(PGresult *res, int row)
{
	struct alert_row	r;
	struct alert_result	none = { 0 };
	struct child		*c;

	row_of(res, row, &r);
	if (!alertjob_has_channels(&r)) {
		none.webhooks = xstrdup("[]");
		none.integrations = xstrdup("[]");
		record_result(r.id, sv->id, &none, NULL);
		return;
	}
	if ((c = child_start(&notifier, sv->conf.notifier)) == NULL) {
		log_warn("alert %s: cannot start %s", r.id, sv->conf.notifier);
		return;
	}
	strlcpy(c->id, r.id, sizeof(c->id));
	strlcpy(c->owner, sv->id, sizeof(c->owner));
	log_debug("alert %s (%s): notifier pid %ld", c->id, r.event,
	    (long)c->pid);
	child_give(c, alertjob_build(&r, &c->asked), NOTIFIER_TIMEOUT_MS);
}

/*
 * The next look: at once when the claim took all it could (more may be
 * waiting), else when the earliest event it saw is due, and after
 * CHECK_EVERY_MS at the latest.  One due now that the claim did not
 * take is locked by another supervisor's claim: a moment later.
 */
static void
plan_next(PGresult *res, int taken, int free_n)
{
	int64_t	now = mono_ms(), delay = CHECK_EVERY_MS;

	if (taken == free_n) {
		next_check_ms = 0;
		return;
	}
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, A_NEXT)) {
		delay = strtoll(PQgetvalue(res, 0, A_NEXT), NULL, 10);
		if (delay < LOCKED_GAP_MS)
			delay = LOCKED_GAP_MS;
		if (delay > CHECK_EVERY_MS)
			delay = CHECK_EVERY_MS;
	}
	next_check_ms = now + delay;
}

static void
claimed(PGresult **res, void *arg)
{
	int	i, taken = 0, free_n = (int)(intptr_t)arg;

	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res[0]); i++) {
		if (PQgetisnull(res[0], i, A_ID))
			continue;
		taken++;
		/* Claimed before a stop: its claim runs out, it comes again. */
		if (!sv->stopping)
			start_notifier(res[0], i);
		wipe_column(res[0], i, A_WEBHOOKS);
		wipe_column(res[0], i, A_INTEGRATIONS);
	}
	plan_next(res[0], taken, free_n);
}

static void
result_written(PGresult **res, void *arg)
{
	struct unwritten	*u = &unwritten[0];

	(void)arg;
	if (res == NULL) {
		next_check_ms = mono_ms() + CHECK_EVERY_MS;
		write_failed = 1;
		return;
	}
	write_failed = 0;
	if (PQntuples(res[0]) == 1 && strcmp(PQgetvalue(res[0], 0, 0),
	    "pending"))
		log_info("alert %s %s%s%s", u->alert_id, PQgetvalue(res[0], 0,
		    0), PQgetisnull(res[0], 0, 1) ? "" : ": ",
		    PQgetvalue(res[0], 0, 1));
	else if (PQntuples(res[0]) == 1)
		log_info("alert %s: will retry: %s", u->alert_id,
		    PQgetisnull(res[0], 0, 1) ? "nothing answered" :
		    PQgetvalue(res[0], 0, 1));
	alertresult_free(&u->result);
	free(u->error);
	memmove(unwritten, unwritten + 1, --nunwritten * sizeof(*unwritten));
	next_check_ms = 0;
}

/* The oldest delivery result; 1 if its write went out. */
static int
write_result(void)
{
	struct unwritten	*u = &unwritten[0];
	char			 retry[16];

	snprintf(retry, sizeof(retry), "%d", sv->conf.alert_retry);
	return db_query(result_sql, 8, (const char *const[]){ u->alert_id,
	    u->owner, u->result.webhooks, u->result.email,
	    u->result.integrations, u->result.command_pending ? "true" :
	    "false", u->error, retry }, result_written, NULL) == 0;
}

/*
 * Writes the deliveries' results, then claims due events for the free
 * notifiers (not while stopping) and starts them; 1 if a statement went
 * out.
 */
int
alerts_step(void)
{
	char	n[16];
	int	free_n = NOTIFIERS_MAX - alerts_running();

	/* Stopping: the results go now, or are delivered again later. */
	if (nunwritten > 0 && ((sv->stopping && !write_failed) ||
	    mono_ms() >= next_check_ms))
		return write_result();
	if (mono_ms() < next_check_ms)
		return 0;
	next_check_ms = mono_ms() + CHECK_EVERY_MS;
	if (sv->stopping || free_n == 0)
		return 0;
	last_claim_ms = mono_ms();
	snprintf(n, sizeof(n), "%d", free_n);
	return db_query(claim_alerts_sql, 2,
	    (const char *const[]){ sv->id, n }, claimed,
	    (void *)(intptr_t)free_n) == 0;
}

/* Takes r's texts over. */
static void
record_result(const char *alert_id, const char *owner,
    struct alert_result *r, const char *error)
{
	struct unwritten	*u;

	if (nunwritten == UNWRITTEN_MAX) {
		log_warnx("alert %s: cannot record its delivery now; it will "
		    "be delivered again when its claim runs out", alert_id);
		alertresult_free(r);
		return;
	}
	u = &unwritten[nunwritten++];
	strlcpy(u->alert_id, alert_id, sizeof(u->alert_id));
	strlcpy(u->owner, owner, sizeof(u->owner));
	u->result = *r;
	u->error = error != NULL ? xstrdup(error) : NULL;
	next_check_ms = 0;
}

/* Exit 0 (all sent) and 75 (some to retry) come with a result. */
static int
answered(int wstatus)
{
	return WIFEXITED(wstatus) && (WEXITSTATUS(wstatus) == 0 ||
	    WEXITSTATUS(wstatus) == EX_TEMPFAIL);
}

static void
notifier_timed_out(struct child *c)
{
	log_warnx("alert %s: the notifier (pid %ld) outlived %d s; "
	    "terminating it", c->id, (long)c->pid, NOTIFIER_TIMEOUT_MS / 1000);
}

/* Why a notifier left no result we can use. */
static void
no_result_why(const struct child *c, int wstatus, char *buf, size_t len)
{
	char	how[128];

	describe_wait_status(wstatus, how, sizeof(how));
	if (c->out_too_long)
		snprintf(buf, len, "%s; its result was larger than %zu bytes",
		    how, c->kind->out_max);
	else
		strlcpy(buf, how, len);
}

/* A delivery's end: what it did, to be written. */
static void
notifier_done(struct child *c, int wstatus)
{
	struct alert_result	r;
	char			why[256];

	if (answered(wstatus) && alertresult_parse(c->out, c->asked, &r) == 0)
		record_result(c->id, c->owner, &r, NULL);
	else {
		no_result_why(c, wstatus, why, sizeof(why));
		log_warnx("alert %s: the notifier %s without delivering",
		    c->id, why);
		memset(&r, 0, sizeof(r));
		r.command_pending = 1;
		record_result(c->id, c->owner, &r, why);
	}
}
