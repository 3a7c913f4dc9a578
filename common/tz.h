/*
 * IANA time zones read from the system tz database (TZif files under
 * TZDIR, default /usr/share/zoneinfo), and civil-calendar arithmetic.
 *
 * glibc silently treats an unknown TZ as UTC and cannot answer "when is
 * the next transition", so zones are read here: the 64-bit transition
 * table plus the POSIX TZ footer for instants past its end.
 *
 * The cache is not locked: one thread, as in every evalsched program.
 *
 * A "local" time below is civil seconds: the wall-clock reading of a
 * zone expressed as if it were seconds since 1970-01-01 00:00 UTC.
 */
#ifndef EVALSCHED_TZ_H
#define EVALSCHED_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz;

/*
 * Loads a zone by IANA name; NULL or "" is UTC.  Only a name the database
 * lists as a zone or a link, spelt as it lists it, is one: not
 * "localtime" (the host's zone), "Europe//Berlin" or "./Europe/Berlin",
 * which would name the same file.  Zones are cached by name (bounded,
 * revalidated against the file), so this is cheap to call often.  The
 * result holds a reference: give it back with tz_release.  Returns NULL
 * with "unknown time zone 'X'" or a similar message in err.
 */
struct tz	*tz_load(const char *name, char *err, size_t errlen);

/*
 * The zone of the person at the terminal, from TZ as the C library reads
 * it: unset is the host's /etc/localtime, a leading ':' is dropped, an
 * absolute path is a TZif file, a name is a zone of the database, and
 * anything else a POSIX rule such as "CET-1CEST,M3.5.0,M10.5.0/3".
 * Never NULL: a TZ that cannot be read is UTC, as for the C library.
 */
struct tz	*tz_load_env(void);
void		 tz_release(struct tz *);

/* The UTC offset in seconds (east positive) in force at instant t. */
int32_t		 tz_offset(const struct tz *, int64_t t);

/* The first offset change strictly after t: 0, or -1 when none. */
int		 tz_next_transition(const struct tz *, int64_t t,
		    int64_t *next);

/*
 * The earliest instant whose local time is at least `local`: the first
 * occurrence of a repeated time, the end of the gap for a skipped one.
 */
int64_t		 tz_local_to_utc(const struct tz *, int64_t local);

/*
 * The highest local time the zone has shown at or before instant t.
 * It exceeds t's own local time during the second pass of a repeated
 * hour.
 */
int64_t		 tz_local_high_water(const struct tz *, int64_t t);

/* The wall clock of a zone at an instant. */
struct tz_local {
	int64_t		 year;
	int		 month;		/* 1-12 */
	int		 day;		/* 1-31 */
	int		 hour;
	int		 minute;
	int		 second;
	int32_t		 utoff;		/* seconds east of UTC */
	const char	*abbr;		/* "CEST", "+0545", "LMT"; the zone's */
};

void		 tz_local_time(const struct tz *, int64_t t, struct tz_local *);

/*
 * "2026-03-08T03:00:00-04:00"; returns -1 if buf is too small or the
 * year is not 0 to 9999.  An instant whose offset is not whole minutes
 * (local mean time, before about 1900) is written in UTC, with Z.
 */
int		 tz_format_rfc3339(const struct tz *, int64_t t, char *buf,
		    size_t len);

/*
 * Parses RFC 3339 ("2026-03-08T03:00:00-04:00", "...Z"), or a local time
 * in the zone ("2026-03-08 01:30[:00]", "2026-03-08"), or "@seconds"
 * (digits after an optional '-', nothing else).
 * A local time that occurs twice means its first occurrence; one that is
 * skipped means the end of the gap.
 */
int		 tz_parse_time(const struct tz *, const char *s, int64_t *t,
		    char *err, size_t errlen);

/* Civil calendar (proleptic Gregorian). */
int64_t		 civil_to_days(int64_t y, int m, int d);
void		 civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int		 civil_weekday(int64_t days);	/* 0 = Sunday */
int		 civil_month_days(int64_t y, int m);
int		 civil_is_leap(int64_t y);
int64_t		 floor_div(int64_t a, int64_t b);

#endif
