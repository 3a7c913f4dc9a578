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
fact(json_object *facts, const char *name, const char *value)
{
	json_object	*f = jnew_object();

	jset(f, "name", jnew_string(name));
	jset(f, "value", jnew_string(value));
	jpush(facts, f);
}

static json_object *
facts_of(const struct integ_event *ev)
{
	json_object	*facts = jnew_array();
	char		 loss[64], *error;

	fact(facts, "Job ID", ev->job_id);
	fact(facts, "Status", ev->status);
	if (ev->model_name != NULL)
		fact(facts, "Model", ev->model_name);
	if (ev->duration != NULL)
		fact(facts, "Duration", ev->duration);
	if (ev->has_loss) {
		js_to_fixed(ev->loss, 4, loss, sizeof(loss));
		fact(facts, "Final Loss", loss);
	}
	if (ev->error != NULL) {
		error = js_slice(ev->error, 500);
		fact(facts, "Error", error);
		free(error);
	}
	return facts;
}

char *
teams_body(const struct integ_event *ev)
{
	json_object	*card = jnew_object(), *sections = jnew_array();
	json_object	*s = jnew_object();
	char		*subtitle, *text;

	jset(card, "@type", jnew_string("MessageCard"));
	jset(card, "@context", jnew_string("http://schema.org/extensions"));
	jset(card, "themeColor", jnew_string(TEAMS_COLOR));
	jset(card, "summary", jnew_string(ev->title));
	jset(s, "activityTitle", jnew_string(ev->title));
	subtitle = xasprintf("Training Job %s", ev->bare_type);
	jset(s, "activitySubtitle", jnew_string(subtitle));
	free(subtitle);
	jset(s, "facts", facts_of(ev));
	jset(s, "markdown", jnew_bool(1));
	jpush(sections, s);
	jset(card, "sections", sections);
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
	char	*body = teams_body(ev);

	integ_call(ig, ig->url, body, headers, ANSWER_MAX, done);
	free(body);
}
