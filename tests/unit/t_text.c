/*
 * text_make_valid: outside text made fit for PostgreSQL; text_one_line
 * and text_clip: a user's text made one line, and short; text_redact: a
 * secret an answer echoed, hidden.
 */
#include <sys/wait.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "text.h"

static void
check(const char *in, const char *want, const char *what)
{
	char	*s = strdup(in);

	text_make_valid(s);
	tap_is_str(s, want, "%s", what);
	free(s);
}

/*
 * Whether text_make_valid(NULL) returns.  It runs in a child, so that
 * a crash (or a sanitizer's report, which exits non-zero) fails this
 * one test instead of ending the others.
 */
static int
survives_null(void)
{
	pid_t	pid;
	int	status;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		text_make_valid(NULL);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		tap_diag("the child %s %d", WIFSIGNALED(status) ?
		    "was killed by signal" : "exited", WIFSIGNALED(status) ?
		    WTERMSIG(status) : WEXITSTATUS(status));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void
check_with(void (*fn)(char *), const char *in, const char *want,
    const char *what)
{
	char	*s = strdup(in);

	fn(s);
	tap_is_str(s, want, "%s", what);
	free(s);
}

static void
check_clip(const char *in, size_t max, const char *want, const char *what)
{
	char	*s = strdup(in);

	text_clip(s, max);
	tap_is_str(s, want, "%s", what);
	free(s);
}

static void
test_one_line(void)
{
	check_with(text_one_line, "a\nBcc: x\r\n\tb\x7f", "a Bcc: x   b ",
	    "one line: C0 controls and DEL are spaces");
	check_with(text_one_line, "a\xc2\x85" "b\xe2\x80\xa8" "c\xe2\x80\xae" "d",
	    "a b c d", "one line: NEL, U+2028 and U+202E are one space each");
	check_with(text_one_line, "caf\xc3\xa9 \xe2\x86\x92 \xff\x0a",
	    "caf\xc3\xa9 \xe2\x86\x92 \xff ",
	    "one line: other text is kept, bad bytes left for make_valid");
}

static void
test_clip(void)
{
	check_clip("abcdef", 6, "abcdef", "clip: short enough is kept");
	check_clip("abcdef", 5, "abc\xe2\x80\xa6",
	    "clip: fewer than max characters, the last an ellipsis");
	check_clip("abc", 2, "\xe2\x80\xa6", "clip: to the ellipsis alone");
	check_clip("abcdef", 1, "abcdef", "clip: below 2 leaves it");
	check_clip("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	    "\xf0\x9f\x98\x80", 3, "\xf0\x9f\x98\x80\xe2\x80\xa6",
	    "clip: never inside a sequence");
	check_clip("\x80\x80\x80\x80", 3, "\x80\xe2\x80\xa6",
	    "clip: each ill-formed byte counts as a character");
}

static void
redacted(const char *in, const char *secret, const char *want,
    const char *what)
{
	char	*s = strdup(in);

	text_redact(s, secret);
	tap_is_str(s, want, "redact: %s", what);
	free(s);
}

static void
test_redact(void)
{
	redacted("401: bad key sk-123 (sk-123)", "sk-123",
	    "401: bad key ****** (******)", "every copy");
	redacted("sk-sk-123", "sk-123", "sk-******", "one that overlaps text");
	redacted("no key here", "sk-123", "no key here", "none");
	redacted("no key here", "", "no key here", "an empty secret");
	redacted("no key here", NULL, "no key here", "a NULL secret");
}

int
main(void)
{
	test_one_line();
	test_redact();
	test_clip();
	check("HTTP 500: plain ascii", "HTTP 500: plain ascii", "ASCII is kept");
	check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "2-, 3- and 4-byte sequences are kept");
	check("caf\xe9 page", "caf? page", "a Latin-1 byte is replaced");
	check("tab\there\nnew\rline\x7f", "tab?here?new?line?", "control characters are replaced");
	check("\xc0\xaf", "??", "an overlong form is replaced");
	check("\xed\xa0\x80", "???", "a surrogate is replaced");
	check("\xf4\x90\x80\x80", "????", "a code point past U+10FFFF is replaced");
	check("cut \xe2\x82", "cut ??", "a sequence cut short is replaced");
	check("\x80\xbf", "??", "stray continuation bytes are replaced");
	check("", "", "the empty string");
	tap_ok(survives_null(), "NULL is allowed");
	return tap_done();
}
