/*
 * JSON text byte for byte as JavaScript's JSON.stringify writes it, so
 * that our generic webhook body is the application's: compact; strings
 * escaped only where they must be ("\"", "\\", \b \f \n \r \t, \u00xx
 * for the other control characters, \udxxx for a lone surrogate) and
 * everything else, "/" and non-ASCII included, as it is; numbers in
 * JavaScript's shortest form (5.0 is "5", 1e21 "1e+21"); an object's
 * members in the order JavaScript keeps them: array-index keys ("0",
 * "42") first in ascending order, then the others in insertion order.
 * json-c's own printer differs in each of these.
 *
 * Bytes that are not UTF-8 become U+FFFD, one for each maximal bad
 * subsequence, as Node's decoder makes them.  A surrogate's own UTF-8
 * form (ED A0..BF xx) is what a lone surrogate looks like in bytes, and
 * is written as its escape.
 */
#include <json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"
#include "testhooks.h"
#include "text.h"

#define MAX_INDEX	4294967294ULL	/* 2^32 - 2: JavaScript's last */

static void
write_escape(FILE *f, long cp)
{
	switch (cp) {
	case '"':
		fputs("\\\"", f);
		break;
	case '\\':
		fputs("\\\\", f);
		break;
	case '\b':
		fputs("\\b", f);
		break;
	case '\f':
		fputs("\\f", f);
		break;
	case '\n':
		fputs("\\n", f);
		break;
	case '\r':
		fputs("\\r", f);
		break;
	case '\t':
		fputs("\\t", f);
		break;
	default:
		fprintf(f, "\\u%04lx", cp);
		break;
	}
}

void
js_write_string(FILE *f, const char *str, size_t len)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;
	long			 cp;

	fputc('"', f);
	while (len > 0) {
		/* JavaScript strings may hold lone surrogates. */
		n = text_utf8_next(s, len, 1, &cp);
		if (cp == '"' || cp == '\\' || (cp >= 0 && cp < 0x20) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			write_escape(f, cp);
		else if (cp < 0)
			fputs("\xef\xbf\xbd", f);
		else
			fwrite(s, 1, n, f);
		s += n;
		len -= n;
	}
	fputc('"', f);
}

/* The shortest digits that read back as d (d > 0), and its exponent. */
static int
shortest_digits(double d, char *digits, int *exp10)
{
	char	buf[40], *p;
	int	prec, k = 0;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	for (p = buf; *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[k++] = *p;
	*exp10 = atoi(p + 1);
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = '\0';
	return k;
}

static void
zeros(FILE *f, int n)
{
	while (n-- > 0)
		fputc('0', f);
}

/* ECMAScript's Number::toString(10), for a finite d > 0. */
static void
write_positive(FILE *f, double d)
{
	char	digits[24];
	int	k, e, n;

	k = shortest_digits(d, digits, &e);
	n = e + 1;		/* where the decimal point goes */
	if (k <= n && n <= 21) {
		fputs(digits, f);
		zeros(f, n - k);
	} else if (0 < n && n <= 21)
		fprintf(f, "%.*s.%s", n, digits, digits + n);
	else if (-6 < n && n <= 0) {
		fputs("0.", f);
		zeros(f, -n);
		fputs(digits, f);
	} else
		fprintf(f, "%c%s%se%c%d", digits[0], k > 1 ? "." : "",
		    digits + 1, n - 1 < 0 ? '-' : '+', abs(n - 1));
}

void
js_write_number(FILE *f, double d)
{
	if (!isfinite(d)) {
		fputs("null", f);
		return;
	}
	if (d == 0) {		/* -0 too */
		fputc('0', f);
		return;
	}
	if (d < 0) {
		fputc('-', f);
		d = -d;
	}
	write_positive(f, d);
}

static void
write_int(FILE *f, json_object *v)
{
	int64_t	i = json_object_get_int64(v);

	/* Past 2^53 JavaScript has a double, and prints the double. */
	if (i == INT64_MAX)
		js_write_number(f, (double)json_object_get_uint64(v));
	else if (i > -9007199254740992LL && i < 9007199254740992LL)
		fprintf(f, "%lld", (long long)i);
	else
		js_write_number(f, (double)i);
}

/* "0", "42": a JavaScript array index, which an object puts first. */
static int
array_index(const char *key, unsigned long long *idx)
{
	const char	*p;

	if (*key == '\0' || (key[0] == '0' && key[1] != '\0'))
		return 0;
	*idx = 0;
	for (p = key; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - key >= 10)
			return 0;
		*idx = *idx * 10 + (unsigned long long)(*p - '0');
	}
	return *idx <= MAX_INDEX;
}

