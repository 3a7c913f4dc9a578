/*
 * jsonget: a member of a json-c object read with its type checked.  Each
 * getter is tried on a member that is there and right, absent, null, of
 * another type, and, for the checked ones, what err then says.  And
 * jsonnew, which builds what they read.
 */
#include <stdint.h>
#include <string.h>

#include <json.h>

#include "json1.h"
#include "jsonget.h"
#include "jsonnew.h"
#include "tap.h"

/*
 * One document with a member of every kind; "nul" is "a\u0000b", which
 * json-c keeps whole (3 bytes) while C reads "a".
 */
static const char doc_text[] =
    "{\"s\": \"text\", \"empty\": \"\", \"nul\": \"a\\u0000b\", "
    "\"i\": 42, \"neg\": -7, \"big\": 18446744073709551615, "
    "\"d\": 1.5, \"n\": null, \"t\": true, \"f\": false, "
    "\"o\": {\"inner\": \"x\"}, \"a\": [1, 2], \"num_text\": \"12\"}";

static json_object *doc;

static void
test_quiet(void)
{
	double	d = -1;

	tap_ok(jget(doc, "o") != NULL, "jget: a member that is there");
	tap_ok(jget(doc, "absent") == NULL, "jget: absent is NULL");
	tap_ok(jget(doc, "n") == NULL, "jget: null is NULL");
	tap_ok(jget(jget(doc, "a"), "x") == NULL,
	    "jget: a member of an array is NULL");
	tap_ok(jget(NULL, "x") == NULL, "jget: a member of NULL is NULL");
	tap_is_str(jget_str(jget(doc, "o"), "inner"), "x",
	    "jget_str: a member of a member");

	tap_is_str(jget_str(doc, "s"), "text", "jget_str: a string");
	tap_is_str(jget_str(doc, "empty"), "", "jget_str: \"\" is a string");
	tap_is_str(jget_str(doc, "nul"), "a", "jget_str: a NUL ends the text");
	tap_ok(jget_str(doc, "i") == NULL, "jget_str: an integer is not one");
	tap_ok(jget_str(doc, "o") == NULL, "jget_str: an object is not one");
	tap_ok(jget_str(doc, "n") == NULL, "jget_str: null is NULL");
	tap_ok(jget_str(doc, "absent") == NULL, "jget_str: absent is NULL");

	tap_ok(jget_num(doc, "i", &d) == 1 && d == 42,
	    "jget_num: an integer");
	tap_ok(jget_num(doc, "d", &d) == 1 && d == 1.5,
	    "jget_num: a number with a fraction");
	d = -1;
	tap_ok(jget_num(doc, "num_text", &d) == 0 && d == -1,
	    "jget_num: a string of digits is no number, *out untouched");
	tap_ok(jget_num(doc, "t", &d) == 0 && jget_num(doc, "n", &d) == 0 &&
	    jget_num(doc, "absent", &d) == 0 && d == -1,
	    "jget_num: true, null and absent are none");

	tap_ok(jget_flag(doc, "t", 0) == 1 && jget_flag(doc, "f", 1) == 0,
	    "jget_flag: true and false");
	tap_ok(jget_flag(doc, "absent", 1) == 1 && jget_flag(doc, "n", 1) == 1,
	    "jget_flag: absent and null are the default");
	tap_ok(jget_flag(doc, "s", 0) == 0 && jget_flag(doc, "i", 0) == 0 &&
	    jget_flag(doc, "s", 1) == 1,
	    "jget_flag: a string or a number is the default, not truthy");
}

/* What a checked getter returned and said, in one line. */
static void
said(int r, int want, const char *err, const char *want_err,
    const char *what)
{
	tap_ok(r == want && strcmp(err, want_err) == 0, "%s", what);
	if (r != want || strcmp(err, want_err) != 0)
		tap_diag("returned %d, want %d; err '%s', want '%s'", r, want,
		    err, want_err);
}

