/*
 * One call to an API (Resend, Teams, Telegram, PagerDuty, Notion) on
 * deliver.c's libcurl multi handle, its answer kept for the caller: the
 * status, and up to answer_max bytes of the body.
 *
 * Every call goes where a webhook may go (url.h, webhook_allow): the
 * API bases are the operator's, but a Teams URL is a user's, and one
 * policy for all keeps the rule simple.  The URL (Telegram's holds the
 * bot token), the headers (the keys) and the body (PagerDuty's routing
 * key) are secrets: wiped when the call is freed, never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "notifier.h"
#include "post.h"
#include "text.h"
#include "url.h"
#include "urlguard.h"

struct request {
	struct xfer		 x;		/* first: deliver.c's handle */
	CURL			*curl;
	struct curl_slist	*headers;
	char			*url;		/* as url.h rebuilt it */
	char			*body;
	struct url_guard	 guard;
	char			 curl_err[CURL_ERROR_SIZE];
	char			*answer;
	size_t			 answer_len, answer_max;
	int			 answer_cut;
	long			 status;
	CURLcode		 code;
	void			(*done)(struct request *, void *);
	void			*arg;
};

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct request	*r = arg;
	size_t		 len = size * n, room;

	room = r->answer_max - r->answer_len;
	if (len > room)
		r->answer_cut = 1;
	memcpy(r->answer + r->answer_len, data, len < room ? len : room);
	r->answer_len += len < room ? len : room;
	r->answer[r->answer_len] = '\0';
	return len;
}

static void
finish(struct xfer *x, CURLcode code)
{
	struct request	*r = (struct request *)x;

	r->code = code;
	if (curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE,
	    &r->status) != CURLE_OK)
		r->status = 0;
	r->done(r, r->arg);
}

static void
wipe_headers(struct curl_slist *h)
{
	for (; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
}

void
request_free(CURLM *m, struct request *r)
{
	if (r == NULL)
		return;
	if (r->curl != NULL) {
		curl_multi_remove_handle(m, r->curl);
		curl_easy_cleanup(r->curl);
	}
	wipe_headers(r->headers);
	curl_slist_free_all(r->headers);
	text_free_secret(r->url);
	text_free_secret(r->body);
	free(r->answer);
	free(r);
}

static void
add_headers(struct request *r, const char *const *lines)
{
	/* "Expect:" with no value stops curl's 100-continue round trip. */
	r->headers = xslist_append(NULL, "Expect:");
	for (; lines != NULL && *lines != NULL; lines++)
		r->headers = xslist_append(r->headers, *lines);
}

static CURLcode
setup(struct request *r, const struct request_spec *spec)
{
	CURL		*c = r->curl;
	CURLcode	 rc;

	rc = post_options(c, r->url, r->body != NULL ? r->body : "", NULL,
	    spec->timeout_ms, spec->timeout_ms);
	r->guard.allow = spec->allow;
	if (rc == CURLE_OK)
		rc = url_guard_options(c, &r->guard);
#define SET(opt, val)	if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val)
	if (r->body == NULL)
		SET(CURLOPT_HTTPGET, 1L);
	SET(CURLOPT_HTTPHEADER, r->headers);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_ERRORBUFFER, r->curl_err);
	SET(CURLOPT_PRIVATE, r);
#undef SET
	return rc;
}

/* The URL rebuilt from its parts; NULL when it has none to rebuild. */
static char *
canonical(const char *text)
{
	struct url	u;

	if (url_parse(&u, text, NULL, 0) != URL_E_NONE)
		return NULL;
	return url_canonical(&u);
}

/*
 * Adds the call to m; done(r, arg) is called when it ended, from
 * deliver.c's loop.  NULL when it could not be set up (libcurl, a URL
 * url_parse does not take: the caller checked it with url_check_user).
 * The request goes to the URL as url.h rebuilt it.
 */
struct request *
request_start(CURLM *m, const struct request_spec *spec,
    void (*done)(struct request *, void *), void *arg)
{
	struct request	*r = xcalloc(1, sizeof(*r));

	r->x.finish = finish;
	r->done = done;
	r->arg = arg;
	r->answer_max = spec->answer_max;
	if (spec->body != NULL)
		r->body = xstrdup(spec->body);
	r->answer = xcalloc(1, r->answer_max + 1);
	add_headers(r, spec->headers);
	if ((r->url = canonical(spec->url)) == NULL ||
	    (r->curl = curl_easy_init()) == NULL)
		goto fail;
	if (setup(r, spec) != CURLE_OK ||
	    curl_multi_add_handle(m, r->curl) != CURLM_OK)
		goto fail;
	return r;
fail:
	if (r->curl != NULL) {
		curl_easy_cleanup(r->curl);
		r->curl = NULL;
	}
	request_free(m, r);
	return NULL;
}

/* The answer's body (cut at answer_max: *cut set); never NULL. */
const char *
request_answer(const struct request *r, size_t *len, int *cut)
{
	if (len != NULL)
		*len = r->answer_len;
	if (cut != NULL)
		*cut = r->answer_cut;
	return r->answer;
}

/* Whether every address the host had was refused by webhook_allow. */
static int
request_refused(const struct request *r, char *detail, size_t len)
{
	if (!url_guard_refused_all(&r->guard))
		return 0;
	snprintf(detail, len, "%s is %s, and webhook_allow does not cover "
	    "it", r->guard.refused_addr,
	    addr_class_name(r->guard.refused_class));
	return 1;
}

/* Why no answer came, for the operator's log (to be redacted). */
static const char *
request_detail(const struct request *r)
{
	return r->curl_err[0] != '\0' ? r->curl_err :
	    curl_easy_strerror(r->code);
}

/* What a failure of the call says to its owner, and whether to retry. */
void
request_outcome(const struct request *r, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->status = r->status;
	if (r->status >= 200 && r->status <= 299)
		o->ok = 1;
	else if (r->status != 0) {
		snprintf(o->error, sizeof(o->error), "HTTP %ld", r->status);
		/* The same call again gets the same 4xx, but for 429. */
		o->retry = r->status >= 500 || r->status == 429;
	} else if (request_refused(r, o->detail, sizeof(o->detail)))
		snprintf(o->error, sizeof(o->error), "%s",
		    REFUSED_DESTINATION);
	else {
		snprintf(o->error, sizeof(o->error), "unreachable");
		snprintf(o->detail, sizeof(o->detail), "%s",
		    request_detail(r));
		o->retry = 1;
	}
}
