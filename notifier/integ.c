/*
 * The integrations of an alert (user_integrations): the event as the
 * application builds it for them (integration.channel.ts, buildEvent),
 * one call for each (two for Notion) on deliver.c's multi handle, and
 * what became of it.
 *
 * The supervisor passes the owner's enabled integrations.  The
 * application then skips one whose config turns the alert's type off,
 * but its table of per-type keys (log_job_started, ...) names no type
 * that evalsched sends: every integration gets every alert, and config
 * is not read.  A type it cannot deliver (linear, jira, anything else)
 * fails, as it fails in the application, and is not tried again.
 *
 * Credentials are secrets (a Teams webhook URL is one, as Slack's is):
 * no error text or log line holds one; a URL is logged as its
 * scheme://host:port.  An API's own words on a failure (Telegram's
 * description, PagerDuty's and Notion's message) are kept, with any
 * credential masked; a Teams URL is a user's, and of its answer only the
 * status is, as for a webhook.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "json1.h"
#include "jsonget.h"
#include "log.h"
#include "notifier.h"
#include "text.h"
#include "url.h"

#define API_WORDS_MAX	200	/* characters of an API's own words */

static const char *const integ_names[] = {
	[INTEG_TEAMS] = "teams",
	[INTEG_TELEGRAM] = "telegram",
	[INTEG_PAGERDUTY] = "pagerduty",
	[INTEG_NOTION] = "notion",
	[INTEG_OTHER] = "other",
};

const char *
integ_type_name(enum integ_type type)
{
	return integ_names[type];
}

/* 0 and *type for one we deliver; -1 (INTEG_OTHER) for another. */
int
integ_type_from(const char *name, enum integ_type *type)
{
	size_t	i;

	for (i = 0; i < INTEG_OTHER; i++)
		if (strcmp(name, integ_names[i]) == 0) {
			*type = (enum integ_type)i;
			return 0;
		}
	*type = INTEG_OTHER;
	return -1;
}

/* String(metadata[key]) when it is truthy, else NULL (undefined). */
static char *
truthy_string(json_object *md, const char *key)
{
	json_object	*v;
	int		 present = js_member(md, key, &v);

	return js_truthy(present, v) ? js_string(present, v) : NULL;
}

/* s with its first "job_" taken out, as String.replace does. */
static char *
bare(const char *s)
{
	const char	*p = strstr(s, "job_");

	if (p == NULL)
		return xstrdup(s);
	return xasprintf("%.*s%s", (int)(p - s), s, p + 4);
}

/*
 * buildEvent: jobId, modelName, status, errorMessage, duration and loss
 * from the metadata; a schedule's alert has no jobId ("unknown") and no
 * modelName (its model is modelId).
 */
void
integ_event_get(const struct event *e, struct integ_event *ev)
{
	json_object	*md = e->metadata, *v;
	char		 dur[128];
	int		 present;

	memset(ev, 0, sizeof(*ev));
	ev->type = json_object_get_string(e->type_name);
	ev->title = json_object_get_string(e->title);
	ev->bare_type = bare(ev->type);
	if ((ev->job_id = truthy_string(md, "jobId")) == NULL)
		ev->job_id = xstrdup("unknown");
	ev->model_name = truthy_string(md, "modelName");
	if ((ev->status = truthy_string(md, "status")) == NULL)
		ev->status = xstrdup(ev->bare_type);
	ev->error = truthy_string(md, "errorMessage");
	present = js_member(md, "duration", &v);
	if (js_truthy(present, v)) {
		js_duration(js_number(present, v), dur, sizeof(dur));
		ev->duration = xstrdup(dur);
	}
	/* (v || undefined), then toFixed: a loss that is not a number
	   would throw there, and is left out here. */
	present = js_member(md, "loss", &v);
	if (js_truthy(present, v) && js_is_number(present, v)) {
		ev->has_loss = 1;
		ev->loss = json_object_get_double(v);
	}
}

void
integ_event_free(struct integ_event *ev)
{
	free(ev->bare_type);
	free(ev->job_id);
	free(ev->model_name);
	free(ev->status);
	free(ev->error);
	free(ev->duration);
	memset(ev, 0, sizeof(*ev));
}

/* Masks the integration's credentials, and its URL's path, in text. */
static void
redact(char *text, const struct integration *ig)
{
	const char	*p;

	text_redact(text, ig->key);
	text_redact(text, ig->url);
	if (ig->url != NULL && (p = strstr(ig->url, "://")) != NULL &&
	    (p = strpbrk(p + 3, "/?#")) != NULL && strlen(p) > 1)
		text_redact(text, p);
}

static void
log_result(const struct integration *ig, const char *detail)
{
	const struct chan_result	*res = &ig->result;
	const char			*alert = ig->notice != NULL ?
					    ig->notice->alert_id : "?";

	if (res->ok)
		log_info("alert %s: integration %s (%s, %s): delivered",
		    alert, ig->id, ig->type_name, ig->origin);
	else
		log_warnx("alert %s: integration %s (%s, %s): not delivered: "
		    "%s%s%s%s", alert, ig->id, ig->type_name, ig->origin,
		    res->error != NULL ? res->error : "?",
		    *detail != '\0' ? " (" : "", detail,
		    *detail != '\0' ? ")" : "");
}

static void
set_result(struct integration *ig, int ok, const char *error, int retry,
    const char *detail)
{
	struct chan_result	*res = &ig->result;
	char			 d[NOTIFY_MAX_ERROR];

	res->done = 1;
	res->ok = ok;
	res->retry = !ok && retry;
	free(res->error);
	res->error = NULL;
	if (!ok && error != NULL) {
		res->error = xstrdup(error);
		redact(res->error, ig);
		text_one_line(res->error);
		text_trim(res->error, NOTIFY_MAX_ERROR);
		text_make_valid(res->error);
	}
	strlcpy(d, detail != NULL ? detail : "", sizeof(d));
	redact(d, ig);
	text_tidy_end(d);
	text_make_valid(d);
	log_result(ig, d);
}

