/*
 * A member of a json-c object, read one way in every program.
 *
 * A member that is absent and one that is JSON null are alike "not
 * there", and so is every member of what is not an object (or NULL).
 * json-c's own getters convert whatever they are given
 * (json_object_get_int64 reads "12" as 12, json_object_get_string
 * prints an object): these take a member only of the type asked.
 */
#ifndef EVALSCHED_JSONGET_H
#define EVALSCHED_JSONGET_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/*
 * The quiet getters, for JSON that is ours or is only shown: what is not
 * there, or not of the type asked, is NULL, 0 or the default.
 */

/* The member's value; NULL when it is not there. */
json_object	*jget(json_object *obj, const char *key);

/*
 * A string member's text; NULL when it is not there or not a string.  A
 * NUL inside ends the text, as it ends any C string: jget_text refuses
 * such a string where that matters.
 */
const char	*jget_str(json_object *obj, const char *key);

/*
 * A number member, integer or not: 1 with its value in *out when it is
 * one and finite; 0 otherwise, *out left as it was.
 */
int		 jget_num(json_object *obj, const char *key, double *out);

/* A boolean member's value; dflt when it is not there or not a boolean. */
int		 jget_flag(json_object *obj, const char *key, int dflt);

/*
 * The checked getters, for JSON from outside.  Each returns 1 with the
 * value in *out; 0 when the member is not there and need allows it; -1
 * when it is of another type or out of range, or missing and needed,
 * with err saying so ("event.title is not a string").  err names the
 * member as where, then key (where NULL or "" for a member of the
 * document itself) and never quotes its value, which may be a secret;
 * err may be NULL when errlen is 0.  On 0 and -1 a string's or an
 * object's *out is NULL, a number's or a boolean's left as it was: set
 * it to the default first.
 */
enum jget_need {
	JGET_OPTIONAL,		/* not there: 0 */
	JGET_REQUIRED,		/* not there: -1, "KEY is missing" */
	JGET_NONEMPTY		/* so is a string "" (jget_text) */
};

/* A member of json-c's type: "is not a string", "an object", ... */
int	jget_typed(json_object *obj, const char *where, const char *key,
	    enum json_type type, enum jget_need need, json_object **out,
	    char *err, size_t errlen);

/* A string that is a C string: one with a NUL inside is refused. */
int	jget_text(json_object *obj, const char *where, const char *key,
	    enum jget_need need, const char **out, char *err, size_t errlen);

/* An integer (no fraction, no exponent) from min to max. */
int	jget_int(json_object *obj, const char *where, const char *key,
	    int64_t min, int64_t max, int64_t *out, char *err, size_t errlen);

/* true or false, as 1 or 0. */
int	jget_bool(json_object *obj, const char *where, const char *key,
	    int *out, char *err, size_t errlen);

#endif
