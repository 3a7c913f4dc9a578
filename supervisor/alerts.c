/*
 * Delivering alerts.  Events wait in the outbox (evalsched_alerts), put
 * there in the same transaction as the fact that caused them.  A
 * supervisor claims due events with FOR UPDATE SKIP LOCKED (so no two
 * supervisors deliver one), hands each to a short-lived
 * evalsched-notifier child with the owner's subscribed webhooks and
 * their secrets on its stdin, and when the child exits records what it
 * did: one alert_history row per webhook delivery, the webhook's
 * last_success_at / last_failure_at / failure_count as the application
 * keeps them, and what is left to retry, after a pause that doubles,
 * until alert_retry seconds after the event; then it is recorded as
 * failed.  A webhook that keeps failing costs the schedules nothing.
 * Starting a notifier, feeding it, reading it and reaping it is
 * child.c's, as for a jobrunner; what its end means is here.
 */
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <json.h>

#include "json1.h"
#include "log.h"
#include "text.h"
#include "url.h"
#include "supervisor.h"

#define NOTIFIERS_MAX		2	/* deliveries at once */
#define CLAIM_S			120	/* a claimed event is ours this long */
#define NOTIFIER_TIMEOUT_MS	60000	/* SIGTERM, then SIGKILL */
#define WEBHOOK_TIMEOUT_MS	10000
#define CHECK_EVERY_MS		30000	/* for retries and others' events */
#define WEBHOOKS_MAX		100	/* per delivery, as the notifier takes */
/*
 * Characters of a webhook's URL and secret the notifier has room for
 * (evalsched-notifier(8)); a webhook with a longer one is handed over as
 * "refused", and fails with that reason.
 */
#define WEBHOOK_URL_MAX		2048
#define WEBHOOK_SECRET_MAX	1024
#define UNWRITTEN_MAX		64	/* results kept while the database fails */

/*
 * A notifier's result names each webhook (a UUID) with its error text
 * (at most 512 bytes, twice that escaped): about 110 KiB for 100
 * webhooks at worst, more than a pipe holds, and read as it comes.
 * A larger result is no notifier's.
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
	char	 alert_id[UUID_LEN + 1];
	char	 owner[UUID_LEN + 1];
	char	*webhooks;	/* NULL: no result */
	int	 command_pending;
	char	*error;
};

static struct unwritten	unwritten[UNWRITTEN_MAX];
static int		nunwritten;
static int64_t		next_check_ms;
static int		write_failed;	/* the last result's write */

/* An event no notifier has now: claimed by none, or its claim ran out. */
#define UNCLAIMED(a)							\
	a ".state = 'pending' AND " a ".next_attempt_at <= now() AND ("	\
	a ".claimed_until IS NULL OR " a ".claimed_until < now())"

/* The users of the oldest this many due events take turns. */
#define DUE_WINDOW	1000

/*
 * $1 our id, $2 how many; the webhooks to try come along, secrets too.
 * The notifiers are shared between users: one at a time per user (none
 * for a user whose event a notifier has now, here or on another
 * supervisor), the user served least recently first (one never served
 * first of all), then the oldest event.  So a user whose webhook hangs
 * holds one notifier, not every one, and their backlog waits behind
 * nobody's but their own.  Ranked first, locked after: PostgreSQL locks
 * no row under a window function.
 */
