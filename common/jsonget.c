/*
 * A member of a json-c object, read with its type checked; see jsonget.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonget.h"

static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t errlen, const char *where, const char *fmt, ...)
{
	char	what[256];
	va_list	ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s%s", where != NULL ? where : "", what);
	return -1;
}

json_object *
jget(json_object *obj, const char *key)
{
	json_object	*v;

	/* json-c finds nothing in what is not an object; null is NULL. */
	if (obj == NULL || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

const char *
jget_str(json_object *obj, const char *key)
{
	json_object	*v = jget(obj, key);

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
jget_num(json_object *obj, const char *key, double *out)
{
	json_object	*v = jget(obj, key);
	double		 d;

	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return 0;
	if (!isfinite(d = json_object_get_double(v)))
		return 0;
	*out = d;
	return 1;
}

int
jget_flag(json_object *obj, const char *key, int dflt)
{
	json_object	*v = jget(obj, key);

	if (!json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

static const char *
type_name(enum json_type type)
{
	switch (type) {
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	default:
		return "null";
	}
}

int
jget_typed(json_object *obj, const char *where, const char *key,
    enum json_type type, enum jget_need need, json_object **out, char *err,
    size_t errlen)
{
	*out = jget(obj, key);
	if (*out == NULL) {
		if (need == JGET_OPTIONAL)
			return 0;
		return fail(err, errlen, where, "%s is missing", key);
	}
	if (!json_object_is_type(*out, type)) {
		*out = NULL;
		return fail(err, errlen, where, "%s is not %s", key,
		    type_name(type));
	}
	return 1;
}

int
jget_text(json_object *obj, const char *where, const char *key,
    enum jget_need need, const char **out, char *err, size_t errlen)
{
	json_object	*v;
	int		 r;

	*out = NULL;
	if ((r = jget_typed(obj, where, key, json_type_string, need, &v, err,
	    errlen)) <= 0)
		return r;
	if ((size_t)json_object_get_string_len(v) !=
	    strlen(json_object_get_string(v)))
		return fail(err, errlen, where, "%s contains a NUL character",
		    key);
	if (need == JGET_NONEMPTY && json_object_get_string_len(v) == 0)
		return fail(err, errlen, where, "%s is missing", key);
	*out = json_object_get_string(v);
	return 1;
}

/*
 * json-c keeps an integer above INT64_MAX as unsigned, and reads it as
 * INT64_MAX without a word.
 */
static int
int64_of(json_object *v, int64_t *out)
{
	*out = json_object_get_int64(v);
	return *out < INT64_MAX || json_object_get_uint64(v) == INT64_MAX;
}

int
jget_int(json_object *obj, const char *where, const char *key, int64_t min,
    int64_t max, int64_t *out, char *err, size_t errlen)
{
	json_object	*v;
	int64_t		 n;
	int		 r;

	if ((r = jget_typed(obj, where, key, json_type_int, JGET_OPTIONAL, &v,
	    err, errlen)) <= 0)
		return r;
	if (!int64_of(v, &n) || n < min || n > max)
		return fail(err, errlen, where, "%s must be between %lld and "
		    "%lld", key, (long long)min, (long long)max);
	*out = n;
	return 1;
}

int
jget_bool(json_object *obj, const char *where, const char *key, int *out,
    char *err, size_t errlen)
{
	json_object	*v;
	int		 r;

	if ((r = jget_typed(obj, where, key, json_type_boolean, JGET_OPTIONAL,
	    &v, err, errlen)) <= 0)
		return r;
	*out = json_object_get_boolean(v);
	return 1;
}
