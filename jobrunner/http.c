/*
 * One POST to the evaluation application with libcurl.  The policy
 * around it (deadline, retries) is retry.c's; what the answer means is
 * describe.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "jobrunner.h"
#include "post.h"
#include "url.h"

_Static_assert(sizeof(((struct attempt *)0)->curl_err) >= CURL_ERROR_SIZE,
    "curl_err must hold CURL_ERROR_SIZE bytes");

/* A connect that hangs should not eat the whole deadline of a long run. */
#define CONNECT_TIMEOUT_MS	30000L

/*
 * The proxy variables libcurl reads.  A proxy may be https://, and then
 * even a plain http call speaks TLS.
 */
const char *const proxy_vars[] = {
	"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
	NULL
};

/* TLS to the application or to a proxy, or a key to decrypt. */
static int
uses_openssl(const struct job *job)
{
	const char	*v;
	int		 i;

	if (strncasecmp(job->app_url, "https:", 6) == 0 ||
	    job->api_key_encrypted != NULL)
		return 1;
	for (i = 0; proxy_vars[i] != NULL; i++)
		if ((v = getenv(proxy_vars[i])) != NULL && *v != '\0')
			return 1;
	return 0;
}

/*
 * curl_global_init initializes OpenSSL whatever the job: it reads the
 * system's openssl.cnf and loads the error strings of every OpenSSL
 * library, 0.7 ms of the 10 a jobrunner costs.  A job that leaves
 * OpenSSL idle needs neither.  OpenSSL initializes once, with the
 * options of its first caller: made first, this call is the one that
 * counts, and curl's own asks for nothing more.
 */
int
http_init(const struct job *job)
{
	if (!uses_openssl(job) &&
	    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL) != 1)
		return -1;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
http_cleanup(void)
{
	curl_global_cleanup();
}

/*
 * The URL rebuilt from app_url's parts as url.h read them, the API path
 * after it: what libcurl is handed is what was checked.  NULL when
 * url_parse refuses app_url, which job.c, checking it with the same
 * parser, did not let through.
 */
char *
http_url(const struct job *job)
{
	struct url	 u;
	char		*base, *url;

	if (url_parse(&u, job->app_url, NULL, 0) != URL_E_NONE)
		return NULL;
	base = url_canonical(&u);
	url = xasprintf("%s%s", base, API_PATH);
	free(base);
	return url;
}

void
attempt_free(struct attempt *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/*
 * Keeps the first JOB_MAX_ANSWER bytes; past that, stops the transfer:
 * no answer that large is one we want.
 */
static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct attempt	*a = arg;
	size_t		 len = size * n;

	if (len > JOB_MAX_ANSWER - a->len) {
		a->too_large = 1;
		return 0;
	}
	a->body = xreallocarray(a->body, a->len + len + 1, 1);
	memcpy(a->body + a->len, data, len);
	a->len += len;
	a->body[a->len] = '\0';
	return len;
}

/* curl's copies of the header lines hold a key: wipe them, then free. */
static void
free_headers(struct curl_slist *list)
{
	struct curl_slist	*l;

	for (l = list; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *name, const char *value)
{
	char	*line = xasprintf("%s: %s", name, value);

	list = xslist_append(list, line);
	explicit_bzero(line, strlen(line));
	free(line);
	return list;
}

/*
 * A schedule's own API key stands alone, as the application reads it:
 * the service key is not sent with it, nor a user id (the key has one).
 */
static struct curl_slist *
build_headers(const struct job *job, const char *api_key)
{
	struct curl_slist	*list;

	/* "Expect:" with no value stops curl's 100-continue round trip. */
	list = xslist_append(NULL, "Expect:");
	list = add_header(list, "Content-Type", "application/json");
	list = add_header(list, "Accept", "application/json");
	if (api_key != NULL)
		list = add_header(list, "X-API-Key", api_key);
	else {
		list = add_header(list, "x-service-role-key",
		    job->service_role_key);
		list = add_header(list, "x-user-id", job->user_id);
	}
	list = add_header(list, "x-scheduled-evaluation", "true");
	list = add_header(list, "x-scheduled-evaluation-id", job->schedule_id);
	list = add_header(list, "x-scheduled-evaluation-run-id", job->run_id);
	list = add_header(list, "Idempotency-Key", job->run_id);
	return list;
}

static long
min_long(long a, long b)
{
	return a < b ? a : b;
}

/* Sets the transfer's options; the first failure's code is returned. */
static CURLcode
setup(CURL *c, const struct job *job, const char *url, const char *body,
    long timeout_ms, struct attempt *a)
{
	CURLcode	r;

	r = post_options(c, url, body, job->tls_ca_file, timeout_ms,
	    min_long(timeout_ms, CONNECT_TIMEOUT_MS));
#define SET(opt, val)	if (r == CURLE_OK) r = curl_easy_setopt(c, opt, val)
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, a);
	SET(CURLOPT_ERRORBUFFER, a->curl_err);
#undef SET
	return r;
}

static void
collect(CURL *c, CURLcode r, struct attempt *a)
{
	long	status = 0, oserr = 0, sent = 0;

	a->curl_code = r;
	/*
	 * The bytes of the request's headers curl wrote: with none, not a
	 * byte of the request left us.  Unknown is taken as some.
	 */
	if (curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK ||
	    sent < 0)
		sent = 1;
	a->sent = sent;
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
		a->http_status = (int)status;
	if (curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK)
		a->os_errno = (int)oserr;
	a->deadline_hit = r == CURLE_OPERATION_TIMEDOUT;
	if (a->curl_err[0] == '\0' && r != CURLE_OK)
		strlcpy(a->curl_err, curl_easy_strerror(r), sizeof(a->curl_err));
}

static int
setup_failed(struct attempt *a, CURLcode r)
{
	a->curl_code = r;
	strlcpy(a->curl_err, curl_easy_strerror(r), sizeof(a->curl_err));
	return -1;
}

/*
 * Makes the POST; fills a.  Returns 0 when curl ran the transfer (the
 * outcome may still be a failure), -1 when it could not be set up.
 */
int
http_post(const struct job *job, const char *api_key, const char *url,
    const char *body, long timeout_ms, struct attempt *a)
{
	struct curl_slist	*headers;
	CURL			*c;
	CURLcode		 r;

	memset(a, 0, sizeof(*a));
	if ((c = curl_easy_init()) == NULL)
		return setup_failed(a, CURLE_FAILED_INIT);
	headers = build_headers(job, api_key);
	r = setup(c, job, url, body, timeout_ms, a);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (r == CURLE_OK) {
		a->performed = 1;
		r = curl_easy_perform(c);
	}
	collect(c, r, a);
	curl_easy_cleanup(c);
	free_headers(headers);
	return 0;
}
