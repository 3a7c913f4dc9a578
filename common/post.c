/*
 * One HTTP POST as our programs make it; see post.h.
 */
#include <string.h>

#include "post.h"
#include "util.h"

CURLcode
post_options(CURL *c, const char *url, const char *body, const char *ca_file,
    long timeout_ms, long connect_ms)
{
	CURLcode	r = CURLE_OK;

#define SET(opt, val)	if (r == CURLE_OK) r = curl_easy_setopt(c, opt, val)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* A redirect would carry the credentials to wherever it points. */
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL && *ca_file != '\0')
		SET(CURLOPT_CAINFO, ca_file);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SET(CURLOPT_USERAGENT, "evalsched/" VERSION);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, body);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
#undef SET
	return r;
}

struct curl_slist *
xslist_append(struct curl_slist *list, const char *line)
{
	struct curl_slist	*l;

	if ((l = curl_slist_append(list, line)) == NULL)
		out_of_memory("curl_slist_append");
	return l;
}
