/*
 * Time zones from the system tz database: a small TZif (RFC 8536)
 * reader, the POSIX TZ footer that extends a zone past its last listed
 * transition, a bounded cache, and civil-calendar arithmetic.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testhooks.h"
#include "tz.h"
#include "util.h"

#define TZ_DEFAULT_DIR	"/usr/share/zoneinfo"
#define TZ_LOCALTIME	"/etc/localtime"
#define TZ_NAME_MAX	128
#define TZ_FILE_MAX	(512 * 1024)
#define TZ_CACHE_SIZE	64
#define TZ_COUNT_MAX	65536
#define TZ_FOOTER_MAX	256
/* RFC 8536 section 3.2: the range a utoff should stay in. */
#define TZ_OFF_MIN	(-89999)
#define TZ_OFF_MAX	93599
/* Wider than any offset change, so windows this long hold every edge. */
#define TZ_WINDOW	(2 * 86400)
/* Years a formatted or parsed time may have. */
#define TZ_YEAR_MAX	9999
/* POSIX TZ abbreviations: at least 3 characters; glibc takes up to 255. */
#define TZ_ABBR_MAX	15

enum rule_kind {
	RULE_JULIAN,		/* Jn: 1-365, February 29 never counted */
	RULE_ZERO,		/* n: 0-365, counting February 29 */
	RULE_MONTH		/* Mm.w.d */
};

struct tz_rule {
	enum rule_kind	 kind;
	int		 day;
	int		 week;
	int		 month;
	int32_t		 secs;	/* local time of day of the change */
};

struct tz_type {
	int32_t		 utoff;
	int		 isdst;
	uint8_t		 abbr;	/* index into chars */
};

enum footer_kind {
	FOOTER_NONE,
	FOOTER_FIXED,		/* standard time all year */
	FOOTER_RULES		/* standard and daylight time by rules */
};

struct tz {
	char		 name[TZ_NAME_MAX + 1];
	int		 refs;
	int64_t		*trans;
	uint8_t		*idx;
	size_t		 ntrans;
	struct tz_type	*types;
	size_t		 ntypes;
	char		*chars;	/* the abbreviations, each NUL-terminated */
	enum footer_kind footer;
	int32_t		 stdoff;
	int32_t		 dstoff;
	char		 stdname[TZ_ABBR_MAX + 1];
	char		 dstname[TZ_ABBR_MAX + 1];
	struct tz_rule	 start;
	struct tz_rule	 end;
};

struct tz_cache_entry {
	struct tz	*tz;
	char		 path[PATH_MAX];
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	uint64_t	 used;
};

static struct tz_type	tz_utc_type = { 0, 0, 0 };
static char		tz_utc_chars[] = "UTC";
static struct tz	tz_utc = {
	.name = "UTC", .refs = 1, .types = &tz_utc_type, .ntypes = 1,
	.chars = tz_utc_chars, .footer = FOOTER_FIXED, .stdname = "UTC",
	.dstname = "UTC"
};
static struct tz_cache_entry	tz_cache[TZ_CACHE_SIZE];
static uint64_t			tz_clock;

/* Civil calendar, after Howard Hinnant's days_from_civil. */

int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t	q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t
civil_to_days(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t	era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int
civil_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday. */
	return (int)(days - floor_div(days + 4, 7) * 7 + 4);
}

int
civil_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
civil_month_days(int64_t y, int m)
{
	static const int	days[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && civil_is_leap(y))
		return 29;
	return days[m - 1];
}

/* The POSIX TZ footer. */

static int64_t
rule_day(const struct tz_rule *r, int64_t y)
{
	int64_t	jan1 = civil_to_days(y, 1, 1), first, d;

	switch (r->kind) {
	case RULE_JULIAN:
		return jan1 + r->day - 1 + (civil_is_leap(y) && r->day >= 60);
	case RULE_ZERO:
		return jan1 + r->day;
	case RULE_MONTH:
		break;
	}
	first = civil_to_days(y, r->month, 1);
	d = first + (r->day - civil_weekday(first) + 7) % 7 +
	    7 * (r->week - 1);
	while (d >= first + civil_month_days(y, r->month))
		d -= 7;
	return d;
}

