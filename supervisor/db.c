/*
 * The supervisor's one database connection.  A lost connection is
 * noticed on any failed call (and by TCP keepalives when idle); the loop
 * then reconnects with capped exponential backoff, re-LISTENs, and polls
 * at once, since a NOTIFY may have been missed meanwhile.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "supervisor.h"

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	30000

static PGconn	*conn;
static int64_t	 next_attempt_ms;
static int64_t	 backoff_ms = BACKOFF_MIN_MS;
static int64_t	 up_since_ms;
static int	 failures_in_row;
static unsigned long connections;

unsigned long
db_connections(void)
{
	return connections;
}

int
db_connected(void)
{
	return conn != NULL;
}

int
db_socket(void)
{
	return conn != NULL ? PQsocket(conn) : -1;
}

int64_t
db_next_attempt_ms(void)
{
	return next_attempt_ms;
}

int64_t
db_up_since_ms(void)
{
	return up_since_ms;
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

/* Wake-ups are counted; a batch test's end asks for a completion pass. */
static int
take_notifies(void)
{
	PGnotify	*n;
	int		 woken = 0;

	while ((n = PQnotifies(conn)) != NULL) {
		if (strcmp(n->relname, "evalsched_batch_end") == 0)
			completion_soon();
		else
			woken++;
		PQfreemem(n);
	}
	return woken;
}

