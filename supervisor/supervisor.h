/*
 * evalsched-supervisor: shared declarations.  One process, one thread,
 * one poll(2) loop (loop.c); each other file owns one concern.
 */
#ifndef EVALSCHED_SUPERVISOR_H
#define EVALSCHED_SUPERVISOR_H

#include <sys/queue.h>
#include <sys/types.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "blame.h"
#include "config.h"

#define UUID_LEN	36
#define SCHEMA_VERSION	2	/* etc/schema-additions.sql */
#define KILL_GRACE_MS	2000	/* SIGTERM to SIGKILL for a timed-out child */
#define STR_(x)		#x
#define STR(x)		STR_(x)	/* a number's digits, for SQL text */

/* What became of one dispatch, waiting to be written to the database. */
enum outcome_kind {
	OUTCOME_SUCCESS,	/* run -> running, failures reset */
	OUTCOME_FAILED,		/* run -> failed */
	OUTCOME_CANCELLED,	/* run -> cancelled (shutdown) */
	OUTCOME_RELEASE		/* never dispatched: delete, slot due again */
};

struct outcome {
	TAILQ_ENTRY(outcome)	 entry;
	enum outcome_kind	 kind;
	char			 run_id[UUID_LEN + 1];
	char			 owner[UUID_LEN + 1];	/* supervisor id */
	char			 test_run_id[UUID_LEN + 1];
	char			*schedule_name;
	char			*error_message;
	char			*error_details;		/* JSON object */
	enum blame		 blame;		/* SCHEDULE: counts toward auto-disable */
	int			 misconfigured;	/* says nothing of the platform's health */
	int			 spooled;
	int			 write_failures;
};
TAILQ_HEAD(outcome_queue, outcome);

/* A dispatched jobrunner, in a small fixed table of slots. */
struct child {
	pid_t		 pid;		/* 0: a free slot */
	char		 run_id[UUID_LEN + 1];
	char		 schedule_id[UUID_LEN + 1];
	char		 owner[UUID_LEN + 1];	/* who claimed the run */
	char		*schedule_name;
	int		 in_fd, out_fd, err_fd;
	char		*job;		/* still to write on its stdin */
	size_t		 job_len, job_off;
	char		*out;		/* its stdout: the result JSON */
	size_t		 out_len;
	char		 err_line[512];	/* partial stderr line */
	size_t		 err_len;
	char		 err_last[512];	/* last complete stderr line */
	int64_t		 started_ms;	/* monotonic */
	int64_t		 deadline_ms;	/* SIGTERM at; then SIGKILL */
	int		 term_sent;
	int		 timed_out;
	int		 cancelled;
	int		 spare;		/* started ahead, no run yet */
	int		 retiring;	/* a spare being stopped */
};

/* The supervisor's state, shared by the files of the loop. */
struct supervisor {
	struct config		 conf;
	const char		*conf_path;
	int			 once;		/* -1 */
	int			 foreground;
	int			 nchildren;	/* alive */
	struct outcome_queue	 outcomes;	/* not yet written */
	char			 id[UUID_LEN + 1];	/* our registration */
	int			 registered;
	int			 schema_checked;
	int64_t			 next_due_ms;	/* monotonic; -1 none known */
	int64_t			 next_heartbeat_ms;
	int			 poll_now;	/* claim at the next turn */
	int			 stopping;	/* SIGTERM seen */
	int64_t			 stop_deadline_ms;
	int			 fork_failed;	/* back off until next tick */
	unsigned long		 dispatched, succeeded, failed;
};

extern struct supervisor *sv;

/* util.c */
int64_t	 mono_ms(void);
void	*xcalloc(size_t, size_t);
char	*xstrdup(const char *);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* array.c: PostgreSQL array literals for batched statements */
struct array {
	char	*buf;
	size_t	 len, cap;
};
void	 array_add(struct array *, const char *item);
const char *array_text(struct array *);
void	 array_free(struct array *);

/* loop.c */
void	 loop_run(int sigfd, void (*reload)(void));

/* signals.c */
int	 signals_init(void);		/* returns the signalfd */
void	 signals_child_reset(void);	/* in the child, before exec */
void	 signals_read(int fd, int *term, int *hup, int *usr1);

