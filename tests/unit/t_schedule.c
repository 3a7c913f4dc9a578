// link: ctl/cmd_next.o ctl/opts.o ctl/out.o
/*
 * The schedule engine against a table of expected fire times, every
 * form of error message, and the golden output of evalschedctl next.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../ctl/ctl.h"
#include "schedule.h"
#include "tz.h"
#include "tap.h"
#include "testhooks.h"

struct next_case {
	const char	*type;		/* NULL: custom */
	const char	*expr;
	const char	*zone;
	const char	*from;
	const char	*want[6];
};

#define NY	"America/New_York"
#define BER	"Europe/Berlin"
#define LH	"Australia/Lord_Howe"
#define KTM	"Asia/Kathmandu"
#define Y26	"2026-01-01T00:00:00Z"

static const struct next_case next_cases[] = {
	/* Field forms, in UTC. */
	{ NULL, "* * * * *", NULL, Y26, { "2026-01-01T00:01:00+00:00",
	    "2026-01-01T00:02:00+00:00", "2026-01-01T00:03:00+00:00" } },
	{ NULL, "* * * * *", "UTC", "2026-01-01T00:00:30Z",
	    { "2026-01-01T00:01:00+00:00" } },
	{ NULL, "5 * * * *", "Etc/UTC", "2026-01-01T00:05:00Z",
	    { "2026-01-01T01:05:00+00:00", "2026-01-01T02:05:00+00:00" } },
	{ NULL, "*/15 * * * *", NULL, Y26, { "2026-01-01T00:15:00+00:00",
	    "2026-01-01T00:30:00+00:00", "2026-01-01T00:45:00+00:00",
	    "2026-01-01T01:00:00+00:00" } },
	{ NULL, "10-12 * * * *", NULL, Y26, { "2026-01-01T00:10:00+00:00",
	    "2026-01-01T00:11:00+00:00", "2026-01-01T00:12:00+00:00",
	    "2026-01-01T01:10:00+00:00" } },
	{ NULL, "0-30/10 * * * *", NULL, Y26, { "2026-01-01T00:10:00+00:00",
	    "2026-01-01T00:20:00+00:00", "2026-01-01T00:30:00+00:00",
	    "2026-01-01T01:00:00+00:00" } },
	{ NULL, "50/5 * * * *", NULL, Y26, { "2026-01-01T00:50:00+00:00",
	    "2026-01-01T00:55:00+00:00", "2026-01-01T01:50:00+00:00" } },
	{ NULL, "1,3,5 * * * *", NULL, Y26, { "2026-01-01T00:01:00+00:00",
	    "2026-01-01T00:03:00+00:00", "2026-01-01T00:05:00+00:00",
	    "2026-01-01T01:01:00+00:00" } },
	{ NULL, "0 9-17/4,20 * * *", NULL, Y26, {
	    "2026-01-01T09:00:00+00:00", "2026-01-01T13:00:00+00:00",
	    "2026-01-01T17:00:00+00:00", "2026-01-01T20:00:00+00:00",
	    "2026-01-02T09:00:00+00:00" } },
	{ NULL, " 0\t0  * *  *\t", NULL, Y26, {
	    "2026-01-02T00:00:00+00:00" } },
	/* Names, any case, and 7 for Sunday. */
	{ NULL, "0 0 1 jan,JUL *", NULL, Y26, { "2026-07-01T00:00:00+00:00",
	    "2027-01-01T00:00:00+00:00" } },
	{ NULL, "0 0 1 Jan-Mar *", NULL, Y26, { "2026-02-01T00:00:00+00:00",
	    "2026-03-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00" } },
	{ NULL, "0 0 1 february *", NULL, Y26, {
	    "2026-02-01T00:00:00+00:00", "2027-02-01T00:00:00+00:00" } },
	{ NULL, "0 12 * * mon-FRI", NULL, "2026-01-02T13:00:00Z", {
	    "2026-01-05T12:00:00+00:00", "2026-01-06T12:00:00+00:00" } },
	{ NULL, "0 0 * * 7", NULL, Y26, { "2026-01-04T00:00:00+00:00",
	    "2026-01-11T00:00:00+00:00" } },
	{ NULL, "0 0 * * 0", NULL, Y26, { "2026-01-04T00:00:00+00:00" } },
	{ NULL, "0 0 * * Sunday", NULL, Y26, { "2026-01-04T00:00:00+00:00" } },
	{ NULL, "0 0 * * 5-7", NULL, Y26, { "2026-01-02T00:00:00+00:00",
	    "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
	    "2026-01-09T00:00:00+00:00" } },
	{ NULL, "0 0 * * */2", NULL, Y26, { "2026-01-03T00:00:00+00:00",
	    "2026-01-04T00:00:00+00:00", "2026-01-06T00:00:00+00:00" } },
	/* Day of month and day of week: either when both restricted... */
	{ NULL, "0 0 13 * 5", NULL, "2026-02-01T00:00:00Z", {
	    "2026-02-06T00:00:00+00:00", "2026-02-13T00:00:00+00:00",
	    "2026-02-20T00:00:00+00:00", "2026-02-27T00:00:00+00:00",
	    "2026-03-06T00:00:00+00:00", "2026-03-13T00:00:00+00:00" } },
	{ NULL, "0 0 31 2 mon", NULL, "2026-01-31T00:00:00Z", {
	    "2026-02-02T00:00:00+00:00", "2026-02-09T00:00:00+00:00" } },
	/* ...both when either starts with '*'. */
	{ NULL, "0 0 */2 * 1", NULL, "2026-02-01T00:00:00Z", {
	    "2026-02-09T00:00:00+00:00", "2026-02-23T00:00:00+00:00",
	    "2026-03-09T00:00:00+00:00", "2026-03-23T00:00:00+00:00",
	    "2026-04-13T00:00:00+00:00" } },
	{ NULL, "0 0 13 * *", NULL, "2026-02-01T00:00:00Z", {
	    "2026-02-13T00:00:00+00:00", "2026-03-13T00:00:00+00:00" } },
	/* Month ends, 29 February, year rollover. */
	{ NULL, "0 0 31 * *", NULL, Y26, { "2026-01-31T00:00:00+00:00",
	    "2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00",
	    "2026-07-31T00:00:00+00:00", "2026-08-31T00:00:00+00:00" } },
	{ NULL, "0 0 29 2 *", NULL, Y26, { "2028-02-29T00:00:00+00:00",
	    "2032-02-29T00:00:00+00:00" } },
	{ NULL, "0 0 29 2 *", NULL, "2096-03-01T00:00:00Z", {
	    "2104-02-29T00:00:00+00:00" } },
	{ NULL, "0 0 29 2 */7", NULL, "2089-01-01T00:00:00Z", {
	    "2128-02-29T00:00:00+00:00" } },
	{ NULL, "59 23 31 12 *", NULL, "2026-12-31T23:59:00Z", {
	    "2027-12-31T23:59:00+00:00" } },
	{ NULL, "0 0 1 1 *", NULL, "2026-12-31T23:59:59Z", {
	    "2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00" } },
	/* Macros. */
	{ NULL, "@hourly", NULL, Y26, { "2026-01-01T01:00:00+00:00" } },
	{ NULL, "@daily", NULL, Y26, { "2026-01-02T00:00:00+00:00" } },
	{ NULL, "@MIDNIGHT", NULL, Y26, { "2026-01-02T00:00:00+00:00" } },
	{ NULL, "@weekly", NULL, Y26, { "2026-01-04T00:00:00+00:00" } },
	{ NULL, "@monthly", NULL, Y26, { "2026-02-01T00:00:00+00:00" } },
	{ NULL, "@yearly", NULL, Y26, { "2027-01-01T00:00:00+00:00" } },
	{ NULL, "@annually", NULL, Y26, { "2027-01-01T00:00:00+00:00" } },
	/* Schedule types; their cron_expression is not read. */
	{ "hourly", "ignored", NULL, Y26, { "2026-01-01T01:00:00+00:00" } },
	{ "daily", NULL, NULL, Y26, { "2026-01-01T02:00:00+00:00",
	    "2026-01-02T02:00:00+00:00" } },
	{ "weekly", NULL, NULL, Y26, { "2026-01-05T02:00:00+00:00",
	    "2026-01-12T02:00:00+00:00" } },
	{ "every_5_minutes", NULL, NULL, Y26, { "2026-01-01T00:05:00+00:00",
	    "2026-01-01T00:10:00+00:00" } },
	{ "custom", "0 6 * * *", NULL, Y26, { "2026-01-01T06:00:00+00:00" } },
	/* New York springs forward on 2026-03-08 at 02:00 EST. */
	{ "daily", NULL, NY, "2026-03-06T12:00:00-05:00", {
	    "2026-03-07T02:00:00-05:00", "2026-03-08T03:00:00-04:00",
	    "2026-03-09T02:00:00-04:00" } },
	{ NULL, "30 2 * * *", NY, "2026-03-07T12:00:00-05:00", {
	    "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00" } },
	{ NULL, "0,30 2 * * *", NY, "2026-03-07T12:00:00-05:00", {
	    "2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00" } },
	{ NULL, "0 3 * * *", NY, "2026-03-07T12:00:00-05:00", {
	    "2026-03-08T03:00:00-04:00", "2026-03-09T03:00:00-04:00" } },
	{ NULL, "15 1-3 * * *", NY, "2026-03-08T00:00:00-05:00", {
	    "2026-03-08T01:15:00-05:00", "2026-03-08T03:00:00-04:00",
	    "2026-03-08T03:15:00-04:00", "2026-03-09T01:15:00-04:00" } },
	{ "hourly", NULL, NY, "2026-03-08T00:30:00-05:00", {
	    "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00",
	    "2026-03-08T04:00:00-04:00" } },
	{ NULL, "*/30 2 * * *", NY, "2026-03-07T12:00:00-05:00", {
	    "2026-03-09T02:00:00-04:00", "2026-03-09T02:30:00-04:00" } },
	/* New York falls back on 2026-11-01 at 02:00 EDT. */
	{ NULL, "30 1 * * *", NY, "2026-10-31T12:00:00-04:00", {
	    "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00" } },
	{ NULL, "30 1 * * *", NY, "2026-11-01T01:30:00-04:00", {
	    "2026-11-02T01:30:00-05:00" } },
	{ NULL, "30 1 * * *", NY, "2026-11-01T01:10:00-05:00", {
	    "2026-11-02T01:30:00-05:00" } },
	{ NULL, "15 1-3 * * *", NY, "2026-11-01T00:00:00-04:00", {
	    "2026-11-01T01:15:00-04:00", "2026-11-01T02:15:00-05:00",
	    "2026-11-01T03:15:00-05:00" } },
	{ "hourly", NULL, NY, "2026-11-01T00:30:00-04:00", {
	    "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00",
	    "2026-11-01T02:00:00-05:00" } },
	{ NULL, "*/30 1 * * *", NY, "2026-11-01T00:00:00-04:00", {
	    "2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
	    "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00",
	    "2026-11-02T01:00:00-05:00" } },
	/* Past the last listed transition, from the zone's rule. */
	{ "daily", NULL, NY, "2100-03-13T12:00:00-05:00", {
	    "2100-03-14T03:00:00-04:00", "2100-03-15T02:00:00-04:00" } },
	{ "daily", NULL, NY, "2500-03-13T12:00:00-05:00", {
	    "2500-03-14T03:00:00-04:00", "2500-03-15T02:00:00-04:00" } },
	/* Berlin: 2026-03-29 02:00 CET -> 03:00, 2026-10-25 03:00 -> 02:00. */
	{ NULL, "30 2 * * *", BER, "2026-03-28T12:00:00+01:00", {
	    "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00" } },
	{ NULL, "30 2 * * *", BER, "2026-10-24T12:00:00+02:00", {
	    "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00" } },
	{ NULL, "*/20 2 * * *", BER, "2026-10-25T01:50:00+02:00", {
	    "2026-10-25T02:00:00+02:00", "2026-10-25T02:20:00+02:00",
	    "2026-10-25T02:40:00+02:00", "2026-10-25T02:00:00+01:00",
	    "2026-10-25T02:20:00+01:00", "2026-10-25T02:40:00+01:00" } },
	{ "weekly", NULL, BER, "2026-03-28T00:00:00Z", {
	    "2026-03-30T02:00:00+02:00", "2026-04-06T02:00:00+02:00" } },
	/* Lord Howe moves 30 minutes: 2026-10-04 02:00 -> 02:30 ... */
	{ NULL, "0 2 * * *", LH, "2026-10-03T12:00:00+10:30", {
	    "2026-10-04T02:30:00+11:00", "2026-10-05T02:00:00+11:00" } },
	{ NULL, "15 2 * * *", LH, "2026-10-03T12:00:00+10:30", {
	    "2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00" } },
	{ NULL, "45 2 * * *", LH, "2026-10-03T12:00:00+10:30", {
	    "2026-10-04T02:45:00+11:00" } },
	{ NULL, "*/15 2 * * *", LH, "2026-10-04T01:50:00+10:30", {
	    "2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00",
	    "2026-10-05T02:00:00+11:00" } },
	/* ... and 2026-04-05 02:00 -> 01:30. */
	{ NULL, "45 1 * * *", LH, "2026-04-04T12:00:00+11:00", {
	    "2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30" } },
	{ NULL, "*/15 1 * * *", LH, "2026-04-05T01:20:00+11:00", {
	    "2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00",
	    "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30",
	    "2026-04-06T01:00:00+10:30" } },
	/* Kathmandu: +05:45, and +05:30 until 1986. */
	{ NULL, "0 0 * * *", KTM, Y26, { "2026-01-02T00:00:00+05:45",
	    "2026-01-03T00:00:00+05:45" } },
	{ NULL, "30 5 * * *", KTM, Y26, { "2026-01-02T05:30:00+05:45" } },
	{ "hourly", NULL, KTM, Y26, { "2026-01-01T06:00:00+05:45" } },
	{ NULL, "5 0 * * *", KTM, "1985-12-31T12:00:00+05:30", {
	    "1986-01-01T00:15:00+05:45", "1986-01-02T00:05:00+05:45" } },
	{ NULL, "*/5 0 * * *", KTM, "1985-12-31T12:00:00+05:30", {
	    "1986-01-01T00:15:00+05:45", "1986-01-01T00:20:00+05:45" } },
};

