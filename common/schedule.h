/*
 * The schedule engine: five-field cron expressions evaluated in an IANA
 * time zone, with exact daylight-saving rules (see evalsched-schedule(5)).
 * Instants are Unix seconds (UTC).
 */
#ifndef EVALSCHED_SCHEDULE_H
#define EVALSCHED_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

struct schedule;

/* The engine's years, 1 to 9999: 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z. */
#define SCHEDULE_TIME_MIN	INT64_C(-62135596800)
#define SCHEDULE_TIME_MAX	INT64_C(253402300799)

/*
 * The cron expression for a schedule type (hourly, daily, weekly,
 * every_5_minutes); NULL for custom or an unknown type.
 */
const char	*schedule_type_expression(const char *type);

/*
 * Compiles a schedule row: type, its cron_expression (used when the type
 * is custom) and its time zone (NULL or "" means UTC).  Returns NULL with
 * a message in err such as "minute field: 61 out of range 0-59",
 * "unknown time zone 'Mars/Base'" or "the expression can never fire".
 */
struct schedule	*schedule_compile(const char *type, const char *cron_expression,
		    const char *timezone, char *err, size_t errlen);

/*
 * The first fire time strictly after `after`.  Returns 0, or -1 when
 * there is none within the engine's horizon.
 */
int		 schedule_next(const struct schedule *, int64_t after,
		    int64_t *next);

void		 schedule_free(struct schedule *);

struct tz;

/* The schedule's zone, for tz_format_rfc3339 and tz_parse_time. */
const struct tz	*schedule_tz(const struct schedule *);

/* `t` in RFC 3339 with the zone's offset: 2026-03-08T03:00:00-04:00. */
int		 schedule_format_time(const struct schedule *, int64_t t,
		    char *buf, size_t len);

#endif
