/*
 * The supervisor's one database connection, never waited on.
 *
 * Like the postmaster, the supervisor blocks nowhere but in its one
 * poll(2).  The connection is opened with PQconnectStartParams and
 * driven by PQconnectPoll; statements go out in pipeline mode on a
 * non-blocking socket, and their answers are read as they arrive.  A
 * round trip ("trip") is one or more statements and a Sync: at most one
 * is outstanding, and when its Sync comes back its caller's function is
 * called with the results.  Every trip runs in a transaction of its own
 * with SET LOCAL timeouts and an empty search_path, so that a pooler
 * never sees session state, or in the one a previous trip left open (the
 * claim spans two).
 *
 * Every trip has a deadline measured here, well inside the lease: a
 * server or pooler that stops answering while it keeps the connection
 * open (TCP keepalives cannot tell) is dropped, the caller hears of a
 * failure, and the loop goes on as in any outage: outcomes kept, a
 * reconnect with backoff, one log line when it starts, one when it ends.
 */
#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "supervisor.h"

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	30000
#define CONNECT_MS	5000	/* libpq's connect_timeout binds only PQconnectdb */
#define DEADLINE_MIN_MS	1000
#define TRIP_STMTS	8	/* statements of ours, wrappers not counted */
#define TRIP_RESULTS	(TRIP_STMTS + 3)	/* BEGIN, settings, COMMIT */

enum db_state {
	DB_DOWN,		/* waiting for the next attempt */
	DB_CONNECTING,		/* PQconnectPoll in progress */
	DB_SESSION,		/* connected, LISTEN on its way */
	DB_READY
};

struct trip {
	int		 active;
	int		 nstmts;	/* ours */
	int		 nsent;		/* all statements, wrappers too */
	int		 slot[TRIP_RESULTS];	/* ours: its index; else -1 */
	int		 nresults;	/* all results so far */
	int		 failed;
	struct db_error	 error;
	const void	*site;		/* its first statement: whose it is */
	PGresult	*res[TRIP_RESULTS];
	struct prepared	*prepared;	/* prepared on the way */
	int		 prepare_at;	/* the Prepare's result */
	db_reply_fn	*fn;
	void		*arg;
	int64_t		 deadline_ms;
};

static PGconn		*conn;
static enum db_state	 state = DB_DOWN;
static PostgresPollingStatusType connect_wants;
static struct trip	 trip;
static int		 want_write;	/* PQflush has more to send */
static int64_t		 next_attempt_ms;
static int64_t		 connect_deadline_ms;
static int64_t		 backoff_ms = BACKOFF_MIN_MS;
static int64_t		 up_since_ms;
static int64_t		 outage_since_ms = -1;	/* -1: none */
static int		 failures_in_row;	/* connection attempts */
static int		 lost_said;	/* this outage began with a loss, logged */
static unsigned long	 connections;
static char		 last_error[512];
static int		 checking;	/* -n: quiet, no LISTEN */
static unsigned long	 answers;
static struct db_error	 last_failure;	/* of the last trip that failed */

unsigned long
db_connections(void)
{
	return connections;
}

/* Trips the server has answered so far, with results or an error. */
unsigned long
db_answers(void)
{
	return answers;
}

int
db_connected(void)
{
	return state == DB_READY;
}

/* A statement may be sent now. */
int
db_idle(void)
{
	return state == DB_READY && !trip.active &&
	    PQtransactionStatus(conn) == PQTRANS_IDLE;
}

/* A transaction of a chain of trips is open: only its owner may send. */
int
db_in_transaction(void)
{
	return state == DB_READY && !trip.active &&
	    PQtransactionStatus(conn) == PQTRANS_INTRANS;
}

/* The next connection attempt, while there is none under way. */
int64_t
db_next_attempt_ms(void)
{
	return state == DB_DOWN ? next_attempt_ms : INT64_MAX;
}

int64_t
db_up_since_ms(void)
{
	return up_since_ms;
}

/* How long one trip may take: a third of the lease, at least a second. */
static int64_t
trip_budget_ms(void)
{
	int64_t	ms = sv->conf.lease * 1000LL / 3;

	return ms < DEADLINE_MIN_MS ? DEADLINE_MIN_MS : ms;
}

