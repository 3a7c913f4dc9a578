/*
 * Properties of the schedule engine over random schedules and zones,
 * checked against a reference that shares nothing with the engine: its
 * own reading of evalsched-schedule(5) (schedule types, macros and cron
 * expressions, parsed here), and the C library's localtime_r(3) and
 * gmtime_r(3) for local civil time.  A bug in the engine's parser, its
 * calendar or its tz reader therefore shows as a disagreement.
 *
 * Some of the schedules are wrong on purpose (a value out of range, a
 * range backwards, a step too wide, an unknown name...): the engine must
 * refuse exactly those the reference refuses, and those that name no
 * date that exists.
 *
 * Seeded and reproducible: SCHEDULE_SEED=n reruns a seed, and
 * SCHEDULE_CASES=n sets the number of schedules per zone.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "schedule.h"
#include "tz.h"
#include "tap.h"
#include "testhooks.h"

#define WINDOW_MINUTES	(36 * 60)
#define LOOKBACK	(3 * 3600)
#define MAX_FIRES	64
#define SHOW_FAILURES	5
#define EXPR_MAX	256	/* "at most 256 characters" */
#define FIELD_TEXT	96

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
static size_t	fires, refused;

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

static int64_t
fdiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ------------------------------------------------------------------ */
/* The reference: evalsched-schedule(5), read afresh.                  */

static const char *const month_names[] = {
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"
};
static const char *const dow_names[] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
	"saturday"
};

/* The fields of the table in "Cron expressions". */
struct ref_field {
	int			 lo, hi;
	const char *const	*names;	/* month and day-of-week only */
	int			 nnames;
};

static const struct ref_field ref_fields[5] = {
	{ 0, 59, NULL, 0 },
	{ 0, 23, NULL, 0 },
	{ 1, 31, NULL, 0 },
	{ 1, 12, month_names, 12 },
	{ 0, 7, dow_names, 7 },	/* 0 and 7 are Sunday */
};

struct ref_cron {
	char	set[5][64];	/* set[field][value] */
	int	star[5];	/* the field starts with '*' */
};

/* "Month and weekday names may be three-letter abbreviations or full
 * names, in any case." */
static int
ref_name(const struct ref_field *f, const char *w, size_t n)
{
	int	i;

	for (i = 0; i < f->nnames; i++)
		if ((n == 3 || n == strlen(f->names[i])) &&
		    strncasecmp(w, f->names[i], n) == 0)
			return f->lo + i;
	return -1;
}

/* A number or a name, consumed from *pp; -1 if it is neither. */
static int
ref_value(const struct ref_field *f, const char **pp)
{
	const char	*p = *pp;
	size_t		 n = 0;
	long		 v = 0;

	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)p[n]) && n < 6; n++)
			v = v * 10 + (p[n] - '0');
		if (isdigit((unsigned char)p[n]) || v < f->lo || v > f->hi)
			return -1;
		*pp = p + n;
		return (int)v;
	}
	while (isalpha((unsigned char)p[n]))
		n++;
	if (n == 0 || (v = ref_name(f, p, n)) < 0)
		return -1;
	*pp = p + n;
	return (int)v;
}

/* "A step must be smaller than the field's span." */
static int
ref_step(const struct ref_field *f, const char **pp)
{
	const char	*p = *pp;
	long		 n = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p) && n <= 1000)
		n = n * 10 + (*p++ - '0');
	if (n < 1 || n >= f->hi - f->lo + 1)
		return -1;
	*pp = p;
	return (int)n;
}

/* One list element: *, a, a-b, *\/n, a-b/n, a/n.  0, or -1. */
static int
ref_element(const struct ref_field *f, const char *p, const char *end,
    char *set)
{
	int	a = f->lo, b = f->hi, step = 1, v;

	if (*p == '*')
		p++;
	else {
		if ((a = ref_value(f, &p)) < 0)
			return -1;
		b = a;
		if (*p == '-') {
			p++;
			if ((b = ref_value(f, &p)) < 0 || b < a)
				return -1;
		} else if (*p == '/')
			b = f->hi;	/* a/n: to the end of the field */
	}
	if (*p == '/') {
		p++;
		if ((step = ref_step(f, &p)) < 0)
			return -1;
	}
	if (p != end)
		return -1;
	for (v = a; v <= b; v += step)
		set[f == &ref_fields[4] && v == 7 ? 0 : v] = 1;
	return 0;
}

/* A comma-separated list of elements. */
static int
ref_list(const struct ref_field *f, const char *text, char *set)
{
	const char	*p = text, *comma;

	for (;;) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if (comma == p || ref_element(f, p, comma, set) == -1)
			return -1;
		if (*comma == '\0')
			return 0;
		p = comma + 1;
	}
}

