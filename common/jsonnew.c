/*
 * json-c's constructors and printer, with out of memory fatal; see
 * jsonnew.h.
 */
#include "jsonnew.h"
#include "util.h"

static json_object *
made(json_object *v, const char *what)
{
	if (v == NULL)
		out_of_memory(what);
	return v;
}

json_object *
jnew_object(void)
{
	return made(json_object_new_object(), "json_object_new_object");
}

json_object *
jnew_array(void)
{
	return made(json_object_new_array(), "json_object_new_array");
}

json_object *
jnew_string(const char *s)
{
	if (s == NULL)
		return NULL;
	return made(json_object_new_string(s), "json_object_new_string");
}

json_object *
jnew_int(int64_t i)
{
	return made(json_object_new_int64(i), "json_object_new_int64");
}

json_object *
jnew_double(double d)
{
	return made(json_object_new_double(d), "json_object_new_double");
}

json_object *
jnew_double_s(double d, const char *s)
{
	return made(json_object_new_double_s(d, s), "json_object_new_double_s");
}

json_object *
jnew_bool(int b)
{
	return made(json_object_new_boolean(b), "json_object_new_boolean");
}

void
jset(json_object *o, const char *key, json_object *v)
{
	if (json_object_object_add(o, key, v) != 0)
		out_of_memory("json_object_object_add");
}

void
jpush(json_object *a, json_object *v)
{
	if (json_object_array_add(a, v) != 0)
		out_of_memory("json_object_array_add");
}

const char *
jtext(json_object *v, int flags)
{
	const char	*s;

	if ((s = json_object_to_json_string_ext(v, flags)) == NULL)
		out_of_memory("json_object_to_json_string_ext");
	return s;
}
