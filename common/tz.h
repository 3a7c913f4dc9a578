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
 * Loads a zone by IANA name; NULL or "" is UTC.  Zones are cached by
 * name (bounded, revalidated against the file), so this is cheap to call
 * often.  The result holds a reference: give it back with tz_release.
 * Returns NULL with "unknown time zone 'X'" or a similar message in err.
 */
struct tz	*tz_load(const char *name, char *err, size_t errlen);
void		 tz_release(struct tz *);

/* Parses a TZif image; for tests and the fuzzer.  Not cached. */
struct tz	*tz_from_tzif(const char *name, const uint8_t *buf,
		    size_t len, char *err, size_t errlen);

/* Drops every cached zone not in use (for tests and leak checkers). */
void		 tz_cache_flush(void);

const char	*tz_name(const struct tz *);

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

/* "2026-03-08T03:00:00-04:00"; returns -1 if buf is too small. */
int		 tz_format_rfc3339(const struct tz *, int64_t t, char *buf,
		    size_t len);

/*
 * Parses RFC 3339 ("2026-03-08T03:00:00-04:00", "...Z"), or a local time
 * in the zone ("2026-03-08 01:30[:00]", "2026-03-08"), or "@seconds".
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
