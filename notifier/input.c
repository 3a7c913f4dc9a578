/*
 * The alert on stdin: parsed and checked.  The webhook URLs and secrets
 * are copied out of the parse tree and wiped there at once; no error
 * message quotes a value, since one may be a secret.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "json1.h"
#include "jsonget.h"
#include "notifier.h"
#include "text.h"

#define JSON_DEPTH	64

static const char *const event_names[] = {
	[EVENT_FAILED] = "scheduled_eval_failed",
	[EVENT_DISABLED] = "scheduled_eval_disabled",
	[EVENT_REGRESSION] = "scheduled_eval_regression",
	[EVENT_TRACE_LATENCY_HIGH] = "trace_latency_high",
	[EVENT_TRACE_ERROR_RATE_HIGH] = "trace_error_rate_high",
	[EVENT_TRACE_COST_HIGH] = "trace_cost_high",
	[EVENT_TRACE_THROUGHPUT_LOW] = "trace_throughput_low",
	[EVENT_TRACE_TTFT_HIGH] = "trace_ttft_high",
	[EVENT_ANOMALY_CRITICAL] = "anomaly_critical",
};

static const char *const hook_names[] = {
	[HOOK_GENERIC] = "generic",
	[HOOK_SLACK] = "slack",
	[HOOK_DISCORD] = "discord",
};

const char *
hook_type_name(enum hook_type type)
{
	return hook_names[type];
}

static int __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Exactly one JSON object fills text[0..len). */
static int
parse_object(const char *text, size_t len, json_object **out, char *err,
    size_t errlen)
{
	char	why[128];

	if (json1_parse(text, len, JSON_DEPTH, out, why, sizeof(why)) == -1)
		return set_err(err, errlen, "not JSON: %s", why);
	if (!json_object_is_type(*out, json_type_object))
		return set_err(err, errlen, "not a JSON object");
	return 0;
}

/* A string member as a C string of our own: 1, 0 or -1 as jget_text. */
static int
copy_member(json_object *obj, const char *where, const char *key,
    enum jget_need need, char **out, char *err, size_t len)
{
	const char	*s;
	int		 r;

	*out = NULL;
	if ((r = jget_text(obj, where, key, need, &s, err, len)) <= 0)
		return r;
	*out = xstrdup(s);
	return 1;
}

/* A string member of the event, kept in the tree. */
static int
event_string(json_object *e, const char *key, json_object **out, char *err,
    size_t len)
{
	return jget_typed(e, "event.", key, json_type_string, JGET_REQUIRED,
	    out, err, len);
}

/* Each object of the array member key, with fn. */
static void
wipe_each(json_object *root, const char *key, void (*fn)(json_object *))
{
	json_object	*a = jget(root, key), *o;
	size_t		 i, n;

	if (a == NULL || !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		o = json_object_array_get_idx(a, i);
		if (o != NULL && json_object_is_type(o, json_type_object))
			fn(o);
	}
}

static void
wipe_hook(json_object *h)
{
	json1_wipe_member(h, "url");
	json1_wipe_member(h, "secret");
}

/* All of the credentials: which member is a secret depends on the type. */
static void
wipe_integration(json_object *ig)
{
	json1_wipe_strings(jget(ig, "credentials"));
}

static void
wipe_email(json_object *root)
{
	json1_wipe_member(jget(jget(jget(root, "email"), "transport"),
	    "resend"), "key");
}

/* Whatever the document's fate, its secrets leave no copy behind. */
static void
wipe_secrets(json_object *root)
{
	wipe_each(root, "webhooks", wipe_hook);
	wipe_each(root, "integrations", wipe_integration);
	wipe_email(root);
}

static int
digits(const char *s, int n)
{
	while (n-- > 0)
		if (!isdigit((unsigned char)*s++))
			return 0;
	return 1;
}

