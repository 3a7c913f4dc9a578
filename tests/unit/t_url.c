/*
 * URLs and where a user's may lead (common/url.c): the parser, what it
 * takes and the spellings it refuses (those another parser could read
 * as another host), the URL rebuilt from its parts, and libcurl's
 * reading of that URL, which must name the same host and port; every
 * class of address with the edges of its ranges, IPv6 that carries
 * IPv4 judged as the IPv4 inside, zones, sockaddrs as libcurl hands
 * them, networks and lists of them as webhook_allow is written.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "tap.h"
#include "testhooks.h"
#include "url.h"

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

/* --- the parser ----------------------------------------------------- */

static const struct {
	const char	*url;
	const char	*canonical;	/* as the request is sent */
	const char	*host;		/* as url_parse keeps it */
	unsigned int	 port;
} good_urls[] = {
	{ "https://hooks.slack.com/services/T/B/X",
	    "https://hooks.slack.com/services/T/B/X", "hooks.slack.com", 0 },
	{ "HTTPS://Hooks.Slack.COM/services/T/B/X",
	    "https://hooks.slack.com/services/T/B/X", "hooks.slack.com", 0 },
	{ "http://127.0.0.1:8080/h?token=x", "http://127.0.0.1:8080/h?token=x",
	    "127.0.0.1", 8080 },
	{ "http://[::1]:80/", "http://[::1]:80/", "::1", 80 },
	{ "http://[::FFFF:127.0.0.1]", "http://[::ffff:127.0.0.1]",
	    "::ffff:127.0.0.1", 0 },
	{ "https://[2001:DB8:0:0:0:0:0:1]:8443/a",
	    "https://[2001:db8::1]:8443/a", "2001:db8::1", 8443 },
	{ "http://localhost.", "http://localhost.", "localhost.", 0 },
	{ "http://my_app:3000", "http://my_app:3000", "my_app", 3000 },
	{ "http://1password.com/x", "http://1password.com/x",
	    "1password.com", 0 },
	{ "http://cafe.123a", "http://cafe.123a", "cafe.123a", 0 },
	{ "http://10.0.0.1:65535", "http://10.0.0.1:65535", "10.0.0.1",
	    65535 },
	{ "http://h/p?q#frag", "http://h/p?q", "h", 0 },
	{ "http://h?x=1", "http://h?x=1", "h", 0 },
	{ "http://h#", "http://h", "h", 0 },
	{ "http://h/a%20b/%E2%82%AC?x=%2F", "http://h/a%20b/%E2%82%AC?x=%2F",
	    "h", 0 },
	/* An '@' after the authority is the path's, not a user's. */
	{ "https://x.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d",
	    "https://x.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d",
	    "x.webhook.office.com", 0 },
	{ "http://evil.example/@good.example/",
	    "http://evil.example/@good.example/", "evil.example", 0 },
	{ "http://good.example#@evil.example/", "http://good.example",
	    "good.example", 0 },
	{ "http://good.example?@evil.example/",
	    "http://good.example?@evil.example/", "good.example", 0 },
	{ "https://api.telegram.org/bot123:ABC-def_g/sendMessage",
	    "https://api.telegram.org/bot123:ABC-def_g/sendMessage",
	    "api.telegram.org", 0 },
};

