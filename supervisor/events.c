/*
 * Facts the loop acts on, posted by whoever learns them: a slot came
 * free, the connection came back, a NOTIFY arrived, a run was written
 * that a pass should look at.  They are flags below every pass, so a
 * pass or the connection says what happened without calling the pass
 * that cares (which may sit above it); loop.c takes them at the top of
 * its work and hands each to the passes it concerns.  A fact posted
 * twice before it is taken is one fact: every pass's answer to one
 * (a time to look, made no later) is the same for two.
 */
#include "supervisor.h"

static unsigned int	posted;

void
event_post(enum event ev)
{
	posted |= 1U << ev;
}

/* Whether ev was posted since it was last taken; it is taken now. */
int
event_take(enum event ev)
{
	unsigned int	bit = 1U << ev;

	if (!(posted & bit))
		return 0;
	posted &= ~bit;
	return 1;
}
