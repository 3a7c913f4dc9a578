/*
 * URLs, and where they may lead.
 *
 * app_url is the operator's: one check with libcurl's URL parser, the
 * one the jobrunner's request goes through, used by the configuration
 * (-n, start-up, reload) and by the jobrunner, so that a URL either
 * passes everywhere or fails everywhere with the same words.
 *
 * A webhook URL (and any URL a channel takes from a user) is the
 * user's, and the daemon sits inside the deployment: such a request may
 * not reach this host, its networks or its cloud's metadata service,
 * unless the operator allowed those networks (webhook_allow).  The
 * address is judged when the connection is made, on the address libcurl
 * is about to connect to (CURLOPT_OPENSOCKETFUNCTION), so that no
 * spelling of a host and no second DNS answer can get around the check.
 */
#ifndef EVALSCHED_URL_H
#define EVALSCHED_URL_H

#include <sys/socket.h>

#include <stddef.h>

#include <curl/curl.h>

/*
 * 0 when url is an http:// or https:// URL with a host and no query,
 * fragment or credentials; else -1 with why ("must be ...") filled in.
 */
int	url_check_app(const char *url, char *why, size_t len);

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

/*
 * The address of sa (AF_INET or AF_INET6, len bytes): 0, or -1 for
 * another family or a short one.  An IPv6 zone (fe80::1%lo) is dropped:
 * it says which link, not what the address is.
 */
int	netaddr_from_sockaddr(struct netaddr *, const struct sockaddr *sa,
	    size_t len);
/* A numeric address ("10.0.0.1", "::ffff:10.0.0.1", "fe80::1%lo"). */
int	netaddr_parse(struct netaddr *, const char *text);
void	netaddr_format(const struct netaddr *, char *buf, size_t len);

/*
 * The class of an address.  An IPv6 address that carries an IPv4 one
 * (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, SIIT
 * ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:AABB:CCDD::) is
 * judged as the IPv4 address inside: that is where it leads.
 */
enum addr_class	addr_classify(const struct netaddr *);
/* "loopback", "link-local", ..., "public". */
const char	*addr_class_name(enum addr_class);

/*
 * "10.0.0.0/8", "fd00::/8", or an address alone (a network of one): 0,
 * or -1 with why filled in (naming the text).  Bits set after the
 * prefix are an error (the operator meant another network, or a host).
 */
int	net_parse(struct net *, const char *text, char *why, size_t len);
void	net_format(const struct net *, char *buf, size_t len);
int	net_contains(const struct net *, const struct netaddr *);

/*
 * A list of networks separated by commas or white space (webhook_allow):
 * 0, or -1 with why filled in for the first bad one.  "" is none.
 */
int	url_allow_parse(struct url_allow *, const char *text, char *why,
	    size_t len);
/* The canonical text of a list: "10.0.0.0/8, fd00::/8" ("" for none). */
void	url_allow_format(const struct url_allow *, char *buf, size_t len);

/*
 * Whether a user's request may go to addr: a public address, or one in
 * allow (NULL: none), also as the IPv4 address it carries.  *class, if
 * not NULL, gets the address's class.
 */
int	url_addr_allowed(const struct netaddr *, const struct url_allow *allow,
	    enum addr_class *class);

/* What a user's URL is, before any request. */
enum url_verdict {
	URL_OK = 0,
	URL_BAD,		/* not http:// or https:// with a host */
	URL_CREDENTIALS,	/* user or password in it */
};

enum url_verdict url_check_user(const char *url);

/*
 * The guard of one transfer to a user's URL: every connection libcurl
 * opens for it is checked against allow, and refused before it is made
 * when the address is not allowed.  What it saw stays here for the
 * caller's log.
 */
struct url_guard {
	const struct url_allow	*allow;		/* NULL: none */
	int			 opened;	/* connections let through */
	int			 refused;	/* connections refused */
	char			 refused_addr[NET_TEXT_MAX];	/* the last one */
	enum addr_class		 refused_class;
};

/*
 * Sets on c: the guard as its socket opener, and no proxy (a proxy
 * would be the address checked, and the environment's is the
 * deployment's, not the user's).  The first failure's code, or
 * CURLE_OK.  g must outlive the transfer.
 */
CURLcode url_guard_options(CURL *c, struct url_guard *g);

/* Whether the transfer failed because every address was refused. */
int	url_guard_refused_all(const struct url_guard *);

#endif
