/*
 * Monitoring: status and metrics.  They read the database through the
 * schema's evalsched_monitor_ functions alone, which run with their
 * owner's rights, change nothing, and may be executed by the role
 * evalsched_monitor (and the owner): a monitoring user needs neither
 * the supervisor's configuration, which holds its connection, nor its
 * role.  Such a user sets monitor_database, a login role granted
 * evalsched_monitor, in monitor.conf beside the configuration file or in
 * EVALSCHED_MONITOR_DATABASE (MONITORING in evalschedctl(8)); these two
 * commands connect with it wherever it is set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

#define MONITOR_CONF	"monitor.conf"
#define SEE		"see MONITORING in evalschedctl(8)"

/* monitor.conf in the directory of path. */
char *
monitor_config_path(const char *path)
{
	const char	*slash = strrchr(path, '/');
	int		 dirlen = slash != NULL ? (int)(slash - path) + 1 : 0;

	return xasprintf("%.*s%s", dirlen, path, MONITOR_CONF);
}

/* What a user who may not read the configuration can do instead. */
void
monitor_config_hint(struct config_err *err, const char *alt)
{
	config_err_add(err, "evalschedctl: status and metrics need only "
	    "monitor_database, a role granted evalsched_monitor: set it in "
	    "%s, readable by this user, or in EVALSCHED_MONITOR_DATABASE; "
	    SEE, alt);
}

int
monitor_connect(struct ctl *c)
{
	c->monitor = 1;
	return ctl_connect(c);
}

/* The conninfo a command connects with. */
const char *
monitor_conninfo(const struct ctl *c)
{
	if (c->monitor && c->cfg.monitor_database != NULL)
		return c->cfg.monitor_database;
	return c->cfg.database;
}

static const char *
sqlstate(const PGresult *res)
{
	const char	*s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return s != NULL ? s : "";
}

/*
 * A refusal said with what to do: a role not granted evalsched_monitor
 * (42501, 77), a database without the functions (42883, 70).
 */
static void
refused(struct ctl *c, PGresult *res)
{
	const char	*role = PQuser(c->conn);

	if (strcmp(sqlstate(res), "42501") == 0) {
		db_report(c, res);
		out_line(stderr, "evalschedctl: the role %s may not read "
		    "evalsched's status: grant it evalsched_monitor (GRANT "
		    "evalsched_monitor TO %s), or set monitor_database to a "
		    "role that has it; " SEE, role, role);
		c->dbstatus = EX_NOPERM;
	} else if (strcmp(sqlstate(res), "42883") == 0) {
		db_report(c, res);
		fprintf(stderr, "evalschedctl: the database lacks evalsched's "
		    "monitoring functions: apply this version's "
		    "schema-additions.sql\n");
		c->dbstatus = EX_SOFTWARE;
	} else
		db_report(c, res);
}

PGresult *
monitor_query(struct ctl *c, const char *sql, int nparams,
    const char *const *params)
{
	PGresult	*res, *refusal;

	res = db_exec_refusal(c, sql, nparams, params, &refusal);
	if (refusal != NULL)
		refused(c, refusal);
	return res;
}