struct error_case {
	const char	*type;
	const char	*expr;
	const char	*zone;
	const char	*want;
};

static const struct error_case error_cases[] = {
	{ NULL, "61 * * * *", NULL, "minute field: 61 out of range 0-59" },
	{ NULL, "99999999999 * * * *", NULL,
	    "minute field: 99999999999 out of range 0-59" },
	{ NULL, "* 24 * * *", NULL, "hour field: 24 out of range 0-23" },
	{ NULL, "* * 0 * *", NULL, "day-of-month field: 0 out of range 1-31" },
	{ NULL, "* * 32 * *", NULL,
	    "day-of-month field: 32 out of range 1-31" },
	{ NULL, "* * * 13 *", NULL, "month field: 13 out of range 1-12" },
	{ NULL, "* * * 0 *", NULL, "month field: 0 out of range 1-12" },
	{ NULL, "* * * * 8", NULL, "day-of-week field: 8 out of range 0-7" },
	{ NULL, "* * * * fri2", NULL,
	    "day-of-week field: unknown name 'fri2'" },
	{ NULL, "* * * foo *", NULL, "month field: unknown name 'foo'" },
	{ NULL, "mon * * * *", NULL, "minute field: 'mon' is not a number" },
	{ NULL, "5x * * * *", NULL, "minute field: '5x' is not a number" },
	{ NULL, "* * * *", NULL, "expected 5 fields, got 4" },
	{ NULL, "0 * * * * *", NULL,
	    "expected 5 fields, got 6 (seconds and years are not supported)" },
	{ "custom", "", NULL, "custom schedule has no cron expression" },
	{ "custom", NULL, NULL, "custom schedule has no cron expression" },
	{ "monthly", NULL, NULL, "unknown schedule type 'monthly' (expected "
	    "every_5_minutes, hourly, daily, weekly or custom)" },
	{ NULL, "0 0 30 2 *", NULL,
	    "the expression can never fire (0 0 30 2 *)" },
	{ NULL, "0  0 31\t4,6,9,11 *", NULL,
	    "the expression can never fire (0 0 31 4,6,9,11 *)" },
	{ NULL, "0 0 31 2 */2", NULL,
	    "the expression can never fire (0 0 31 2 */2)" },
	{ NULL, "*/0 * * * *", NULL, "minute field: step 0 out of range 1-59" },
	{ NULL, "*/60 * * * *", NULL,
	    "minute field: step 60 out of range 1-59" },
	{ NULL, "* * */31 * *", NULL,
	    "day-of-month field: step 31 out of range 1-30" },
	{ NULL, "* * * * */8", NULL,
	    "day-of-week field: step 8 out of range 1-7" },
	{ NULL, "5-1 * * * *", NULL, "minute field: range '5-1' goes backwards" },
	{ NULL, "* * * * fri-mon", NULL,
	    "day-of-week field: range 'fri-mon' goes backwards" },
	{ NULL, "1,,2 * * * *", NULL,
	    "minute field: empty list element in '1,,2'" },
	{ NULL, "* 1, * * *", NULL, "hour field: empty list element in '1,'" },
	{ NULL, "5- * * * *", NULL, "minute field: '5-' is incomplete" },
	{ NULL, "*/ * * * *", NULL,
	    "minute field: missing step after '/' in '*/'" },
	{ NULL, "*/x * * * *", NULL, "minute field: step 'x' is not a number" },
	{ NULL, "* * ? * *", NULL, "day-of-month field: unexpected '?'" },
	{ NULL, "* * * * 5#2", NULL,
	    "day-of-week field: unexpected '#' in '5#2'" },
	{ NULL, "*-5 * * * *", NULL, "minute field: unexpected '-' in '*-5'" },
	{ NULL, "1-2-3 * * * *", NULL,
	    "minute field: unexpected '-' in '1-2-3'" },
	{ NULL, "@reboot", NULL,
	    "@reboot is not supported: schedules fire at times, not at start-up" },
	{ NULL, "@often", NULL, "unknown macro '@often' (expected @hourly, "
	    "@daily, @midnight, @weekly, @monthly, @yearly or @annually)" },
	{ NULL, "@daily 5", NULL, "@daily takes no fields after it" },
	{ NULL, "0 0 * * *\n", NULL, "control character at position 10" },
	{ NULL, "0 0\r* * *", NULL, "control character at position 4" },
	{ NULL, "0 0 * * lun\xc3\xa9", NULL, "non-ASCII character at position 12" },
	{ NULL, "0 0 * * *", "Mars/Base", "unknown time zone 'Mars/Base'" },
	{ NULL, "0 0 * * *", "../../etc/passwd",
	    "unknown time zone '../../etc/passwd'" },
	{ NULL, "0 0 * * *", "/etc/localtime",
	    "unknown time zone '/etc/localtime'" },
	{ NULL, "0 0 * * *", "America", "unknown time zone 'America'" },
	{ NULL, "0 0 * * *", "zone.tab", "unknown time zone 'zone.tab'" },
	{ NULL, "0 0 * * *", "america/new_york",
	    "unknown time zone 'america/new_york'" },
	{ NULL, "0 0 * * *", "Europe/Berlin\n",
	    "unknown time zone 'Europe/Berlin?'" },
	{ NULL, "0 0 * * *", "New York", "unknown time zone 'New York'" },
	/* Other spellings of a zone's file, and files that are no zone. */
	{ NULL, "0 0 * * *", "Europe//Berlin",
	    "unknown time zone 'Europe//Berlin'" },
	{ NULL, "0 0 * * *", "./Europe/Berlin",
	    "unknown time zone './Europe/Berlin'" },
	{ NULL, "0 0 * * *", "Europe/./Berlin",
	    "unknown time zone 'Europe/./Berlin'" },
	{ NULL, "0 0 * * *", "Europe/Berlin/",
	    "unknown time zone 'Europe/Berlin/'" },
	{ NULL, "0 0 * * *", "localtime", "unknown time zone 'localtime'" },
	{ NULL, "0 0 * * *", "posixrules", "unknown time zone 'posixrules'" },
	{ NULL, "0 0 * * *", "posix/Europe/Berlin",
	    "unknown time zone 'posix/Europe/Berlin'" },
	{ NULL, "0 0 * * *", "right/UTC", "unknown time zone 'right/UTC'" },
};