/* libpq's multi-line message as one log line. */
static const char *
one_line(const char *text)
{
	static char	 msg[1024];
	char		*out = msg;
	int		 space = 0;

	for (; *text != '\0' && out < msg + sizeof(msg) - 1; text++) {
		if (isspace((unsigned char)*text)) {
			space = 1;
			continue;
		}
		if (space && out > msg)
			*out++ = ' ';
		space = 0;
		*out++ = *text;
	}
	*out = '\0';
	return msg;
}

static const char *
db_error(PGconn *c)
{
	return one_line(c != NULL ? PQerrorMessage(c) : "out of memory");
}

/* The server's notices (and a FATAL before it closes) go to our log. */
static void
notice_to_log(void *arg, const char *message)
{
	(void)arg;
	log_info("database says: %s", one_line(message));
}

/*
 * A schedule's change asks for a claim, a batch test's end for a
 * completion pass, a new alert for a look at the outbox.  Any role may
 * NOTIFY these channels: each is a hint, posted for the loop (events.c),
 * which hands it to the pass that spaces such hints out (the claim,
 * completion.c, alerts.c), so that a flood of them costs a bounded
 * number of trips; their payloads are not read.
 */
static void
take_notifies(void)
{
	PGnotify	*n;

	while ((n = PQnotifies(conn)) != NULL) {
		if (strcmp(n->relname, "evalsched_batch_end") == 0)
			event_post(EV_NOTIFY_BATCH_END);
		else if (strcmp(n->relname, "evalsched_wakeup") == 0)
			event_post(EV_NOTIFY_WAKEUP);
		else if (strcmp(n->relname, "evalsched_alert") == 0)
			event_post(EV_NOTIFY_ALERT);
		PQfreemem(n);
	}
}

static void
schedule_retry(void)
{
	next_attempt_ms = mono_ms() + backoff_ms;
	backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    backoff_ms * 2;
}

static void
trip_clear(void)
{
	int	i;

	for (i = 0; i < trip.nresults; i++)
		PQclear(trip.res[i]);
	memset(&trip, 0, sizeof(trip));
}

/* The caller of an unfinished trip hears that it failed. */
static void
trip_abandon(void)
{
	db_reply_fn	*fn = trip.fn;
	void		*arg = trip.arg;
	int		 active = trip.active;

	if (trip.prepared != NULL)
		trip.prepared->connection = 0;
	trip_clear();
	if (active && fn != NULL)
		fn(NULL, arg);
}

static void
close_conn(void)
{
	/* Non-blocking: the goodbye PQfinish sends cannot hang us. */
	PQfinish(conn);
	conn = NULL;
	want_write = 0;
	state = DB_DOWN;
}

/*
 * The connection is gone, or we gave up on it.  The outage begins: one
 * line now, one when it is back.
 */
static void
db_lost(const char *why)
{
	log_warnx("database connection lost: %s; outcomes are kept until "
	    "it is back", why);
	memset(&last_failure, 0, sizeof(last_failure));
	strlcpy(last_failure.message, why, sizeof(last_failure.message));
	if (outage_since_ms < 0)
		outage_since_ms = mono_ms();
	lost_said = 1;
	close_conn();
	next_attempt_ms = mono_ms();
	backoff_ms = BACKOFF_MIN_MS;
	trip_abandon();
}

static void
connect_failed(const char *why)
{
	strlcpy(last_error, why, sizeof(last_error));
	memset(&last_failure, 0, sizeof(last_failure));
	strlcpy(last_failure.message, why, sizeof(last_failure.message));
	/*
	 * Say so the first time (unless the loss was just said) and then
	 * now and again, not always.
	 */
	if (!checking && (failures_in_row + lost_said) % 10 == 0)
		log_warnx("database unreachable, retrying in %lld ms: %s",
		    (long long)backoff_ms, why);
	failures_in_row++;
	if (outage_since_ms < 0)
		outage_since_ms = mono_ms();
	close_conn();
	schedule_retry();
	trip_abandon();
}

static void
connected(void)
{
	if (outage_since_ms >= 0 && connections > 0)
		log_info("database reachable again after %lld s (%d failed "
		    "attempt%s)", (long long)(mono_ms() - outage_since_ms +
		    500) / 1000, failures_in_row, failures_in_row == 1 ? "" :
		    "s");
	else if (failures_in_row > 0)
		log_info("database reachable again (after %d failed "
		    "attempt%s)", failures_in_row, failures_in_row == 1 ? "" :
		    "s");
	outage_since_ms = -1;
	failures_in_row = 0;
	lost_said = 0;
	backoff_ms = BACKOFF_MIN_MS;
	up_since_ms = mono_ms();
	connections++;
	state = DB_READY;
	if (checking)
		return;
	/* A batch test may have ended while we were away. */
	event_post(EV_CONNECTED);
}

