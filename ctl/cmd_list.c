/*
 * list: every schedule, one line each.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

/* "hourly (Europe/Paris)" */
static void
schedule_cell(const PGresult *res, int row, char *buf, size_t len)
{
	snprintf(buf, len, "%s (%s)", sched_expression(res, row),
	    db_get(res, row, "timezone"));
}

static void
add_row(struct ctl *c, struct table *t, const PGresult *res, int row)
{
	char	id[UUID_LEN + 1], sched[256], next[128], fails[16];

	id_cell(c, db_get(res, row, "id"), id, sizeof(id));
	schedule_cell(res, row, sched, sizeof(sched));
	fmt_when(c, db_int(res, row, "next_run_at"),
	    db_get(res, row, "timezone"), next, sizeof(next));
	snprintf(fails, sizeof(fails), "%lld", db_int(res, row,
	    "consecutive_failures"));
	table_add(t, id, db_get(res, row, "name"), sched,
	    db_bool(res, row, "is_active") ? "yes" : "no", next,
	    db_int(res, row, "in_flight") > 0 ? "in flight" :
	    db_get(res, row, "last_run_status"), fails);
}

static void
print_table(struct ctl *c, const PGresult *res)
{
	struct table	*t;
	int		 i;

	t = table_new(7, "ID", "NAME", "SCHEDULE", "ACTIVE", "NEXT RUN",
	    "LAST", "FAILURES");
	for (i = 0; i < PQntuples(res); i++)
		add_row(c, t, res, i);
	table_print(t, c->aligned);
	table_free(t);
}

int
cmd_list(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	char		 sql[2048];
	int		 status;

	if ((status = ctl_opts(c, argc, argv, "list", "", 0)) != 0)
		return status;
	if ((status = ctl_connect(c)) != 0)
		return status;
	snprintf(sql, sizeof(sql), "%s ORDER BY s.name, s.id", SCHED_SELECT);
	if ((res = db_exec(c, sql, 0, NULL)) == NULL)
		return c->dbstatus;
	if (c->json)
		json_print(json_rows(res, sched_json));
	else
		print_table(c, res);
	PQclear(res);
	return 0;
}
