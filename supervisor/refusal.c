/*
 * Statements the database refuses.  A refusal that will not pass by
 * itself (a privilege the role lacks, row-level security, a constraint)
 * is retried by whoever made the statement, as everything is, but said
 * in the log once per cause (its SQLSTATE and words), again at most
 * once an hour with how often it came back, and reported in our
 * evalsched_supervisors row at the next heartbeat, which comes at once,
 * so that evalschedctl status says degraded, in the database's words.
 * A refusal is open from its statement's first refusal until that
 * statement (its place in our code) is taken again, or an hour goes by
 * without it: a statement made once and never again must not keep the
 * status degraded for ever.  What passes by itself (a lost connection,
 * a deadlock, a timeout) is said once per cause too, and leaves the
 * status alone.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

#define CAUSES_MAX	32
#define OPEN_MAX	16
#define SAY_AGAIN_MS	(3600 * 1000LL)
#define FORGET_MS	(3600 * 1000LL)	/* an open refusal not seen again */

struct cause {
	int		 used;
	char		 sqlstate[6];
	char		 message[DB_ERROR_MAX];
	int64_t		 said_ms;	/* NEVER: not yet */
	unsigned long	 unsaid;	/* times since it was said */
};
#define NEVER		INT64_MIN

struct open_refusal {
	const void	*site;		/* NULL: free */
	char		 text[DB_ERROR_MAX + 160];
	int64_t		 since_ms, seen_ms;
};

static struct cause		causes[CAUSES_MAX];
static struct open_refusal	open_refusals[OPEN_MAX];
static unsigned long		refused_total;	/* while any is open */

/*
 * What passes by itself: the connection's classes (08), a transaction
 * rolled back for a serialization failure or deadlock (40), the
 * server's resources (53), a lock not granted in time (55P03), a
 * statement cancelled or the server shutting down (57), a system error
 * (58), an internal one (XX), and a failed transaction's later
 * statements (25P02).  No SQLSTATE: libpq's own.
 */
int
refusal_passes(const char *sqlstate)
{
	static const char *const passing[] = { "08", "40", "53", "55P03",
	    "57", "58", "XX", "25P02" };
	size_t	i;

	if (sqlstate == NULL || *sqlstate == '\0')
		return 1;
	for (i = 0; i < sizeof(passing) / sizeof(passing[0]); i++)
		if (strncmp(sqlstate, passing[i], strlen(passing[i])) == 0)
			return 1;
	return 0;
}

/* What the operator can do about it, if we know. */
static const char *
remedy(const struct db_error *e)
{
	if (strcmp(e->sqlstate, "42501") == 0 &&
	    strstr(e->message, "row-level security") != NULL)
		return "; the role neither bypasses row-level security nor "
		    "has evalsched's policies (policies.sql): "
		    "evalsched-supervisor -n names the tables";
	if (strcmp(e->sqlstate, "42501") == 0)
		return "; the role lacks a privilege (grants.sql gives them): "
		    "evalsched-supervisor -n names each";
	return "";
}

/* "words [SQLSTATE, in function f()]": the cause as said everywhere. */
static void
describe(const struct db_error *e, char *buf, size_t len)
{
	if (e->function[0] != '\0')
		snprintf(buf, len, "%s [%s, in %s]", e->message, e->sqlstate,
		    e->function);
	else
		snprintf(buf, len, "%s [%s]", e->message, e->sqlstate);
}

static struct cause *
cause_find(const struct db_error *e)
{
	struct cause	*c, *slot = NULL;

	for (c = causes; c < causes + CAUSES_MAX; c++) {
		if (c->used && strcmp(c->sqlstate, e->sqlstate) == 0 &&
		    strcmp(c->message, e->message) == 0)
			return c;
		/* A new cause takes a free place, or the one said longest ago. */
		if (slot == NULL || (slot->used && (!c->used ||
		    c->said_ms < slot->said_ms)))
			slot = c;
	}
	memset(slot, 0, sizeof(*slot));
	slot->used = 1;
	strlcpy(slot->sqlstate, e->sqlstate, sizeof(slot->sqlstate));
	strlcpy(slot->message, e->message, sizeof(slot->message));
	slot->said_ms = NEVER;
	return slot;
}