/* 2026-11-30T16:00:00[.000](Z|+01:00): Discord refuses anything else. */
static int
iso_timestamp(const char *s)
{
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
	    s[7] != '-' || !digits(s + 8, 2) || s[10] != 'T' ||
	    !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
	    s[16] != ':' || !digits(s + 17, 2))
		return 0;
	s += 19;
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'Z')
		return s[1] == '\0';
	return (*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' &&
	    digits(s + 4, 2) && s[6] == '\0';
}

static int
event_type(json_object *v, enum event_type *type)
{
	size_t	i;

	for (i = 0; i < sizeof(event_names) / sizeof(*event_names); i++)
		if (strcmp(json_object_get_string(v), event_names[i]) == 0) {
			*type = (enum event_type)i;
			return 0;
		}
	return -1;
}

static int
take_metadata(json_object *e, struct event *ev, char *err, size_t len)
{
	int	r;

	if ((r = jget_typed(e, "event.", "metadata", json_type_object,
	    JGET_OPTIONAL, &ev->metadata, err, len)) != 0)
		return r < 0 ? -1 : 0;
	/* Left out: the empty object, owned by the tree like the rest. */
	jset(e, "metadata", ev->metadata = jnew_object());
	return 0;
}

static int
take_event(json_object *root, struct event *ev, char *err, size_t len)
{
	json_object	*e;

	if (jget_typed(root, NULL, "event", json_type_object, JGET_REQUIRED,
	    &e, err, len) < 0 ||
	    event_string(e, "type", &ev->type_name, err, len) < 0 ||
	    event_string(e, "title", &ev->title, err, len) < 0 ||
	    event_string(e, "message", &ev->message, err, len) < 0 ||
	    event_string(e, "timestamp", &ev->timestamp, err, len) < 0)
		return -1;
	if (event_type(ev->type_name, &ev->type) == -1)
		return set_err(err, len, "event.type is not a scheduled "
		    "evaluation's (scheduled_eval_failed, _disabled, "
		    "_regression) or a metric alert rule's (trace_*, "
		    "anomaly_critical)");
	if (!iso_timestamp(json_object_get_string(ev->timestamp)))
		return set_err(err, len, "event.timestamp is not an ISO 8601 "
		    "date and time");
	return take_metadata(e, ev, err, len);
}

static int
hook_type(json_object *h, const char *where, enum hook_type *type,
    char *err, size_t len)
{
	json_object	*v;
	size_t		 i;
	int		 r;

	/* The application's column defaults to generic. */
	*type = HOOK_GENERIC;
	if ((r = jget_typed(h, where, "type", json_type_string, JGET_OPTIONAL,
	    &v, err, len)) <= 0)
		return r;
	for (i = 0; i < sizeof(hook_names) / sizeof(*hook_names); i++)
		if (strcmp(json_object_get_string(v), hook_names[i]) == 0) {
			*type = (enum hook_type)i;
			return 0;
		}
	return set_err(err, len, "%stype is not generic, slack or discord",
	    where);
}

/*
 * A webhook or an integration the supervisor refused to hand over (its
 * URL or secret is longer than this document has room for): 1 with the
 * reason in *why, with which it fails, sent nothing; 0 when it was not.
 */
static int
refusal(json_object *h, const char *where, char **why, char *origin,
    size_t originlen, char *err, size_t len)
{
	int	r;

	if ((r = copy_member(h, where, "refused", JGET_OPTIONAL, why, err,
	    len)) <= 0)
		return r;
	text_trim(*why, NOTIFY_MAX_ERROR);
	text_make_valid(*why);
	strlcpy(origin, "(refused)", originlen);
	return 1;
}