static void
test_typed(void)
{
	json_object	*v = doc;
	char		 err[128] = "";
	int		 r;

	r = jget_typed(doc, NULL, "o", json_type_object, JGET_REQUIRED, &v,
	    err, sizeof(err));
	tap_ok(r == 1 && v == jget(doc, "o"), "typed: an object found");
	r = jget_typed(doc, NULL, "absent", json_type_array, JGET_OPTIONAL,
	    &v, err, sizeof(err));
	tap_ok(r == 0 && v == NULL, "typed: optional and absent: 0, NULL");
	r = jget_typed(doc, NULL, "n", json_type_array, JGET_OPTIONAL, &v,
	    err, sizeof(err));
	tap_ok(r == 0 && v == NULL, "typed: optional and null: 0, NULL");
	r = jget_typed(doc, "event.", "n", json_type_string, JGET_REQUIRED,
	    &v, err, sizeof(err));
	said(r, -1, err, "event.n is missing", "typed: required and null");
	tap_ok(v == NULL, "typed: missing leaves NULL");
	r = jget_typed(doc, "webhooks[0].", "o", json_type_array,
	    JGET_OPTIONAL, &v, err, sizeof(err));
	said(r, -1, err, "webhooks[0].o is not an array",
	    "typed: the wrong type, named with where");
	tap_ok(v == NULL, "typed: the wrong type leaves NULL");
	r = jget_typed(doc, "", "i", json_type_object, JGET_OPTIONAL, &v,
	    err, sizeof(err));
	said(r, -1, err, "i is not an object", "typed: \"\" as where");
	r = jget_typed(doc, NULL, "d", json_type_int, JGET_OPTIONAL, &v,
	    err, sizeof(err));
	said(r, -1, err, "d is not an integer", "typed: 1.5 is no integer");
	tap_ok(jget_typed(doc, NULL, "s", json_type_int, JGET_OPTIONAL, &v,
	    NULL, 0) == -1, "typed: err may be NULL");
}

static void
test_text(void)
{
	const char	*s = "unset";
	char		 err[128] = "";
	int		 r;

	r = jget_text(doc, NULL, "s", JGET_NONEMPTY, &s, err, sizeof(err));
	tap_ok(r == 1 && strcmp(s, "text") == 0, "text: a string");
	r = jget_text(doc, NULL, "empty", JGET_REQUIRED, &s, err, sizeof(err));
	tap_ok(r == 1 && strcmp(s, "") == 0, "text: \"\" is there");
	r = jget_text(doc, NULL, "empty", JGET_NONEMPTY, &s, err, sizeof(err));
	said(r, -1, err, "empty is missing", "text: \"\" is missing when "
	    "it must not be empty");
	tap_ok(s == NULL, "text: *out NULL when refused");
	r = jget_text(doc, NULL, "nul", JGET_OPTIONAL, &s, err, sizeof(err));
	said(r, -1, err, "nul contains a NUL character",
	    "text: a NUL inside is refused");
	r = jget_text(doc, NULL, "absent", JGET_OPTIONAL, &s, err,
	    sizeof(err));
	tap_ok(r == 0 && s == NULL, "text: optional and absent");
	r = jget_text(doc, "email.", "absent", JGET_REQUIRED, &s, err,
	    sizeof(err));
	said(r, -1, err, "email.absent is missing", "text: required, absent");
	r = jget_text(doc, NULL, "num_text", JGET_REQUIRED, &s, err,
	    sizeof(err));
	tap_ok(r == 1 && strcmp(s, "12") == 0, "text: digits are a string");
	r = jget_text(doc, NULL, "i", JGET_REQUIRED, &s, err, sizeof(err));
	said(r, -1, err, "i is not a string",
	    "text: an integer is not converted");
}

