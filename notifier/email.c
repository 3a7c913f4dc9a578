/*
 * The email of an alert, in the application's words (mailfmt.c), to the
 * one address the supervisor chose: through the host's sendmail, or
 * through Resend's API as the application sends it
 * (lib/tools/intelligent_email/resend.provider.ts).
 *
 * sendmail runs with no shell, as "sendmail -i -- ADDRESS": the one
 * recipient is an argument, never taken from the headers (no -t), "--"
 * ends the options (sendmail of Exim, Postfix, OpenSMTPD and msmtp take
 * it) and the address, checked here again, cannot start with "-"
 * anyway.  -i: a line of a lone "." does not end the message (there is
 * none: the bodies are base64).  It has the delivery's time, then
 * SIGTERM and SIGKILL as the alert command; exit status 0 is delivered,
 * anything else is tried again: sendmail's own failures (EX_TEMPFAIL,
 * EX_UNAVAILABLE) are the host's, not the message's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "json1.h"
#include "jsonget.h"
#include "log.h"
#include "notifier.h"
#include "text.h"
#include "url.h"

#define DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
			"/sbin:/bin"
#define ANSWER_MAX	(64 * 1024)
#define ID_MAX		256	/* characters of a message id kept */

/*
 * One plain address, as a sendmail argument and a To: header take it:
 * printable ASCII without blanks or the characters that would make it
 * several, a name, a route or a comment; exactly one "@" with something
 * on each side; never a leading "-" (an option).  The supervisor
 * checked it; a document from elsewhere is checked too.
 */
int
mail_check_address(const char *a)
{
	const char	*at = strchr(a, '@'), *p;

	if (*a == '\0' || *a == '-' || strlen(a) > NOTIFY_MAX_ADDRESS ||
	    at == NULL || at == a || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return -1;
	for (p = a; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || strchr(",;<>()[]\\\"", *p) != NULL)
			return -1;
	return 0;
}

/* The operator's From: printable ASCII on one line, with an "@". */
static int
check_from(const char *from)
{
	const char	*p;

	if (*from == '\0' || strchr(from, '@') == NULL)
		return -1;
	for (p = from; *p != '\0'; p++)
		if (*p < ' ' || *p > '~')
			return -1;
	return 0;
}

static const char *
transport(const struct email *e)
{
	return e->sendmail != NULL ? "sendmail" : "resend";
}

static void
log_result(const struct notice *n)
{
	const struct email	*e = n->email;
	const struct chan_result *res = &e->result;

	if (res->ok)
		log_info("alert %s: email (%s): delivered%s%s", n->alert_id,
		    transport(e), res->message_id != NULL ? ", id " : "",
		    res->message_id != NULL ? res->message_id : "");
	else
		log_warnx("alert %s: email (%s): not delivered: %s",
		    n->alert_id, transport(e),
		    res->error != NULL ? res->error : "?");
}

static void
set_result(struct notice *n, int ok, const char *error, int retry)
{
	struct chan_result	*res = &n->email->result;

	res->done = 1;
	res->ok = ok;
	res->retry = !ok && retry;
	free(res->error);
	res->error = NULL;
	if (!ok) {
		free(res->message_id);
		res->message_id = NULL;
	}
	if (ok || error == NULL)
		return;
	res->error = xstrdup(error);
	/* A key echoed in an answer is masked. */
	text_redact(res->error, n->email->resend_key);
	text_one_line(res->error);
	text_trim(res->error, NOTIFY_MAX_ERROR);
	text_make_valid(res->error);
}

static void
fail(struct notice *n, const char *error, int retry)
{
	set_result(n, 0, error, retry);
	log_result(n);
}

/* The three texts as the bytes Node sends. */
static void
node_texts(const struct mail_text *t, struct mail_text *out)
{
	out->subject = js_utf8(t->subject);
	out->text = js_utf8(t->text);
	out->html = js_utf8(t->html);
}

/* PATH alone, and TZ: sendmail needs nothing else of ours. */
static void
sendmail_env(char *env[3], char *path, size_t plen, char *tz, size_t tzlen)
{
	const char	*v = getenv("PATH"), *z = getenv("TZ");
	size_t		 i = 0;

	snprintf(path, plen, "PATH=%s", v != NULL ? v : DEFAULT_PATH);
	env[i++] = path;
	if (z != NULL) {
		snprintf(tz, tzlen, "TZ=%s", z);
		env[i++] = tz;
	}
	env[i] = NULL;
}

static struct command *
spawn_sendmail(struct notice *n, const char *message)
{
	struct email	*e = n->email;
	struct command	*c;
	char		*argv[5], *env[3], path[1024], tz[256], why[512];

	argv[0] = e->sendmail;
	argv[1] = "-i";
	argv[2] = "--";
	argv[3] = e->to;
	argv[4] = NULL;
	sendmail_env(env, path, sizeof(path), tz, sizeof(tz));
	if ((c = command_run(e->sendmail, argv, env, message, strlen(message),
	    n->timeout_ms)) == NULL) {
		snprintf(why, sizeof(why), "cannot run sendmail: %s",
		    strerror(errno));
		fail(n, why, 1);
	}
	return c;
}

static struct command *
start_sendmail(struct notice *n, const struct mail_text *t)
{
	struct email		*e = n->email;
	struct mail_text	 node;
	struct mime		 mm;
	struct command		*c;
	char			 domain[256], *message;

	mime_domain(e->from, domain, sizeof(domain));
	node_texts(t, &node);
	e->result.message_id = xasprintf("<%s@%s>", n->alert_id, domain);
	mm.alert_id = n->alert_id;
	mm.from = e->from;
	mm.to = e->to;
	mm.message_id = e->result.message_id;
	message = mime_message(&mm, &node, time(NULL));
	c = spawn_sendmail(n, message);
	free(message);
	mailfmt_free(&node);
	return c;
}

/* {from, to: [to], subject, html, text}, as the provider writes it. */
static char *
resend_body(const struct email *e, const struct mail_text *t)
{
	json_object	*o = jnew_object(), *to = jnew_array();
	char		*body;

	jset(o, "from", jnew_string(e->from));
	jpush(to, jnew_string(e->to));
	jset(o, "to", to);
	jset(o, "subject", jnew_string(t->subject));
	jset(o, "html", jnew_string(t->html));
	jset(o, "text", jnew_string(t->text));
	body = js_stringify(o);
	json_object_put(o);
	return body;
}

/* result.id, when it is a string: the application's messageId. */
static char *
answer_id(const struct request *r)
{
	json_object	*v;
	const char	*text, *id;
	size_t		 len;
	int		 cut;
	char		*s = NULL;

	text = request_answer(r, &len, &cut);
	if (cut || json1_parse(text, len, 64, &v, NULL, 0) == -1)
		return NULL;
	if ((id = jget_str(v, "id")) != NULL) {
		s = xstrdup(id);
		text_one_line(s);
		text_trim(s, ID_MAX);
		text_make_valid(s);
	}
	json_object_put(v);
	return s;
}

/* "Resend API error: 422 - its message", as the application says. */
static void
resend_error(const struct request *r, long status, char *buf, size_t len)
{
	json_object	*v, *m;
	const char	*text;
	size_t		 n;
	int		 cut;

	text = request_answer(r, &n, &cut);
	if (!cut && json1_parse(text, n, 64, &v, NULL, 0) == 0) {
		if (js_member(v, "message", &m) && js_truthy(1, m) &&
		    json_object_is_type(m, json_type_string))
			snprintf(buf, len, "Resend API error: %ld - %s",
			    status, json_object_get_string(m));
		json_object_put(v);
		if (*buf != '\0')
			return;
	}
	snprintf(buf, len, "Resend API error: %ld - Unknown error", status);
}

static void
resend_done(struct request *r, void *arg)
{
	struct notice	*n = arg;
	struct outcome	 o;
	char		 error[NOTIFY_MAX_ERROR * 2] = "";

	request_outcome(r, &o);
	if (o.ok) {
		n->email->result.message_id = answer_id(r);
		set_result(n, 1, NULL, 0);
		log_result(n);
		return;
	}
	if (o.status != 0)
		resend_error(r, o.status, error, sizeof(error));
	else
		snprintf(error, sizeof(error), "Failed to send email: %s",
		    o.error);
	fail(n, error, o.retry);
	if (*o.detail != '\0')
		log_warnx("alert %s: email (resend): %s", n->alert_id,
		    o.detail);
}

static void
start_resend(CURLM *m, struct notice *n, const struct mail_text *t)
{
	struct email		*e = n->email;
	struct request_spec	 spec;
	enum url_verdict	 verdict = url_check_user(e->resend_url);
	const char		*h[3];
	char			 auth[NOTIFY_MAX_SECRET + 64], *body;

	if (verdict != URL_OK) {
		fail(n, verdict == URL_BAD ? BAD_URL : REFUSED_CREDENTIALS, 0);
		return;
	}
	body = resend_body(e, t);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	    e->resend_key);
	h[0] = auth;
	h[1] = "Content-Type: application/json";
	h[2] = NULL;
	memset(&spec, 0, sizeof(spec));
	spec.url = e->resend_url;
	spec.body = body;
	spec.headers = h;
	spec.timeout_ms = n->timeout_ms;
	spec.allow = &n->allow;
	spec.answer_max = ANSWER_MAX;
	if ((e->req = request_start(m, &spec, resend_done, n)) == NULL)
		fail(n, "internal error: cannot set up the call", 1);
	explicit_bzero(auth, sizeof(auth));
	free(body);
}

