/*
 * Cron expressions: five fields (minute hour day-of-month month
 * day-of-week) of '*', numbers, names, ranges, steps and lists, or a
 * macro.  Each field becomes a bit set; matching and searching work in
 * local civil time, one field at a time.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "testhooks.h"
#include "tz.h"

#define FIELD_MAX	CRON_EXPR_MAX

#define FULLNAME_SIZE	10	/* "september" and its NUL */

struct field {
	const char	*name;
	int		 min;
	int		 max;
	const char	(*abbrevs)[4];	/* names, from `min` on */
	const char	(*fullnames)[FULLNAME_SIZE];
	int		 nnames;
	unsigned int	 star;
};

static const char month_abbrevs[][4] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec"
};
static const char month_fullnames[][FULLNAME_SIZE] = {
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"
};
static const char dow_abbrevs[][4] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat"
};
static const char dow_fullnames[][FULLNAME_SIZE] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
	"saturday"
};

static const struct field fields[5] = {
	{ "minute", 0, 59, NULL, NULL, 0, CRON_MIN_STAR },
	{ "hour", 0, 23, NULL, NULL, 0, CRON_HOUR_STAR },
	{ "day-of-month", 1, 31, NULL, NULL, 0, CRON_DOM_STAR },
	{ "month", 1, 12, month_abbrevs, month_fullnames, 12, 0 },
	/* 7 is Sunday too, as in most crons. */
	{ "day-of-week", 0, 7, dow_abbrevs, dow_fullnames, 7, CRON_DOW_STAR },
};