static const char claim_sql[] =
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
	"c AS (SELECT a.id, a.user_id FROM first f "
	"  JOIN public.evalsched_alerts a ON a.id = f.id "
	"  LEFT JOIN public.evalsched_turns t ON t.user_id = f.user_id "
	"  WHERE f.rank = 1 AND " UNCLAIMED("a")
	"  ORDER BY t.alerted_at NULLS FIRST, f.next_attempt_at, f.id "
	"  LIMIT $2 FOR UPDATE OF a SKIP LOCKED), "
	/* In the order of their users: no two claims wait in a circle. */
	"turn AS (INSERT INTO public.evalsched_turns AS t (user_id, alerted_at) "
	"  SELECT c.user_id, now() FROM c ORDER BY c.user_id "
	"  ON CONFLICT (user_id) DO UPDATE SET alerted_at = now()) "
	"UPDATE public.evalsched_alerts a SET claimed_by = $1, "
	"  claimed_until = now() + interval '" STR(CLAIM_S) " seconds', "
	"  attempts = a.attempts + 1 "
	"FROM c WHERE a.id = c.id "
	"RETURNING a.id, a.event, a.title, a.message, a.metadata::text, "
	"  to_char(a.created_at AT TIME ZONE 'UTC', "
	"    'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	"  coalesce(a.command_pending, true), "
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
	"      AND coalesce(w.enabled, true) "
	"      AND coalesce(CASE a.event "
	"        WHEN 'scheduled_eval_failed' "
	"          THEN w.alert_scheduled_eval_failed "
	"        WHEN 'scheduled_eval_disabled' "
	"          THEN w.alert_scheduled_eval_disabled "
	"        WHEN 'scheduled_eval_regression' "
	"          THEN w.alert_scheduled_eval_regression "
	/* A metric rule's: the application has no toggle, so every one. */
	"        ELSE true END, true) "
	"      AND (a.pending_webhooks IS NULL "
	"        OR w.id = ANY (a.pending_webhooks)) "
	"      ORDER BY w.created_at, w.id LIMIT " STR(WEBHOOKS_MAX) ") w)::text";

enum { A_ID, A_EVENT, A_TITLE, A_MESSAGE, A_METADATA, A_TIME, A_COMMAND,
    A_WEBHOOKS };

/*
 * What a delivery attempt came to: $1 the event, $2 our id, $3 the
 * webhooks' results [{id, ok, status_code, error, retry}], or NULL when
 * the notifier left none (then what was pending stays so), $4 whether
 * alert_command is still to run, $5 an error for the attempt as a
 * whole, $6 alert_retry in seconds.  A webhook's alert_history row is
 * written when its delivery ends: delivered, given up, or refused (retry
 * false: a destination not allowed is not tried again).  An event with
 * nothing left to try is delivered, or failed if a webhook was refused.
 */
static const char result_sql[] =
	"WITH a AS (SELECT *, now() > created_at + $6 * interval '1 second' "
	"    AS give_up FROM public.evalsched_alerts WHERE id = $1 "
	"    AND claimed_by = $2 AND state = 'pending' FOR UPDATE), "
	"x AS (SELECT * FROM json_to_recordset($3::json) AS x(id uuid, "
	"    ok boolean, status_code integer, error text, retry boolean)), "
	"ok AS (UPDATE public.user_webhooks w SET last_success_at = now(), "
	"    failure_count = 0 FROM x, a WHERE w.id = x.id AND x.ok), "
	"bad AS (UPDATE public.user_webhooks w SET last_failure_at = now(), "
	"    failure_count = coalesce(w.failure_count, 0) + 1 "
	"  FROM x, a WHERE w.id = x.id AND NOT x.ok), "
	"h AS (INSERT INTO public.alert_history (user_id, alert_type, title, "
	"    message, metadata, webhook_sent, webhook_sent_at, webhook_id, "
	"    webhook_status_code, webhook_error) "
	"  SELECT a.user_id, a.event, a.title, a.message, a.metadata::jsonb, "
	"    x.ok, CASE WHEN x.ok THEN now() END, "
	"    (SELECT w.id FROM public.user_webhooks w WHERE w.id = x.id), "
	"    x.status_code, x.error "
	"  FROM a, x WHERE x.ok OR a.give_up OR NOT coalesce(x.retry, true)), "
	"n AS (SELECT $3::json IS NOT NULL AS answered, "
	"    (SELECT array_agg(x.id) FROM x WHERE NOT x.ok "
	"      AND coalesce(x.retry, true)) AS left_ids, "
	"    EXISTS (SELECT FROM x WHERE NOT x.ok "
	"      AND NOT coalesce(x.retry, true)) AS refused), "
	"v AS (SELECT a.id, a.give_up, n.answered, n.refused, "
	"    CASE WHEN n.answered THEN coalesce(n.left_ids, '{}') "
	"      ELSE a.pending_webhooks END AS left_ids, "
	"    n.answered AND n.left_ids IS NULL AND NOT $4 AS delivered "
	"  FROM a, n) "
	"UPDATE public.evalsched_alerts e SET "
	"  pending_webhooks = v.left_ids, command_pending = $4, "
	"  claimed_by = NULL, claimed_until = NULL, "
	"  last_error = coalesce($5, (SELECT string_agg(x.error, '; ') "
	"    FROM x WHERE NOT x.ok), CASE WHEN $4 THEN 'alert_command failed' "
	"    END), "
	"  state = CASE WHEN v.delivered AND NOT v.refused THEN 'delivered' "
	"    WHEN v.delivered OR v.give_up THEN 'failed' ELSE 'pending' END, "
	"  done_at = CASE WHEN v.delivered OR v.give_up THEN now() END, "
	"  next_attempt_at = now() + least(interval '10 minutes', "
	"    interval '5 seconds' * power(2, least(e.attempts - 1, 10))) "
	"FROM v WHERE e.id = v.id "
	"RETURNING e.state, e.last_error";

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

