/*
 * URLs, and where they may lead.
 *
 * Every URL is read by one parser, ours (url_parse), and read strictly:
 * http:// or https://, a host of ASCII letters, digits, '-', '_' and
 * dots, a dotted-quad IPv4 address or an IPv6 address in brackets, a
 * port from 1 to 65535, then a path, query and fragment of the
 * characters a URL may hold.  Whatever another parser could read as
 * another host is refused: a backslash, white space, a percent-encoded
 * or non-ASCII host, an IPv4 address in another spelling (127.1,
 * 0x7f000001), an IPv6 address without its brackets or with a zone.  A
 * request is not sent to the URL as written but to the one rebuilt from
 * the parts (url_canonical), so that the host and port libcurl connects
 * to are the ones checked here.
 *
 * app_url is the operator's: url_check_app is its one check, made by
 * the configuration (-n, start-up, reload) and by the jobrunner, so
 * that a URL either passes everywhere or fails everywhere with the same
 * words.
 *
 * A webhook URL (and any URL a channel takes from a user) is the
 * user's, and the daemon sits inside the deployment: such a request may
 * not reach this host, its networks or its cloud's metadata service,
 * unless the operator allowed those networks (webhook_allow).  The
 * address is judged when the connection is made, on the address libcurl
 * is about to connect to (urlguard.h), so that no spelling of a host and
 * no second DNS answer can get around the check.
 */
#ifndef EVALSCHED_URL_H
#define EVALSCHED_URL_H

#include <sys/socket.h>

#include <stddef.h>

#define URL_HOST_MAX	253	/* a DNS name without its final dot */
/* "https://[host]:65535" and its NUL */
#define URL_ORIGIN_MAX	(sizeof("https://[]:65535") + URL_HOST_MAX + 1)

/* Why a URL was refused; URL_E_CREDENTIALS comes with every part read. */
enum url_error {
	URL_E_NONE = 0,
	URL_E_CONTROL,		/* a control character anywhere */
	URL_E_SCHEME,		/* not http:// or https:// */
	URL_E_NO_HOST,
	URL_E_HOST,		/* not a name, a.b.c.d or [IPv6] */
	URL_E_PORT,		/* not a number from 1 to 65535 */
	URL_E_CHAR,		/* in the path, query or fragment */
	URL_E_PERCENT,		/* '%' not followed by two hex digits */
	URL_E_CREDENTIALS,	/* a user or password */
};

/* A URL as url_parse read it; the parts point into the text. */
struct url {
	int		 https;		/* else http */
	/* In lower case; IPv6 without brackets, as inet_ntop writes it. */
	char		 host[URL_HOST_MAX + 2];
	int		 ipv6;
	const char	*host_text;	/* as written, without brackets */
	size_t		 host_len;
	unsigned int	 port;		/* 0: none written */
	const char	*path;		/* "" or from its '/' */
	size_t		 path_len;
	const char	*query;		/* after the '?'; NULL: none */
	size_t		 query_len;
	const char	*fragment;	/* after the '#'; NULL: none */
};

/*
 * Reads text into u.  URL_E_NONE, or why not, also in why (unless it
 * is NULL): "must be an http:// or https:// URL", "is not a valid URL:
 * bad port (...)".  text must outlive u.
 */
enum url_error	url_parse(struct url *u, const char *text, char *why,
		    size_t len);
/* "https://host:port" (the port when one was written). */
void	url_origin(const struct url *, char *buf, size_t len);
/*
 * The URL rebuilt from its parts, as a request is sent: the origin, the
 * path and the query as written, no fragment (it is never sent), as a
 * new string.
 */
char	*url_canonical(const struct url *);

/*
 * 0 when url is an http:// or https:// URL with a host and no query,
 * fragment or credentials; else -1 with why ("must be ...") filled in.
 */
int	url_check_app(const char *url, char *why, size_t len);

/* What a user's URL is, before any request. */
enum url_verdict {
	URL_OK = 0,
	URL_BAD,		/* not a URL url_parse takes */
	URL_CREDENTIALS,	/* user or password in it */
};

enum url_verdict url_check_user(const char *url);

/* What an address is, as far as a user's request may go there. */
enum addr_class {
	ADDR_PUBLIC = 0,	/* anything not below */
	ADDR_UNSPECIFIED,	/* 0.0.0.0/8, :: */
	ADDR_LOOPBACK,		/* 127.0.0.0/8, ::1 */
	ADDR_PRIVATE,		/* 10/8, 172.16/12, 192.168/16, fec0::/10,
				   64:ff9b:1::/48 */
	ADDR_SHARED,		/* 100.64.0.0/10, carrier-grade NAT */
	ADDR_LINK_LOCAL,	/* 169.254.0.0/16, fe80::/10 */
	ADDR_UNIQUE_LOCAL,	/* fc00::/7 */
	ADDR_MULTICAST,		/* 224.0.0.0/4, ff00::/8 */
	ADDR_BROADCAST,		/* 255.255.255.255 */
	ADDR_DOCUMENTATION,	/* 192.0.2/24, 198.51.100/24, 203.0.113/24,
				   2001:db8::/32, 3fff::/20 */
	ADDR_RESERVED,		/* 192.0.0/24, 198.18/15, 240/4, 100::/64,
				   2001:2::/48, IPv6 outside 2000::/3 */
};

/* An IPv4 (a[0..3]) or IPv6 address, in network order. */
struct netaddr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	a[16];
};

/* A network: an address and how many of its leading bits count. */
struct net {
	struct netaddr	addr;
	unsigned int	prefix;
};

#define URL_ALLOW_MAX	64	/* networks in webhook_allow */
#define NET_TEXT_MAX	64	/* "ffff:...:ffff/128" and its NUL */

/* The networks an operator allowed although they are not public. */
struct url_allow {
	struct net	nets[URL_ALLOW_MAX];
	size_t		n;
};

/* "loopback", "link-local", ..., "public". */
const char	*addr_class_name(enum addr_class);

/*
 * "10.0.0.0/8", "fd00::/8", or an address alone (a network of one): 0,
 * or -1 with why filled in (naming the text).  Bits set after the
 * prefix are an error (the operator meant another network, or a host).
 */
int	net_parse(struct net *, const char *text, char *why, size_t len);
void	net_format(const struct net *, char *buf, size_t len);

/*
 * A list of networks separated by commas or white space (webhook_allow):
 * 0, or -1 with why filled in for the first bad one.  "" is none.
 */
int	url_allow_parse(struct url_allow *, const char *text, char *why,
	    size_t len);
/* The canonical text of a list: "10.0.0.0/8, fd00::/8" ("" for none). */
void	url_allow_format(const struct url_allow *, char *buf, size_t len);

/*
 * Whether a user's request may connect to sa (len bytes): an IPv4 or
 * IPv6 address that is public or in allow (NULL: none), also as the
 * IPv4 address it carries (see addr_classify).  The address as text and
 * its class go to addr and *class, for the log.
 */
int	url_sockaddr_allowed(const struct sockaddr *sa, size_t salen,
	    const struct url_allow *allow, char *addr, size_t len,
	    enum addr_class *class);

#endif
