/*
 * app_url, read by libcurl's URL API (curl_url_set), the same parser that
 * the request will go through: what passes here, curl can send to.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "text.h"
#include "url.h"

/* A part that must be absent; non-zero when it is there. */
static int
has_part(CURLU *u, CURLUPart part)
{
	char	*v = NULL;
	int	 present;

	present = curl_url_get(u, part, &v, 0) == CURLUE_OK && v != NULL &&
	    *v != '\0';
	curl_free(v);
	return present;
}

static int
scheme_ok(CURLU *u)
{
	char	*scheme = NULL;
	int	 ok;

	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		return 0;
	ok = strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0;
	curl_free(scheme);
	return ok;
}

static int
parts_ok(CURLU *u, char *why, size_t len)
{
	if (!scheme_ok(u))
		snprintf(why, len, "must be an http:// or https:// URL");
	else if (!has_part(u, CURLUPART_HOST))
		snprintf(why, len, "must name a host");
	else if (has_part(u, CURLUPART_USER) ||
	    has_part(u, CURLUPART_PASSWORD))
		snprintf(why, len, "must not hold credentials (the key "
		    "travels in a header)");
	else if (has_part(u, CURLUPART_QUERY) ||
	    has_part(u, CURLUPART_FRAGMENT))
		snprintf(why, len, "must not have a query or a fragment "
		    "(the API path is appended to it)");
	else
		return 0;
	return -1;
}

int
url_check_app(const char *url, char *why, size_t len)
{
	CURLU		*u;
	CURLUcode	 rc;
	int		 r;

	/* A header injection, or a URL pasted with its line break. */
	if (text_has_control(url)) {
		snprintf(why, len, "must not contain control characters");
		return -1;
	}
	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0) {
		snprintf(why, len, "must be an http:// or https:// URL");
		return -1;
	}
	if ((u = curl_url()) == NULL) {
		snprintf(why, len, "cannot be checked: out of memory");
		return -1;
	}
	/* No guessing, no default scheme, no spaces: exactly what was written. */
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK) {
		snprintf(why, len, "is not a valid URL: %s",
		    curl_url_strerror(rc));
		r = -1;
	} else
		r = parts_ok(u, why, len);
	curl_url_cleanup(u);
	return r;
}
