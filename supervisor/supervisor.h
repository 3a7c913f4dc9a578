/*
 * evalsched-supervisor: shared declarations.  One process, one thread,
 * one poll(2) loop (loop.c); each other file owns one concern.
 */
#ifndef EVALSCHED_SUPERVISOR_H
#define EVALSCHED_SUPERVISOR_H

#include <sys/queue.h>
#include <sys/types.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <libpq-fe.h>

#include "blame.h"
#include "config.h"
#include "job.h"
#include "util.h"

#define SCHEMA_VERSION	7	/* etc/schema-additions.sql */
#define KILL_GRACE_MS	2000	/* SIGTERM to SIGKILL for a timed-out child */
#define STR_(x)		#x
#define STR(x)		STR_(x)	/* a number's digits, for SQL text */

/* What became of one dispatch, waiting to be written to the database. */
enum outcome_kind {
	OUTCOME_SUCCESS,	/* run -> running, failures reset */
	OUTCOME_FAILED,		/* run -> failed */
	OUTCOME_CANCELLED,	/* run -> cancelled (shutdown) */
	/*
	 * The request went out and no answer of the route's came back:
	 * run -> running without a batch test until the database shows
	 * whether one started (completion.c).
	 */
	OUTCOME_UNRESOLVED,
	OUTCOME_RELEASE		/* never dispatched: delete, slot due again */
};

struct outcome {
	TAILQ_ENTRY(outcome)	 entry;
	enum outcome_kind	 kind;
	char			 run_id[UUID_LEN + 1];
	char			 owner[UUID_LEN + 1];	/* supervisor id */
	char			 test_run_id[UUID_LEN + 1];
	char			 schedule_id[UUID_LEN + 1];	/* "": unknown */
	int64_t			 started_ms;	/* monotonic, when dispatched */
	char			*schedule_name;
	char			*error_message;
	char			*error_details;		/* JSON object */
	enum blame		 blame;		/* SCHEDULE: counts toward auto-disable */
	int			 misconfigured;	/* says nothing of the platform's health */
	int			 alone;		/* the platform failed this schedule alone */
	int			 spooled;
	int			 writing;	/* in the batch on its way */
	int			 write_failures;
};
TAILQ_HEAD(outcome_queue, outcome);

/*
 * The life of a child, of either kind.  A spare (a jobrunner started
 * ahead of time) waits for its job; given one, a child is running.
 * Terminating it (past its deadline, or cancelled by shutdown) is
 * SIGTERM on entering the state and SIGKILL at its deadline; a spare no
 * longer wanted is retired the same way.
 */
enum child_state {
	CHILD_FREE,		/* the slot is unused */
	CHILD_SPARE,		/* started ahead, no job yet */
	CHILD_RETIRING,		/* a spare being stopped */
	CHILD_RUNNING,		/* has its job */
	CHILD_TIMED_OUT,	/* outlived its deadline: being terminated */
	CHILD_CANCELLED		/* shutdown: being terminated */
};

struct child;

/*
 * What differs between the programs the supervisor runs (jobrunners,
 * children.c; notifiers, alerts.c).  Starting, feeding, reading,
 * stopping and reaping them is the same for all, and child.c's.
 */
struct child_kind {
	const char	*name;		/* "jobrunner", in log lines */
	const char	*program;	/* its argv[0], its log prefix */
	const char	*work;		/* "run": what its id names */
	size_t		 out_max;	/* its result (stdout), at most */
	int		 max;		/* of this kind at once, at most */
	/* Past its deadline while running: says so; it is then stopped. */
	void		(*timed_out)(struct child *);
	/* Reaped, its pipes read to the end: what it did. */
	void		(*done)(struct child *, int wstatus);
};

/* A child, in a small fixed table of slots (child.c). */
struct child {
	const struct child_kind *kind;	/* NULL: a free slot */
	enum child_state state;
	pid_t		 pid;
	int		 in_fd, out_fd, err_fd;
	char		*job;		/* still to write on its stdin */
	size_t		 job_len, job_off;
	char		*out;		/* its stdout: the result JSON */
	size_t		 out_len;
	int		 out_too_long;	/* past out_max: refused, said once */
	char		 err_line[1024];	/* partial stderr line */
	size_t		 err_len;
	char		 err_last[512];	/* last complete stderr line */
	int64_t		 started_ms;	/* monotonic */
	int64_t		 deadline_ms;	/* the next signal, by state */
	/* The work it was given. */
	char		 id[UUID_LEN + 1];	/* its run's, its alert's */
	char		 owner[UUID_LEN + 1];	/* who claimed that */
	char		 schedule_id[UUID_LEN + 1];	/* a jobrunner's */
	char		*schedule_name;		/* a jobrunner's */
	unsigned int	 asked;		/* a notifier's: ALERT_ASKED_* */
};

