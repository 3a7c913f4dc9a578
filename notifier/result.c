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
int_or_null(long long i, long long none)
{
	return i == none ? NULL : jnew_int(i);
}

static json_object *
hook_json(const struct hook *h)
{
	json_object	*o = jnew_object();

	jset(o, "id", jnew_string(h->id));
	jset(o, "ok", jnew_bool(h->result.ok));
	jset(o, "status_code", int_or_null(h->result.status_code, 0));
	jset(o, "error", jnew_string(h->result.error));
	jset(o, "retry", jnew_bool(h->result.retry));
	return o;
}

static json_object *
command_json(const struct command_result *res)
{
	json_object	*o;

	if (!res->ran)
		return NULL;
	o = jnew_object();
	jset(o, "ok", jnew_bool(res->ok));
	jset(o, "exit_status", int_or_null(res->exit_status, -1));
	jset(o, "signal", int_or_null(res->signal, -1));
	jset(o, "error", jnew_string(res->error));
	return o;
}

static json_object *
email_json(const struct email *e)
{
	json_object	*o;

	if (e == NULL)
		return NULL;
	o = jnew_object();
	jset(o, "ok", jnew_bool(e->result.ok));
	jset(o, "message_id", jnew_string(e->result.message_id));
	jset(o, "error", jnew_string(e->result.error));
	jset(o, "retry", jnew_bool(e->result.retry));
	return o;
}

static json_object *
integration_json(const struct integration *ig)
{
	json_object	*o = jnew_object();

	jset(o, "id", jnew_string(ig->id));
	jset(o, "type", jnew_string(ig->type_name));
	jset(o, "ok", jnew_bool(ig->result.ok));
	jset(o, "error", jnew_string(ig->result.error));
	jset(o, "retry", jnew_bool(ig->result.retry));
	return o;
}

char *
result_to_json(const struct notice *n, const char *error)
{
	json_object	*o, *hooks, *integs;
	char		*text;
	size_t		 i;

	o = jnew_object();
	jset(o, "alert_id", jnew_string(n->alert_id));
	hooks = jnew_array();
	for (i = 0; i < n->nhooks; i++)
		jpush(hooks, hook_json(&n->hooks[i]));
	jset(o, "webhooks", hooks);
	jset(o, "command", command_json(&n->command_result));
	jset(o, "email", email_json(n->email));
	integs = jnew_array();
	for (i = 0; i < n->ninteg; i++)
		jpush(integs, integration_json(&n->integs[i]));
	jset(o, "integrations", integs);
	if (error != NULL)
		jset(o, "error", jnew_string(error));
	text = js_stringify(o);
	json_object_put(o);
	return text;
}
