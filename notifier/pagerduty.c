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
details(const struct integ_event *ev)
{
	json_object	*d = jnew_object();
	char		 loss[64], *error;

	jset(d, "job_id", jnew_string(ev->job_id));
	jset(d, "status", jnew_string(ev->status));
	if (ev->model_name != NULL)
		jset(d, "model_name", jnew_string(ev->model_name));
	if (ev->duration != NULL)
		jset(d, "duration", jnew_string(ev->duration));
	if (ev->has_loss) {
		js_to_fixed(ev->loss, 4, loss, sizeof(loss));
		jset(d, "final_loss", jnew_string(loss));
	}
	if (ev->error != NULL) {
		error = js_slice(ev->error, 1000);
		jset(d, "error_message", jnew_string(error));
		free(error);
	}
	return d;
}

char *
pagerduty_body(const struct integ_event *ev, const char *alert_id,
    const char *routing_key)
{
	json_object	*o = jnew_object(), *p = jnew_object();
	char		*dedup, *body;

	jset(o, "routing_key", jnew_string(routing_key));
	jset(o, "event_action", jnew_string("trigger"));
	dedup = xasprintf("finetune-lab-%s-%s", alert_id, ev->type);
	jset(o, "dedup_key", jnew_string(dedup));
	free(dedup);
	jset(p, "summary", jnew_string(ev->title));
	jset(p, "severity", jnew_string(SEVERITY));
	jset(p, "source", jnew_string(SOURCE));
	jset(p, "custom_details", details(ev));
	jset(o, "payload", p);
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
	integ_checked_result(r, arg, said_success, "success", 1,
	    "message");
}

void
pagerduty_start(struct integration *ig, const struct integ_event *ev)
{
	static const char *const headers[] = {
		"Content-Type: application/json", NULL };
	char	*body = pagerduty_body(ev, ig->notice->alert_id, ig->key);

	integ_call(ig, ig->notice->api.pagerduty, body, headers, ANSWER_MAX,
	    done);
	text_free_secret(body);
}
