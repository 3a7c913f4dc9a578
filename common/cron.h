/*
 * Five-field cron expressions, parsed into bit sets and matched against
 * local civil time (see tz.h for "civil seconds").
 */
#ifndef EVALSCHED_CRON_H
#define EVALSCHED_CRON_H

#include <stddef.h>
#include <stdint.h>

#define CRON_EXPR_MAX	256

/* Which fields were written starting with '*'. */
#define CRON_MIN_STAR	0x01
#define CRON_HOUR_STAR	0x02
#define CRON_DOM_STAR	0x04
#define CRON_DOW_STAR	0x08

struct cron {
	uint64_t	minute;		/* bits 0-59 */
	uint32_t	hour;		/* bits 0-23 */
	uint32_t	dom;		/* bits 1-31 */
	uint16_t	month;		/* bits 1-12 */
	uint8_t		dow;		/* bits 0-6, 0 = Sunday */
	unsigned int	flags;
};

/*
 * Parses an expression or macro (@daily...).  Returns 0, or -1 with a
 * message such as "minute field: 61 out of range 0-59" in err.  It does
 * not check that the expression can fire: see cron_can_fire.
 */
int	cron_parse(struct cron *, const char *expr, char *err, size_t errlen);

/* Whether some date of the Gregorian calendar matches. */
int	cron_can_fire(const struct cron *);

/*
 * The first matching whole minute of civil time at or after `from` and
 * before `limit`: 0, or -1 when there is none.
 */
int	cron_next(const struct cron *, int64_t from, int64_t limit,
	    int64_t *match);

#endif