/* The zone database the tests read, and TZDIR as the caller set it. */
static const char	*zonedir = "/usr/share/zoneinfo";
static char		*caller_tzdir;

static void
restore_tzdir(void)
{
	if (caller_tzdir != NULL)
		setenv("TZDIR", caller_tzdir, 1);
	else
		unsetenv("TZDIR");
}

static void
check_next(const struct next_case *c)
{
	struct schedule	*s;
	char		 err[256], got[64], label[160];
	int64_t		 t;
	int		 i, ok = 1;

	snprintf(label, sizeof(label), "%s '%s' in %s from %s",
	    c->type ? c->type : "custom", c->expr ? c->expr : "",
	    c->zone ? c->zone : "UTC", c->from);
	if ((s = schedule_compile(c->type, c->expr, c->zone, err,
	    sizeof(err))) == NULL) {
		tap_ok(0, "%s", label);
		tap_diag("compile: %s", err);
		return;
	}
	if (tz_parse_time(schedule_tz(s), c->from, &t, err, sizeof(err)) ==
	    -1) {
		tap_ok(0, "%s", label);
		tap_diag("from: %s", err);
		schedule_free(s);
		return;
	}
	for (i = 0; i < 6 && c->want[i] != NULL && ok; i++) {
		if (schedule_next(s, t, &t) == -1)
			snprintf(got, sizeof(got), "(none)");
		else if (schedule_format_time(s, t, got, sizeof(got)) == -1)
			snprintf(got, sizeof(got), "(unformattable)");
		if (strcmp(got, c->want[i]) != 0) {
			ok = 0;
			tap_diag("fire %d: got %s, want %s", i + 1, got,
			    c->want[i]);
		}
	}
	tap_ok(ok, "%s", label);
	schedule_free(s);
}

