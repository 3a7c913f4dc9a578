/*
 * The documents a webhook receives.  The generic one is the
 * application's (lib/alerts/channels/webhook.channel.ts):
 * JSON.stringify({type, title, message, timestamp, metadata}), those
 * members in that order and no others, metadata as the event has it.
 * It is also what the alert command reads on its stdin.
 */
#include <json.h>
#include <stdlib.h>

#include "notifier.h"

/* The event's own value, shared with the event. */
static void
add(json_object *o, const char *key, json_object *v)
{
	jset(o, key, json_object_get(v));
}

char *
body_generic(const struct event *ev)
{
	json_object	*o = jnew_object();
	char		*text;

	add(o, "type", ev->type_name);
	add(o, "title", ev->title);
	add(o, "message", ev->message);
	add(o, "timestamp", ev->timestamp);
	add(o, "metadata", ev->metadata);
	text = js_stringify(o);
	json_object_put(o);
	return text;
}

char *
body_for(const struct event *ev, enum hook_type type)
{
	json_object	*o;
	char		*text;

	switch (type) {
	case HOOK_SLACK:
		o = slack_message(ev);
		break;
	case HOOK_DISCORD:
		o = discord_message(ev);
		break;
	default:
		return body_generic(ev);
	}
	text = js_stringify(o);
	json_object_put(o);
	return text;
}
