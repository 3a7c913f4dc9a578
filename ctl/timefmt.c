/*
 * Times as operators read them: in the schedule's own zone, as the
 * schedule engine reads that zone (tz.c, abbreviations included), and
 * relative to the database clock ("in 5 min", "3 h ago").  Times with no
 * schedule are in the operator's own zone (TZ).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "tz.h"

#define NOW_SLACK	5

/* Read once: the operator's zone does not change while we run. */
static const struct tz *
operator_zone(void)
{
	static struct tz	*mine;

	if (mine == NULL)
		mine = tz_load_env();
	return mine;
}

/*
 * The zone to show a time in; *held is the reference to give back.  A
 * zone the engine does not know is shown as UTC, and show says so.
 */
static const struct tz *
zone_hold(const char *zone, struct tz **held)
{
	char	err[128];

	*held = NULL;
	if (zone == NULL)
		return operator_zone();
	if ((*held = tz_load(zone, err, sizeof(err))) == NULL)
		*held = tz_load(NULL, err, sizeof(err));
	return *held;
}

int
zone_ok(const char *zone)
{
	struct tz	*tz;
	char		 err[128];

	if ((tz = tz_load(zone, err, sizeof(err))) == NULL)
		return 0;
	tz_release(tz);
	return 1;
}

static void
local_time(int64_t t, const char *zone, struct tz_local *lt, char *abbr,
    size_t len)
{
	struct tz	*held;

	tz_local_time(zone_hold(zone, &held), t, lt);
	strlcpy(abbr, lt->abbr, len);
	lt->abbr = abbr;
	tz_release(held);
}

/* The local date and time, to the minute or the second; the zone's name. */
static void
fmt_wall(int64_t t, const char *zone, int seconds, char *buf, size_t len)
{
	struct tz_local	lt;
	char		abbr[32], sec[4] = "";

	local_time(t, zone, &lt, abbr, sizeof(abbr));
	if (seconds)
		snprintf(sec, sizeof(sec), ":%02d", lt.second);
	snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d%s%s%s",
	    (long long)lt.year, lt.month, lt.day, lt.hour, lt.minute, sec,
	    seconds ? "" : " ", seconds ? "" : lt.abbr);
}

/* "2025-06-01 02:00 CEST" */
void
fmt_local(int64_t t, const char *zone, char *buf, size_t len)
{
	fmt_wall(t, zone, 0, buf, len);
}

/* "2025-06-01 02:00:01": a log line's time, the zone understood. */
void
fmt_clock(int64_t t, const char *zone, char *buf, size_t len)
{
	fmt_wall(t, zone, 1, buf, len);
}

/*
 * "2025-06-01T02:00:00+02:00", always with the offset, as evalschedctl
 * next prints it; a year past 9999 cannot be RFC 3339 and is "-".
 */
void
fmt_rfc3339(int64_t t, const char *zone, char *buf, size_t len)
{
	struct tz	*held;

	if (tz_format_rfc3339(zone_hold(zone, &held), t, buf, len) == -1)
		snprintf(buf, len, "-");
	tz_release(held);
}

/* Whole units, rounded: one unit says enough at a glance. */
void
fmt_duration(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 90)
		snprintf(buf, len, "%lld s", (long long)s);
	else if (s < 90 * 60)
		snprintf(buf, len, "%lld min", (long long)(s + 30) / 60);
	else if (s < 48 * 3600)
		snprintf(buf, len, "%lld h", (long long)(s + 1800) / 3600);
	else
		snprintf(buf, len, "%lld d", (long long)(s + 43200) / 86400);
}

void
fmt_relative(int64_t t, int64_t now, char *buf, size_t len)
{
	char	d[32];

	/* The clock was read when we connected: a second or two is now. */
	if (t - now < NOW_SLACK && now - t < NOW_SLACK) {
		snprintf(buf, len, "now");
		return;
	}
	fmt_duration(t > now ? t - now : now - t, d, sizeof(d));
	if (t > now)
		snprintf(buf, len, "in %s", d);
	else
		snprintf(buf, len, "%s ago", d);
}

/*
 * A terminal gets "2025-06-01 02:00 CEST (in 5 h)"; a pipe gets RFC 3339,
 * which sorts and parses, and so does text inside a JSON document (the
 * reason of status).
 */
void
fmt_when(struct ctl *c, int64_t t, const char *zone, char *buf, size_t len)
{
	char	abs[64], rel[48];

	if (!c->aligned || c->json) {
		fmt_rfc3339(t, zone, buf, len);
		return;
	}
	fmt_local(t, zone, abs, sizeof(abs));
	fmt_relative(t, c->now, rel, sizeof(rel));
	snprintf(buf, len, "%s (%s)", abs, rel);
}
