/*
 * evalschedctl next [-n count] [--tz zone] [--from time] SCHEDULE
 *
 * The way to check a schedule before saving it, so every mistake gets
 * a message that says what is wrong and how to write it instead.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <json-c/json.h>

#include "cmd_next.h"
#include "cron.h"
#include "schedule.h"
#include "text.h"
#include "tz.h"

#define NEXT_USAGE	"usage: evalschedctl next [-n count] [--tz zone] " \
			"[--from time] SCHEDULE\n"
#define NEXT_DEFAULT	5
#define NEXT_MAX	1000

struct next_args {
	long		 count;
	const char	*zone;
	const char	*from;
	int		 json;
	int		 words;		/* operands joined into expr */
	char		 expr[CRON_EXPR_MAX * 2];
};

static int
next_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
next_fail(int status, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512], esc[1024];

	/* It may quote what was typed: escaped, as all our text is. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	text_escape(esc, sizeof(esc), msg);
	fprintf(stderr, "evalschedctl: next: %s\n", esc);
	if (status == EX_USAGE)
		fputs(NEXT_USAGE, stderr);
	return status;
}

static int
next_count(struct next_args *a, const char *s)
{
	char	*end;

	errno = 0;
	a->count = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || a->count < 1 ||
	    a->count > NEXT_MAX)
		return next_fail(EX_USAGE, "count '%.32s' is not a number from "
		    "1 to %d", s, NEXT_MAX);
	return 0;
}

/*
 * Matches "--name value", "--name=value" (and "-nvalue" for short
 * names); sets *val and advances *i past what it used.
 */
static int
next_optval(int argc, char **argv, int *i, const char *name,
    const char **val)
{
	const char	*a = argv[*i];
	size_t		 n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=' && name[1] == '-')
		*val = a + n + 1;
	else if (a[n] != '\0' && name[1] != '-')
		*val = a + n;
	else if (a[n] != '\0')
		return 0;
	else if (*i + 1 < argc)
		*val = argv[++*i];
	else
		*val = NULL;
	return 1;
}

static int
next_operand(struct next_args *a, const char *word)
{
	if (a->words++ > 0)
		strlcat(a->expr, " ", sizeof(a->expr));
	if (strlcat(a->expr, word, sizeof(a->expr)) >= sizeof(a->expr))
		return next_fail(EX_DATAERR, "expression too long (at most %d "
		    "characters)", CRON_EXPR_MAX);
	return 0;
}

static int
next_option(struct next_args *a, int argc, char **argv, int *i)
{
	const char	*v;

	if (strcmp(argv[*i], "--json") == 0)
		a->json = 1;
	else if (strcmp(argv[*i], "-h") == 0 || strcmp(argv[*i], "--help") == 0)
		return fputs(NEXT_USAGE, stdout) == EOF ? EX_IOERR : -1;
	else if (next_optval(argc, argv, i, "-n", &v) ||
	    next_optval(argc, argv, i, "--count", &v))
		return v == NULL ? next_fail(EX_USAGE, "-n needs a count") :
		    next_count(a, v);
	else if (next_optval(argc, argv, i, "--tz", &v)) {
		if ((a->zone = v) == NULL)
			return next_fail(EX_USAGE, "--tz needs a zone, such as "
			    "Europe/Berlin");
	} else if (next_optval(argc, argv, i, "--from", &v)) {
		if ((a->from = v) == NULL)
			return next_fail(EX_USAGE, "--from needs a time, such "
			    "as 2026-03-08T01:00:00-05:00 or '2026-03-08 "
			    "01:00'");
	} else
		return next_fail(EX_USAGE, "unknown option '%.32s'", argv[*i]);
	return 0;
}

/* Options may come before or after the schedule: no field starts '-'. */
static int
next_parse(struct next_args *a, int argc, char **argv)
{
	int	i, rc, dashdash = 0;

	for (i = 1; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--") == 0)
			dashdash = 1;
		else if (!dashdash && argv[i][0] == '-' && argv[i][1] != '\0')
			rc = next_option(a, argc, argv, &i);
		else
			rc = next_operand(a, argv[i]);
		if (rc != 0)
			return rc;	/* -1: done, successfully */
	}
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

	if (nfields && a->words == 1 && strchr(a->expr, ' ') == NULL &&
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
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(times[i]));
	puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}

static int
next_run(const struct next_args *a, const struct schedule *s, int64_t t)
{
	char	(*times)[64];
	long	n;

	if ((times = calloc((size_t)a->count, sizeof(*times))) == NULL)
		return next_fail(EX_OSERR, "out of memory");
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
	next_print(times, n, a->json);
	free(times);
	return fflush(stdout) == EOF ? next_fail(EX_IOERR, "%s",
	    strerror(errno)) : EX_OK;
}

int
cmd_next(int argc, char **argv, int json)
{
	struct next_args	 a;
	struct schedule		*s;
	char			 err[256];
	int64_t			 from;
	int			 status;

	memset(&a, 0, sizeof(a));
	a.count = NEXT_DEFAULT;
	a.json = json;
	if ((status = next_parse(&a, argc, argv)) != 0)
		return status == -1 ? EX_OK : status;
	if ((s = next_compile(&a, &status)) == NULL)
		return status;
	from = (int64_t)time(NULL);
	if (a.from != NULL && strcmp(a.from, "now") != 0 &&
	    tz_parse_time(schedule_tz(s), a.from, &from, err,
	    sizeof(err)) == -1) {
		schedule_free(s);
		return next_fail(EX_DATAERR, "--from: %s", err);
	}
	status = next_run(&a, s, from);
	schedule_free(s);
	return status;
}