static int
take_hook(json_object *h, size_t i, struct hook *hook, char *err,
    size_t len)
{
	char	where[32];
	int	refused;

	snprintf(where, sizeof(where), "webhooks[%zu].", i);
	if (!json_object_is_type(h, json_type_object))
		return set_err(err, len, "webhooks[%zu] is not an object", i);
	if (copy_member(h, where, "id", JGET_REQUIRED, &hook->id, err,
	    len) < 0)
		return -1;
	if (!job_is_uuid(hook->id))
		return set_err(err, len, "%sid is not a UUID", where);
	if ((refused = refusal(h, where, &hook->result.error, hook->origin,
	    sizeof(hook->origin), err, len)) < 0)
		return -1;
	if (refused) {
		hook->result.done = 1;
		return hook_type(h, where, &hook->type, err, len);
	}
	if (copy_member(h, where, "url", JGET_REQUIRED, &hook->url, err,
	    len) < 0 ||
	    hook_type(h, where, &hook->type, err, len) < 0 ||
	    copy_member(h, where, "secret", JGET_OPTIONAL, &hook->secret, err,
	    len) < 0)
		return -1;
	if (webhook_origin(hook->url, hook->origin,
	    sizeof(hook->origin)) == -1)
		strlcpy(hook->origin, "(a bad URL)", sizeof(hook->origin));
	return 0;
}

static int
take_hooks(json_object *root, struct notice *n, char *err, size_t len)
{
	json_object	*hooks;
	size_t		 i, count;
	int		 r;

	if ((r = jget_typed(root, NULL, "webhooks", json_type_array,
	    JGET_OPTIONAL, &hooks, err, len)) <= 0)
		return r;
	count = json_object_array_length(hooks);
	if (count > NOTIFY_MAX_WEBHOOKS)
		return set_err(err, len, "more than %d webhooks",
		    NOTIFY_MAX_WEBHOOKS);
	if (count == 0)
		return 0;
	n->hooks = xcalloc(count, sizeof(*n->hooks));
	for (i = 0; i < count; i++) {
		n->nhooks = i + 1;
		if (take_hook(json_object_array_get_idx(hooks, i), i,
		    &n->hooks[i], err, len) == -1)
			return -1;
	}
	return 0;
}

static int
take_timeout(json_object *root, long *ms, char *err, size_t len)
{
	int64_t	t = NOTIFY_DEFAULT_TIMEOUT_MS;

	if (jget_int(root, NULL, "timeout_ms", 1, NOTIFY_MAX_TIMEOUT_MS, &t,
	    err, len) < 0)
		return -1;
	*ms = (long)t;
	return 0;
}

static int
take_command(json_object *root, struct notice *n, char *err, size_t len)
{
	if (copy_member(root, NULL, "command", JGET_OPTIONAL, &n->command, err,
	    len) < 0)
		return -1;
	if (n->command != NULL && *n->command == '\0') {
		free(n->command);
		n->command = NULL;
	}
	if (n->command != NULL && *n->command != '/')
		return set_err(err, len, "command is not an absolute path");
	return 0;
}

/* webhook_allow: ["10.0.0.0/8", "fd00::/8"], as the supervisor writes it. */
static int
take_allow(json_object *root, struct url_allow *allow, char *err, size_t len)
{
	json_object	*a, *v;
	char		 why[128];
	size_t		 i, count;
	int		 r;

	allow->n = 0;
	if ((r = jget_typed(root, NULL, "webhook_allow", json_type_array,
	    JGET_OPTIONAL, &a, err, len)) <= 0)
		return r;
	if ((count = json_object_array_length(a)) > URL_ALLOW_MAX)
		return set_err(err, len, "webhook_allow has more than %d "
		    "networks", URL_ALLOW_MAX);
	for (i = 0; i < count; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string) ||
		    net_parse(&allow->nets[i], json_object_get_string(v), why,
		    sizeof(why)) == -1)
			return set_err(err, len, "webhook_allow[%zu] is not a "
			    "network", i);
		allow->n = i + 1;
	}
	return 0;
}

/* --- the email -------------------------------------------------------- */

#define DEFAULT_SENDMAIL	"/usr/sbin/sendmail"

