/*
 * The supervisor's status, as it shows it: in its process title
 * ("evalsched-supervisor: 2/3 running") and, on SIGUSR1, as a summary in
 * the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

void
status_title(void)
{
	static int	shown_running = -1, shown_max = -1, shown_db = -1;
	static int	shown_circuit = -1;
	int		db = db_connected(), circuit = circuit_is_open();

	if (children_running() == shown_running &&
	    sv->conf.max_concurrent == shown_max && db == shown_db &&
	    circuit == shown_circuit)
		return;
	shown_running = children_running();
	shown_max = sv->conf.max_concurrent;
	shown_db = db;
	shown_circuit = circuit;
	setproctitle("%d/%d running%s%s", shown_running, shown_max,
	    db ? "" : ", database unreachable",
	    circuit ? ", dispatch paused (circuit open)" : "");
}

static int
pending_outcomes(void)
{
	struct outcome	*o;
	int		 n = 0;

	TAILQ_FOREACH(o, &sv->outcomes, entry)
		n++;
	return n;
}

void
status_log(void)
{
	const struct child	*c;
	int			 i, n;
	int64_t			 now = mono_ms();

	log_info("status: supervisor %s on %s, database %s, %d/%d running, "
	    "%lu dispatched, %lu accepted, %lu failed, %d outcome(s) "
	    "pending, next due %s", sv->registered ? sv->id : "(unregistered)",
	    sv->conf.node_name, db_connected() ? "up" : "unreachable",
	    children_running(), sv->conf.max_concurrent, sv->dispatched,
	    sv->succeeded, sv->failed, pending_outcomes(),
	    sv->next_due_ms < 0 ? "never (no active schedule)" :
	    sv->next_due_ms <= now ? "now" : "later");
	if (sv->next_due_ms > now)
		log_info("status: next schedule due in %.3f s",
		    (sv->next_due_ms - now) / 1000.0);
	if (circuit_is_open())
		log_info("status: circuit open, one probe at a time: %s",
		    circuit_reason());
	c = children_table(&n);
	for (i = 0; i < n; i++)
		if (c[i].state >= CHILD_RUNNING)
			log_info("status: run %s of schedule \"%s\": jobrunner "
			    "pid %ld, running for %.1f s%s", c[i].run_id,
			    log_name(c[i].schedule_name).s, (long)c[i].pid,
			    (now - c[i].started_ms) / 1000.0,
			    c[i].state > CHILD_RUNNING ? ", being terminated" : "");
}
