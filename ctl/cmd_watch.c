/*
 * watch: the runs as they happen, pushed by PostgreSQL.  The schema
 * additions' triggers announce each change of a run (dispatched,
 * accepted, completed, failed, cancelled, regression) and each schedule
 * disabled on the channel evalsched_events when the change commits;
 * this command LISTENs and prints one line per event (one JSON object
 * per line with --json), flushed at once.
 *
 * Any role may LISTEN and NOTIFY on any channel, so an announcement
 * names a row and says nothing else, and it is only a hint: what is
 * printed is read from the row, with this command's own rights, one
 * query for the announcements that came together.  An announcement is
 * printed only when its row shows that what it announces happened: a
 * forged one is dropped, or at most repeats a true event.
 *
 * One connection, waited on in ppoll(2) with SIGINT and SIGTERM blocked
 * outside it, so that either ends the stream cleanly (exit 0) wherever
 * it comes; its queries are sent and read without blocking.  A
 * connection that breaks (a database restart) is replaced, with backoff,
 * and LISTENs again; what was announced before the break is still looked
 * up.  An idle one is pinged, so that a connection that died silently is
 * found within a minute.  NOTIFY is not stored: events while
 * disconnected are not seen, and stderr says so.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "ctl.h"
#include "jsonget.h"
#include "text.h"
#include "tz.h"

#define CHANNEL		"evalsched_events"
#define SYNOPSIS	"[--json] [ID|NAME]"
#define PING_IDLE_MS	30000	/* quiet this long: ask the server */
#define PING_WAIT_MS	15000	/* no answer this long: the connection is dead */
#define CONNECT_MS	10000
#define BACKOFF_MIN_MS	250
#define BACKOFF_MAX_MS	10000
/*
 * Lookups are this far apart, at least: any role may NOTIFY our channel,
 * and a flood of announcements then costs at most ten queries a second,
 * each for all that came meanwhile.  An event prints this much later at
 * worst.
 */
#define LOOKUP_GAP_MS	100
#define HINTS_MAX	100000	/* announcements waiting, at most */

/*
 * The rows a batch of announcements names, read with the watcher's own
 * rights, as one JSON object each, in the order the announcements came
 * ($1: [{"event", "run_id" | "schedule_id", "auto"}]).  A row is
 * printed only when it shows the event: a run exists for dispatched,
 * was started for accepted, has the status for completed, failed and
 * cancelled, is a regression for regression; a schedule is inactive for
 * disabled.  Whether a disable was evalsched's is the announcement's
 * "auto" (evalsched_notify_disabled reads it from evalsched_disabled_at,
 * which the row keeps only until a resume).  An announcement repeated
 * in one batch is printed once.  The time is the row's time of the
 * event; text is cut to keep a line short.
 */
