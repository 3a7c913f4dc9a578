/*
 * One POST to one webhook with libcurl, run by deliver.c's loop beside
 * the others, and what its answer means.
 *
 * A Slack or Discord webhook URL is a credential in itself: no log line
 * or error text holds more of a URL than its scheme://host:port, and
 * any echo of the URL or the secret in an answer is masked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "job.h"
#include "log.h"
#include "notifier.h"
#include "post.h"
#include "text.h"

/* Of an answer, we keep what an error text may quote, and some more. */
#define ANSWER_KEEP	4096

struct transfer {
	struct hook		*hook;
	const char		*alert_id;
	CURL			*curl;
	struct curl_slist	*headers;
	char			*body;
	char			 answer[ANSWER_KEEP + 1];
	size_t			 answer_len;
	char			 curl_err[CURL_ERROR_SIZE];
};

/* "https://hooks.slack.com", "http://127.0.0.1:8080": 0, or -1. */
int
webhook_origin(const char *url, char *origin, size_t len)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL, *port = NULL;
	int	 r = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
			port = NULL;
		snprintf(origin, len, "%s://%s%s%s", scheme, host,
		    port != NULL ? ":" : "", port != NULL ? port : "");
		r = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
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

/* Masks the secret, the URL, and the URL's path and query, in text. */
void
webhook_redact(char *text, const struct hook *h)
{
	const char	*p;

	if (h->secret != NULL)
		mask(text, h->secret, strlen(h->secret));
	if (h->url == NULL)
		return;
	mask(text, h->url, strlen(h->url));
	if ((p = strstr(h->url, "://")) != NULL &&
	    (p = strpbrk(p + 3, "/?#")) != NULL && strlen(p) > 1)
		mask(text, p, strlen(p));
}

/* The first NOTIFY_EXCERPT bytes of an answer, fit for one line. */
void
webhook_excerpt(const char *body, size_t len, char *buf, size_t buflen)
{
	size_t	n = len < NOTIFY_EXCERPT ? len : NOTIFY_EXCERPT;

	if (n >= buflen)
		n = buflen - 1;
	memcpy(buf, body, n);
	buf[n] = '\0';
	/* A NUL in the answer ends the excerpt there. */
	utf8_tidy_end(buf);
	text_one_line(buf);
	text_make_valid(buf);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct transfer	*t = arg;
	size_t		 len = size * n, room = ANSWER_KEEP - t->answer_len;

	/* The rest is read and dropped: a long answer is still an answer. */
	if (room > len)
		room = len;
	memcpy(t->answer + t->answer_len, data, room);
	t->answer_len += room;
	t->answer[t->answer_len] = '\0';
	return len;
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *line)
{
	struct curl_slist	*nlist;

	if (list == NULL)
		return NULL;
	if ((nlist = curl_slist_append(list, line)) == NULL)
		curl_slist_free_all(list);
	return nlist;
}

static struct curl_slist *
headers_for(const struct transfer *t)
{
	struct curl_slist	*list;
	char			 hex[SIGN_HEX_LEN + 1];
	char			 line[sizeof("X-Webhook-Signature: ") + SIGN_HEX_LEN];
	const char		*secret = t->hook->secret;

	/* "Expect:" with no value stops curl's 100-continue round trip. */
	list = curl_slist_append(NULL, "Expect:");
	list = add_header(list, "Content-Type: application/json");
	if (secret == NULL || *secret == '\0')
		return list;
	if (sign_hex(secret, strlen(secret), t->body, strlen(t->body),
	    hex) == -1) {
		curl_slist_free_all(list);
		return NULL;
	}
	snprintf(line, sizeof(line), "X-Webhook-Signature: %s", hex);
	return add_header(list, line);
}

static CURLcode
setup(struct transfer *t, const struct notice *n)
{
	CURL		*c = t->curl;
	CURLcode	 r;

	r = post_options(c, t->hook->url, t->body, n->tls_ca_file,
	    n->timeout_ms, n->timeout_ms);
#define SET(opt, val)	if (r == CURLE_OK) r = curl_easy_setopt(c, opt, val)
	SET(CURLOPT_HTTPHEADER, t->headers);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_ERRORBUFFER, t->curl_err);
	SET(CURLOPT_PRIVATE, t);
#undef SET
	return r;
}

static void
set_result(struct transfer *t, int ok, long status, const char *error)
{
	struct hook_result	*res = &t->hook->result;

	res->done = 1;
	res->ok = ok;
	res->status_code = status;
	free(res->error);
	res->error = NULL;
	if (error == NULL || (res->error = strdup(error)) == NULL)
		return;
	webhook_redact(res->error, t->hook);
	job_trim_utf8(res->error, NOTIFY_MAX_ERROR);
	text_make_valid(res->error);
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
		log_warnx("alert %s: webhook %s (%s, %s): not delivered: %s",
		    t->alert_id, h->id, hook_type_name(h->type), h->origin,
		    h->result.error != NULL ? h->result.error : "?");
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
	free(t->body);
	free(t);
}

/* A webhook that never got as far as a request. */
static struct transfer *
not_sent(CURLM *m, struct transfer *t, const char *why)
{
	set_result(t, 0, 0, why);
	log_result(t);
	webhook_free(m, t);
	return NULL;
}

/*
 * Adds the webhook's POST to m.  NULL when it could not be set up: its
 * result then says why.
 */
struct transfer *
webhook_start(CURLM *m, struct hook *h, const struct notice *n,
    const char *generic)
{
	struct transfer	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		h->result.done = 1;
		h->result.error = strdup("internal error: out of memory");
		return NULL;
	}
	t->hook = h;
	t->alert_id = n->alert_id;
	if (webhook_origin(h->url, h->origin, sizeof(h->origin)) == -1)
		return not_sent(m, t, "bad URL: not an http:// or https:// "
		    "URL with a host");
	t->body = h->type == HOOK_GENERIC ? strdup(generic) :
	    body_for(&n->event, h->type);
	if (t->body == NULL || (t->headers = headers_for(t)) == NULL ||
	    (t->curl = curl_easy_init()) == NULL)
		return not_sent(m, t, "internal error: out of memory");
	if (setup(t, n) != CURLE_OK ||
	    curl_multi_add_handle(m, t->curl) != CURLM_OK) {
		curl_easy_cleanup(t->curl);
		t->curl = NULL;
		return not_sent(m, t, "internal error: cannot set up the "
		    "transfer");
	}
	return t;
}

/*
 * A 2xx is delivered even when the rest of the answer did not come: the
 * receiver took the alert, and sending it again would send it twice.
 */
void
webhook_finish(struct transfer *t, CURLcode r)
{
	char	excerpt[NOTIFY_EXCERPT + 1], error[NOTIFY_MAX_ERROR + 1];
	long	status = 0;

	if (curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE,
	    &status) != CURLE_OK)
		status = 0;
	if (status >= 200 && status <= 299)
		set_result(t, 1, status, NULL);
	else if (status != 0) {
		webhook_redact(t->answer, t->hook);
		webhook_excerpt(t->answer, t->answer_len, excerpt,
		    sizeof(excerpt));
		snprintf(error, sizeof(error), "HTTP %ld%s%s", status,
		    *excerpt != '\0' ? ": " : "", excerpt);
		set_result(t, 0, status, error);
	} else
		set_result(t, 0, 0, t->curl_err[0] != '\0' ? t->curl_err :
		    curl_easy_strerror(r));
	log_result(t);
}
