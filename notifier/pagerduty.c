/*
 * PagerDuty: an Events API v2 "trigger" with the application's summary,
 * source and custom details (integration.service.ts, logToPagerDuty).
 *
 * The application's dedup key is "finetune-lab-JOBID-TYPE", and a
 * scheduled evaluation has no job: every alert of a type, of every
 * schedule, would be one incident for as long as it is open.  Ours puts
 * the alert's id in the job's place: one incident for each alert, and a
 * delivery tried again (an answer lost, a 5xx) adds nothing to it.  So a
 * 2xx that does not say "success" is tried again too.  The routing key
 * is a secret: it is in the body, wiped with it, and masked in errors.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json1.h"
#include "jsonget.h"
#include "notifier.h"
#include "text.h"

#define ANSWER_MAX	(64 * 1024)
#define SEVERITY	"info"		/* the app's for these types */
#define SOURCE		"FineTune Lab"

static json_object *
details(struct chat *c, const struct integ_event *ev)
{
	json_object	*d = chat_object(c);
	char		 loss[64], *error;

	chat_set(c, d, "job_id", chat_string(c, ev->job_id));
	chat_set(c, d, "status", chat_string(c, ev->status));
	if (ev->model_name != NULL)
		chat_set(c, d, "model_name", chat_string(c, ev->model_name));
	if (ev->duration != NULL)
		chat_set(c, d, "duration", chat_string(c, ev->duration));
	if (ev->has_loss) {
		js_to_fixed(ev->loss, 4, loss, sizeof(loss));
		chat_set(c, d, "final_loss", chat_string(c, loss));
	}
	if (ev->error != NULL) {
		error = js_slice(ev->error, 1000);
		chat_set(c, d, "error_message", chat_string(c, error));
		free(error);
	}
	return d;
}

char *
pagerduty_body(const struct integ_event *ev, const char *alert_id,
    const char *routing_key)
{
	struct chat	 c = { 0 };
	json_object	*o = chat_object(&c), *p = chat_object(&c);
	char		*dedup, *body = NULL;

	chat_set(&c, o, "routing_key", chat_string(&c, routing_key));
	chat_set(&c, o, "event_action", chat_string(&c, "trigger"));
	dedup = chat_format(&c, "finetune-lab-%s-%s", alert_id, ev->type);
	chat_set(&c, o, "dedup_key", chat_string(&c, dedup));
	free(dedup);
	chat_set(&c, p, "summary", chat_string(&c, ev->title));
	chat_set(&c, p, "severity", chat_string(&c, SEVERITY));
	chat_set(&c, p, "source", chat_string(&c, SOURCE));
	chat_set(&c, p, "custom_details", details(&c, ev));
	chat_set(&c, o, "payload", p);
	if (!c.failed)
		body = js_stringify(o);
	json1_wipe_member(o, "routing_key");
	json_object_put(o);
	return body;
}

/* `data.status !== 'success'` fails. */
static int
said_success(const struct request *r)
{
	json_object	*a = integ_answer(r);
	const char	*status = jget_str(a, "status");
	int		 ok;

	ok = status != NULL && strcmp(status, "success") == 0;
	json_object_put(a);
	return ok;
}

static void
done(struct request *r, void *arg)
{
	struct outcome	o;

	request_outcome(r, &o);
	if (o.ok && !said_success(r)) {
		o.ok = 0;
		o.retry = 1;
		snprintf(o.error, sizeof(o.error), "HTTP %ld without "
		    "\"success\"", o.status);
	} else if (!o.ok && o.status != 0)
		integ_api_error(&o, r, "message");
	integ_result(arg, &o);
}

void
pagerduty_start(struct integration *ig, const struct integ_event *ev)
{
	static const char *const headers[] = {
		"Content-Type: application/json", NULL };
	char	*body;

	if ((body = pagerduty_body(ev, ig->notice->alert_id,
	    ig->key)) == NULL) {
		integ_fail(ig, "internal error: out of memory", 1);
		return;
	}
	integ_call(ig, ig->notice->api.pagerduty, body, headers, ANSWER_MAX,
	    done);
	text_free_secret(body);
}
