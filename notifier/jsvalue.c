/*
 * What JavaScript makes of a metadata value, for the texts the
 * application's formatters write with it: whether it is there at all
 * (undefined) or null, truthy, String(v), Number(v), toFixed,
 * Math.round, and a string's length and slice in UTF-16 code units.
 * The formatters test `v !== undefined`, `v` and `v !== null` and print
 * `${v}`: a text byte for byte as theirs takes each of these as
 * JavaScript does.
 *
 * Strings are UTF-8 as json-c read them.  Where JavaScript would hold a
 * lone surrogate (a slice that cuts a character of two code units), the
 * string holds its three-byte form, which js_write_string writes as the
 * escape JSON.stringify writes, and js_utf8 as the U+FFFD that Node
 * writes in UTF-8.
 */
#include <ctype.h>
#include <json.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "notifier.h"
#include "text.h"

#define FIXED_DIGITS	1100	/* a double's exact expansion fits */

int
js_member(json_object *obj, const char *key, json_object **v)
{
	*v = NULL;
	return obj != NULL && json_object_is_type(obj, json_type_object) &&
	    json_object_object_get_ex(obj, key, v);
}

int
js_truthy(int present, json_object *v)
{
	double	d;

	if (!present || v == NULL)
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return json_object_get_boolean(v);
	case json_type_int:
	case json_type_double:
		d = json_object_get_double(v);
		return d != 0 && !isnan(d);
	case json_type_string:
		return json_object_get_string_len(v) > 0;
	default:
		return 1;
	}
}

int
js_is_number(int present, json_object *v)
{
	return present && v != NULL && (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double));
}

/* Number::toString: "NaN", "Infinity", else as JSON.stringify has it. */
void
js_number_string(double d, char *buf, size_t len)
{
	FILE	*f;

	if (isnan(d)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, len, "%sInfinity", d < 0 ? "-" : "");
		return;
	}
	if ((f = fmemopen(buf, len, "w")) == NULL)
		out_of_memory("fmemopen");
	js_write_number(f, d);
	fputc('\0', f);
	fclose(f);
	buf[len - 1] = '\0';
}

static void
write_string_of(FILE *f, json_object *v)
{
	size_t	i, n;

	switch (json_object_get_type(v)) {
	case json_type_null:
		break;		/* in an array's join, null is "" */
	case json_type_string:
		fwrite(json_object_get_string(v), 1,
		    (size_t)json_object_get_string_len(v), f);
		break;
	case json_type_object:
		fputs("[object Object]", f);
		break;
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				fputc(',', f);
			write_string_of(f, json_object_array_get_idx(v, i));
		}
		break;
	default:
		js_write(f, v);
		break;
	}
}

/* String(v), as `${v}` writes it; malloc'd. */
char *
js_string(int present, json_object *v)
{
	FILE	*f;
	char	*buf;
	size_t	 len;

	if (!present)
		return xstrdup("undefined");
	if (v == NULL)
		return xstrdup("null");
	f = xmemstream(&buf, &len);
	write_string_of(f, v);
	return xmemstream_text(f, &buf);
}

/* Number(s) for a string: blanks around a decimal or 0x number. */
static double
string_number(const char *s)
{
	char	*end;
	double	 d;
	size_t	 n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return 0;
	if (strncmp(s, "Infinity", n) == 0 && n == 8)
		return INFINITY;
	if ((*s == '+' || *s == '-') && n == 9 &&
	    strncmp(s + 1, "Infinity", 8) == 0)
		return *s == '-' ? -INFINITY : INFINITY;
	/* strtod takes "inf", "nan" and hexadecimal floats; Number does not. */
	if (strspn(s, "0123456789+-.eE") < n &&
	    !(n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
	    strspn(s + 2, "0123456789abcdefABCDEF") == n - 2))
		return NAN;
	d = strtod(s, &end);
	return (size_t)(end - s) == n ? d : NAN;
}

double
js_number(int present, json_object *v)
{
	if (!present)
		return NAN;
	if (v == NULL)
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return json_object_get_boolean(v);
	case json_type_int:
	case json_type_double:
		return json_object_get_double(v);
	case json_type_string:
		return string_number(json_object_get_string(v));
	default:
		return NAN;	/* an object; an array is rarely a number */
	}
}

/* Math.round: a tie goes up, toward +Infinity. */
double
js_round(double x)
{
	double	r;

	if (!isfinite(x))
		return x;
	r = floor(x);
	return x - r >= 0.5 ? r + 1 : r;
}

/* Adds one to the last digit of the decimal number in buf (len). */
static void
carry(char *buf, size_t len)
{
	size_t	i = len;

	while (i > 0) {
		i--;
		if (buf[i] == '.')
			continue;
		if (buf[i] != '9') {
			buf[i]++;
			return;
		}
		buf[i] = '0';
	}
	memmove(buf + 1, buf, len + 1);
	buf[0] = '1';
}

/*
 * Number.prototype.toFixed(digits): the exact value rounded to digits
 * decimals, a tie away from zero (printf rounds a tie to even).
 */
