/*
 * -n: what stands between the supervisor and PostgreSQL.  Supabase
 * hands out three connections: direct (port 5432), its pooler in session
 * mode (5432) and in transaction mode (6543).  Through the last, each
 * transaction may run on another server connection: a LISTEN is heard on
 * none, and a statement prepared in one transaction is unknown in the
 * next.  With listen = no the supervisor needs neither (db.c), and waits
 * up to poll_interval for what a NOTIFY would have said at once.
 *
 * The signs: the port 6543; a backend key that is not the server's
 * process (a pooler answered the startup itself); and, the one that
 * decides, a NOTIFY sent on a second connection that the first, which
 * listens, does not hear within PROBE_MS.  PgBouncer forwards SHOW to the
 * server on an ordinary database (only its console answers it), so no
 * SHOW tells it apart.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "supervisor.h"

#define PROBE_MS	2000
#define TXN_PORT	"6543"	/* Supabase's pooler in transaction mode */

static PGconn *
probe_connect(void)
{
	const char *const keys[] = { "connect_timeout", "application_name",
	    "dbname", NULL };
	const char *const values[] = { "5", "evalsched-supervisor -n",
	    sv->conf.database, NULL };
	PGconn	*c = PQconnectdbParams(keys, values, 1);

	if (c != NULL && PQstatus(c) == CONNECTION_OK)
		return c;
	PQfinish(c);
	return NULL;
}

/* One statement, its success. */
static int
run(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult	*res = PQexecParams(c, sql, n, NULL, params, NULL, NULL,
			    0);
	int		 ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
			    PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok;
}

/* Whether the server's process is not the one the startup named. */
static int
pooled(PGconn *c)
{
	PGresult	*res = PQexec(c, "SELECT pg_catalog.pg_backend_pid()");
	int		 other = 0;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		other = atoi(PQgetvalue(res, 0, 0)) != PQbackendPID(c);
	PQclear(res);
	return other;
}

/* Waits up to PROBE_MS for a notification on c; 1 if one came. */
static int
heard(PGconn *c)
{
	struct pollfd	 pfd = { PQsocket(c), POLLIN, 0 };
	PGnotify	*n;
	int64_t		 end = mono_ms() + PROBE_MS, left;

	while ((left = end - mono_ms()) > 0) {
		if (poll(&pfd, 1, (int)left) <= 0)
			break;
		if (PQconsumeInput(c) == 0)
			return 0;
		if ((n = PQnotifies(c)) != NULL) {
			PQfreemem(n);
			return 1;
		}
	}
	return 0;
}

/*
 * LISTEN on one connection, NOTIFY on another: 1 when heard, 0 when
 * not, -1 when the probe itself could not be made.
 */
static int
notify_comes_back(PGconn *a, PGconn *b)
{
	char		 channel[64], listen[96];
	const char	*params[1] = { channel };

	snprintf(channel, sizeof(channel), "evalsched_probe_%08x",
	    arc4random());
	snprintf(listen, sizeof(listen), "LISTEN %s", channel);
	if (!run(a, listen, 0, NULL) ||
	    !run(b, "SELECT pg_catalog.pg_notify($1, '')", 1, params))
		return -1;
	return heard(a);
}

static void
advise(int port, int other)
{
	char	where[CONFIG_WHERE_MAX];

	fprintf(stderr, "%s: listen: yes, but notifications do not come "
	    "back through this database connection (a NOTIFY sent on a "
	    "second one was not heard within %d s)%s%s: it goes through a "
	    "pooler in transaction mode, where LISTEN and prepared statements "
	    "do not work; set listen = no (runs then wait up to "
	    "poll_interval, %d s, for their batch tests' ends), or connect "
	    "directly or through the pooler's session mode (Supabase's port "
	    "5432) and keep listen = yes\n",
	    config_where(&sv->conf, "listen", where, sizeof(where)),
	    PROBE_MS / 1000, port ? "; port " TXN_PORT " is Supabase's "
	    "pooler in transaction mode" : "", other ? "; the server's "
	    "process is not the one the connection was given (a pooler "
	    "answered in its place)" : "", sv->conf.poll_interval);
}

/* The port the conninfo names, else PGPORT's: "" for neither. */
static void
conninfo_port(const char *conninfo, char *buf, size_t len)
{
	PQconninfoOption	*opts, *o;
	const char		*env = getenv("PGPORT");

	snprintf(buf, len, "%s", env != NULL ? env : "");
	if ((opts = PQconninfoParse(conninfo, NULL)) == NULL)
		return;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "port") == 0 && o->val != NULL)
			snprintf(buf, len, "%s", o->val);
	PQconninfoFree(opts);
}

/*
 * Without the database (-t, and at every start): the port alone says
 * Supabase's transaction mode, likely enough to warn of.
 */
void
pooler_warn_port(struct config_err *w)
{
	char	port[64], where[CONFIG_WHERE_MAX];

	if (!sv->conf.listen)
		return;
	conninfo_port(sv->conf.database, port, sizeof(port));
	if (strcmp(port, TXN_PORT) == 0)
		config_err_add(w, "%s: warning: listen: yes, and the database's "
		    "port is " TXN_PORT ", Supabase's pooler in transaction mode, "
		    "where LISTEN and prepared statements do not work: set "
		    "listen = no, or connect to port 5432 (evalsched-supervisor "
		    "-n tells)", config_where(&sv->conf, "listen", where,
		    sizeof(where)));
}

int
pooler_check(void)
{
	PGconn	*a, *b;
	int	 port, other, r = 0;

	if (!sv->conf.listen)
		return 0;
	if ((a = probe_connect()) == NULL)
		return 0;
	if ((b = probe_connect()) == NULL) {
		PQfinish(a);
		return 0;
	}
	port = PQport(a) != NULL && strcmp(PQport(a), TXN_PORT) == 0;
	other = pooled(a);
	if (notify_comes_back(a, b) == 0) {
		advise(port, other);
		r = 1;
	}
	PQfinish(a);
	PQfinish(b);
	return r;
}
