/*
 * Building the Slack and Discord documents with json-c without checking
 * every call: the first failure (out of memory) sticks, and the caller
 * drops the whole document when it did.
 */
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"

static json_object *
check(struct chat *c, json_object *v)
{
	if (v == NULL)
		c->failed = 1;
	return v;
}

json_object *
chat_object(struct chat *c)
{
	return check(c, json_object_new_object());
}

json_object *
chat_array(struct chat *c)
{
	return check(c, json_object_new_array());
}

json_object *
chat_string(struct chat *c, const char *s)
{
	return s == NULL ? check(c, NULL) : check(c, json_object_new_string(s));
}

json_object *
chat_int(struct chat *c, long long i)
{
	return check(c, json_object_new_int64(i));
}

json_object *
chat_bool(struct chat *c, int b)
{
	return check(c, json_object_new_boolean(b));
}

/* Adds v to o as key; v is o's (or freed) afterwards. */
void
chat_set(struct chat *c, json_object *o, const char *key, json_object *v)
{
	if (o == NULL || v == NULL ||
	    json_object_object_add(o, key, v) != 0) {
		c->failed = 1;
		json_object_put(v);
	}
}

void
chat_push(struct chat *c, json_object *a, json_object *v)
{
	if (a == NULL || v == NULL || json_object_array_add(a, v) != 0) {
		c->failed = 1;
		json_object_put(v);
	}
}

/* A malloc'd printf; NULL (and the failure noted) when out of memory. */
char *
chat_format(struct chat *c, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1) {
		c->failed = 1;
		return NULL;
	}
	return s;
}

/* The finished document, or NULL when any step failed. */
json_object *
chat_done(struct chat *c, json_object *doc)
{
	if (c->failed) {
		json_object_put(doc);
		return NULL;
	}
	return doc;
}