static int
take_transport(json_object *e, struct email *em, char *err, size_t len)
{
	json_object	*t, *r;
	int		 found;

	if ((found = jget_typed(e, "email.", "transport", json_type_object,
	    JGET_OPTIONAL, &t, err, len)) < 0)
		return -1;
	if (!found) {
		em->sendmail = xstrdup(DEFAULT_SENDMAIL);
		return 0;
	}
	if (jget(t, "sendmail") != NULL) {
		if (copy_member(t, "email.transport.", "sendmail",
		    JGET_REQUIRED, &em->sendmail, err, len) < 0)
			return -1;
		if (*em->sendmail != '/')
			return set_err(err, len, "email.transport.sendmail is "
			    "not an absolute path");
		return 0;
	}
	if (jget(t, "resend") == NULL)
		return set_err(err, len, "email.transport is neither "
		    "sendmail nor resend");
	if (jget_typed(t, "email.transport.", "resend", json_type_object,
	    JGET_REQUIRED, &r, err, len) < 0 ||
	    copy_member(r, "email.transport.resend.", "url", JGET_REQUIRED,
	    &em->resend_url, err, len) < 0 ||
	    copy_member(r, "email.transport.resend.", "key", JGET_REQUIRED,
	    &em->resend_key, err, len) < 0)
		return -1;
	/* The key goes in a header: one line of it. */
	if (*em->resend_key == '\0' || text_has_control(em->resend_key))
		return set_err(err, len, "email.transport.resend.key is empty "
		    "or holds a control character");
	return 0;
}

static int
take_email(json_object *root, struct notice *n, char *err, size_t len)
{
	json_object	*e;
	struct email	*em;
	int		 r;

	if ((r = jget_typed(root, NULL, "email", json_type_object,
	    JGET_OPTIONAL, &e, err, len)) <= 0)
		return r;
	n->email = em = xcalloc(1, sizeof(*em));
	if (copy_member(e, "email.", "to", JGET_REQUIRED, &em->to, err,
	    len) < 0 ||
	    copy_member(e, "email.", "from", JGET_REQUIRED, &em->from, err,
	    len) < 0 ||
	    copy_member(e, "email.", "app_base_url", JGET_OPTIONAL,
	    &em->app_base_url, err, len) < 0 ||
	    take_transport(e, em, err, len) < 0)
		return -1;
	if (em->app_base_url != NULL && *em->app_base_url == '\0') {
		free(em->app_base_url);
		em->app_base_url = NULL;
	}
	return 0;
}

/* --- the integrations ------------------------------------------------- */

/* A credential that fails its integration alone, not the document. */
static void
bad_credentials(struct integration *ig, const char *why)
{
	ig->result.done = 1;
	ig->result.error = xasprintf("bad credentials: %s", why);
}

/* A credential's string, or NULL when it is not one, or empty. */
static char *
credential(json_object *creds, const char *key, size_t max)
{
	const char	*s;

	if (jget_text(creds, NULL, key, JGET_NONEMPTY, &s, NULL, 0) != 1 ||
	    strlen(s) > max)
		return NULL;
	return xstrdup(s);
}

/* 123456:ABC-DEF...: it goes in the URL's path, so nothing else may. */
static int
bot_token(const char *t)
{
	size_t	n = strspn(t, "0123456789");

	return n > 0 && t[n] == ':' && t[n + 1] != '\0' &&
	    strspn(t + n + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
	    "WXYZ0123456789_-") == strlen(t + n + 1);
}

static void
take_telegram(json_object *creds, struct integration *ig)
{
	json_object	*c = jget(creds, "chat_id");

	if ((ig->key = credential(creds, "bot_token", NOTIFY_MAX_SECRET)) ==
	    NULL || !bot_token(ig->key))
		bad_credentials(ig, "bot_token is not a bot's token");
	else if (c == NULL || (!json_object_is_type(c, json_type_int) &&
	    (!json_object_is_type(c, json_type_string) ||
	    json_object_get_string_len(c) == 0)))
		bad_credentials(ig, "no chat_id");
	/* A copy: the credentials' strings are wiped once read. */
	else if (json_object_deep_copy(c, &ig->chat_id, NULL) != 0)
		out_of_memory("json_object_deep_copy");
}

