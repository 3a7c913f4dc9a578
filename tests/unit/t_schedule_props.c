/*
 * Properties of the schedule engine over random expressions and zones,
 * checked against a minute-by-minute reference built on the C library's
 * own localtime_r(3), an independent reading of the tz database.
 *
 * Seeded and reproducible: SCHEDULE_SEED=n reruns a seed, and
 * SCHEDULE_CASES=n sets the number of expressions per zone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "schedule.h"
#include "tz.h"
#include "tap.h"

#define WINDOW_MINUTES	(36 * 60)
#define LOOKBACK	(3 * 3600)
#define MAX_FIRES	64
#define SHOW_FAILURES	5

static const char *const zones[] = {
	"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
	"Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham",
	"Europe/Dublin", "Australia/Sydney", "America/Santiago",
	"Antarctica/Troll", "Asia/Tehran", "Africa/Casablanca",
	"Pacific/Apia", "America/Sao_Paulo", "Asia/Kolkata", "America/Nuuk",
	"Asia/Jerusalem", "Asia/Gaza",
};

static uint64_t	rng_state;
static int	shown;
static size_t	fires;

static uint64_t
rng(void)
{
	/* xorshift64*: small, and the same everywhere for a given seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static int
rnd(int n)
{
	return (int)(rng() % (uint64_t)n);
}

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
	"nov", "dec"
};
static const char *const dow_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"
};

static void
gen_value(char *buf, size_t len, int v, int lo, int names)
{
	const char	*name = NULL;

	if (names == 1 && rnd(3) == 0)
		name = month_names[v - lo];
	else if (names == 2 && v < 7 && rnd(3) == 0)
		name = dow_names[v];
	if (name != NULL)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%d", v);
}

static void
gen_item(char *buf, size_t len, int lo, int hi, int names)
{
	char	a[16], b[16];
	int	x = lo + rnd(hi - lo + 1), y = x + rnd(hi - x + 1);
	int	step = 1 + rnd(hi - lo < 12 ? hi - lo : 12);

	gen_value(a, sizeof(a), x, lo, names);
	gen_value(b, sizeof(b), y, lo, names);
	switch (rnd(5)) {
	case 0:
		snprintf(buf, len, "%s", a);
		break;
	case 1:
		snprintf(buf, len, "%s-%s", a, b);
		break;
	case 2:
		snprintf(buf, len, "%s-%s/%d", a, b, step);
		break;
	case 3:
		snprintf(buf, len, "%d/%d", x, step);
		break;
	default:
		snprintf(buf, len, "*/%d", step);
		break;
	}
}

/* `wild` in 10: how often the field is a plain '*'. */
static void
gen_field(char *buf, size_t len, int lo, int hi, int names, int wild)
{
	char	item[48];
	int	i, n;

	if (rnd(10) < wild) {
		snprintf(buf, len, "*");
		return;
	}
	n = rnd(4) == 0 ? 2 + rnd(2) : 1;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		gen_item(item, sizeof(item), lo, hi, names);
		if (i > 0)
			strlcat(buf, ",", len);
		strlcat(buf, item, len);
	}
}