static const char lookup_sql[] =
	"SELECT json_strip_nulls(json_build_object("
	"  'event', n.event, "
	"  'time', to_char(coalesce(CASE n.event "
	"      WHEN 'dispatched' THEN r.triggered_at "
	"      WHEN 'accepted' THEN r.started_at "
	"      WHEN 'disabled' THEN s.updated_at "
	"      ELSE r.completed_at END, statement_timestamp()) "
	"    AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
	"  'run_id', r.id, "
	"  'schedule_id', coalesce(r.scheduled_evaluation_id, s.id), "
	"  'schedule', left(s.name, 200), "
	"  'slot_at', CASE n.event WHEN 'dispatched' THEN to_char("
	"    r.slot_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	"    END, "
	"  'batch_test_run_id', CASE WHEN n.event IN ('accepted', 'completed', "
	"    'failed', 'cancelled') THEN r.batch_test_run_id END, "
	"  'total_prompts', CASE WHEN e.ended THEN r.total_prompts END, "
	"  'successful_prompts', CASE WHEN e.ended "
	"    THEN r.successful_prompts END, "
	"  'failed_prompts', CASE WHEN e.ended THEN r.failed_prompts END, "
	"  'avg_latency_ms', CASE WHEN e.ended "
	"    THEN trim_scale(r.avg_latency_ms) END, "
	"  'avg_quality_score', CASE WHEN e.ended OR n.event = 'regression' "
	"    THEN trim_scale(r.avg_quality_score) END, "
	"  'blame', CASE n.event WHEN 'failed' "
	"    THEN left(r.error_details->>'blame', 40) END, "
	"  'error', CASE WHEN n.event IN ('failed', 'cancelled') "
	"    THEN left(r.error_message, 200) END, "
	"  'baseline_run_id', CASE n.event WHEN 'regression' "
	"    THEN r.baseline_run_id END, "
	"  'regression_details', CASE n.event WHEN 'regression' "
	"    THEN r.regression_details END, "
	"  'auto', CASE n.event WHEN 'disabled' THEN n.auto END, "
	"  'consecutive_failures', CASE n.event WHEN 'disabled' "
	"    THEN s.consecutive_failures END, "
	"  'reason', CASE WHEN n.event = 'disabled' AND n.auto "
	"    THEN left(s.evalsched_disabled_reason, 200) END))::text AS ev "
	"FROM (SELECT min(a.i) AS i, a.h->>'event' AS event, "
	"    (a.h->>'run_id')::uuid AS run_id, "
	"    (a.h->>'schedule_id')::uuid AS schedule_id, "
	"    bool_or((a.h->>'auto')::boolean) AS auto "
	"  FROM json_array_elements($1::json) WITH ORDINALITY AS a(h, i) "
	"  GROUP BY 2, 3, 4) n "
	"LEFT JOIN public.scheduled_evaluation_runs r ON r.id = n.run_id "
	"  AND r.slot_at IS NOT NULL "
	"LEFT JOIN public.scheduled_evaluations s ON s.id = coalesce("
	"  r.scheduled_evaluation_id, n.schedule_id) "
	"CROSS JOIN LATERAL (SELECT n.event IN ('completed', 'failed', "
	"  'cancelled') AND r.batch_test_run_id IS NOT NULL AS ended) e "
	"WHERE CASE n.event "
	"  WHEN 'dispatched' THEN r.id IS NOT NULL "
	"  WHEN 'accepted' THEN r.started_at IS NOT NULL "
	"  WHEN 'regression' THEN r.regression_detected "
	"  WHEN 'disabled' THEN NOT s.is_active "
	"  ELSE r.status = n.event END "
	"ORDER BY n.i";

static volatile sig_atomic_t	stop_signal;

enum out { OUT_NONE, OUT_PING, OUT_LOOKUP };

struct watch {
	struct ctl	*c;
	const char	*sched_id;	/* only this schedule's events, or NULL */
	sigset_t	 waitmask;	/* the mask while waiting: signals let in */
	enum out	 out;		/* the query that is out */
	long long	 deadline;	/* of the next ping, or of an answer */
	json_object	*hints;		/* announcements to look up, in order */
	json_object	*queued;	/* the keys of hints, as a set */
	size_t		 nsent;		/* the first of them, being looked up */
	long long	 lookup_at;	/* the next lookup, not before */
	int		 overflow;	/* HINTS_MAX reached, said */
	char		 fatal[512];	/* the server's parting words */
};

static void
on_signal(int sig)
{
	stop_signal = sig;
}

/*
 * Waits for fd (none when fd < 0) for at most ms: 1 ready, 0 timed out,
 * -1 a stop signal came.
 */
static int
wait_fd(struct watch *w, int fd, short events, long long ms)
{
	struct pollfd	pfd = { fd, events, 0 };
	struct timespec	ts;
	int		n;

	if (ms < 0)
		ms = 0;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = ms % 1000 * 1000000;
	n = ppoll(&pfd, fd >= 0 ? 1 : 0, &ts, &w->waitmask);
	if (stop_signal)
		return -1;
	if (n < 0 && errno != EINTR) {
		perror("evalschedctl: watch: ppoll");
		exit(EX_OSERR);
	}
	return n > 0 ? 1 : 0;
}

/*
 * The server says FATAL as it ends a connection (a shutdown): kept as
 * the reason of the loss.  Other notices are shown, escaped.
 */
