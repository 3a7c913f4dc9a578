/*
 * What an attempt's answer means: its outcome class (sysexits.h) and
 * what went wrong in words, twice (struct failure): for the schedule's
 * owner, "HTTP 500 from the application: <body excerpt>" or "connection
 * refused", and for the log, with the URL and libcurl's own words.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <curl/curl.h>

#include "jobrunner.h"
#include "text.h"

/*
 * The shortest piece of a key that is hidden wherever it shows: the
 * start of a key an excerpt cut short, or the part of one an answer
 * chose to echo.  Shorter pieces say little, and would hide common text.
 */
#define KEY_PIECE_MIN	8

/* The keys a job may hold (keys_of); any may be NULL. */
#define NKEYS		3

/*
 * Masks every run of text that is also a run of secret, KEY_PIECE_MIN
 * bytes or more.  A run is the union of the KEY_PIECE_MIN-byte windows
 * in it, and a byte is masked only once no window still to be tried
 * starts at or before it, so every window is matched as received.
 */
static void
redact_pieces(char *text, const char *secret)
{
	size_t	tlen = strlen(text), slen, i, mask_to = 0;

	if (secret == NULL || (slen = strlen(secret)) < KEY_PIECE_MIN)
		return;
	for (i = 0; i < tlen; i++) {
		if (i + KEY_PIECE_MIN <= tlen &&
		    memmem(secret, slen, text + i, KEY_PIECE_MIN) != NULL)
			mask_to = i + KEY_PIECE_MIN;
		if (i < mask_to)
			text[i] = '*';
	}
}

/* The service key, the schedule's own API key, the encryption key. */
static void
keys_of(const struct job *job, const char *api_key, const char *keys[NKEYS])
{
	keys[0] = job->service_role_key;
	keys[1] = api_key;
	keys[2] = job->encryption_key;
}

/*
 * The body with every key masked, and for a user (app_url not NULL)
 * every address of the deployment's too; NULL if there is none.
 */
static char *
body_masked(const struct attempt *a, const char *const keys[NKEYS],
    const char *app_url)
{
	char	*all, *masked;
	size_t	 i;

	/* A NUL in the body ends the excerpt there, which is fine. */
	if (a->body == NULL)
		return NULL;
	all = xstrndup(a->body, a->len);
	for (i = 0; i < NKEYS; i++)
		text_redact(all, keys[i]);
	if (app_url == NULL)
		return all;
	masked = addresses_masked(all, app_url);
	free(all);
	return masked;
}

/*
 * The start of the body, fit for a log line, with every key (and for a
 * user, every address) masked in the whole body first: one that runs
 * past the cut, or is longer than the excerpt, is masked all the same.
 * What the cut leaves of a key is attempt_outcome's to mask.
 */
