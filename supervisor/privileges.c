/*
 * -n: what evalsched's database role lacks, by table and privilege.
 * Four looks, in one transaction that is rolled back:
 *
 *	the grants of common/grants.c, and on evalsched's own tables and
 *	functions whatever the catalogue holds (has_*_privilege);
 *	row-level security: a table that has it shows a role that neither
 *	bypasses it nor has a policy for every row none of its rows, and
 *	refuses its inserts, which is no error on a read;
 *	trial writes, as evalsched makes them (a schedule and a row of each
 *	other table it updates set to themselves, a run inserted, updated
 *	and deleted), each behind a savepoint so that one failure hides
 *	none after it: they find what the triggers those writes fire need
 *	(the application's audit trigger inserts as whoever updates a
 *	schedule), and what row-level security refuses.  A trial needs a
 *	row to try on; where a table has none it is skipped.
 *
 * Each lack is one line on standard error; the count is returned.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "grants.h"
#include "jsonnew.h"
#include "supervisor.h"
#include "text.h"

#define LOCK_WAIT	"2s"	/* a row a live supervisor holds is skipped */
#define TRIAL_TIME	"10s"

static const char	*conf_path;
static PGconn		*conn;
static char		 role[128];
static int		 problems;
static int		 grants_lack;	/* a grant of grants.sql is missing */
static int		 rls_hides;	/* row-level security is in the way */

/* Tables with a grant missing: their trials would only say it again. */
static char		 lacking[64][128];
static int		 nlacking;

/* One line, "file: database: role R ...", escaped for the terminal. */
static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	va_list	 ap;
	char	*line, *esc;

	/* Whole: a list of what the role lacks may be long. */
	va_start(ap, fmt);
	line = xvasprintf(fmt, ap);
	va_end(ap);
	esc = text_escaped(line);
	free(line);
	fprintf(stderr, "%s: database: %s\n", conf_path, esc);
	free(esc);
}

static PGresult *
exec(const char *sql, int n, const char *const *params)
{
	return PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
}

static int
ok(const PGresult *r)
{
	return PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;
}

/* A look that failed: said, freed, -1. */
static int
unlooked(PGresult *r)
{
	const char	*msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	say("cannot check the role's privileges: %s", msg != NULL ? msg :
	    PQerrorMessage(conn));
	PQclear(r);
	return -1;
}

/* A statement of ours that must work; -1 (and said) if it does not. */
static int
must(const char *sql)
{
	PGresult	*r = exec(sql, 0, NULL);

	if (!ok(r))
		return unlooked(r);
	PQclear(r);
	return 0;
}

static void
note_lacking(const char *table)
{
	if (nlacking < (int)(sizeof(lacking) / sizeof(lacking[0])))
		strlcpy(lacking[nlacking++], table, sizeof(lacking[0]));
}

static int
is_lacking(const char *table)
{
	int	i;

	for (i = 0; i < nlacking; i++)
		if (strcmp(lacking[i], table) == 0)
			return 1;
	return 0;
}