/* Once per cause, and again an hour later if it has come back since. */
static void
say(const struct db_error *e, int refused, int64_t now)
{
	struct cause	*c = cause_find(e);
	char		 what[DB_ERROR_MAX + 160];

	if (c->said_ms != NEVER && now - c->said_ms < SAY_AGAIN_MS) {
		c->unsaid++;
		return;
	}
	describe(e, what, sizeof(what));
	if (c->said_ms == NEVER && refused)
		log_warnx("database refuses a statement: %s%s; said once an "
		    "hour while it lasts", what, remedy(e));
	else if (c->said_ms == NEVER)
		log_warnx("database: %s", what);
	else
		log_warnx("database %s: %s (%lu more time%s since it was "
		    "said)%s", refused ? "still refuses a statement" :
		    "error again", what, c->unsaid, c->unsaid == 1 ? "" : "s",
		    refused ? remedy(e) : "");
	c->said_ms = now;
	c->unsaid = 0;
}

static int
any_open(void)
{
	int	i;

	for (i = 0; i < OPEN_MAX; i++)
		if (open_refusals[i].site != NULL)
			return 1;
	return 0;
}

static struct open_refusal *
open_find(const void *site)
{
	int	i;

	for (i = 0; i < OPEN_MAX; i++)
		if (open_refusals[i].site == site)
			return &open_refusals[i];
	return NULL;
}

/* Refused again, or for the first time: open, and for how long. */
static void
open_note(const void *site, const struct db_error *e, int64_t now)
{
	struct open_refusal	*o;
	char			 text[sizeof(o->text)];
	int			 i;

	describe(e, text, sizeof(text));
	if ((o = open_find(site)) == NULL) {
		/* A free place, or the one refused longest ago. */
		if ((o = open_find(NULL)) == NULL)
			for (i = 0, o = &open_refusals[0]; i < OPEN_MAX; i++)
				if (open_refusals[i].seen_ms < o->seen_ms)
					o = &open_refusals[i];
		memset(o, 0, sizeof(*o));
		o->site = site;
		o->since_ms = now;
	}
	/* A new cause is in our row at once, not at the next heartbeat. */
	if (strcmp(o->text, text) != 0) {
		strlcpy(o->text, text, sizeof(o->text));
		event_post(EV_ROW_CHANGED);
	}
	o->seen_ms = now;
	refused_total++;
}

/* A statement failed with e; site says which of ours it was. */
void
refusal_note(const void *site, const struct db_error *e)
{
	int64_t	now = mono_ms();
	int	refused = !refusal_passes(e->sqlstate);

	say(e, refused, now);
	if (refused && site != NULL)
		open_note(site, e, now);
}

static void
close_refusal(struct open_refusal *o)
{
	char	text[sizeof(o->text)];

	strlcpy(text, o->text, sizeof(text));
	memset(o, 0, sizeof(*o));
	if (any_open())
		return;
	log_info("database takes evalsched's statements again (%lu "
	    "refusal%s; the last: %s)", refused_total, refused_total == 1 ?
	    "" : "s", text);
	refused_total = 0;
	event_post(EV_ROW_CHANGED);
}

/* A statement went through: what refused it before is over. */
void
refusal_clear(const void *site)
{
	struct open_refusal	*o;

	if (site != NULL && (o = open_find(site)) != NULL)
		close_refusal(o);
}

/*
 * For our row: the oldest open refusal's words, with how many other
 * statements are refused; NULL when none is.  Those not seen for an
 * hour are forgotten first.
 */
const char *
refusal_current(void)
{
	static char		 buf[sizeof(open_refusals[0].text) + 64];
	struct open_refusal	*oldest = NULL;
	int64_t			 now = mono_ms();
	int			 i, others = 0;

	for (i = 0; i < OPEN_MAX; i++) {
		struct open_refusal *o = &open_refusals[i];

		if (o->site != NULL && now - o->seen_ms >= FORGET_MS)
			close_refusal(o);
		if (o->site == NULL)
			continue;
		if (oldest != NULL)
			others++;
		if (oldest == NULL || o->since_ms < oldest->since_ms)
			oldest = o;
	}
	if (oldest == NULL)
		return NULL;
	if (others > 0)
		snprintf(buf, sizeof(buf), "%s; and %d other statement%s",
		    oldest->text, others, others == 1 ? "" : "s");
	else
		snprintf(buf, sizeof(buf), "%s", oldest->text);
	return buf;
}
