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
#define NO_MATCH	(-1)	/* not an exit status */

static const char by_id_sql[] =
    "SELECT id, name FROM public.scheduled_evaluations WHERE id = $1::uuid";
static const char by_name_sql[] =
    "SELECT id, name FROM public.scheduled_evaluations "
    "WHERE name = $1 ORDER BY created_at, id";
static const char by_prefix_sql[] =
    "SELECT id, name FROM public.scheduled_evaluations "
    "WHERE id::text LIKE lower($1) || '%' ORDER BY id";

/* Hex digits and dashes only, so it cannot carry a LIKE wildcard. */
int
ctl_is_id_prefix(const char *s)
{
	size_t	n = strspn(s, "0123456789abcdefABCDEF-");

	return n >= MIN_PREFIX && s[n] == '\0' && n < UUID_LEN;
}

static void
print_candidates(const PGresult *res)
{
	int	i;

	for (i = 0; i < PQntuples(res); i++)
		out_line(stderr, "  %s  %s", db_get(res, i, "id"),
		    db_get(res, i, "name"));
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
	out_line(stderr, "evalschedctl: %s '%s' is ambiguous; it matches:",
	    what, arg);
	print_candidates(res);
	PQclear(res);
	return EX_DATAERR;
}

/*
 * Runs one lookup: 0 with the id of its only match, an exit status, or
 * NO_MATCH to try the next way.
 */
static int
lookup(struct ctl *c, const char *sql, const char *what, const char *arg,
    char *id, size_t idlen)
{
	PGresult	*res;
	const char	*params[] = { arg };

	if ((res = db_exec(c, sql, 1, params)) == NULL)
		return c->dbstatus;
	if (PQntuples(res) == 1)
		return found(res, id, idlen);
	if (PQntuples(res) > 1)
		return ambiguous(res, what, arg);
	PQclear(res);
	return NO_MATCH;
}

/* Returns 0 with the schedule's id in id, or an exit status. */
int
sched_resolve(struct ctl *c, const char *arg, char *id, size_t idlen)
{
	int	status;

	if (job_is_uuid(arg) &&
	    (status = lookup(c, by_id_sql, "id", arg, id, idlen)) != NO_MATCH)
		return status;
	if ((status = lookup(c, by_name_sql, "name", arg, id, idlen)) !=
	    NO_MATCH)
		return status;
	if (ctl_is_id_prefix(arg) && (status = lookup(c, by_prefix_sql,
	    "id prefix", arg, id, idlen)) != NO_MATCH)
		return status;
	out_line(stderr, "evalschedctl: no schedule '%s'", arg);
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