static const struct {
	const char	*url;
	enum url_error	 e;
} bad_urls[] = {
	{ "", URL_E_SCHEME },
	{ "ftp://example.com/", URL_E_SCHEME },
	{ "file:///etc/passwd", URL_E_SCHEME },
	{ "gopher://127.0.0.1:6379/_INFO", URL_E_SCHEME },
	{ "javascript:alert(1)", URL_E_SCHEME },
	{ "example.com/hook", URL_E_SCHEME },
	{ "localhost:3000", URL_E_SCHEME },
	{ " http://example.com", URL_E_SCHEME },
	{ "http:example.com", URL_E_SCHEME },
	{ "http:/example.com", URL_E_SCHEME },
	{ "http:\\\\example.com", URL_E_SCHEME },
	{ "http:\\/example.com", URL_E_SCHEME },
	{ "https+unix://example.com", URL_E_SCHEME },
	{ "http://", URL_E_NO_HOST },
	{ "http:///x", URL_E_NO_HOST },
	{ "http://:80/hook", URL_E_NO_HOST },
	{ "http://?x", URL_E_NO_HOST },
	/* A bare IPv6 address: the first colon ends the host. */
	{ "http://::1/", URL_E_NO_HOST },
	{ "http://fe80::1/", URL_E_PORT },
	{ "http://2001:db8::1:80/", URL_E_HOST },
	/* Spellings of an address that resolvers read their own way. */
	{ "http://127.1/", URL_E_HOST },
	{ "http://127.0.1/", URL_E_HOST },
	{ "http://2130706433/", URL_E_HOST },
	{ "http://0x7f000001/", URL_E_HOST },
	{ "http://0x7f.0.0.1/", URL_E_HOST },
	{ "http://0x7F.1/", URL_E_HOST },
	{ "http://0177.0.0.1/", URL_E_HOST },
	{ "http://127.0.0.01/", URL_E_HOST },
	{ "http://127.0.0.1./", URL_E_HOST },
	{ "http://1.2.3.4.5/", URL_E_HOST },
	{ "http://256.0.0.1/", URL_E_HOST },
	{ "http://example.0x/", URL_E_HOST },
	{ "http://example.12/", URL_E_HOST },
	{ "http://[fe80::1%25eth0]/", URL_E_HOST },
	{ "http://[fe80::1%eth0]/", URL_E_HOST },
	{ "http://[::1/", URL_E_HOST },
	{ "http://[::1]x/", URL_E_HOST },
	{ "http://[::1]]/", URL_E_HOST },
	{ "http://[127.0.0.1]/", URL_E_HOST },
	{ "http://[v1.fe80::1]/", URL_E_HOST },
	{ "http://[]/", URL_E_HOST },
	{ "http://[::1:2:3:4:5:6:7:8]/", URL_E_HOST },
	/* What is not a host name, or what another parser would decode. */
	{ "http://exa mple.com/", URL_E_HOST },
	{ "http://ex%61mple.com/", URL_E_HOST },
	{ "http://%31%32%37.0.0.1/", URL_E_HOST },
	{ "http://ex\xc3\xa4mple.com/", URL_E_HOST },
	{ "http://\xef\xbc\x8e/", URL_E_HOST },
	{ "http://evil.example\\.good.example/", URL_E_HOST },
	{ "http://good.example\\evil.example/", URL_E_HOST },
	{ "http://a..b/", URL_E_HOST },
	{ "http://.a/", URL_E_HOST },
	{ "http://a../", URL_E_HOST },
	{ "http://./", URL_E_HOST },
	{ "http://a,b/", URL_E_HOST },
	{ "http://a;b/", URL_E_HOST },
	{ "http://a@b@c/", URL_E_HOST },
	{ "http://a\"b/", URL_E_HOST },
	{ "http://example.com:0/", URL_E_PORT },
	{ "http://example.com:65536/", URL_E_PORT },
	{ "http://example.com:99999/", URL_E_PORT },
	{ "http://example.com:080/", URL_E_PORT },
	{ "http://example.com:/", URL_E_PORT },
	{ "http://example.com:8a/", URL_E_PORT },
	{ "http://example.com:+80/", URL_E_PORT },
	{ "http://example.com:-1/", URL_E_PORT },
	{ "http://example.com:80:80/", URL_E_PORT },
	{ "http://example.com: 80/", URL_E_PORT },
	{ "http://example.com:4294967377/", URL_E_PORT },
	{ "http://example.com/a b", URL_E_CHAR },
	{ "http://example.com/a\\b", URL_E_CHAR },
	{ "http://example.com/a\\..\\b", URL_E_CHAR },
	{ "http://example.com/\xc3\xa4", URL_E_CHAR },
	{ "http://example.com/?q=<x>", URL_E_CHAR },
	{ "http://example.com/?q={x}", URL_E_CHAR },
	{ "http://example.com/?q=a|b", URL_E_CHAR },
	{ "http://example.com/`", URL_E_CHAR },
	{ "http://example.com/^", URL_E_CHAR },
	{ "http://example.com/#a#b", URL_E_CHAR },
	{ "http://example.com/#a b", URL_E_CHAR },
	{ "http://example.com/a%zz", URL_E_PERCENT },
	{ "http://example.com/a%4", URL_E_PERCENT },
	{ "http://example.com/a%", URL_E_PERCENT },
	{ "http://example.com/?%g0", URL_E_PERCENT },
	{ "http://example.com/\r\nX-Evil: 1", URL_E_CONTROL },
	{ "http://example.com/\t", URL_E_CONTROL },
	{ "http://exam\tple.com/", URL_E_CONTROL },
	{ "http://example.com/\x7f", URL_E_CONTROL },
	{ "http://user:pass@example.com/", URL_E_CREDENTIALS },
	{ "http://user@example.com/", URL_E_CREDENTIALS },
	{ "http://:pass@example.com/", URL_E_CREDENTIALS },
	{ "http://@example.com/", URL_E_CREDENTIALS },
	{ "https://a%40b:c@example.com/", URL_E_CREDENTIALS },
	{ "http://example.com:80@evil.example/", URL_E_CREDENTIALS },
	{ "http://good.example\\@evil.example/", URL_E_CREDENTIALS },
};

