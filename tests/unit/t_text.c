/*
 * text_make_valid: outside text made fit for PostgreSQL.
 */
#include <stdlib.h>
#include <string.h>

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

int
main(void)
{
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
	text_make_valid(NULL);
	tap_ok(1, "NULL is allowed");
	return tap_done();
}