static void
excerpt(const struct attempt *a, const char *const keys[NKEYS],
    const char *app_url, char *buf, size_t len)
{
	char	*all;
	size_t	 n;

	*buf = '\0';
	if ((all = body_masked(a, keys, app_url)) == NULL)
		return;
	n = strlen(all);
	if (n > EXCERPT_MAX)
		n = EXCERPT_MAX;
	if (n >= len)
		n = len - 1;
	memcpy(buf, all, n);
	buf[n] = '\0';
	free(all);
	text_trim(buf, n);
	/* A newline in an answer, say, would break a log line. */
	text_one_line(buf);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

/* "HTTP 502 from WHERE: <body>", with what a 3xx means. */
static void
say_answer(const struct attempt *a, const char *where, const char *body,
    char *buf, size_t len)
{
	snprintf(buf, len, "HTTP %d from %s%s%s%s", a->http_status, where,
	    a->http_status >= 300 && a->http_status <= 399 ?
	    " (redirects are not followed)" : "",
	    *body != '\0' ? ": " : "", body);
}

/*
 * An answer that is not an acceptance.  The route's passing trouble is a
 * temporary failure whatever its status: a 401 "Database error" too.
 */
static int
refused_or_failed(const struct job *job, const struct attempt *a,
    const char *const keys[NKEYS], const char *url, struct failure *f)
{
	char	body[EXCERPT_MAX + 1];

	excerpt(a, keys, job->app_url, body, sizeof(body));
	say_answer(a, "the application", body, f->err, sizeof(f->err));
	excerpt(a, keys, NULL, body, sizeof(body));
	say_answer(a, url, body, f->detail, sizeof(f->detail));
	if (blame_route_answer(a->http_status, a->body, a->len) ==
	    ROUTE_TEMPORARY)
		return EX_TEMPFAIL;
	return job_exit_for_http(a->http_status, 0);
}

static int
accepted(const struct attempt *a, char **id, struct failure *f)
{
	char	why[128];

	if (a->too_large) {
		snprintf(f->err, sizeof(f->err), "HTTP %d but the answer is "
		    "larger than %d bytes", a->http_status, JOB_MAX_ANSWER);
		return EX_PROTOCOL;
	}
	if (job_answer_test_run_id(a->body, a->len, id, why,
	    sizeof(why)) == 0)
		return EX_OK;
	/* "HTTP 200 without a test_run_id", "HTTP 200 but the answer..." */
	snprintf(f->err, sizeof(f->err), "HTTP %d %s%s", a->http_status,
	    strncmp(why, "without", 7) == 0 ? "" : "but ", why);
	return EX_PROTOCOL;
}

/*
 * A failed connection in words that name no address: libcurl's own
 * ("Failed to connect to 10.0.0.5 port 3000 ...") are the log's.
 * strerror(3) names none.
 */
static void
cannot_connect(const struct attempt *a, char *buf, size_t len)
{
	if (a->os_errno == ECONNREFUSED)
		strlcpy(buf, "connection refused", len);
	else if (a->os_errno != 0)
		snprintf(buf, len, "cannot connect: %s", strerror(a->os_errno));
	else
		strlcpy(buf, "cannot connect", len);
}

/* Why no TLS connection was made, in words that name no file or host. */
static const char *
tls_failed(const struct attempt *a)
{
	switch (a->curl_code) {
	case CURLE_PEER_FAILED_VERIFICATION:
		return "TLS error: the application's certificate is not trusted";
	case CURLE_SSL_CACERT_BADFILE:
		return "TLS error: the trusted certificates cannot be loaded";
	case CURLE_SSL_CERTPROBLEM:
		return "TLS error: a certificate cannot be used";
	}
	return "TLS error: the handshake failed";
}

/* The fixed words of a failure without an answer, for the others. */
static const char *
phrase(int curl_code)
{
	switch (curl_code) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return "cannot resolve the application's host";
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "cannot resolve the proxy's host";
	case CURLE_GOT_NOTHING:
		return "connection closed without an answer";
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return "bad app_url";
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return "internal error";
	}
	return "no answer";
}

/* "timed out after 600 s (3 attempts)": the run's deadline came. */
static void
timed_out(const struct job *job, const struct attempt *a, char *buf,
    size_t len)
{
	char	secs[32];

	text_seconds(job->timeout_ms, secs, sizeof(secs));
	snprintf(buf, len, "timed out after %s (%d attempt%s)", secs,
	    a->number, a->number == 1 ? "" : "s");
}

/* A failure without an answer, in words that name no address or file. */
static void
no_answer_words(const struct job *job, const struct attempt *a, char *buf,
    size_t len)
{
	switch (a->curl_code) {
	case CURLE_COULDNT_CONNECT:
		cannot_connect(a, buf, len);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		/* Before the deadline: the connect's own timeout. */
		if (a->at_deadline)
			timed_out(job, a, buf, len);
		else
			strlcpy(buf, "connection timed out", len);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		strlcpy(buf, tls_failed(a), len);
		break;
	default:
		strlcpy(buf, phrase(a->curl_code), len);
		break;
	}
}

/* The outcome class of a failure without an answer. */
static int
no_answer_class(int curl_code)
{
	switch (curl_code) {
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return EX_DATAERR;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return EX_SOFTWARE;
	}
	return EX_TEMPFAIL;
}

/*
 * No answer: the user hears of its class alone, the log of the URL and
 * libcurl's words too.
 */
