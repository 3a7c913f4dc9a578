/*
 * Times as operators read them: in the schedule's own zone, and relative
 * to the database clock ("in 5 min", "3 h ago").  The tool is one short
 * single-threaded process, so switching TZ around localtime_r is enough.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl.h"

#define NOW_SLACK	5

static char	*saved_tz;
static int	 saved_tz_read;

/* glibc quietly reads an unknown zone as UTC: check the file is there. */
int
zone_ok(const char *zone)
{
	const char	*dir = getenv("TZDIR");
	char		 path[512];
	struct stat	 st;

	if (zone == NULL || *zone == '\0' || *zone == '/' ||
	    strstr(zone, "..") != NULL)
		return 0;
	if (dir == NULL || *dir == '\0')
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, zone) >=
	    sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void
set_zone(const char *zone)
{
	const char	*tz;

	if (!saved_tz_read) {
		if ((tz = getenv("TZ")) != NULL)
			saved_tz = strdup(tz);
		saved_tz_read = 1;
	}
	if (zone == NULL) {
		if (saved_tz != NULL)
			setenv("TZ", saved_tz, 1);
		else
			unsetenv("TZ");
	} else
		setenv("TZ", zone_ok(zone) ? zone : "UTC", 1);
	tzset();
}

static void
break_down(int64_t t, const char *zone, struct tm *tm)
{
	time_t	tt = (time_t)t;

	set_zone(zone);
	localtime_r(&tt, tm);
}

/* "2025-06-01 02:00 CEST" */
void
fmt_local(int64_t t, const char *zone, char *buf, size_t len)
{
	struct tm	tm;

	break_down(t, zone, &tm);
	if (strftime(buf, len, "%Y-%m-%d %H:%M %Z", &tm) == 0 && len > 0)
		buf[0] = '\0';
}

/* "2025-06-01T02:00:00+02:00" */
void
fmt_rfc3339(int64_t t, const char *zone, char *buf, size_t len)
{
	struct tm	tm;
	char		date[32];
	long		off;

	break_down(t, zone, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	/* Always the offset, even +00:00, as evalschedctl next prints. */
	off = tm.tm_gmtoff;
	snprintf(buf, len, "%s%c%02ld:%02ld", date, off < 0 ? '-' : '+',
	    labs(off) / 3600, labs(off) % 3600 / 60);
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
