/*
 * The database for evalschedctl: one connection, parameterized queries
 * only, and errors turned into sysexits.h statuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

/*
 * libpq's messages end in a newline and may span lines: keep the lines,
 * each escaped, as they may quote a value from a row.
 */
static void
print_pq_error(const char *what, const char *msg)
{
	fprintf(stderr, "evalschedctl: %s", what);
	out_lines(stderr, "", msg);
}

static int
fetch_now(struct ctl *c)
{
	PGresult	*res;

	res = db_exec(c, "SELECT floor(extract(epoch FROM now()))::bigint "
	    "AS now", 0, NULL);
	if (res == NULL)
		return c->dbstatus;
	c->now = db_int(res, 0, "now");
	PQclear(res);
	return 0;
}

/*
 * The conninfo is passed as dbname with expand_dbname, so it may be a
 * "key=value" string or a URI.  Keys before it are defaults it may
 * override.  libpq's messages never include a password.
 */
int
db_connect(struct ctl *c)
{
	const char	*keys[] = { "connect_timeout",
			    "fallback_application_name", "dbname", NULL };
	const char	*vals[] = { "10", "evalschedctl", monitor_conninfo(c),
			    NULL };

	/* libpq returns no connection only for want of memory. */
	if ((c->conn = PQconnectdbParams(keys, vals, 1)) == NULL)
		out_of_memory("PQconnectdbParams");
	if (PQstatus(c->conn) != CONNECTION_OK) {
		print_pq_error("database: ", PQerrorMessage(c->conn));
		db_close(c);
		return EX_UNAVAILABLE;
	}
	return fetch_now(c);
}

void
db_close(struct ctl *c)
{
	if (c->conn != NULL)
		PQfinish(c->conn);
	c->conn = NULL;
}

/*
 * A lost connection is the service's fault (69); bad input caught by the
 * database (SQLSTATE classes 22 and 23) is the caller's (65); anything
 * else is ours (70).
 */
static int
error_status(const struct ctl *c, const PGresult *res)
{
	const char	*state;

	if (PQstatus(c->conn) != CONNECTION_OK)
		return EX_UNAVAILABLE;
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL && (strncmp(state, "22", 2) == 0 ||
	    strncmp(state, "23", 2) == 0))
		return EX_DATAERR;
	return EX_SOFTWARE;
}

static int
result_ok(const PGresult *res)
{
	ExecStatusType	st = PQresultStatus(res);

	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/*
 * Every statement runs with an empty search_path.  Roles other than ours
 * may create objects in public, and a function or operator is the best
 * match found on the whole path, so a public.format(text, text) would
 * beat pg_catalog's format(text, VARIADIC "any") and run with our
 * rights.  With the path empty only pg_catalog is searched, and our
 * statements name every table with its schema.  It is set for each
 * statement, not once for the session: behind a transaction-mode pooler
 * (listen = no) the next statement may reach another server connection,
 * and this one would keep the setting for another client.  The setting
 * and the statement go out in one pipeline, one round trip, and up to
 * its Sync they are one transaction.
 */
static const char path_sql[] =
    "SELECT pg_catalog.set_config('search_path', '', true)";

/* The results up to the Sync: the statement's, or the first error. */
static PGresult *
pipeline_results(PGconn *conn)
{
	PGresult	*r, *keep = NULL;
	int		 nulls = 0;

	/* A NULL ends each statement's results; two, all (or a loss). */
	while (nulls < 2) {
		if ((r = PQgetResult(conn)) == NULL) {
			nulls++;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (keep != NULL && !result_ok(keep)) {
			PQclear(r);
			continue;
		}
		PQclear(keep);
		keep = r;
	}
	return keep;
}

static PGresult *
exchange(PGconn *conn, const char *sql, int nparams,
    const char *const *params)
{
	PGresult	*res;
	int		 sent;

	if (PQenterPipelineMode(conn) == 0)
		return NULL;
	sent = PQsendQueryParams(conn, path_sql, 0, NULL, NULL, NULL, NULL,
	    0) && PQsendQueryParams(conn, sql, nparams, NULL, params, NULL,
	    NULL, 0);
	/* Without its Sync nothing would answer: the connection is lost. */
	if (PQpipelineSync(conn) == 0)
		return NULL;
	res = pipeline_results(conn);
	if (!sent) {
		PQclear(res);
		res = NULL;
	}
	(void)PQexitPipelineMode(conn);
	return res;
}

PGresult *
db_exec(struct ctl *c, const char *sql, int nparams,
    const char *const *params)
{
	PGresult	*res, *refused;

	res = db_exec_refusal(c, sql, nparams, params, &refused);
	if (refused != NULL)
		db_report(c, refused);
	return res;
}

/*
 * As db_exec, but a statement the database refused on a live connection
 * is handed back in *refused, unreported (c->dbstatus set), so that the
 * caller may say why in its own words.
 */
PGresult *
db_exec_refusal(struct ctl *c, const char *sql, int nparams,
    const char *const *params, PGresult **refused)
{
	PGresult	*res;

	*refused = NULL;
	res = exchange(c->conn, sql, nparams, params);
	if (res != NULL && result_ok(res))
		return res;
	c->dbstatus = error_status(c, res);
	if (res != NULL && PQstatus(c->conn) == CONNECTION_OK)
		*refused = res;
	else
		db_report(c, res);
	return NULL;
}

/* Prints a failed statement's error as the database said it, and frees it. */
void
db_report(struct ctl *c, PGresult *res)
{
	print_pq_error("database: ", res != NULL ? PQresultErrorMessage(res) :
	    PQerrorMessage(c->conn));
	PQclear(res);
}

/* NULL for SQL NULL or an unknown column. */
const char *
db_get(const PGresult *res, int row, const char *col)
{
	int	f = PQfnumber(res, col);

	if (f < 0 || row >= PQntuples(res) || PQgetisnull(res, row, f))
		return NULL;
	return PQgetvalue(res, row, f);
}

long long
db_int(const PGresult *res, int row, const char *col)
{
	const char	*v = db_get(res, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

int
db_bool(const PGresult *res, int row, const char *col)
{
	const char	*v = db_get(res, row, col);

	return v != NULL && v[0] == 't';
}