static void
check_error(const struct error_case *c)
{
	struct schedule	*s;
	char		 err[512] = "";

	s = schedule_compile(c->type, c->expr, c->zone, err, sizeof(err));
	tap_ok(s == NULL, "rejected: %s", c->want);
	tap_is_str(err, c->want, "...with that message");
	schedule_free(s);
}

static void
check_long_input(void)
{
	char		 buf[400], err[256];
	struct schedule	*s;

	memset(buf, ' ', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf, "0 0 * * *", 9);
	buf[300] = '\0';
	s = schedule_compile(NULL, buf, NULL, err, sizeof(err));
	tap_ok(s == NULL, "300 characters rejected");
	tap_is_str(err, "expression too long (300 characters, at most 256)",
	    "too long message");
	buf[256] = '\0';
	s = schedule_compile(NULL, buf, NULL, err, sizeof(err));
	tap_ok(s != NULL, "256 characters accepted");
	schedule_free(s);
	/* A tiny buffer truncates the message, never overruns it. */
	s = schedule_compile(NULL, "61 * * * *", NULL, err, 8);
	tap_is_str(err, "minute ", "message truncated to its buffer");
}

static void
check_tzdir(void)
{
	struct schedule	*s;
	char		 err[256];

	setenv("TZDIR", "/nonexistent-zoneinfo", 1);
	s = schedule_compile("daily", NULL, NY, err, sizeof(err));
	tap_ok(s == NULL, "TZDIR is honoured");
	tap_is_str(err, "unknown time zone '" NY "'", "TZDIR message");
	schedule_free(s);
	restore_tzdir();
	s = schedule_compile("daily", NULL, NY, err, sizeof(err));
	tap_ok(s != NULL, "the database again");
	schedule_free(s);
}