static json_object *
parsed(const char *text)
{
	json_object	*o = json_tokener_parse(text);

	return o != NULL ? o : json_object_new_object();
}

static void
add_column(json_object *o, const char *key, PGresult *res, int row, int col)
{
	json_object_object_add(o, key,
	    json_object_new_string(PQgetvalue(res, row, col)));
}

/*
 * The webhooks' URLs (Slack's and Discord's are credentials) and secrets
 * leave no copy in what json-c or libpq frees.
 */
static void
wipe_webhooks(json_object *hooks)
{
	size_t	i;

	for (i = 0; i < json_object_array_length(hooks); i++) {
		json1_wipe_member(json_object_array_get_idx(hooks, i), "url");
		json1_wipe_member(json_object_array_get_idx(hooks, i), "secret");
	}
}

static void
wipe_column(PGresult *res, int row, int col)
{
	char	*v = PQgetvalue(res, row, col);

	explicit_bzero(v, strlen(v));
}

/* webhook_allow as the notifier takes it: ["10.0.0.0/8", ...]. */
static json_object *
allow_json(void)
{
	json_object		*a = json_object_new_array();
	struct url_allow	 allow;
	char			 net[NET_TEXT_MAX];
	size_t			 i;

	/* Checked when the configuration was read. */
	if (sv->conf.webhook_allow == NULL ||
	    url_allow_parse(&allow, sv->conf.webhook_allow, NULL, 0) == -1)
		return a;
	for (i = 0; i < allow.n; i++) {
		net_format(&allow.nets[i], net, sizeof(net));
		json_object_array_add(a, json_object_new_string(net));
	}
	return a;
}

/* The notifier's job: the event as the application formats it, and where. */
static char *
notifier_job(PGresult *res, int row)
{
	json_object	*job = json_object_new_object(), *ev = json_object_new_object();
	json_object	*hooks = parsed(PQgetvalue(res, row, A_WEBHOOKS));
	const char	*cmd = sv->conf.alert_command;
	char		*text, *printed;

	add_column(ev, "type", res, row, A_EVENT);
	add_column(ev, "title", res, row, A_TITLE);
	add_column(ev, "message", res, row, A_MESSAGE);
	add_column(ev, "timestamp", res, row, A_TIME);
	json_object_object_add(ev, "metadata",
	    parsed(PQgetvalue(res, row, A_METADATA)));
	add_column(job, "alert_id", res, row, A_ID);
	json_object_object_add(job, "event", ev);
	json_object_object_add(job, "webhooks", json_object_get(hooks));
	json_object_object_add(job, "command", cmd != NULL && *cmd != '\0' &&
	    strcmp(PQgetvalue(res, row, A_COMMAND), "t") == 0 ?
	    json_object_new_string(cmd) : NULL);
	json_object_object_add(job, "timeout_ms",
	    json_object_new_int(WEBHOOK_TIMEOUT_MS));
	/* Not tls_ca_file: that is the application's CA, not the users'. */
	json_object_object_add(job, "webhook_allow", allow_json());
	printed = (char *)(uintptr_t)json_object_to_json_string_ext(job,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	text = xstrdup(printed);
	explicit_bzero(printed, strlen(printed));
	wipe_webhooks(hooks);
	json_object_put(hooks);
	json_object_put(job);
	return text;
}

/* Whether there is anything to deliver to at all. */
static int
has_channels(PGresult *res, int row)
{
	const char	*cmd = sv->conf.alert_command;

	return strcmp(PQgetvalue(res, row, A_WEBHOOKS), "[]") != 0 ||
	    (cmd != NULL && *cmd != '\0' &&
	    strcmp(PQgetvalue(res, row, A_COMMAND), "t") == 0);
}

static void	record_result(const char *alert_id, const char *owner,
		    const char *webhooks, int command_pending,
		    const char *error);

/*
 * Hands the event to a notifier.  One that cannot be started leaves the
 * event claimed: it is tried again when its claim runs out.
 */
static void
start_notifier(PGresult *res, int row)
{
	struct child	*c;

	if (!has_channels(res, row)) {
		record_result(PQgetvalue(res, row, A_ID), sv->id, "[]", 0,
		    NULL);
		return;
	}
	if ((c = child_start(&notifier, sv->conf.notifier)) == NULL) {
		log_warn("alert %s: cannot start %s", PQgetvalue(res, row,
		    A_ID), sv->conf.notifier);
		return;
	}
	strlcpy(c->id, PQgetvalue(res, row, A_ID), sizeof(c->id));
	strlcpy(c->owner, sv->id, sizeof(c->owner));
	log_debug("alert %s (%s): notifier pid %ld", c->id,
	    PQgetvalue(res, row, A_EVENT), (long)c->pid);
	child_give(c, notifier_job(res, row), NOTIFIER_TIMEOUT_MS);
}

static void
claimed(PGresult **res, void *arg)
{
	int	i, free_n = (int)(intptr_t)arg;

	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res[0]); i++) {
		/* Claimed before a stop: its claim runs out, it comes again. */
		if (!sv->stopping)
			start_notifier(res[0], i);
		wipe_column(res[0], i, A_WEBHOOKS);
	}
	/* As many as we could take: more may be waiting. */
	if (PQntuples(res[0]) == free_n)
		next_check_ms = 0;
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
		    PQgetvalue(res[0], 0, 1));
	free(u->webhooks);
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
	return db_query(result_sql, 6, (const char *const[]){ u->alert_id,
	    u->owner, u->webhooks, u->command_pending ? "true" : "false",
	    u->error, retry }, result_written, NULL) == 0;
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
	snprintf(n, sizeof(n), "%d", free_n);
	return db_query(claim_sql, 2, (const char *const[]){ sv->id, n },
	    claimed, (void *)(intptr_t)free_n) == 0;
}

