/*
 * Where a user's URL may lead (common/url.c): every class of address
 * with the edges of its ranges, IPv6 that carries IPv4 judged as the
 * IPv4 inside, zones, sockaddrs as libcurl hands them, networks and
 * lists of them as webhook_allow is written, and the URL check.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "tap.h"

static enum addr_class
class_of(const char *text)
{
	struct netaddr	a;

	if (netaddr_parse(&a, text) == -1)
		return (enum addr_class)-1;
	return addr_classify(&a);
}

static void
is_class(const char *text, enum addr_class want)
{
	enum addr_class	got = class_of(text);

	if ((int)got == -1) {
		tap_ok(0, "%s: parsed", text);
		return;
	}
	if (!tap_ok(got == want, "%s is %s", text, addr_class_name(want)))
		tap_diag("got %s", addr_class_name(got));
}

static void
test_ipv4(void)
{
	static const struct {
		const char	*addr;
		enum addr_class	 class;
	} t[] = {
		{ "0.0.0.0", ADDR_UNSPECIFIED },
		{ "0.255.255.255", ADDR_UNSPECIFIED },
		{ "1.0.0.0", ADDR_PUBLIC },
		{ "1.1.1.1", ADDR_PUBLIC },
		{ "8.8.8.8", ADDR_PUBLIC },
		{ "9.255.255.255", ADDR_PUBLIC },
		{ "10.0.0.0", ADDR_PRIVATE },
		{ "10.255.255.255", ADDR_PRIVATE },
		{ "11.0.0.0", ADDR_PUBLIC },
		{ "100.63.255.255", ADDR_PUBLIC },
		{ "100.64.0.0", ADDR_SHARED },
		{ "100.127.255.255", ADDR_SHARED },
		{ "100.128.0.0", ADDR_PUBLIC },
		{ "126.255.255.255", ADDR_PUBLIC },
		{ "127.0.0.1", ADDR_LOOPBACK },
		{ "127.0.0.0", ADDR_LOOPBACK },
		{ "127.255.255.255", ADDR_LOOPBACK },
		{ "128.0.0.0", ADDR_PUBLIC },
		{ "169.253.255.255", ADDR_PUBLIC },
		{ "169.254.0.0", ADDR_LINK_LOCAL },
		{ "169.254.169.254", ADDR_LINK_LOCAL },
		{ "169.254.255.255", ADDR_LINK_LOCAL },
		{ "169.255.0.0", ADDR_PUBLIC },
		{ "172.15.255.255", ADDR_PUBLIC },
		{ "172.16.0.0", ADDR_PRIVATE },
		{ "172.31.255.255", ADDR_PRIVATE },
		{ "172.32.0.0", ADDR_PUBLIC },
		{ "192.0.0.0", ADDR_RESERVED },
		{ "192.0.0.255", ADDR_RESERVED },
		{ "192.0.1.0", ADDR_PUBLIC },
		{ "192.0.2.1", ADDR_DOCUMENTATION },
		{ "192.0.3.0", ADDR_PUBLIC },
		{ "192.88.99.1", ADDR_RESERVED },
		{ "192.167.255.255", ADDR_PUBLIC },
		{ "192.168.0.0", ADDR_PRIVATE },
		{ "192.168.255.255", ADDR_PRIVATE },
		{ "192.169.0.0", ADDR_PUBLIC },
		{ "198.17.255.255", ADDR_PUBLIC },
		{ "198.18.0.0", ADDR_RESERVED },
		{ "198.19.255.255", ADDR_RESERVED },
		{ "198.20.0.0", ADDR_PUBLIC },
		{ "198.51.100.7", ADDR_DOCUMENTATION },
		{ "203.0.113.9", ADDR_DOCUMENTATION },
		{ "203.0.114.0", ADDR_PUBLIC },
		{ "223.255.255.255", ADDR_PUBLIC },
		{ "224.0.0.0", ADDR_MULTICAST },
		{ "239.255.255.255", ADDR_MULTICAST },
		{ "240.0.0.0", ADDR_RESERVED },
		{ "255.255.255.254", ADDR_RESERVED },
		{ "255.255.255.255", ADDR_BROADCAST },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++)
		is_class(t[i].addr, t[i].class);
}

static void
test_ipv6(void)
{
	static const struct {
		const char	*addr;
		enum addr_class	 class;
	} t[] = {
		{ "::", ADDR_UNSPECIFIED },
		{ "::1", ADDR_LOOPBACK },
		/* IPv4-mapped, -compatible, SIIT, NAT64, 6to4: the IPv4. */
		{ "::ffff:127.0.0.1", ADDR_LOOPBACK },
		{ "::ffff:7f00:1", ADDR_LOOPBACK },
		{ "::ffff:10.0.0.1", ADDR_PRIVATE },
		{ "::ffff:169.254.169.254", ADDR_LINK_LOCAL },
		{ "::ffff:100.64.0.1", ADDR_SHARED },
		{ "::ffff:0.0.0.0", ADDR_UNSPECIFIED },
		{ "::ffff:8.8.8.8", ADDR_PUBLIC },
		{ "::127.0.0.1", ADDR_LOOPBACK },
		{ "::10.1.2.3", ADDR_PRIVATE },
		{ "::2", ADDR_UNSPECIFIED },
		{ "::8.8.8.8", ADDR_PUBLIC },
		{ "::ffff:0:127.0.0.1", ADDR_LOOPBACK },
		{ "::ffff:0:8.8.8.8", ADDR_PUBLIC },
		{ "64:ff9b::10.0.0.1", ADDR_PRIVATE },
		{ "64:ff9b::7f00:1", ADDR_LOOPBACK },
		{ "64:ff9b::8.8.8.8", ADDR_PUBLIC },
		{ "64:ff9b:1::1", ADDR_PRIVATE },
		{ "2002:7f00:1::", ADDR_LOOPBACK },
		{ "2002:a9fe:a9fe::1", ADDR_LINK_LOCAL },
		{ "2002:808:808::1", ADDR_PUBLIC },
		{ "fe80::1", ADDR_LINK_LOCAL },
		{ "fe80::1%lo", ADDR_LINK_LOCAL },
		{ "fe80::1%1", ADDR_LINK_LOCAL },
		{ "febf:ffff::1", ADDR_LINK_LOCAL },
		{ "fec0::1", ADDR_PRIVATE },
		{ "fbff:ffff::1", ADDR_RESERVED },
		{ "fc00::", ADDR_UNIQUE_LOCAL },
		{ "fd12:3456:789a::1", ADDR_UNIQUE_LOCAL },
		{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_UNIQUE_LOCAL },
		{ "fe00::1", ADDR_RESERVED },
		{ "ff02::1", ADDR_MULTICAST },
		{ "ff0e::1", ADDR_MULTICAST },
		{ "2001:db8::1", ADDR_DOCUMENTATION },
		{ "2001:db9::1", ADDR_PUBLIC },
		{ "3fff::1", ADDR_DOCUMENTATION },
		{ "3fff:fff::1", ADDR_DOCUMENTATION },
		{ "3fff:1000::1", ADDR_PUBLIC },
		{ "100::1", ADDR_RESERVED },
		{ "2001::1", ADDR_RESERVED },
		{ "2001:1ff::1", ADDR_RESERVED },
		{ "2001:200::1", ADDR_PUBLIC },
		{ "2001:4860:4860::8888", ADDR_PUBLIC },
		{ "2606:4700:4700::1111", ADDR_PUBLIC },
		{ "1fff:ffff::1", ADDR_RESERVED },
		{ "4000::1", ADDR_RESERVED },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++)
		is_class(t[i].addr, t[i].class);
}

