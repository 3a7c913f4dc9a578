/*
 * A notifier's result, read: what each channel came to, rewritten as the
 * schema's evalsched_alert_result takes it (each member of the type it
 * is read as, ids that are UUIDs, texts valid UTF-8 of a bounded
 * length), so that no answer of a notifier makes the write fail and the
 * event be delivered again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "json1.h"
#include "jsonget.h"
#include "jsonnew.h"
#include "text.h"
#include "supervisor.h"

#define ERROR_MAX	1000	/* characters of an error text kept */

/* A retry unless the notifier says otherwise, as before it said so. */
static int
retries(json_object *o)
{
	return jget_flag(o, "retry", 1);
}

/* A string member as text for the database; JSON null when there is none. */
static json_object *
text_of(json_object *o, const char *key, size_t max)
{
	const char	*text = jget_str(o, key);
	json_object	*out;
	char		*s;

	if (text == NULL)
		return NULL;
	s = xstrdup(text);
	text_make_valid(s);
	text_clip(s, max);
	out = jnew_string(s);
	free(s);
	return out;
}

/* The id of one delivery: a UUID, or the entry is no delivery of ours. */
static const char *
id_of(json_object *o)
{
	const char	*id = jget_str(o, "id");

	return job_is_uuid(id) ? id : NULL;
}

static json_object *
status_of(json_object *o)
{
	int64_t	n;

	if (jget_int(o, NULL, "status_code", 100, 999, &n, NULL, 0) != 1)
		return NULL;
	return jnew_int(n);
}

enum destination { WEBHOOKS, INTEGRATIONS };

/*
 * Webhooks: [{id, ok, status_code, error, retry}]; integrations:
 * [{id, type, ok, error, retry}].
 */
static json_object *
deliveries_of(json_object *a, enum destination kind)
{
	json_object	*out = jnew_array(), *e, *x;
	const char	*id;
	size_t		 i;

	for (i = 0; i < json_object_array_length(a); i++) {
		e = json_object_array_get_idx(a, i);
		if ((id = id_of(e)) == NULL)
			continue;
		x = jnew_object();
		jset(x, "id", jnew_string(id));
		if (kind == INTEGRATIONS)
			jset(x, "type", text_of(e, "type", 32));
		jset(x, "ok", jnew_bool(jget_flag(e, "ok", 0)));
		if (kind == WEBHOOKS)
			jset(x, "status_code", status_of(e));
		jset(x, "error", text_of(e, "error", ERROR_MAX));
		jset(x, "retry", jnew_bool(retries(e)));
		jpush(out, x);
	}
	return out;
}

/* {ok, message_id, error, retry} */
static json_object *
email_of(json_object *e)
{
	json_object	*x = jnew_object();

	jset(x, "ok", jnew_bool(jget_flag(e, "ok", 0)));
	jset(x, "message_id", text_of(e, "message_id", 256));
	jset(x, "error", text_of(e, "error", ERROR_MAX));
	jset(x, "retry", jnew_bool(retries(e)));
	return x;
}

/* The text of a value made here, which is then freed. */
static char *
printed(json_object *o)
{
	char	*text = xstrdup(jtext(o, JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return text;
}

/*
 * Reads text, the result of a job that named the channels asked says
 * (alertjob_build).  A channel asked for and not answered is NULL, so
 * that it stays to deliver; integrations not asked for are "[]".
 * Returns -1 when the text is no result at all.
 */
int
alertresult_parse(const char *text, unsigned int asked,
    struct alert_result *r)
{
	json_object	*o, *v;

	memset(r, 0, sizeof(*r));
	if (text == NULL || json1_parse(text, strlen(text), 0, &o, NULL, 0) ==
	    -1 || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -1;
	}
	/* A document it refused says so; nothing was delivered then. */
	if (jget(o, "error") != NULL || !json_object_is_type(jget(o,
	    "webhooks"), json_type_array)) {
		json_object_put(o);
		return -1;
	}
	r->webhooks = printed(deliveries_of(jget(o, "webhooks"),
	    WEBHOOKS));
	v = jget(o, "command");
	r->command_pending = v != NULL && !jget_flag(v, "ok", 0);
	if ((asked & ALERT_ASKED_EMAIL) && json_object_is_type(v = jget(o,
	    "email"), json_type_object))
		r->email = printed(email_of(v));
	if (!(asked & ALERT_ASKED_INTEGRATIONS))
		r->integrations = xstrdup("[]");
	else if (json_object_is_type(v = jget(o, "integrations"),
	    json_type_array))
		r->integrations = printed(deliveries_of(v, INTEGRATIONS));
	json_object_put(o);
	return 0;
}

void
alertresult_free(struct alert_result *r)
{
	free(r->webhooks);
	free(r->email);
	free(r->integrations);
	memset(r, 0, sizeof(*r));
}