static void
test_url_good(void)
{
	struct url	 u, again;
	char		*c, *c2, why[256];
	size_t		 i;

	for (i = 0; i < sizeof(good_urls) / sizeof(*good_urls); i++) {
		why[0] = '\0';
		if (!tap_ok(url_parse(&u, good_urls[i].url, why, sizeof(why)) ==
		    URL_E_NONE, "'%s' is taken", good_urls[i].url)) {
			tap_diag("%s", why);
			continue;
		}
		tap_is_str(u.host, good_urls[i].host, "  its host");
		tap_is_int((int)u.port, (int)good_urls[i].port, "  its port");
		c = url_canonical(&u);
		tap_is_str(c != NULL ? c : "(null)", good_urls[i].canonical,
		    "  rebuilt");
		/* The rebuilt URL reads the same, and rebuilds to itself. */
		c2 = NULL;
		tap_ok(c != NULL && url_parse(&again, c, NULL, 0) ==
		    URL_E_NONE && strcmp(again.host, u.host) == 0 &&
		    again.port == u.port && again.https == u.https &&
		    (c2 = url_canonical(&again)) != NULL && strcmp(c, c2) == 0,
		    "  and reads back the same");
		free(c);
		free(c2);
	}
}

static void
test_url_bad(void)
{
	struct url	u;
	size_t		i;
	enum url_error	e;

	for (i = 0; i < sizeof(bad_urls) / sizeof(*bad_urls); i++) {
		e = url_parse(&u, bad_urls[i].url, NULL, 0);
		if (!tap_ok(e == bad_urls[i].e, "bad URL %zu refused, as "
		    "expected", i))
			tap_diag("'%s': got %d, want %d", bad_urls[i].url, e,
			    bad_urls[i].e);
	}
	/* A name's lengths: 63 bytes a label, 253 the name. */
	{
		char	name[300], url[320];

		memset(name, 'a', 63);
		strlcpy(name + 63, ".example", sizeof(name) - 63);
		snprintf(url, sizeof(url), "http://%s/", name);
		tap_is_int(url_parse(&u, url, NULL, 0), URL_E_NONE,
		    "a label of 63 bytes");
		memset(name, 'a', 64);
		strlcpy(name + 64, ".example", sizeof(name) - 64);
		snprintf(url, sizeof(url), "http://%s/", name);
		tap_is_int(url_parse(&u, url, NULL, 0), URL_E_HOST,
		    "a label of 64 bytes");
		for (i = 0; i < 253; i++)
			name[i] = i % 2 == 0 ? 'a' : '.';
		name[253] = '\0';
		snprintf(url, sizeof(url), "http://%s./", name);
		tap_is_int(url_parse(&u, url, NULL, 0), URL_E_NONE,
		    "a name of 253 bytes and its final dot");
		snprintf(url, sizeof(url), "http://a%s/", name);
		tap_is_int(url_parse(&u, url, NULL, 0), URL_E_HOST,
		    "a name of 254 bytes");
	}
}