/* Daylight time starts at a local standard time and ends at a local
 * daylight time. */
static int64_t
footer_start(const struct tz *tz, int64_t y)
{
	return rule_day(&tz->start, y) * 86400 + tz->start.secs - tz->stdoff;
}

static int64_t
footer_end(const struct tz *tz, int64_t y)
{
	return rule_day(&tz->end, y) * 86400 + tz->end.secs - tz->dstoff;
}

static int64_t
footer_year(const struct tz *tz, int64_t t)
{
	int64_t	y;
	int	m, d;

	civil_from_days(floor_div(t + tz->stdoff, 86400), &y, &m, &d);
	return y;
}

/* Whether daylight time is in force at t, past the listed transitions. */
static int
footer_isdst(const struct tz *tz, int64_t t)
{
	int64_t	y, yy, s, e, best = INT64_MIN;
	int	dst = 0;

	if (tz->footer != FOOTER_RULES)
		return 0;
	/*
	 * A change's time of day (up to 167 h) can carry it into the next
	 * year: the change in force may be one of two years back.
	 */
	y = footer_year(tz, t);
	for (yy = y - 2; yy <= y + 1; yy++) {
		s = footer_start(tz, yy);
		e = footer_end(tz, yy);
		/* On a tie (daylight time all year) the start wins. */
		if (e <= t && e > best) {
			best = e;
			dst = 0;
		}
		if (s <= t && s >= best) {
			best = s;
			dst = 1;
		}
	}
	return dst;
}

static int
footer_next(const struct tz *tz, int64_t t, int64_t *next)
{
	int64_t	y, yy, c, best = INT64_MAX;

	if (tz->footer != FOOTER_RULES)
		return -1;
	y = footer_year(tz, t);
	for (yy = y - 2; yy <= y + 2; yy++) {
		c = footer_start(tz, yy);
		if (c > t && c < best)
			best = c;
		c = footer_end(tz, yy);
		if (c > t && c < best)
			best = c;
	}
	*next = best;
	return 0;
}

/* An abbreviation, "CEST" or quoted as "<+0545>", copied (cut) to name. */
static const char *
posix_name(const char *p, char *name)
{
	const char	*s, *next;
	size_t		 n;

	if (*p == '<') {
		for (s = ++p; isalnum((unsigned char)*p) || *p == '+' ||
		    *p == '-'; p++)
			;
		if (*p != '>' || p - s < 3)
			return NULL;
		next = p + 1;
	} else {
		for (s = p; isalpha((unsigned char)*p); p++)
			;
		if (p - s < 3)
			return NULL;
		next = p;
	}
	n = (size_t)(p - s) < TZ_ABBR_MAX ? (size_t)(p - s) : TZ_ABBR_MAX;
	memcpy(name, s, n);
	name[n] = '\0';
	return next;
}

static const char *
posix_num(const char *p, int lo, int hi, int *v)
{
	long	n = 0;
	int	digits = 0;

	while (isdigit((unsigned char)*p) && digits < 4) {
		n = n * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0 || isdigit((unsigned char)*p) || n < lo || n > hi)
		return NULL;
	*v = (int)n;
	return p;
}

