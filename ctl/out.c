/*
 * Text for the operator's terminal.  Names, descriptions, model ids,
 * error messages and configurations are written by the application's
 * users: an ESC, a C1 control such as CSI (U+009B) or a bidi override in
 * one would steer the terminal or reorder what it shows.  So every line
 * evalschedctl prints as text is escaped here, after it is formatted,
 * as the log is (text_escape): \n, \x1b, \u009b, \u202e.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "text.h"

static void
put_escaped(FILE *f, const char *s)
{
	char	*p = text_escaped(s);

	fputs(p, f);
	free(p);
}

void
out_vline(FILE *f, const char *fmt, va_list ap)
{
	char	*s = xvasprintf(fmt, ap);

	put_escaped(f, s);
	free(s);
	fputc('\n', f);
}

void
out_line(FILE *f, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	out_vline(f, fmt, ap);
	va_end(ap);
}

/*
 * Text of several lines (libpq's messages, configuration errors): each
 * line escaped on its own, the first after prefix; a newline at the end
 * is dropped.
 */
void
out_lines(FILE *f, const char *prefix, const char *text)
{
	const char	*nl;
	size_t		 n = strlen(text);

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--;
	fputs(prefix, f);
	for (;;) {
		nl = memchr(text, '\n', n);
		out_line(f, "%.*s", (int)(nl != NULL ? nl - text : (long)n),
		    text);
		if (nl == NULL)
			break;
		n -= (size_t)(nl + 1 - text);
		text = nl + 1;
	}
}
