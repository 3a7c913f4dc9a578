/*
 * The alert command's environment: the notifier's PATH, LANG and TZ, and
 * the event in values a shell script can put in a mail header or a
 * command line as they are.  The JSON on its stdin holds what a user
 * wrote, newlines included; a script that copies the title into a
 * "Subject:" line would let a schedule's name add headers ("Bcc:") and a
 * body.  So every value here is one line: the ids and the event type are
 * checked, the title has its control characters and line breaks made
 * spaces and is cut, and the subject is pure ASCII, RFC 2047 encoded
 * words.  Nothing secret is here: no webhook's URL or secret, no key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "jsonget.h"
#include "notifier.h"
#include "testhooks.h"
#include "text.h"

#define DEFAULT_PATH	"/usr/local/bin:/usr/bin:/bin"
#define ENV_MAX		16

/*
 * RFC 2047: an encoded word is at most 75 characters; "=?UTF-8?B?" and
 * "?=" leave 63 for base64, so 60, which is 45 bytes of text.  A word
 * holds whole characters, so at least 42 bytes of them; SUBJECT_WORDS
 * words separated by spaces keep a "Subject:" line (with a prefix of the
 * operator's) under RFC 5322's 998.
 */
#define WORD_BYTES	45
#define SUBJECT_WORDS	12
#define SUBJECT_BYTES	(SUBJECT_WORDS * (WORD_BYTES - 3))

/* "NAME=value"; NULL, none, for a NULL value. */
static char *
entry(const char *name, const char *value)
{
	return value != NULL ? xasprintf("%s=%s", name, value) : NULL;
}

static void
add(char **env, size_t *n, char *e)
{
	if (e != NULL && *n < ENV_MAX)
		env[(*n)++] = e;
	else
		free(e);
}

/* The notifier's own value of name, or fallback; none when NULL. */
static void
add_inherited(char **env, size_t *n, const char *name, const char *fallback)
{
	const char	*v = getenv(name);

	add(env, n, entry(name, v != NULL ? v : fallback));
}

/* A metadata member that is a UUID: only those are passed. */
static void
add_uuid(char **env, size_t *n, const char *name, json_object *metadata,
    const char *key)
{
	const char	*v = jget_str(metadata, key);

	if (job_is_uuid(v))
		add(env, n, entry(name, v));
}

char *
cmdenv_title(const char *title)
{
	char	*t = xstrdup(title);

	text_one_line(t);
	text_make_valid(t);
	text_clip(t, CMDENV_TITLE_MAX);
	return t;
}

char *
cmdenv_subject(const char *line)
{
	FILE	*f;
	char	 text[SUBJECT_BYTES + 1], *out;
	size_t	 n, len;

	/* Longer: cut on a character, with room for the ellipsis. */
	n = text_fit(line, SUBJECT_BYTES);
	if (n < strlen(line))
		n = text_fit(line, SUBJECT_BYTES - (sizeof(TEXT_ELLIPSIS) - 1));
	memcpy(text, line, n);
	text[n] = '\0';
	if (n < strlen(line))
		strlcat(text, TEXT_ELLIPSIS, sizeof(text));
	f = xmemstream(&out, &len);
	mime_words(f, text, WORD_BYTES, "", " ");
	return xmemstream_text(f, &out);	/* "" for an empty title */
}

static void
add_title(char **env, size_t *n, const struct event *ev)
{
	char	*title, *subject;

	title = cmdenv_title(json_object_get_string(ev->title));
	add(env, n, entry("EVALSCHED_TITLE", title));
	subject = cmdenv_subject(title);
	add(env, n, entry("EVALSCHED_SUBJECT_RFC2047", subject));
	free(subject);
	free(title);
}

/*
 * The event type and timestamp were checked by input.c (one of its
 * names; an ISO 8601 time), the alert id is a UUID.
 */
char **
cmdenv_build(const struct notice *no)
{
	const struct event	*ev = &no->event;
	char			**env;
	size_t			 n = 0;

	env = xcalloc(ENV_MAX + 1, sizeof(*env));
	add_inherited(env, &n, "PATH", DEFAULT_PATH);
	add_inherited(env, &n, "LANG", NULL);
	add_inherited(env, &n, "TZ", NULL);
	add(env, &n, entry("EVALSCHED_ALERT_ID", no->alert_id));
	add(env, &n, entry("EVALSCHED_EVENT",
	    json_object_get_string(ev->type_name)));
	add(env, &n, entry("EVALSCHED_TIMESTAMP",
	    json_object_get_string(ev->timestamp)));
	add_uuid(env, &n, "EVALSCHED_SCHEDULE_ID", ev->metadata,
	    "scheduledEvaluationId");
	add_uuid(env, &n, "EVALSCHED_RUN_ID", ev->metadata, "runId");
	add_uuid(env, &n, "EVALSCHED_USER_ID", ev->metadata, "userId");
	add_title(env, &n, ev);
	return env;
}

void
cmdenv_free(char **env)
{
	char	**e;

	if (env == NULL)
		return;
	for (e = env; *e != NULL; e++)
		free(*e);
	free(env);
}
