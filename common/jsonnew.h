/*
 * Building and printing JSON with json-c, whose constructors and printer
 * return NULL when out of memory: here that is fatal, as everywhere
 * (util.h), and no caller checks.
 */
#ifndef EVALSCHED_JSONNEW_H
#define EVALSCHED_JSONNEW_H

#include <stdint.h>

#include <json-c/json.h>

json_object	*jnew_object(void);
json_object	*jnew_array(void);
json_object	*jnew_string(const char *);	/* NULL: NULL, a JSON null */
json_object	*jnew_int(int64_t);
json_object	*jnew_double(double);
json_object	*jnew_double_s(double, const char *);	/* printed as the text */
json_object	*jnew_bool(int);

/* Adds v (NULL: null) to o as key, or to the end of a; o or a owns it. */
void		 jset(json_object *o, const char *key, json_object *v);
void		 jpush(json_object *a, json_object *v);

/*
 * The text json-c prints for v with flags (JSON_C_TO_STRING_*): v's
 * own, valid until v changes or is freed.
 */
const char	*jtext(json_object *v, int flags);

#endif
