/*
 * URLs and where they may lead; see url.h.  The parser is ours and
 * strict, and nothing of libcurl is here: the supervisor and
 * evalschedctl check URLs without loading it.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "testhooks.h"
#include "text.h"
#include "url.h"
#include "util.h"

/*
 * What no part of a URL holds as it is (RFC 3986 leaves them out), and
 * a backslash, which some parsers take for a slash.
 */
#define URL_NEVER	" \"<>\\^`{|}"

static const char *const url_errors[] = {
	[URL_E_CONTROL] = "must not contain control characters",
	[URL_E_SCHEME] = "must be an http:// or https:// URL",
	[URL_E_NO_HOST] = "must name a host",
	[URL_E_HOST] = "is not a valid URL: bad host (an ASCII name, "
	    "a.b.c.d or [IPv6])",
	[URL_E_PORT] = "is not a valid URL: bad port (1 to 65535)",
	[URL_E_CHAR] = "is not a valid URL: %s in the path, query or "
	    "fragment (percent-encode it)",
	[URL_E_PERCENT] = "is not a valid URL: '%%' not followed by two hex "
	    "digits",
	[URL_E_CREDENTIALS] = "must not hold credentials",
};

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static enum url_error
url_fail(enum url_error e, char bad, char *why, size_t len)
{
	char	what[32];

	if (why == NULL || len == 0)
		return e;
	if (bad == ' ')
		snprintf(what, sizeof(what), "a space");
	else if ((unsigned char)bad >= 0x80)
		snprintf(what, sizeof(what), "a byte that is not ASCII");
	else
		snprintf(what, sizeof(what), "'%c'", bad);
	snprintf(why, len, url_errors[e], what);
	return e;
}

/* "http://" or "https://", in any case: where the authority starts. */
static const char *
url_scheme(struct url *u, const char *s)
{
	if (strncasecmp(s, "http://", 7) == 0)
		return s + 7;
	if (strncasecmp(s, "https://", 8) == 0) {
		u->https = 1;
		return s + 8;
	}
	return NULL;
}

/*
 * Whether the last label of a name is a number (digits, or 0x and hex
 * digits): then the name is an IPv4 address to every resolver that
 * takes 127.1 or 0x7f000001, and must be one in the dotted-quad form.
 */
static int
ends_in_number(const char *name, size_t n)
{
	size_t	start;

	if (n > 0 && name[n - 1] == '.')
		n--;
	for (start = n; start > 0 && name[start - 1] != '.'; start--)
		;
	if (n - start >= 2 && name[start] == '0' &&
	    lower(name[start + 1]) == 'x') {
		for (start += 2; start < n && is_hex(name[start]); start++)
			;
		return start == n;
	}
	for (; start < n && is_digit(name[start]); start++)
		;
	return start == n;
}

/* A host name, or an IPv4 address as a.b.c.d and nothing else. */
static enum url_error
url_host_name(struct url *u, const char *s, size_t n)
{
	struct in_addr	a;
	size_t		i, label = 0;

	if (n == 0)
		return URL_E_NO_HOST;
	if (n > URL_HOST_MAX + (s[n - 1] == '.'))
		return URL_E_HOST;
	for (i = 0; i < n; i++) {
		if (s[i] == '.' && label > 0)
			label = 0;
		else if ((is_alnum(s[i]) || s[i] == '-' || s[i] == '_') &&
		    label < 63)
			label++;
		else
			return URL_E_HOST;
		u->host[i] = lower(s[i]);
	}
	u->host[n] = '\0';
	if (ends_in_number(u->host, n) && inet_pton(AF_INET, u->host, &a) != 1)
		return URL_E_HOST;
	return URL_E_NONE;
}

/* "[2001:db8::1]" less its brackets: no zone, written as inet_ntop does. */
static enum url_error
url_host_ipv6(struct url *u, const char *s, size_t n)
{
	struct in6_addr	a;
	char		buf[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(buf) ||
	    strspn(s, "0123456789abcdefABCDEF:.") < n)
		return URL_E_HOST;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1 ||
	    inet_ntop(AF_INET6, &a, u->host, sizeof(u->host)) == NULL)
		return URL_E_HOST;
	u->ipv6 = 1;
	return URL_E_NONE;
}

/* Digits alone, no leading zero, 1 to 65535. */
static enum url_error
url_port(struct url *u, const char *s, size_t n)
{
	unsigned int	v = 0;
	size_t		i;

	if (n == 0 || n > 5 || s[0] == '0')
		return URL_E_PORT;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return URL_E_PORT;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v > 65535)
		return URL_E_PORT;
	u->port = v;
	return URL_E_NONE;
}

/* host[:port] or [v6][:port], from s to end. */
static enum url_error
url_host_port(struct url *u, const char *s, const char *end)
{
	const char	*colon, *close;
	enum url_error	 e;

	if (s < end && *s == '[') {
		if ((close = memchr(s, ']', (size_t)(end - s))) == NULL)
			return URL_E_HOST;
		u->host_text = s + 1;
		u->host_len = (size_t)(close - s - 1);
		e = url_host_ipv6(u, u->host_text, u->host_len);
		colon = close + 1;
		if (e == URL_E_NONE && colon < end && *colon != ':')
			return URL_E_HOST;
	} else {
		if ((colon = memchr(s, ':', (size_t)(end - s))) == NULL)
			colon = end;
		u->host_text = s;
		u->host_len = (size_t)(colon - s);
		e = url_host_name(u, s, u->host_len);
	}
	if (e == URL_E_NONE && colon < end)
		e = url_port(u, colon + 1, (size_t)(end - colon - 1));
	return e;
}