static void
check_types(void)
{
	tap_is_str(schedule_type_expression("hourly"), "0 * * * *", "hourly");
	tap_is_str(schedule_type_expression("daily"), "0 2 * * *", "daily");
	tap_is_str(schedule_type_expression("weekly"), "0 2 * * 1", "weekly");
	tap_is_str(schedule_type_expression("every_5_minutes"), "*/5 * * * *",
	    "every_5_minutes");
	tap_ok(schedule_type_expression("custom") == NULL, "custom: NULL");
	tap_ok(schedule_type_expression(NULL) == NULL, "NULL type: NULL");
}

static void
check_real_time_flag(void)
{
	static const struct {
		const char	*expr;
		int		 real;
	} cases[] = {
		{ "0 * * * *", 1 }, { "*/5 * * * *", 1 }, { "* 2 * * *", 1 },
		{ "0 2 * * *", 0 }, { "0 0-23 * * *", 0 }, { "@daily", 0 },
		{ "@hourly", 1 },
	};
	struct schedule	*s;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = schedule_compile(NULL, cases[i].expr, NULL, err,
		    sizeof(err));
		tap_ok(s != NULL && schedule_follows_real_time(s) ==
		    cases[i].real, "'%s' %s real time", cases[i].expr,
		    cases[i].real ? "follows" : "does not follow");
		schedule_free(s);
	}
}

static void
check_times(void)
{
	static const struct {
		const char	*zone;
		const char	*in;
		const char	*out;
	} cases[] = {
		{ NY, "2026-03-08 02:30", "2026-03-08T03:00:00-04:00" },
		{ NY, "2026-11-01 01:30:00", "2026-11-01T01:30:00-04:00" },
		{ NY, "2026-11-01T01:30:00-05:00", "2026-11-01T01:30:00-05:00" },
		{ NY, "2026-07-04", "2026-07-04T00:00:00-04:00" },
		{ NY, "2026-07-04t12:00:00.250z", "2026-07-04T08:00:00-04:00" },
		{ NY, "@0", "1969-12-31T19:00:00-05:00" },
		{ LH, "2026-10-04 02:10", "2026-10-04T02:30:00+11:00" },
		{ KTM, "2026-01-01 00:00", "2026-01-01T00:00:00+05:45" },
		{ NULL, "2026-01-01T00:00:00+0530", "2025-12-31T18:30:00+00:00" },
		{ NULL, "@-5", "1969-12-31T23:59:55+00:00" },
		/* Local mean time: +00:53:28 has no RFC 3339 form. */
		{ BER, "1850-01-01 00:53:28", "1850-01-01T00:00:00Z" },
		{ BER, "1900-01-01", "1900-01-01T00:00:00+01:00" },
	};
	static const char *const bad[] = {
		"2026-13-01", "2026-02-29", "2026-01-01 24:00", "tomorrow",
		"2026-01-01T00:00:00+25:00", "2026-1-1", "", "@ 5", "@+5",
		"@5 ", "@", "@-", "@0x10",
	};
	struct tz	*tz;
	char		 err[256], got[300];
	int64_t		 t;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tz = tz_load(cases[i].zone, err, sizeof(err));
		if (tz == NULL || tz_parse_time(tz, cases[i].in, &t, err,
		    sizeof(err)) == -1 || tz_format_rfc3339(tz, t, got,
		    sizeof(got)) == -1)
			snprintf(got, sizeof(got), "error: %s", err);
		tap_is_str(got, cases[i].out, "time '%s' in %s", cases[i].in,
		    cases[i].zone ? cases[i].zone : "UTC");
		tz_release(tz);
	}
	tz = tz_load(NULL, err, sizeof(err));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_ok(tz_parse_time(tz, bad[i], &t, err, sizeof(err)) == -1,
		    "time '%s' rejected: %s", bad[i], err);
	tz_release(tz);
}

/* Names of the database, links and the odd old spellings included. */
static void
check_names(void)
{
	static const char *const names[] = {
		"Etc/GMT+5", "Etc/GMT-14", "America/Port-au-Prince",
		"America/Argentina/Buenos_Aires", "US/Eastern", "EST5EDT",
		"GMT0", "Asia/Calcutta", "UTC", "Etc/UTC",
	};
	struct tz	*tz;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		tz = tz_load(names[i], err, sizeof(err));
		tap_ok(tz != NULL, "zone '%s' is a name", names[i]);
		tz_release(tz);
	}
}

