// link: jobrunner/addresses.o jobrunner/http.o
/*
 * addresses_masked: the deployment's addresses in an answer, as the
 * schedule's owner must not read them, and the rest of the answer as it
 * came.
 */
#include <stdlib.h>
#include <string.h>

#include "../../jobrunner/jobrunner.h"
#include "tap.h"

static void
check(const char *app_url, const char *in, const char *want,
    const char *what)
{
	char	*s = addresses_masked(in, app_url);

	tap_is_str(s != NULL ? s : "(null)", want, "%s", what);
	free(s);
}

static void
test_app_url(void)
{
	const char	*url = "http://evals.internal:3000";

	check(url, "upstream http://evals.internal:3000/api/batch-testing/run "
	    "did not answer", "upstream [address] did not answer",
	    "the URL, with its path");
	check(url, "<p>evals.internal:3000</p>", "<p>[address]</p>",
	    "the host and port");
	check(url, "Host: EVALS.Internal.", "Host: [address].",
	    "the host in any case, before a full stop");
	check(url, "https://evals.internal/x?y=1 is down", "[address] is down",
	    "another scheme and path");
	check(url, "evals.internals and my.evals.internal stay",
	    "evals.internals and my.evals.internal stay",
	    "a longer name, or another host under it, is not the host");
	check("http://app:3000", "the application app is down: app:3000",
	    "the application [address] is down: [address]",
	    "a short host only where it stands whole");
	check(url, "no address here", "no address here", "text without one");
	check(url, "", "", "the empty text");
}

static void
test_literals(void)
{
	const char	*url = "https://evals.example.com";

	check(url, "connect to 10.0.0.5:3000 failed", "connect to [address] "
	    "failed", "an IPv4 address of another host, with its port");
	check(url, "(http://192.168.1.20/api)", "([address])",
	    "an IPv4 URL, its path up to the parenthesis");
	check(url, "see http://10.1.2.3/health, or 10.1.2.3/x.",
	    "see [address], or [address].",
	    "a path ends before the punctuation after it");
	check(url, "v1.2.3.4 and 1.2.3.4.5 and 256.1.1.1",
	    "v1.2.3.4 and 1.2.3.4.5 and 256.1.1.1",
	    "what only looks like one is left");
	check(url, "at [fd00::5]:8080/x.", "at [address].",
	    "a bracketed IPv6 address");
	check("http://[fd00::7]:3000", "fd00::7 went away",
	    "[address] went away", "app_url's IPv6 address without brackets");
	check(url, "[a:b] [ok]", "[a:b] [ok]", "brackets without an address");
}

static void
test_proxy(void)
{
	setenv("https_proxy", "http://proxy.corp:3128", 1);
	check("https://evals.example.com", "proxy.corp:3128 refused",
	    "[address] refused", "the proxy the environment names");
	setenv("https_proxy", "squid.corp:3128", 1);
	check("https://evals.example.com", "via squid.corp",
	    "via [address]", "a proxy written without its scheme");
	unsetenv("https_proxy");
}

static void
test_growth(void)
{
	char	*in, *want;
	size_t	 i, n = 300;

	in = calloc(n * strlen("a b ") + 1, 1);
	want = calloc(n * strlen("[address] b ") + 1, 1);
	if (in == NULL || want == NULL)
		abort();
	for (i = 0; i < n; i++) {
		strcat(in, "a b ");
		strcat(want, "[address] b ");
	}
	check("http://a", in, want, "masks longer than what they hide");
	free(in);
	free(want);
}

int
main(void)
{
	test_app_url();
	test_literals();
	test_proxy();
	test_growth();
	return tap_done();
}