/* The needs of grants.c as JSON, for the statements below. */
static char *
needs_json(void)
{
	json_object	*arr = jnew_array(), *o;
	char		*s;
	size_t		 i;

	for (i = 0; i < grant_nneeds; i++) {
		o = jnew_object();
		jset(o, "n", jnew_int((int)i));
		jset(o, "t", jnew_string(grant_needs[i].table));
		jset(o, "p", jnew_string(grant_needs[i].privileges));
		jset(o, "c", jnew_string(grant_needs[i].columns));
		jpush(arr, o);
	}
	s = xstrdup(jtext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
	return s;
}

/*
 * The needs' tables, found in the catalogue by "schema.name":
 * to_regclass() would fail on a schema the role may not use.
 */
#define NEED_RELATIONS							\
	"need AS (SELECT x.n, x.t, x.p, x.c, c.oid, c.relrowsecurity, "	\
	"    c.relforcerowsecurity, c.relowner "			\
	"  FROM pg_catalog.json_to_recordset($1::pg_catalog.json) "	\
	"    AS x(n integer, t text, p text, c text) "			\
	"  JOIN pg_catalog.pg_namespace s "				\
	"    ON s.nspname = pg_catalog.split_part(x.t, '.', 1) "	\
	"  JOIN pg_catalog.pg_class c ON c.relnamespace = s.oid "	\
	"    AND c.relname = pg_catalog.split_part(x.t, '.', 2))"

static int
check_schemas(void)
{
	PGresult	*r;
	int		 i;

	r = exec("SELECT n.nspname FROM pg_catalog.pg_namespace n "
	    "WHERE n.nspname = ANY (pg_catalog.string_to_array($1, ', ')) "
	    "AND NOT pg_catalog.has_schema_privilege(n.oid, 'USAGE') "
	    "ORDER BY 1", 1, (const char *const[]){ GRANT_SCHEMAS });
	if (!ok(r))
		return unlooked(r);
	for (i = 0; i < PQntuples(r); i++) {
		say("role %s lacks USAGE on schema %s", role,
		    PQgetvalue(r, i, 0));
		problems++;
		grants_lack++;
	}
	PQclear(r);
	return 0;
}

static const char *
why_of(int n)
{
	static char	buf[512];
	size_t		len;

	strlcpy(buf, grant_needs[n].why, sizeof(buf));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] += 'a' - 'A';
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '.')
		buf[len - 1] = '\0';
	return buf;
}

/* The application's tables: privileges, and columns where named. */
static int
check_tables(const char *needs)
{
	PGresult	*r;
	int		 i, n;

	r = exec("WITH " NEED_RELATIONS ", "
	    "lack AS (SELECT d.n, d.t, d.c, p.priv, p.o FROM need d "
	    "  CROSS JOIN LATERAL pg_catalog.unnest("
	    "    pg_catalog.string_to_array(d.p, ', ')) WITH ORDINALITY "
	    "    AS p(priv, o) "
	    "  WHERE CASE WHEN d.c IS NULL "
	    "    THEN NOT pg_catalog.has_table_privilege(d.oid, p.priv) "
	    "    ELSE EXISTS (SELECT 1 FROM pg_catalog.unnest("
	    "      pg_catalog.string_to_array(d.c, ', ')) AS col "
	    "      WHERE NOT pg_catalog.has_column_privilege(d.oid, col, "
	    "        p.priv)) END) "
	    "SELECT n, t, pg_catalog.string_agg(priv, ', ' ORDER BY o) "
	    "  || coalesce(' (' || c || ')', '') FROM lack "
	    "GROUP BY n, t, c ORDER BY n", 1, &needs);
	if (!ok(r))
		return unlooked(r);
	for (i = 0; i < PQntuples(r); i++) {
		n = atoi(PQgetvalue(r, i, 0));
		say("role %s lacks %s on %s (%s)", role, PQgetvalue(r, i, 2),
		    PQgetvalue(r, i, 1), why_of(n));
		note_lacking(PQgetvalue(r, i, 1));
		problems++;
		grants_lack++;
	}
	PQclear(r);
	return 0;
}

/* evalsched's own tables and sequences, whatever this version has. */
#define OWN_RELATIONS							\
	"SELECT c.oid, c.relkind, c.relrowsecurity, "			\
	"  c.relforcerowsecurity, c.relowner "				\
	"FROM pg_catalog.pg_class c "					\
	"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "	\
	"WHERE n.nspname = 'public' AND c.relname LIKE 'evalsched\\_%' " \
	"  AND c.relkind IN ('r', 'p', 'S')"

