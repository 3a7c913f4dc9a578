/*
 * One POST to one webhook with libcurl, run by deliver.c's loop beside
 * the others, and what its answer means.
 *
 * A Slack or Discord webhook URL is a credential in itself: no log line
 * or error text holds more of a URL than its scheme://host:port, and
 * any echo of the URL or the secret is masked.
 *
 * The URL is the user's, and we sit inside the deployment: it goes
 * nowhere the policy of url.h refuses, and what the user reads of a
 * delivery (the result's error, alert_history.webhook_error) tells
 * nothing of what is there: the HTTP status of an answer and never its
 * body, one word for no answer at all, whatever the reason.  The
 * reason goes to the operator's log, and the body nowhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "job.h"
#include "log.h"
#include "notifier.h"
#include "post.h"
#include "testhooks.h"
#include "text.h"
#include "url.h"
#include "urlguard.h"

_Static_assert(NOTIFY_ORIGIN_MAX >= URL_ORIGIN_MAX,
    "an origin must fit NOTIFY_ORIGIN_MAX");

struct transfer {
	struct xfer		 x;	/* first: deliver.c's handle on it */
	struct hook		*hook;
	const char		*alert_id;
	CURL			*curl;
	struct curl_slist	*headers;
	char			*url;	/* as url.h rebuilt it */
	char			*body;
	struct url_guard	 guard;
	char			 curl_err[CURL_ERROR_SIZE];
	char			 detail[NOTIFY_MAX_ERROR];	/* the log's */
};

/*
 * "https://hooks.slack.com", "http://127.0.0.1:8080": 0, or -1.  A URL
 * with credentials has an origin: the log says whose was refused.
 */
int
webhook_origin(const char *url, char *origin, size_t len)
{
	struct url	u;

	switch (url_parse(&u, url, NULL, 0)) {
	case URL_E_NONE:
	case URL_E_CREDENTIALS:
		url_origin(&u, origin, len);
		return 0;
	default:
		return -1;
	}
}

static void
mask(char *text, const char *what, size_t n)
{
	char	*p;

	if (n == 0)
		return;
	while ((p = memmem(text, strlen(text), what, n)) != NULL)
		memset(p, '*', n);
}

/*
 * Masks the secret, the URL, and the URL's path and query, in text, and
 * the URL as it was sent (url_canonical), which libcurl's words may
 * quote.
 */
void
webhook_redact(char *text, const struct hook *h)
{
	struct url	 u;
	const char	*p;
	char		*sent;
	size_t		 n;

	if (h->secret != NULL)
		mask(text, h->secret, strlen(h->secret));
	if (h->url == NULL)
		return;
	mask(text, h->url, strlen(h->url));
	if ((p = strstr(h->url, "://")) != NULL &&
	    (p = strpbrk(p + 3, "/?#")) != NULL && strlen(p) > 1)
		mask(text, p, strlen(p));
	if (url_parse(&u, h->url, NULL, 0) != URL_E_NONE)
		return;
	sent = url_canonical(&u);
	mask(text, sent, strlen(sent));
	text_free_secret(sent);
	n = u.path_len + (u.query != NULL ? 1 + u.query_len : 0);
	if (n > 1)
		mask(text, u.path, n);
}

/* An answer's body is read and dropped: the status says it all. */
static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* The request's headers; NULL when libcrypto could not sign the body. */
static struct curl_slist *
headers_for(const struct transfer *t)
{
	struct curl_slist	*list;
	char			 hex[SIGN_HEX_LEN + 1];
	char			 line[sizeof("X-Webhook-Signature: ") + SIGN_HEX_LEN];
	const char		*secret = t->hook->secret;

	/* "Expect:" with no value stops curl's 100-continue round trip. */
	list = xslist_append(NULL, "Expect:");
	list = xslist_append(list, "Content-Type: application/json");
	if (secret == NULL || *secret == '\0')
		return list;
	if (sign_hex(secret, strlen(secret), t->body, strlen(t->body),
	    hex) == -1) {
		curl_slist_free_all(list);
		return NULL;
	}
	snprintf(line, sizeof(line), "X-Webhook-Signature: %s", hex);
	return xslist_append(list, line);
}

static CURLcode
setup(struct transfer *t, const struct notice *n)
{
	CURL		*c = t->curl;
	CURLcode	 r;

	/* The system's CAs: tls_ca_file is the application's, not theirs. */
	r = post_options(c, t->url, t->body, NULL, n->timeout_ms,
	    n->timeout_ms);
	t->guard.allow = &n->allow;
	if (r == CURLE_OK)
		r = url_guard_options(c, &t->guard);
#define SET(opt, val)	if (r == CURLE_OK) r = curl_easy_setopt(c, opt, val)
	SET(CURLOPT_HTTPHEADER, t->headers);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_ERRORBUFFER, t->curl_err);
	SET(CURLOPT_PRIVATE, t);
#undef SET
	return r;
}