/*
 * Our settings, local to the transaction: timeouts bounded well inside
 * ours, and an empty search_path.  Roles other than ours may create
 * objects in public, and a function or operator is the best match found
 * on the whole path, so a public.format(text, text) would beat
 * pg_catalog's format(text, VARIADIC "any") and run with our rights.
 * With the path empty only pg_catalog is searched, and our statements
 * name every table with its schema.  This one is sent before the path is
 * emptied: it names its functions' schema too.
 */
static int
send_settings(void)
{
	char	stmt[24], lock[24];

	/* A trip has up to three statements that can take long: all fit. */
	snprintf(stmt, sizeof(stmt), "%lld", (long long)trip_budget_ms() /
	    4);
	snprintf(lock, sizeof(lock), "%lld", (long long)trip_budget_ms() /
	    8);
	return PQsendQueryParams(conn, "SELECT pg_catalog.set_config("
	    "'search_path', '', true), pg_catalog.set_config("
	    "'statement_timeout', $1, true), pg_catalog.set_config("
	    "'lock_timeout', $2, true)", 2, NULL,
	    (const char *const[]){ stmt, lock }, NULL, NULL, 0);
}

static int
send_simple(const char *sql)
{
	return PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/*
 * A statement run at every pass, prepared once per connection so that
 * it is planned once, not each time.  Behind a transaction-mode pooler
 * (listen = no) the next transaction may reach another server
 * connection, which does not know it: there it is sent whole each time.
 */
static int
send_stmt(const struct db_stmt *s)
{
	struct prepared	*p = s->prepared;

	if (p == NULL || !sv->conf.listen)
		return PQsendQueryParams(conn, p != NULL ? p->sql : s->sql,
		    s->n, NULL, s->params, NULL, NULL, 0);
	if (p->connection != connections) {
		if (PQsendPrepare(conn, p->name, p->sql, s->n, NULL) == 0)
			return 0;
		trip.prepare_at = trip.nsent;
		trip.slot[trip.nsent++] = -1;
		p->connection = connections;
		trip.prepared = p;
	}
	return PQsendQueryPrepared(conn, p->name, s->n, s->params, NULL,
	    NULL, 0);
}

static int
flush_out(void)
{
	int	r = PQflush(conn);

	want_write = r == 1;
	return r == -1 ? -1 : 0;
}

/* Puts one trip on the wire; -1 (and nothing outstanding) on failure. */
static int
trip_send(int flags, const struct db_stmt *stmts, int n, db_reply_fn *fn,
    void *arg)
{
	int64_t	budget = trip_budget_ms();
	int	i, ok = 1;

	if (conn == NULL || trip.active || n > TRIP_STMTS)
		return -1;
	memset(&trip, 0, sizeof(trip));
	if (flags & DB_OPEN) {
		ok = send_simple("BEGIN") && send_settings();
		trip.slot[trip.nsent++] = -1;
		trip.slot[trip.nsent++] = -1;
	}
	for (i = 0; ok && i < n; i++) {
		ok = send_stmt(&stmts[i]);
		trip.slot[trip.nsent++] = i;
	}
	if (ok && (flags & DB_CLOSE)) {
		ok = send_simple("COMMIT");
		trip.slot[trip.nsent++] = -1;
	}
	if (!ok || PQpipelineSync(conn) == 0 || flush_out() == -1) {
		memset(&trip, 0, sizeof(trip));
		db_lost(db_error(conn));
		return -1;
	}
	trip.active = 1;
	trip.nstmts = n;
	trip.site = n == 0 ? NULL : stmts[0].prepared != NULL ?
	    (const void *)stmts[0].prepared : (const void *)stmts[0].sql;
	trip.fn = fn;
	trip.arg = arg;
	trip.deadline_ms = mono_ms() + budget;
	return 0;
}

/*
 * Statements of a transaction that spans trips: DB_OPEN begins it,
 * DB_CLOSE commits it; between them only its owner may send.  So every
 * statement of ours runs after the settings of its transaction's first
 * trip (LISTEN and ROLLBACK, sent outside, name nothing).
 */
int
db_send(int flags, const struct db_stmt *stmts, int n, db_reply_fn *fn,
    void *arg)
{
	if (!(flags & DB_OPEN) ? !db_in_transaction() : !db_idle())
		return -1;
	return trip_send(flags, stmts, n, fn, arg);
}

/* A statement in a transaction of its own, as every one but the claim. */
int
db_query(const char *sql, int n, const char *const *params, db_reply_fn *fn,
    void *arg)
{
	struct db_stmt	s = { sql, NULL, n, params };

	return db_send(DB_OPEN | DB_CLOSE, &s, 1, fn, arg);
}

int
db_query_prepared(struct prepared *p, int n, const char *const *params,
    db_reply_fn *fn, void *arg)
{
	struct db_stmt	s = { NULL, p, n, params };

	return db_send(DB_OPEN | DB_CLOSE, &s, 1, fn, arg);
}

static void
session_ready(PGresult **res, void *arg)
{
	(void)arg;
	if (res != NULL)
		connected();
	else if (conn != NULL)
		connect_failed("cannot LISTEN");
}

/* Non-blocking, in pipeline mode; then LISTEN, unless behind a pooler. */
static void
session_start(void)
{
	const struct db_stmt	listen[] = {
		{ "LISTEN evalsched_wakeup", NULL, 0, NULL },
		{ "LISTEN evalsched_batch_end", NULL, 0, NULL },
		{ "LISTEN evalsched_alert", NULL, 0, NULL },
	};

	if (PQsetnonblocking(conn, 1) == -1 || PQenterPipelineMode(conn) ==
	    0) {
		connect_failed(db_error(conn));
		return;
	}
	state = DB_SESSION;
	if (!sv->conf.listen || checking)
		connected();
	else
		(void)trip_send(0, listen, sizeof(listen) / sizeof(listen[0]),
		    session_ready, NULL);
}

/* Starts a connection attempt; the loop's poll drives it on. */
static void
connect_start(void)
{
	/*
	 * Our defaults come first; the operator's conninfo, expanded from
	 * "dbname", overrides them.  Keepalives notice a dead peer while we
	 * wait on LISTEN; the deadlines here notice a live one that hangs.
	 */
	const char *const keys[] = { "connect_timeout", "keepalives",
	    "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "tcp_user_timeout", "application_name", "dbname", NULL };
	const char *const values[] = { "5", "1", "10", "5", "3", "15000",
	    "evalsched-supervisor", sv->conf.database, NULL };

	conn = PQconnectStartParams(keys, values, 1);
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD) {
		connect_failed(db_error(conn));
		return;
	}
	PQsetNoticeProcessor(conn, notice_to_log, NULL);
	state = DB_CONNECTING;
	connect_wants = PGRES_POLLING_WRITING;
	connect_deadline_ms = mono_ms() + (trip_budget_ms() < CONNECT_MS ?
	    trip_budget_ms() : CONNECT_MS);
}

static void
connect_poll(void)
{
	switch ((connect_wants = PQconnectPoll(conn))) {
	case PGRES_POLLING_FAILED:
		connect_failed(db_error(conn));
		break;
	case PGRES_POLLING_OK:
		session_start();
		break;
	default:
		break;
	}
}

/* When it is time, a connection attempt begins; the poll drives it. */
void
db_step(void)
{
	if (state == DB_DOWN && !sv->stopping && mono_ms() >= next_attempt_ms)
		connect_start();
}

/*
 * The innermost function of an error's context ("PL/pgSQL function
 * f() line 8 at SQL statement", "SQL function \"f\" statement 1"):
 * for an error in a trigger, the trigger's function.
 */
static void
context_function(const char *context, char *buf, size_t len)
{
	const char	*p, *q;
	size_t		 n;

	buf[0] = '\0';
	if (context == NULL)
		return;
	if ((p = strstr(context, "PL/pgSQL function ")) != NULL) {
		p += strlen("PL/pgSQL function ");
		n = strcspn(p, "( \n");
	} else if ((p = strstr(context, "SQL function \"")) != NULL) {
		p += strlen("SQL function \"");
		n = (q = strchr(p, '"')) != NULL ? (size_t)(q - p) : 0;
	} else
		return;
	if (n > 0 && n + 3 <= len)
		snprintf(buf, len, "%.*s()", (int)n, p);
}

/* A failed statement's SQLSTATE, words and function. */
static void
error_of(const PGresult *r, struct db_error *e)
{
	const char	*code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char	*primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	memset(e, 0, sizeof(*e));
	strlcpy(e->sqlstate, code != NULL ? code : "", sizeof(e->sqlstate));
	strlcpy(e->message, one_line(primary != NULL ? primary :
	    PQresultErrorMessage(r)), sizeof(e->message));
	context_function(PQresultErrorField(r, PG_DIAG_CONTEXT), e->function,
	    sizeof(e->function));
}

/* One answer, kept in its statement's place, or the first error. */
static void
trip_take(PGresult *r)
{
	int	i = trip.nresults;

	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		break;
	case PGRES_PIPELINE_ABORTED:
		PQclear(r);
		r = NULL;
		break;
	default:
		if (!trip.failed)
			error_of(r, &trip.error);
		trip.failed = 1;
		PQclear(r);
		r = NULL;
		break;
	}
	if (i < TRIP_RESULTS) {
		trip.res[i] = r;
		trip.nresults++;
	} else
		PQclear(r);
}