static PGconn *
db_open(void)
{
	/*
	 * Our defaults come first; the operator's conninfo, expanded from
	 * "dbname", overrides them.  Keepalives notice a dead peer while we
	 * wait on LISTEN.
	 */
	const char *const keys[] = { "connect_timeout", "keepalives",
	    "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "tcp_user_timeout", "application_name", "dbname", NULL };
	const char *const values[] = { "5", "1", "10", "5", "3", "15000",
	    "evalsched-supervisor", sv->conf.database, NULL };

	return PQconnectdbParams(keys, values, 1);
}

/*
 * On a connection of our own (not behind a transaction-mode pooler, where
 * session state would leak to others): LISTEN, and bound how long one
 * statement or lock wait may hold up the loop, well inside the lease.
 */
static int
db_session(void)
{
	PGresult	*res;
	char		 stmt[16], lock[16];

	if (!sv->conf.listen)
		return 0;
	snprintf(stmt, sizeof(stmt), "%d", sv->conf.lease * 1000 / 2);
	snprintf(lock, sizeof(lock), "%d", sv->conf.lease * 1000 / 4);
	res = db_exec("SELECT set_config('statement_timeout', $1, false), "
	    "set_config('lock_timeout', $2, false)", 2,
	    (const char *const[]){ stmt, lock });
	if (res == NULL)
		return -1;
	PQclear(res);
	if ((res = db_exec("LISTEN evalsched_wakeup", 0, NULL)) == NULL)
		return -1;
	PQclear(res);
	if ((res = db_exec("LISTEN evalsched_batch_end", 0, NULL)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static void
db_schedule_retry(void)
{
	next_attempt_ms = mono_ms() + backoff_ms;
	backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    backoff_ms * 2;
}

/* Connects; on failure keeps libpq's reason in err. */
static PGconn *
db_open_checked(char *err, size_t errlen)
{
	PGconn	*c = db_open();

	if (c != NULL && PQstatus(c) == CONNECTION_OK)
		return c;
	strlcpy(err, db_error(c), errlen);
	PQfinish(c);
	return NULL;
}

int
db_try_connect(void)
{
	char	err[512];

	if (conn != NULL)
		return 0;
	if ((conn = db_open_checked(err, sizeof(err))) == NULL) {
		/* Say so the first time and then now and again, not always. */
		if (failures_in_row++ % 10 == 0)
			log_warnx("database unreachable, retrying in %lld ms: "
			    "%s", (long long)backoff_ms, err);
		db_schedule_retry();
		return -1;
	}
	if (db_session() == -1) {
		db_disconnect();
		db_schedule_retry();
		return -1;
	}
	if (failures_in_row > 0)
		log_info("database reachable again (after %d failed "
		    "attempt%s)", failures_in_row,
		    failures_in_row == 1 ? "" : "s");
	failures_in_row = 0;
	backoff_ms = BACKOFF_MIN_MS;
	up_since_ms = mono_ms();
	connections++;
	sv->poll_now = 1;
	/* A batch test may have ended while we were away. */
	completion_sweep();
	return 0;
}

/* For -n: one attempt, the reason in err. */
int
db_connect_once(char *err, size_t errlen)
{
	if ((conn = db_open_checked(err, errlen)) == NULL)
		return -1;
	return 0;
}

void
db_disconnect(void)
{
	PQfinish(conn);
	conn = NULL;
}

static void
db_lost(void)
{
	log_warnx("database connection lost: %s; outcomes are kept until "
	    "it is back", db_error(conn));
	db_disconnect();
	next_attempt_ms = mono_ms();
	backoff_ms = BACKOFF_MIN_MS;
}

/* A statement's answer: its result, or NULL with the failure handled. */
static PGresult *
db_answer(PGresult *res)
{
	ExecStatusType	st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		/* A wake-up read along with the answer is not on the socket. */
		if (take_notifies() > 0)
			sv->poll_now = 1;
		return res;
	}
	if (PQstatus(conn) == CONNECTION_BAD) {
		PQclear(res);
		db_lost();
		return NULL;
	}
	log_warnx("database: %s", res != NULL ?
	    one_line(PQresultErrorMessage(res)) : db_error(conn));
	PQclear(res);
	return NULL;
}

PGresult *
db_exec(const char *sql, int n, const char *const *params)
{
	if (conn == NULL)
		return NULL;
	return db_answer(PQexecParams(conn, sql, n, NULL, params, NULL, NULL,
	    0));
}

/*
 * A statement run at every pass, prepared once per connection so that
 * it is planned once, not each time.  Behind a transaction-mode pooler
 * (listen = no) the next transaction may reach another server
 * connection, which does not know it: there it is sent whole each time.
 */
PGresult *
db_exec_prepared(struct prepared *p, int n, const char *const *params)
{
	PGresult	*res;

	if (conn == NULL)
		return NULL;
	if (!sv->conf.listen)
		return db_exec(p->sql, n, params);
	if (p->connection != connections) {
		if ((res = db_answer(PQprepare(conn, p->name, p->sql, n,
		    NULL))) == NULL)
			return NULL;
		PQclear(res);
		p->connection = connections;
	}
	return db_answer(PQexecPrepared(conn, p->name, n, params, NULL, NULL,
	    0));
}

static int
db_simple(const char *sql)
{
	PGresult	*res;

	if ((res = db_exec(sql, 0, NULL)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
db_begin(void)
{
	return db_simple("BEGIN");
}

int
db_commit(void)
{
	return db_simple("COMMIT");
}

void
db_rollback(void)
{
	if (conn != NULL && PQtransactionStatus(conn) != PQTRANS_IDLE)
		(void)db_simple("ROLLBACK");
}

/* Reads what arrived on the socket; >0 when a wake-up came. */
int
db_consume_notifies(void)
{
	if (conn == NULL)
		return 0;
	if (PQconsumeInput(conn) == 0 || PQstatus(conn) == CONNECTION_BAD) {
		db_lost();
		return 0;
	}
	return take_notifies();
}

/* Whether our tables are there: 1, 0, or -1 on a database error. */
static int
schema_present(void)
{
	PGresult	*res;
	int		 present;

	res = db_exec("SELECT to_regclass('evalsched_meta') IS NOT NULL AND "
	    "to_regclass('evalsched_supervisors') IS NOT NULL", 0, NULL);
	if (res == NULL)
		return -1;
	present = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return present;
}

/*
 * The application's results tables the completion pass reads: in its
 * database they exist (they predate its migrations), in ours schema.sql
 * makes them.  0 when all are there; -1 with the missing ones named.
 */
int
db_results_tables(char *err, size_t errlen)
{
	PGresult	*res;
	int		 r = 0;

	res = db_exec("SELECT string_agg(t, ', ' ORDER BY n) FROM unnest("
	    "ARRAY['batch_test_runs', 'conversations', 'messages', "
	    "'judgments']) WITH ORDINALITY AS u(t, n) "
	    "WHERE to_regclass(t) IS NULL", 0, NULL);
	if (res == NULL) {
		snprintf(err, errlen, "cannot look for the results tables");
		return -1;
	}
	if (!PQgetisnull(res, 0, 0)) {
		snprintf(err, errlen, "the application's results tables are "
		    "missing: %s (apply schema.sql for a standalone database)",
		    PQgetvalue(res, 0, 0));
		r = -1;
	}
	PQclear(res);
	return r;
}

/* Looks before reading, so that a bare database is not an SQL error. */
int
db_schema_version(char *err, size_t errlen)
{
	PGresult	*res = NULL;
	int		 version = -1;

	if (schema_present() == 1)
		res = db_exec("SELECT value FROM evalsched_meta "
		    "WHERE key = 'schema_version'", 0, NULL);
	if (res != NULL && PQntuples(res) == 1)
		version = atoi(PQgetvalue(res, 0, 0));
	else
		snprintf(err, errlen, "the database has no evalsched schema: "
		    "apply schema.sql (or schema-additions.sql to an "
		    "application database)");
	PQclear(res);
	return version;
}
