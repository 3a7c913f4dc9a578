/*
 * add: a new schedule, checked as the supervisor will read it (the
 * schedule engine compiles it and computes its first fire time) before
 * it is inserted, so that a typo never reaches the table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "json1.h"
#include "schedule.h"

#define ADD_SYNOPSIS	"--name name --type type | --cron expr " \
			"--suite uuid --model id --user uuid\n" \
			"    [--tz zone] [--config json] [--description text] " \
			"[--paused]"

/* As deep as show prints a stored configuration (json.c). */
#define CONFIG_DEPTH	1024

struct add_args {
	const char	*name;
	const char	*type;
	const char	*cron;
	const char	*tz;
	const char	*suite;
	const char	*model;
	const char	*user;
	const char	*config;
	const char	*description;
	int		 paused;
};

static const char insert_sql[] =
    "INSERT INTO public.scheduled_evaluations (name, description, user_id, "
    "  schedule_type, cron_expression, timezone, test_suite_id, model_id, "
    "  batch_test_config, is_active, next_run_at) "
    "SELECT $1, $2, $3::uuid, $4, $5, $6, $7::uuid, $8, $9::jsonb, "
    "  $10::boolean, to_timestamp($11::bigint) "
    "WHERE NOT EXISTS (SELECT 1 FROM public.scheduled_evaluations "
    "  WHERE name = $1) "
    "RETURNING id";

static int
add_usage(const char *why)
{
	if (why != NULL)
		out_line(stderr, "evalschedctl: add: %s", why);
	return ctl_usage("add", ADD_SYNOPSIS);
}

static int
take_opt(struct ctl *c, int ch, const char *arg, void *data)
{
	struct add_args	*a = data;

	(void)c;
	switch (ch) {
	case 'N': a->name = arg; break;
	case 'T': a->type = arg; break;
	case 'C': a->cron = arg; break;
	case 'Z': a->tz = arg; break;
	case 'S': a->suite = arg; break;
	case 'M': a->model = arg; break;
	case 'U': a->user = arg; break;
	case 'G': a->config = arg; break;
	case 'D': a->description = arg; break;
	case 'P': a->paused = 1; break;
	default: return EX_SOFTWARE;
	}
	return 0;
}

static int
parse_opts(struct ctl *c, int argc, char **argv, struct add_args *a)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "type", required_argument, NULL, 'T' },
		{ "cron", required_argument, NULL, 'C' },
		{ "tz", required_argument, NULL, 'Z' },
		{ "suite", required_argument, NULL, 'S' },
		{ "model", required_argument, NULL, 'M' },
		{ "user", required_argument, NULL, 'U' },
		{ "config", required_argument, NULL, 'G' },
		{ "description", required_argument, NULL, 'D' },
		{ "paused", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	const struct ctl_cmd	cmd = { "add", ADD_SYNOPSIS, NULL, longopts,
				    take_opt, a };
	int			status;

	if ((status = ctl_getopt(c, argc, argv, &cmd, 0, -1)) != 0)
		return status;
	if (argc != optind)
		return add_usage("unexpected argument");
	return 0;
}

static int
check_required(const struct add_args *a)
{
	if (a->name == NULL || *a->name == '\0')
		return add_usage("--name is required");
	if (a->type == NULL && a->cron == NULL)
		return add_usage("--type or --cron is required");
	if (a->suite == NULL)
		return add_usage("--suite is required");
	if (a->model == NULL || *a->model == '\0')
		return add_usage("--model is required");
	if (a->user == NULL)
		return add_usage("--user is required");
	return 0;
}

static int
bad(const char *opt, const char *value, const char *why)
{
	out_line(stderr, "evalschedctl: add: %s: '%s' %s", opt, value, why);
	return EX_DATAERR;
}

/* --cron alone means custom; a named type takes no expression. */
static int
check_type(struct add_args *a)
{
	if (a->type == NULL)
		a->type = "custom";
	if (strcmp(a->type, "custom") == 0) {
		if (a->cron == NULL)
			return bad("--type", a->type, "needs --cron");
		return 0;
	}
	if (schedule_type_expression(a->type) == NULL)
		return bad("--type", a->type, "is not one of every_5_minutes, "
		    "hourly, daily, weekly, custom");
	if (a->cron != NULL)
		return bad("--cron", a->cron, "needs --type custom or no "
		    "--type");
	return 0;
}

static int
check_config(const char *text)
{
	json_object	*o;
	char		 why[128], msg[160];
	int		 status = 0;

	if (json1_parse(text, strlen(text), CONFIG_DEPTH, &o, why,
	    sizeof(why)) == -1) {
		snprintf(msg, sizeof(msg), "is not valid JSON: %s", why);
		return bad("--config", text, msg);
	}
	if (o == NULL || !json_object_is_type(o, json_type_object))
		status = bad("--config", text, "is not a JSON object");
	json_object_put(o);
	return status;
}

/*
 * The zone as the application would store it: an IANA name (the engine
 * checks that it is one), never "" for UTC.
 */
