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
escape(const char *s, int code)
{
	FILE	*f;
	char	*buf;
	size_t	 len;

	f = xmemstream(&buf, &len);
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
	return xmemstream_text(f, &buf);
}

/* {"type": type, "text": text}; text is taken (freed) and clipped. */
static json_object *
text_object(const char *type, char *text, size_t max)
{
	json_object	*o = jnew_object();

	text_clip(text, max);
	jset(o, "type", jnew_string(type));
	jset(o, "text", jnew_string(text));
	free(text);
	return o;
}

static json_object *
block(const char *type)
{
	json_object	*o = jnew_object();

	jset(o, "type", jnew_string(type));
	return o;
}

static void
add_header(json_object *blocks, const struct facts *f)
{
	json_object	*b = block("header"), *text;
	char		*title;

	title = xstrdup(*f->title != '\0' ? f->title : "evalsched alert");
	text_one_line(title);
	text = text_object("plain_text", title, HEADER_MAX);
	jset(text, "emoji", jnew_bool(1));
	jset(b, "text", text);
	jpush(blocks, b);
}

static void
add_section(json_object *blocks, char *mrkdwn)
{
	json_object	*b = block("section");

	jset(b, "text", text_object("mrkdwn", mrkdwn, SECTION_MAX));
	jpush(blocks, b);
}

static void
add_message(json_object *blocks, const struct facts *f)
{
	if (f->message != NULL && *f->message != '\0')
		add_section(blocks, escape(f->message, 0));
}

/* "*Label*\nvalue" */
static void
add_field(json_object *fields, const char *label, const char *value)
{
	char	*v = escape(value, 0);

	jpush(fields, text_object("mrkdwn", xasprintf("*%s*\n%s", label, v),
	    FIELD_MAX));
	free(v);
}

static void
add_facts(json_object *blocks, const struct facts *f)
{
	json_object	*b = block("section"), *fields = jnew_array();
	char		 what[200], prompts[200];

	if (f->schedule != NULL)
		add_field(fields, "Schedule", f->schedule);
	if (f->model != NULL)
		add_field(fields, "Model", f->model);
	facts_what(f, what, sizeof(what));
	add_field(fields, "What happened", what);
	if (f->status != NULL)
		add_field(fields, "Status", f->status);
	if (facts_prompts(f, prompts, sizeof(prompts)))
		add_field(fields, "Prompts", prompts);
	jset(b, "fields", fields);
	jpush(blocks, b);
}

static void
add_error(json_object *blocks, const struct facts *f)
{
	char	*e;

	if (f->error == NULL || f->type == EVENT_REGRESSION)
		return;
	e = escape(f->error, 1);
	text_clip(e, SECTION_MAX - 20);
	add_section(blocks, xasprintf("*Error*\n```%s```", e));
	free(e);
}

static void
add_metrics(json_object *blocks, const struct facts *f)
{
	json_object	*b, *fields;
	char		 line[200];
	size_t		 i;

	if (f->nmetrics == 0)
		return;
	b = block("section");
	fields = jnew_array();
	for (i = 0; i < f->nmetrics; i++) {
		facts_metric(&f->metrics[i], line, sizeof(line));
		add_field(fields, f->metrics[i].name, line);
	}
	jset(b, "fields", fields);
	jpush(blocks, b);
}

static void
add_context(json_object *blocks, const struct facts *f)
{
	json_object	*b = block("context"), *elements = jnew_array();
	char		*ts = escape(f->timestamp, 0);

	jpush(elements, text_object("mrkdwn",
	    xasprintf("evalsched \xc2\xb7 %s", ts), FIELD_MAX));
	free(ts);
	jset(b, "elements", elements);
	jpush(blocks, b);
}

json_object *
slack_message(const struct event *ev)
{
	struct facts	 f;
	json_object	*msg, *blocks;
	char		 line[1024], *text;

	facts_get(ev, &f);
	msg = jnew_object();
	facts_one_line(&f, line, sizeof(line));
	text = escape(line, 0);
	text_clip(text, FALLBACK_MAX);
	jset(msg, "text", jnew_string(text));
	free(text);
	blocks = jnew_array();
	add_header(blocks, &f);
	add_message(blocks, &f);
	add_facts(blocks, &f);
	add_error(blocks, &f);
	add_metrics(blocks, &f);
	add_context(blocks, &f);
	jset(msg, "blocks", blocks);
	return msg;
}