/* The abbreviation of the moment, from the table and from the rule. */
static void
check_abbrevs(void)
{
	static const struct {
		const char	*zone;
		int64_t		 t;
		const char	*abbr;
		int32_t		 utoff;
	} cases[] = {
		{ BER, 1767225600, "CET", 3600 },	/* 2026-01-01 */
		{ BER, 1782864000, "CEST", 7200 },	/* 2026-07-01 */
		{ BER, -3786825600, "LMT", 3208 },	/* 1850-01-01 */
		{ NY, 16740864000, "EDT", -14400 },	/* 2500-07-01 */
		{ NY, 16725225600, "EST", -18000 },	/* 2500-01-01 */
		{ KTM, 1767225600, "+0545", 20700 },
		{ NULL, 0, "UTC", 0 },
	};
	struct tz	*tz;
	struct tz_local	 lt;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if ((tz = tz_load(cases[i].zone, err, sizeof(err))) == NULL) {
			tap_ok(0, "%s: %s", cases[i].zone, err);
			continue;
		}
		tz_local_time(tz, cases[i].t, &lt);
		tap_is_str(lt.abbr, cases[i].abbr, "%s at %lld is %s",
		    cases[i].zone ? cases[i].zone : "UTC",
		    (long long)cases[i].t, cases[i].abbr);
		tap_is_int(lt.utoff, cases[i].utoff, "  offset %d",
		    (int)cases[i].utoff);
		tz_release(tz);
	}
}

/* The operator's zone, from TZ as the C library reads it. */
static void
check_env_zone(void)
{
	static const struct {
		const char	*tz;
		const char	*abbr;	/* at 2026-07-01 */
		int32_t		 utoff;
	} cases[] = {
		{ BER, "CEST", 7200 },
		{ ":" BER, "CEST", 7200 },
		{ "CET-1CEST,M3.5.0,M10.5.0/3", "CEST", 7200 },
		{ "<+0545>-5:45", "+0545", 20700 },
		{ "", "UTC", 0 },
		{ "Nowhere/Land", "UTC", 0 },
		{ "localtime", "UTC", 0 },
	};
	const char	*caller = getenv("TZ");
	char		*saved = caller != NULL ? strdup(caller) : NULL;
	char		 path[600];
	struct tz	*tz;
	struct tz_local	 lt;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("TZ", cases[i].tz, 1);
		tz = tz_load_env();
		tz_local_time(tz, 1782864000, &lt);
		tap_ok(strcmp(lt.abbr, cases[i].abbr) == 0 &&
		    lt.utoff == cases[i].utoff, "TZ='%s': %s", cases[i].tz,
		    cases[i].abbr);
		tz_release(tz);
	}
	snprintf(path, sizeof(path), "%s/%s", zonedir, KTM);
	setenv("TZ", path, 1);
	tz = tz_load_env();
	tz_local_time(tz, 1782864000, &lt);
	tap_is_int(lt.utoff, 20700, "TZ as a path: the file's zone");
	tz_release(tz);
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	free(saved);
}

static int
copy_file(const char *from, const char *to)
{
	char	 buf[8192];
	size_t	 n;
	FILE	*in, *out;
	int	 rc = 0;

	if ((in = fopen(from, "rb")) == NULL)
		return -1;
	if ((out = fopen(to, "wb")) == NULL) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	fclose(in);
	return fclose(out) == EOF ? -1 : rc;
}

/* A tzdata upgrade replaces zone files: the cache must notice. */
static void
check_cache_reload(void)
{
	struct schedule	*a, *b;
	const char	*tmp = getenv("TMPDIR");
	char		 dir[512], path[600], from[600], err[256], got[64];

	snprintf(dir, sizeof(dir), "%s/t_schedule.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		tap_ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/Test", dir);
	setenv("TZDIR", dir, 1);
	snprintf(from, sizeof(from), "%s/%s", zonedir, NY);
	copy_file(from, path);
	a = schedule_compile("daily", NULL, "Test", err, sizeof(err));
	snprintf(from, sizeof(from), "%s/%s", zonedir, KTM);
	copy_file(from, path);
	b = schedule_compile("daily", NULL, "Test", err, sizeof(err));
	if (a != NULL && b != NULL) {
		schedule_format_time(a, 1767225600, got, sizeof(got));
		tap_is_str(got, "2025-12-31T19:00:00-05:00",
		    "the old zone lives on in its schedule");
		schedule_format_time(b, 1767225600, got, sizeof(got));
		tap_is_str(got, "2026-01-01T05:45:00+05:45",
		    "a replaced zone file is read again");
	} else
		tap_ok(0, "zone copies load: %s", err);
	schedule_free(a);
	schedule_free(b);
	unlink(path);
	rmdir(dir);
	restore_tzdir();
}

/* More zones than the cache holds: evicted zones stay with their users. */
static void
check_cache_bound(void)
{
	struct schedule	*keep, *s;
	char		 line[512], err[256], *zone;
	int64_t		 t;
	size_t		 loaded = 0;
	FILE		*f;

	keep = schedule_compile("daily", NULL, LH, err, sizeof(err));
	snprintf(line, sizeof(line), "%s/zone1970.tab", zonedir);
	if ((f = fopen(line, "r")) == NULL) {
		tap_ok(0, "zone1970.tab");
		return;
	}
	while (loaded < 150 && fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || strtok(line, "\t") == NULL ||
		    strtok(NULL, "\t") == NULL ||
		    (zone = strtok(NULL, "\t\n")) == NULL)
			continue;
		s = schedule_compile("daily", NULL, zone, err, sizeof(err));
		loaded += s != NULL;
		schedule_free(s);
	}
	fclose(f);
	tap_ok(loaded > 64, "%zu zones loaded through the cache", loaded);
	tap_ok(keep != NULL && schedule_next(keep, 1767225600, &t) == 0 &&
	    t == 1767279600, "an evicted zone still works for its schedule");
	schedule_free(keep);
}

