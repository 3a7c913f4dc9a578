/*
 * URLs and where they may lead; see url.h.  URLs are read by libcurl's
 * URL API (curl_url_set), the same parser that the request will go
 * through: what passes here, curl can send to.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

/* --- addresses -------------------------------------------------------- */

struct range {
	const char	*net;
	enum addr_class	 class;
};

/*
 * IANA's special-purpose registries, as far as a user's request may go:
 * the first match wins, so a range comes before a wider one around it.
 * An address in none of them is public (IPv4) or reserved (IPv6 outside
 * the global unicast 2000::/3).
 */
static const struct range ranges[] = {
	{ "0.0.0.0/8",		ADDR_UNSPECIFIED },
	{ "10.0.0.0/8",		ADDR_PRIVATE },
	{ "100.64.0.0/10",	ADDR_SHARED },
	{ "127.0.0.0/8",	ADDR_LOOPBACK },
	{ "169.254.0.0/16",	ADDR_LINK_LOCAL },
	{ "172.16.0.0/12",	ADDR_PRIVATE },
	{ "192.0.0.0/24",	ADDR_RESERVED },
	{ "192.0.2.0/24",	ADDR_DOCUMENTATION },
	{ "192.88.99.0/24",	ADDR_RESERVED },
	{ "192.168.0.0/16",	ADDR_PRIVATE },
	{ "198.18.0.0/15",	ADDR_RESERVED },
	{ "198.51.100.0/24",	ADDR_DOCUMENTATION },
	{ "203.0.113.0/24",	ADDR_DOCUMENTATION },
	{ "224.0.0.0/4",	ADDR_MULTICAST },
	{ "255.255.255.255/32",	ADDR_BROADCAST },
	{ "240.0.0.0/4",	ADDR_RESERVED },
	{ "::/128",		ADDR_UNSPECIFIED },
	{ "::1/128",		ADDR_LOOPBACK },
	{ "64:ff9b:1::/48",	ADDR_PRIVATE },
	{ "100::/64",		ADDR_RESERVED },
	{ "2001::/23",		ADDR_RESERVED },
	{ "2001:db8::/32",	ADDR_DOCUMENTATION },
	{ "3fff::/20",		ADDR_DOCUMENTATION },
	{ "fc00::/7",		ADDR_UNIQUE_LOCAL },
	{ "fe80::/10",		ADDR_LINK_LOCAL },
	{ "fec0::/10",		ADDR_PRIVATE },
	{ "ff00::/8",		ADDR_MULTICAST },
	{ "2000::/3",		ADDR_PUBLIC },
	{ "::/0",		ADDR_RESERVED },
};

static const char *const class_names[] = {
	[ADDR_PUBLIC] = "public",
	[ADDR_UNSPECIFIED] = "unspecified",
	[ADDR_LOOPBACK] = "loopback",
	[ADDR_PRIVATE] = "private",
	[ADDR_SHARED] = "shared (carrier-grade NAT)",
	[ADDR_LINK_LOCAL] = "link-local",
	[ADDR_UNIQUE_LOCAL] = "unique-local",
	[ADDR_MULTICAST] = "multicast",
	[ADDR_BROADCAST] = "broadcast",
	[ADDR_DOCUMENTATION] = "documentation",
	[ADDR_RESERVED] = "reserved",
};

const char *
addr_class_name(enum addr_class c)
{
	return class_names[c];
}

int
netaddr_from_sockaddr(struct netaddr *a, const struct sockaddr *sa,
    size_t len)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;

	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET && len >= sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		memcpy(a->a, &sin.sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(sin6)) {
		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(a->a, &sin6.sin6_addr, 16);
	} else
		return -1;
	a->family = sa->sa_family;
	return 0;
}

/* Strict: dotted quads alone for IPv4, as inet_pton(3) reads them. */
int
netaddr_parse(struct netaddr *a, const char *text)
{
	char	buf[INET6_ADDRSTRLEN + 1];
	size_t	n = strcspn(text, "%");

	memset(a, 0, sizeof(*a));
	/* A zone is a name or a number: only IPv6 has one. */
	if (n >= sizeof(buf) || (text[n] == '%' && (strchr(text, ':') ==
	    NULL || text[n + 1] == '\0' || strpbrk(text + n + 1, "%/") !=
	    NULL)))
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	a->family = strchr(buf, ':') != NULL ? AF_INET6 : AF_INET;
	return inet_pton(a->family, buf, a->a) == 1 ? 0 : -1;
}