static void
rollback(void)
{
	const struct db_stmt	s = { "ROLLBACK", NULL, 0, NULL };

	(void)trip_send(0, &s, 1, NULL, NULL);
}

/*
 * A statement prepared on this connection, unknown to the server that
 * ran this transaction: a pooler in transaction mode gave it another
 * server connection, as it does with listen = yes (pooler.c: -n says so
 * beforehand).  Said once per connection.
 */
static void
prepared_lost(const struct db_error *e)
{
	static unsigned long	said;

	if (strcmp(e->sqlstate, "26000") != 0 || said == connections ||
	    checking)
		return;
	said = connections;
	log_warnx("database: %s: a statement prepared on this connection is "
	    "unknown to the server that ran the transaction: a pooler in "
	    "transaction mode? set listen = no (evalsched-supervisor -n "
	    "checks)", e->message);
}

/* The Sync came back: the caller has its answers. */
static void
trip_finish(void)
{
	PGresult	*mine[TRIP_STMTS] = { NULL };
	db_reply_fn	*fn = trip.fn;
	void		*arg = trip.arg;
	int		 i, n = trip.nstmts;

	answers++;
	if (trip.failed) {
		last_failure = trip.error;
		prepared_lost(&trip.error);
		if (!checking)
			refusal_note(trip.site, &trip.error);
		/* A statement prepared stays so, even if its transaction failed. */
		if (trip.prepared != NULL && (trip.prepare_at >= trip.nresults ||
		    trip.res[trip.prepare_at] == NULL))
			trip.prepared->connection = 0;
		trip_clear();
		if (PQtransactionStatus(conn) != PQTRANS_IDLE)
			rollback();
		if (fn != NULL)
			fn(NULL, arg);
		return;
	}
	for (i = 0; i < trip.nresults; i++)
		if (trip.slot[i] >= 0) {
			mine[trip.slot[i]] = trip.res[i];
			trip.res[i] = NULL;
		}
	refusal_clear(trip.site);
	trip_clear();
	if (fn != NULL)
		fn(mine, arg);
	for (i = 0; i < n; i++)
		PQclear(mine[i]);
	/* A chain that forgot its transaction would stop the connection. */
	if (conn != NULL && !trip.active &&
	    PQtransactionStatus(conn) == PQTRANS_INTRANS) {
		log_warnx("database: a transaction was left open; rolled back");
		rollback();
	}
}