/* The strict forms alone: the other spellings are libcurl's to read. */
static void
test_parse(void)
{
	static const char *bad[] = { "127.1", "2130706433", "0x7f000001",
	    "0177.0.0.1", "127.0.0.1 ", "", "localhost", "::1%", "10.0.0.1%lo",
	    "[::1]", "fe80::1%lo%lo0" };
	struct netaddr	a;
	char		buf[NET_TEXT_MAX];
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		tap_ok(netaddr_parse(&a, bad[i]) == -1, "'%s' is not an "
		    "address here", bad[i]);
	tap_ok(netaddr_parse(&a, "::FFFF:127.0.0.1") == 0, "upper case");
	netaddr_format(&a, buf, sizeof(buf));
	tap_is_str(buf, "::ffff:127.0.0.1", "formatted");
}

static void
test_sockaddr(void)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	struct netaddr		a;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(5432);
	inet_pton(AF_INET, "169.254.169.254", &sin.sin_addr);
	tap_ok(netaddr_from_sockaddr(&a, (struct sockaddr *)&sin,
	    sizeof(sin)) == 0 && addr_classify(&a) == ADDR_LINK_LOCAL,
	    "sockaddr_in: the metadata address is link-local");
	tap_ok(netaddr_from_sockaddr(&a, (struct sockaddr *)&sin,
	    sizeof(sin) - 1) == -1, "sockaddr_in: too short");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_scope_id = 1;
	inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr);
	tap_ok(netaddr_from_sockaddr(&a, (struct sockaddr *)&sin6,
	    sizeof(sin6)) == 0 && addr_classify(&a) == ADDR_LINK_LOCAL,
	    "sockaddr_in6 with a scope: link-local");
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
	tap_ok(netaddr_from_sockaddr(&a, (struct sockaddr *)&sin6,
	    sizeof(sin6)) == 0 && addr_classify(&a) == ADDR_LOOPBACK,
	    "sockaddr_in6, IPv4-mapped loopback");
	sin6.sin6_family = AF_UNIX;
	tap_ok(netaddr_from_sockaddr(&a, (struct sockaddr *)&sin6,
	    sizeof(sin6)) == -1, "another family");
}

