/*
 * Running against a database without our schema, or without the
 * application's results tables, helps nobody: the supervisor says what
 * is missing and exits 78.  Checked once, after the first connect, and
 * by -n.  It looks before it reads, so that a bare database is not an
 * SQL error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "log.h"
#include "supervisor.h"

static const char present_sql[] =
	"SELECT to_regclass('public.evalsched_meta') IS NOT NULL AND "
	"to_regclass('public.evalsched_supervisors') IS NOT NULL";

/*
 * The application's results tables the completion pass reads: in its
 * database they exist (they predate its migrations), in ours schema.sql
 * makes them.
 */
static const char tables_sql[] =
	"SELECT string_agg(t, ', ' ORDER BY n) FROM unnest("
	"ARRAY['batch_test_runs', 'conversations', 'messages', "
	"'judgments']) WITH ORDINALITY AS u(t, n) "
	"WHERE to_regclass('public.' || t) IS NULL";

static const char version_sql[] =
	"SELECT value FROM public.evalsched_meta WHERE key = 'schema_version'";

/* Whether our tables are there; -1 with the remedy in err. */
static int
judge_present(PGresult *res, char *err, size_t errlen)
{
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		return 0;
	snprintf(err, errlen, "the database has no evalsched schema: apply "
	    "schema.sql (or schema-additions.sql to an application database)");
	return -1;
}

static int
judge_tables(PGresult *res, char *err, size_t errlen)
{
	if (PQgetisnull(res, 0, 0))
		return 0;
	snprintf(err, errlen, "the application's results tables are "
	    "missing: %s (apply schema.sql for a standalone database)",
	    PQgetvalue(res, 0, 0));
	return -1;
}

static int
judge_version(PGresult *res, char *err, size_t errlen)
{
	int	version = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : -1;

	if (version == SCHEMA_VERSION)
		return 0;
	/* Our tables are there (judge_present): a row may be hidden. */
	if (version == -1)
		snprintf(err, errlen, "the database has no evalsched schema "
		    "version: apply schema.sql (or schema-additions.sql to an "
		    "application database); if it was applied, row-level "
		    "security hides it from this role, which neither bypasses "
		    "it nor has evalsched's policies (evalsched-supervisor -n "
		    "names what the role lacks)");
	else
		snprintf(err, errlen, "the database has evalsched schema "
		    "version %d; this supervisor needs %d", version,
		    SCHEMA_VERSION);
	return -1;
}

#define RETRY_MS	1000	/* after a check that failed */

static int64_t	not_before_ms;	/* the next check, at the earliest */

/* The schema could not be read (its answer was an error): in a while. */
static void
retry_later(void)
{
	not_before_ms = mono_ms() + RETRY_MS;
}

static void
version_read(PGresult **res, void *arg)
{
	char	why[512];

	(void)arg;
	if (res == NULL) {
		retry_later();
		return;
	}
	if (judge_version(res[0], why, sizeof(why)) == -1)
		fatalx_status(EX_CONFIG, "%s", why);
	sv->schema_checked = 1;
}

static void
presence_read(PGresult **res, void *arg)
{
	char	why[512];

	(void)arg;
	if (res == NULL) {
		retry_later();
		return;
	}
	if (judge_present(res[0], why, sizeof(why)) == -1 ||
	    judge_tables(res[1], why, sizeof(why)) == -1)
		fatalx_status(EX_CONFIG, "%s", why);
	(void)db_query(version_sql, 0, NULL, version_read, NULL);
}

/* When the check is next due, until it has been made. */
int64_t
schema_next_ms(void)
{
	return sv->schema_checked ? INT64_MAX : not_before_ms;
}

/* In the loop: asks when due, and acts on the answer when it comes. */
void
schema_step(void)
{
	const struct db_stmt	stmts[] = {
		{ present_sql, NULL, 0, NULL },
		{ tables_sql, NULL, 0, NULL },
	};

	if (sv->schema_checked || mono_ms() < not_before_ms)
		return;
	(void)db_send(DB_OPEN | DB_CLOSE, stmts, 2, presence_read, NULL);
}

/* For -n: the checks given, waited for; see below. */
static int
check_now(int first, int last, char *err, size_t errlen)
{
	static const struct {
		const char	*sql;
		int		(*judge)(PGresult *, char *, size_t);
		const char	*unread;
	} checks[] = {
		{ present_sql, judge_present, "cannot look for the evalsched "
		    "schema" },
		{ tables_sql, judge_tables, "cannot look for the results tables" },
		{ version_sql, judge_version, "cannot read the schema version" },
	};
	PGresult	*res;
	int		 i, r;

	for (i = first; i <= last; i++) {
		if ((res = db_query_wait(checks[i].sql, 0, NULL)) == NULL) {
			snprintf(err, errlen, "%s: %s", checks[i].unread,
			    db_last_error()->message);
			return -2;
		}
		r = checks[i].judge(res, err, errlen);
		PQclear(res);
		if (r == -1)
			return -1;
	}
	return 0;
}

/*
 * For -n, in two steps, so that what the role lacks can be looked for
 * between them: what needs no privilege (our tables and the results
 * tables are there), then the schema's version, which the role must be
 * able to read.  Each returns -1 with the reason in err, or -2 when the
 * database refused what it asked.
 */
int
schema_check_present_now(char *err, size_t errlen)
{
	return check_now(0, 1, err, errlen);
}

int
schema_check_version_now(char *err, size_t errlen)
{
	return check_now(2, 2, err, errlen);
}
