/*
 * The result on stdout, one line:
 * {"alert_id",
 *  "webhooks": [{"id", "ok", "status_code", "error", "retry"}, ...],
 *  "command": null | {"ok", "exit_status", "signal", "error"},
 *  "email": null | {"ok", "message_id", "error", "retry"},
 *  "integrations": [{"id", "type", "ok", "error", "retry"}, ...]}
 * and, for a bad document or an internal error, "error".
 */
#include <json.h>
#include <stdlib.h>

#include "notifier.h"

static json_object *
string_or_null(struct chat *c, const char *s)
{
	return s == NULL ? NULL : chat_string(c, s);
}

static json_object *
int_or_null(struct chat *c, long long i, long long none)
{
	return i == none ? NULL : chat_int(c, i);
}

/* json-c takes a NULL value as a JSON null. */
static void
set_nullable(struct chat *c, json_object *o, const char *key,
    json_object *v)
{
	if (o == NULL || json_object_object_add(o, key, v) != 0) {
		c->failed = 1;
		json_object_put(v);
	}
}

static json_object *
hook_json(struct chat *c, const struct hook *h)
{
	json_object	*o = chat_object(c);

	chat_set(c, o, "id", chat_string(c, h->id));
	chat_set(c, o, "ok", chat_bool(c, h->result.ok));
	set_nullable(c, o, "status_code", int_or_null(c,
	    h->result.status_code, 0));
	set_nullable(c, o, "error", string_or_null(c, h->result.error));
	chat_set(c, o, "retry", chat_bool(c, h->result.retry));
	return o;
}

static json_object *
command_json(struct chat *c, const struct command_result *res)
{
	json_object	*o;

	if (!res->ran)
		return NULL;
	o = chat_object(c);
	chat_set(c, o, "ok", chat_bool(c, res->ok));
	set_nullable(c, o, "exit_status", int_or_null(c, res->exit_status,
	    -1));
	set_nullable(c, o, "signal", int_or_null(c, res->signal, -1));
	set_nullable(c, o, "error", string_or_null(c, res->error));
	return o;
}

static json_object *
email_json(struct chat *c, const struct email *e)
{
	json_object	*o;

	if (e == NULL)
		return NULL;
	o = chat_object(c);
	chat_set(c, o, "ok", chat_bool(c, e->result.ok));
	set_nullable(c, o, "message_id", string_or_null(c,
	    e->result.message_id));
	set_nullable(c, o, "error", string_or_null(c, e->result.error));
	chat_set(c, o, "retry", chat_bool(c, e->result.retry));
	return o;
}

static json_object *
integration_json(struct chat *c, const struct integration *ig)
{
	json_object	*o = chat_object(c);

	chat_set(c, o, "id", chat_string(c, ig->id));
	chat_set(c, o, "type", chat_string(c, ig->type_name));
	chat_set(c, o, "ok", chat_bool(c, ig->result.ok));
	set_nullable(c, o, "error", string_or_null(c, ig->result.error));
	chat_set(c, o, "retry", chat_bool(c, ig->result.retry));
	return o;
}

char *
result_to_json(const struct notice *n, const char *error)
{
	struct chat	 c = { 0 };
	json_object	*o, *hooks, *integs;
	char		*text;
	size_t		 i;

	o = chat_object(&c);
	set_nullable(&c, o, "alert_id", string_or_null(&c, n->alert_id));
	hooks = chat_array(&c);
	for (i = 0; i < n->nhooks; i++)
		chat_push(&c, hooks, hook_json(&c, &n->hooks[i]));
	chat_set(&c, o, "webhooks", hooks);
	set_nullable(&c, o, "command", command_json(&c,
	    &n->command_result));
	set_nullable(&c, o, "email", email_json(&c, n->email));
	integs = chat_array(&c);
	for (i = 0; i < n->ninteg; i++)
		chat_push(&c, integs, integration_json(&c, &n->integs[i]));
	chat_set(&c, o, "integrations", integs);
	if (error != NULL)
		chat_set(&c, o, "error", chat_string(&c, error));
	if ((o = chat_done(&c, o)) == NULL)
		return NULL;
	text = js_stringify(o);
	json_object_put(o);
	return text;
}
