/*
 * The loop: one poll(2) over the signalfd, the database socket and the
 * children's pipes, with a timeout that is the earliest of the next due
 * schedule, the next heartbeat, the next child deadline, a reconnect or
 * retry time, and poll_interval.  After the wait it acts in a fixed
 * order: shutdown, reload, status, reap, deadlines, database.
 *
 * The database is one more thing the poll waits on: statements are
 * sent and their answers read as they come (db.c), one trip at a time,
 * so nothing here ever waits for the server.  When the connection is
 * idle, database_work() starts the most pressing statement; its answer
 * is acted on by the function that asked, in a later turn.
 */
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "log.h"
#include "supervisor.h"

#define STOP_DB_MS		1500	/* after the grace, for a last write */
#define STOP_DB_MAX_MS		10000	/* for all of them, while answered */

static int	 got_term, got_hup, got_usr1;
static int	 ready;
static int	 stop_written;		/* our row says we stopped */
static int	 children_gone;		/* stopping, and none is left */
static int64_t	 children_gone_ms;
static unsigned long answers_seen;	/* db_answers() at the last look */
static unsigned long seen_connections;	/* connects already looked after */

/*
 * Hands what was posted since the last look (events.c) to the passes it
 * concerns, which set their own times.  Called before those times are
 * read: at the top of the database work and before the wait.
 */
static void
events_deliver(void)
{
	if (event_take(EV_CONNECTED)) {
		claim_soon();
		completion_sweep();
		settle_sweep();
	}
	if (event_take(EV_CLAIM))
		claim_soon();
	if (event_take(EV_NOTIFY_WAKEUP))
		claim_hint();
	if (event_take(EV_NOTIFY_BATCH_END))
		completion_hint();
	if (event_take(EV_NOTIFY_ALERT))
		alerts_hint();
	if (event_take(EV_COMPLETION))
		completion_soon();
	if (event_take(EV_SETTLED_SOON))
		settle_soon();
	if (event_take(EV_ALERT))
		alerts_soon();
	if (event_take(EV_REGISTERED)) {
		spool_recover_soon();
		retention_plan();
	}
	if (event_take(EV_SPOOL))
		spool_recover_soon();
	if (event_take(EV_ROW_CHANGED))
		lease_beat_soon();
}

/* No child of ours, of any kind, is left. */
static int
nothing_running(void)
{
	return child_count(NULL, NULL) == 0;
}

/*
 * Stopping with nothing left running or to write: only our row, which
 * says we stopped, is left to write.
 */
static int
only_stop_left(void)
{
	return sv->stopping && !stop_written && nothing_running() &&
	    TAILQ_EMPTY(&sv->outcomes);
}

/* Slots that may be claimed now: free ones, as the circuit allows. */
static int
claim_slots(void)
{
	return circuit_allowance(children_free_slots());
}

/* Whether a claim can be made once its time comes. */
static int
can_claim_later(void)
{
	return db_connected() && sv->registered && !sv->stopping &&
	    children_free_slots() > 0;
}

/* Whether claiming is possible now, whatever is due. */
static int
can_claim(void)
{
	return can_claim_later() && claim_slots() > 0;
}

/*
 * When the database work is next due.  It counts only while a statement
 * may go out: one that is out wakes us with its answer.  The claiming
 * times count only while a claim is possible: a supervisor with every
 * slot busy sleeps until a child, a retry or a deadline wakes it; one
 * whose circuit is open claims nothing before the next probe.
 */
static int64_t
database_due_ms(int64_t now)
{
	int64_t	t = INT64_MAX;

	if (!db_idle())
		return INT64_MAX;
	if (!sv->schema_checked)
		return schema_next_ms();
	if (!sv->registered)
		return lease_register_next_ms();
	if (only_stop_left())
		return now;
	if (can_claim_later())
		t = latest(claim_next_ms(), circuit_not_before_ms());
	t = earliest(t, lease_next_ms());
	t = earliest(t, completion_next_ms());
	t = earliest(t, settle_next_ms());
	t = earliest(t, metrics_next_ms());
	t = earliest(t, retention_next_ms());
	t = earliest(t, alerts_next_ms());
	return earliest(t, record_retry_at());
}

/* The earliest thing to do. */
static int
loop_timeout(void)
{
	int64_t	now, t;

	events_deliver();
	now = mono_ms();
	t = database_due_ms(now);

	if (!sv->stopping)
		t = earliest(t, db_next_attempt_ms());
	t = earliest(t, db_deadline_ms());
	t = earliest(t, child_next_deadline());
	if (sv->stopping)
		t = earliest(t, earliest(sv->stop_deadline_ms, sv->exit_by_ms));
	if (t <= now)
		return 0;
	return t - now > INT_MAX ? INT_MAX : (int)(t - now);
}

static void
loop_wait(int sigfd)
{
	static struct pollfd	pfd[2 + CHILD_SLOTS * 3];
	int			n;

	pfd[0].fd = sigfd;
	pfd[0].events = POLLIN;
	db_pollfd(&pfd[1]);
	n = child_pollfds(pfd + 2, CHILD_SLOTS * 3);
	if (poll(pfd, 2 + n, loop_timeout()) == -1) {
		log_warn("poll");
		return;
	}
	if (pfd[0].revents & POLLIN)
		signals_read(sigfd, &got_term, &got_hup, &got_usr1);
	if (pfd[1].fd != -1)
		db_io(pfd[1].revents);
	child_io(pfd + 2, n);
}