static void
on_notice(void *arg, const PGresult *res)
{
	struct watch	*w = arg;
	const char	*sev, *msg = PQresultErrorMessage(res);

	sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (sev != NULL && (strcmp(sev, "FATAL") == 0 ||
	    strcmp(sev, "PANIC") == 0)) {
		strlcpy(w->fatal, msg, sizeof(w->fatal));
		return;
	}
	out_lines(stderr, "evalschedctl: watch: database: ", msg);
}

/* libpq's message on one line, its runs of white space made one space. */
static void
say(const char *head, const char *msg, const char *tail)
{
	char	buf[1024];
	size_t	n = 0;

	for (; *msg != '\0' && n < sizeof(buf) - 1; msg++) {
		if (strchr(" \t\n\r", *msg) == NULL)
			buf[n++] = *msg;
		else if (n > 0 && buf[n - 1] != ' ')
			buf[n++] = ' ';
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	out_line(stderr, "evalschedctl: watch: %s%s%s", head, buf, tail);
}

/*
 * The search_path is emptied for the session first, as db_exec empties
 * it for each statement, so that nothing sent on this connection
 * resolves a name in a schema others can write.  LISTEN needs a session
 * of its own: no transaction-mode pooler shares it.
 */
static int
listen_on(struct watch *w)
{
	PGresult	*res;
	int		 ok;

	PQsetNoticeReceiver(w->c->conn, on_notice, w);
	res = PQexec(w->c->conn, "SELECT pg_catalog.set_config('search_path', "
	    "'', false)");
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		PQclear(res);
		res = PQexec(w->c->conn, "LISTEN " CHANNEL);
	}
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		say("LISTEN: ", res != NULL ? PQresultErrorMessage(res) :
		    PQerrorMessage(w->c->conn), "");
	PQclear(res);
	/* A lookup lost with the old connection goes out again. */
	w->out = OUT_NONE;
	w->nsent = 0;
	w->deadline = mono_ms() + PING_IDLE_MS;
	w->fatal[0] = '\0';
	return ok ? 0 : -1;
}

/*
 * One attempt, without blocking, so that a signal ends it: 1 connected
 * and listening, 0 failed (said why), -1 stopped.
 */
static int
connect_once(struct watch *w, const char *retry)
{
	const char		*keys[] = { "fallback_application_name",
				    "dbname", NULL };
	const char		*vals[] = { "evalschedctl",
				    w->c->cfg.database, NULL };
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	long long		 deadline = mono_ms() + CONNECT_MS;
	PGconn			*conn;
	int			 r;

	/* libpq returns no connection only for want of memory. */
	if ((conn = PQconnectStartParams(keys, vals, 1)) == NULL)
		out_of_memory("PQconnectStartParams");
	w->c->conn = conn;
	while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	    st != PGRES_POLLING_FAILED) {
		r = wait_fd(w, PQsocket(conn), st == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, deadline - mono_ms());
		if (r == -1)
			return -1;
		if (r == 0) {
			out_line(stderr, "evalschedctl: watch: cannot "
			    "reconnect: no answer within %d s%s",
			    CONNECT_MS / 1000, retry);
			return 0;
		}
		st = PQconnectPoll(conn);
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		say("cannot reconnect: ", PQerrorMessage(conn), retry);
		return 0;
	}
	return listen_on(w) == 0 ? 1 : 0;
}

/* Until connected and listening again (0), or stopped (-1). */
static int
reconnect(struct watch *w, const char *why)
{
	char	retry[64], secs[32];
	long	backoff = BACKOFF_MIN_MS;
	int	r;

	say("lost the database connection: ", w->fatal[0] != '\0' ?
	    w->fatal : why, "; reconnecting");
	for (;;) {
		db_close(w->c);
		if (wait_fd(w, -1, 0, backoff) == -1)
			return -1;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    backoff * 2;
		text_seconds(backoff, secs, sizeof(secs));
		snprintf(retry, sizeof(retry), "; retrying in %s", secs);
		if ((r = connect_once(w, retry)) == -1)
			return -1;
		if (r == 1)
			break;
	}
	out_line(stderr, "evalschedctl: watch: reconnected and listening; "
	    "events while disconnected were not seen");
	return 0;
}

