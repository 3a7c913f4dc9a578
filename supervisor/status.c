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

/* "run X of schedule "Y"", "alert X": what a child is doing. */
static void
child_work(const struct child *c, char *buf, size_t len)
{
	if (c->schedule_name != NULL)
		snprintf(buf, len, "%s %s of schedule \"%s\"", c->kind->work,
		    c->id, log_name(c->schedule_name).s);
	else
		snprintf(buf, len, "%s %s", c->kind->work, c->id);
}

/* One line for each child at work, whatever its kind. */
static void
status_children(int64_t now)
{
	struct child	*c = NULL;
	char		 work[sizeof(struct log_name) + 128];

	while ((c = child_next(NULL, c)) != NULL) {
		if (c->state < CHILD_RUNNING)
			continue;
		child_work(c, work, sizeof(work));
		log_info("status: %s: %s pid %ld, running for %.1f s%s", work,
		    c->kind->name, (long)c->pid, (now - c->started_ms) / 1000.0,
		    c->state > CHILD_RUNNING ? ", being terminated" : "");
	}
}

void
status_log(void)
{
	int64_t	now = mono_ms();

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
	status_children(now);
}