void
netaddr_format(const struct netaddr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, a->a, buf, len) == NULL)
		snprintf(buf, len, "?");
}

/* The first bits of a and b are the same. */
static int
prefix_match(const unsigned char *a, const unsigned char *b,
    unsigned int bits)
{
	unsigned int	whole = bits / 8, rest = bits % 8;
	unsigned char	mask = (unsigned char)(0xff << (8 - rest));

	if (memcmp(a, b, whole) != 0)
		return 0;
	return rest == 0 || ((a[whole] ^ b[whole]) & mask) == 0;
}

int
net_contains(const struct net *n, const struct netaddr *a)
{
	return n->addr.family == a->family &&
	    prefix_match(n->addr.a, a->a, n->prefix);
}

/*
 * The IPv4 address an IPv6 one leads to, in the forms the kernel, a
 * translator or a relay would take it to: 1 and v4 set, or 0.
 */
static int
embedded_v4(const struct netaddr *a, struct netaddr *v4)
{
	static const unsigned char	zero[12];
	static const unsigned char	nat64[12] = { 0, 0x64, 0xff, 0x9b };
	const unsigned char		*p = a->a;
	size_t				 off = 12;

	if (a->family != AF_INET6)
		return 0;
	if (memcmp(p, zero, 10) == 0 && p[10] == 0xff && p[11] == 0xff)
		;	/* ::ffff:a.b.c.d, IPv4-mapped */
	else if (memcmp(p, zero, 8) == 0 && p[8] == 0xff && p[9] == 0xff &&
	    p[10] == 0 && p[11] == 0)
		;	/* ::ffff:0:a.b.c.d, SIIT */
	else if (memcmp(p, zero, 12) == 0 &&
	    (p[12] | p[13] | p[14] | (p[15] & 0xfe)) != 0)
		;	/* ::a.b.c.d, IPv4-compatible; not :: nor ::1 */
	else if (memcmp(p, nat64, 12) == 0)
		;	/* 64:ff9b::a.b.c.d, NAT64 */
	else if (p[0] == 0x20 && p[1] == 0x02)
		off = 2;	/* 2002:aabb:ccdd::/48, 6to4 */
	else
		return 0;
	memset(v4, 0, sizeof(*v4));
	v4->family = AF_INET;
	memcpy(v4->a, p + off, 4);
	return 1;
}

enum addr_class
addr_classify(const struct netaddr *a)
{
	struct netaddr	v4;
	struct net	n;
	size_t		i;

	if (embedded_v4(a, &v4))
		return addr_classify(&v4);
	for (i = 0; i < sizeof(ranges) / sizeof(*ranges); i++)
		if (net_parse(&n, ranges[i].net, NULL, 0) == 0 &&
		    net_contains(&n, a))
			return ranges[i].class;
	return ADDR_PUBLIC;
}

/* --- networks --------------------------------------------------------- */