/* "2025-06-01T12:00:01.123456Z" to the operator's local time. */
static void
event_time(json_object *ev, char *buf, size_t len)
{
	const char	*s = jget_str(ev, "time");
	struct tz	*utc;
	char		 err[128];
	int64_t		 t;

	if (s == NULL)
		s = "";
	utc = tz_load(NULL, err, sizeof(err));
	if (tz_parse_time(utc, s, &t, err, sizeof(err)) == -1)
		snprintf(buf, len, "%s", s);
	else
		fmt_clock(t, NULL, buf, len);
	tz_release(utc);
}

/* A number, or NAN when it is not there. */
static double
number_or_nan(json_object *o, const char *key)
{
	double	d = NAN;

	jget_num(o, key, &d);
	return d;
}

static void
run_ref(struct watch *w, json_object *ev, char *buf, size_t len)
{
	char	id[UUID_LEN + 1];

	id_cell(w->c, jget_str(ev, "run_id"), id, sizeof(id));
	snprintf(buf, len, "run %s", id);
}

static void
completed_details(json_object *ev, const char *run, char *buf, size_t len)
{
	double	lat = number_or_nan(ev, "avg_latency_ms");
	double	q = number_or_nan(ev, "avg_quality_score");
	char	l[32] = "-", qs[32] = "-";

	if (!isnan(lat))
		snprintf(l, sizeof(l), "%.0f ms", lat);
	if (!isnan(q))
		snprintf(qs, sizeof(qs), "%.1f%%", q * 100);
	snprintf(buf, len, "%s, %.0f of %.0f prompts succeeded, latency %s, "
	    "quality %s", run, number_or_nan(ev, "successful_prompts"),
	    number_or_nan(ev, "total_prompts"), l, qs);
}

/* "quality -20.45%, success rate -10.00% (threshold 10%)" */
static void
regression_details(struct watch *w, json_object *ev, const char *run,
    char *buf, size_t len)
{
	json_object	*d = jget(ev, "regression_details"), *m;
	const char	*base = jget_str(ev, "baseline_run_id");
	char		 b[UUID_LEN + 1], part[64];
	double		 thr = NAN;
	size_t		 n;

	id_cell(w->c, base, b, sizeof(b));
	n = (size_t)snprintf(buf, len, "%s against run %s", run, b);
	if ((m = jget(d, "avg_quality_score")) != NULL) {
		snprintf(part, sizeof(part), ": quality %+.2f%%",
		    number_or_nan(m, "change_percent"));
		n += strlcpy(buf + (n < len ? n : len), part,
		    n < len ? len - n : 0);
		thr = number_or_nan(m, "threshold_percent");
	}
	if ((m = jget(d, "success_rate")) != NULL) {
		snprintf(part, sizeof(part), "%s success rate %+.2f%%",
		    isnan(thr) ? ":" : ",", number_or_nan(m, "change_percent"));
		n += strlcpy(buf + (n < len ? n : len), part,
		    n < len ? len - n : 0);
		thr = number_or_nan(m, "threshold_percent");
	}
	if (!isnan(thr) && n < len)
		snprintf(buf + n, len - n, " (threshold %g%%)", thr);
}

/*
 * A name's own '"' and '\\' with a backslash before them, so that the
 * quotes around it end where it does: a name cannot make the rest of the
 * line read as another event.  (out_line then escapes what a terminal
 * would obey, a newline included.)
 */
static char *
quote_name(const char *name)
{
	char	*q, *p;

	q = p = xcalloc(strlen(name) + 1, 2);
	for (; *name != '\0'; name++) {
		if (*name == '"' || *name == '\\')
			*p++ = '\\';
		*p++ = *name;
	}
	*p = '\0';
	return q;
}

