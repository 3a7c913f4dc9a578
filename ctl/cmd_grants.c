/*
 * grants [--policies] [ROLE]: the SQL that gives evalsched's database
 * role what it needs (common/grants.c), and with --policies the
 * row-level security policies that show it every row, for a role
 * without BYPASSRLS.  With ROLE the role is written in, for an SQL
 * editor; without, it is psql's variable role, which is how the shipped
 * grants.sql and policies.sql are made:
 *
 *	evalschedctl grants > etc/grants.sql
 *	evalschedctl grants --policies > etc/policies.sql
 *
 * Nothing here connects: the text is the same for every database, and
 * what a database lacks is found there (evalsched-supervisor -n).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "grants.h"

#define ROLE_MAX	63	/* NAMEDATALEN - 1: PostgreSQL cuts longer ones */
#define WRAP		72

/* How the role is written in the SQL. */
struct role {
	const char	*ident;		/* :"role" or "name" */
	const char	*literal;	/* :'role' or 'name' */
	int		 psql;		/* psql's variable */
};

static const char synopsis[] = "[--policies] [ROLE]";

/*
 * A comment of words, wrapped, each line starting with prefix; the two
 * spaces after a sentence are kept within a line.
 */
static void
comment(const char *prefix, const char *text)
{
	const char	*p = text;
	size_t		 col = 0, n, sep;

	while (*p != '\0') {
		sep = strspn(p, " ");
		p += sep;
		if ((n = strcspn(p, " ")) == 0)
			break;
		if (col > 0 && col + sep + n > WRAP) {
			putchar('\n');
			col = 0;
		}
		if (col == 0)
			col = printf("%s-- ", prefix);
		else
			col += printf("%*s", (int)sep, "");
		col += printf("%.*s", (int)n, p);
		p += n;
	}
	if (col > 0)
		putchar('\n');
}

static const char header_grants[] =
    "evalsched: the privileges of its database role in the application's "
    "database, and no more.  Apply it as the owner of the tables (in a "
    "Supabase project, postgres), after schema-additions.sql and again "
    "after each upgrade of evalsched; applying it twice is harmless.  "
    "The role must also see every row of these tables: it bypasses "
    "row-level security (BYPASSRLS), or it has evalsched's policies "
    "(policies.sql).  See evalsched-supervisor(8), \"Database role\"; "
    "evalsched-supervisor -n names whatever the role lacks.";

static const char header_policies[] =
    "evalsched: row-level security policies that show its database role "
    "every row of the tables it reads and writes, for a role without "
    "BYPASSRLS (before PostgreSQL 16 only a superuser may give that, and "
    "a hosted Supabase project's postgres is none).  The grants "
    "(grants.sql) say what the role may do, these only which rows: all "
    "of them; the application's own policies, for its users, stay as "
    "they are.  Apply it as the owner of the tables after grants.sql, "
    "and again after each upgrade of evalsched and after a migration of "
    "the application that enables row-level security on one of them; "
    "applying it twice is harmless.  See evalsched-supervisor(8), "
    "\"Database role\".";

static void
header(const struct role *r, const char *text, const char *file,
    const char *option)
{
	comment("", text);
	printf("--\n");
	if (r->psql) {
		printf("--\tpsql -v ON_ERROR_STOP=1 -v role=evalsched -f %s\n",
		    file);
		printf("--\n-- or what `evalschedctl grants%s ROLE` prints: "
		    "this with the role\n-- written in, for an SQL editor.\n",
		    option);
		printf("\n\\if :{?role}\n\\else\n\\echo '%s: name the role: "
		    "psql -v role=NAME -f %s'\n\\set role ''\n\\endif\n", file,
		    file);
	} else
		printf("-- Written by `evalschedctl grants%s`, for one "
		    "role.\n", option);
	printf("\nBEGIN;\nSET LOCAL search_path = '';\n"
	    "SET LOCAL client_min_messages = warning;\n"
	    "SET LOCAL evalsched.grantee = %s;\n", r->literal);
}

/* Whether two needs are granted in one statement. */
static int
same_grant(const struct grant_need *a, const struct grant_need *b)
{
	return !a->optional && !b->optional &&
	    strcmp(a->privileges, b->privileges) == 0 &&
	    strcmp(a->why, b->why) == 0 && a->columns == NULL &&
	    b->columns == NULL;
}

/*
 * The tables every application database has: plain GRANTs, one for the
 * tables in a row that are there for the same reason.  Returns the
 * needs it took.
 */
static size_t
grant_line(const struct role *r, const struct grant_need *g, size_t left)
{
	size_t	n = 1, col;

	printf("\n");
	comment("", g->why);
	col = printf("GRANT %s", g->privileges);
	if (g->columns != NULL)
		col += printf(" (%s)", g->columns);
	if (col + strlen(g->table) + 4 > WRAP)
		col = printf("\n    ON %s", g->table) - 1;
	else
		col += printf(" ON %s", g->table);
	while (n < left && same_grant(g, &g[n])) {
		if (col + strlen(g[n].table) + 2 > WRAP)
			col = printf(",\n    %s", g[n].table) - 2;
		else
			col += printf(", %s", g[n].table);
		n++;
	}
	if (col + strlen(r->ident) + 5 > WRAP)
		printf("\n    TO %s;\n", r->ident);
	else
		printf(" TO %s;\n", r->ident);
	return n;
}