static void
net_good(const char *text, const char *want)
{
	struct net	n;
	char		why[256] = "", buf[NET_TEXT_MAX] = "";

	if (net_parse(&n, text, why, sizeof(why)) == 0)
		net_format(&n, buf, sizeof(buf));
	else
		tap_diag("%s", why);
	tap_is_str(buf, want, "network '%s'", text);
}

static void
net_bad(const char *text, const char *want)
{
	struct net	n;
	char		why[256] = "";

	tap_ok(net_parse(&n, text, why, sizeof(why)) == -1, "'%s' refused",
	    text);
	tap_is_str(why, want, "'%s': why", text);
}

static void
test_networks(void)
{
	struct net	n;
	struct netaddr	a;

	net_good("10.0.0.0/8", "10.0.0.0/8");
	net_good("127.0.0.1", "127.0.0.1/32");
	net_good("127.0.0.1/32", "127.0.0.1/32");
	net_good("0.0.0.0/0", "0.0.0.0/0");
	net_good("FD00::/8", "fd00::/8");
	net_good("::1", "::1/128");
	net_good("::/0", "::/0");
	net_good("172.16.0.0/12", "172.16.0.0/12");
	net_bad("10.0.0.0/33", "'10.0.0.0/33': the prefix length must be a "
	    "number from 0 to 32");
	net_bad("fd00::/129", "'fd00::/129': the prefix length must be a "
	    "number from 0 to 128");
	net_bad("10.0.0.0/", "'10.0.0.0/': the prefix length must be a "
	    "number from 0 to 32");
	net_bad("10.0.0.0/08", "'10.0.0.0/08': the prefix length must be a "
	    "number from 0 to 32");
	net_bad("10.0.0.0/+8", "'10.0.0.0/+8': the prefix length must be a "
	    "number from 0 to 32");
	net_bad("10.0.0.0/8/8", "'10.0.0.0/8/8': the prefix length must be "
	    "a number from 0 to 32");
	net_bad("10.0.0.1/8", "'10.0.0.1/8' has bits set after its /8 "
	    "prefix: the network is 10.0.0.0/8 (or write the address alone)");
	net_bad("172.20.1.0/12", "'172.20.1.0/12' has bits set after its "
	    "/12 prefix: the network is 172.16.0.0/12 (or write the address "
	    "alone)");
	net_bad("fd00::1/8", "'fd00::1/8' has bits set after its /8 prefix: "
	    "the network is fd00::/8 (or write the address alone)");
	net_bad("intranet", "'intranet' is not an IPv4 or IPv6 address or "
	    "network");
	net_bad("127.1/32", "'127.1/32' is not an IPv4 or IPv6 address or "
	    "network");
	net_bad("fe80::1%eth0", "'fe80::1%eth0': a network has no zone (%)");

	net_parse(&n, "172.16.0.0/12", NULL, 0);
	netaddr_parse(&a, "172.31.255.255");
	tap_ok(net_contains(&n, &a), "172.16/12 holds 172.31.255.255");
	netaddr_parse(&a, "172.32.0.0");
	tap_ok(!net_contains(&n, &a), "172.16/12 does not hold 172.32.0.0");
	netaddr_parse(&a, "::ffff:172.16.0.1");
	tap_ok(!net_contains(&n, &a), "nor an IPv6 address");
	net_parse(&n, "0.0.0.0/0", NULL, 0);
	netaddr_parse(&a, "255.255.255.255");
	tap_ok(net_contains(&n, &a), "/0 holds everything");
}

static int
allowed(const struct url_allow *allow, const char *text)
{
	struct netaddr	a;

	if (netaddr_parse(&a, text) == -1)
		return -1;
	return url_addr_allowed(&a, allow, NULL);
}