static const struct {
	const char	*name;
	const char	*expr;
} macros[] = {
	{ "@hourly", "0 * * * *" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@monthly", "0 0 1 * *" },
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

/* Parsing one field. */

struct field_parse {
	const struct field	*f;
	const char		*text;	/* the whole field, for messages */
	const char		*elem;	/* the list element being parsed */
	char			*err;
	size_t			 errlen;
};

static int
field_error(struct field_parse *fp, const char *fmt, const char *arg,
    int a, int b)
{
	char	msg[FIELD_MAX + 64];

	snprintf(msg, sizeof(msg), fmt, arg, a, b);
	snprintf(fp->err, fp->errlen, "%s field: %s", fp->f->name, msg);
	return -1;
}

static int
name_lookup(const struct field *f, const char *word)
{
	int	i;

	for (i = 0; i < f->nnames; i++)
		if (strcasecmp(word, f->abbrevs[i]) == 0 ||
		    strcasecmp(word, f->fullnames[i]) == 0)
			return f->min + i;
	return -1;
}

static int
number_value(struct field_parse *fp, const char *what, const char *word,
    int lo, int hi)
{
	char	label[FIELD_MAX + 8];
	long	v = 0;
	size_t	i;

	for (i = 0; word[i] != '\0'; i++) {
		if (!isdigit((unsigned char)word[i])) {
			snprintf(label, sizeof(label), "%s'%s'", what, word);
			return field_error(fp, "%s is not a number", label,
			    0, 0) - 1;
		}
		if (v <= 100000)
			v = v * 10 + (word[i] - '0');
	}
	if (v < lo || v > hi) {
		snprintf(label, sizeof(label), "%s%s", what, word);
		return field_error(fp, "%s out of range %d-%d", label, lo,
		    hi) - 1;
	}
	return (int)v;
}

/*
 * Reads a number or name at *pp into *v.  Returns 0, or -1 with a
 * message.  Values below 0 never occur, so -2 marks "failed" inside.
 */
static int
field_value(struct field_parse *fp, const char **pp, int *v)
{
	char		 word[FIELD_MAX + 1];
	const char	*p = *pp;
	size_t		 n = 0;

	while (isalnum((unsigned char)p[n]))
		n++;
	if (n == 0) {
		if (*p == '\0')
			return field_error(fp, "'%s' is incomplete", fp->elem,
			    0, 0);
		snprintf(word, sizeof(word), "%c", *p);
		return field_error(fp, "unexpected '%s'", word, 0, 0);
	}
	memcpy(word, p, n);
	word[n] = '\0';
	*pp = p + n;
	if (fp->f->abbrevs != NULL && !isdigit((unsigned char)word[0])) {
		if ((*v = name_lookup(fp->f, word)) == -1)
			return field_error(fp, "unknown name '%s'", word, 0, 0);
		return 0;
	}
	if ((*v = number_value(fp, "", word, fp->f->min, fp->f->max)) < 0)
		return -1;
	return 0;
}

static int
field_step(struct field_parse *fp, const char **pp, int *step)
{
	char		 word[FIELD_MAX + 1];
	const char	*p = *pp;
	size_t		 n = 0;

	while (isalnum((unsigned char)p[n]))
		n++;
	if (n == 0)
		return field_error(fp, "missing step after '/' in '%s'",
		    fp->elem, 0, 0);
	memcpy(word, p, n);
	word[n] = '\0';
	*pp = p + n;
	/* A step as wide as the range would select its start alone. */
	*step = number_value(fp, "step ", word, 1, fp->f->max - fp->f->min);
	return *step < 0 ? -1 : 0;
}

static uint64_t
field_bits(const struct field *f, int lo, int hi, int step)
{
	uint64_t	bits = 0;
	int		v;

	for (v = lo; v <= hi; v += step)
		bits |= 1ULL << (f == &fields[4] && v == 7 ? 0 : v);
	return bits;
}

/* One list element: "*", "a", "a-b", each optionally "/step". */
static int
field_element(struct field_parse *fp, const char *p, uint64_t *bits)
{
	int	lo = fp->f->min, hi = fp->f->max, step = 1, ranged = 1;

	if (*p == '*')
		p++;
	else {
		if (field_value(fp, &p, &lo) == -1)
			return -1;
		hi = lo;
		ranged = 0;
		if (*p == '-') {
			p++;
			if (field_value(fp, &p, &hi) == -1)
				return -1;
			if (hi < lo)
				return field_error(fp,
				    "range '%s' goes backwards", fp->elem,
				    0, 0);
			ranged = 1;
		}
	}
	if (*p == '/') {
		p++;
		if (field_step(fp, &p, &step) == -1)
			return -1;
		if (!ranged)	/* "a/n" means "a-max/n" */
			hi = fp->f->max;
	}
	if (*p != '\0') {
		char	c[2] = { *p, '\0' };

		snprintf(fp->err, fp->errlen, "%s field: unexpected '%s' in "
		    "'%s'", fp->f->name, c, fp->elem);
		return -1;
	}
	*bits |= field_bits(fp->f, lo, hi, step);
	return 0;
}

static int
field_parse(const struct field *f, const char *text, uint64_t *bits,
    char *err, size_t errlen)
{
	struct field_parse	 fp = { f, text, NULL, err, errlen };
	char			 buf[FIELD_MAX + 1];
	char			*elem, *rest;

	strlcpy(buf, text, sizeof(buf));
	*bits = 0;
	for (rest = buf; rest != NULL; ) {
		elem = strsep(&rest, ",");
		if (*elem == '\0') {
			snprintf(err, errlen, "%s field: empty list element "
			    "in '%s'", f->name, text);
			return -1;
		}
		fp.elem = elem;
		if (field_element(&fp, elem, bits) == -1)
			return -1;
	}
	return 0;
}

/* The whole expression. */

static int
expr_check_chars(const char *expr, char *err, size_t errlen)
{
	size_t	i, len = strlen(expr);

	if (len > CRON_EXPR_MAX) {
		snprintf(err, errlen, "expression too long (%zu characters, "
		    "at most %d)", len, CRON_EXPR_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)expr[i] >= 0x80) {
			snprintf(err, errlen, "non-ASCII character at "
			    "position %zu", i + 1);
			return -1;
		}
		if (expr[i] != '\t' && iscntrl((unsigned char)expr[i])) {
			snprintf(err, errlen, "control character at position "
			    "%zu", i + 1);
			return -1;
		}
	}
	return 0;
}

static int
expr_split(char *buf, char **words, int max)
{
	char	*w;
	int	 n = 0;

	while ((w = strsep(&buf, " \t")) != NULL) {
		if (*w == '\0')
			continue;
		if (n < max)
			words[n] = w;
		n++;
	}
	return n;
}

static const char *
macro_lookup(const char *word, char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
		if (strcasecmp(word, macros[i].name) == 0)
			return macros[i].expr;
	if (strcasecmp(word, "@reboot") == 0)
		snprintf(err, errlen, "@reboot is not supported: schedules "
		    "fire at times, not at start-up");
	else
		snprintf(err, errlen, "unknown macro '%.32s' (expected "
		    "@hourly, @daily, @midnight, @weekly, @monthly, @yearly "
		    "or @annually)", word);
	return NULL;
}

static int
expr_fields(struct cron *c, char **words, char *err, size_t errlen)
{
	uint64_t	bits[5];
	int		i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < 5; i++) {
		if (field_parse(&fields[i], words[i], &bits[i], err,
		    errlen) == -1)
			return -1;
		if (words[i][0] == '*')
			c->flags |= fields[i].star;
	}
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	c->dow = (uint8_t)bits[4];
	return 0;
}