static void
gen_expr(char *buf, size_t len)
{
	char	f[5][48];

	gen_field(f[0], sizeof(f[0]), 0, 59, 0, 3);
	gen_field(f[1], sizeof(f[1]), 0, 23, 0, 4);
	gen_field(f[2], sizeof(f[2]), 1, 31, 0, 7);
	gen_field(f[3], sizeof(f[3]), 1, 12, 1, 8);
	gen_field(f[4], sizeof(f[4]), 0, 7, 2, 7);
	snprintf(buf, len, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
}

/* The reference: local civil time from the C library. */
static int64_t
ref_local(int64_t t, struct tm *tm)
{
	time_t	tt = (time_t)t;

	localtime_r(&tt, tm);
	return t + tm->tm_gmtoff;
}

static int
ref_matches(const struct cron *c, const struct tm *tm)
{
	int	dom = c->dom >> tm->tm_mday & 1, dow = c->dow >> tm->tm_wday & 1;

	if (tm->tm_sec != 0 || !(c->minute >> tm->tm_min & 1) ||
	    !(c->hour >> tm->tm_hour & 1) ||
	    !(c->month >> (tm->tm_mon + 1) & 1))
		return 0;
	if (!(c->flags & (CRON_DOM_STAR | CRON_DOW_STAR)))
		return dom || dow;
	return dom && dow;
}

/* Whether a local minute in (lo, hi] matches, for wall-clock schedules. */
static int
ref_any_local(const struct cron *c, int64_t lo, int64_t hi)
{
	int64_t	l;

	for (l = floor_div(lo, 60) * 60 + 60; l <= hi; l += 60)
		if (cron_matches(c, l))
			return 1;
	return 0;
}

/*
 * Real time fires where the local time matches; wall-clock time fires
 * when the local time first reaches a matching minute, so it needs the
 * highest local time seen so far (repeated hours last at most 2 hours
 * in these zones since 2000).
 */
static size_t
ref_fires(const struct cron *c, int real, int64_t after, int64_t *out)
{
	struct tm	tm;
	int64_t		t, high = ref_local(after, &tm), cur, end;
	size_t		n = 0;

	for (t = floor_div(after - LOOKBACK, 60) * 60; t <= after; t += 60)
		if ((cur = ref_local(t, &tm)) > high)
			high = cur;
	end = after + WINDOW_MINUTES * 60;
	for (t = floor_div(after, 60) * 60 + 60; t <= end && n < MAX_FIRES;
	    t += 60) {
		cur = ref_local(t, &tm);
		if (real ? ref_matches(c, &tm) : cur > high &&
		    ref_any_local(c, high, cur))
			out[n++] = t;
		if (cur > high)
			high = cur;
	}
	return n;
}

static size_t
engine_fires(const struct schedule *s, int64_t after, int64_t *out)
{
	int64_t	t = after, end = after + WINDOW_MINUTES * 60;
	size_t	n = 0;

	while (n < MAX_FIRES && schedule_next(s, t, &t) == 0 && t <= end)
		out[n++] = t;
	return n;
}

static void
show(const char *zone, const char *expr, int64_t after, const char *what,
    int64_t got, int64_t want)
{
	if (shown++ >= SHOW_FAILURES)
		return;
	tap_diag("zone %s, '%s', after @%lld: %s: engine @%lld, reference "
	    "@%lld", zone, expr, (long long)after, what, (long long)got,
	    (long long)want);
}

/*
 * The engine's first fire after `after` must be strictly later, and
 * must match in local time unless it ends a gap for a wall-clock
 * schedule; within the window it must equal the reference exactly.
 */
static int
check_case(const char *zone, const char *expr, const struct schedule *s,
    const struct cron *c, int64_t after)
{
	struct tm	tm;
	int64_t		ref[MAX_FIRES], got[MAX_FIRES], t;
	size_t		nref, ngot, i;
	int		real = schedule_follows_real_time(s);

	nref = ref_fires(c, real, after, ref);
	ngot = engine_fires(s, after, got);
	for (i = 0; i < nref || i < ngot; i++) {
		if (i >= nref || i >= ngot || ref[i] != got[i]) {
			show(zone, expr, after, "fire differs",
			    i < ngot ? got[i] : -1, i < nref ? ref[i] : -1);
			return 0;
		}
		if (i > 0 && got[i] <= got[i - 1]) {
			show(zone, expr, after, "not increasing", got[i],
			    got[i - 1]);
			return 0;
		}
	}
	fires += ngot;
	if (ngot == 0 && schedule_next(s, after, &t) == 0 &&
	    (t <= after || (real && (ref_local(t, &tm), !ref_matches(c,
	    &tm))))) {
		show(zone, expr, after, "first fire beyond the window", t, 0);
		return 0;
	}
	return 1;
}

/* Mostly 2000-2060, near a transition half the time, some far ahead. */
static int64_t
gen_after(const struct tz *tz)
{
	int64_t	base = 946684800 + (int64_t)(rng() % (60ULL * 365 * 86400));
	int64_t	tr;

	if (rnd(8) == 0)
		base += (int64_t)(rng() % (300ULL * 365 * 86400));
	if (rnd(2) == 0 && tz_next_transition(tz, base, &tr) == 0)
		base = tr - 3 * 3600 + rnd(6 * 3600);
	if (rnd(2) == 0)
		base = floor_div(base, 60) * 60;
	return base;
}

static void
check_zone(const char *zone, int cases)
{
	struct schedule	*s;
	struct cron	 c;
	char		 expr[CRON_EXPR_MAX + 1], err[256];
	int		 i, ok = 0, skipped = 0;

	setenv("TZ", zone, 1);
	tzset();
	for (i = 0; i < cases; i++) {
		gen_expr(expr, sizeof(expr));
		if (cron_parse(&c, expr, err, sizeof(err)) == -1) {
			show(zone, expr, 0, err, 0, 0);
			continue;
		}
		if ((s = schedule_compile(NULL, expr, zone, err,
		    sizeof(err))) == NULL) {
			if (cron_can_fire(&c))
				show(zone, expr, 0, err, 0, 0);
			else
				skipped++;
			continue;
		}
		ok += check_case(zone, expr, s, &c, gen_after(schedule_tz(s)));
		schedule_free(s);
	}
	tap_ok(ok + skipped == cases, "%s: %d expressions agree with the "
	    "reference (%d never fire)", zone, ok, skipped);
}

int
main(void)
{
	const char	*e;
	uint64_t	 seed;
	int		 cases = 60;
	size_t		 i;

	if ((e = getenv("SCHEDULE_SEED")) != NULL)
		seed = strtoull(e, NULL, 10);
	else
		seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
	if ((e = getenv("SCHEDULE_CASES")) != NULL)
		cases = atoi(e);
	tap_diag("seed %llu (rerun with SCHEDULE_SEED=%llu)",
	    (unsigned long long)seed, (unsigned long long)seed);
	rng_state = seed ? seed : 1;
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		check_zone(zones[i], cases);
	tap_diag("%zu fire times compared", fires);
	tz_cache_flush();
	return tap_done();
}