static void
sql_text(const char *s)
{
	putchar('\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			putchar('\'');
		putchar(*s);
	}
	putchar('\'');
}

/* The tables an application database may lack: granted where they are. */
static void
grant_optional(void)
{
	size_t	i;
	int	first = 1;

	printf("\n-- Tables an application database may not have: each is "
	    "granted where it\n-- is, and evalsched does without what it "
	    "serves where it is not.\n"
	    "DO $$\nDECLARE\n"
	    "    grantee text := pg_catalog.current_setting("
	    "'evalsched.grantee');\n"
	    "    t record;\nBEGIN\n"
	    "    FOR t IN SELECT * FROM (VALUES\n");
	for (i = 0; i < grant_nneeds; i++) {
		if (!grant_needs[i].optional)
			continue;
		if (!first)
			printf(",\n");
		first = 0;
		comment("        ", grant_needs[i].why);
		printf("        (");
		sql_text(grant_needs[i].table);
		printf(", ");
		sql_text(grant_needs[i].privileges);
		printf(", ");
		if (grant_needs[i].columns != NULL)
			sql_text(grant_needs[i].columns);
		else
			printf("NULL");
		printf(")");
	}
	printf(")\n        AS v (name, privileges, columns)\n"
	    "        WHERE pg_catalog.to_regclass(v.name) IS NOT NULL\n"
	    "    LOOP\n"
	    "        EXECUTE pg_catalog.format('GRANT %%s%%s ON %%s TO %%I', "
	    "t.privileges,\n"
	    "            coalesce(' (' || t.columns || ')', ''), t.name, "
	    "grantee);\n"
	    "    END LOOP;\nEND;\n$$;\n");
}

/* evalsched's own objects, walked in the catalogue. */
static void
grant_own(void)
{
	printf("\n");
	comment("", "evalsched's own tables and functions, whatever this "
	    "version of schema-additions.sql made: " GRANT_OWN_TABLES " on "
	    "its tables, " GRANT_OWN_SEQUENCES " on its sequences (it has "
	    "none yet), and EXECUTE on its functions but the triggers.");
	printf("DO $$\nDECLARE\n"
	    "    grantee text := pg_catalog.current_setting("
	    "'evalsched.grantee');\n"
	    "    obj record;\nBEGIN\n"
	    "    FOR obj IN SELECT c.oid::pg_catalog.regclass AS name, "
	    "c.relkind\n"
	    "        FROM pg_catalog.pg_class c\n"
	    "        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
	    "        WHERE n.nspname = 'public' AND c.relname LIKE "
	    "'evalsched\\_%%'\n"
	    "          AND c.relkind IN ('r', 'p', 'S')\n"
	    "    LOOP\n"
	    "        EXECUTE pg_catalog.format('GRANT %%s ON %%s %%s TO %%I',\n"
	    "            CASE obj.relkind WHEN 'S' THEN '%s'\n"
	    "                ELSE '%s' END,\n"
	    "            CASE obj.relkind WHEN 'S' THEN 'SEQUENCE' "
	    "ELSE 'TABLE' END,\n"
	    "            obj.name, grantee);\n"
	    "    END LOOP;\n"
	    "    FOR obj IN SELECT p.oid::pg_catalog.regprocedure AS name\n"
	    "        FROM pg_catalog.pg_proc p\n"
	    "        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace\n"
	    "        WHERE n.nspname = 'public' AND p.proname LIKE "
	    "'evalsched\\_%%'\n"
	    "          AND p.prorettype <> 'pg_catalog.trigger'::"
	    "pg_catalog.regtype\n"
	    "    LOOP\n"
	    "        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %%s "
	    "TO %%I',\n"
	    "            obj.name, grantee);\n"
	    "    END LOOP;\nEND;\n$$;\n", GRANT_OWN_SEQUENCES, GRANT_OWN_TABLES);
}

static void
print_grants(const struct role *r)
{
	size_t	i;

	header(r, header_grants, "grants.sql", "");
	printf("\nGRANT USAGE ON SCHEMA %s TO %s;\n", GRANT_SCHEMAS, r->ident);
	for (i = 0; i < grant_nneeds; )
		if (!grant_needs[i].optional)
			i += grant_line(r, &grant_needs[i], grant_nneeds - i);
		else
			i++;
	grant_optional();
	grant_own();
	printf("\nCOMMIT;\n");
}

