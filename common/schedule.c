/*
 * The schedule engine: a cron expression (cron.c) evaluated in an IANA
 * time zone (tz.c).  Fire times are found field by field in local civil
 * time and then converted, never by scanning minute by minute.
 *
 * Daylight-saving rules (evalsched-schedule(5)): a schedule whose minute
 * or hour field starts with '*' follows real time, so a local time that
 * is skipped does not fire and one that repeats fires in both passes.
 * Any other schedule names a wall-clock time: a skipped one fires at the
 * first instant after the gap, a repeated one only at its first
 * occurrence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "schedule.h"
#include "testhooks.h"
#include "tz.h"
#include "util.h"

/* Every date recurs on every weekday within the 400-year cycle. */
#define HORIZON		((int64_t)401 * 366 * 86400)

struct schedule {
	struct cron	 cron;
	struct tz	*tz;
	int		 realtime;
};

static const struct {
	const char	*type;
	const char	*expr;
} types[] = {
	{ "every_5_minutes", "*/5 * * * *" },
	{ "hourly", "0 * * * *" },
	{ "daily", "0 2 * * *" },
	{ "weekly", "0 2 * * 1" },
};

const char *
schedule_type_expression(const char *type)
{
	size_t	i;

	for (i = 0; type != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i].type) == 0)
			return types[i].expr;
	return NULL;
}

static const char *
schedule_source(const char *type, const char *expr, char *err,
    size_t errlen)
{
	const char	*e;

	if (type == NULL || strcmp(type, "custom") == 0) {
		if (expr == NULL || expr[strspn(expr, " \t")] == '\0') {
			snprintf(err, errlen, "custom schedule has no cron "
			    "expression");
			return NULL;
		}
		return expr;
	}
	if ((e = schedule_type_expression(type)) == NULL)
		snprintf(err, errlen, "unknown schedule type '%.32s' (expected "
		    "every_5_minutes, hourly, daily, weekly or custom)", type);
	return e;
}

/* The expression with its blanks collapsed, for messages. */
static void
schedule_tidy(const char *expr, char *buf, size_t len)
{
	size_t	n = 0;

	for (; *expr != '\0' && n + 1 < len; expr++) {
		if (*expr == ' ' || *expr == '\t') {
			if (n > 0 && buf[n - 1] != ' ')
				buf[n++] = ' ';
		} else
			buf[n++] = *expr;
	}
	if (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
}

struct schedule *
schedule_compile(const char *type, const char *cron_expression,
    const char *timezone, char *err, size_t errlen)
{
	struct schedule	*s;
	struct cron	 c;
	struct tz	*tz;
	const char	*expr;
	char		 tidy[CRON_EXPR_MAX + 1];

	if ((expr = schedule_source(type, cron_expression, err,
	    errlen)) == NULL || cron_parse(&c, expr, err, errlen) == -1)
		return NULL;
	if (!cron_can_fire(&c)) {
		schedule_tidy(expr, tidy, sizeof(tidy));
		snprintf(err, errlen, "the expression can never fire (%s)",
		    tidy);
		return NULL;
	}
	if ((tz = tz_load(timezone, err, errlen)) == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->cron = c;
	s->tz = tz;
	s->realtime = (c.flags & (CRON_MIN_STAR | CRON_HOUR_STAR)) != 0;
	return s;
}

/*
 * A wall-clock schedule fires for local time L at the earliest instant
 * whose local time is at least L.  That is after `after` exactly when L
 * exceeds the highest local time shown so far, which during a repeated
 * hour is the end of its first pass.
 */
static int
next_wall_clock(const struct schedule *s, int64_t after, int64_t *next)
{
	int64_t	from, limit, local, t;

	from = floor_div(tz_local_high_water(s->tz, after), 60) * 60 + 60;
	limit = from + HORIZON;
	while (cron_next(&s->cron, from, limit, &local) == 0) {
		if ((t = tz_local_to_utc(s->tz, local)) > after) {
			*next = t;
			return 0;
		}
		from = local + 60;
	}
	return -1;
}

/*
 * A real-time schedule fires at each instant whose local time matches:
 * search each span of constant UTC offset in turn.
 */
static int
next_real_time(const struct schedule *s, int64_t after, int64_t *next)
{
	int64_t	t = after + 1, end = after + HORIZON, b, limit, local;
	int32_t	off;
	int	more;

	while (t < end) {
		off = tz_offset(s->tz, t);
		more = tz_next_transition(s->tz, t, &b) == 0 && b < end;
		limit = (more ? b : end) + off;
		if (cron_next(&s->cron, t + off, limit, &local) == 0) {
			*next = local - off;
			return 0;
		}
		if (!more)
			break;
		t = b;
	}
	return -1;
}

int
schedule_next(const struct schedule *s, int64_t after, int64_t *next)
{
	int64_t	t;
	int	rc;

	if (after < SCHEDULE_TIME_MIN || after >= SCHEDULE_TIME_MAX)
		return -1;
	rc = s->realtime ? next_real_time(s, after, &t) :
	    next_wall_clock(s, after, &t);
	if (rc == -1 || t > SCHEDULE_TIME_MAX)
		return -1;
	*next = t;
	return 0;
}

const struct tz *
schedule_tz(const struct schedule *s)
{
	return s->tz;
}

int
schedule_follows_real_time(const struct schedule *s)
{
	return s->realtime;
}

int
schedule_format_time(const struct schedule *s, int64_t t, char *buf,
    size_t len)
{
	return tz_format_rfc3339(s->tz, t, buf, len);
}

void
schedule_free(struct schedule *s)
{
	if (s == NULL)
		return;
	tz_release(s->tz);
	free(s);
}