/*
 * Starts the email, if one is asked for and not already failed.
 * Returns sendmail, which deliver.c
 * runs beside the alert command, or NULL.
 */
struct command *
email_start(CURLM *m, struct notice *n)
{
	struct email		*e = n->email;
	struct mail_text	 t;
	struct command		*c = NULL;

	if (e == NULL || e->result.done)
		return NULL;
	if (check_from(e->from) == -1) {
		fail(n, "bad mail_from: not a plain ASCII address", 0);
		return NULL;
	}
	if (mail_check_address(e->to) == -1) {
		fail(n, "bad address", 0);
		return NULL;
	}
	mailfmt(&n->event, e->app_base_url != NULL ? e->app_base_url :
	    APP_BASE_URL, &t);
	if (e->sendmail != NULL)
		c = start_sendmail(n, &t);
	else
		start_resend(m, n, &t);
	mailfmt_free(&t);
	return c;
}

/* sendmail's end, or a call that never ended, into the result. */
void
email_finish(CURLM *m, struct notice *n, struct command *c)
{
	struct command_result	 cr = { 0 };
	char			 error[NOTIFY_MAX_ERROR + 16];

	if (n->email == NULL)
		return;
	if (c != NULL) {
		cr.exit_status = cr.signal = -1;
		command_finish(c, &cr);
		if (cr.ok) {
			set_result(n, 1, NULL, 0);
			log_result(n);
		} else {
			snprintf(error, sizeof(error), "sendmail %s",
			    cr.error != NULL ? cr.error : "failed");
			fail(n, error, 1);
		}
		free(cr.error);
	}
	if (!n->email->result.done)
		fail(n, "internal error: libcurl failed", 1);
	request_free(m, n->email->req);
	n->email->req = NULL;
}