static int
net_err(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
net_err(char *why, size_t len, const char *fmt, ...)
{
	va_list	ap;

	if (why != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* "/24": 0, or -1 unless it is a plain decimal from 0 to max. */
static int
parse_prefix(const char *s, unsigned int max, unsigned int *bits)
{
	unsigned int	v = 0;
	size_t		n = strlen(s);

	if (n == 0 || n > 3 || strspn(s, "0123456789") != n ||
	    (n > 1 && *s == '0'))
		return -1;
	while (*s != '\0')
		v = v * 10 + (unsigned int)(*s++ - '0');
	if (v > max)
		return -1;
	*bits = v;
	return 0;
}

static void
clear_host_bits(struct net *n)
{
	unsigned int	i, size = n->addr.family == AF_INET ? 32 : 128;

	for (i = n->prefix; i < size; i++)
		n->addr.a[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
}

/* Whether any bit after the prefix is set. */
static int
host_bits(const struct net *n)
{
	struct net	masked = *n;

	clear_host_bits(&masked);
	return memcmp(masked.addr.a, n->addr.a, sizeof(n->addr.a)) != 0;
}

int
net_parse(struct net *n, const char *text, char *why, size_t len)
{
	char		 buf[NET_TEXT_MAX], fixed[NET_TEXT_MAX], *slash;
	unsigned int	 max;

	memset(n, 0, sizeof(*n));
	if (strlen(text) >= sizeof(buf))
		return net_err(why, len, "'%.40s...' is not a network", text);
	strlcpy(buf, text, sizeof(buf));
	if (strchr(buf, '%') != NULL)
		return net_err(why, len, "'%s': a network has no zone (%%)",
		    text);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (netaddr_parse(&n->addr, buf) == -1)
		return net_err(why, len, "'%s' is not an IPv4 or IPv6 address "
		    "or network", text);
	max = n->addr.family == AF_INET ? 32 : 128;
	n->prefix = max;
	if (slash != NULL && parse_prefix(slash, max, &n->prefix) == -1)
		return net_err(why, len, "'%s': the prefix length must be a "
		    "number from 0 to %u", text, max);
	if (host_bits(n)) {
		struct net	m = *n;

		clear_host_bits(&m);
		net_format(&m, fixed, sizeof(fixed));
		return net_err(why, len, "'%s' has bits set after its /%u "
		    "prefix: the network is %s (or write the address alone)",
		    text, n->prefix, fixed);
	}
	return 0;
}

void
net_format(const struct net *n, char *buf, size_t len)
{
	char	addr[INET6_ADDRSTRLEN];

	netaddr_format(&n->addr, addr, sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, n->prefix);
}

#define LIST_SEP	", \t"

int
url_allow_parse(struct url_allow *a, const char *text, char *why,
    size_t len)
{
	char		 item[NET_TEXT_MAX];
	const char	*p = text;
	size_t		 n;

	a->n = 0;
	for (;;) {
		p += strspn(p, LIST_SEP);
		if (*p == '\0')
			return 0;
		n = strcspn(p, LIST_SEP);
		if (n >= sizeof(item))
			return net_err(why, len, "'%.40s...' is not a network",
			    p);
		if (a->n == URL_ALLOW_MAX)
			return net_err(why, len, "more than %d networks",
			    URL_ALLOW_MAX);
		memcpy(item, p, n);
		item[n] = '\0';
		if (net_parse(&a->nets[a->n], item, why, len) == -1)
			return -1;
		a->n++;
		p += n;
	}
}

void
url_allow_format(const struct url_allow *a, char *buf, size_t len)
{
	char	net[NET_TEXT_MAX];
	size_t	i;

	if (len > 0)
		*buf = '\0';
	for (i = 0; i < a->n; i++) {
		net_format(&a->nets[i], net, sizeof(net));
		if (i > 0)
			strlcat(buf, ", ", len);
		strlcat(buf, net, len);
	}
}

int
url_addr_allowed(const struct netaddr *a, const struct url_allow *allow,
    enum addr_class *class)
{
	enum addr_class	c = addr_classify(a);
	struct netaddr	v4;
	int		has_v4 = embedded_v4(a, &v4);
	size_t		i;

	if (class != NULL)
		*class = c;
	if (c == ADDR_PUBLIC)
		return 1;
	for (i = 0; allow != NULL && i < allow->n; i++)
		if (net_contains(&allow->nets[i], a) ||
		    (has_v4 && net_contains(&allow->nets[i], &v4)))
			return 1;
	return 0;
}

/* --- users' URLs ------------------------------------------------------ */

enum url_verdict
url_check_user(const char *url)
{
	CURLU			*u;
	enum url_verdict	 v = URL_BAD;

	if (text_has_control(url) || (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0))
		return URL_BAD;
	if ((u = curl_url()) == NULL)
		return URL_BAD;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    scheme_ok(u) && has_part(u, CURLUPART_HOST))
		v = has_part(u, CURLUPART_USER) ||
		    has_part(u, CURLUPART_PASSWORD) ? URL_CREDENTIALS : URL_OK;
	curl_url_cleanup(u);
	return v;
}

/*
 * libcurl's socket opener: the address it is about to connect to, after
 * any resolution, is the one judged.  A refused one gets no socket, so
 * no packet goes out to it.
 */
static curl_socket_t
guard_open(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct url_guard	*g = arg;
	struct netaddr		 a;
	enum addr_class		 class = ADDR_RESERVED;

	if (purpose == CURLSOCKTYPE_IPCXN &&
	    netaddr_from_sockaddr(&a, &sa->addr, sa->addrlen) == 0) {
		if (url_addr_allowed(&a, g->allow, &class)) {
			g->opened++;
			return socket(sa->family, sa->socktype | SOCK_CLOEXEC,
			    sa->protocol);
		}
		netaddr_format(&a, g->refused_addr, sizeof(g->refused_addr));
	} else
		strlcpy(g->refused_addr, "(not an IP address)",
		    sizeof(g->refused_addr));
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
