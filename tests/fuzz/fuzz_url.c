// fuzz-link: common/url.c common/text.c common/util.c common/log.c
// fuzz-pkgs: libcurl libbsd-overlay
/*
 * libFuzzer target for url_parse: a URL it takes is rebuilt
 * (url_canonical) into one that reads back to the same parts and
 * rebuilds to itself, and libcurl reads the rebuilt URL as the same
 * scheme, host and port: what the notifier and the jobrunner checked is
 * what libcurl connects to.  A URL it refuses has a reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "url.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* libcurl's scheme, host and port of text are those of u. */
static void
same_for_curl(const char *text, const struct url *u)
{
	CURLU		*cu;
	char		*scheme = NULL, *host = NULL, *port = NULL;
	char		 want[URL_HOST_MAX + 4];
	unsigned int	 p = u->port != 0 ? u->port : u->https ? 443 : 80;

	if ((cu = curl_url()) == NULL)
		return;
	snprintf(want, sizeof(want), u->ipv6 ? "[%s]" : "%s", u->host);
	if (curl_url_set(cu, CURLUPART_URL, text, 0) != CURLUE_OK ||
	    curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(cu, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(cu, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK ||
	    strcmp(scheme, u->https ? "https" : "http") != 0 ||
	    strcasecmp(host, want) != 0 || (unsigned int)atoi(port) != p) {
		fprintf(stderr, "libcurl reads '%s' otherwise: %s %s %s\n",
		    text, scheme, host, port);
		abort();
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(cu);
}

static void
round_trip(const struct url *u)
{
	struct url	 again;
	char		*c, *c2;

	if ((c = url_canonical(u)) == NULL)
		return;
	if (url_parse(&again, c, NULL, 0) != URL_E_NONE ||
	    strcmp(again.host, u->host) != 0 || again.port != u->port ||
	    again.https != u->https || again.ipv6 != u->ipv6 ||
	    (c2 = url_canonical(&again)) == NULL || strcmp(c, c2) != 0)
		abort();
	same_for_curl(c, u);
	free(c2);
	free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct url	 u;
	char		*text, why[256] = "";
	enum url_error	 e;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	e = url_parse(&u, text, why, sizeof(why));
	if (e != URL_E_NONE && why[0] == '\0')
		abort();
	if (e == URL_E_NONE)
		round_trip(&u);
	(void)url_check_user(text);
	(void)url_check_app(text, why, sizeof(why));
	free(text);
	return 0;
}