/*
 * Slots for children other than jobrunners (notifiers): jobrunners take
 * at most CONFIG_MAX_CONCURRENT, so these are always left for the rest.
 */
#define CHILD_OTHER_SLOTS	16
#define CHILD_SLOTS		(CONFIG_MAX_CONCURRENT + CHILD_OTHER_SLOTS)

/* The supervisor's state, shared by the files of the loop. */
struct supervisor {
	struct config		 conf;
	const char		*conf_path;
	int			 once;		/* -1 */
	int			 foreground;
	struct outcome_queue	 outcomes;	/* not yet written */
	char			 id[UUID_LEN + 1];	/* our registration */
	int			 registered;
	int			 schema_checked;
	int64_t			 next_due_ms;	/* monotonic; -1 none known */
	int			 stopping;	/* SIGTERM seen */
	int64_t			 stop_deadline_ms;	/* the grace's end */
	int64_t			 exit_by_ms;	/* whatever the database does */
	int			 fork_failed;	/* back off until next tick */
	unsigned long		 dispatched, succeeded, failed;
	/*
	 * The encryption_key has opened a schedule's API key since it was
	 * loaded: a key it cannot open is that schedule's fault, not the
	 * deployment's.
	 */
	int			 key_opened;
};

extern struct supervisor *sv;

/* events.c: facts for the loop, which hands them to the passes */
enum event {
	EV_CLAIM,		/* a slot came free, a schedule may be due */
	EV_CONNECTED,		/* (re)connected: ends may have gone unseen */
	EV_NOTIFY_WAKEUP,	/* NOTIFY evalsched_wakeup: a schedule changed */
	EV_NOTIFY_BATCH_END,	/* NOTIFY evalsched_batch_end */
	EV_NOTIFY_ALERT,	/* NOTIFY evalsched_alert: another's event */
	EV_COMPLETION,		/* a run for the completion pass to close */
	EV_SETTLED_SOON,	/* a run completed: it settles in a while */
	EV_ALERT,		/* an event went into the outbox */
	EV_REGISTERED,		/* our registration is new */
	EV_SPOOL,		/* spooled results may replace lost runs */
	EV_ROW_CHANGED		/* what our row shows changed: renew it now */
};
void	 event_post(enum event);
int	 event_take(enum event);	/* posted since last taken */

/* loop.c */
void	 loop_run(int sigfd, void (*reload)(void));

/* signals.c */
int	 signals_init(void);		/* returns the signalfd */
void	 signals_read(int fd, int *term, int *hup, int *usr1);

/* db.c: one connection, never waited on (see there) */
struct pollfd;
/* The answers of a trip's statements, or NULL when it failed (logged). */
typedef void db_reply_fn(PGresult **res, void *arg);
struct prepared {
	const char	*name;
	const char	*sql;
	unsigned long	 connection;	/* db_connections() when prepared */
};
struct db_stmt {
	const char		*sql;
	struct prepared		*prepared;	/* instead of sql */
	int			 n;
	const char *const	*params;
};
/* Why the database failed a trip: its words, not libpq's whole text. */
#define DB_ERROR_MAX	512
struct db_error {
	char	sqlstate[6];		/* "": none (libpq's own, a loss) */
	char	message[DB_ERROR_MAX];	/* the primary message, one line */
	char	function[128];		/* "f()" it was raised in, or "" */
};
#define DB_OPEN		0x1	/* BEGIN, with our timeouts and search_path */
#define DB_CLOSE	0x2	/* COMMIT */
int	 db_connected(void);
int	 db_idle(void);		/* a statement may be sent */
int	 db_in_transaction(void);	/* a chain holds it */
void	 db_step(void);		/* connects when it is time */
void	 db_pollfd(struct pollfd *);
void	 db_io(short revents);
int64_t	 db_deadline_ms(void);
void	 db_check_deadline(int64_t now);
void	 db_wait(void);
int	 db_connect_once(int check, char *err, size_t);
unsigned long db_connections(void);	/* successful connects so far */
unsigned long db_answers(void);	/* trips answered so far */
int64_t	 db_next_attempt_ms(void);
int64_t	 db_up_since_ms(void);
void	 db_disconnect(void);
/* 0: fn is called once, later; -1: not sent, fn is not called. */
int	 db_query(const char *sql, int n, const char *const *params,
	    db_reply_fn *fn, void *arg);
