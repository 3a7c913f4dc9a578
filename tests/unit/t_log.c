/*
 * text_escape and the log: outside text shown with its control, C1 and
 * bidi characters visible, and a log line that cannot be forged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"
#include "text.h"

static void
check(const char *in, const char *want, const char *what)
{
	char	*s = text_escaped(in);

	tap_is_str(s, want, "%s", what);
	tap_is_int((long long)text_escape(NULL, 0, in), (long long)strlen(want),
	    "%s: the length needed", what);
	free(s);
}

static void
check_json(const char *in, const char *want, const char *what)
{
	char	buf[256];

	text_escape_json(buf, sizeof(buf), in);
	tap_is_str(buf, want, "json: %s", what);
}

static void
escapes(void)
{
	check("nightly eval", "nightly eval", "ASCII is kept");
	check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5",
	    "UTF-8 text is kept");
	check("a\\nb \\x1b", "a\\nb \\x1b",
	    "a backslash is kept: escaping twice changes nothing");
	check("a\nb\rc\td", "a\\nb\\rc\\td", "newline, return and tab");
	check("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07", "ESC and BEL");
	check("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m", "colours");
	check("\x01\x1f\x7f", "\\x01\\x1f\\x7f", "other C0 controls and DEL");
	check("\xc2\x9b" "31m \xc2\x80 \xc2\x9f \xc2\xa0",
	    "\\u009b31m \\u0080 \\u009f \xc2\xa0",
	    "C1 controls, not U+00A0");
	check("\xe2\x80\xae" "evil\xe2\x80\xac",
	    "\\u202eevil\\u202c", "a bidi override and its pop");
	check("\xe2\x81\xa6\xe2\x81\xa9 \xe2\x80\x8e\xe2\x80\x8f \xd8\x9c",
	    "\\u2066\\u2069 \\u200e\\u200f \\u061c", "isolates and marks");
	check("\xe2\x80\xa8\xe2\x80\xa9", "\\u2028\\u2029",
	    "line and paragraph separators");
	check("\xe2\x80\x8b\xe2\x80\x94", "\xe2\x80\x8b\xe2\x80\x94",
	    "other format and punctuation characters are kept");
	check("caf\xe9", "caf\\xe9", "a Latin-1 byte");
	check("\x9b", "\\x9b", "a bare C1 byte is not UTF-8");
	check("\xc0\xaf \xed\xa0\x80", "\\xc0\\xaf \\xed\\xa0\\x80",
	    "overlong forms and surrogates");
	check("cut \xe2\x82", "cut \\xe2\\x82", "a sequence cut short");
	check("", "", "the empty string");
}

static void
cuts(void)
{
	char	buf[8];

	tap_is_int((long long)text_escape(buf, sizeof(buf), "ab\x1b" "cdef"),
	    10, "a cut copy returns the whole length");
	tap_is_str(buf, "ab\\x1bc", "... and ends after a whole escape");
	text_escape(buf, sizeof(buf), "abcde\x1b");
	tap_is_str(buf, "abcde", "an escape that does not fit is left out");
	text_escape(buf, sizeof(buf), "abcdef\xc3\xa9");
	tap_is_str(buf, "abcdef", "so is a character");
	text_escape(buf, 1, "abc");
	tap_is_str(buf, "", "a buffer of one byte");
}

static void
json(void)
{
	check_json("{\n  \"a\": \"x\\u001b\"\n}", "{\n  \"a\": \"x\\u001b\"\n}",
	    "json-c's own layout and escapes are kept");
	check_json("\"\xc2\x9b\xe2\x80\xae\x7f\"", "\"\\u009b\\u202e\\u007f\"",
	    "C1, bidi and DEL");
	check_json("\"\xff\"", "\"\\ufffd\"", "a byte that is not UTF-8");
	check_json("\"\xc3\xa9\"", "\"\xc3\xa9\"", "UTF-8 is kept");
}

/* Logs msg in the foreground and returns what reached stderr. */
static char *
logged(const char *name)
{
	static char	buf[8192];
	FILE		*f = tmpfile();
	int		 saved = dup(2), n;

	if (f == NULL || saved == -1)
		abort();
	fflush(stderr);
	dup2(fileno(f), 2);
	errno = EBADF;
	log_warnx("schedule \"%s\": run failed", name);
	tap_is_int(errno, EBADF, "errno is preserved");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = (int)fread(buf, 1, sizeof(buf) - 1, f);
	buf[n > 0 ? n : 0] = '\0';
	fclose(f);
	return buf;
}

