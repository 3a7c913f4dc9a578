/*
 * Text from outside (an HTTP answer, a child's stderr) made fit for the
 * database and the log.
 */
#ifndef EVALSCHED_TEXT_H
#define EVALSCHED_TEXT_H

#include <stddef.h>

/*
 * The UTF-8 sequence at s, at most len bytes of it (or up to a NUL): its
 * length, with its code point in *cp; or, ill-formed, the length of its
 * maximal subpart (what a decoder replaces with one U+FFFD), with -1.
 * A surrogate's three bytes are well-formed only when surrogates is set.
 */
size_t	text_utf8_next(const unsigned char *s, size_t len, int surrogates,
	    long *cp);

/*
 * One line of text, in place: every control character (C0, DEL, C1),
 * line or paragraph separator and bidirectional control a space.
 */
void	text_one_line(char *s);

/* U+2026, the mark of a text that was cut. */
#define TEXT_ELLIPSIS	"\xe2\x80\xa6"

/* The bytes of the whole UTF-8 sequences of s that fit in max bytes. */
size_t	text_fit(const char *s, size_t max);

/* Cuts s (NULL or not) to at most max bytes, never inside a sequence. */
void	text_trim(char *s, size_t max);

/* Drops the UTF-8 sequence a cut (snprintf's) left incomplete at the end. */
void	text_tidy_end(char *s);

/*
 * Cuts s, in place, when it has more than max characters (not bytes):
 * to max - 1 of them, the last TEXT_ELLIPSIS, never inside a UTF-8
 * sequence.  So it keeps at most max.  A max below 2 leaves s as it is.
 */
void	text_clip(char *s, size_t max);

/*
 * Replaces, in place, every byte that is not part of well-formed UTF-8,
 * and every control character, with '?'.  PostgreSQL refuses invalid
 * UTF-8 and NUL outright; one such outcome must not block the others.
 */
void	text_make_valid(char *s);

/*
 * Copies s into buf, as strlcpy(3) does, and returns the length the whole
 * copy needs, with what a terminal or a log reader would obey instead of
 * show written as a visible escape: \n, \r and \t; every other C0
 * control and DEL as \x1b; a byte that is not part of well-formed UTF-8
 * as \xff; the C1 controls (U+0080 to U+009F), the bidirectional
 * controls (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069)
 * and the line and paragraph separators (U+2028, U+2029) as \u009b.
 * Other text, the backslash included, is kept, so escaping twice changes
 * nothing.  A cut copy ends between two characters, never inside one or
 * inside an escape.  buf may be NULL when len is 0.
 */
size_t	text_escape(char *buf, size_t len, const char *s);

/* The same as a new string. */
char	*text_escaped(const char *s);

/*
 * For a JSON document that json-c wrote: what JSON allows raw in a string
 * but a terminal obeys (DEL, the C1 and the characters above) written as
 * \u009b, and a byte that is not UTF-8 as \ufffd, so the document stays
 * valid.  C0 controls, which json-c escapes itself and which format the
 * document outside its strings, are kept.
 */
size_t	text_escape_json(char *buf, size_t len, const char *s);

/* Whether s holds a control character (a header injection, say). */
int	text_has_control(const char *s);

/* "600 s", or "1.5 s" for a duration that is not whole seconds. */
void	text_seconds(long ms, char *buf, size_t len);

/*
 * Every copy of secret in text, in place, as asterisks: an answer may
 * echo what it was sent.  A NULL or empty secret changes nothing.
 */
void	text_redact(char *text, const char *secret);

/* Wipes a secret's bytes, then frees it; NULL is fine. */
void	text_free_secret(char *s);

#endif