static void
shutdown_begin(void)
{
	int64_t	now = mono_ms();

	if (sv->stopping) {
		log_info("second stop signal: cancelling %d run(s) now",
		    children_running());
		sv->stop_deadline_ms = now;
		if (sv->exit_by_ms > now + STOP_DB_MS)
			sv->exit_by_ms = now + STOP_DB_MS;
		return;
	}
	sv->stopping = 1;
	sv->stop_deadline_ms = now + sv->conf.shutdown_grace * 1000LL;
	/* Whatever the database does, we are gone soon after the grace. */
	sv->exit_by_ms = sv->stop_deadline_ms + STOP_DB_MS;
	children_retire_spares();
	log_info("stopping: no new dispatches; waiting up to %d s for %d "
	    "run(s) in flight", sv->conf.shutdown_grace, children_running());
}

/* Once the grace is over: cancel what still runs, once. */
static void
shutdown_step(void)
{
	if (children_running() == 0 || mono_ms() < sv->stop_deadline_ms)
		return;
	log_info("cancelling %d run(s) still in flight", children_running());
	children_cancel_all();
	sv->stop_deadline_ms = INT64_MAX;
}

static void
log_ready_once(void)
{
	if (ready)
		return;
	ready = 1;
	log_info("ready: node %s, up to %d concurrent runs, poll interval "
	    "%d s, %s", sv->conf.node_name, sv->conf.max_concurrent,
	    sv->conf.poll_interval, sv->conf.listen ?
	    "listening for changes" : "polling only (listen = no)");
}

/* Starts a claim when one is due and possible; 1 if started. */
static int
new_work(void)
{
	return can_claim() && claim_step(claim_slots());
}

static void
stop_written_now(PGresult **res, void *arg)
{
	(void)res;
	(void)arg;
	stop_written = 1;
}

/* Stopping, nothing left running: our last outcomes, then our row. */
static int
final_work(void)
{
	if (stop_written)
		return 1;
	if (!nothing_running())
		return 0;
	if (record_step() || alerts_step())
		return 1;
	if (!only_stop_left())
		return 0;
	if (lease_stop(stop_written_now) == -1)
		stop_written = 1;
	return 1;
}

/*
 * When the connection is idle, starts the most pressing statement: at
 * most one trip is out.  Getting ready comes first (the schema, our
 * registration, the runs a lost connection may have orphaned), then the
 * outcomes of finished runs, our lease, and the new work, which is
 * what dispatch latency is measured by; then the slower passes.
 */
static void
database_work(void)
{
	db_step();
	events_deliver();
	if (!db_connected())
		record_spool_all();
	if (!db_idle())
		return;
	if (!sv->schema_checked) {
		schema_step();
		return;
	}
	if (!sv->registered) {
		lease_register_step();
		return;
	}
	if (seen_connections != db_connections()) {
		seen_connections = db_connections();
		if (lease_release_orphans() == 0)
			return;
	}
	log_ready_once();
	if (sv->stopping && final_work())
		return;
	if (record_step() || lease_step() || spool_recover_step() ||
	    claim_disable_step() || new_work() || completion_step() ||
	    settle_step() || metrics_step() || retention_step())
		return;
	(void)alerts_step();
}

/*
 * The last writes get STOP_DB_MS once the last child is gone, and again
 * after every answer, up to STOP_DB_MAX_MS in all: a database that
 * answers, however slowly (a busy machine, runs that needed SIGKILL
 * late), gets them all, and one that does not answer keeps us no more
 * than STOP_DB_MS.
 */
static void
last_writes_deadline(void)
{
	int64_t	now = mono_ms(), until;

	if (!children_gone) {
		children_gone = 1;
		children_gone_ms = now;
	} else if (db_answers() == answers_seen)
		return;
	answers_seen = db_answers();
	until = earliest(now + STOP_DB_MS, children_gone_ms + STOP_DB_MAX_MS);
	if (sv->exit_by_ms < until)
		sv->exit_by_ms = until;
}

/* Stopped, with every child gone: may we go? */
static int
may_exit(void)
{
	if (!nothing_running())
		return 0;
	last_writes_deadline();
	return stop_written || !db_connected() || mono_ms() >= sv->exit_by_ms;
}

/* With -1: nothing was due at the last claim and all is written. */
static int
once_done(void)
{
	events_deliver();
	return claim_nothing_due() && nothing_running() &&
	    TAILQ_EMPTY(&sv->outcomes) && db_idle();
}

/* Ends when stopped (SIGTERM/SIGINT) or, with -1, when all is done. */
void
loop_run(int sigfd, void (*reload)(void))
{
	claim_soon();
	sv->next_due_ms = -1;
	sv->exit_by_ms = INT64_MAX;
	for (;;) {
		status_title();
		loop_wait(sigfd);
		if (got_term) {
			got_term = 0;
			shutdown_begin();
		}
		if (got_hup) {
			got_hup = 0;
			reload();
			children_retire_spares();
			circuit_probe_now();
		}
		if (got_usr1) {
			got_usr1 = 0;
			status_log();
		}
		child_reap();
		child_check_deadlines(mono_ms());
		db_check_deadline(mono_ms());
		if (sv->stopping)
			shutdown_step();
		database_work();
		children_keep_spare();
		if (sv->stopping && may_exit())
			break;
		if (sv->once && !sv->stopping && once_done()) {
			/* All done: our last writes, as for a stop signal. */
			sv->stopping = 1;
			sv->stop_deadline_ms = INT64_MAX;
			sv->exit_by_ms = mono_ms() + STOP_DB_MS;
		}
	}
	/* What could not be written waits in the spool for the next one. */
	record_spool_all();
}