static void
log_lines(void)
{
	char	*out, big[3000];
	size_t	 i;

	log_init("t_log", 1, 0);
	out = logged("x\n2030-01-01T00:00:00.000Z evalsched-supervisor[1]: "
	    "schedule \"y\": run accepted");
	tap_ok(strchr(out, '\n') == out + strlen(out) - 1,
	    "a newline in a name forges no second line");
	tap_ok(strstr(out, "schedule \"x\\n2030-01-01T00:00:00.000Z "
	    "evalsched-supervisor[1]: ") != NULL, "... it is shown as \\n");
	out = logged("\x1b]0;owned\x07\xc2\x9b" "31m\xe2\x80\xae");
	tap_ok(strchr(out, 0x1b) == NULL && strchr(out, 0x07) == NULL &&
	    strstr(out, "\xc2\x9b") == NULL && strstr(out, "\xe2\x80\xae") ==
	    NULL, "no ESC, BEL, CSI or bidi override reaches the log");
	tap_ok(strstr(out, "\"\\x1b]0;owned\\x07\\u009b31m\\u202e\"") != NULL,
	    "... they are escaped");
	for (i = 0; i < sizeof(big) - 1; i++)
		big[i] = i % 100 == 99 ? '\n' : 'a';
	big[sizeof(big) - 1] = '\0';
	out = logged(big);
	tap_ok(strchr(out, '\n') == out + strlen(out) - 1 &&
	    strstr(out, "aa\\naa") != NULL && strstr(out, ": run failed\n") !=
	    NULL, "a message longer than the stack buffers is whole");
}

/* A user's text as long as it likes: the line is cut, and says so. */
static void
long_lines(void)
{
	struct log_name	 ln;
	char		*huge, *out, *msg;
	size_t		 i, n = 400 * 1024;

	if ((huge = malloc(n + 1)) == NULL)
		abort();
	for (i = 0; i < n; i++)
		huge[i] = i % 3 == 2 ? '\x1b' : 'a';
	huge[n] = '\0';
	out = logged(huge);
	msg = strstr(out, "schedule \"");
	tap_ok(msg != NULL && strlen(msg) - 1 <= LOG_MSG_MAX,
	    "a 400 KB message is cut to LOG_MSG_MAX bytes");
	tap_ok(strchr(out, '\n') == out + strlen(out) - 1,
	    "... on one line");
	tap_ok(strlen(out) > 4 && memcmp(out + strlen(out) - 4,
	    TEXT_ELLIPSIS "\n", 4) == 0, "... its end an ellipsis");
	/* "schedule \"aa\x1baa\x1b...": only whole escapes before it. */
	for (msg = msg != NULL ? msg + strlen("schedule \"") : ""; *msg == 'a' ||
	    strncmp(msg, "\\x1b", 4) == 0; msg += *msg == 'a' ? 1 : 4)
		;
	tap_ok(strcmp(msg, TEXT_ELLIPSIS "\n") == 0,
	    "... after a whole escape");

	tap_is_str(log_name("nightly").s, "nightly", "log_name: a name is kept");
	tap_is_str(log_name(NULL).s, "", "log_name: NULL is empty");
	memset(huge, 'n', n);
	tap_is_int((long long)strlen(log_name(huge).s), LOG_NAME_MAX - 2 + 3,
	    "log_name: a 400 KB name, fewer than LOG_NAME_MAX characters");
	for (i = 0; i + 4 <= n; i += 4)
		memcpy(huge + i, "\xf0\x9f\x98\x80", 4);
	ln = log_name(huge);
	tap_is_int((long long)strlen(ln.s), (LOG_NAME_MAX - 2) * 4 + 3,
	    "log_name: counts characters, not bytes");
	tap_ok(strcmp(ln.s + strlen(ln.s) - 3, TEXT_ELLIPSIS) == 0,
	    "log_name: the cut marked");
	free(huge);
}

int
main(void)
{
	escapes();
	long_lines();
	cuts();
	json();
	log_lines();
	return tap_done();
}