static void
print_text(struct watch *w, json_object *ev, const char *event)
{
	char		 when[64], run[64], details[1024];
	const char	*name = jget_str(ev, "schedule");
	const char	*err = jget_str(ev, "error");
	const char	*blame = jget_str(ev, "blame");
	const char	*reason;
	char		 batch[UUID_LEN + 1], *quoted;

	event_time(ev, when, sizeof(when));
	run_ref(w, ev, run, sizeof(run));
	if (strcmp(event, "dispatched") == 0)
		snprintf(details, sizeof(details), "%s", run);
	else if (strcmp(event, "accepted") == 0) {
		id_cell(w->c, jget_str(ev, "batch_test_run_id"), batch,
		    sizeof(batch));
		snprintf(details, sizeof(details), "%s, batch test %s", run,
		    batch);
	} else if (strcmp(event, "completed") == 0)
		completed_details(ev, run, details, sizeof(details));
	else if (strcmp(event, "failed") == 0)
		snprintf(details, sizeof(details), "%s%s%s: %s", run,
		    blame != NULL ? ", the fault of the " : "",
		    blame != NULL ? blame : "", err != NULL ? err : "-");
	else if (strcmp(event, "cancelled") == 0)
		snprintf(details, sizeof(details), "%s%s%s", run,
		    err != NULL ? ": " : "", err != NULL ? err : "");
	else if (strcmp(event, "regression") == 0)
		regression_details(w, ev, run, details, sizeof(details));
	else if (strcmp(event, "disabled") == 0) {
		/*
		 * Why, as evalsched wrote it: "N consecutive failures",
		 * or what is wrong with a bad row.
		 */
		reason = jget_str(ev, "reason");
		if (jget_flag(ev, "auto", 0))
			snprintf(details, sizeof(details), "auto-disabled%s%s",
			    reason == NULL ? "" : strspn(reason, "0123456789")
			    > 0 ? " after " : ": ", reason != NULL ? reason : "");
		else
			snprintf(details, sizeof(details), "paused");
	} else
		snprintf(details, sizeof(details), "%s", jget_str(ev,
		    "run_id") != NULL ? run : "-");
	quoted = quote_name(name != NULL ? name : "?");
	out_line(stdout, "%s \"%s\" %s: %s", when, quoted, event, details);
	free(quoted);
}

/* One line of JSON, escaped as json_print escapes a document. */
static void
print_json(json_object *ev)
{
	const char	*doc;
	char		*esc;
	size_t		 n;

	doc = jtext(ev, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	n = text_escape_json(NULL, 0, doc);
	esc = xcalloc(n + 1, 1);
	text_escape_json(esc, n + 1, doc);
	puts(esc);
	free(esc);
}

/* One row of the lookup: 0, or EX_IOERR when stdout is gone. */
static int
show(struct watch *w, const char *row)
{
	json_object	*ev = json_tokener_parse(row);
	const char	*event, *sched;

	if (ev == NULL || (event = jget_str(ev, "event")) == NULL) {
		json_object_put(ev);
		return 0;
	}
	sched = jget_str(ev, "schedule_id");
	if (w->sched_id == NULL || (sched != NULL &&
	    strcmp(sched, w->sched_id) == 0)) {
		if (w->c->json)
			print_json(ev);
		else
			print_text(w, ev, event);
	}
	json_object_put(ev);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("evalschedctl: watch: stdout");
		return EX_IOERR;
	}
	return 0;
}

static int
known_event(const char *event)
{
	static const char *const events[] = { "dispatched", "accepted",
	    "completed", "failed", "cancelled", "regression", "disabled",
	    NULL };
	int	i;

	for (i = 0; event != NULL && events[i] != NULL; i++)
		if (strcmp(event, events[i]) == 0)
			return 1;
	return 0;
}

/*
 * An announcement of ours, made a hint to look up ({"event", "run_id"}
 * or {"event", "schedule_id", "auto"}), with what tells it from others
 * in key; or NULL when it is not one.  The ids are checked here, so
 * that no hint can make the lookup fail.
 */
static json_object *
hint_of(const char *payload, char *key, size_t keylen)
{
	json_object	*p = json_tokener_parse(payload), *h = NULL, *a = NULL;
	const char	*event, *id, *idkey;
	int		 disabled;

	if (p == NULL || !json_object_is_type(p, json_type_object))
		goto done;
	event = jget_str(p, "event");
	if (!known_event(event))
		goto done;
	disabled = strcmp(event, "disabled") == 0;
	idkey = disabled ? "schedule_id" : "run_id";
	if (!job_is_uuid(id = jget_str(p, idkey)))
		goto done;
	if (disabled && !json_object_is_type(a = jget(p, "auto"),
	    json_type_boolean))
		goto done;
	h = jnew_object();
	jset(h, "event", jnew_string(event));
	jset(h, idkey, jnew_string(id));
	if (a != NULL)
		jset(h, "auto", json_object_get(a));
	snprintf(key, keylen, "%s %s %d", event, id, a != NULL &&
	    json_object_get_boolean(a));
done:
	json_object_put(p);
	return h;
}