static int
check_own(void)
{
	PGresult	*r;
	int		 i;

	r = exec("SELECT o.oid::pg_catalog.regclass::text, "
	    "  pg_catalog.string_agg(p.priv, ', ' ORDER BY p.o) "
	    "FROM (" OWN_RELATIONS ") o "
	    "CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.string_to_array("
	    "  CASE o.relkind WHEN 'S' THEN $2 ELSE $1 END, ', ')) "
	    "  WITH ORDINALITY AS p(priv, o) "
	    "WHERE CASE o.relkind WHEN 'S' "
	    "  THEN NOT pg_catalog.has_sequence_privilege(o.oid, p.priv) "
	    "  ELSE NOT pg_catalog.has_table_privilege(o.oid, p.priv) END "
	    "GROUP BY 1 ORDER BY 1", 2, (const char *const[]){
	    GRANT_OWN_TABLES, GRANT_OWN_SEQUENCES });
	if (!ok(r))
		return unlooked(r);
	for (i = 0; i < PQntuples(r); i++) {
		say("role %s lacks %s on %s (evalsched's own)", role,
		    PQgetvalue(r, i, 1), PQgetvalue(r, i, 0));
		note_lacking(PQgetvalue(r, i, 0));
		problems++;
		grants_lack++;
	}
	PQclear(r);
	return 0;
}

