/*
 * The loop: one poll(2) over the signalfd, the database socket and the
 * children's pipes, with a timeout that is the earliest of the next due
 * schedule, the next heartbeat, the next child deadline, a reconnect or
 * retry time, and poll_interval.  After the wait it acts in a fixed
 * order: shutdown, reload, status, reap, database, new work.
 */
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "log.h"
#include "supervisor.h"

#define CLAIM_BACKOFF_MS	50	/* due rows locked by another claim */
#define CLAIM_BACKOFF_MAX_MS	1000
#define FORK_BACKOFF_MS		1000
#define REGISTER_RETRY_MS	1000

static int	 got_term, got_hup, got_usr1;
static int64_t	 next_poll_ms, claim_not_before_ms;
static int64_t	 claim_backoff_ms = CLAIM_BACKOFF_MS;
static int	 ready;
static unsigned long seen_connections;	/* connects already looked after */
static int64_t	 register_not_before_ms;

static int64_t
earliest(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t
latest(int64_t a, int64_t b)
{
	return a > b ? a : b;
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
 * The earliest thing to do.  The claiming times count only while a claim
 * is possible: a supervisor with every slot busy, or cut off from its
 * database, sleeps until a child, a retry or a deadline wakes it; one
 * whose circuit is open claims nothing before the next probe.
 */
static int
loop_timeout(void)
{
	int64_t	now = mono_ms(), t = INT64_MAX;

	if (can_claim_later()) {
		t = latest(next_poll_ms, claim_not_before_ms);
		if (sv->poll_now)
			t = claim_not_before_ms;
		if (sv->next_due_ms >= 0)
			t = earliest(t, latest(sv->next_due_ms,
			    claim_not_before_ms));
		t = latest(t, circuit_not_before_ms());
	}
	if (db_connected() && !sv->registered)
		t = earliest(t, register_not_before_ms);
	else if (db_connected()) {
		t = earliest(t, sv->next_heartbeat_ms);
		t = earliest(t, completion_next_ms());
		t = earliest(t, retention_next_ms());
		if (!sv->stopping)
			t = earliest(t, alerts_next_ms());
	}
	if (!db_connected())
		t = earliest(t, db_next_attempt_ms());
	t = earliest(t, children_next_deadline());
	t = earliest(t, alerts_next_deadline());
	t = earliest(t, record_retry_at());
	if (sv->stopping)
		t = earliest(t, sv->stop_deadline_ms);
	if (t <= now)
		return 0;
	return t - now > INT_MAX ? INT_MAX : (int)(t - now);
}

static void
loop_wait(int sigfd)
{
	static struct pollfd	pfd[2 + CONFIG_MAX_CONCURRENT * 3];
	int			n;

	pfd[0].fd = sigfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = db_socket();
	pfd[1].events = POLLIN;
	n = children_pollfds(pfd + 2, CONFIG_MAX_CONCURRENT * 3);
	if (poll(pfd, 2 + n, loop_timeout()) == -1) {
		log_warn("poll");
		return;
	}
	if (pfd[0].revents & POLLIN)
		signals_read(sigfd, &got_term, &got_hup, &got_usr1);
	if (pfd[1].fd != -1 && pfd[1].revents != 0 &&
	    db_consume_notifies() > 0)
		sv->poll_now = 1;
	children_io(pfd + 2, n);
}

static void
shutdown_begin(void)
{
	if (sv->stopping) {
		log_info("second stop signal: cancelling %d run(s) now",
		    sv->nchildren);
		sv->stop_deadline_ms = mono_ms();
		return;
	}
	sv->stopping = 1;
	sv->stop_deadline_ms = mono_ms() + sv->conf.shutdown_grace * 1000LL;
	children_retire_spares();
	log_info("stopping: no new dispatches; waiting up to %d s for %d "
	    "run(s) in flight", sv->conf.shutdown_grace, sv->nchildren);
}

/* Once the grace is over: cancel what still runs, once. */
static void
shutdown_step(void)
{
	if (sv->nchildren == 0 || mono_ms() < sv->stop_deadline_ms)
		return;
	log_info("cancelling %d run(s) still in flight", sv->nchildren);
	children_cancel_all();
	sv->stop_deadline_ms = INT64_MAX;
}

/* Running against a database without our schema helps nobody. */
static void
check_schema(void)
{
	char	why[256];
	int	version;

	if ((version = db_schema_version(why, sizeof(why))) == -1) {
		if (!db_connected())
			return;		/* lost meanwhile: check again later */
		fatalx_status(EX_CONFIG, "%s", why);
	}
	if (version != SCHEMA_VERSION)
		fatalx_status(EX_CONFIG, "the database has evalsched schema "
		    "version %d; this supervisor needs %d", version,
		    SCHEMA_VERSION);
	if (db_results_tables(why, sizeof(why)) == -1) {
		if (!db_connected())
			return;
		fatalx_status(EX_CONFIG, "%s", why);
	}
	sv->schema_checked = 1;
}

/*
 * Just registered: a previous incarnation's spooled outcomes go in before
 * its remaining runs are closed as lost, and then the real outcomes its
 * orphaned jobrunners left replace those losses.
 */
static void
after_register(void)
{
	record_flush();
	lease_close_previous();
	spool_recover_results();
	seen_connections = db_connections();
	retention_plan();
}

/* Connected, on our schema, registered: 0; otherwise -1 for now. */
static int
database_ready(void)
{
	if (!db_connected() && (mono_ms() < db_next_attempt_ms() ||
	    db_try_connect() == -1))
		return -1;
	if (!sv->schema_checked) {
		check_schema();
		if (!sv->schema_checked)
			return -1;
	}
	if (sv->registered)
		return 0;
	if (mono_ms() < register_not_before_ms)
		return -1;
	if (lease_register() == -1) {
		register_not_before_ms = mono_ms() + REGISTER_RETRY_MS;
		return -1;
	}
	after_register();
	return 0;
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

/* Connects, registers, writes outcomes, renews the lease. */
static void
database_work(void)
{
	if (database_ready() == -1)
		return;
	if (seen_connections != db_connections()) {
		seen_connections = db_connections();
		lease_release_orphans();
	}
	log_ready_once();
	record_flush();
	if (db_connected() && mono_ms() >= sv->next_heartbeat_ms &&
	    lease_heartbeat() == 0) {
		lease_recover();
		spool_recover_results();
	}
	if (db_connected())
		completion_step();
	if (db_connected())
		retention_step();
	if (db_connected())
		alerts_step();
}

static int
claim_is_due(int64_t now)
{
	if (now < claim_not_before_ms)
		return 0;
	return sv->poll_now || now >= next_poll_ms ||
	    (sv->next_due_ms >= 0 && now >= sv->next_due_ms);
}

/* Returns 1 when nothing was claimable and nothing runs (for -1). */
static int
new_work(void)
{
	int64_t	now = mono_ms();
	int	slots = claim_slots(), n;

	if (!can_claim() || !claim_is_due(now))
		return 0;
	sv->fork_failed = 0;
	if ((n = claim_due(slots)) == -1) {
		claim_not_before_ms = now + FORK_BACKOFF_MS;
		return 0;
	}
	sv->poll_now = n == slots;	/* more may be waiting */
	next_poll_ms = now + sv->conf.poll_interval * 1000LL;
	if (claim_next_due() == -1)
		return 0;
	if (sv->fork_failed)
		claim_not_before_ms = now + FORK_BACKOFF_MS;
	else if (n == 0 && sv->next_due_ms >= 0 && sv->next_due_ms <= now) {
		/* Due, yet locked by another supervisor's claim. */
		claim_not_before_ms = now + claim_backoff_ms;
		if (claim_backoff_ms < CLAIM_BACKOFF_MAX_MS)
			claim_backoff_ms *= 2;
	} else
		claim_backoff_ms = CLAIM_BACKOFF_MS;
	return n == 0 && sv->nchildren == 0 && TAILQ_EMPTY(&sv->outcomes) &&
	    alerts_running() == 0;
}

/* Ends when stopped (SIGTERM/SIGINT) or, with -1, when all is done. */
void
loop_run(int sigfd, void (*reload)(void))
{
	int	idle;

	next_poll_ms = mono_ms();
	sv->poll_now = 1;
	sv->next_due_ms = -1;
	for (;;) {
		title_update();
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
		children_reap();
		children_check_deadlines(mono_ms());
		alerts_check_deadlines(mono_ms());
		if (sv->stopping)
			shutdown_step();
		database_work();
		idle = new_work();
		children_keep_spare();
		if (sv->stopping && children_alive() == 0 &&
		    alerts_running() == 0)
			break;
		if (sv->once && idle)
			break;
	}
	record_flush();
}
