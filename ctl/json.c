/*
 * JSON output: one document per command on stdout, keys in a stable
 * order, times as RFC 3339 strings in the schedule's zone.  json-c
 * escapes the C0 controls in strings; DEL, the C1 controls and the bidi
 * controls, which JSON allows raw but a terminal obeys, are escaped as
 * \u009b and \u202e afterwards (text_escape_json), so that the document
 * shown in a terminal is as safe as the text.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "json1.h"
#include "text.h"

#define JSONB_DEPTH	1024

/* Prints and releases the document. */
void
json_print(json_object *o)
{
	const char	*doc;
	char		*esc;
	size_t		 n;

	doc = jtext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	n = text_escape_json(NULL, 0, doc);
	esc = xcalloc(n + 1, 1);
	text_escape_json(esc, n + 1, doc);
	puts(esc);
	free(esc);
	json_object_put(o);
}

/* NULL becomes JSON null. */
json_object *
json_str(const char *s)
{
	return jnew_string(s);
}

json_object *
json_time(int64_t t, int isnull, const char *zone)
{
	char	buf[64];

	if (isnull)
		return NULL;
	fmt_rfc3339(t, zone, buf, sizeof(buf));
	return jnew_string(buf);
}

/*
 * A numeric column's text as a JSON number, digits as the database has
 * them (json-c would print 0.8 as 0.80000000000000004); NaN and the
 * infinities, which JSON cannot say, become null.
 */
json_object *
json_numeric(const char *s)
{
	char	*end;
	double	 v;

	if (s == NULL)
		return NULL;
	v = strtod(s, &end);
	if (*end != '\0' || end == s || !(v > -HUGE_VAL && v < HUGE_VAL))
		return NULL;
	return jnew_double_s(v, s);
}

/* An array of one object per row, as row_json makes it. */
json_object *
json_rows(const PGresult *res, json_object *(*row_json)(const PGresult *,
    int))
{
	json_object	*a = jnew_array();
	int		 i;

	for (i = 0; i < PQntuples(res); i++)
		jpush(a, row_json(res, i));
	return a;
}

/* A column of a result row: NULL becomes JSON null. */
json_object *
json_col_str(const PGresult *res, int row, const char *col)
{
	return json_str(db_get(res, row, col));
}

/* A time column, in the zone given. */
json_object *
json_col_time(const PGresult *res, int row, const char *col,
    const char *zone)
{
	return json_time(db_int(res, row, col), db_get(res, row, col) == NULL,
	    zone);
}

/*
 * A jsonb column embedded as the value it is, not as a string.  json-c's
 * parser stops at 32 levels by default, where a batch_test_config may go
 * deeper (PostgreSQL allows thousands): it parses up to JSONB_DEPTH
 * levels, and a value it cannot read (deeper still) goes out as the text
 * the database gave, which is JSON already, through a serializer that
 * copies it.  A JSON null is null.
 */
json_object *
json_col_jsonb(const PGresult *res, int row, const char *col)
{
	const char	*v = db_get(res, row, col);
	json_object	*o;
	char		*raw;

	if (v == NULL)
		return NULL;
	if (json1_parse(v, strlen(v), JSONB_DEPTH, &o, NULL, 0) == 0)
		return o;
	raw = xstrdup(v);
	o = jnew_object();
	json_object_set_serializer(o, json_object_userdata_to_json_string, raw,
	    json_object_free_userdata);
	return o;
}