static void
read_results(void)
{
	PGresult	*r;
	int		 nulls = 0;

	while (conn != NULL && trip.active && !PQisBusy(conn)) {
		if ((r = PQgetResult(conn)) == NULL) {
			/* The end of one statement's results, or of all. */
			if (++nulls > 1)
				break;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			trip_finish();
			return;
		}
		trip_take(r);
	}
}

/* What the poll saw on the socket. */
void
db_io(short revents)
{
	if (conn == NULL || revents == 0)
		return;
	if (state == DB_CONNECTING) {
		connect_poll();
		return;
	}
	if (want_write && flush_out() == -1) {
		db_lost(db_error(conn));
		return;
	}
	if (!(revents & (POLLIN | POLLERR | POLLHUP)))
		return;
	if (PQconsumeInput(conn) == 0 || PQstatus(conn) == CONNECTION_BAD) {
		db_lost(db_error(conn));
		return;
	}
	read_results();
	/* Parsing the answer may have found a notification, or the end. */
	if (conn != NULL && PQstatus(conn) == CONNECTION_BAD) {
		db_lost(db_error(conn));
		return;
	}
	if (conn != NULL)
		take_notifies();
}

/* The socket for the loop's poll, and what to wait for on it. */
void
db_pollfd(struct pollfd *p)
{
	p->fd = conn != NULL ? PQsocket(conn) : -1;
	p->events = POLLIN;
	p->revents = 0;
	if (state == DB_CONNECTING)
		p->events = connect_wants == PGRES_POLLING_READING ? POLLIN :
		    POLLOUT;
	else if (want_write)
		p->events |= POLLOUT;
}

