/*
 * evalschedctl(8): the ops tool.  One file per command or small group of
 * commands; the helpers below are what they share.
 */
#ifndef EVALSCHED_CTL_H
#define EVALSCHED_CTL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "config.h"
#include "job.h"
#include "jsonnew.h"
#include "util.h"

struct ctl {
	struct config	 cfg;
	const char	*config_path;	/* -c, or NULL for the default */
	PGconn		*conn;
	int		 json;		/* --json */
	int		 aligned;	/* stdout is a terminal */
	int64_t		 now;		/* the database clock, Unix seconds */
	int		 dbstatus;	/* exit status of the last failed query */
	int		 monitor;	/* status, metrics: see monitor.c */
};

/* evalschedctl.c: reads the configuration and connects: 0 or a status. */
int		 ctl_connect(struct ctl *);

/*
 * opts.c: every command's options.  A command's own are getopt_long's
 * short string and table; take is called with each one found and its
 * argument, and returns 0 or an exit status.
 */
struct option;
struct ctl_cmd {
	const char		*name;
	const char		*synopsis;	/* after the name, in usage */
	const char		*shortopts;	/* "n:"; NULL for none */
	const struct option	*longopts;	/* NULL for none */
	int			(*take)(struct ctl *, int ch, const char *arg,
				    void *data);
	void			*data;
};
/* Not an exit status: --help was printed and the command is done. */
#define CTL_DONE	(-1)
int		 ctl_usage(const char *cmd, const char *synopsis);
/*
 * Parses the options before the operands (--json and --help besides the
 * command's own) and checks that min to max operands follow (max -1: no
 * limit); returns 0, CTL_DONE or an exit status.  The operands start at
 * optind.
 */
int		 ctl_getopt(struct ctl *, int argc, char **argv,
		    const struct ctl_cmd *, int min, int max);
/* The same for a command with no options of its own; nargs -n: 0 to n. */
int		 ctl_opts(struct ctl *, int argc, char **argv, const char *cmd,
		    const char *synopsis, int nargs);
/* A count of digits alone, from 1 to max: 0, or EX_USAGE said. */
int		 ctl_count(const char *cmd, const char *opt, const char *s,
		    long max, long *v);

/* db.c */
int		 db_connect(struct ctl *);
void		 db_close(struct ctl *);
PGresult	*db_exec(struct ctl *, const char *sql, int nparams,
		    const char *const *params);
PGresult	*db_exec_refusal(struct ctl *, const char *sql, int nparams,
		    const char *const *params, PGresult **refused);
void		 db_report(struct ctl *, PGresult *);
const char	*db_get(const PGresult *, int row, const char *col);
long long	 db_int(const PGresult *, int row, const char *col);
int		 db_bool(const PGresult *, int row, const char *col);

/*
 * monitor.c: status and metrics connect with monitor_database when it
 * is set, and read through the schema's evalsched_monitor_ functions.
 */
int		 monitor_connect(struct ctl *);
const char	*monitor_conninfo(const struct ctl *);
PGresult	*monitor_query(struct ctl *, const char *sql, int nparams,
		    const char *const *params);
char		*monitor_config_path(const char *config_path);
void		 monitor_config_hint(struct config_err *, const char *path);

/* lookup.c */
int		 sched_resolve(struct ctl *, const char *arg, char *id,
		    size_t idlen);
int		 ctl_is_id_prefix(const char *);
void		 id_cell(const struct ctl *, const char *id, char *buf,
		    size_t len);

/* sched.c */
extern const char SCHED_SELECT[];
const char	*sched_expression(const PGresult *, int row);
json_object	*sched_json(const PGresult *, int row);
PGresult	*sched_fetch(struct ctl *, const char *id);
int		 sched_operand(struct ctl *, int argc, char **argv,
		    const char *cmd, PGresult **res);
int		 sched_report(struct ctl *, const char *id, const char *head,
		    int mark_paused, const char *tail);
int		 sched_next_after(const PGresult *, int row, int64_t after,
		    int64_t *next, char *err, size_t errlen);

/*
 * run.c: results as the application prints them.  A run has results when
 * its batch test ended with counts: completed, or failed at completion
 * (every prompt failed); one that can be pinned as a baseline is
 * completed with results.  r is the run's alias.
 */
#define RUN_HAS_RESULTS(r)						\
	"(" r ".status = 'completed' OR (" r ".status = 'failed' AND "	\
	r ".total_prompts > 0))"
#define RUN_WITH_RESULTS(r)						\
	"(" r ".status = 'completed' AND " r ".total_prompts > 0)"
extern const char RUN_SELECT[];
PGresult	*run_select(struct ctl *, const char *where, int n,
		    const char *const *params);
json_object	*run_json(const PGresult *, int row);
void		 run_status_cell(const PGresult *, int row, char *buf,
		    size_t len);