struct indexed {
	unsigned long long	 idx;
	const char		*key;
	json_object		*val;
};

static int
by_index(const void *a, const void *b)
{
	const struct indexed	*x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void
write_member(FILE *f, int *first, const char *key, json_object *val)
{
	if (!*first)
		fputc(',', f);
	*first = 0;
	js_write_string(f, key, strlen(key));
	fputc(':', f);
	js_write(f, val);
}

/* The array-index keys, sorted. */
static void
write_indexed(FILE *f, int *first, json_object *o)
{
	struct json_object_iterator	it, end;
	struct indexed			*list;
	size_t				 n = 0, i;

	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	list = xcalloc((size_t)json_object_object_length(o) + 1,
	    sizeof(*list));
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		if (array_index(json_object_iter_peek_name(&it),
		    &list[n].idx)) {
			list[n].key = json_object_iter_peek_name(&it);
			list[n++].val = json_object_iter_peek_value(&it);
		}
	qsort(list, n, sizeof(*list), by_index);
	for (i = 0; i < n; i++)
		write_member(f, first, list[i].key, list[i].val);
	free(list);
}

static void
write_object(FILE *f, json_object *o)
{
	struct json_object_iterator	it, end;
	unsigned long long		idx;
	int				first = 1;

	fputc('{', f);
	write_indexed(f, &first, o);
	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		if (!array_index(json_object_iter_peek_name(&it), &idx))
			write_member(f, &first, json_object_iter_peek_name(&it),
			    json_object_iter_peek_value(&it));
	fputc('}', f);
}

static void
write_array(FILE *f, json_object *a)
{
	size_t	i, n = json_object_array_length(a);

	fputc('[', f);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		js_write(f, json_object_array_get_idx(a, i));
	}
	fputc(']', f);
}

/* Writes v (the stream's own errors: ferror). */
void
js_write(FILE *f, json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		fputs("null", f);
		break;
	case json_type_boolean:
		fputs(json_object_get_boolean(v) ? "true" : "false", f);
		break;
	case json_type_int:
		write_int(f, v);
		break;
	case json_type_double:
		js_write_number(f, json_object_get_double(v));
		break;
	case json_type_string:
		js_write_string(f, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_object:
		write_object(f, v);
		break;
	case json_type_array:
		write_array(f, v);
		break;
	}
}

/* v as JSON.stringify(v) has it, malloc'd. */
char *
js_stringify(json_object *v)
{
	FILE	*f;
	char	*buf;
	size_t	 len;

	f = xmemstream(&buf, &len);
	js_write(f, v);
	return xmemstream_text(f, &buf);
}

/*
 * The keys of o in the order JavaScript keeps them (see above): a
 * malloc'd array of n pointers into o.
 */
const char **
js_keys(json_object *o, size_t *n)
{
	struct json_object_iterator	it, end;
	struct indexed			*idx;
	unsigned long long		 i;
	const char			**keys;
	size_t				 k = 0, ni = 0, j, total;

	total = (size_t)json_object_object_length(o);
	keys = xcalloc(total + 1, sizeof(*keys));
	idx = xcalloc(total + 1, sizeof(*idx));
	end = json_object_iter_end(o);
	for (it = json_object_iter_begin(o); !json_object_iter_equal(&it,
	    &end); json_object_iter_next(&it))
		if (array_index(json_object_iter_peek_name(&it), &i)) {
			idx[ni].idx = i;
			idx[ni++].key = json_object_iter_peek_name(&it);
		}
	qsort(idx, ni, sizeof(*idx), by_index);
	for (j = 0; j < ni; j++)
		keys[k++] = idx[j].key;
	for (it = json_object_iter_begin(o); !json_object_iter_equal(&it,
	    &end); json_object_iter_next(&it))
		if (!array_index(json_object_iter_peek_name(&it), &i))
			keys[k++] = json_object_iter_peek_name(&it);
	free(idx);
	*n = k;
	return keys;
}