/*
 * An announcement of ours, queued to be looked up, unless the same one
 * is queued already (a flood of copies costs one lookup); the rest are
 * ignored.
 */
static void
queue_hint(struct watch *w, const char *payload)
{
	json_object	*h;
	char		 key[64];

	if ((h = hint_of(payload, key, sizeof(key))) == NULL)
		return;
	if (json_object_object_get_ex(w->queued, key, NULL)) {
		json_object_put(h);
		return;
	}
	if (json_object_array_length(w->hints) < HINTS_MAX) {
		jset(h, "key", jnew_string(key));
		jpush(w->hints, h);
		jset(w->queued, key, NULL);
		return;
	}
	json_object_put(h);
	if (!w->overflow)
		out_line(stderr, "evalschedctl: watch: %d announcements wait "
		    "to be read; more are ignored until they are", HINTS_MAX);
	w->overflow = 1;
}

/* The hints a lookup answered: out of the queue. */
static void
unqueue_sent(struct watch *w)
{
	size_t	i;

	for (i = 0; i < w->nsent; i++)
		json_object_object_del(w->queued, jget_str(
		    json_object_array_get_idx(w->hints, i), "key"));
	json_object_array_del_idx(w->hints, 0, w->nsent);
	w->nsent = 0;
	w->overflow = 0;
}

static void
take_notifies(struct watch *w)
{
	PGnotify	*n;

	while ((n = PQnotifies(w->c->conn)) != NULL) {
		if (strcmp(n->relname, CHANNEL) == 0)
			queue_hint(w, n->extra);
		PQfreemem(n);
	}
}

/* The hints queued so far, in one query: NULL, or why it failed. */
static const char *
send_lookup(struct watch *w)
{
	const char	*param;

	param = jtext(w->hints, JSON_C_TO_STRING_PLAIN);
	if (!PQsendQueryParams(w->c->conn, lookup_sql, 1, NULL, &param, NULL,
	    NULL, 0))
		return PQerrorMessage(w->c->conn);
	w->out = OUT_LOOKUP;
	w->nsent = json_object_array_length(w->hints);
	w->deadline = mono_ms() + PING_WAIT_MS;
	w->lookup_at = mono_ms() + LOOKUP_GAP_MS;
	return NULL;
}

/* The rows of a lookup, printed: 0 or an exit status. */
static int
lookup_read(struct watch *w, PGresult *res)
{
	int	i, status = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		say("cannot read the events' rows: ",
		    PQresultErrorMessage(res), "");
		return 0;
	}
	for (i = 0; i < PQntuples(res) && status == 0; i++)
		status = show(w, PQgetvalue(res, i, 0));
	return status;
}

/*
 * The answer to what is out, as far as it came without waiting: 0, or
 * an exit status.
 */
static int
take_results(struct watch *w)
{
	PGresult	*res;
	int		 status = 0;

	while (w->out != OUT_NONE && !PQisBusy(w->c->conn)) {
		if ((res = PQgetResult(w->c->conn)) == NULL) {
			if (w->out == OUT_LOOKUP)
				unqueue_sent(w);
			w->out = OUT_NONE;
			break;
		}
		if (w->out == OUT_LOOKUP && status == 0)
			status = lookup_read(w, res);
		PQclear(res);
	}
	return status;
}

/* Reads what came: 0, -1 the connection is lost, or an exit status. */
static int
consume(struct watch *w)
{
	PGconn	*conn = w->c->conn;
	int	 status;

	if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
		return -1;
	status = take_results(w);
	take_notifies(w);
	if (w->out == OUT_NONE)
		w->deadline = mono_ms() + PING_IDLE_MS;
	return status;
}