static void
record_result(const char *alert_id, const char *owner, const char *webhooks,
    int command_pending, const char *error)
{
	struct unwritten	*u;

	if (nunwritten == UNWRITTEN_MAX) {
		log_warnx("alert %s: cannot record its delivery now; it will "
		    "be delivered again when its claim runs out", alert_id);
		return;
	}
	u = &unwritten[nunwritten++];
	strlcpy(u->alert_id, alert_id, sizeof(u->alert_id));
	strlcpy(u->owner, owner, sizeof(u->owner));
	u->webhooks = webhooks != NULL ? xstrdup(webhooks) : NULL;
	u->command_pending = command_pending;
	u->error = error != NULL ? xstrdup(error) : NULL;
	next_check_ms = 0;
}

/* The result's webhooks and whether the command is still to run. */
static int
parse_result(const char *text, char **webhooks, int *command_pending)
{
	json_object	*o, *w, *c, *ok;

	if (text == NULL || json1_parse(text, strlen(text), 0, &o, NULL, 0) ==
	    -1 || o == NULL)
		return -1;
	/* A document it refused says so; nothing was delivered then. */
	if (json_object_object_get_ex(o, "error", &c) && c != NULL) {
		json_object_put(o);
		return -1;
	}
	if (!json_object_object_get_ex(o, "webhooks", &w) ||
	    !json_object_is_type(w, json_type_array)) {
		json_object_put(o);
		return -1;
	}
	*webhooks = xstrdup(json_object_to_json_string_ext(w,
	    JSON_C_TO_STRING_PLAIN));
	*command_pending = json_object_object_get_ex(o, "command", &c) &&
	    c != NULL && !(json_object_object_get_ex(c, "ok", &ok) &&
	    json_object_get_boolean(ok));
	json_object_put(o);
	return 0;
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
	char	*webhooks = NULL, why[256];
	int	 pending = 0;

	if (answered(wstatus) && parse_result(c->out, &webhooks, &pending) == 0)
		record_result(c->id, c->owner, webhooks, pending, NULL);
	else {
		no_result_why(c, wstatus, why, sizeof(why));
		log_warnx("alert %s: the notifier %s without delivering",
		    c->id, why);
		record_result(c->id, c->owner, NULL, 1, why);
	}
	free(webhooks);
}
