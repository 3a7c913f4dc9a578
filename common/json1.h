/*
 * Exactly one JSON value, the whole of a text.  json-c alone stops after
 * the first value and ignores what follows it, and cannot tell a number
 * at the end of its input ("42") from one that goes on.
 */
#ifndef EVALSCHED_JSON1_H
#define EVALSCHED_JSON1_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * Parses text[0..len), JSON blanks allowed around the value, nesting at
 * most depth levels (0: json-c's default of 32), strictly as RFC 8259
 * writes JSON (no trailing commas, no single quotes).  Returns 0 with the
 * value in *out (NULL for a JSON null), or -1 with *out NULL and what is
 * wrong in err: "it is empty", "it ends too soon", "text after the
 * value", or json-c's own description ("unexpected character").  err may
 * be NULL when errlen is 0.
 */
int	json1_parse(const char *text, size_t len, int depth,
	    json_object **out, char *err, size_t errlen);

/*
 * Wipes the text of obj's string member key, if it has one: json-c keeps
 * its own copy of every string, and of what it printed, which a secret
 * must not outlive.
 */
void	json1_wipe_member(json_object *obj, const char *key);

/* Wipes every string in v, however deep: a credentials object's. */
void	json1_wipe_strings(json_object *v);

#endif
