/*
 * The deployment's addresses, kept out of what a user reads.  An
 * answer's body is quoted in the run's error, which the schedule's
 * owner reads in the application and in alerts, and a gateway's page
 * may name where it was going: app_url's host, a proxy's, an upstream's
 * IP address.  Each is replaced by ADDR_MASK, together with the scheme
 * before it and the port and path after it, in the whole body before
 * its excerpt is cut, so that no cut leaves a piece of one.  A host is
 * masked where it stands whole (not "app" in "application"), in any
 * case; an IP address literal whatever it is, as any IP address in
 * such a page is the deployment's.  The log keeps the body as it came.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobrunner.h"
#include "url.h"

#define ADDR_MASK	"[address]"
#define NHOSTS		8

struct hosts {
	char	*name[NHOSTS];
	size_t	 n;
};

static void
hosts_add(struct hosts *h, const char *name, size_t len)
{
	if (len == 0 || h->n == NHOSTS)
		return;
	h->name[h->n++] = xstrndup(name, len);
}

/* The host of u, as written and as url.h writes it, IPv6 also in brackets. */
static void
hosts_add_parsed(struct hosts *h, const struct url *u)
{
	char	bracketed[sizeof(((struct url *)0)->host) + 2];

	hosts_add(h, u->host_text, u->host_len);
	if (u->host_len != strlen(u->host) ||
	    strncasecmp(u->host, u->host_text, u->host_len) != 0)
		hosts_add(h, u->host, strlen(u->host));
	if (u->ipv6) {
		snprintf(bracketed, sizeof(bracketed), "[%s]", u->host);
		hosts_add(h, bracketed, strlen(bracketed));
	}
}

/*
 * The host of app_url, or of a proxy's URL, which libcurl also takes
 * without its scheme ("proxy:3128"), with another one (socks5h://) and
 * with credentials: those are skipped, not judged.
 */
static void
hosts_add_url(struct hosts *h, const char *url)
{
	struct url	 u;
	const char	*p;
	char		*http;
	size_t		 n;

	if (url == NULL || *url == '\0')
		return;
	if ((p = strstr(url, "://")) != NULL)
		url = p + 3;
	for (n = strcspn(url, "/?#"); n > 0 && url[n - 1] != '@'; n--)
		;
	http = xasprintf("http://%s", url + n);
	if (url_parse(&u, http, NULL, 0) == URL_E_NONE)
		hosts_add_parsed(h, &u);
	free(http);
}

static void
hosts_free(struct hosts *h)
{
	size_t	i;

	for (i = 0; i < h->n; i++)
		free(h->name[i]);
	h->n = 0;
}

/* A character that continues a host name or an address. */
static int
host_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* Nothing of a longer name or address follows at s. */
static int
ends_here(const char *s)
{
	if (host_char(s[0]))
		return 0;
	return !(s[0] == '.' && host_char(s[1]));
}

/* "0" to "255": its length, or 0. */
static size_t
octet(const char *s)
{
	size_t	n = 0;
	int	v = 0;

	while (n < 3 && isdigit((unsigned char)s[n]))
		v = v * 10 + (s[n++] - '0');
	return n > 0 && v <= 255 ? n : 0;
}

/* An IPv4 address literal at s: its length, or 0. */
static size_t
ipv4_at(const char *s)
{
	size_t	len = 0, n;
	int	i;

	for (i = 0; i < 4; i++) {
		if (i > 0 && s[len++] != '.')
			return 0;
		if ((n = octet(s + len)) == 0)
			return 0;
		len += n;
	}
	return ends_here(s + len) ? len : 0;
}

/* "[2001:db8::1]" at s: its length, or 0. */
static size_t
ipv6_at(const char *s)
{
	size_t	len = 1;
	int	colons = 0;

	if (s[0] != '[')
		return 0;
	for (; isxdigit((unsigned char)s[len]) || s[len] == ':' ||
	    s[len] == '.'; len++)
		colons += s[len] == ':';
	return s[len] == ']' && colons >= 2 ? len + 1 : 0;
}

/* One of the hosts, or an IP address literal, at s: its length, or 0. */
static size_t
host_at(const char *s, const struct hosts *h)
{
	size_t	i, len;

	for (i = 0; i < h->n; i++) {
		len = strlen(h->name[i]);
		if (strncasecmp(s, h->name[i], len) == 0 && ends_here(s + len))
			return len;
	}
	if ((len = ipv4_at(s)) > 0)
		return len;
	return ipv6_at(s);
}

/* "http://" or "https://" at s: its length, or 0. */
static size_t
scheme_at(const char *s)
{
	if (strncasecmp(s, "http://", 7) == 0)
		return 7;
	if (strncasecmp(s, "https://", 8) == 0)
		return 8;
	return 0;
}

/* A path at s, up to what a URL in text ends at. */
static size_t
path_len(const char *s)
{
	size_t	len = strcspn(s, " \t\r\n\"'<>()[]{}`");

	/* Punctuation after a URL is the sentence's. */
	while (len > 1 && strchr(".,;:!?", s[len - 1]) != NULL)
		len--;
	return len;
}

/*
 * An address starting at text + i, with its scheme, port and path: its
 * length, or 0.  It starts a word: no host character just before it.
 */
static size_t
address_at(const char *text, size_t i, const struct hosts *h)
{
	const char	*s = text + i;
	size_t		 len, host;

	if (i > 0 && (host_char(text[i - 1]) || text[i - 1] == '.'))
		return 0;
	len = scheme_at(s);
	if ((host = host_at(s + len, h)) == 0)
		return 0;
	len += host;
	if (s[len] == ':' && isdigit((unsigned char)s[len + 1]))
		for (len++; isdigit((unsigned char)s[len]); len++)
			;
	if (s[len] == '/')
		len += path_len(s + len);
	return len;
}

/* Room for n more bytes and a NUL at *out + used. */
static void
reserve(char **out, size_t *size, size_t used, size_t n)
{
	if (used + n + 1 <= *size)
		return;
	*size = *size * 2 + n;
	*out = xreallocarray(*out, *size, 1);
}

/* text with each address masked, into out of size bytes (reserve's). */
static char *
mask(const char *text, const struct hosts *h, char *out, size_t size)
{
	size_t	i = 0, o = 0, len;

	while (text[i] != '\0') {
		reserve(&out, &size, o, sizeof(ADDR_MASK));
		if ((len = address_at(text, i, h)) > 0) {
			memcpy(out + o, ADDR_MASK, sizeof(ADDR_MASK) - 1);
			o += sizeof(ADDR_MASK) - 1;
			i += len;
		} else
			out[o++] = text[i++];
	}
	out[o] = '\0';
	return out;
}

/*
 * text with every address of the deployment's masked, as a new string.
 * app_url is the job's.
 */
char *
addresses_masked(const char *text, const char *app_url)
{
	struct hosts	 h = { .n = 0 };
	char		*out;
	size_t		 size = strlen(text) + 1;
	int		 i;

	hosts_add_url(&h, app_url);
	for (i = 0; proxy_vars[i] != NULL; i++)
		hosts_add_url(&h, getenv(proxy_vars[i]));
	out = mask(text, &h, xreallocarray(NULL, size, 1), size);
	hosts_free(&h);
	return out;
}