static void
check_cache_and_speed(void)
{
	struct schedule	*a, *b;
	char		 err[256];
	int64_t		 t = 1767225600;	/* 2026-01-01 */
	int		 i, ok = 1;

	a = schedule_compile("daily", NULL, LH, err, sizeof(err));
	b = schedule_compile(NULL, "*/7 3 * * *", LH, err, sizeof(err));
	tap_ok(a && b && schedule_tz(a) == schedule_tz(b),
	    "zones are loaded once and shared");
	schedule_free(b);
	/* Compiled and freed again and again: nothing leaks, all agree. */
	for (i = 0; i < 20000; i++) {
		b = schedule_compile(NULL, "30 1 * * 1-5", NY, err,
		    sizeof(err));
		if (b == NULL || schedule_next(b, t, &t) == -1)
			ok = 0;
		schedule_free(b);
	}
	tap_ok(ok, "20000 compiles and steps");
	schedule_free(a);
}

struct ctl_case {
	const char	*argv[12];
	int		 json;
	int		 status;
	const char	*out;
	const char	*err;
};

#define USAGE	"usage: evalschedctl next [-n count] [--tz zone] " \
		"[--from time] SCHEDULE\n"
#define PFX	"evalschedctl: next: "

static const struct ctl_case ctl_cases[] = {
	{ { "next", "--tz", NY, "--from", "2026-03-07 12:00", "daily" }, 0,
	    0, "2026-03-08T03:00:00-04:00\n2026-03-09T02:00:00-04:00\n"
	    "2026-03-10T02:00:00-04:00\n2026-03-11T02:00:00-04:00\n"
	    "2026-03-12T02:00:00-04:00\n", "" },
	{ { "next", "-n", "2", "--tz", NY, "--from",
	    "2026-10-31T12:00:00-04:00", "30 1 * * *" }, 0, 0,
	    "2026-11-01T01:30:00-04:00\n2026-11-02T01:30:00-05:00\n", "" },
	{ { "next", "-n2", "--tz=" LH, "--from=2026-10-03 12:00", "0", "2",
	    "*", "*", "*" }, 0, 0,
	    "2026-10-04T02:30:00+11:00\n2026-10-05T02:00:00+11:00\n", "" },
	{ { "next", "--from", "2026-01-01", "--count", "1", "hourly" }, 1, 0,
	    "[\n  \"2026-01-01T01:00:00+00:00\"\n]\n", "" },
	{ { "next", "--json", "-n", "1", "--from", "@0", "--", "@yearly" }, 0,
	    0, "[\n  \"1971-01-01T00:00:00+00:00\"\n]\n", "" },
	{ { "next", "--help" }, 0, CTL_DONE, USAGE, "" },
	{ { "next", "61 * * * *" }, 0, 65, "",
	    PFX "minute field: 61 out of range 0-59\n" },
	{ { "next", "0", "2", "a", "b", "c", "d" }, 0, 65, "",
	    PFX "expected 5 fields, got 6 (seconds and years are not "
	    "supported); quote the expression, as in '0 2 * * *', so that "
	    "the shell leaves '*' alone\n" },
	{ { "next", "montly" }, 0, 65, "", PFX "'montly' is neither a "
	    "schedule type (every_5_minutes, hourly, daily, weekly) nor a "
	    "cron expression such as '0 2 * * *'\n" },
	{ { "next", "custom" }, 0, 65, "", PFX "a custom schedule is its "
	    "cron expression: give the expression itself\n" },
	{ { "next", "--tz", "Mars/Base", "daily" }, 0, 65, "",
	    PFX "unknown time zone 'Mars/Base'\n" },
	{ { "next", "--from", "yesterday", "daily" }, 0, 65, "",
	    PFX "--from: cannot read time 'yesterday': expected "
	    "YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM] or @SECONDS\n" },
	{ { "next", "--from", "2026-02-30", "daily" }, 0, 65, "",
	    PFX "--from: time '2026-02-30' does not exist\n" },
	{ { "next", "--from", "9999-12-31T23:00:00Z", "daily" }, 0, 65, "",
	    PFX "no fire time after that before the year 10000\n" },
	{ { "next", "0 0 30 2 *" }, 0, 65, "",
	    PFX "the expression can never fire (0 0 30 2 *)\n" },
	{ { "next" }, 0, 64, "", PFX "no schedule given: a cron expression "
	    "such as '0 2 * * *', or every_5_minutes, hourly, daily or "
	    "weekly\n" USAGE },
	{ { "next", "-n", "0", "daily" }, 0, 64, "",
	    PFX "-n: '0' is not a count from 1 to 1000\n" },
	{ { "next", "-n" }, 0, 64, "",
	    PFX "option '-n' needs a value\n" USAGE },
	{ { "next", "--tz" }, 0, 64, "",
	    PFX "option '--tz' needs a value\n" USAGE },
	{ { "next", "-x", "daily" }, 0, 64, "",
	    PFX "unknown option '-x'\n" USAGE },
	{ { "next", "--bogus=1", "daily" }, 0, 64, "",
	    PFX "unknown option '--bogus'\n" USAGE },
	/* Numbers are digits: no blank, no sign (strtol takes both). */
	{ { "next", "-n", " 5", "daily" }, 0, 64, "",
	    PFX "-n: ' 5' is not a count from 1 to 1000\n" },
	{ { "next", "-n", "+5", "daily" }, 0, 64, "",
	    PFX "-n: '+5' is not a count from 1 to 1000\n" },
	{ { "next", "-n", "5 ", "daily" }, 0, 64, "",
	    PFX "-n: '5 ' is not a count from 1 to 1000\n" },
	{ { "next", "-n", "1001", "daily" }, 0, 64, "",
	    PFX "-n: '1001' is not a count from 1 to 1000\n" },
	{ { "next", "-n", "99999999999999999999", "daily" }, 0, 64, "",
	    PFX "-n: '99999999999999999999' is not a count from 1 to 1000\n" },
	{ { "next", "--from", "@ 5", "daily" }, 0, 65, "",
	    PFX "--from: cannot read time '@ 5': expected "
	    "YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM] or @SECONDS\n" },
	{ { "next", "--from", "@+5", "daily" }, 0, 65, "",
	    PFX "--from: cannot read time '@+5': expected "
	    "YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM] or @SECONDS\n" },
	{ { "next", "-n", "1", "--from", "@-5", "@yearly" }, 0, 0,
	    "1970-01-01T00:00:00+00:00\n", "" },
	/* Options come before the schedule, as for every command. */
	{ { "next", "daily", "-n", "3" }, 0, 64, "",
	    PFX "option '-n' after the schedule: options go before it\n"
	    USAGE },
	{ { "next", "daily", "--tz" }, 0, 64, "",
	    PFX "option '--tz' after the schedule: options go before it\n"
	    USAGE },
	/* Tabs separate fields as blanks do. */
	{ { "next", "-n", "1", "--from", Y26, "0\t2\t*\t*\t*" }, 0, 0,
	    "2026-01-01T02:00:00+00:00\n", "" },
	{ { "next", "0\t2\t*\t*" }, 0, 65, "",
	    PFX "expected 5 fields, got 4\n" },
	/* --from outside the engine's years: said so, not "no fire time". */
	{ { "next", "--from", "0000-06-01", "daily" }, 0, 65, "",
	    PFX "--from: '0000-06-01' is not in the years 1 to 9999 (UTC)\n" },
	{ { "next", "--from", "@-99999999999", "daily" }, 0, 65, "",
	    PFX "--from: '@-99999999999' is not in the years 1 to 9999 "
	    "(UTC)\n" },
	{ { "next", "-n", "1", "--from", "0001-01-01", "@yearly" }, 0, 0,
	    "0002-01-01T00:00:00+00:00\n", "" },
	/* Fewer fire times than asked: all of them, and a word why. */
	{ { "next", "-n", "1000", "--from", "9990-01-01", "0 0 29 2 *" }, 0,
	    0, "9992-02-29T00:00:00+00:00\n9996-02-29T00:00:00+00:00\n",
	    PFX "only 2 fire times before the year 10000, not 1000\n" },
	/* Local mean time has no RFC 3339 offset: UTC, marked Z. */
	{ { "next", "-n", "2", "--tz", BER, "--from", "1850-01-01", "daily" },
	    0, 0, "1850-01-01T01:06:32Z\n1850-01-02T01:06:32Z\n", "" },
	{ { "next", "-n", "1", "--tz", BER, "--from", "1893-03-31 12:00",
	    "daily" }, 0, 0, "1893-04-01T02:00:00+01:00\n", "" },
	/* Only names of the database. */
	{ { "next", "--tz", "Europe//Berlin", "daily" }, 0, 65, "",
	    PFX "unknown time zone 'Europe//Berlin'\n" },
	{ { "next", "--tz", "localtime", "daily" }, 0, 65, "",
	    PFX "unknown time zone 'localtime'\n" },
};