/* db.c */
int	 db_connected(void);
int	 db_socket(void);
int	 db_try_connect(void);		/* 0 on success */
int	 db_connect_once(char *err, size_t);
unsigned long db_connections(void);	/* successful connects so far */
int64_t	 db_next_attempt_ms(void);
int64_t	 db_up_since_ms(void);
void	 db_disconnect(void);
int	 db_consume_notifies(void);	/* >0: a wake-up came */
/* NULL on failure, already logged; a lost connection is noticed. */
PGresult *db_exec(const char *sql, int n, const char *const *params);
struct prepared {
	const char	*name;
	const char	*sql;
	unsigned long	 connection;	/* db_connections() when prepared */
};
PGresult *db_exec_prepared(struct prepared *, int n,
	    const char *const *params);
int	 db_begin(void);
int	 db_commit(void);
void	 db_rollback(void);
int	 db_schema_version(char *err, size_t);
int	 db_results_tables(char *err, size_t);

/* lease.c */
int	 lease_register(void);
void	 lease_close_previous(void);
void	 lease_release_orphans(void);
int	 lease_heartbeat(void);
void	 lease_recover(void);
void	 lease_stop(void);

/* claim.c */
int	 claim_due(int slots);
int	 claim_next_due(void);

/* children.c */
int	 children_free_slots(void);
int	 children_alive(void);		/* runs and spares */
void	 children_keep_spare(void);
void	 children_retire_spares(void);
struct pollfd;
struct child *children_spawn(const char *run_id, const char *schedule_id,
	    const char *schedule_name, char *job);
int	 children_pollfds(struct pollfd *, int max);
void	 children_io(struct pollfd *, int n);
void	 children_reap(void);
void	 children_check_deadlines(int64_t now);
void	 children_cancel_all(void);
int64_t	 children_next_deadline(void);
const struct child *children_table(int *n);
int	 children_has_run(const char *run_id);

/* exec.c */
pid_t	 program_start(const char *path, const char *name, int *in_fd,
	    int *out_fd, int *err_fd);
pid_t	 jobrunner_start(int *in_fd, int *out_fd, int *err_fd);

/* pipes.c */
void	 child_write_job(struct child *);
void	 child_job_done(struct child *);
void	 child_read_stdout(struct child *);
void	 child_read_stderr(struct child *);
void	 child_close_fd(int *);

/* outcome.c */
struct outcome *outcome_from_child(struct child *, int wstatus);
struct outcome *outcome_new(enum outcome_kind, const char *run_id,
	    const char *schedule_name);
void	 outcome_free(struct outcome *);
void	 outcome_log(const struct outcome *, const struct child *);
char	*describe_wait_status(int wstatus, char *buf, size_t len);

/* record.c */
struct json_object;
void	 record_enqueue(struct outcome *);
int	 record_has_run(const char *run_id);
int	 record_recovered(const char *run_id, int exit_status,
	    const char *test_run_id, const char *error, enum blame);
int	 record_flush(void);		/* 0: queue empty */
int64_t	 record_retry_at(void);
const char *outcome_kind_name(enum outcome_kind);
struct json_object *outcome_to_json(const struct outcome *);

/* spool.c */
int	 spool_init(const char *dir, uid_t, char *why, size_t);
void	 spool_chown(uid_t, gid_t);
void	 spool_mark_node(const char *node);
int	 spool_write(struct outcome *);
void	 spool_remove(const struct outcome *);
void	 spool_load(struct outcome_queue *);
void	 spool_recover_results(void);

/* completion.c */
void	 completion_soon(void);
void	 completion_sweep(void);
int64_t	 completion_next_ms(void);
int	 completion_step(void);

/* circuit.c */
int	 circuit_is_open(void);
const char *circuit_reason(void);
void	 circuit_note(const struct outcome *);
int	 circuit_allowance(int free_slots);
void	 circuit_dispatched(const char *run_id);
int64_t	 circuit_not_before_ms(void);
void	 circuit_probe_now(void);

/* alerts.c */
void	 alerts_soon(void);
void	 alerts_step(void);
int64_t	 alerts_next_ms(void);
int	 alerts_running(void);
int	 alerts_reaped(pid_t, int wstatus);
void	 alerts_check_deadlines(int64_t now);
int64_t	 alerts_next_deadline(void);

/* retention.c */
void	 retention_plan(void);
void	 retention_step(void);
int64_t	 retention_next_ms(void);

/* title.c */
void	 title_update(void);
void	 status_log(void);

#endif