static void
take_notion(json_object *creds, struct integration *ig)
{
	if ((ig->key = credential(creds, "api_key", NOTIFY_MAX_SECRET)) ==
	    NULL || text_has_control(ig->key))
		bad_credentials(ig, "no api_key");
	/* It goes in the URL's path: a Notion id, and nothing else. */
	else if ((ig->database_id = credential(creds, "database_id", 64)) ==
	    NULL || strspn(ig->database_id, "0123456789abcdefABCDEF-") !=
	    strlen(ig->database_id))
		bad_credentials(ig, "database_id is not a Notion id");
}

static void
take_credentials(json_object *h, struct integration *ig)
{
	json_object	*creds = jget(h, "credentials");

	if (!json_object_is_type(creds, json_type_object)) {
		bad_credentials(ig, "not an object");
		return;
	}
	switch (ig->type) {
	case INTEG_TEAMS:
		if ((ig->url = credential(creds, "webhook_url",
		    NOTIFY_MAX_URL)) == NULL)
			bad_credentials(ig, "no webhook_url");
		else if (webhook_origin(ig->url, ig->origin,
		    sizeof(ig->origin)) == -1)
			strlcpy(ig->origin, "(a bad URL)", sizeof(ig->origin));
		break;
	case INTEG_TELEGRAM:
		take_telegram(creds, ig);
		break;
	case INTEG_PAGERDUTY:
		if ((ig->key = credential(creds, "routing_key",
		    NOTIFY_MAX_SECRET)) == NULL)
			bad_credentials(ig, "no routing_key");
		break;
	case INTEG_NOTION:
		take_notion(creds, ig);
		break;
	default:
		break;
	}
}

static int
take_integration(json_object *h, size_t i, struct integration *ig,
    char *err, size_t len)
{
	char	where[32];
	int	r;

	snprintf(where, sizeof(where), "integrations[%zu].", i);
	strlcpy(ig->origin, "-", sizeof(ig->origin));
	if (!json_object_is_type(h, json_type_object))
		return set_err(err, len, "integrations[%zu] is not an object",
		    i);
	if (copy_member(h, where, "id", JGET_REQUIRED, &ig->id, err, len) < 0)
		return -1;
	if (!job_is_uuid(ig->id))
		return set_err(err, len, "%sid is not a UUID", where);
	if (copy_member(h, where, "type", JGET_REQUIRED, &ig->type_name, err,
	    len) < 0)
		return -1;
	text_trim(ig->type_name, 32);
	text_make_valid(ig->type_name);
	integ_type_from(ig->type_name, &ig->type);
	if ((r = refusal(h, where, &ig->result.error, ig->origin,
	    sizeof(ig->origin), err, len)) < 0)
		return -1;
	if (r > 0)
		ig->result.done = 1;
	else if (ig->type != INTEG_OTHER)	/* integ.c fails the others */
		take_credentials(h, ig);
	return 0;
}

static int
take_integrations(json_object *root, struct notice *n, char *err,
    size_t len)
{
	json_object	*a;
	size_t		 i, count;
	int		 r;

	if ((r = jget_typed(root, NULL, "integrations", json_type_array,
	    JGET_OPTIONAL, &a, err, len)) <= 0)
		return r;
	if ((count = json_object_array_length(a)) > NOTIFY_MAX_INTEGRATIONS)
		return set_err(err, len, "more than %d integrations",
		    NOTIFY_MAX_INTEGRATIONS);
	if (count == 0)
		return 0;
	n->integs = xcalloc(count, sizeof(*n->integs));
	for (i = 0; i < count; i++) {
		n->ninteg = i + 1;
		if (take_integration(json_object_array_get_idx(a, i), i,
		    &n->integs[i], err, len) == -1)
			return -1;
	}
	return 0;
}