/* A failure is tried again later, unless retry is 0. */
static void
set_result(struct transfer *t, int ok, long status, const char *error,
    int retry)
{
	struct hook_result	*res = &t->hook->result;

	res->done = 1;
	res->ok = ok;
	res->retry = !ok && retry;
	res->status_code = status;
	free(res->error);
	res->error = NULL;
	if (error == NULL)
		return;
	res->error = xstrdup(error);
	webhook_redact(res->error, t->hook);
	text_trim(res->error, NOTIFY_MAX_ERROR);
	text_make_valid(res->error);
}

/* What the operator's log says besides the user's error. */
static void
set_detail(struct transfer *t, const char *detail)
{
	strlcpy(t->detail, detail, sizeof(t->detail));
	webhook_redact(t->detail, t->hook);
	text_tidy_end(t->detail);
	text_make_valid(t->detail);
}

static void
log_result(const struct transfer *t)
{
	const struct hook	*h = t->hook;

	if (h->result.ok)
		log_info("alert %s: webhook %s (%s, %s): delivered, HTTP %ld",
		    t->alert_id, h->id, hook_type_name(h->type), h->origin,
		    h->result.status_code);
	else
		log_warnx("alert %s: webhook %s (%s, %s): not delivered: "
		    "%s%s%s%s", t->alert_id, h->id, hook_type_name(h->type),
		    h->origin, h->result.error != NULL ? h->result.error : "?",
		    *t->detail != '\0' ? " (" : "", t->detail,
		    *t->detail != '\0' ? ")" : "");
}

void
webhook_free(CURLM *m, struct transfer *t)
{
	if (t == NULL)
		return;
	if (t->curl != NULL) {
		curl_multi_remove_handle(m, t->curl);
		curl_easy_cleanup(t->curl);
	}
	curl_slist_free_all(t->headers);
	text_free_secret(t->url);
	free(t->body);
	free(t);
}

/* A webhook that never got as far as a request. */
static struct transfer *
not_sent(CURLM *m, struct transfer *t, const char *why, int retry)
{
	set_result(t, 0, 0, why, retry);
	log_result(t);
	webhook_free(m, t);
	return NULL;
}

/* Every address the host had was refused: for the log, the last one. */
static void
set_refused(struct transfer *t)
{
	char	detail[NOTIFY_MAX_ERROR];

	snprintf(detail, sizeof(detail), "%s is %s, and webhook_allow does "
	    "not cover it", t->guard.refused_addr,
	    addr_class_name(t->guard.refused_class));
	set_result(t, 0, 0, REFUSED_DESTINATION, 0);
	set_detail(t, detail);
}

/*
 * A 2xx is delivered even when the rest of the answer did not come: the
 * receiver took the alert, and sending it again would send it twice.
 * No answer is "unreachable" to the user, whether the connection was
 * refused, reset, timed out or closed without a word: those differences
 * would map a network for whoever chose the URL.  libcurl's words go to
 * the log.
 */
static void
webhook_finish(struct transfer *t, CURLcode r)
{
	char	error[32];
	long	status = 0;

	if (curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE,
	    &status) != CURLE_OK)
		status = 0;
	if (status >= 200 && status <= 299)
		set_result(t, 1, status, NULL, 0);
	else if (status != 0) {
		snprintf(error, sizeof(error), "HTTP %ld", status);
		set_result(t, 0, status, error, 1);
	} else if (url_guard_refused_all(&t->guard))
		set_refused(t);
	else {
		set_result(t, 0, 0, UNREACHABLE, 1);
		set_detail(t, t->curl_err[0] != '\0' ? t->curl_err :
		    curl_easy_strerror(r));
	}
	log_result(t);
}

static void
finish(struct xfer *x, CURLcode r)
{
	webhook_finish((struct transfer *)x, r);
}

/*
 * Adds the webhook's POST to m.  NULL when it could not be set up: its
 * result then says why.
 */
struct transfer *
webhook_start(CURLM *m, struct hook *h, const struct notice *n,
    const char *generic)
{
	struct transfer	*t = xcalloc(1, sizeof(*t));
	struct url	 u;
	enum url_error	 e = url_parse(&u, h->url, NULL, 0);

	t->x.finish = finish;
	t->hook = h;
	t->alert_id = n->alert_id;
	if (e == URL_E_NONE || e == URL_E_CREDENTIALS)
		url_origin(&u, h->origin, sizeof(h->origin));
	/* The same URL next time: trying again would change nothing. */
	if (e == URL_E_CREDENTIALS)
		return not_sent(m, t, REFUSED_CREDENTIALS, 0);
	if (e != URL_E_NONE)
		return not_sent(m, t, BAD_URL, 0);
	t->body = h->type == HOOK_GENERIC ? xstrdup(generic) :
	    body_for(&n->event, h->type);
	t->url = url_canonical(&u);
	if ((t->headers = headers_for(t)) == NULL)
		return not_sent(m, t, "internal error: cannot sign the body", 1);
	if ((t->curl = curl_easy_init()) == NULL || setup(t, n) != CURLE_OK ||
	    curl_multi_add_handle(m, t->curl) != CURLM_OK) {
		curl_easy_cleanup(t->curl);
		t->curl = NULL;
		return not_sent(m, t, "internal error: cannot set up the "
		    "transfer", 1);
	}
	return t;
}