void		 run_prompts_cell(const PGresult *, int row, char *buf,
		    size_t len);
void		 run_latency_cell(const PGresult *, int row, char *buf,
		    size_t len);
void		 run_quality_cell(const PGresult *, int row, char *buf,
		    size_t len);
void		 run_success_cell(const PGresult *, int row, char *buf,
		    size_t len);
void		 fmt_fixed1(double, char *buf, size_t len);

/* regression.c: a run against its baseline, from regression_details. */
void		 run_vs_baseline_cell(const PGresult *, int row, char *buf,
		    size_t len);
void		 run_regression_line(struct ctl *, const PGresult *, int row,
		    char *buf, size_t len);

/*
 * baseline.c: the run a schedule's next run is compared with, the pinned
 * one or else the latest good one (completed, with results, no
 * regression), as the supervisor chooses it.
 */
extern const char LATEST_COMPLETED[];
struct baseline {
	PGresult	*pin;	/* its evalsched_baselines row, or no row */
	PGresult	*run;	/* the run compared with (RUN_SELECT), or no row */
};
int		 baseline_fetch(struct ctl *, const char *sched_id,
		    struct baseline *);
void		 baseline_free(struct baseline *);
int		 baseline_pinned(const struct baseline *);
void		 baseline_line(struct ctl *, const struct baseline *,
		    int whole_ids, const char *zone, char *buf, size_t len);
void		 baseline_figures(struct ctl *, const PGresult *run,
		    char *buf, size_t len);
json_object	*baseline_json(const struct baseline *, const char *zone);

/* history.c: what run_retention has pruned. */
struct history {
	int		 retention;	/* days; 0 = keep all */
	int		 pruned;	/* pruned_at is recorded */
	int64_t		 pruned_at;
	long long	 runs;		/* runs deleted; -1 = not recorded */
};
void		 history_read(struct ctl *, const PGresult *, struct history *);
void		 history_line(struct ctl *, const struct history *, char *buf,
		    size_t len);
json_object	*history_json(struct ctl *, const struct history *);

/*
 * timefmt.c: times in a schedule's zone as the schedule engine reads it
 * (tz.c), or, for a NULL zone, in the operator's own (TZ).  A zone the
 * engine does not know shows UTC.
 */
int		 zone_ok(const char *zone);
void		 fmt_local(int64_t t, const char *zone, char *buf, size_t len);
void		 fmt_clock(int64_t t, const char *zone, char *buf, size_t len);
void		 fmt_rfc3339(int64_t t, const char *zone, char *buf,
		    size_t len);
void		 fmt_relative(int64_t t, int64_t now, char *buf, size_t len);
void		 fmt_duration(int64_t secs, char *buf, size_t len);
void		 fmt_when(struct ctl *, int64_t t, const char *zone, char *buf,
		    size_t len);

/* table.c */
struct table;
struct table	*table_new(size_t ncols, ...);
struct table	*table_new_plain(size_t ncols);
void		 table_add(struct table *, ...);
void		 table_print(struct table *, int aligned);
void		 table_free(struct table *);

/*
 * out.c: text for a person, with control, C1 and bidi characters shown
 * as escapes (\x1b, \u202e).  Every text line goes through out_line or
 * a table.
 */
void		 out_line(FILE *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 out_vline(FILE *, const char *fmt, va_list)
		    __attribute__((format(printf, 2, 0)));
void		 out_lines(FILE *, const char *prefix, const char *text);

/* json.c */
void		 json_print(json_object *);
json_object	*json_str(const char *);
json_object	*json_time(int64_t t, int isnull, const char *zone);
json_object	*json_numeric(const char *);
json_object	*json_col_str(const PGresult *, int row, const char *col);
json_object	*json_col_time(const PGresult *, int row, const char *col,
		    const char *zone);
json_object	*json_col_jsonb(const PGresult *, int row, const char *col);
json_object	*json_rows(const PGresult *,
		    json_object *(*row_json)(const PGresult *, int));

/* The commands: each returns an exit status from sysexits.h. */
int		 cmd_list(struct ctl *, int, char **);
int		 cmd_show(struct ctl *, int, char **);
int		 cmd_runs(struct ctl *, int, char **);
int		 cmd_add(struct ctl *, int, char **);
int		 cmd_pause(struct ctl *, int, char **);
int		 cmd_resume(struct ctl *, int, char **);
int		 cmd_trigger(struct ctl *, int, char **);
int		 cmd_status(struct ctl *, int, char **);
int		 cmd_baseline(struct ctl *, int, char **);
int		 cmd_watch(struct ctl *, int, char **);
int		 cmd_metrics(struct ctl *, int, char **);
int		 cmd_grants(struct ctl *, int, char **);
int		 cmd_next(struct ctl *, int, char **);


#endif