static void
test_allow(void)
{
	static const struct {
		const char	*addr;
		int		 ok;
	} none[] = {
		{ "8.8.8.8", 1 }, { "2606:4700:4700::1111", 1 },
		{ "127.0.0.1", 0 }, { "::1", 0 }, { "::ffff:127.0.0.1", 0 },
		{ "10.0.0.1", 0 }, { "169.254.169.254", 0 }, { "fe80::1%lo", 0 },
		{ "fd00::1", 0 }, { "0.0.0.0", 0 }, { "224.0.0.1", 0 },
		{ "255.255.255.255", 0 }, { "192.0.2.1", 0 },
	}, some[] = {
		{ "8.8.8.8", 1 }, { "10.1.2.3", 1 }, { "::ffff:10.1.2.3", 1 },
		{ "127.0.0.1", 1 }, { "::ffff:127.0.0.1", 1 },
		{ "127.0.0.2", 0 }, { "::1", 0 }, { "fd00::1", 1 },
		{ "fdff::1", 0 }, { "fc00::1", 0 }, { "192.168.1.1", 0 },
		{ "11.0.0.1", 1 },
	};
	struct url_allow	a;
	char			why[256], buf[2048];
	size_t			i;

	tap_ok(url_allow_parse(&a, "", why, sizeof(why)) == 0 && a.n == 0,
	    "an empty list");
	for (i = 0; i < sizeof(none) / sizeof(*none); i++) {
		tap_is_int(allowed(&a, none[i].addr), none[i].ok,
		    "no allow list: %s %s", none[i].addr,
		    none[i].ok ? "allowed" : "refused");
		tap_is_int(allowed(NULL, none[i].addr), none[i].ok,
		    "a NULL list: %s", none[i].addr);
	}
	tap_ok(url_allow_parse(&a, " 10.0.0.0/8,127.0.0.1/32 ,\tfd00::/16, ",
	    why, sizeof(why)) == 0 && a.n == 3, "a list, commas and blanks");
	url_allow_format(&a, buf, sizeof(buf));
	tap_is_str(buf, "10.0.0.0/8, 127.0.0.1/32, fd00::/16",
	    "its canonical text");
	for (i = 0; i < sizeof(some) / sizeof(*some); i++)
		tap_is_int(allowed(&a, some[i].addr), some[i].ok,
		    "allow 10/8, 127.0.0.1, fd00::/16: %s %s", some[i].addr,
		    some[i].ok ? "allowed" : "refused");

	tap_ok(url_allow_parse(&a, "10.0.0.0/8 10.0.0.1/8", why,
	    sizeof(why)) == -1 && strstr(why, "'10.0.0.1/8' has bits") == why,
	    "the first bad one is named");
	buf[0] = '\0';
	for (i = 0; i <= URL_ALLOW_MAX; i++) {
		char	net[32];

		snprintf(net, sizeof(net), "10.%zu.0.0/16 ", i);
		strlcat(buf, net, sizeof(buf));
	}
	tap_ok(url_allow_parse(&a, buf, why, sizeof(why)) == -1,
	    "%d networks are too many", URL_ALLOW_MAX + 1);
	tap_is_str(why, "more than 64 networks", "and it says so");
}

static void
test_user_urls(void)
{
	static const struct {
		const char		*url;
		enum url_verdict	 v;
	} t[] = {
		{ "https://hooks.slack.com/services/T/B/X", URL_OK },
		{ "http://127.0.0.1:8080/h?token=x", URL_OK },
		{ "HTTPS://example.com", URL_OK },
		{ "http://[::1]:80/", URL_OK },
		{ "http://user:pass@example.com/", URL_CREDENTIALS },
		{ "http://user@example.com/", URL_CREDENTIALS },
		{ "http://:pass@example.com/", URL_CREDENTIALS },
		{ "https://a%40b:c@example.com/", URL_CREDENTIALS },
		{ "ftp://example.com/", URL_BAD },
		{ "file:///etc/passwd", URL_BAD },
		{ "gopher://127.0.0.1:6379/_INFO", URL_BAD },
		{ "example.com/hook", URL_BAD },
		{ "http://", URL_BAD },
		{ "http://:80/hook", URL_BAD },
		{ "http://exa mple.com/", URL_BAD },
		{ "http://example.com/\r\nX-Evil: 1", URL_BAD },
		{ "", URL_BAD },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++)
		tap_is_int(url_check_user(t[i].url), t[i].v, "URL %zu: %s", i,
		    t[i].v == URL_OK ? "ok" : t[i].v == URL_BAD ? "bad" :
		    "credentials");
}

int
main(void)
{
	test_ipv4();
	test_ipv6();
	test_parse();
	test_sockaddr();
	test_networks();
	test_allow();
	test_user_urls();
	return tap_done();
}
