/*
 * Making outside text valid UTF-8 without control characters, and showing
 * it to a person with those characters visible.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "util.h"

/*
 * The UTF-8 sequence at s (at most len bytes, or up to a NUL): its
 * length and code point, or for an ill-formed one the length of its
 * maximal subpart (which a decoder replaces with one U+FFFD, as the
 * WHATWG and Unicode say) and -1.  RFC 3629: no overlong forms,
 * nothing past U+10FFFF, and no surrogates unless asked for: json-c
 * writes a lone one that JSON text escaped as three bytes.
 */
size_t
text_utf8_next(const unsigned char *s, size_t len, int surrogates, long *cp)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	*cp = -1;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed && !surrogates)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 1;
	for (i = 1; i < n; i++)
		if (i >= len || s[i] < (i == 1 ? lo : 0x80) ||
		    s[i] > (i == 1 ? hi : 0xbf))
			return i;
	*cp = s[0] & (0xff >> (n + 1));
	for (i = 1; i < n; i++)
		*cp = (*cp << 6) | (s[i] & 0x3f);
	return n;
}

/* Length of the well-formed UTF-8 sequence at s, or 0. */
static size_t
utf8_sequence(const unsigned char *s)
{
	long	cp;
	size_t	n = text_utf8_next(s, SIZE_MAX, 0, &cp);

	return cp < 0 ? 0 : n;
}

void
text_make_valid(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 n;

	if (s == NULL)
		return;
	while (*p != '\0') {
		if ((n = utf8_sequence(p)) == 0 || (n == 1 &&
		    (*p < 0x20 || *p == 0x7f))) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

/* The code point of the well-formed sequence of n bytes at s. */
static unsigned long
utf8_decode(const unsigned char *s, size_t n)
{
	unsigned long	cp;
	size_t		i;

	if (n == 1)
		return s[0];
	cp = s[0] & (0xff >> (n + 1));
	for (i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

/*
 * Characters that steer a terminal, reorder a line or break it where a
 * reader sees none: the C1 controls (U+009B is CSI), the bidirectional
 * controls (a "trojan source" override), and the line and paragraph
 * separators.
 */
static int
is_hidden(unsigned long cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e ||
	    cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Each character that breaks a line or hides one (a C0 or C1 control,
 * DEL, a line or paragraph separator, a bidirectional control) becomes
 * one space; the string may get shorter.  Bytes that are not UTF-8 are
 * left as they are (text_make_valid's to replace).
 */
void
text_one_line(char *s)
{
	unsigned char	*r = (unsigned char *)s, *w = r;
	size_t		 n;
	long		 cp;

	while (*r != '\0') {
		n = text_utf8_next(r, SIZE_MAX, 0, &cp);
		if (cp >= 0 && (cp < 0x20 || cp == 0x7f ||
		    is_hidden((unsigned long)cp))) {
			*w++ = ' ';
			r += n;
			continue;
		}
		memmove(w, r, n);
		w += n;
		r += n;
	}
	*w = '\0';
}

/*
 * Counts characters as a person (and Slack, and Discord) does: a
 * well-formed sequence is one, and so is each ill-formed piece, which a
 * decoder shows as one U+FFFD.  So a cut never falls inside a sequence.
 * It falls before the last two characters that would fit: with the
 * first one past them, those three take at least the three bytes the
 * ellipsis needs.
 */
void
text_clip(char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 chars = 0, off = 0, cut = 0;
	long			 cp;

	if (max < 2)
		return;
	while (p[off] != '\0') {
		if (chars == max - 2)
			cut = off;
		if (++chars > max) {
			memcpy(s + cut, TEXT_ELLIPSIS, sizeof(TEXT_ELLIPSIS));
			return;
		}
		off += text_utf8_next(p + off, SIZE_MAX, 0, &cp);
	}
}

size_t
text_fit(const char *s, size_t max)
{
	size_t	n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	/* Back up over continuation bytes to the start of a sequence. */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

void
text_trim(char *s, size_t max)
{
	if (s != NULL)
		s[text_fit(s, max)] = '\0';
}

void
text_tidy_end(char *s)
{
	size_t		n = strlen(s), i = n, need;
	unsigned char	c;

	while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || (c = (unsigned char)s[i - 1]) < 0xc0)
		return;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

enum escape_mode { ESCAPE_TEXT, ESCAPE_JSON };

/* "\n", "\x1b": a C0 control or DEL, in text. */
static size_t
c0_escape(unsigned long cp, char *esc, size_t len)
{
	switch (cp) {
	case '\n':
		return strlcpy(esc, "\\n", len);
	case '\r':
		return strlcpy(esc, "\\r", len);
	case '\t':
		return strlcpy(esc, "\\t", len);
	default:
		return (size_t)snprintf(esc, len, "\\x%02lx", cp);
	}
}

/*
 * The escape of the character at s, into esc, and its length; 0 when it
 * is shown as it is.  *n is how many bytes of s it takes.
 */
static size_t
unit_escape(const unsigned char *s, enum escape_mode mode, size_t *n,
    char *esc, size_t len)
{
	unsigned long	cp;

	if ((*n = utf8_sequence(s)) == 0) {
		*n = 1;
		if (mode == ESCAPE_JSON)
			return strlcpy(esc, "\\ufffd", len);
		return (size_t)snprintf(esc, len, "\\x%02x", s[0]);
	}
	cp = utf8_decode(s, *n);
	if (mode == ESCAPE_TEXT && (cp < 0x20 || cp == 0x7f))
		return c0_escape(cp, esc, len);
	if (cp == 0x7f || is_hidden(cp))
		return (size_t)snprintf(esc, len, "\\u%04lx", cp);
	return 0;
}

static size_t
escape(char *buf, size_t len, const char *src, enum escape_mode mode)
{
	const unsigned char	*s = (const unsigned char *)src;
	const char		*piece;
	char			 esc[16];
	size_t			 need = 0, done = 0, n, e, plen;

	for (; *s != '\0'; s += n) {
		e = unit_escape(s, mode, &n, esc, sizeof(esc));
		piece = e > 0 ? esc : (const char *)s;
		plen = e > 0 ? e : n;
		/* Once one piece does not fit, nothing after it is written. */
		if (done == need && need + plen < len) {
			memcpy(buf + done, piece, plen);
			done += plen;
		}
		need += plen;
	}
	if (len > 0)
		buf[done] = '\0';
	return need;
}

size_t
text_escape(char *buf, size_t len, const char *s)
{
	return escape(buf, len, s, ESCAPE_TEXT);
}

size_t
text_escape_json(char *buf, size_t len, const char *s)
{
	return escape(buf, len, s, ESCAPE_JSON);
}

char *
text_escaped(const char *s)
{
	size_t	 n = text_escape(NULL, 0, s);
	char	*p = xreallocarray(NULL, n + 1, 1);

	text_escape(p, n + 1, s);
	return p;
}

int
text_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if (iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

void
text_redact(char *text, const char *secret)
{
	size_t	 n;
	char	*p;

	if (secret == NULL || (n = strlen(secret)) == 0)
		return;
	while ((p = strstr(text, secret)) != NULL)
		memset(p, '*', n);
}

void
text_free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
text_seconds(long ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%ld s", ms / 1000);
	else
		snprintf(buf, len, "%.3g s", ms / 1000.0);
}
