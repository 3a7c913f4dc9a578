/*
 * libcurl's socket opener for a user's URL; see urlguard.h.
 */
#include <sys/socket.h>

#include <string.h>

#include <curl/curl.h>

#include "url.h"
#include "urlguard.h"

/*
 * The address libcurl is about to connect to, after any resolution, is
 * the one judged.  A refused one gets no socket, so no packet goes out
 * to it.
 */
static curl_socket_t
guard_open(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct url_guard	*g = arg;
	enum addr_class		 class = ADDR_RESERVED;
	char			 addr[NET_TEXT_MAX] = "(not an IP address)";

	if (purpose == CURLSOCKTYPE_IPCXN &&
	    url_sockaddr_allowed(&sa->addr, sa->addrlen, g->allow, addr,
	    sizeof(addr), &class)) {
		g->opened++;
		return socket(sa->family, sa->socktype | SOCK_CLOEXEC,
		    sa->protocol);
	}
	strlcpy(g->refused_addr, addr, sizeof(g->refused_addr));
	g->refused++;
	g->refused_class = class;
	return CURL_SOCKET_BAD;
}

CURLcode
url_guard_options(CURL *c, struct url_guard *g)
{
	CURLcode	r = CURLE_OK;

#define SET(opt, val)	if (r == CURLE_OK) r = curl_easy_setopt(c, opt, val)
	SET(CURLOPT_OPENSOCKETFUNCTION, guard_open);
	SET(CURLOPT_OPENSOCKETDATA, g);
	/* "" is no proxy, whatever http_proxy and the others say. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOPROXY, "*");
	/* A redirect is a second URL, and one nobody checked. */
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#undef SET
	return r;
}

int
url_guard_refused_all(const struct url_guard *g)
{
	return g->refused > 0 && g->opened == 0;
}
