/*
 * The message handed to sendmail: RFC 5322 headers and a MIME
 * multipart/alternative body of the text and the HTML, both base64.
 *
 * A user's text reaches one header only, the subject, and only as RFC
 * 2047 encoded words: pure ASCII, folded between words, so that no title
 * can end the line, add a header (Bcc:) or start the body.  The subject
 * is one line before it is encoded, too (a line break in it a space): a
 * program that decodes it into another header gets one line.  The other
 * headers hold the operator's mail_from and the checked address.  The
 * bodies are base64 of the exact bytes, so no line of theirs can be a
 * lone "." or a boundary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "notifier.h"
#include "text.h"

/*
 * "Subject: " and a word of 12 + 52 characters are 73; each further
 * line a space and a word: RFC 2047's 76 with room to spare.  52 base64
 * characters are 39 bytes, which hold at least 36 of whole characters.
 */
#define WORD_BYTES	39
#define BODY_BYTES	57	/* a line of 76 base64 characters */

static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
    "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* n bytes at s, at most BODY_BYTES. */
static void
put_base64(FILE *f, const char *s, size_t n)
{
	char	b64[4 * ((BODY_BYTES + 2) / 3) + 1];

	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)s,
	    (int)n);
	fputs(b64, f);
}

void
mime_words(FILE *f, const char *s, size_t max, const char *first,
    const char *between)
{
	size_t	off, n;

	if (max > BODY_BYTES)
		max = BODY_BYTES;
	for (off = 0; s[off] != '\0'; off += n) {
		/* Valid UTF-8: a word takes at least one character. */
		if ((n = text_fit(s + off, max)) == 0)
			break;
		fputs(off == 0 ? first : between, f);
		fputs("=?UTF-8?B?", f);
		put_base64(f, s + off, n);
		fputs("?=", f);
	}
}

/* subject is valid UTF-8 on one line; it is never empty. */
static void
put_subject(FILE *f, const char *subject)
{
	fputs("Subject:", f);
	mime_words(f, subject, WORD_BYTES, " ", "\n ");
	fputc('\n', f);
}

/* RFC 5322's date, in UTC, with English names whatever the locale. */
static void
put_date(FILE *f, time_t now)
{
	struct tm	tm;

	gmtime_r(&now, &tm);
	fprintf(f, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\n",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
put_part(FILE *f, const char *boundary, const char *type, const char *s)
{
	size_t	len = strlen(s), off, n;

	fprintf(f, "--%s\nContent-Type: %s; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n\n", boundary, type);
	for (off = 0; off < len; off += n) {
		n = len - off < BODY_BYTES ? len - off : BODY_BYTES;
		put_base64(f, s + off, n);
		fputc('\n', f);
	}
}

/*
 * The domain of the operator's address (mail_from), for the Message-ID;
 * "localhost" when it has none that is a plain host name.
 */
void
mime_domain(const char *from, char *buf, size_t len)
{
	const char	*at = strrchr(from, '@');
	size_t		 n;

	if (at == NULL || (n = strspn(at + 1, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")) == 0 ||
	    (at[1 + n] != '\0' && at[1 + n] != '>') || n >= len)
		snprintf(buf, len, "localhost");
	else
		snprintf(buf, len, "%.*s", (int)n, at + 1);
}

/*
 * The whole message, its line ends "\n" (sendmail makes them CRLF),
 * malloc'd.  The texts are the bytes Node would send (js_utf8).
 */
char *
mime_message(const struct mime *mm, const struct mail_text *t, time_t now)
{
	FILE	*f;
	char	*buf, *subject = xstrdup(t->subject), boundary[80];
	size_t	 len;

	text_one_line(subject);
	snprintf(boundary, sizeof(boundary), "=_evalsched_%s", mm->alert_id);
	f = xmemstream(&buf, &len);
	fprintf(f, "From: %s\nTo: %s\n", mm->from, mm->to);
	put_subject(f, subject);
	put_date(f, now);
	fprintf(f, "Message-ID: %s\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/alternative;\n boundary=\"%s\"\n\n",
	    mm->message_id, boundary);
	put_part(f, boundary, "text/plain", t->text);
	put_part(f, boundary, "text/html", t->html);
	fprintf(f, "--%s--\n", boundary);
	free(subject);
	return xmemstream_text(f, &buf);
}