/* [+-]hh[:mm[:ss]], returned as signed seconds. */
static const char *
posix_hms(const char *p, int maxh, int32_t *secs)
{
	int	sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if ((p = posix_num(p, 0, maxh, &h)) == NULL)
		return NULL;
	if (*p == ':' && (p = posix_num(p + 1, 0, 59, &m)) != NULL &&
	    *p == ':')
		p = posix_num(p + 1, 0, 59, &s);
	if (p == NULL)
		return NULL;
	*secs = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *
posix_rule(const char *p, struct tz_rule *r)
{
	memset(r, 0, sizeof(*r));
	if (*p == 'J') {
		r->kind = RULE_JULIAN;
		p = posix_num(p + 1, 1, 365, &r->day);
	} else if (*p == 'M') {
		r->kind = RULE_MONTH;
		if ((p = posix_num(p + 1, 1, 12, &r->month)) == NULL ||
		    *p != '.' || (p = posix_num(p + 1, 1, 5, &r->week)) ==
		    NULL || *p != '.')
			return NULL;
		p = posix_num(p + 1, 0, 6, &r->day);
	} else {
		r->kind = RULE_ZERO;
		p = posix_num(p, 0, 365, &r->day);
	}
	if (p == NULL)
		return NULL;
	r->secs = 7200;
	if (*p == '/')
		p = posix_hms(p + 1, 167, &r->secs);
	return p;
}

static int
posix_parse(struct tz *tz, const char *p)
{
	int32_t	off;

	if (*p == '\0') {
		tz->footer = FOOTER_NONE;
		return 0;
	}
	if ((p = posix_name(p, tz->stdname)) == NULL ||
	    (p = posix_hms(p, 24, &off)) == NULL)
		return -1;
	tz->stdoff = tz->dstoff = -off;
	strlcpy(tz->dstname, tz->stdname, sizeof(tz->dstname));
	tz->footer = FOOTER_FIXED;
	if (*p == '\0')
		return 0;
	if ((p = posix_name(p, tz->dstname)) == NULL)
		return -1;
	tz->dstoff = tz->stdoff + 3600;
	if (*p != ',' && *p != '\0') {
		if ((p = posix_hms(p, 24, &off)) == NULL)
			return -1;
		tz->dstoff = -off;
	}
	tz->footer = FOOTER_RULES;
	if (*p == '\0')		/* POSIX leaves it open; use the US rules */
		p = ",M3.2.0,M11.1.0";
	if (*p != ',' || (p = posix_rule(p + 1, &tz->start)) == NULL ||
	    *p != ',' || (p = posix_rule(p + 1, &tz->end)) == NULL)
		return -1;
	if (tz->stdoff < TZ_OFF_MIN || tz->stdoff > TZ_OFF_MAX ||
	    tz->dstoff < TZ_OFF_MIN || tz->dstoff > TZ_OFF_MAX)
		return -1;
	return *p == '\0' ? 0 : -1;
}

/* TZif. */

struct tzif_header {
	int		 version;
	uint32_t	 isutcnt;
	uint32_t	 isstdcnt;
	uint32_t	 leapcnt;
	uint32_t	 timecnt;
	uint32_t	 typecnt;
	uint32_t	 charcnt;
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int
tzif_header(const uint8_t *p, size_t len, struct tzif_header *h)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	h->version = p[4];
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	if (h->isutcnt > TZ_COUNT_MAX || h->isstdcnt > TZ_COUNT_MAX ||
	    h->leapcnt > TZ_COUNT_MAX || h->timecnt > TZ_COUNT_MAX ||
	    h->typecnt > TZ_COUNT_MAX || h->charcnt > TZ_COUNT_MAX)
		return -1;
	return 0;
}

static size_t
tzif_body_size(const struct tzif_header *h, size_t timesize)
{
	return h->timecnt * (timesize + 1) + h->typecnt * 6 + h->charcnt +
	    h->leapcnt * (timesize + 4) + h->isstdcnt + h->isutcnt;
}

static int
tzif_check(const struct tzif_header *h)
{
	if (h->typecnt == 0 || h->typecnt > 256)
		return -1;
	if ((h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
		return -1;
	return 0;
}

static int
tzif_body(struct tz *tz, const struct tzif_header *h, const uint8_t *p,
    size_t timesize)
{
	const uint8_t	*idx = p + h->timecnt * timesize;
	const uint8_t	*types = idx + h->timecnt;
	const uint8_t	*chars = types + h->typecnt * 6;
	size_t		 i;

	tz->ntrans = h->timecnt;
	tz->ntypes = h->typecnt;
	tz->trans = xcalloc(h->timecnt + 1, sizeof(*tz->trans));
	tz->idx = xcalloc(h->timecnt + 1, 1);
	tz->types = xcalloc(h->typecnt, sizeof(*tz->types));
	tz->chars = xcalloc(h->charcnt + 1, 1);
	/* One more NUL, so that every abbreviation ends inside. */
	memcpy(tz->chars, chars, h->charcnt);
	for (i = 0; i < h->timecnt; i++) {
		tz->trans[i] = timesize == 8 ? be64(p + 8 * i) :
		    (int32_t)be32(p + 4 * i);
		tz->idx[i] = idx[i];
		if (idx[i] >= h->typecnt ||
		    (i > 0 && tz->trans[i] <= tz->trans[i - 1]))
			return -1;
	}
	for (i = 0; i < h->typecnt; i++) {
		tz->types[i].utoff = (int32_t)be32(types + 6 * i);
		tz->types[i].isdst = types[6 * i + 4];
		tz->types[i].abbr = types[6 * i + 5];
		if (tz->types[i].utoff < TZ_OFF_MIN ||
		    tz->types[i].utoff > TZ_OFF_MAX || types[6 * i + 4] > 1 ||
		    types[6 * i + 5] >= h->charcnt)
			return -1;
	}
	return 0;
}

static int
tzif_footer(struct tz *tz, const uint8_t *p, size_t len)
{
	char		 buf[TZ_FOOTER_MAX];
	const uint8_t	*nl;
	size_t		 n;

	if (len < 2 || p[0] != '\n' ||
	    (nl = memchr(p + 1, '\n', len - 1)) == NULL)
		return -1;
	n = (size_t)(nl - (p + 1));
	if (n >= sizeof(buf) || memchr(p + 1, '\0', n) != NULL)
		return -1;
	memcpy(buf, p + 1, n);
	buf[n] = '\0';
	return posix_parse(tz, buf);
}

static int
tzif_parse(struct tz *tz, const uint8_t *buf, size_t len)
{
	struct tzif_header	 h;
	size_t			 v1;

	if (tzif_header(buf, len, &h) == -1 || tzif_check(&h) == -1)
		return -1;
	v1 = 44 + tzif_body_size(&h, 4);
	if (v1 > len)
		return -1;
	if (h.version == 0) {
		tz->footer = FOOTER_NONE;
		return h.leapcnt ? -1 : tzif_body(tz, &h, buf + 44, 4);
	}
	buf += v1;
	len -= v1;
	if (tzif_header(buf, len, &h) == -1 || tzif_check(&h) == -1 ||
	    h.leapcnt != 0 || 44 + tzif_body_size(&h, 8) > len)
		return -1;
	if (tzif_body(tz, &h, buf + 44, 8) == -1)
		return -1;
	return tzif_footer(tz, buf + 44 + tzif_body_size(&h, 8),
	    len - 44 - tzif_body_size(&h, 8));
}

static void
tz_free(struct tz *tz)
{
	if (tz == NULL || tz == &tz_utc)
		return;
	free(tz->trans);
	free(tz->idx);
	free(tz->types);
	free(tz->chars);
	free(tz);
}

struct tz *
tz_from_tzif(const char *name, const uint8_t *buf, size_t len, char *err,
    size_t errlen)
{
	struct tz	*tz = xcalloc(1, sizeof(*tz));

	strlcpy(tz->name, name, sizeof(tz->name));
	tz->refs = 1;
	if (tzif_parse(tz, buf, len) == -1) {
		snprintf(err, errlen, "time zone '%s': invalid or unsupported "
		    "tz database file", tz->name);
		tz_free(tz);
		return NULL;
	}
	return tz;
}

void
tz_release(struct tz *tz)
{
	if (tz != NULL && tz != &tz_utc && --tz->refs == 0)
		tz_free(tz);
}

/* Loading by name, through the cache. */

static int
name_letter(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * An IANA name is words of ASCII letters, digits, '-', '_' and '+', each
 * starting with a letter, joined by single slashes ("Etc/GMT+5",
 * "America/Port-au-Prince").  So no other spelling of a path to a zone
 * file ("Europe//Berlin", "./Europe/Berlin", "/etc/localtime", "..")
 * is ever a zone's name, or reaches the file system.
 */
static int
tz_name_ok(const char *name)
{
	const char	*p;
	int		 word_start = 1;

	if (strlen(name) > TZ_NAME_MAX)
		return 0;
	for (p = name; *p != '\0'; p++) {
		if (word_start && !name_letter(*p))
			return 0;
		word_start = *p == '/';
		if (!word_start && !name_letter(*p) &&
		    !(*p >= '0' && *p <= '9') && strchr("-_+", *p) == NULL)
			return 0;
	}
	return !word_start;
}

/* The name a line of tzdata.zi gives: "Z name ..." or "L target name". */
static int
zi_names(char *line, const char *name)
{
	char	*word, *rest = line;
	int	 want, n = 0;

	if ((line[0] != 'Z' && line[0] != 'L') || line[1] != ' ')
		return 0;
	want = line[0] == 'Z' ? 2 : 3;
	while ((word = strsep(&rest, " \t\n")) != NULL)
		if (*word != '\0' && ++n == want)
			return strcmp(word, name) == 0;
	return 0;
}

/*
 * Whether the database names a zone or a link so: its directory also
 * holds files that are no zone's name, such as "localtime" (a link to
 * the host's own zone on Debian), "posixrules", and the copies under
 * "posix/" and "right/".  tzdata.zi, the text the zone files are
 * compiled from, lists the names; a database without it is taken at its
 * word, so long as the file is inside it.
 */
static int
tz_name_listed(const char *dir, const char *name)
{
	char	 path[PATH_MAX], line[512];
	FILE	*f;
	int	 found = 0;

	snprintf(path, sizeof(path), "%s/tzdata.zi", dir);
	if ((f = fopen(path, "re")) == NULL)
		return 1;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = zi_names(line, name);
	fclose(f);
	return found;
}

/* Whether path, its links followed, is still inside dir. */
static int
tz_inside(const char *dir, const char *path)
{
	char	 rdir[PATH_MAX], rpath[PATH_MAX];
	size_t	 n;

	if (realpath(dir, rdir) == NULL || realpath(path, rpath) == NULL)
		return 0;
	n = strlen(rdir);
	return strncmp(rpath, rdir, n) == 0 && (rpath[n] == '/' ||
	    (n > 0 && rdir[n - 1] == '/'));
}

static void
tz_unknown(const char *name, char *err, size_t errlen)
{
	char	 shown[48];
	size_t	 i;

	for (i = 0; name[i] != '\0' && i < sizeof(shown) - 4; i++)
		shown[i] = isprint((unsigned char)name[i]) ? name[i] : '?';
	shown[i] = '\0';
	if (name[i] != '\0')
		strlcat(shown, "...", sizeof(shown));
	snprintf(err, errlen, "unknown time zone '%s'", shown);
}

static struct tz_cache_entry *
tz_cache_find(const char *path, const struct stat *st)
{
	struct tz_cache_entry	*e;

	for (e = tz_cache; e < tz_cache + TZ_CACHE_SIZE; e++) {
		if (e->tz == NULL || strcmp(e->path, path) != 0)
			continue;
		/* A tzdata upgrade replaces the file: reload it then. */
		if (e->dev == st->st_dev && e->ino == st->st_ino &&
		    e->size == st->st_size &&
		    e->mtime.tv_sec == st->st_mtim.tv_sec &&
		    e->mtime.tv_nsec == st->st_mtim.tv_nsec)
			return e;
		tz_release(e->tz);
		e->tz = NULL;
	}
	return NULL;
}

static void
tz_cache_add(struct tz *tz, const char *path, const struct stat *st)
{
	struct tz_cache_entry	*e, *victim = tz_cache;

	for (e = tz_cache; e < tz_cache + TZ_CACHE_SIZE; e++) {
		if (e->tz == NULL) {
			victim = e;
			break;
		}
		if (e->used < victim->used)
			victim = e;
	}
	tz_release(victim->tz);
	victim->tz = tz;
	tz->refs++;
	strlcpy(victim->path, path, sizeof(victim->path));
	victim->dev = st->st_dev;
	victim->ino = st->st_ino;
	victim->size = st->st_size;
	victim->mtime = st->st_mtim;
	victim->used = ++tz_clock;
}

void
tz_cache_flush(void)
{
	struct tz_cache_entry	*e;

	for (e = tz_cache; e < tz_cache + TZ_CACHE_SIZE; e++) {
		tz_release(e->tz);
		e->tz = NULL;
	}
}

/* The start of the file, *len bytes of it; NULL when it cannot be opened. */
static uint8_t *
tz_read(const char *path, size_t *len)
{
	uint8_t	*buf;
	ssize_t	 n;
	size_t	 got = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	buf = xreallocarray(NULL, TZ_FILE_MAX, 1);
	while (got < TZ_FILE_MAX &&
	    (n = read(fd, buf + got, TZ_FILE_MAX - got)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			got = 0;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

/* A zone not in the cache: only a name of the database is read. */
static struct tz *
tz_load_file(const char *dir, const char *name, const char *path,
    const struct stat *st, char *err, size_t errlen)
{
	struct tz	*tz;
	uint8_t		*buf = NULL;
	size_t		 len = 0;

	/* Other files live in the database too (zone.tab, leapseconds). */
	if (!tz_inside(dir, path) || !tz_name_listed(dir, name) ||
	    (buf = tz_read(path, &len)) == NULL || len < 4 ||
	    memcmp(buf, "TZif", 4) != 0) {
		free(buf);
		tz_unknown(name, err, errlen);
		return NULL;
	}
	tz = tz_from_tzif(name, buf, len, err, errlen);
	free(buf);
	if (tz != NULL)
		tz_cache_add(tz, path, st);
	return tz;
}

struct tz *
tz_load(const char *name, char *err, size_t errlen)
{
	struct tz_cache_entry	*e;
	struct stat		 st;
	const char		*dir;
	char			 path[PATH_MAX];
	int			 n;

	if (name == NULL || *name == '\0' || strcmp(name, "UTC") == 0 ||
	    strcmp(name, "Etc/UTC") == 0)
		return &tz_utc;
	if (!tz_name_ok(name)) {
		tz_unknown(name, err, errlen);
		return NULL;
	}
	if ((dir = getenv("TZDIR")) == NULL || *dir == '\0')
		dir = TZ_DEFAULT_DIR;
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) == -1 ||
	    !S_ISREG(st.st_mode)) {
		tz_unknown(name, err, errlen);
		return NULL;
	}
	if ((e = tz_cache_find(path, &st)) != NULL) {
		e->used = ++tz_clock;
		e->tz->refs++;
		return e->tz;
	}
	return tz_load_file(dir, name, path, &st, err, errlen);
}

/* A TZif file named by its path, uncached: the operator's own zone. */
static struct tz *
tz_load_path(const char *path)
{
	struct tz	*tz;
	uint8_t		*buf;
	size_t		 len = 0;
	char		 err[128];

	if ((buf = tz_read(path, &len)) == NULL)
		return NULL;
	tz = tz_from_tzif(path, buf, len, err, sizeof(err));
	free(buf);
	return tz;
}

/* A POSIX TZ rule alone, such as "CET-1CEST,M3.5.0,M10.5.0/3". */
static struct tz *
tz_load_rule(const char *rule)
{
	struct tz	*tz = xcalloc(1, sizeof(*tz));

	tz->types = xcalloc(1, sizeof(*tz->types));
	if (posix_parse(tz, rule) == -1 || tz->footer == FOOTER_NONE) {
		tz_free(tz);
		return NULL;
	}
	tz->chars = xstrdup(tz->stdname);
	strlcpy(tz->name, rule, sizeof(tz->name));
	tz->refs = 1;
	tz->ntypes = 1;
	tz->types[0].utoff = tz->stdoff;
	return tz;
}

struct tz *
tz_load_env(void)
{
	const char	*v = getenv("TZ");
	struct tz	*tz;
	char		 err[128];

	if (v == NULL)
		tz = tz_load_path(TZ_LOCALTIME);
	else {
		if (*v == ':')
			v++;
		if (*v == '/')
			tz = tz_load_path(v);
		else if ((tz = tz_load(v, err, sizeof(err))) == NULL)
			tz = tz_load_rule(v);
	}
	return tz != NULL ? tz : &tz_utc;
}

/* Queries. */

/* The index of the last transition at or before t, or -1. */
static ssize_t
tz_find(const struct tz *tz, int64_t t)
{
	size_t	lo = 0, hi = tz->ntrans, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ssize_t)lo - 1;
}

/*
 * The offset and abbreviation in force at t: the footer's past the last
 * listed transition, the first type's before the first (RFC 8536).
 */
static int32_t
tz_lookup(const struct tz *tz, int64_t t, const char **abbr)
{
	const struct tz_type	*type;
	ssize_t			 i;
	int			 dst;

	if (tz->footer != FOOTER_NONE &&
	    (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1])) {
		dst = footer_isdst(tz, t);
		*abbr = dst ? tz->dstname : tz->stdname;
		return dst ? tz->dstoff : tz->stdoff;
	}
	i = tz_find(tz, t);
	type = &tz->types[i < 0 ? 0 : tz->idx[i]];
	*abbr = tz->chars + type->abbr;
	return type->utoff;
}

int32_t
tz_offset(const struct tz *tz, int64_t t)
{
	const char	*abbr;

	return tz_lookup(tz, t, &abbr);
}

void
tz_local_time(const struct tz *tz, int64_t t, struct tz_local *lt)
{
	int64_t	local, days, secs;

	lt->utoff = tz_lookup(tz, t, &lt->abbr);
	local = t + lt->utoff;
	days = floor_div(local, 86400);
	secs = local - days * 86400;
	civil_from_days(days, &lt->year, &lt->month, &lt->day);
	lt->hour = (int)(secs / 3600);
	lt->minute = (int)(secs / 60 % 60);
	lt->second = (int)(secs % 60);
}

int
tz_next_transition(const struct tz *tz, int64_t t, int64_t *next)
{
	ssize_t	i;

	if (tz->ntrans > 0 && t < tz->trans[tz->ntrans - 1]) {
		i = tz_find(tz, t);
		*next = tz->trans[i + 1];
		return 0;
	}
	return footer_next(tz, t, next);
}

int64_t
tz_local_to_utc(const struct tz *tz, int64_t local)
{
	int64_t	a = local - TZ_WINDOW, b;
	int32_t	off;

	/*
	 * Walk the spans of constant offset from a point whose local time
	 * is surely earlier; the first span that reaches `local` holds the
	 * answer (its start, when `local` fell into a gap before it).
	 */
	for (;;) {
		off = tz_offset(tz, a);
		if (tz_next_transition(tz, a, &b) == -1 || b - 1 + off >= local)
			return local - off > a ? local - off : a;
		a = b;
	}
}

int64_t
tz_local_high_water(const struct tz *tz, int64_t t)
{
	int64_t	hw = t + tz_offset(tz, t), a = t - TZ_WINDOW, b, v;

	while (tz_next_transition(tz, a, &b) == 0 && b <= t) {
		v = b - 1 + tz_offset(tz, b - 1);
		if (v > hw)
			hw = v;
		a = b;
	}
	return hw;
}

/*
 * RFC 3339 offsets have no seconds: an instant of local mean time, such
 * as Berlin's +00:53:28 before 1893, is written in UTC, with Z.
 */
int
tz_format_rfc3339(const struct tz *tz, int64_t t, char *buf, size_t len)
{
	struct tz_local	lt;
	char		off[16];
	int		n;

	tz_local_time(tz, t, &lt);
	if (lt.utoff % 60 != 0) {
		tz_local_time(&tz_utc, t, &lt);
		snprintf(off, sizeof(off), "Z");
	} else
		snprintf(off, sizeof(off), "%c%02d:%02d", lt.utoff < 0 ?
		    '-' : '+', abs(lt.utoff) / 3600, abs(lt.utoff) / 60 % 60);
	if (lt.year < 0 || lt.year > TZ_YEAR_MAX)
		return -1;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%s",
	    (int)lt.year, lt.month, lt.day, lt.hour, lt.minute, lt.second,
	    off);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Parsing times. */

static const char *
time_digits(const char *p, int n, int *v)
{
	*v = 0;
	while (n-- > 0) {
		if (!isdigit((unsigned char)*p))
			return NULL;
		*v = *v * 10 + (*p++ - '0');
	}
	return p;
}

static const char *
time_clock(const char *p, int *h, int *mi, int *s)
{
	*s = 0;
	if ((p = time_digits(p, 2, h)) == NULL || *p != ':' ||
	    (p = time_digits(p + 1, 2, mi)) == NULL)
		return NULL;
	if (*p == ':') {
		if ((p = time_digits(p + 1, 2, s)) == NULL)
			return NULL;
		if (*p == '.' || *p == ',')	/* fractions: ignored */
			for (p++; isdigit((unsigned char)*p); p++)
				;
	}
	return p;
}

/* Z, z, +hh:mm, -hh:mm, +hhmm: 1 and the offset, 0 if none, -1. */
static int
time_zone_suffix(const char *p, int32_t *off)
{
	int	h, m, sign;

	if (*p == '\0')
		return 0;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		*off = 0;
		return 1;
	}
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if ((p = time_digits(p, 2, &h)) == NULL)
		return -1;
	if (*p == ':')
		p++;
	if ((p = time_digits(p, 2, &m)) == NULL || *p != '\0' || h > 23 ||
	    m > 59)
		return -1;
	*off = sign * (h * 3600 + m * 60);
	return 1;
}

/* "-5", "1767225600": digits, and a minus sign only; no blanks. */
static int
time_epoch(const char *s, int64_t *t)
{
	int64_t	v = 0;
	int	neg = *s == '-';

	s += neg;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > 1LL << 40)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v > 1LL << 40)
		return -1;
	*t = neg ? -v : v;
	return 0;
}

