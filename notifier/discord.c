/*
 * A Discord webhook message: one embed with the title, the message, the
 * facts as fields (schedule, model, what happened, status, prompts, the
 * error or each metric's change), red for a failure, orange for a
 * regression, and the event's time.  Mentions in the text never ping.
 */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"
#include "text.h"

#define COLOR_RED	0xed4245L	/* failed, disabled */
#define COLOR_ORANGE	0xe67e22L	/* regression */

/*
 * Discord's limits, in characters: a title 256, a field's name 256 and
 * value 1024; the whole embed 6000, which these shares keep to.
 */
#define TITLE_MAX	256
#define DESCRIPTION_MAX	2048
#define NAME_MAX_CHARS	256
#define VALUE_MAX	1024

/* text is taken (freed). */
static json_object *
clipped(char *text, size_t max)
{
	json_object	*s;

	text_clip(text, max);
	s = jnew_string(text);
	free(text);
	return s;
}

/* value is taken (freed). */
static void
add_field(json_object *fields, const char *name, char *value, int inline_)
{
	json_object	*o = jnew_object();

	jset(o, "name", clipped(xstrdup(name), NAME_MAX_CHARS));
	jset(o, "value", clipped(value, VALUE_MAX));
	jset(o, "inline", jnew_bool(inline_));
	jpush(fields, o);
}

static void
add_error(json_object *fields, const struct facts *f)
{
	char	*e, *p;

	if (f->error == NULL || f->type == EVENT_REGRESSION)
		return;
	e = xstrdup(f->error);
	/* A backtick would end the code block early. */
	for (p = e; *p != '\0'; p++)
		if (*p == '`')
			*p = '\'';
	text_clip(e, VALUE_MAX - 10);
	add_field(fields, "Error", xasprintf("```\n%s\n```", e), 0);
	free(e);
}

static json_object *
fields_of(const struct facts *f)
{
	json_object	*fields = jnew_array();
	char		 buf[200];
	size_t		 i;

	if (f->schedule != NULL)
		add_field(fields, "Schedule", xstrdup(f->schedule), 1);
	if (f->model != NULL)
		add_field(fields, "Model", xstrdup(f->model), 1);
	if (f->status != NULL)
		add_field(fields, "Status", xstrdup(f->status), 1);
	facts_what(f, buf, sizeof(buf));
	add_field(fields, "What happened", xstrdup(buf), 0);
	if (facts_prompts(f, buf, sizeof(buf)))
		add_field(fields, "Prompts", xstrdup(buf), 1);
	add_error(fields, f);
	for (i = 0; i < f->nmetrics; i++) {
		facts_metric(&f->metrics[i], buf, sizeof(buf));
		add_field(fields, f->metrics[i].name, xstrdup(buf), 1);
	}
	return fields;
}

static json_object *
embed_of(const struct facts *f)
{
	json_object	*e = jnew_object(), *footer = jnew_object();
	char		*title;

	title = xstrdup(*f->title != '\0' ? f->title : "evalsched alert");
	text_one_line(title);
	jset(e, "title", clipped(title, TITLE_MAX));
	if (f->message != NULL && *f->message != '\0')
		jset(e, "description", clipped(xstrdup(f->message),
		    DESCRIPTION_MAX));
	jset(e, "color", jnew_int(f->type == EVENT_REGRESSION ?
	    COLOR_ORANGE : COLOR_RED));
	jset(e, "fields", fields_of(f));
	jset(e, "timestamp", jnew_string(f->timestamp));
	jset(footer, "text", jnew_string("evalsched"));
	jset(e, "footer", footer);
	return e;
}

json_object *
discord_message(const struct event *ev)
{
	struct facts	 f;
	json_object	*msg, *embeds, *mentions;

	facts_get(ev, &f);
	msg = jnew_object();
	embeds = jnew_array();
	jpush(embeds, embed_of(&f));
	jset(msg, "embeds", embeds);
	/* "@everyone" in a schedule's name must not ping a whole server. */
	mentions = jnew_object();
	jset(mentions, "parse", jnew_array());
	jset(msg, "allowed_mentions", mentions);
	return msg;
}