static void
test_int(void)
{
	int64_t	n = 5;
	char	err[128] = "";
	int	r;

	r = jget_int(doc, NULL, "i", 0, 100, &n, err, sizeof(err));
	tap_ok(r == 1 && n == 42, "int: in range");
	n = 5;
	r = jget_int(doc, NULL, "absent", 0, 100, &n, err, sizeof(err));
	tap_ok(r == 0 && n == 5, "int: absent leaves the default");
	r = jget_int(doc, NULL, "n", 0, 100, &n, err, sizeof(err));
	tap_ok(r == 0 && n == 5, "int: null leaves the default");
	r = jget_int(doc, NULL, "neg", 0, 100, &n, err, sizeof(err));
	said(r, -1, err, "neg must be between 0 and 100", "int: below min");
	tap_ok(n == 5, "int: out of range leaves *out");
	r = jget_int(doc, NULL, "i", 0, 41, &n, err, sizeof(err));
	said(r, -1, err, "i must be between 0 and 41", "int: above max");
	r = jget_int(doc, NULL, "big", 0, INT64_MAX, &n, err, sizeof(err));
	said(r, -1, err, "big must be between 0 and 9223372036854775807",
	    "int: 2^64 - 1 is above INT64_MAX, not INT64_MAX");
	r = jget_int(doc, NULL, "num_text", 0, 100, &n, err, sizeof(err));
	said(r, -1, err, "num_text is not an integer",
	    "int: a string of digits is refused, not converted");
	r = jget_int(doc, NULL, "d", 0, 100, &n, err, sizeof(err));
	said(r, -1, err, "d is not an integer", "int: 1.5 is refused");
	r = jget_int(doc, NULL, "t", 0, 100, &n, err, sizeof(err));
	said(r, -1, err, "t is not an integer", "int: true is refused");
	tap_ok(n == 5, "int: *out untouched by every refusal");
}

static void
test_bool(void)
{
	char	err[128] = "";
	int	b = 7, r;

	r = jget_bool(doc, NULL, "f", &b, err, sizeof(err));
	tap_ok(r == 1 && b == 0, "bool: false");
	r = jget_bool(doc, NULL, "t", &b, err, sizeof(err));
	tap_ok(r == 1 && b == 1, "bool: true");
	b = 7;
	r = jget_bool(doc, NULL, "absent", &b, err, sizeof(err));
	tap_ok(r == 0 && b == 7, "bool: absent leaves the default");
	r = jget_bool(doc, NULL, "s", &b, err, sizeof(err));
	said(r, -1, err, "s is not a boolean", "bool: a string is refused");
	r = jget_bool(doc, NULL, "i", &b, err, sizeof(err));
	said(r, -1, err, "i is not a boolean", "bool: 42 is refused");
	tap_ok(b == 7, "bool: *out untouched by a refusal");
}

/* What jnew_* and jset make, read back; NULL is a JSON null. */
static void
test_new(void)
{
	json_object	*o = jnew_object(), *a = jnew_array();
	int64_t		 n = 0;
	double		 d = 0;

	jset(o, "s", jnew_string("x"));
	jset(o, "null", jnew_string(NULL));
	jset(o, "i", jnew_int(INT64_MIN));
	jset(o, "d", jnew_double(0.25));
	jset(o, "b", jnew_bool(1));
	jset(o, "ds", jnew_double_s(0.8, "0.8"));
	jpush(a, jnew_int(1));
	jpush(a, NULL);
	jset(o, "a", a);
	tap_is_str(jtext(o, JSON_C_TO_STRING_PLAIN),
	    "{\"s\":\"x\",\"null\":null,\"i\":-9223372036854775808,"
	    "\"d\":0.25,\"b\":true,\"ds\":0.8,\"a\":[1,null]}",
	    "jnew, jtext: the document as built, 0.8 as written");
	tap_is_str(jtext(a, JSON_C_TO_STRING_SPACED), "[ 1, null ]",
	    "jtext: the flags are json-c's");
	tap_ok(jget_int(o, NULL, "i", INT64_MIN, 0, &n, NULL, 0) == 1 &&
	    n == INT64_MIN, "jnew_int: INT64_MIN read back");
	tap_ok(jget_num(o, "d", &d) == 1 && d == 0.25,
	    "jnew_double: read back");
	tap_ok(json_object_object_get_ex(o, "null", NULL) &&
	    jget(o, "null") == NULL, "jnew_string(NULL): a member, null");
	json_object_put(o);
}

int
main(void)
{
	if (json1_parse(doc_text, strlen(doc_text), 0, &doc, NULL, 0) == -1) {
		tap_ok(0, "the test document parses");
		return tap_done();
	}
	test_quiet();
	test_typed();
	test_text();
	test_int();
	test_bool();
	test_new();
	json_object_put(doc);
	return tap_done();
}
