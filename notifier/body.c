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

static int
add(json_object *o, const char *key, json_object *v)
{
	if (json_object_object_add(o, key, json_object_get(v)) == 0)
		return 0;
	json_object_put(v);
	return -1;
}

char *
body_generic(const struct event *ev)
{
	json_object	*o;
	char		*text = NULL;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (add(o, "type", ev->type_name) == 0 &&
	    add(o, "title", ev->title) == 0 &&
	    add(o, "message", ev->message) == 0 &&
	    add(o, "timestamp", ev->timestamp) == 0 &&
	    add(o, "metadata", ev->metadata) == 0)
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
	if (o == NULL)
		return NULL;
	text = js_stringify(o);
	json_object_put(o);
	return text;
}
