/*
 * One HTTP POST as our programs make it (the jobrunner's call to the
 * application, the notifier's webhooks): the libcurl options they share.
 */
#ifndef EVALSCHED_POST_H
#define EVALSCHED_POST_H

#include <curl/curl.h>

/*
 * Sets, on c, a POST of body to url: http and https only, never a
 * redirect (it would carry the credentials along), peer and host
 * verified (against ca_file when it is set), the two timeouts, our
 * User-Agent.  The first failure's code, or CURLE_OK.
 */
CURLcode	post_options(CURL *c, const char *url, const char *body,
		    const char *ca_file, long timeout_ms, long connect_ms);

/* curl_slist_append(3), out of memory fatal (util.h). */
struct curl_slist *xslist_append(struct curl_slist *, const char *line);

#endif