/* A column's value followed by unit, for a log line; "-" for NULL. */
const char *db_value_or_dash(PGresult *, int row, int col, const char *unit,
	    char *buf, size_t);
int	 db_query_prepared(struct prepared *, int n,
	    const char *const *params, db_reply_fn *fn, void *arg);
int	 db_send(int flags, const struct db_stmt *, int n, db_reply_fn *fn,
	    void *arg);
PGresult *db_query_wait(const char *sql, int n, const char *const *params);
/* Why the last trip that failed did. */
const struct db_error *db_last_error(void);
/* For -n: the connection, blocking and out of pipeline mode, and back. */
PGconn	*db_borrow(void);
void	 db_give_back(void);

/* refusal.c: statements the database refuses, said once per cause */
int	 refusal_passes(const char *sqlstate);
void	 refusal_note(const void *site, const struct db_error *);
void	 refusal_clear(const void *site);
const char *refusal_current(void);

/* pooler.c: -n, a pooler in transaction mode with listen = yes */
int	 pooler_check(void);	/* 1: said so */
void	 pooler_warn_port(struct config_err *);	/* no database: the port */

/* privileges.c: -n, what the role lacks */
int	 privileges_check(const char *path);

/* schema.c */
void	 schema_step(void);		/* the check, when due */
int64_t	 schema_next_ms(void);
/* -n: 0, or -1 (wrong) or -2 (refused) with the reason in err */
int	 schema_check_present_now(char *err, size_t);
int	 schema_check_version_now(char *err, size_t);

/* lease.c */
void	 lease_register_step(void);	/* registers, when due */
int64_t	 lease_register_next_ms(void);
void	 lease_beat_soon(void);		/* renew our row now */
int64_t	 lease_next_ms(void);		/* its next renewal */
int	 lease_step(void);		/* 1: a statement went out */
int	 lease_release_orphans(void);	/* 0: asked */
int	 lease_stop(db_reply_fn *);	/* 0: asked */

/* claim.c */
void	 claim_soon(void);		/* claim at the next turn */
void	 claim_hint(void);		/* a NOTIFY: claim soon */
int	 claim_step(int slots);		/* 1: a claim went out */
int64_t	 claim_next_ms(void);
int	 claim_nothing_due(void);	/* found none, none asked since */
int	 claim_disable_step(void);

/* child.c: every child, whatever its kind */
struct child *child_start(const struct child_kind *, const char *path);
void	 child_give(struct child *, char *job, int64_t timeout_ms);
int	 child_count(const struct child_kind *, int (*)(const struct child *));
struct child *child_next(const struct child_kind *, struct child *);
int	 child_exited(struct child *);
void	 child_terminate(struct child *, enum child_state);
int	 child_pollfds(struct pollfd *, int max);
void	 child_io(struct pollfd *, int n);
void	 child_reap(void);
void	 child_check_deadlines(int64_t now);
int64_t	 child_next_deadline(void);

/* children.c: the jobrunners */
int	 children_free_slots(void);
int	 children_running(void);	/* runs */
void	 children_keep_spare(void);
void	 children_retire_spares(void);
struct child *children_spawn(const char *run_id, const char *schedule_id,
	    const char *schedule_name, char *job);
void	 children_cancel_all(void);
int	 children_has_run(const char *run_id);

/* exec.c */
pid_t	 program_start(const char *path, const char *name, int *in_fd,
	    int *out_fd, int *err_fd);

/* pipes.c: a child's pipes */
void	 pipes_write_job(struct child *);
void	 pipes_read_stdout(struct child *);
void	 pipes_read_stderr(struct child *);
void	 pipes_close(struct child *);

/* outcome.c */
struct outcome *outcome_from_child(struct child *, int wstatus);
struct outcome *outcome_new(enum outcome_kind, const char *run_id,
	    const char *schedule_name);
void	 outcome_free(struct outcome *);
void	 outcome_log(const struct outcome *, const struct child *);
char	*describe_wait_status(int wstatus, char *buf, size_t len);
const char *outcome_kind_name(enum outcome_kind);
struct json_object;
struct json_object *outcome_to_json(const struct outcome *);