int
cron_parse(struct cron *c, const char *expr, char *err, size_t errlen)
{
	char		 buf[CRON_EXPR_MAX + 1];
	char		*words[5];
	const char	*m;
	int		 n;

	if (expr_check_chars(expr, err, errlen) == -1)
		return -1;
	strlcpy(buf, expr, sizeof(buf));
	n = expr_split(buf, words, 5);
	if (n == 0) {
		snprintf(err, errlen, "empty expression");
		return -1;
	}
	if (words[0][0] == '@') {
		if (n != 1) {
			snprintf(err, errlen, "%.32s takes no fields after it",
			    words[0]);
			return -1;
		}
		if ((m = macro_lookup(words[0], err, errlen)) == NULL)
			return -1;
		return cron_parse(c, m, err, errlen);
	}
	if (n != 5) {
		snprintf(err, errlen, "expected 5 fields, got %d%s", n,
		    n > 5 ? " (seconds and years are not supported)" : "");
		return -1;
	}
	return expr_fields(c, words, err, errlen);
}

/* Matching. */

int
cron_can_fire(const struct cron *c)
{
	int	m;

	/* Either day field may match: every weekday comes round. */
	if (!(c->flags & (CRON_DOM_STAR | CRON_DOW_STAR)))
		return 1;
	/* Both must: every date of a month falls on every weekday in turn. */
	for (m = 1; m <= 12; m++)
		if ((c->month & 1U << m) &&
		    (c->dom & ((2U << civil_month_days(2000, m)) - 2)))
			return 1;
	return 0;
}

/*
 * Classic cron: when both day fields are restricted a day matches if
 * either does, but a field written as '*' (or "*" + step) defers to
 * the other.  Yes, it's bizarre; it is also what every crontab expects.
 */
static int
day_matches(const struct cron *c, int64_t days, int d)
{
	int	dom = c->dom >> d & 1;
	int	dow = c->dow >> civil_weekday(days) & 1;

	if (!(c->flags & (CRON_DOM_STAR | CRON_DOW_STAR)))
		return dom || dow;
	return dom && dow;
}

int
cron_matches(const struct cron *c, int64_t local)
{
	int64_t	days = floor_div(local, 86400), y;
	int64_t	secs = local - days * 86400;
	int	m, d;

	civil_from_days(days, &y, &m, &d);
	return secs % 60 == 0 && (c->month >> m & 1) &&
	    day_matches(c, days, d) && (c->hour >> (secs / 3600) & 1) &&
	    (c->minute >> (secs / 60 % 60) & 1);
}

static int
next_bit(uint64_t bits, int from)
{
	if (from > 63)
		return -1;
	bits &= ~0ULL << from;
	return bits == 0 ? -1 : __builtin_ctzll(bits);
}

int
cron_next(const struct cron *c, int64_t from, int64_t limit,
    int64_t *match)
{
	int64_t	days, secs, y, t;
	int	m, d, h, mi, next;

	from = floor_div(from + 59, 60) * 60;
	days = floor_div(from, 86400);
	secs = from - days * 86400;
	h = (int)(secs / 3600);
	mi = (int)(secs / 60 % 60);
	while (days * 86400 < limit) {
		civil_from_days(days, &y, &m, &d);
		if (!(c->month >> m & 1)) {
			days += civil_month_days(y, m) - d + 1;
			h = mi = 0;
		} else if (!day_matches(c, days, d) ||
		    (next = next_bit(c->hour, h)) == -1) {
			days++;
			h = mi = 0;
		} else if (next != h) {
			h = next;
			mi = 0;
		} else if ((next = next_bit(c->minute, mi)) == -1) {
			mi = 0;
			if (++h > 23) {
				days++;
				h = 0;
			}
		} else {
			mi = next;
			t = days * 86400 + h * 3600 + mi * 60;
			if (t >= limit)
				return -1;
			*match = t;
			return 0;
		}
	}
	return -1;
}
