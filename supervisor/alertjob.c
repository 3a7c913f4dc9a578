/*
 * A notifier's job: one claimed alert, as evalsched-notifier(8) takes it
 * on its stdin.  The event in the application's words, and where it
 * goes: the owner's webhooks and integrations (their secrets with them,
 * never in argv or the environment), the owner's email when the claim
 * decided to send it, alert_command.  Every copy of a secret this file
 * makes is wiped before it is freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "json1.h"
#include "jsonget.h"
#include "jsonnew.h"
#include "url.h"
#include "supervisor.h"

#define WEBHOOK_TIMEOUT_MS	10000	/* the application's */

static json_object *
parsed(const char *text)
{
	json_object	*o = json_tokener_parse(text);

	return o != NULL ? o : jnew_object();
}

static json_object *
parsed_array(const char *text)
{
	json_object	*o = text != NULL ? json_tokener_parse(text) : NULL;

	if (o != NULL && json_object_is_type(o, json_type_array))
		return o;
	json_object_put(o);
	return jnew_array();
}

static int
has_command(const struct alert_row *r)
{
	const char	*cmd = sv->conf.alert_command;

	return r->command && cmd != NULL && *cmd != '\0';
}

/* Whether there is anything to deliver to at all. */
int
alertjob_has_channels(const struct alert_row *r)
{
	return strcmp(r->webhooks, "[]") != 0 ||
	    strcmp(r->integrations, "[]") != 0 || r->email_to != NULL ||
	    has_command(r);
}

/* webhook_allow as the notifier takes it: ["10.0.0.0/8", ...]. */
static json_object *
allow_json(void)
{
	json_object		*a = jnew_array();
	struct url_allow	 allow;
	char			 net[NET_TEXT_MAX];
	size_t			 i;

	/* Checked when the configuration was read. */
	if (sv->conf.webhook_allow == NULL ||
	    url_allow_parse(&allow, sv->conf.webhook_allow, NULL, 0) == -1)
		return a;
	for (i = 0; i < allow.n; i++) {
		net_format(&allow.nets[i], net, sizeof(net));
		jpush(a, jnew_string(net));
	}
	return a;
}

static json_object *
event_json(const struct alert_row *r)
{
	json_object	*ev = jnew_object();

	jset(ev, "type", jnew_string(r->event));
	jset(ev, "title", jnew_string(r->title));
	jset(ev, "message", jnew_string(r->message));
	jset(ev, "timestamp", jnew_string(r->timestamp));
	jset(ev, "metadata", parsed(r->metadata));
	return ev;
}

/*
 * Through the host's mail transfer agent, or Resend's API (the
 * application's provider) when its key is configured.
 */
static json_object *
transport_json(void)
{
	json_object	*t = jnew_object(), *resend;
	const char	*key = sv->conf.resend_api_key;

	if (key == NULL || *key == '\0') {
		jset(t, "sendmail", jnew_string(sv->conf.sendmail));
		return t;
	}
	resend = jnew_object();
	jset(resend, "url", jnew_string(sv->conf.resend_api_url));
	jset(resend, "key", jnew_string(key));
	jset(t, "resend", resend);
	return t;
}

static json_object *
email_json(const struct alert_row *r)
{
	json_object	*e = jnew_object();

	jset(e, "to", jnew_string(r->email_to));
	jset(e, "from", jnew_string(sv->conf.mail_from));
	jset(e, "transport", transport_json());
	jset(e, "app_base_url", jnew_string(
	    sv->conf.app_link_url != NULL ? sv->conf.app_link_url :
	    sv->conf.app_url));
	return e;
}

/* The integrations' API bases; users' URLs come with their credentials. */
static json_object *
urls_json(void)
{
	json_object	*u = jnew_object();

	jset(u, "telegram", jnew_string(sv->conf.telegram_api_url));
	jset(u, "pagerduty", jnew_string(sv->conf.pagerduty_events_url));
	jset(u, "notion", jnew_string(sv->conf.notion_api_url));
	return u;
}

/*
 * The webhooks' URLs (Slack's and Discord's are credentials), their
 * secrets, the integrations' credentials and the Resend key leave no
 * copy in what json-c frees.
 */
static void
wipe_secrets(json_object *job)
{
	json_object	*v = jget(job, "webhooks");
	size_t		 i;

	for (i = 0; i < json_object_array_length(v); i++) {
		json1_wipe_member(json_object_array_get_idx(v, i), "url");
		json1_wipe_member(json_object_array_get_idx(v, i), "secret");
	}
	json1_wipe_strings(jget(job, "integrations"));
	json1_wipe_strings(jget(job, "email"));
}

/*
 * The job as text; *asked says which of the channels whose answers are
 * optional (ALERT_ASKED_EMAIL, ALERT_ASKED_INTEGRATIONS) it names.
 */
char *
alertjob_build(const struct alert_row *r, unsigned int *asked)
{
	json_object	*job = jnew_object();
	json_object	*integrations = parsed_array(r->integrations);
	char		*text, *printed;

	*asked = 0;
	jset(job, "alert_id", jnew_string(r->id));
	jset(job, "event", event_json(r));
	jset(job, "webhooks", parsed_array(r->webhooks));
	jset(job, "command", has_command(r) ?
	    jnew_string(sv->conf.alert_command) : NULL);
	jset(job, "timeout_ms", jnew_int(WEBHOOK_TIMEOUT_MS));
	/* Not tls_ca_file: that is the application's CA, not the users'. */
	jset(job, "webhook_allow", allow_json());
	if (r->email_to != NULL) {
		jset(job, "email", email_json(r));
		*asked |= ALERT_ASKED_EMAIL;
	}
	if (json_object_array_length(integrations) > 0) {
		jset(job, "integrations", integrations);
		jset(job, "integration_urls", urls_json());
		*asked |= ALERT_ASKED_INTEGRATIONS;
	} else
		json_object_put(integrations);
	printed = (char *)(uintptr_t)jtext(job,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	text = xstrdup(printed);
	explicit_bzero(printed, strlen(printed));
	wipe_secrets(job);
	json_object_put(job);
	return text;
}