/* record.c */
void	 record_enqueue(struct outcome *);
int	 record_has_run(const char *run_id);
int	 record_recovered(const char *run_id, int exit_status,
	    const char *test_run_id, const char *error, enum blame,
	    int ambiguous, void (*done)(int, void *), void *arg);
int	 record_step(void);		/* 1: a write went out */
void	 record_spool_all(void);
int64_t	 record_retry_at(void);

/* account.c: the user to run as, and what it can read */
struct account {
	uid_t	uid;
	gid_t	gid;
	int	drop;			/* root, with a user to become */
	char	name[64], group[64];
	char	home[PATH_MAX];
};
/* 0, or -1 with why set (no such user). */
int	 account_lookup(struct account *, char *why, size_t);
int	 account_drop(const struct account *);	/* -1: errno says why */
/* -n, -t: becomes the user; returns the errors printed. */
int	 account_check(const struct account *);

/* settings.c: -n and -t, every setting and where it came from */
void	 settings_print(FILE *, const struct config *, const char *const *flags);

/* logdest.c: where a daemon logs (the log key) */
/* Before detaching, as the user: -1 with why when the file cannot be. */
int	 logdest_prepare(const struct config *, char *why, size_t);
void	 logdest_detach(const char *progname, int debug);
void	 logdest_reopen(const struct config *);	/* SIGHUP */
int	 logdest_check(const struct config *);	/* -n, -t: errors printed */

/* spool.c */
int	 spool_init(const char *dir, uid_t, char *why, size_t);
void	 spool_chown(uid_t, gid_t);
void	 spool_mark_node(const char *node);
int	 spool_write(struct outcome *);
void	 spool_remove(const struct outcome *);
void	 spool_load(struct outcome_queue *);
void	 spool_recover_soon(void);
int	 spool_recover_step(void);	/* 1: a write went out */

/* completion.c */
void	 completion_soon(void);
void	 completion_hint(void);		/* a NOTIFY: a pass soon */
void	 completion_sweep(void);
int64_t	 completion_next_ms(void);
int	 completion_step(void);	/* 1: a statement went out */

/* settle.c */
void	 settle_soon(void);		/* a run completed */
void	 settle_sweep(void);
int64_t	 settle_next_ms(void);
int	 settle_step(void);	/* 1: a statement went out */

/* circuit.c */
int	 circuit_is_open(void);
const char *circuit_reason(void);
void	 circuit_note(struct outcome *);
int	 circuit_allowance(int free_slots);
void	 circuit_dispatched(const char *run_id);
int64_t	 circuit_not_before_ms(void);
void	 circuit_probe_now(void);
char	*circuit_avoid(void);

/* alerts.c */
void	 alerts_soon(void);
void	 alerts_hint(void);		/* a NOTIFY: look soon */
int	 alerts_step(void);		/* 1: a statement went out */
int64_t	 alerts_next_ms(void);

/* alertjob.c: a claimed alert, as the claim returns it. */
struct alert_row {
	const char	*id, *event, *title, *message, *metadata, *timestamp;
	int		 command;	/* alert_command still to run */
	const char	*webhooks;	/* JSON array, their secrets in it */
	const char	*integrations;	/* JSON array, their credentials in it */
	const char	*email_to;	/* NULL: no email in this attempt */
};
#define ALERT_ASKED_EMAIL		0x1
#define ALERT_ASKED_INTEGRATIONS	0x2
char	*alertjob_build(const struct alert_row *, unsigned int *asked);
int	 alertjob_has_channels(const struct alert_row *);

/*
 * alertresult.c: what a notifier's result says of each channel, as JSON
 * texts for the schema's evalsched_alert_result.
 */
struct alert_result {
	char	*webhooks;	/* NULL: no result at all */
	char	*email;		/* NULL: none asked, or none answered */
	char	*integrations;	/* "[]": none asked; NULL: none answered */
	int	 command_pending;
};
int	 alertresult_parse(const char *text, unsigned int asked,
	    struct alert_result *);
void	 alertresult_free(struct alert_result *);

/* metrics.c */
int64_t	 metrics_next_ms(void);
int	 metrics_step(void);	/* 1: a statement went out */

/* retention.c */
void	 retention_plan(void);
int	 retention_step(void);	/* 1: a statement went out */
int64_t	 retention_next_ms(void);

/* status.c */
void	 status_title(void);
void	 status_log(void);

#endif
