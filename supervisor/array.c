/*
 * PostgreSQL array literals ("{a,b,c}") grown item by item, for the
 * batched statements: one parameter whatever the number of rows.  The
 * items are uuids and numbers read from the database, never free text.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

void
array_add(struct array *a, const char *item)
{
	size_t	need = a->len + strlen(item) + 3;

	if (need > a->cap) {
		a->cap = need * 2;
		if ((a->buf = realloc(a->buf, a->cap)) == NULL)
			fatal("realloc");
	}
	a->buf[a->len] = a->len == 0 ? '{' : ',';
	a->len++;
	a->len += strlcpy(a->buf + a->len, item, a->cap - a->len);
}

const char *
array_text(struct array *a)
{
	if (a->len == 0)
		return "{}";
	a->buf[a->len] = '}';
	a->buf[a->len + 1] = '\0';
	return a->buf;
}

void
array_free(struct array *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}
