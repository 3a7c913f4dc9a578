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

static json_object *
clipped(struct chat *c, char *text, size_t max)
{
	json_object	*s;

	if (text != NULL)
		text_clip(text, max);
	s = chat_string(c, text);
	free(text);
	return s;
}

/* value is taken (freed). */
static void
add_field(struct chat *c, json_object *fields, const char *name,
    char *value, int inline_)
{
	json_object	*o = chat_object(c);

	chat_set(c, o, "name", clipped(c, chat_format(c, "%s", name),
	    NAME_MAX_CHARS));
	chat_set(c, o, "value", clipped(c, value, VALUE_MAX));
	chat_set(c, o, "inline", chat_bool(c, inline_));
	chat_push(c, fields, o);
}

static void
add_error(struct chat *c, json_object *fields, const struct facts *f)
{
	char	*e, *p;

	if (f->error == NULL || f->type == EVENT_REGRESSION)
		return;
	if ((e = chat_format(c, "%s", f->error)) == NULL)
		return;
	/* A backtick would end the code block early. */
	for (p = e; *p != '\0'; p++)
		if (*p == '`')
			*p = '\'';
	text_clip(e, VALUE_MAX - 10);
	add_field(c, fields, "Error", chat_format(c, "```\n%s\n```", e), 0);
	free(e);
}

static json_object *
fields_of(struct chat *c, const struct facts *f)
{
	json_object	*fields = chat_array(c);
	char		 buf[200];
	size_t		 i;

	if (f->schedule != NULL)
		add_field(c, fields, "Schedule", chat_format(c, "%s",
		    f->schedule), 1);
	if (f->model != NULL)
		add_field(c, fields, "Model", chat_format(c, "%s", f->model), 1);
	if (f->status != NULL)
		add_field(c, fields, "Status", chat_format(c, "%s", f->status),
		    1);
	facts_what(f, buf, sizeof(buf));
	add_field(c, fields, "What happened", chat_format(c, "%s", buf), 0);
	if (facts_prompts(f, buf, sizeof(buf)))
		add_field(c, fields, "Prompts", chat_format(c, "%s", buf), 1);
	add_error(c, fields, f);
	for (i = 0; i < f->nmetrics; i++) {
		facts_metric(&f->metrics[i], buf, sizeof(buf));
		add_field(c, fields, f->metrics[i].name,
		    chat_format(c, "%s", buf), 1);
	}
	return fields;
}

static json_object *
embed_of(struct chat *c, const struct facts *f)
{
	json_object	*e = chat_object(c), *footer = chat_object(c);
	char		*title;

	title = chat_format(c, "%s", *f->title != '\0' ? f->title :
	    "evalsched alert");
	if (title != NULL)
		text_one_line(title);
	chat_set(c, e, "title", clipped(c, title, TITLE_MAX));
	if (f->message != NULL && *f->message != '\0')
		chat_set(c, e, "description", clipped(c,
		    chat_format(c, "%s", f->message), DESCRIPTION_MAX));
	chat_set(c, e, "color", chat_int(c, f->type == EVENT_REGRESSION ?
	    COLOR_ORANGE : COLOR_RED));
	chat_set(c, e, "fields", fields_of(c, f));
	chat_set(c, e, "timestamp", chat_string(c, f->timestamp));
	chat_set(c, footer, "text", chat_string(c, "evalsched"));
	chat_set(c, e, "footer", footer);
	return e;
}

json_object *
discord_message(const struct event *ev)
{
	struct chat	 c = { 0 };
	struct facts	 f;
	json_object	*msg, *embeds, *mentions;

	facts_get(ev, &f);
	msg = chat_object(&c);
	embeds = chat_array(&c);
	chat_push(&c, embeds, embed_of(&c, &f));
	chat_set(&c, msg, "embeds", embeds);
	/* "@everyone" in a schedule's name must not ping a whole server. */
	mentions = chat_object(&c);
	chat_set(&c, mentions, "parse", chat_array(&c));
	chat_set(&c, msg, "allowed_mentions", mentions);
	return chat_done(&c, msg);
}
