// fuzz-link: common/cron.c common/tz.c common/schedule.c common/util.c common/log.c common/text.c
// fuzz-pkgs: libbsd-overlay
/*
 * libFuzzer target for the schedule engine: the cron expression parser,
 * schedule_compile and schedule_next.
 *
 * Input: one byte choosing a zone, eight bytes of instant, then the
 * expression.  Whatever compiles must step forward strictly, land on a
 * matching local minute when it follows real time, and format.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "schedule.h"
#include "testhooks.h"
#include "tz.h"

#define STEPS	8
#define MIN_T	(-2208988800LL)	/* 1900 */
#define MAX_T	13569465600LL	/* 2400 */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const zones[] = {
	NULL, "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
	"Asia/Kathmandu", "Pacific/Chatham", "Europe/Dublin",
	"Antarctica/Troll", "Pacific/Apia", "Mars/Base", "../etc/passwd",
};

/* Mostly 1900-2400, sometimes anything at all. */
static int64_t
fuzz_instant(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	if ((v & 1) || ((int64_t)v >= MIN_T && (int64_t)v < MAX_T))
		return (int64_t)v;
	return MIN_T + (int64_t)(v % (uint64_t)(MAX_T - MIN_T));
}

static void
fuzz_steps(const struct schedule *s, const struct cron *c, int64_t t)
{
	const struct tz	*tz = schedule_tz(s);
	char		 buf[64];
	int64_t		 next;
	int		 i;

	for (i = 0; i < STEPS && schedule_next(s, t, &next) == 0; i++) {
		if (next <= t)
			abort();
		if (schedule_follows_real_time(s) &&
		    !cron_matches(c, next + tz_offset(tz, next)))
			abort();
		schedule_format_time(s, next, buf, sizeof(buf));
		t = next;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct schedule	*s;
	struct cron	 c;
	char		 expr[CRON_EXPR_MAX * 2], err[256];
	int64_t		 t;
	const char	*zone;

	if (size < 9 || size - 9 >= sizeof(expr))
		return 0;
	zone = zones[data[0] % (sizeof(zones) / sizeof(zones[0]))];
	t = fuzz_instant(data + 1);
	memcpy(expr, data + 9, size - 9);
	expr[size - 9] = '\0';
	if (cron_parse(&c, expr, err, sizeof(err)) == -1 &&
	    memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	if ((s = schedule_compile(NULL, expr, zone, err, sizeof(err))) ==
	    NULL)
		return 0;
	fuzz_steps(s, &c, t);
	tz_parse_time(schedule_tz(s), expr, &t, err, sizeof(err));
	schedule_free(s);
	return 0;
}
