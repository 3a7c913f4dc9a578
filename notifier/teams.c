/*
 * Microsoft Teams: the MessageCard the application posts to the
 * channel's incoming webhook (integration.service.ts, logToTeams).  Its
 * color comes from a table of training-job types; every type evalsched
 * sends gets its default, gray.  Delivered on a 2xx, as there.
 */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"

#define TEAMS_COLOR	"808080"
#define ANSWER_MAX	4096	/* only the status is read */

static void
fact(struct chat *c, json_object *facts, const char *name, const char *value)
{
	json_object	*f = chat_object(c);

	chat_set(c, f, "name", chat_string(c, name));
	chat_set(c, f, "value", chat_string(c, value));
	chat_push(c, facts, f);
}

static json_object *
facts_of(struct chat *c, const struct integ_event *ev)
{
	json_object	*facts = chat_array(c);
	char		 loss[64], *error;

	fact(c, facts, "Job ID", ev->job_id);
	fact(c, facts, "Status", ev->status);
	if (ev->model_name != NULL)
		fact(c, facts, "Model", ev->model_name);
	if (ev->duration != NULL)
		fact(c, facts, "Duration", ev->duration);
	if (ev->has_loss) {
		js_to_fixed(ev->loss, 4, loss, sizeof(loss));
		fact(c, facts, "Final Loss", loss);
	}
	if (ev->error != NULL) {
		error = js_slice(ev->error, 500);
		fact(c, facts, "Error", error);
		free(error);
	}
	return facts;
}

char *
teams_body(const struct integ_event *ev)
{
	struct chat	 c = { 0 };
	json_object	*card = chat_object(&c), *sections = chat_array(&c);
	json_object	*s = chat_object(&c);
	char		*subtitle, *text = NULL;

	chat_set(&c, card, "@type", chat_string(&c, "MessageCard"));
	chat_set(&c, card, "@context", chat_string(&c,
	    "http://schema.org/extensions"));
	chat_set(&c, card, "themeColor", chat_string(&c, TEAMS_COLOR));
	chat_set(&c, card, "summary", chat_string(&c, ev->title));
	chat_set(&c, s, "activityTitle", chat_string(&c, ev->title));
	subtitle = chat_format(&c, "Training Job %s", ev->bare_type);
	chat_set(&c, s, "activitySubtitle", chat_string(&c, subtitle));
	free(subtitle);
	chat_set(&c, s, "facts", facts_of(&c, ev));
	chat_set(&c, s, "markdown", chat_bool(&c, 1));
	chat_push(&c, sections, s);
	chat_set(&c, card, "sections", sections);
	if ((card = chat_done(&c, card)) != NULL)
		text = js_stringify(card);
	json_object_put(card);
	return text;
}

/* Only the status: the URL is a user's (see webhook.c). */
static void
done(struct request *r, void *arg)
{
	struct outcome	o;

	request_outcome(r, &o);
	integ_result(arg, &o);
}

void
teams_start(struct integration *ig, const struct integ_event *ev)
{
	static const char *const headers[] = {
		"Content-Type: application/json", NULL };
	char	*body;

	if ((body = teams_body(ev)) == NULL) {
		integ_fail(ig, "internal error: out of memory", 1);
		return;
	}
	integ_call(ig, ig->url, body, headers, ANSWER_MAX, done);
	free(body);
}