/* EXECUTE on evalsched's functions, but the triggers: they need none. */
static int
check_functions(void)
{
	PGresult	*r;

	r = exec("SELECT pg_catalog.count(*), pg_catalog.string_agg("
	    "  p.oid::pg_catalog.regprocedure::text, ', ' ORDER BY 2) "
	    "FROM pg_catalog.pg_proc p "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
	    "WHERE n.nspname = 'public' AND p.proname LIKE 'evalsched\\_%' "
	    "  AND p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype "
	    "  AND NOT pg_catalog.has_function_privilege(p.oid, 'EXECUTE')",
	    0, NULL);
	if (!ok(r))
		return unlooked(r);
	if (strcmp(PQgetvalue(r, 0, 0), "0") != 0) {
		say("role %s lacks EXECUTE on %s of evalsched's functions: %s",
		    role, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		problems++;
		grants_lack++;
	}
	PQclear(r);
	return 0;
}

/*
 * Row-level security: each table that has it, and does not let the
 * role by (superuser, BYPASSRLS, its owner unless forced), needs a
 * permissive policy for the role (or PUBLIC) that shows every row, for
 * each command the role's grants are for.
 */
static int
check_rls(const char *needs)
{
	PGresult	*r;

	r = exec("WITH " NEED_RELATIONS ", "
	    "rel AS (SELECT d.oid, d.p, d.relrowsecurity, "
	    "    d.relforcerowsecurity, d.relowner FROM need d "
	    "  UNION ALL SELECT o.oid, $2, o.relrowsecurity, "
	    "    o.relforcerowsecurity, o.relowner FROM (" OWN_RELATIONS ") o "
	    "  WHERE o.relkind <> 'S'), "
	    "cmd AS (SELECT DISTINCT r.oid, CASE p.priv WHEN 'SELECT' THEN 'r' "
	    "    WHEN 'INSERT' THEN 'a' WHEN 'UPDATE' THEN 'w' ELSE 'd' END "
	    "    AS cmd "
	    "  FROM rel r CROSS JOIN LATERAL pg_catalog.unnest("
	    "    pg_catalog.string_to_array(r.p, ', ')) AS p(priv) "
	    "  WHERE r.relrowsecurity AND NOT (pg_catalog.pg_has_role("
	    "    r.relowner, 'USAGE') AND NOT r.relforcerowsecurity)) "
	    "SELECT pg_catalog.string_agg(DISTINCT "
	    "  c.oid::pg_catalog.regclass::text, ', ') "
	    "FROM cmd c "
	    "WHERE NOT (SELECT u.rolsuper OR u.rolbypassrls "
	    "    FROM pg_catalog.pg_roles u WHERE u.rolname = current_user) "
	    "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p "
	    "    WHERE p.polrelid = c.oid AND p.polpermissive "
	    "      AND p.polcmd IN ('*', c.cmd) "
	    "      AND EXISTS (SELECT 1 FROM pg_catalog.unnest(p.polroles) "
	    "        AS g(role) WHERE CASE WHEN g.role = 0 THEN true "
	    "        ELSE pg_catalog.pg_has_role(g.role, 'USAGE') END) "
	    "      AND coalesce(pg_catalog.pg_get_expr(p.polqual, "
	    "        p.polrelid), 'true') = 'true' "
	    "      AND coalesce(pg_catalog.pg_get_expr(p.polwithcheck, "
	    "        p.polrelid), 'true') = 'true')",
	    2, (const char *const[]){ needs, GRANT_OWN_TABLES });
	if (!ok(r))
		return unlooked(r);
	if (!PQgetisnull(r, 0, 0)) {
		say("role %s neither bypasses row-level security nor has a "
		    "policy that shows it every row of %s: it would see no row "
		    "there and write none", role, PQgetvalue(r, 0, 0));
		problems++;
		rls_hides = 1;
	}
	PQclear(r);
	return 0;
}

/* A trial's failure: said when it is the role's, in the database's words. */
static void
trial_failed(const char *what, const PGresult *r)
{
	const char	*state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char	*msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char	*ctx = PQresultErrorField(r, PG_DIAG_CONTEXT);
	char		 fn[160] = "";
	const char	*p;

	if (msg == NULL)
		msg = PQerrorMessage(conn);
	if (ctx != NULL && (p = strstr(ctx, "PL/pgSQL function ")) != NULL)
		snprintf(fn, sizeof(fn), ", in trigger function %.*s()",
		    (int)strcspn(p + 18, "( \n"), p + 18);
	if (refusal_passes(state)) {
		fprintf(stderr, "%s: warning: database: could not try %s: %s\n",
		    conf_path, what, msg);
		return;
	}
	say("role %s: %s fails: %s [%s%s]", role, what, msg,
	    state != NULL ? state : "", fn);
	problems++;
}

/* One statement behind a savepoint; its result, or NULL when it failed. */
static PGresult *
trial(const char *what, const char *sql, int n, const char *const *params)
{
	PGresult	*r;

	if (must("SAVEPOINT trial") == -1)
		return NULL;
	r = exec(sql, n, params);
	if (ok(r))
		return r;
	trial_failed(what, r);
	PQclear(r);
	(void)must("ROLLBACK TO SAVEPOINT trial");
	return NULL;
}

/* A row of the table set to itself, as evalsched's updates set it. */
static void
trial_update(const struct grant_need *g)
{
	PGresult	*r;
	char		*sql, *set = xstrdup(""), *next, what[256];
	const char	*col = g->probe;
	size_t		 n;

	while (*col != '\0') {
		n = strcspn(col, ", ");
		next = xasprintf("%s%s%.*s = %.*s", set, *set ? ", " : "",
		    (int)n, col, (int)n, col);
		free(set);
		set = next;
		col += n;
		col += strspn(col, ", ");
	}
	/* Not a row a live supervisor holds: it is skipped. */
	sql = xasprintf("UPDATE %s SET %s WHERE ctid = (SELECT ctid FROM %s "
	    "LIMIT 1 FOR UPDATE SKIP LOCKED)", g->table, set, g->table);
	snprintf(what, sizeof(what), "an update of %s, as evalsched makes "
	    "one,", g->table);
	if ((r = trial(what, sql, 0, NULL)) != NULL)
		PQclear(r);
	free(sql);
	free(set);
}

/* A run, inserted as a claim does, then ended and deleted. */
static void
trial_run(void)
{
	PGresult	*r;
	char		 id[UUID_LEN + 1];

	r = trial("an insert into public.scheduled_evaluation_runs",
	    "INSERT INTO public.scheduled_evaluation_runs "
	    "  (scheduled_evaluation_id, status, slot_at, evalsched_rev) "
	    "SELECT s.id, 'triggered', pg_catalog.clock_timestamp(), 0 "
	    "FROM public.scheduled_evaluations s LIMIT 1 "
	    "ON CONFLICT (scheduled_evaluation_id, slot_at) "
	    "  WHERE slot_at IS NOT NULL DO NOTHING RETURNING id", 0, NULL);
	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		return;
	}
	strlcpy(id, PQgetvalue(r, 0, 0), sizeof(id));
	PQclear(r);
	if ((r = trial("an update of public.scheduled_evaluation_runs",
	    "UPDATE public.scheduled_evaluation_runs SET status = 'failed', "
	    "completed_at = now(), evalsched_rev = evalsched_rev + 1 "
	    "WHERE id = $1", 1, (const char *const[]){ id })) != NULL)
		PQclear(r);
	if ((r = trial("a delete from public.scheduled_evaluation_runs",
	    "DELETE FROM public.scheduled_evaluation_runs WHERE id = $1", 1,
	    (const char *const[]){ id })) != NULL)
		PQclear(r);
}