/* When we stop waiting for the server: the trip's, capped by a stop. */
int64_t
db_deadline_ms(void)
{
	int64_t	t = INT64_MAX;

	if (state == DB_CONNECTING)
		t = connect_deadline_ms;
	else if (trip.active)
		t = trip.deadline_ms;
	if (t != INT64_MAX && sv->stopping && sv->exit_by_ms < t)
		t = sv->exit_by_ms;
	return t;
}

void
db_check_deadline(int64_t now)
{
	char	why[128];

	if (now < db_deadline_ms())
		return;
	if (state == DB_CONNECTING || state == DB_SESSION) {
		connect_failed("no answer to the connection attempt");
		return;
	}
	snprintf(why, sizeof(why), "no answer within %lld ms (a stalled "
	    "server or pooler); dropped it", (long long)trip_budget_ms());
	db_lost(why);
}

/* Before the loop (-n, -1): waits on the socket alone, up to the deadline. */
void
db_wait(void)
{
	struct pollfd	pfd;
	int64_t		t;

	db_pollfd(&pfd);
	if ((t = db_deadline_ms()) == INT64_MAX)
		return;
	if (pfd.fd == -1) {
		db_check_deadline(mono_ms());
		return;
	}
	t -= mono_ms();
	if (poll(&pfd, 1, t < 0 ? 0 : (int)t) == -1)
		return;
	db_io(pfd.revents);
	db_check_deadline(mono_ms());
}

/*
 * Before the loop: one attempt, waited for, the reason in err.  For -n
 * (check: quiet, no LISTEN), and for -1, which needs the database at
 * once.
 */
int
db_connect_once(int check, char *err, size_t errlen)
{
	checking = check;
	connect_start();
	while (state == DB_CONNECTING || state == DB_SESSION)
		db_wait();
	if (state == DB_READY)
		return 0;
	strlcpy(err, last_error, errlen);
	return -1;
}

static PGresult	*waited;
static int	 answered;

static void
keep_answer(PGresult **res, void *arg)
{
	(void)arg;
	answered = 1;
	if (res != NULL) {
		waited = res[0];
		res[0] = NULL;
	}
}

/* For -n only: one statement, waited for; NULL on failure. */
PGresult *
db_query_wait(const char *sql, int n, const char *const *params)
{
	waited = NULL;
	answered = 0;
	if (db_query(sql, n, params, keep_answer, NULL) == -1)
		return NULL;
	while (!answered)
		db_wait();
	return waited;
}

const struct db_error *
db_last_error(void)
{
	return &last_failure;
}

/*
 * For -n, which needs a transaction of its own with savepoints (each
 * trial write in one, so that a failure hides none after it): the
 * connection, blocking and out of pipeline mode; db_give_back() puts it
 * back as the rest of this file wants it.
 */
PGconn *
db_borrow(void)
{
	/* A failed check's ROLLBACK may be on its way. */
	while (state == DB_READY && trip.active)
		db_wait();
	if (state != DB_READY || trip.active ||
	    PQexitPipelineMode(conn) == 0 || PQsetnonblocking(conn, 0) == -1)
		return NULL;
	return conn;
}

void
db_give_back(void)
{
	if (conn != NULL && (PQsetnonblocking(conn, 1) == -1 ||
	    PQenterPipelineMode(conn) == 0))
		db_lost(db_error(conn));
}

void
db_disconnect(void)
{
	if (conn != NULL)
		close_conn();
	trip_abandon();
}

const char *
db_value_or_dash(PGresult *res, int row, int col, const char *unit,
    char *buf, size_t len)
{
	if (PQgetisnull(res, row, col))
		return "-";
	snprintf(buf, len, "%s%s", PQgetvalue(res, row, col), unit);
	return buf;
}