/* Splits on blanks (spaces or tabs); returns the number of words. */
static int
ref_words(const char *expr, char words[][FIELD_TEXT], int max)
{
	int	n = 0;
	size_t	len;

	for (;;) {
		expr += strspn(expr, " \t");
		if (*expr == '\0')
			return n;
		len = strcspn(expr, " \t");
		if (n < max && len < FIELD_TEXT) {
			memcpy(words[n], expr, len);
			words[n][len] = '\0';
		} else if (n < max)
			words[n][0] = '\0';	/* too long: never valid */
		n++;
		expr += len;
	}
}

static const struct {
	const char	*name;
	const char	*expr;
} ref_macros[] = {
	{ "@hourly", "0 * * * *" }, { "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" }, { "@weekly", "0 0 * * 0" },
	{ "@monthly", "0 0 1 * *" }, { "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

static int ref_parse(const char *expr, struct ref_cron *rc);

static int
ref_macro(const char *word, struct ref_cron *rc)
{
	size_t	i;

	for (i = 0; i < sizeof(ref_macros) / sizeof(ref_macros[0]); i++)
		if (strcmp(word, ref_macros[i].name) == 0)
			return ref_parse(ref_macros[i].expr, rc);
	return -1;
}

/* An expression: 0, or -1 when the manual says it is an error. */
static int
ref_parse(const char *expr, struct ref_cron *rc)
{
	char	words[5][FIELD_TEXT];
	size_t	i;
	int	n;

	memset(rc, 0, sizeof(*rc));
	if (strlen(expr) > EXPR_MAX)
		return -1;
	for (i = 0; expr[i] != '\0'; i++)
		if (expr[i] != '\t' && !isprint((unsigned char)expr[i]))
			return -1;
	n = ref_words(expr, words, 5);
	if (n == 1 && words[0][0] == '@')
		return ref_macro(words[0], rc);
	if (n != 5)
		return -1;
	for (i = 0; i < 5; i++) {
		if (ref_list(&ref_fields[i], words[i], rc->set[i]) == -1)
			return -1;
		rc->star[i] = words[i][0] == '*';
	}
	return 0;
}

/* "An expression that names no date that exists ... is rejected." */
static int
ref_can_fire(const struct ref_cron *rc)
{
	static const int	mdays[13] = { 0, 31, 29, 31, 30, 31, 30, 31,
	    31, 30, 31, 30, 31 };
	int			m, d;

	/* Either day field may match: every weekday comes each month. */
	if (!rc->star[2] && !rc->star[4])
		return 1;
	/* Both must: any date falls on every weekday in some year. */
	for (m = 1; m <= 12; m++)
		for (d = 1; d <= mdays[m]; d++)
			if (rc->set[3][m] && rc->set[2][d])
				return 1;
	return 0;
}

/* "A schedule whose minute or hour field starts with '*' follows real
 * time." */
static int
ref_real_time(const struct ref_cron *rc)
{
	return rc->star[0] || rc->star[1];
}

/* The table in "Schedule types"; NULL for custom or an unknown type. */
static const char *
ref_type_expression(const char *type)
{
	static const char *const types[][2] = {
		{ "every_5_minutes", "*/5 * * * *" },
		{ "hourly", "0 * * * *" },
		{ "daily", "0 2 * * *" },
		{ "weekly", "0 2 * * 1" },
	};
	size_t	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i][0]) == 0)
			return types[i][1];
	return NULL;
}

/* Whether a local civil time (struct tm) matches. */
static int
ref_matches(const struct ref_cron *rc, const struct tm *tm)
{
	int	dom = rc->set[2][tm->tm_mday], dow = rc->set[4][tm->tm_wday];

	if (tm->tm_sec != 0 || !rc->set[0][tm->tm_min] ||
	    !rc->set[1][tm->tm_hour] || !rc->set[3][tm->tm_mon + 1])
		return 0;
	if (!rc->star[2] && !rc->star[4])
		return dom || dow;
	return dom && dow;
}

/* Local civil time from the C library; returns it as civil seconds. */
static int64_t
ref_local(int64_t t, struct tm *tm)
{
	time_t	tt = (time_t)t;

	localtime_r(&tt, tm);
	return t + tm->tm_gmtoff;
}

/* Civil seconds read as a calendar date, by the C library too. */
static int
ref_civil_matches(const struct ref_cron *rc, int64_t local)
{
	struct tm	tm;
	time_t		tt = (time_t)local;

	gmtime_r(&tt, &tm);
	return ref_matches(rc, &tm);
}