static char *
slurp_fd(int fd)
{
	static char	buf[4096];
	ssize_t		n;

	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int
tmp_fd(void)
{
	FILE	*f = tmpfile();

	return f == NULL ? -1 : dup(fileno(f));
}

static void
check_ctl(const struct ctl_case *c)
{
	struct ctl	 ctl;
	char		*argv[12], label[256] = "";
	int		 argc, status, out = tmp_fd(), err = tmp_fd();
	int		 saved_out = dup(1), saved_err = dup(2);

	for (argc = 0; c->argv[argc] != NULL; argc++) {
		argv[argc] = (char *)(uintptr_t)c->argv[argc];
		strlcat(label, argc ? " " : "", sizeof(label));
		strlcat(label, c->argv[argc], sizeof(label));
	}
	argv[argc] = NULL;
	fflush(stdout);
	dup2(out, 1);
	dup2(err, 2);
	memset(&ctl, 0, sizeof(ctl));
	ctl.json = c->json;
	status = cmd_next(&ctl, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	tap_is_int(status, c->status, "%s%s: exit %d", c->json ? "--json " :
	    "", label, c->status);
	tap_is_str(slurp_fd(out), c->out, "...its output");
	tap_is_str(slurp_fd(err), c->err, "...its errors");
	close(out);
	close(err);
}

int
main(void)
{
	size_t	i;

	if ((caller_tzdir = getenv("TZDIR")) != NULL) {
		caller_tzdir = strdup(caller_tzdir);
		zonedir = caller_tzdir;
	}

	for (i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++)
		if (next_cases[i].from != NULL)
			check_next(&next_cases[i]);
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		check_error(&error_cases[i]);
	check_long_input();
	check_tzdir();
	check_types();
	check_real_time_flag();
	check_times();
	check_names();
	check_abbrevs();
	check_env_zone();
	check_cache_and_speed();
	check_cache_reload();
	check_cache_bound();
	for (i = 0; i < sizeof(ctl_cases) / sizeof(ctl_cases[0]); i++)
		check_ctl(&ctl_cases[i]);
	tz_cache_flush();
	free(caller_tzdir);
	return tap_done();
}