void
js_to_fixed(double x, int digits, char *buf, size_t len)
{
	char	exact[FIXED_DIGITS + 400], *dot;
	size_t	keep;
	int	neg = x < 0, up;

	if (isnan(x) || fabs(x) >= 1e21) {
		js_number_string(x, buf, len);
		return;
	}
	if (neg)
		x = -x;
	snprintf(exact, sizeof(exact) - 1, "%.*f", FIXED_DIGITS, x);
	dot = strchr(exact, '.');
	keep = (size_t)(dot - exact) + (digits > 0 ? 1 + (size_t)digits : 0);
	up = dot[1 + digits] >= '5';
	exact[keep] = '\0';
	if (up)
		carry(exact, keep);
	snprintf(buf, len, "%s%s", neg ? "-" : "", exact);
}

/*
 * The application's formatDuration (the email's and the integrations'),
 * for an ms that is truthy: "1h 2m", "3m 4s", "5s".
 */
void
js_duration(double ms, char *buf, size_t len)
{
	double	s = floor(ms / 1000), min = floor(s / 60), h = floor(min / 60);
	char	a[64], b[64];

	if (h > 0) {
		js_number_string(h, a, sizeof(a));
		js_number_string(min - 60 * h, b, sizeof(b));
		snprintf(buf, len, "%sh %sm", a, b);
	} else if (min > 0) {
		js_number_string(min, a, sizeof(a));
		js_number_string(s - 60 * min, b, sizeof(b));
		snprintf(buf, len, "%sm %ss", a, b);
	} else {
		js_number_string(s, a, sizeof(a));
		snprintf(buf, len, "%ss", a);
	}
}

/* The UTF-16 code units of the character at s (n bytes of it). */
static size_t
units(const unsigned char *s, size_t avail, size_t *n)
{
	long	cp;

	*n = text_utf8_next(s, avail, 1, &cp);
	return cp >= 0x10000 ? 2 : 1;	/* bad bytes: one U+FFFD */
}

size_t
js_length(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 len = strlen(str), count = 0, n;

	while (len > 0) {
		count += units(s, len, &n);
		s += n;
		len -= n;
	}
	return count;
}

/*
 * str.slice(0, max) in code units; a character cut in two leaves its
 * high surrogate, as JavaScript does.
 */
char *
js_slice(const char *str, size_t max)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 len = strlen(str), count = 0, n, u;
	char			*out;
	long			 cp;

	while (len > 0) {
		u = units(s, len, &n);
		if (count + u > max)
			break;
		count += u;
		s += n;
		len -= n;
	}
	n = (size_t)((const char *)s - str);
	out = xreallocarray(NULL, n + 4, 1);
	memcpy(out, str, n);
	out[n] = '\0';
	if (len > 0 && count < max) {
		/* The high surrogate of the character at s, in three bytes. */
		text_utf8_next(s, len, 1, &cp);
		cp = 0xd800 + ((cp - 0x10000) >> 10);
		out[n] = (char)(0xe0 | (cp >> 12));
		out[n + 1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[n + 2] = (char)(0x80 | (cp & 0x3f));
		out[n + 3] = '\0';
	}
	return out;
}

/*
 * The UTF-8 that Node writes for str: each lone surrogate and each
 * maximal bad sequence U+FFFD, malloc'd.
 */
char *
js_utf8(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 len = strlen(str), n;
	char			*out, *w;
	long			 cp;

	/* U+FFFD takes three bytes, and replaces at least one. */
	out = xreallocarray(NULL, len + 1, 3);
	for (w = out; len > 0; s += n, len -= n) {
		n = text_utf8_next(s, len, 1, &cp);
		if (cp < 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
			memcpy(w, "\xef\xbf\xbd", 3);
			w += 3;
		} else {
			memcpy(w, s, n);
			w += n;
		}
	}
	*w = '\0';
	return out;
}

static void
put_utf8(char **w, long cp)
{
	unsigned char	*p = (unsigned char *)*w;

	if (cp < 0x80)
		*p++ = (unsigned char)cp;
	else if (cp < 0x800) {
		*p++ = (unsigned char)(0xc0 | (cp >> 6));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*p++ = (unsigned char)(0xe0 | (cp >> 12));
		*p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*p++ = (unsigned char)(0xf0 | (cp >> 18));
		*p++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*w = (char *)p;
}

/*
 * toLowerCase, a character for a character (C.UTF-8's table; without
 * it, ASCII alone).  JavaScript's few mappings to two characters (U+0130)
 * and its final sigma are not made.
 */
char *
js_lower(const char *str)
{
	static locale_t		 loc;
	static int		 tried;
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 len = strlen(str), n;
	char			*out, *w;
	long			 cp, low;

	if (!tried) {
		tried = 1;
		loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	/* A lower case character takes at most one byte more (U+023A). */
	out = xreallocarray(NULL, len + 1, 2);
	for (w = out; len > 0; s += n, len -= n) {
		n = text_utf8_next(s, len, 1, &cp);
		if (cp < 0) {
			memcpy(w, s, n);
			w += n;
			continue;
		}
		if (cp < 0x80)
			low = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
		else
			low = loc != (locale_t)0 ? (long)towlower_l((wint_t)cp,
			    loc) : cp;
		put_utf8(&w, low);
	}
	*w = '\0';
	return out;
}