/* integration_urls: each the application's own when left out. */
static int
take_api_bases(json_object *root, struct api_bases *api, char *err,
    size_t len)
{
	json_object	*u;

	if (jget_typed(root, NULL, "integration_urls", json_type_object,
	    JGET_OPTIONAL, &u, err, len) < 0 ||
	    copy_member(u, "integration_urls.", "telegram", JGET_OPTIONAL,
	    &api->telegram, err, len) < 0 ||
	    copy_member(u, "integration_urls.", "pagerduty", JGET_OPTIONAL,
	    &api->pagerduty, err, len) < 0 ||
	    copy_member(u, "integration_urls.", "notion", JGET_OPTIONAL,
	    &api->notion, err, len) < 0)
		return -1;
	if (api->telegram == NULL)
		api->telegram = xstrdup("https://api.telegram.org");
	if (api->pagerduty == NULL)
		api->pagerduty =
		    xstrdup("https://events.pagerduty.com/v2/enqueue");
	if (api->notion == NULL)
		api->notion = xstrdup("https://api.notion.com");
	return 0;
}

static int
take_notice(json_object *root, struct notice *n, char *err, size_t len)
{
	if (copy_member(root, NULL, "alert_id", JGET_REQUIRED, &n->alert_id,
	    err, len) < 0)
		return -1;
	if (!job_is_uuid(n->alert_id))
		return set_err(err, len, "alert_id is not a UUID");
	if (take_event(root, &n->event, err, len) < 0 ||
	    take_hooks(root, n, err, len) < 0 ||
	    take_command(root, n, err, len) < 0 ||
	    take_timeout(root, &n->timeout_ms, err, len) < 0 ||
	    take_allow(root, &n->allow, err, len) < 0 ||
	    take_email(root, n, err, len) < 0 ||
	    take_integrations(root, n, err, len) < 0 ||
	    take_api_bases(root, &n->api, err, len) < 0)
		return -1;
	return 0;
}

int
notice_from_json(struct notice *n, const char *text, size_t len, char *err,
    size_t errlen)
{
	int	r;

	memset(n, 0, sizeof(*n));
	n->command_result.exit_status = n->command_result.signal = -1;
	if (len > NOTIFY_MAX_INPUT)
		return set_err(err, errlen, "larger than %d bytes",
		    NOTIFY_MAX_INPUT);
	r = parse_object(text, len, &n->root, err, errlen);
	if (r == 0)
		r = take_notice(n->root, n, err, errlen);
	if (n->root != NULL)
		wipe_secrets(n->root);
	if (r == -1) {
		/* What was read of it still names the alert in the result. */
		char *id = n->alert_id;

		n->alert_id = NULL;
		notice_free(n);
		n->alert_id = id != NULL && job_is_uuid(id) ? id : NULL;
		if (n->alert_id == NULL)
			free(id);
	}
	return r;
}

static void
free_result(struct chan_result *r)
{
	free(r->error);
	free(r->message_id);
}

static void
free_email(struct email *e)
{
	if (e == NULL)
		return;
	free(e->to);
	free(e->from);
	free(e->sendmail);
	free(e->resend_url);
	text_free_secret(e->resend_key);
	free(e->app_base_url);
	free_result(&e->result);
	free(e);
}

static void
free_integration(struct integration *ig)
{
	free(ig->id);
	free(ig->type_name);
	text_free_secret(ig->url);
	text_free_secret(ig->key);
	free(ig->database_id);
	json_object_put(ig->chat_id);
	free_result(&ig->result);
}

void
notice_free(struct notice *n)
{
	size_t	i;

	for (i = 0; i < n->nhooks; i++) {
		free(n->hooks[i].id);
		text_free_secret(n->hooks[i].url);
		text_free_secret(n->hooks[i].secret);
		free(n->hooks[i].result.error);
	}
	free(n->hooks);
	free_email(n->email);
	for (i = 0; i < n->ninteg; i++)
		free_integration(&n->integs[i]);
	free(n->integs);
	free(n->api.telegram);
	free(n->api.pagerduty);
	free(n->api.notion);
	free(n->alert_id);
	free(n->command);
	free(n->command_result.error);
	json_object_put(n->root);
	memset(n, 0, sizeof(*n));
	n->command_result.exit_status = n->command_result.signal = -1;
}