/*
 * The authority, from s to end: [userinfo@]host[:port].  A user or
 * password is read past, so that the rest is known, and reported.
 */
static enum url_error
url_authority(struct url *u, const char *s, const char *end)
{
	const char	*at = memchr(s, '@', (size_t)(end - s));
	enum url_error	 e;

	e = url_host_port(u, at != NULL ? at + 1 : s, end);
	if (e == URL_E_NONE && at != NULL)
		return URL_E_CREDENTIALS;
	return e;
}

/*
 * A path, query or fragment of n bytes: URL_E_NONE, or why not (*bad
 * the character).  A '#' is one too many: the first began the fragment.
 */
static enum url_error
url_chars(const char *s, size_t n, char *bad)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80 || s[i] == '#' ||
		    strchr(URL_NEVER, s[i]) != NULL) {
			*bad = s[i];
			return URL_E_CHAR;
		}
		if (s[i] == '%' && (i + 2 >= n || !is_hex(s[i + 1]) ||
		    !is_hex(s[i + 2])))
			return URL_E_PERCENT;
	}
	return URL_E_NONE;
}

/* The path, query and fragment, from s (at '/', '?', '#' or the end). */
static enum url_error
url_rest(struct url *u, const char *s, char *bad)
{
	enum url_error	e;

	u->path = s;
	u->path_len = strcspn(s, "?#");
	s += u->path_len;
	if (*s == '?') {
		u->query = ++s;
		u->query_len = strcspn(s, "#");
		s += u->query_len;
	}
	if (*s == '#')
		u->fragment = s + 1;
	if ((e = url_chars(u->path, u->path_len, bad)) != URL_E_NONE)
		return e;
	if (u->query != NULL &&
	    (e = url_chars(u->query, u->query_len, bad)) != URL_E_NONE)
		return e;
	if (u->fragment != NULL)
		return url_chars(u->fragment, strlen(u->fragment), bad);
	return URL_E_NONE;
}

enum url_error
url_parse(struct url *u, const char *text, char *why, size_t len)
{
	const char	*s, *end;
	enum url_error	 e, rest;
	char		 bad = '?';

	memset(u, 0, sizeof(*u));
	u->path = "";
	/* A header injection, or a URL pasted with its line break. */
	if (text_has_control(text))
		return url_fail(URL_E_CONTROL, bad, why, len);
	if ((s = url_scheme(u, text)) == NULL)
		return url_fail(URL_E_SCHEME, bad, why, len);
	end = s + strcspn(s, "/?#");
	e = url_authority(u, s, end);
	if (e != URL_E_NONE && e != URL_E_CREDENTIALS)
		return url_fail(e, bad, why, len);
	if ((rest = url_rest(u, end, &bad)) != URL_E_NONE)
		return url_fail(rest, bad, why, len);
	return e == URL_E_NONE ? e : url_fail(e, bad, why, len);
}

void
url_origin(const struct url *u, char *buf, size_t len)
{
	char	port[sizeof(":4294967295")] = "";

	if (u->port != 0)
		snprintf(port, sizeof(port), ":%u", u->port);
	snprintf(buf, len, "%s://%s%s%s%s", u->https ? "https" : "http",
	    u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "", port);
}

char *
url_canonical(const struct url *u)
{
	char	origin[URL_ORIGIN_MAX], *s;
	size_t	len, n;

	url_origin(u, origin, sizeof(origin));
	n = strlen(origin);
	len = n + u->path_len + (u->query != NULL ? 1 + u->query_len : 0);
	s = xreallocarray(NULL, len + 1, 1);
	memcpy(s, origin, n);
	memcpy(s + n, u->path, u->path_len);
	n += u->path_len;
	if (u->query != NULL) {
		s[n++] = '?';
		memcpy(s + n, u->query, u->query_len);
		n += u->query_len;
	}
	s[n] = '\0';
	return s;
}

int
url_check_app(const char *url, char *why, size_t len)
{
	struct url	u;
	enum url_error	e = url_parse(&u, url, why, len);

	if (e == URL_E_CREDENTIALS)
		snprintf(why, len, "must not hold credentials (the key "
		    "travels in a header)");
	else if (e == URL_E_NONE && (u.query != NULL || u.fragment != NULL))
		snprintf(why, len, "must not have a query or a fragment "
		    "(the API path is appended to it)");
	else
		return e == URL_E_NONE ? 0 : -1;
	return -1;
}

enum url_verdict
url_check_user(const char *url)
{
	struct url	u;

	switch (url_parse(&u, url, NULL, 0)) {
	case URL_E_NONE:
		return URL_OK;
	case URL_E_CREDENTIALS:
		return URL_CREDENTIALS;
	default:
		return URL_BAD;
	}
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

int
url_sockaddr_allowed(const struct sockaddr *sa, size_t salen,
    const struct url_allow *allow, char *addr, size_t len,
    enum addr_class *class)
{
	struct netaddr	a;

	*class = ADDR_RESERVED;
	if (netaddr_from_sockaddr(&a, sa, salen) == -1) {
		snprintf(addr, len, "(not an IP address)");
		return 0;
	}
	netaddr_format(&a, addr, len);
	return url_addr_allowed(&a, allow, class);
}
