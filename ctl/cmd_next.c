/*
 * evalschedctl next [-n count] [--tz zone] [--from time] SCHEDULE
 *
 * The way to check a schedule before saving it, so every mistake gets
 * a message that says what is wrong and how to write it instead.  It
 * needs no database: the schedule engine's own files answer.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "ctl.h"
#include "cron.h"
#include "schedule.h"
#include "tz.h"

#define NEXT_SYNOPSIS	"[-n count] [--tz zone] [--from time] SCHEDULE"
#define NEXT_DEFAULT	5
#define NEXT_MAX	1000

struct next_args {
	long		 count;
	const char	*zone;
	const char	*from;
	int		 words;		/* operands joined into expr */
	char		 expr[CRON_EXPR_MAX * 2];
};

static int
next_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* It may quote what was typed: out_line escapes it, as all our text. */
static int
next_fail(int status, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out_line(stderr, "evalschedctl: next: %s", msg);
	if (status == EX_USAGE)
		ctl_usage("next", NEXT_SYNOPSIS);
	return status;
}

static int
next_take(struct ctl *c, int ch, const char *arg, void *data)
{
	struct next_args	*a = data;

	(void)c;
	switch (ch) {
	case 'n':
		return ctl_count("next", "-n", arg, NEXT_MAX, &a->count);
	case 'Z':
		a->zone = arg;
		return 0;
	case 'F':
		a->from = arg;
		return 0;
	}
	return EX_SOFTWARE;
}

static int
next_operand(struct next_args *a, const char *word)
{
	/* No cron field starts with '-': it is an option, put too late. */
	if (word[0] == '-' && word[1] != '\0')
		return next_fail(EX_USAGE, "option '%.32s' after the schedule: "
		    "options go before it", word);
	if (a->words++ > 0)
		strlcat(a->expr, " ", sizeof(a->expr));
	if (strlcat(a->expr, word, sizeof(a->expr)) >= sizeof(a->expr))
		return next_fail(EX_DATAERR, "expression too long (at most %d "
		    "characters)", CRON_EXPR_MAX);
	return 0;
}

/* Options first, as for every command; the operands are the schedule. */
static int
next_parse(struct ctl *c, struct next_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "tz", required_argument, NULL, 'Z' },
		{ "from", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 }
	};
	const struct ctl_cmd	cmd = { "next", NEXT_SYNOPSIS, "n:", longopts,
				    next_take, a };
	int			i, status;

	if ((status = ctl_getopt(c, argc, argv, &cmd, 0, -1)) != 0)
		return status;
	for (i = optind; i < argc; i++)
		if ((status = next_operand(a, argv[i])) != 0)
			return status;
	if (a->words == 0)
		return next_fail(EX_USAGE, "no schedule given: a cron "
		    "expression such as '0 2 * * *', or every_5_minutes, "
		    "hourly, daily or weekly");
	return 0;
}

static int
next_compile_error(const struct next_args *a, const char *err)
{
	int	nfields = strncmp(err, "expected 5 fields", 17) == 0;

	if (nfields && a->words == 1 && strpbrk(a->expr, " \t") == NULL &&
	    a->expr[0] != '@')
		return next_fail(EX_DATAERR, "'%.64s' is neither a schedule "
		    "type (every_5_minutes, hourly, daily, weekly) nor a cron "
		    "expression such as '0 2 * * *'", a->expr);
	if (nfields && a->words > 1)
		return next_fail(EX_DATAERR, "%s; quote the expression, as "
		    "in '0 2 * * *', so that the shell leaves '*' alone",
		    err);
	return next_fail(EX_DATAERR, "%s", err);
}

static struct schedule *
next_compile(const struct next_args *a, int *status)
{
	struct schedule	*s;
	const char	*type = NULL;
	char		 err[512];

	if (strcmp(a->expr, "custom") == 0) {
		*status = next_fail(EX_DATAERR, "a custom schedule is its cron "
		    "expression: give the expression itself");
		return NULL;
	}
	if (schedule_type_expression(a->expr) != NULL)
		type = a->expr;
	if ((s = schedule_compile(type, type ? NULL : a->expr, a->zone, err,
	    sizeof(err))) == NULL)
		*status = next_compile_error(a, err);
	return s;
}

/* --from, or now; the engine's years are 1 to 9999. */
static int
next_from(const struct next_args *a, const struct schedule *s, int64_t *t)
{
	char	err[256];

	*t = (int64_t)time(NULL);
	if (a->from == NULL || strcmp(a->from, "now") == 0)
		return 0;
	if (tz_parse_time(schedule_tz(s), a->from, t, err, sizeof(err)) == -1)
		return next_fail(EX_DATAERR, "--from: %s", err);
	if (*t < SCHEDULE_TIME_MIN || *t > SCHEDULE_TIME_MAX)
		return next_fail(EX_DATAERR, "--from: '%.64s' is not in the "
		    "years 1 to 9999 (UTC)", a->from);
	return 0;
}

static void
next_print(char times[][64], long n, int json)
{
	json_object	*arr;
	long		 i;

	if (!json) {
		for (i = 0; i < n; i++)
			puts(times[i]);
		return;
	}
	arr = jnew_array();
	for (i = 0; i < n; i++)
		jpush(arr, jnew_string(times[i]));
	puts(jtext(arr, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}

/* The times there are, and a word on stderr when fewer than asked. */
static int
next_run(const struct ctl *c, const struct next_args *a,
    const struct schedule *s, int64_t t)
{
	char	(*times)[64];
	long	n;

	times = xcalloc((size_t)a->count, sizeof(*times));
	for (n = 0; n < a->count; n++)
		if (schedule_next(s, t, &t) == -1 ||
		    schedule_format_time(s, t, times[n], sizeof(times[n])) ==
		    -1)
			break;
	if (n == 0) {
		free(times);
		return next_fail(EX_DATAERR, "no fire time after that before "
		    "the year 10000");
	}
	next_print(times, n, c->json);
	free(times);
	if (fflush(stdout) == EOF)
		return next_fail(EX_IOERR, "%s", strerror(errno));
	if (n < a->count)
		next_fail(EX_OK, "only %ld fire time%s before the year 10000, "
		    "not %ld", n, n == 1 ? "" : "s", a->count);
	return EX_OK;
}

int
cmd_next(struct ctl *c, int argc, char **argv)
{
	struct next_args	 a;
	struct schedule		*s;
	int64_t			 from;
	int			 status;

	memset(&a, 0, sizeof(a));
	a.count = NEXT_DEFAULT;
	if ((status = next_parse(c, &a, argc, argv)) != 0)
		return status;
	if ((s = next_compile(&a, &status)) == NULL)
		return status;
	if ((status = next_from(&a, s, &from)) == 0)
		status = next_run(c, &a, s, from);
	schedule_free(s);
	return status;
}