static int
exists(const char *table)
{
	PGresult	*r;
	int		 there;

	r = exec("SELECT 1 FROM pg_catalog.pg_class c "
	    "JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace "
	    "WHERE s.nspname = pg_catalog.split_part($1, '.', 1) "
	    "AND c.relname = pg_catalog.split_part($1, '.', 2)", 1, &table);
	there = ok(r) && PQntuples(r) == 1;
	PQclear(r);
	return there;
}

/* Where the grants are all there: what else the writes need. */
static void
trials(void)
{
	size_t	i;

	for (i = 0; i < grant_nneeds; i++)
		if (grant_needs[i].probe != NULL &&
		    !is_lacking(grant_needs[i].table) &&
		    exists(grant_needs[i].table))
			trial_update(&grant_needs[i]);
	if (!is_lacking("public.scheduled_evaluation_runs") &&
	    !is_lacking("public.scheduled_evaluations"))
		trial_run();
}

/*
 * What to do about it: grants.sql for a grant missing, policies.sql for
 * row-level security; a trial that failed although every grant is there
 * found what no file of ours knows (a trigger the application added).
 */
static void
remedy(void)
{
	char	fix[1024] = "";
	int	n = 0;

	if (grants_lack > 0)
		n += snprintf(fix + n, sizeof(fix) - n, "psql -v "
		    "ON_ERROR_STOP=1 -v role=%s -f %s/grants.sql", role,
		    DATADIR);
	if (rls_hides && n > 0)
		n += snprintf(fix + n, sizeof(fix) - n, ", then the same with "
		    "policies.sql");
	else if (rls_hides)
		n += snprintf(fix + n, sizeof(fix) - n, "psql -v "
		    "ON_ERROR_STOP=1 -v role=%s -f %s/policies.sql", role,
		    DATADIR);
	if (rls_hides)
		n += snprintf(fix + n, sizeof(fix) - n, " (or, as a superuser, "
		    "ALTER ROLE %s BYPASSRLS)", role);
	/* With a grant missing, the trials' failures are most likely its. */
	if (problems > grants_lack + rls_hides && grants_lack == 0)
		snprintf(fix + n, sizeof(fix) - n, "%swhat the failed trial "
		    "names, which a trigger needs", n > 0 ? ", and " : "grant ");
	say("give role %s what it lacks, as the owner of the tables: %s; see "
	    "evalsched-supervisor(8), \"Database role\"", role, fix);
}

static int
look(void)
{
	PGresult	*r;
	char		*needs = needs_json();
	int		 failed;

	r = exec("SELECT current_user", 0, NULL);
	strlcpy(role, ok(r) ? PQgetvalue(r, 0, 0) : "?", sizeof(role));
	PQclear(r);
	failed = check_schemas() == -1 || check_tables(needs) == -1 ||
	    check_own() == -1 || check_functions() == -1 ||
	    check_rls(needs) == -1;
	free(needs);
	if (!failed)
		trials();
	return failed ? -1 : 0;
}

/*
 * The number of lacks said, or -1 when they could not be looked for
 * (said too).  path names the configuration in each line.
 */
int
privileges_check(const char *path)
{
	int	r = -1;

	conf_path = path;
	if ((conn = db_borrow()) == NULL) {
		say("cannot check the role's privileges: the connection is "
		    "not ready");
		return -1;
	}
	if (must("BEGIN") == 0 && must("SET LOCAL search_path = ''") == 0 &&
	    must("SET LOCAL lock_timeout = '" LOCK_WAIT "'") == 0 &&
	    must("SET LOCAL statement_timeout = '" TRIAL_TIME "'") == 0)
		r = look();
	PQclear(exec("ROLLBACK", 0, NULL));
	db_give_back();
	if (r == 0 && problems > 0)
		remedy();
	return r == -1 ? -1 : problems;
}