/* Whether a local minute in (lo, hi] matches, for wall-clock schedules. */
static int
ref_any_local(const struct ref_cron *rc, int64_t lo, int64_t hi)
{
	int64_t	l;

	for (l = fdiv(lo, 60) * 60 + 60; l <= hi; l += 60)
		if (ref_civil_matches(rc, l))
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
ref_fires(const struct ref_cron *rc, int64_t after, int64_t *out)
{
	struct tm	tm;
	int64_t		t, high = ref_local(after, &tm), cur, end;
	int		real = ref_real_time(rc);
	size_t		n = 0;

	for (t = fdiv(after - LOOKBACK, 60) * 60; t <= after; t += 60)
		if ((cur = ref_local(t, &tm)) > high)
			high = cur;
	end = after + WINDOW_MINUTES * 60;
	for (t = fdiv(after, 60) * 60 + 60; t <= end && n < MAX_FIRES;
	    t += 60) {
		cur = ref_local(t, &tm);
		if (real ? ref_matches(rc, &tm) : cur > high &&
		    ref_any_local(rc, high, cur))
			out[n++] = t;
		if (cur > high)
			high = cur;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Random schedules, right and wrong.                                  */

struct gen_case {
	const char	*type;		/* NULL: custom */
	char		 expr[EXPR_MAX + 64];
};

/* A name as the manual allows it: abbreviated or whole, in any case. */
static void
gen_name(char *buf, size_t len, const char *name)
{
	size_t	i, n = rnd(2) ? 3 : strlen(name);
	int	how = rnd(4);

	for (i = 0; i < n && i + 1 < len; i++)
		buf[i] = how == 0 ? name[i] : how == 1 ?
		    toupper((unsigned char)name[i]) : how == 2 && i == 0 ?
		    toupper((unsigned char)name[i]) : rnd(2) ?
		    toupper((unsigned char)name[i]) : name[i];
	buf[i] = '\0';
}

static void
gen_value(char *buf, size_t len, int field, int v)
{
	const struct ref_field	*f = &ref_fields[field];

	if (f->names != NULL && v - f->lo < f->nnames && rnd(3) == 0)
		gen_name(buf, len, f->names[v - f->lo]);
	else
		snprintf(buf, len, "%d", v);
}

static void
gen_item(char *buf, size_t len, int field)
{
	const struct ref_field	*f = &ref_fields[field];
	char			 a[16], b[16];
	int			 x = f->lo + rnd(f->hi - f->lo + 1);
	int			 y = x + rnd(f->hi - x + 1);
	int			 step = 1 + rnd(f->hi - f->lo < 12 ?
				    f->hi - f->lo : 12);

	gen_value(a, sizeof(a), field, x);
	gen_value(b, sizeof(b), field, y);
	switch (rnd(6)) {
	case 0:
	case 1:
		snprintf(buf, len, "%s", a);
		break;
	case 2:
		snprintf(buf, len, "%s-%s", a, b);
		break;
	case 3:
		snprintf(buf, len, "%s-%s/%d", a, b, step);
		break;
	case 4:
		snprintf(buf, len, "%s/%d", a, step);
		break;
	default:
		snprintf(buf, len, "*/%d", step);
		break;
	}
}

/* One of the mistakes the manual rules out, as a list element. */
static void
gen_mistake(char *buf, size_t len, int field)
{
	const struct ref_field	*f = &ref_fields[field];
	int			 span = f->hi - f->lo + 1;

	switch (rnd(8)) {
	case 0:		/* out of range, either end */
		snprintf(buf, len, "%d", rnd(2) ? f->hi + 1 + rnd(3) :
		    f->lo > 0 ? f->lo - 1 : f->hi + 40);
		break;
	case 1:		/* backwards */
		snprintf(buf, len, "%d-%d", f->lo + 1 + rnd(span - 1), f->lo);
		break;
	case 2:		/* a step of zero, or as wide as the field */
		snprintf(buf, len, "*/%d", rnd(2) ? 0 : span + rnd(3));
		break;
	case 3:		/* a name nobody has, or one in a numeric field */
		snprintf(buf, len, "%s", rnd(2) ? "fri2" : rnd(2) ? "janu" :
		    "mon");
		break;
	case 4:		/* half a range, half a step */
		snprintf(buf, len, "%s", rnd(2) ? "5-" : "*/");
		break;
	case 5:		/* something that is no element */
		snprintf(buf, len, "%s", rnd(2) ? "5x" : rnd(2) ? "**" : "?");
		break;
	case 6:		/* a sign */
		snprintf(buf, len, "%s", rnd(2) ? "-1" : "+1");
		break;
	default:	/* an empty list element */
		snprintf(buf, len, "%s", rnd(2) ? "1," : ",1");
		break;
	}
}

/* `wild` in 10: how often the field is a plain '*'. */
static void
gen_field(char *buf, size_t len, int field, int wild, int wrong)
{
	char	item[48];
	int	i, n, bad;

	if (!wrong && rnd(10) < wild) {
		snprintf(buf, len, "*");
		return;
	}
	n = rnd(4) == 0 ? 2 + rnd(2) : 1;
	bad = wrong ? rnd(n) : -1;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i == bad)
			gen_mistake(item, sizeof(item), field);
		else
			gen_item(item, sizeof(item), field);
		if (i > 0)
			strlcat(buf, ",", len);
		strlcat(buf, item, len);
	}
}

/* Fields joined by one or more blanks, spaces or tabs. */
static void
gen_join(char *buf, size_t len, char f[][FIELD_TEXT], int n)
{
	static const char *const blanks[] = { " ", " ", " ", "  ", "\t",
	    " \t" };
	int	i;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strlcat(buf, blanks[rnd(6)], len);
		strlcat(buf, f[i], len);
	}
}