/* The words of a refusal, as the configuration and the jobrunner say it. */
static void
test_url_why(void)
{
	static const struct {
		const char	*url, *why;
	} t[] = {
		{ "ftp://h", "must be an http:// or https:// URL" },
		{ "http://", "must name a host" },
		{ "http://h\n", "must not contain control characters" },
		{ "http://127.1", "is not a valid URL: bad host (an ASCII name, "
		    "a.b.c.d or [IPv6])" },
		{ "http://h:0", "is not a valid URL: bad port (1 to 65535)" },
		{ "http://h/a b", "is not a valid URL: a space in the path, "
		    "query or fragment (percent-encode it)" },
		{ "http://h/a\\b", "is not a valid URL: '\\' in the path, query "
		    "or fragment (percent-encode it)" },
		{ "http://h/\xc3\xa4", "is not a valid URL: a byte that is not "
		    "ASCII in the path, query or fragment (percent-encode it)" },
		{ "http://h/%", "is not a valid URL: '%' not followed by two "
		    "hex digits" },
		{ "http://u:p@h", "must not hold credentials (the key travels "
		    "in a header)" },
		{ "http://h/x?y", "must not have a query or a fragment (the API "
		    "path is appended to it)" },
		{ "http://h/x#", "must not have a query or a fragment (the API "
		    "path is appended to it)" },
		{ "http://h/x?", "must not have a query or a fragment (the API "
		    "path is appended to it)" },
	};
	char	why[256];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
		why[0] = '\0';
		tap_ok(url_check_app(t[i].url, why, sizeof(why)) == -1,
		    "app_url %zu refused", i);
		tap_is_str(why, t[i].why, "  saying why");
	}
	tap_ok(url_check_app("https://evals.example.com:8443/base", why,
	    sizeof(why)) == 0, "app_url with a port and a path");
}

/*
 * libcurl reads the rebuilt URL as naming the host and port url_parse
 * read, and the URL as written, where it takes it, too: what is checked
 * is what is connected to.
 */
static void
same_for_curl(const char *text, const struct url *u)
{
	CURLU	*cu;
	char	*scheme = NULL, *host = NULL, *port = NULL;
	char	 want[URL_HOST_MAX + 4];
	int	 ok;

	if ((cu = curl_url()) == NULL) {
		tap_ok(0, "curl_url");
		return;
	}
	snprintf(want, sizeof(want), u->ipv6 ? "[%s]" : "%s", u->host);
	ok = curl_url_set(cu, CURLUPART_URL, text, 0) == CURLUE_OK &&
	    curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(cu, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(cu, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK;
	if (!tap_ok(ok && strcmp(scheme, u->https ? "https" : "http") == 0 &&
	    strcasecmp(host, want) == 0 && (unsigned int)atoi(port) ==
	    (u->port != 0 ? u->port : u->https ? 443 : 80),
	    "libcurl reads '%s' as %s port %u", text, want, u->port))
		tap_diag("libcurl: %s %s %s", scheme != NULL ? scheme : "-",
		    host != NULL ? host : "-", port != NULL ? port : "-");
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(cu);
}

static void
test_url_curl(void)
{
	struct url	 u;
	char		*c;
	size_t		 i;

	for (i = 0; i < sizeof(good_urls) / sizeof(*good_urls); i++) {
		if (url_parse(&u, good_urls[i].url, NULL, 0) != URL_E_NONE ||
		    (c = url_canonical(&u)) == NULL)
			continue;
		same_for_curl(c, &u);
		same_for_curl(good_urls[i].url, &u);
		free(c);
	}
}

static void
test_origin(void)
{
	struct url	u;
	char		buf[URL_ORIGIN_MAX];

	url_parse(&u, "HTTPS://u:p@[::FFFF:10.0.0.1]:8443/x?y#z", NULL, 0);
	url_origin(&u, buf, sizeof(buf));
	tap_is_str(buf, "https://[::ffff:10.0.0.1]:8443",
	    "an origin: no credentials, no path");
	url_parse(&u, "http://Hooks.Example", NULL, 0);
	url_origin(&u, buf, sizeof(buf));
	tap_is_str(buf, "http://hooks.example", "an origin without a port");
}

/* --- addresses ------------------------------------------------------ */

/* The strict forms alone: URLs hold no other spelling. */
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
		{ "http://127.1/", URL_BAD },
		{ "http://[fe80::1%25lo]/", URL_BAD },
		{ "http://a@b@c/", URL_BAD },
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
	test_url_good();
	test_url_bad();
	test_url_why();
	test_url_curl();
	test_origin();
	test_ipv4();
	test_ipv6();
	test_parse();
	test_sockaddr();
	test_networks();
	test_allow();
	test_user_urls();
	return tap_done();
}
