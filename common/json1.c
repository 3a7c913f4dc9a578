/*
 * Exactly one JSON value: the one check every reader of outside JSON
 * (a job, an answer, an alert, a --config) needs, in one place.
 */
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "json1.h"
#include "util.h"
#include "jsonget.h"

/* JSON's own blanks (RFC 8259, section 2), not isspace's. */
static size_t
skip_blanks(const char *text, size_t len, size_t off)
{
	while (off < len && memchr(" \t\n\r", text[off], 4) != NULL)
		off++;
	return off;
}

static int
fail(char *err, size_t errlen, const char *why)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", why);
	return -1;
}

/*
 * json-c waits for more after "42", "null" or "1.5" and says "continue":
 * the end of the text, given to it as a NUL, says there is no more.
 * *end is where it stopped: after the value, or at the error.
 */
static void
parse_to_end(const char *text, size_t len, int depth, json_object **o,
    enum json_tokener_error *jerr, size_t *end)
{
	json_tokener	*tok;

	if ((tok = json_tokener_new_ex(depth)) == NULL)
		out_of_memory("json_tokener_new_ex");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	*o = json_tokener_parse_ex(tok, text, (int)len);
	*jerr = json_tokener_get_error(tok);
	*end = json_tokener_get_parse_end(tok);
	if (*jerr == json_tokener_continue) {
		*o = json_tokener_parse_ex(tok, "", 1);
		*jerr = json_tokener_get_error(tok);
		*end = len;
	}
	json_tokener_free(tok);
}

/*
 * Strict json-c refuses what follows a value as an unexpected character:
 * it is text after the value when all before it is one.
 */
static int
value_before(const char *text, size_t end, int depth)
{
	enum json_tokener_error	 jerr;
	json_object		*o;
	size_t			 e;

	if (end == 0)
		return 0;
	parse_to_end(text, end, depth, &o, &jerr, &e);
	json_object_put(o);
	return jerr == json_tokener_success;
}

int
json1_parse(const char *text, size_t len, int depth, json_object **out,
    char *err, size_t errlen)
{
	enum json_tokener_error	 jerr;
	size_t			 end;

	*out = NULL;
	if (depth <= 0)
		depth = JSON_TOKENER_DEFAULT_DEPTH;
	if (len >= INT_MAX)
		return fail(err, errlen, "too large");
	if (skip_blanks(text, len, 0) == len)
		return fail(err, errlen, "it is empty");
	parse_to_end(text, len, depth, out, &jerr, &end);
	if (jerr == json_tokener_error_parse_eof)
		return fail(err, errlen, "it ends too soon");
	if (jerr == json_tokener_error_parse_unexpected &&
	    value_before(text, end, depth))
		return fail(err, errlen, "text after the value");
	if (jerr != json_tokener_success)
		return fail(err, errlen, json_tokener_error_desc(jerr));
	if (skip_blanks(text, len, end) < len) {
		json_object_put(*out);
		*out = NULL;
		return fail(err, errlen, "text after the value");
	}
	return 0;
}

void
json1_wipe_member(json_object *obj, const char *key)
{
	json_object	*v = jget(obj, key);

	if (json_object_is_type(v, json_type_string))
		explicit_bzero((char *)(uintptr_t)json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
}

void
json1_wipe_strings(json_object *v)
{
	size_t	i;

	switch (json_object_get_type(v)) {
	case json_type_string:
		explicit_bzero((char *)(uintptr_t)json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++)
			json1_wipe_strings(json_object_array_get_idx(v, i));
		break;
	case json_type_object: {
		json_object_object_foreach(v, key, member) {
			(void)key;
			json1_wipe_strings(member);
		}
		break;
	}
	default:
		break;
	}
}