static void
gen_expr(char *buf, size_t len)
{
	static const int	wild[5] = { 3, 4, 7, 8, 7 };
	char			f[6][FIELD_TEXT];
	int			i, n = 5, wrong = rnd(6) == 0 ? rnd(5) : -1;

	for (i = 0; i < 5; i++)
		gen_field(f[i], sizeof(f[i]), i, wild[i], i == wrong);
	if (rnd(40) == 0)	/* four fields, or six */
		n = rnd(2) ? 4 : 6;
	if (n == 6)
		snprintf(f[5], sizeof(f[5]), "2026");
	gen_join(buf, len, f, n);
}

static void
gen_macro(char *buf, size_t len)
{
	static const char *const bad[] = { "@reboot", "@fortnightly",
	    "@daily 0" };
	size_t	n = sizeof(ref_macros) / sizeof(ref_macros[0]);

	if (rnd(5) == 0)
		snprintf(buf, len, "%s", bad[rnd(3)]);
	else
		snprintf(buf, len, "%s", ref_macros[rnd((int)n)].name);
}

static void
gen_case(struct gen_case *gc)
{
	static const char *const types[] = { "every_5_minutes", "hourly",
	    "daily", "weekly", "monthly" };
	int	kind = rnd(20);

	gc->type = NULL;
	if (kind == 0)
		gen_macro(gc->expr, sizeof(gc->expr));
	else
		gen_expr(gc->expr, sizeof(gc->expr));
	/* A type's own expression is used whatever the column says. */
	if (kind == 1)
		gc->type = types[rnd(5)];
	else if (kind == 2)
		gc->type = "custom";
}

/* The reference's verdict: 1 and rc set when the schedule is good. */
static int
ref_schedule(const struct gen_case *gc, struct ref_cron *rc)
{
	const char	*expr = gc->expr;

	if (gc->type != NULL && strcmp(gc->type, "custom") != 0 &&
	    (expr = ref_type_expression(gc->type)) == NULL)
		return 0;
	return ref_parse(expr, rc) == 0 && ref_can_fire(rc);
}

/* ------------------------------------------------------------------ */
/* The comparison.                                                     */

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
show(const char *zone, const struct gen_case *gc, int64_t after,
    const char *what, int64_t got, int64_t want)
{
	if (shown++ >= SHOW_FAILURES)
		return;
	tap_diag("zone %s, type %s, '%s', after @%lld: %s: engine @%lld, "
	    "reference @%lld", zone, gc->type ? gc->type : "(none)",
	    gc->expr, (long long)after, what, (long long)got,
	    (long long)want);
}

/*
 * The engine's fires within the window must be the reference's, in
 * order; past the window, its first fire must be strictly later and,
 * for real time, match in local time.
 */
static int
check_fires(const char *zone, const struct gen_case *gc,
    const struct schedule *s, const struct ref_cron *rc, int64_t after)
{
	struct tm	tm;
	int64_t		ref[MAX_FIRES], got[MAX_FIRES], t;
	size_t		nref, ngot, i;

	nref = ref_fires(rc, after, ref);
	ngot = engine_fires(s, after, got);
	for (i = 0; i < nref || i < ngot; i++) {
		if (i >= nref || i >= ngot || ref[i] != got[i]) {
			show(zone, gc, after, "fire differs",
			    i < ngot ? got[i] : -1, i < nref ? ref[i] : -1);
			return 0;
		}
	}
	fires += ngot;
	if (ngot == 0 && schedule_next(s, after, &t) == 0 &&
	    (t <= after || (ref_real_time(rc) && (ref_local(t, &tm),
	    !ref_matches(rc, &tm))))) {
		show(zone, gc, after, "first fire beyond the window", t, 0);
		return 0;
	}
	return 1;
}

