/*
 * A Slack incoming-webhook message in Block Kit: a header with the
 * title, the message, the facts as fields (schedule, model, what
 * happened, status, prompts), the error or each metric's change, and a
 * one-line "text" for notifications and clients without blocks.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"
#include "text.h"

/* Slack's limits, in characters. */
#define HEADER_MAX	150
#define SECTION_MAX	3000
#define FIELD_MAX	2000
#define FALLBACK_MAX	300

/*
 * &, < and > are Slack's markup (<!channel>, <url|text>) and escaped;
 * in a code block a backtick would end it early.
 */
static char *
escape(struct chat *c, const char *s, int code)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len;

	if ((f = open_memstream(&buf, &len)) == NULL) {
		c->failed = 1;
		return NULL;
	}
	for (; *s != '\0'; s++) {
		if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '`' && code)
			fputc('\'', f);
		else
			fputc(*s, f);
	}
	if (fclose(f) == EOF) {
		free(buf);
		c->failed = 1;
		return NULL;
	}
	return buf;
}

/* {"type": type, "text": text}; text is taken (freed) and clipped. */
static json_object *
text_object(struct chat *c, const char *type, char *text, size_t max)
{
	json_object	*o = chat_object(c);

	if (text != NULL)
		text_clip(text, max);
	chat_set(c, o, "type", chat_string(c, type));
	chat_set(c, o, "text", chat_string(c, text));
	free(text);
	return o;
}

static json_object *
block(struct chat *c, const char *type)
{
	json_object	*o = chat_object(c);

	chat_set(c, o, "type", chat_string(c, type));
	return o;
}

static void
add_header(struct chat *c, json_object *blocks, const struct facts *f)
{
	json_object	*b = block(c, "header"), *text;
	char		*title;

	title = chat_format(c, "%s", *f->title != '\0' ? f->title :
	    "evalsched alert");
	if (title != NULL)
		text_one_line(title);
	text = text_object(c, "plain_text", title, HEADER_MAX);
	chat_set(c, text, "emoji", chat_bool(c, 1));
	chat_set(c, b, "text", text);
	chat_push(c, blocks, b);
}

static void
add_section(struct chat *c, json_object *blocks, char *mrkdwn)
{
	json_object	*b = block(c, "section");

	chat_set(c, b, "text", text_object(c, "mrkdwn", mrkdwn, SECTION_MAX));
	chat_push(c, blocks, b);
}

static void
add_message(struct chat *c, json_object *blocks, const struct facts *f)
{
	if (f->message != NULL && *f->message != '\0')
		add_section(c, blocks, escape(c, f->message, 0));
}

/* "*Label*\nvalue" */
static void
add_field(struct chat *c, json_object *fields, const char *label,
    const char *value)
{
	char	*v = escape(c, value, 0), *t = NULL;

	if (v != NULL)
		t = chat_format(c, "*%s*\n%s", label, v);
	free(v);
	chat_push(c, fields, text_object(c, "mrkdwn", t, FIELD_MAX));
}

static void
add_facts(struct chat *c, json_object *blocks, const struct facts *f)
{
	json_object	*b = block(c, "section"), *fields = chat_array(c);
	char		 what[200], prompts[200];

	if (f->schedule != NULL)
		add_field(c, fields, "Schedule", f->schedule);
	if (f->model != NULL)
		add_field(c, fields, "Model", f->model);
	facts_what(f, what, sizeof(what));
	add_field(c, fields, "What happened", what);
	if (f->status != NULL)
		add_field(c, fields, "Status", f->status);
	if (facts_prompts(f, prompts, sizeof(prompts)))
		add_field(c, fields, "Prompts", prompts);
	chat_set(c, b, "fields", fields);
	chat_push(c, blocks, b);
}

static void
add_error(struct chat *c, json_object *blocks, const struct facts *f)
{
	char	*e;

	if (f->error == NULL || f->type == EVENT_REGRESSION)
		return;
	if ((e = escape(c, f->error, 1)) == NULL)
		return;
	text_clip(e, SECTION_MAX - 20);
	add_section(c, blocks, chat_format(c, "*Error*\n```%s```", e));
	free(e);
}

static void
add_metrics(struct chat *c, json_object *blocks, const struct facts *f)
{
	json_object	*b, *fields;
	char		 line[200];
	size_t		 i;

	if (f->nmetrics == 0)
		return;
	b = block(c, "section");
	fields = chat_array(c);
	for (i = 0; i < f->nmetrics; i++) {
		facts_metric(&f->metrics[i], line, sizeof(line));
		add_field(c, fields, f->metrics[i].name, line);
	}
	chat_set(c, b, "fields", fields);
	chat_push(c, blocks, b);
}

static void
add_context(struct chat *c, json_object *blocks, const struct facts *f)
{
	json_object	*b = block(c, "context"), *elements = chat_array(c);
	char		*ts = escape(c, f->timestamp, 0);

	chat_push(c, elements, text_object(c, "mrkdwn",
	    ts != NULL ? chat_format(c, "evalsched \xc2\xb7 %s", ts) : NULL,
	    FIELD_MAX));
	free(ts);
	chat_set(c, b, "elements", elements);
	chat_push(c, blocks, b);
}

json_object *
slack_message(const struct event *ev)
{
	struct chat	 c = { 0 };
	struct facts	 f;
	json_object	*msg, *blocks;
	char		 line[1024], *text;

	facts_get(ev, &f);
	msg = chat_object(&c);
	facts_one_line(&f, line, sizeof(line));
	if ((text = escape(&c, line, 0)) != NULL)
		text_clip(text, FALLBACK_MAX);
	chat_set(&c, msg, "text", chat_string(&c, text));
	free(text);
	blocks = chat_array(&c);
	add_header(&c, blocks, &f);
	add_message(&c, blocks, &f);
	add_facts(&c, blocks, &f);
	add_error(&c, blocks, &f);
	add_metrics(&c, blocks, &f);
	add_context(&c, blocks, &f);
	chat_set(&c, msg, "blocks", blocks);
	return chat_done(&c, msg);
}