/*
 * Sends what is next when nothing is out: the hints queued, when their
 * time comes, or a ping after a quiet while.  NULL, or why the
 * connection is taken for lost.
 */
static const char *
send_next(struct watch *w)
{
	if (w->out == OUT_PING && mono_ms() >= w->deadline)
		return "no answer to a ping";
	if (w->out == OUT_LOOKUP && mono_ms() >= w->deadline)
		return "no answer to a query";
	if (w->out != OUT_NONE)
		return NULL;
	if (json_object_array_length(w->hints) > 0)
		return mono_ms() >= w->lookup_at ? send_lookup(w) : NULL;
	if (mono_ms() < w->deadline)
		return NULL;
	if (!PQsendQuery(w->c->conn, "SELECT 1"))
		return PQerrorMessage(w->c->conn);
	w->out = OUT_PING;
	w->deadline = mono_ms() + PING_WAIT_MS;
	return NULL;
}

/* When to act next if nothing comes: a deadline, or the next lookup. */
static long long
wake_at(const struct watch *w)
{
	if (w->out == OUT_NONE && json_object_array_length(w->hints) > 0 &&
	    w->lookup_at < w->deadline)
		return w->lookup_at;
	return w->deadline;
}

static int
watch_loop(struct watch *w)
{
	const char	*why;
	int		 r;

	for (;;) {
		if ((why = send_next(w)) == NULL) {
			r = wait_fd(w, PQsocket(w->c->conn), POLLIN,
			    wake_at(w) - mono_ms());
			if (r == -1)
				return 0;
			if (r == 0)
				continue;
			if ((r = consume(w)) > 0)
				return r;
			if (r == 0)
				continue;
			why = PQerrorMessage(w->c->conn);
		}
		if (reconnect(w, why) == -1)
			return 0;
	}
}

/* Without the triggers of the schema additions, nothing would come. */
static int
check_triggers(struct ctl *c)
{
	PGresult	*res;
	long long	 n;

	res = db_exec(c, "SELECT count(*) AS n FROM pg_trigger "
	    "WHERE tgname IN ('evalsched_notify_run', "
	    "'evalsched_notify_disabled') AND NOT tgisinternal", 0, NULL);
	if (res == NULL)
		return c->dbstatus;
	n = db_int(res, 0, "n");
	PQclear(res);
	if (n >= 2)
		return 0;
	fputs("evalschedctl: watch: the database has no event triggers: "
	    "apply schema-additions.sql\n", stderr);
	return EX_SOFTWARE;
}

/* The rows are read with our rights: whether we may, before we listen. */
static int
check_lookup(struct ctl *c)
{
	const char	*none = "[]";
	PGresult	*res;

	if ((res = db_exec(c, lookup_sql, 1, &none)) == NULL)
		return c->dbstatus;
	PQclear(res);
	return 0;
}

int
cmd_watch(struct ctl *c, int argc, char **argv)
{
	struct sigaction	 sa;
	struct watch		 w;
	sigset_t		 stops;
	const char		*arg;
	char			 id[UUID_LEN + 1];
	int			 status;

	if ((status = ctl_opts(c, argc, argv, "watch", SYNOPSIS, -1)) != 0)
		return status;
	arg = argc > optind ? argv[optind] : NULL;
	memset(&w, 0, sizeof(w));
	w.c = c;
	/* Blocked outside ppoll from before the first LISTEN. */
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &w.waitmask);
	sigdelset(&w.waitmask, SIGINT);
	sigdelset(&w.waitmask, SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if ((status = ctl_connect(c)) != 0 ||
	    (status = check_triggers(c)) != 0 ||
	    (status = check_lookup(c)) != 0)
		return status;
	if (arg != NULL) {
		if ((status = sched_resolve(c, arg, id, sizeof(id))) != 0)
			return status;
		w.sched_id = id;
	}
	if (listen_on(&w) == -1)
		return PQstatus(c->conn) != CONNECTION_OK ? EX_UNAVAILABLE :
		    EX_SOFTWARE;
	w.hints = jnew_array();
	w.queued = jnew_object();
	status = watch_loop(&w);
	json_object_put(w.hints);
	json_object_put(w.queued);
	return status;
}