/* Mostly 2000-2060, near a transition half the time, some far ahead. */
static int64_t
gen_after(const struct schedule *s)
{
	int64_t	base = 946684800 + (int64_t)(rng() % (60ULL * 365 * 86400));
	int64_t	tr;

	if (rnd(8) == 0)
		base += (int64_t)(rng() % (300ULL * 365 * 86400));
	/* The engine's zone only picks where to look, not what is right. */
	if (rnd(2) == 0 && tz_next_transition(schedule_tz(s), base, &tr) == 0)
		base = tr - 3 * 3600 + rnd(6 * 3600);
	if (rnd(2) == 0)
		base = fdiv(base, 60) * 60;
	return base;
}

/* One schedule: 1 when the engine agrees with the reference. */
static int
check_case(const char *zone, const struct gen_case *gc)
{
	struct schedule	*s;
	struct ref_cron	 rc;
	char		 err[256];
	int		 good = ref_schedule(gc, &rc), ok;

	s = schedule_compile(gc->type, gc->expr, zone, err, sizeof(err));
	if ((s != NULL) != good) {
		show(zone, gc, 0, s != NULL ? "accepted, but the manual "
		    "rules it out" : err, 0, 0);
		schedule_free(s);
		return 0;
	}
	if (s == NULL) {
		refused++;
		return 1;
	}
	ok = schedule_follows_real_time(s) == ref_real_time(&rc);
	if (!ok)
		show(zone, gc, 0, "real time or wall clock differs", 0, 0);
	else
		ok = check_fires(zone, gc, s, &rc, gen_after(s));
	schedule_free(s);
	return ok;
}

static void
check_zone(const char *zone, int cases)
{
	struct gen_case	gc;
	size_t		refused_before = refused;
	int		i, ok = 0;

	setenv("TZ", zone, 1);
	tzset();
	for (i = 0; i < cases; i++) {
		gen_case(&gc);
		ok += check_case(zone, &gc);
	}
	tap_ok(ok == cases, "%s: %d of %d schedules agree with the "
	    "reference (%zu refused by both)", zone, ok, cases,
	    refused - refused_before);
}

/* The reference itself, on the manual's own examples. */
static void
check_reference(void)
{
	struct ref_cron	rc;

	tap_ok(ref_parse("0 0 13 * 5", &rc) == 0 && rc.set[2][13] &&
	    rc.set[4][5] && !rc.star[2] && !rc.star[4],
	    "reference: '0 0 13 * 5' restricts both day fields");
	tap_ok(ref_parse("*/90 * * * *", &rc) == -1,
	    "reference: '*/90 * * * *' is an error");
	tap_ok(ref_parse("0 0 30 2 *", &rc) == 0 && !ref_can_fire(&rc),
	    "reference: '0 0 30 2 *' can never fire");
	tap_ok(ref_parse("0 0 29 2 *", &rc) == 0 && ref_can_fire(&rc),
	    "reference: February 29 exists");
	tap_ok(ref_parse("30 9,17 * * mon-fri", &rc) == 0 &&
	    rc.set[4][1] && rc.set[4][5] && !rc.set[4][6] && !rc.set[4][0],
	    "reference: names in a range");
	tap_ok(ref_parse("0 9 * * fri2", &rc) == -1,
	    "reference: 'fri2' is no name");
	tap_ok(ref_parse("0 0 * * 5/2", &rc) == 0 && rc.set[4][5] &&
	    rc.set[4][0] && !rc.set[4][6],
	    "reference: a/n runs to the end of the field (7 is Sunday)");
	tap_ok(ref_parse("@weekly", &rc) == 0 && rc.set[4][0] &&
	    !rc.set[4][1] && !ref_real_time(&rc),
	    "reference: @weekly is Sunday midnight, wall clock");
	tap_ok(ref_parse("0\t2 *  SEPTEMBER *", &rc) == 0 && rc.set[3][9],
	    "reference: tabs, runs of blanks, a full name in capitals");
}

int
main(void)
{
	const char	*e;
	uint64_t	 seed;
	int		 cases = 80;
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
	check_reference();
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		check_zone(zones[i], cases);
	tap_diag("%zu fire times compared, %zu schedules refused", fires,
	    refused);
	tz_cache_flush();
	return tap_done();
}
