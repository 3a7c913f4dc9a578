// fuzz-link: common/tz.c common/util.c common/log.c common/text.c
// fuzz-pkgs: libbsd-overlay
/*
 * libFuzzer target for the TZif reader, tz_from_tzif, and the POSIX TZ
 * footer it parses.
 *
 * Input: a TZif image, as read from the tz database.  Whatever it holds,
 * a zone that is accepted must answer consistently across the engine's
 * years (1 to 9999): transitions strictly increase, the offset holds
 * from one transition to the next and stays within RFC 8536's range,
 * tz_local_to_utc gives the earliest instant that reaches a local time,
 * the high-water mark is reached at or before its instant, the wall
 * clock agrees with the offset, and what is formatted parses back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testhooks.h"
#include "tz.h"

#define MIN_T	INT64_C(-62135596800)	/* 0001-01-01T00:00:00Z */
#define MAX_T	INT64_C(253402300799)	/* 9999-12-31T23:59:59Z */
#define OFF_MIN	(-89999)		/* RFC 8536, 3.2: -24:59:59 */
#define OFF_MAX	93599			/* 25:59:59 */
#define STEPS	128			/* transitions walked per input */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int32_t
offset_at(const struct tz *tz, int64_t t)
{
	int32_t	off = tz_offset(tz, t);

	if (off < OFF_MIN || off > OFF_MAX)
		abort();
	return off;
}

/*
 * The earliest instant whose local time reaches `local`: reaches it,
 * and the instant before does not.  (No earlier instant can: offsets
 * are less than a day and a half.)
 */
static void
check_local_to_utc(const struct tz *tz, int64_t local)
{
	int64_t	u = tz_local_to_utc(tz, local);

	if (u + offset_at(tz, u) < local ||
	    u - 1 + offset_at(tz, u - 1) >= local)
		abort();
}

/* The wall clock agrees with the offset, field by field. */
static void
check_local_time(const struct tz *tz, int64_t t, struct tz_local *lt)
{
	int64_t	local, days, secs, y;
	int	m, d;

	tz_local_time(tz, t, lt);
	if (lt->utoff != offset_at(tz, t) || lt->abbr == NULL ||
	    strlen(lt->abbr) > 255)
		abort();
	local = t + lt->utoff;
	days = floor_div(local, 86400);
	secs = local - days * 86400;
	civil_from_days(days, &y, &m, &d);
	if (lt->year != y || lt->month != m || lt->day != d ||
	    lt->hour != secs / 3600 || lt->minute != secs / 60 % 60 ||
	    lt->second != secs % 60)
		abort();
}

/*
 * What is formatted parses back to the same instant; the wall clock,
 * read as a local time of the zone, is tz_local_to_utc's answer.
 * RFC 3339 offsets stop at 23:59, so the rare larger one is not
 * written back.
 */
static void
check_text(const struct tz *tz, int64_t t, const struct tz_local *lt)
{
	char	buf[64], err[256];
	int64_t	back;

	if (lt->utoff <= -86400 || lt->utoff >= 86400 || lt->year < 1)
		return;
	if (tz_format_rfc3339(tz, t, buf, sizeof(buf)) == 0 &&
	    (tz_parse_time(tz, buf, &back, err, sizeof(err)) == -1 ||
	    back != t))
		abort();
	snprintf(buf, sizeof(buf), "%04lld-%02d-%02d %02d:%02d:%02d",
	    (long long)lt->year, lt->month, lt->day, lt->hour, lt->minute,
	    lt->second);
	if (tz_parse_time(tz, buf, &back, err, sizeof(err)) == -1 ||
	    back != tz_local_to_utc(tz, t + lt->utoff))
		abort();
}

/* Everything that must hold at one instant. */
static void
check_instant(const struct tz *tz, int64_t t)
{
	struct tz_local	lt;
	int64_t		hw;

	if (t < MIN_T + 2 * 86400 || t > MAX_T - 2 * 86400)
		return;
	check_local_time(tz, t, &lt);
	hw = tz_local_high_water(tz, t);
	check_local_to_utc(tz, t + lt.utoff);
	if (hw < t + lt.utoff || tz_local_to_utc(tz, hw) > t)
		abort();
	check_text(tz, t, &lt);
}

/*
 * The local times a change skips or repeats: the first and the last
 * of them, which no instant's own wall clock may show.
 */
static void
check_change(const struct tz *tz, int64_t change)
{
	int64_t	before = change + offset_at(tz, change - 1);
	int64_t	after = change + offset_at(tz, change);

	if (change < MIN_T + 2 * 86400 || change > MAX_T - 2 * 86400)
		return;
	check_local_to_utc(tz, before);
	check_local_to_utc(tz, after - 1);
}

/* From one transition to the next, the offset holds. */
static void
walk(const struct tz *tz)
{
	int64_t	t = MIN_T, next;
	int	i;

	for (i = 0; i < STEPS && tz_next_transition(tz, t, &next) == 0; i++) {
		if (next <= t)
			abort();
		if (next > MAX_T)
			break;
		if (offset_at(tz, next - 1) != offset_at(tz, t))
			abort();
		check_instant(tz, next - 1);
		check_instant(tz, next);
		check_change(tz, next);
		t = next;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t	probes[] = { 0, 1000000000, 1700000000,
	    4102444800, INT64_C(34359738368), INT64_C(253000000000) };
	struct tz		*tz;
	char			 err[256];
	size_t			 i;

	err[0] = '\0';
	if ((tz = tz_from_tzif("Fuzz/Zone", data, size, err,
	    sizeof(err))) == NULL) {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		return 0;
	}
	walk(tz);
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		check_instant(tz, probes[i]);
	tz_release(tz);
	return 0;
}
