/*
 * Finding a schedule from what an operator typed: its id, its name, or
 * a unique prefix of its id (the lists print short ids on a terminal).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

#define MIN_PREFIX	4
#define SHORT_ID	8

int
ctl_is_uuid(const char *s)
{
	size_t	i;

	if (strlen(s) != UUID_LEN)
		return 0;
	for (i = 0; i < UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Hex digits and dashes only, so it cannot carry a LIKE wildcard. */
static int
is_id_prefix(const char *s)
{
	size_t	n = strspn(s, "0123456789abcdefABCDEF-");

	return n >= MIN_PREFIX && s[n] == '\0' && n < UUID_LEN;
}

static void
print_candidates(const PGresult *res)
{
	int	i;

	for (i = 0; i < PQntuples(res); i++)
		fprintf(stderr, "  %s  %s\n", db_get(res, i, "id"),
		    db_get(res, i, "name"));
}

/* Runs one lookup; returns the number of matches or -1. */
static int
lookup(struct ctl *c, const char *sql, const char *arg, PGresult **res)
{
	const char	*params[] = { arg };

	if ((*res = db_query(c, sql, 1, params)) == NULL)
		return -1;
	return PQntuples(*res);
}

static int
found(PGresult *res, char *id, size_t idlen)
{
	strlcpy(id, db_get(res, 0, "id"), idlen);
	PQclear(res);
	return 0;
}

static int
ambiguous(PGresult *res, const char *what, const char *arg)
{
	fprintf(stderr, "evalschedctl: %s '%s' is ambiguous; it matches:\n",
	    what, arg);
	print_candidates(res);
	PQclear(res);
	return EX_DATAERR;
}

/* Returns 0 with the schedule's id in id, or an exit status. */
int
sched_resolve(struct ctl *c, const char *arg, char *id, size_t idlen)
{
	PGresult	*res;
	int		 n;

	if (ctl_is_uuid(arg)) {
		n = lookup(c, "SELECT id, name FROM scheduled_evaluations "
		    "WHERE id = $1::uuid", arg, &res);
		if (n < 0)
			return c->dbstatus;
		if (n == 1)
			return found(res, id, idlen);
		PQclear(res);
	}
	n = lookup(c, "SELECT id, name FROM scheduled_evaluations "
	    "WHERE name = $1 ORDER BY created_at, id", arg, &res);
	if (n < 0)
		return c->dbstatus;
	if (n == 1)
		return found(res, id, idlen);
	if (n > 1)
		return ambiguous(res, "name", arg);
	PQclear(res);
	if (is_id_prefix(arg)) {
		n = lookup(c, "SELECT id, name FROM scheduled_evaluations "
		    "WHERE id::text LIKE lower($1) || '%' ORDER BY id",
		    arg, &res);
		if (n < 0)
			return c->dbstatus;
		if (n == 1)
			return found(res, id, idlen);
		if (n > 1)
			return ambiguous(res, "id prefix", arg);
		PQclear(res);
	}
	fprintf(stderr, "evalschedctl: no schedule '%s'\n", arg);
	return EX_DATAERR;
}

/* The full id in a pipe; on a terminal, enough of it to type back. */
void
id_cell(const struct ctl *c, const char *id, char *buf, size_t len)
{
	if (id == NULL)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*s", c->aligned ? SHORT_ID : UUID_LEN,
		    id);
}