/* The application's tables, each once, as an SQL array. */
static void
app_tables(void)
{
	size_t	i, j;
	int	first = 1;

	printf("ARRAY[");
	for (i = 0; i < grant_nneeds; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(grant_needs[j].table,
			    grant_needs[i].table) == 0)
				break;
		if (j < i)
			continue;
		printf("%s\n                ", first ? "" : ",");
		first = 0;
		sql_text(grant_needs[i].table);
	}
	printf("]");
}

static void
print_policies(const struct role *r)
{
	header(r, header_policies, "policies.sql", " --policies");
	printf("\n-- A policy named after the role on each table evalsched "
	    "reads or\n-- writes that has row-level security enabled: the "
	    "application's and\n-- evalsched's own.  A table whose owner is "
	    "not the one applying this\n-- gets none, with a warning.\n"
	    "DO $$\nDECLARE\n"
	    "    grantee text := pg_catalog.current_setting("
	    "'evalsched.grantee');\n"
	    "    policy text := 'evalsched ' || grantee;\n"
	    "    t record;\nBEGIN\n"
	    "    FOR t IN SELECT c.oid::pg_catalog.regclass AS name\n"
	    "        FROM pg_catalog.pg_class c\n"
	    "        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
	    "        WHERE c.relrowsecurity AND c.relkind IN ('r', 'p')\n"
	    "          AND ((n.nspname = 'public' AND c.relname LIKE "
	    "'evalsched\\_%%')\n"
	    "            OR c.oid IN (SELECT pg_catalog.to_regclass(x)\n"
	    "              FROM pg_catalog.unnest(");
	app_tables();
	printf(") AS x))\n"
	    "    LOOP\n"
	    "        BEGIN\n"
	    "            EXECUTE pg_catalog.format('DROP POLICY IF EXISTS %%I "
	    "ON %%s',\n"
	    "                policy, t.name);\n"
	    "            EXECUTE pg_catalog.format('CREATE POLICY %%I ON %%s "
	    "AS PERMISSIVE '\n"
	    "                'FOR ALL TO %%I USING (true) WITH CHECK (true)', "
	    "policy, t.name,\n"
	    "                grantee);\n"
	    "        EXCEPTION WHEN insufficient_privilege THEN\n"
	    "            RAISE WARNING '%%: only its owner may give it a "
	    "policy', t.name\n"
	    "                USING HINT = pg_catalog.format('Have them apply "
	    "this file, '\n"
	    "                    'or give %%I BYPASSRLS.', grantee);\n"
	    "        END;\n"
	    "    END LOOP;\nEND;\n$$;\n\nCOMMIT;\n");
}

/* "name" with its quotes doubled. */
static char *
quote_ident(const char *s)
{
	char	*q = xcalloc(2 * strlen(s) + 3, 1), *p = q;

	*p++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	*p = '"';
	return q;
}

/*
 * 'name' with its quotes doubled; E'...' with its backslashes doubled
 * too when it has any, so that it reads the same whatever
 * standard_conforming_strings says.
 */
static char *
quote_literal(const char *s)
{
	char	*q = xcalloc(4 * strlen(s) + 4, 1), *p = q;
	int	 e = strchr(s, '\\') != NULL;

	if (e)
		*p++ = 'E';
	*p++ = '\'';
	for (; *s != '\0'; s++) {
		if (*s == '\'' || (e && *s == '\\'))
			*p++ = *s;
		*p++ = *s;
	}
	*p = '\'';
	return q;
}

/* A role name as PostgreSQL keeps it, with nothing to steer a terminal. */
static int
role_ok(const char *name)
{
	const unsigned char	*p;

	if (*name == '\0' || strlen(name) > ROLE_MAX) {
		out_line(stderr, "evalschedctl: grants: a role name has 1 to %d "
		    "bytes", ROLE_MAX);
		return 0;
	}
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f) {
			out_line(stderr, "evalschedctl: grants: a role name "
			    "with a control character is refused");
			return 0;
		}
	return 1;
}

static int
take(struct ctl *c, int ch, const char *arg, void *data)
{
	(void)c;
	(void)arg;
	if (ch == 'P')
		*(int *)data = 1;
	return 0;
}

int
cmd_grants(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policies", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	struct role	 r = { ":\"role\"", ":'role'", 1 };
	int		 policies = 0, status;
	struct ctl_cmd	 cmd = { "grants", synopsis, NULL, longopts, take,
			    &policies };
	char		*ident = NULL, *literal = NULL;

	if ((status = ctl_getopt(c, argc, argv, &cmd, 0, 1)) != 0)
		return status;
	if (optind < argc) {
		if (!role_ok(argv[optind]))
			return EX_USAGE;
		r.ident = ident = quote_ident(argv[optind]);
		r.literal = literal = quote_literal(argv[optind]);
		r.psql = 0;
	}
	if (policies)
		print_policies(&r);
	else
		print_grants(&r);
	free(ident);
	free(literal);
	if (fflush(stdout) == EOF) {
		out_line(stderr, "evalschedctl: grants: cannot write: %s",
		    strerror(errno));
		return EX_IOERR;
	}
	return EX_OK;
}