void
integ_fail(struct integration *ig, const char *error, int retry)
{
	set_result(ig, 0, error, retry, NULL);
}

void
integ_result(struct integration *ig, const struct outcome *o)
{
	set_result(ig, o->ok, o->error, o->retry, o->detail);
}

/* The answer as JSON, or NULL; the caller puts it. */
json_object *
integ_answer(const struct request *r)
{
	json_object	*v;
	const char	*text;
	size_t		 len;
	int		 cut;

	text = request_answer(r, &len, &cut);
	if (cut || len == 0 ||
	    json1_parse(text, len, 64, &v, NULL, 0) == -1)
		return NULL;
	return v;
}

/*
 * An API's failure with its own words: "HTTP 400: Bad Request: chat not
 * found", member being where the answer keeps them.
 */
void
integ_api_error(struct outcome *o, const struct request *r,
    const char *member)
{
	json_object	*a = integ_answer(r);
	const char	*s = jget_str(a, member);
	char		 words[API_WORDS_MAX * 4 + 1];
	size_t		 used;

	if (s != NULL && *s != '\0') {
		strlcpy(words, s, sizeof(words));
		text_tidy_end(words);
		text_clip(words, API_WORDS_MAX);
		used = strlen(o->error);
		snprintf(o->error + used, sizeof(o->error) - used, ": %s",
		    words);
	}
	json_object_put(a);
}

/*
 * The end of a call to an API whose answer says whether it worked
 * beside its status (PagerDuty's "status": "success", Telegram's "ok"):
 * said reads that word from a 2xx's answer, and a 2xx without it
 * failed, retried when the service may take it next time (retry); a
 * refusal is told in the words of the answer's member.
 */
void
integ_checked_result(struct request *r, struct integration *ig,
    int (*said)(const struct request *), const char *word, int retry,
    const char *member)
{
	struct outcome	o;

	request_outcome(r, &o);
	if (o.ok && !said(r)) {
		o.ok = 0;
		o.retry = retry;
		snprintf(o.error, sizeof(o.error), "HTTP %ld without \"%s\"",
		    o.status, word);
	} else if (!o.ok && o.status != 0)
		integ_api_error(&o, r, member);
	integ_result(ig, &o);
}

/*
 * Starts a call for ig (a GET when body is NULL), with what is left of
 * the delivery's time.  0, or -1 when it failed at once (the result
 * says why).
 */
int
integ_call(struct integration *ig, const char *url, const char *body,
    const char *const *headers, size_t answer_max,
    void (*done)(struct request *, void *))
{
	struct request_spec	 spec;
	struct request		*r;
	enum url_verdict	 verdict = url_check_user(url);
	long			 left = ig->deadline - mono_ms();
	size_t			 slot = ig->req[0] == NULL ? 0 : 1;

	if (webhook_origin(url, ig->origin, sizeof(ig->origin)) == -1 ||
	    verdict == URL_BAD) {
		integ_fail(ig, BAD_URL, 0);
		return -1;
	}
	if (verdict == URL_CREDENTIALS) {
		integ_fail(ig, REFUSED_CREDENTIALS, 0);
		return -1;
	}
	if (left < 1) {
		set_result(ig, 0, UNREACHABLE, 1, "no time left");
		return -1;
	}
	memset(&spec, 0, sizeof(spec));
	spec.url = url;
	spec.body = body;
	spec.headers = headers;
	spec.timeout_ms = left;
	spec.allow = &ig->notice->allow;
	spec.answer_max = answer_max;
	if ((r = request_start(ig->multi, &spec, done, ig)) == NULL) {
		integ_fail(ig, "internal error: cannot set up the call", 1);
		return -1;
	}
	ig->req[slot] = r;
	return 0;
}

static void
start_one(struct integration *ig, const struct integ_event *ev)
{
	switch (ig->type) {
	case INTEG_TEAMS:
		teams_start(ig, ev);
		break;
	case INTEG_TELEGRAM:
		telegram_start(ig, ev);
		break;
	case INTEG_PAGERDUTY:
		pagerduty_start(ig, ev);
		break;
	case INTEG_NOTION:
		notion_start(ig, ev);
		break;
	case INTEG_OTHER:
		integ_fail(ig, "not supported: evalsched delivers to teams, "
		    "telegram, pagerduty and notion", 0);
		break;
	}
}

void
integrations_start(CURLM *m, struct notice *n)
{
	struct integ_event	ev;
	size_t			i;

	integ_event_get(&n->event, &ev);
	for (i = 0; i < n->ninteg; i++) {
		struct integration *ig = &n->integs[i];

		ig->notice = n;
		ig->multi = m;
		ig->deadline = mono_ms() + n->timeout_ms;
		/* Refused by the supervisor, or bad credentials (input.c). */
		if (ig->result.done)
			log_result(ig, "");
		else
			start_one(ig, &ev);
	}
	integ_event_free(&ev);
}

/* A call that never ended (libcurl failed) is an internal error. */
void
integrations_finish(CURLM *m, struct notice *n)
{
	size_t	i, j;

	for (i = 0; i < n->ninteg; i++) {
		struct integration *ig = &n->integs[i];

		if (!ig->result.done)
			integ_fail(ig, "internal error: libcurl failed", 1);
		for (j = 0; j < 2; j++) {
			request_free(m, ig->req[j]);
			ig->req[j] = NULL;
		}
	}
}