static int
no_answer(const struct job *job, const struct attempt *a, const char *url,
    struct failure *f)
{
	no_answer_words(job, a, f->err, sizeof(f->err));
	snprintf(f->detail, sizeof(f->detail), "%s; POST %s: %s", f->err, url,
	    a->curl_err);
	return no_answer_class(a->curl_code);
}

/*
 * An answer came: a status, and a transfer that ended well or that we
 * stopped for its size.  A status with a transfer that failed otherwise
 * (an answer cut short) is not one.
 */
static int
answered(const struct attempt *a)
{
	return a->http_status != 0 &&
	    (a->curl_code == CURLE_OK || a->too_large);
}

/* No key in text, cut to max bytes; nor a piece of one the cut left. */
static void
keys_masked(char *text, size_t max, const char *const keys[NKEYS])
{
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		text_redact(text, keys[i]);
	text_trim(text, max);
	/* After the last cut: what it left of a key goes too. */
	for (i = 0; i < NKEYS; i++)
		redact_pieces(text, keys[i]);
}

/*
 * The outcome class of one attempt; on success *test_run_id is set, on
 * failure f says why.
 */
int
attempt_outcome(const struct job *job, const char *api_key, const char *url,
    const struct attempt *a, char **test_run_id, struct failure *f)
{
	const char	*keys[NKEYS];
	int		 code;

	keys_of(job, api_key, keys);
	*test_run_id = NULL;
	*f->err = *f->detail = '\0';
	if (answered(a) && a->http_status >= 200 && a->http_status <= 299)
		code = accepted(a, test_run_id, f);
	else if (answered(a))
		code = refused_or_failed(job, a, keys, url, f);
	else
		code = no_answer(job, a, url, f);
	if (*f->detail == '\0')
		snprintf(f->detail, sizeof(f->detail), "%s; POST %s", f->err,
		    url);
	keys_masked(f->err, JOB_MAX_ERROR, keys);
	keys_masked(f->detail, sizeof(f->detail) - 1, keys);
	return code;
}

/*
 * curl's failures that come before the request is written: with no
 * byte of it sent, the connection (or the TLS handshake) was never made.
 * A send that failed whole sent nothing either.  Any other failure may
 * come after the request went out, whatever curl counted.
 */
static int
before_request(int curl_code)
{
	switch (curl_code) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_FAILED_INIT:
	case CURLE_URL_MALFORMAT:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SEND_ERROR:
		return 1;
	}
	return 0;
}

/*
 * Whether the attempt, of outcome class code (not EX_OK), may have
 * started a batch test.  Two things prove it did not: the route's own
 * error answer (each comes before it creates one), or no byte of the
 * request sent.  Anything else may have: a gateway's answer (502, 504:
 * the route may have accepted behind it), a connection closed or a
 * deadline met after the request went out, a 2xx whose test_run_id we
 * cannot read.
 */
enum fate
attempt_fate(const struct attempt *a, int code)
{
	if (answered(a)) {
		switch (blame_route_answer(a->http_status, a->body, a->len)) {
		case ROUTE_TEMPORARY:
			return FATE_RETRY;
		case ROUTE_REFUSED:
			return FATE_NOTHING;
		}
		return FATE_AMBIGUOUS;
	}
	if (a->performed && (a->sent != 0 || !before_request(a->curl_code)))
		return FATE_AMBIGUOUS;
	/* A connection that failed may not fail again; a bad URL will. */
	return code == EX_TEMPFAIL ? FATE_RETRY : FATE_NOTHING;
}

/*
 * Whose fault a failed attempt is: only the route's own refusal of this
 * schedule's request is the schedule's (blame.c has the table).  A 401
 * is the schedule's when the request carried its own API key and the
 * route calls that key bad.
 */
enum blame
attempt_blame(const struct attempt *a, int api_key)
{
	if (!answered(a) || blame_route_answer(a->http_status, a->body,
	    a->len) == ROUTE_NOT)
		return BLAME_PLATFORM;
	return blame_for_http(a->http_status, a->body, a->len, api_key);
}