static int
check_zone(struct add_args *a)
{
	if (a->tz == NULL)
		a->tz = "UTC";
	if (*a->tz == '\0')
		return bad("--tz", a->tz, "is not a time zone: leave --tz out "
		    "for UTC");
	return 0;
}

static int
check_values(struct add_args *a)
{
	int	status;

	if ((status = check_type(a)) != 0)
		return status;
	if (!job_is_uuid(a->suite))
		return bad("--suite", a->suite, "is not a UUID");
	if (!job_is_uuid(a->user))
		return bad("--user", a->user, "is not a UUID");
	if ((status = check_zone(a)) != 0)
		return status;
	if (a->config == NULL)
		a->config = "{}";
	return check_config(a->config);
}

/* The engine's verdict, and the first fire time after now. */
static int
first_fire(const struct ctl *c, const struct add_args *a, int64_t *next)
{
	struct schedule	*s;
	char		 err[256];

	s = schedule_compile(a->type, strcmp(a->type, "custom") == 0 ?
	    a->cron : NULL, a->tz, err, sizeof(err));
	if (s == NULL) {
		out_line(stderr, "evalschedctl: add: bad schedule: %s", err);
		return EX_DATAERR;
	}
	if (schedule_next(s, c->now, next) == -1) {
		schedule_free(s);
		fprintf(stderr, "evalschedctl: add: bad schedule: it never "
		    "fires\n");
		return EX_DATAERR;
	}
	schedule_free(s);
	return 0;
}

/*
 * The application's own checks, said in the words of the options: its
 * foreign keys (the user and the test suite must exist) and its
 * trigger's limit of 50 active schedules per user (which refuses a
 * paused one too).  NULL: the refusal is none of them.
 */
static const char *
app_refusal(const PGresult *err, const char **opt)
{
	const char	*state, *constraint, *msg;

	state = PQresultErrorField(err, PG_DIAG_SQLSTATE);
	constraint = PQresultErrorField(err, PG_DIAG_CONSTRAINT_NAME);
	msg = PQresultErrorField(err, PG_DIAG_MESSAGE_PRIMARY);
	if (state == NULL)
		return NULL;
	*opt = "--user";
	if (strcmp(state, "23503") == 0 && constraint != NULL &&
	    strcmp(constraint, "scheduled_evaluations_user_id_fkey") == 0)
		return "is not a user of the application (no auth.users row)";
	if (strcmp(state, "P0001") == 0 && msg != NULL && strcmp(msg,
	    "Maximum 50 active schedules per user exceeded") == 0)
		return "already has the application's maximum of 50 active "
		    "schedules";
	*opt = "--suite";
	if (strcmp(state, "23503") == 0 && constraint != NULL &&
	    strcmp(constraint, "scheduled_evaluations_test_suite_id_fkey") == 0)
		return "is not a test suite of the application (no test_suites "
		    "row)";
	return NULL;
}

static int
refused(struct ctl *c, const struct add_args *a, PGresult *err)
{
	const char	*opt, *why;

	if ((why = app_refusal(err, &opt)) == NULL) {
		db_report(c, err);
		return c->dbstatus;
	}
	PQclear(err);
	return bad(opt, strcmp(opt, "--user") == 0 ? a->user : a->suite, why);
}

static int
insert(struct ctl *c, const struct add_args *a, int64_t next, char *id,
    size_t idlen)
{
	PGresult	*res, *err;
	char		 nextbuf[32];
	const char	*params[11];

	snprintf(nextbuf, sizeof(nextbuf), "%lld", (long long)next);
	params[0] = a->name;
	params[1] = a->description;
	params[2] = a->user;
	params[3] = a->type;
	params[4] = strcmp(a->type, "custom") == 0 ? a->cron : NULL;
	params[5] = a->tz;
	params[6] = a->suite;
	params[7] = a->model;
	params[8] = a->config;
	params[9] = a->paused ? "false" : "true";
	params[10] = nextbuf;
	if ((res = db_exec_refusal(c, insert_sql, 11, params, &err)) == NULL)
		return err != NULL ? refused(c, a, err) : c->dbstatus;
	if (PQntuples(res) == 0) {
		PQclear(res);
		out_line(stderr, "evalschedctl: add: a schedule named '%s' "
		    "already exists", a->name);
		return EX_DATAERR;
	}
	strlcpy(id, db_get(res, 0, "id"), idlen);
	PQclear(res);
	return 0;
}

int
cmd_add(struct ctl *c, int argc, char **argv)
{
	struct add_args	 a;
	int64_t		 next;
	char		 id[UUID_LEN + 1], head[64];
	int		 status;

	memset(&a, 0, sizeof(a));
	if ((status = parse_opts(c, argc, argv, &a)) != 0 ||
	    (status = check_required(&a)) != 0 ||
	    (status = check_values(&a)) != 0 ||
	    (status = ctl_connect(c)) != 0 ||
	    (status = first_fire(c, &a, &next)) != 0 ||
	    (status = insert(c, &a, next, id, sizeof(id))) != 0)
		return status;
	snprintf(head, sizeof(head), "added schedule %s", id);
	return sched_report(c, id, head, 1, "");
}