int
tz_parse_time(const struct tz *tz, const char *s, int64_t *t, char *err,
    size_t errlen)
{
	const char	*p = s;
	int		 y, m, d, h = 0, mi = 0, sec = 0, has;
	int32_t		 off = 0;
	int64_t		 local;

	if (*s == '@' && time_epoch(s + 1, t) == 0)
		return 0;
	if ((p = time_digits(p, 4, &y)) == NULL || *p != '-' ||
	    (p = time_digits(p + 1, 2, &m)) == NULL || *p != '-' ||
	    (p = time_digits(p + 1, 2, &d)) == NULL)
		goto bad;
	if (*p == 'T' || *p == 't' || *p == ' ')
		if ((p = time_clock(p + 1, &h, &mi, &sec)) == NULL)
			goto bad;
	if ((has = time_zone_suffix(p, &off)) == -1)
		goto bad;
	if (m < 1 || m > 12 || d < 1 || d > civil_month_days(y, m) ||
	    h > 23 || mi > 59 || sec > 59) {
		snprintf(err, errlen, "time '%.64s' does not exist", s);
		return -1;
	}
	local = civil_to_days(y, m, d) * 86400 + h * 3600 + mi * 60 + sec;
	*t = has ? local - off : tz_local_to_utc(tz, local);
	return 0;
bad:
	snprintf(err, errlen, "cannot read time '%.64s': expected "
	    "YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM] or @SECONDS", s);
	return -1;
}
