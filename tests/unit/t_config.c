/*
 * evalsched.conf(5): defaults, every key, quoting, every kind of bad
 * line with its exact "file:line: message", the environment overrides,
 * the key files, and that neither secret (the service key, the
 * encryption key) ever shows in an error.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"
#include "testhooks.h"

#define KEY	"sk-t_config-very-secret-42"
#define EKEY	"ek-t_config-encryption-key-0123456789abcdef"
#define NAME	"t.conf"

static char	tmpdir[256];

static void
remove_tmpdir(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 p[PATH_MAX];

	if ((d = opendir(tmpdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(tmpdir);
}

/* Writes text into a new temporary file; returns its path (static). */
static const char *
temp_file(const char *text)
{
	static char	path[PATH_MAX];
	int		fd;
	size_t		len = strlen(text);

	snprintf(path, sizeof(path), "%s/conf.XXXXXX", tmpdir);
	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		exit(2);
	}
	if (write(fd, text, len) != (ssize_t)len) {
		perror("write");
		exit(2);
	}
	close(fd);
	return path;
}

/* Every variable the configuration reads: none from whoever runs us. */
static void
clear_env(void)
{
	static const char *const app[] = { "NEXT_PUBLIC_APP_URL",
	    "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_SERVICE_ROLE_KEY_FILE",
	    "ENCRYPTION_KEY", "ENCRYPTION_KEY_FILE", "RESEND_API_KEY",
	    "RESEND_API_KEY_FILE" };
	char	 var[96];
	size_t	 i;

	for (i = 0; i < sizeof(app) / sizeof(app[0]); i++)
		unsetenv(app[i]);
	for (i = 0; i < config_nkeys(); i++) {
		unsetenv(config_env_name(config_key_name(i), var, sizeof(var)));
		strlcat(var, "_FILE", sizeof(var));
		unsetenv(var);
	}
}

/* Parses text from scratch; returns the error count. */
static int
parse(struct config *c, struct config_err *e, const char *text)
{
	config_defaults(c);
	memset(e, 0, sizeof(*e));
	return config_parse_text(c, NAME, text, e);
}


static void
done(struct config *c, struct config_err *e)
{
	config_free(c);
	config_err_free(e);
}

/* One bad line: exactly one error, with exactly this text. */
static void
bad(const char *text, const char *want, const char *what)
{
	struct config		c;
	struct config_err	e;
	char			line[512];
	int			n;

	n = parse(&c, &e, text);
	snprintf(line, sizeof(line), "%s\n", want);
	tap_is_int(n, 1, "%s: one error", what);
	tap_is_str(e.buf, line, "%s: message", what);
	done(&c, &e);
}

/* One good line: no error, and returns nothing; the caller checks c. */
static int
good(struct config *c, const char *text, const char *what)
{
	struct config_err	e;
	int			n;

	n = parse(c, &e, text);
	if (!tap_ok(n == 0, "%s: no error", what))
		tap_diag("%s", e.buf != NULL ? e.buf : "");
	config_err_free(&e);
	return n;
}

static void
test_defaults(void)
{
	struct config	c;
	char		host[256];

	config_defaults(&c);
	tap_is_str(c.database, "", "default database is empty (libpq "
	    "defaults)");
	tap_is_str(c.app_url, "http://localhost:3000", "default app_url");
	tap_ok(c.service_role_key == NULL, "no default service_role_key");
	tap_ok(c.service_role_key_file == NULL,
	    "no default service_role_key_file");
	tap_is_int(c.poll_interval, 60, "default poll_interval");
	tap_is_int(c.max_concurrent, 3, "default max_concurrent");
	tap_is_int(c.max_consecutive_failures, 3,
	    "default max_consecutive_failures");
	tap_is_int(c.run_timeout, 600, "default run_timeout");
	tap_is_int(c.shutdown_grace, 30, "default shutdown_grace");
	tap_is_str(c.jobrunner, LIBEXECDIR "/evalsched-jobrunner",
	    "default jobrunner");
	tap_is_str(c.pidfile, "/run/evalsched-supervisor.pid",
	    "default pidfile");
	tap_ok(c.user == NULL, "no default user");
	tap_is_int(c.lease, 30, "default lease");
	tap_is_int(c.listen, 1, "default listen = yes");
	tap_is_str(c.spool_dir, "/var/lib/evalsched", "default spool_dir");
	tap_is_str(c.tls_ca_file, "", "default tls_ca_file: system store");
	tap_is_int(c.log_debug, 0, "default log_level = info");
	tap_is_str(c.log, "syslog", "default log = syslog");
	tap_ok(c.encryption_key == NULL, "no default encryption_key");
	tap_ok(c.encryption_key_file == NULL, "no default encryption_key_file");
	tap_ok(c.alert_command == NULL, "no default alert_command");
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		tap_is_str(c.node_name, host, "default node_name is the host "
		    "name");
	} else
		tap_ok(c.node_name != NULL, "default node_name set");
	config_free(&c);
}

static void
test_every_key(void)
{
	struct config	c;

	good(&c,
	    "# every key\n"
	    "database = host=/tmp/sock dbname=evals user=ev\n"
	    "app_url = https://evals.example.com:8443/base\n"
	    "service_role_key_file = /etc/evalsched/key\n"
	    "jobrunner = /opt/ev/jobrunner\n"
	    "pidfile = /run/ev.pid\n"
	    "user = evalsched\n"
	    "spool_dir = /var/spool/ev\n"
	    "node_name = node-7\n"
	    "tls_ca_file = /etc/ssl/ca.pem\n"
	    "poll_interval = 15\n"
	    "max_concurrent = 8\n"
	    "max_consecutive_failures = 5\n"
	    "run_timeout = 120\n"
	    "shutdown_grace = 0\n"
	    "lease = 2\n"
	    "listen = no\n"
	    "encryption_key_file = /etc/evalsched/encryption.key\n"
	    "alert_command = /usr/local/bin/page-oncall\n"
	    "log_level = debug\n", "every key");
	tap_is_str(c.database, "host=/tmp/sock dbname=evals user=ev",
	    "database (spaces and '=' kept)");
	tap_is_str(c.app_url, "https://evals.example.com:8443/base",
	    "app_url");
	tap_is_str(c.service_role_key_file, "/etc/evalsched/key",
	    "service_role_key_file");
	tap_is_str(c.jobrunner, "/opt/ev/jobrunner", "jobrunner");
	tap_is_str(c.pidfile, "/run/ev.pid", "pidfile");
	tap_is_str(c.user, "evalsched", "user");
	tap_is_str(c.spool_dir, "/var/spool/ev", "spool_dir");
	tap_is_str(c.node_name, "node-7", "node_name");
	tap_is_str(c.tls_ca_file, "/etc/ssl/ca.pem", "tls_ca_file");
	tap_is_int(c.poll_interval, 15, "poll_interval");
	tap_is_int(c.max_concurrent, 8, "max_concurrent");
	tap_is_int(c.max_consecutive_failures, 5, "max_consecutive_failures");
	tap_is_int(c.run_timeout, 120, "run_timeout");
	tap_is_int(c.shutdown_grace, 0, "shutdown_grace");
	tap_is_int(c.lease, 2, "lease");
	tap_is_int(c.listen, 0, "listen");
	tap_is_int(c.log_debug, 1, "log_level");
	tap_is_str(c.encryption_key_file, "/etc/evalsched/encryption.key",
	    "encryption_key_file");
	tap_is_str(c.alert_command, "/usr/local/bin/page-oncall",
	    "alert_command");
	config_free(&c);

	good(&c, "service_role_key = " KEY "\n", "service_role_key");
	tap_is_str(c.service_role_key, KEY, "service_role_key value");
	config_free(&c);

	/* Booleans and log levels, every spelling. */
	{
		static const struct { const char *v; int want; } b[] = {
			{ "yes", 1 }, { "true", 1 }, { "on", 1 }, { "1", 1 },
			{ "no", 0 }, { "false", 0 }, { "off", 0 }, { "0", 0 },
		};
		char	text[64];
		size_t	i;

		for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
			snprintf(text, sizeof(text), "listen = %s\n", b[i].v);
			good(&c, text, b[i].v);
			tap_is_int(c.listen, b[i].want, "listen = %s",
			    b[i].v);
			config_free(&c);
		}
	}
	good(&c, "log_level = info\n", "log_level = info");
	tap_is_int(c.log_debug, 0, "log_level info");
	config_free(&c);
	good(&c, "log = stderr\n", "log = stderr");
	tap_is_str(c.log, "stderr", "log stderr");
	config_free(&c);
	good(&c, "log = /var/log/evalsched/evalsched.log\n", "log = a file");
	tap_is_str(c.log, "/var/log/evalsched/evalsched.log", "log file");
	config_free(&c);

	/* Range ends are accepted. */
	good(&c, "poll_interval = 86400\nmax_concurrent = 1024\n"
	    "max_consecutive_failures = 1000\nrun_timeout = 86400\n"
	    "shutdown_grace = 3600\nlease = 3600\n", "upper range ends");
	tap_ok(c.poll_interval == 86400 && c.max_concurrent == 1024 &&
	    c.max_consecutive_failures == 1000 && c.run_timeout == 86400 &&
	    c.shutdown_grace == 3600 && c.lease == 3600,
	    "upper range ends set");
	config_free(&c);
	good(&c, "poll_interval = 1\nmax_concurrent = 1\n"
	    "max_consecutive_failures = 1\nrun_timeout = 1\n"
	    "shutdown_grace = 0\nlease = 2\n", "lower range ends");
	tap_ok(c.poll_interval == 1 && c.max_concurrent == 1 &&
	    c.max_consecutive_failures == 1 && c.run_timeout == 1 &&
	    c.shutdown_grace == 0 && c.lease == 2, "lower range ends set");
	config_free(&c);

	/* Blank, comment-only and indented lines; no final newline. */
	good(&c, "\n   \n\t# comment\n  # indented comment\n"
	    "\tpoll_interval\t=\t7\t\n\n" "max_concurrent=2", "layout");
	tap_ok(c.poll_interval == 7 && c.max_concurrent == 2,
	    "tabs, no spaces around '=', no final newline");
	config_free(&c);

	good(&c, "poll_interval = 9\r\n", "CRLF line");
	tap_is_int(c.poll_interval, 9, "CRLF line ending ignored");
	config_free(&c);

	good(&c, "", "empty text");
	tap_is_int(c.poll_interval, 60, "empty text keeps defaults");
	config_free(&c);
}

static void
test_quoting(void)
{
	struct config	c;

	good(&c, "database = \"host=/s dbname=a#b\"\n", "'#' inside quotes");
	tap_is_str(c.database, "host=/s dbname=a#b", "'#' inside quotes "
	    "is kept");
	config_free(&c);

	good(&c, "database = \"a \\\"q\\\" b\\\\c\"\n", "escapes");
	tap_is_str(c.database, "a \"q\" b\\c", "\\\" and \\\\ unescaped");
	config_free(&c);

	good(&c, "database = \"a\\nb\"\n", "other backslash");
	tap_is_str(c.database, "a\\nb", "another backslash is literal");
	config_free(&c);

	good(&c, "user = \"  padded  \"  # trailing comment\n",
	    "quoted, trailing comment");
	tap_is_str(c.user, "  padded  ", "quoted white space is kept");
	config_free(&c);

	good(&c, "user = plain   # trailing comment\n", "trailing comment");
	tap_is_str(c.user, "plain", "trailing comment and blanks dropped");
	config_free(&c);

	good(&c, "user = a#b\n", "unquoted '#'");
	tap_is_str(c.user, "a", "an unquoted '#' starts a comment");
	config_free(&c);

	good(&c, "database = \"\"\n", "empty quoted value");
	tap_is_str(c.database, "", "\"\" is an empty value");
	config_free(&c);

	good(&c, "poll_interval = \"45\"\nlisten = \"off\"\n",
	    "quoted numbers and booleans");
	tap_ok(c.poll_interval == 45 && c.listen == 0,
	    "quoted numbers and booleans are parsed");
	config_free(&c);

	good(&c, "user = \"x\"   \n", "quoted then blanks");
	tap_is_str(c.user, "x", "blanks after the quote");
	config_free(&c);
}

static void
test_app_url(void)
{
	struct config	c;

	good(&c, "app_url = http://localhost:3000/\n", "one slash");
	tap_is_str(c.app_url, "http://localhost:3000", "trailing slash "
	    "stripped");
	config_free(&c);
	good(&c, "app_url = https://h.example/app///\n", "slashes");
	tap_is_str(c.app_url, "https://h.example/app", "trailing slashes "
	    "stripped");
	config_free(&c);
	good(&c, "app_url = http://h\n", "no slash");
	tap_is_str(c.app_url, "http://h", "no trailing slash: unchanged");
	config_free(&c);

	bad("app_url = ftp://h\n", NAME ":1: app_url: 'ftp://h' must be an "
	    "http:// or https:// URL", "ftp URL");
	bad("app_url = localhost:3000\n", NAME ":1: app_url: "
	    "'localhost:3000' must be an http:// or https:// URL",
	    "no scheme");
	bad("app_url = http://\n", NAME ":1: app_url: 'http://' must name a "
	    "host", "scheme alone");
	bad("app_url = \"http://exa mple.com\"\n", NAME ":1: app_url: "
	    "'http://exa mple.com' is not a valid URL: bad host (an ASCII "
	    "name, a.b.c.d or [IPv6])", "a space in the host");
	bad("app_url = http://h.example:99999\n", NAME ":1: app_url: "
	    "'http://h.example:99999' is not a valid URL: bad port (1 to "
	    "65535)", "a port out of range");
	bad("app_url = \"http://h.example/a b\"\n", NAME ":1: app_url: "
	    "'http://h.example/a b' is not a valid URL: a space in the path, "
	    "query or fragment (percent-encode it)", "a space in the path");
	bad("app_url = http://127.1:3000\n", NAME ":1: app_url: "
	    "'http://127.1:3000' is not a valid URL: bad host (an ASCII "
	    "name, a.b.c.d or [IPv6])", "an IPv4 address in short form");
	bad("app_url = http://u:S3cret@h.example\n", NAME ":1: app_url: "
	    "must not hold credentials (the key travels in a header)",
	    "credentials, not echoed");
	bad("telegram_api_url = https://u:S3cret@h.example\n", NAME ":1: "
	    "telegram_api_url: must not hold credentials (the key travels in "
	    "a header)", "credentials in another URL, not echoed");
	bad("app_url = http://h.example/app?x=1\n", NAME ":1: app_url: "
	    "'http://h.example/app?x=1' must not have a query or a fragment "
	    "(the API path is appended to it)", "a query");

	/* A URL with no host must not become "http:". */
	{
		struct config_err	e;
		int			n;

		n = parse(&c, &e, "app_url = http:///\n");
		tap_ok(n == 1, "app_url = http:/// (no host) is rejected");
		if (n == 0)
			tap_diag("app_url became '%s'", c.app_url);
		done(&c, &e);
	}
}

static void
test_bad_lines(void)
{
	bad("nosuchkey = 1\n", NAME ":1: unknown key 'nosuchkey'",
	    "unknown key");
	bad("\n# c\nPoll_Interval = 5\n", NAME ":3: unknown key "
	    "'Poll_Interval'", "keys are case-sensitive");
	bad("poll_interval 5\n", NAME ":1: expected '=' after the key",
	    "missing '='");
	bad("poll_interval\n", NAME ":1: expected '=' after the key",
	    "key alone");
	bad("app-url = http://h\n", NAME ":1: expected '=' after the key",
	    "'-' in a key name");
	bad("= 5\n", NAME ":1: expected a key name", "no key");
	bad("\"user\" = x\n", NAME ":1: expected a key name", "quoted key");
	bad("user =\n", NAME ":1: missing value (use \"\" for an empty one)",
	    "missing value");
	bad("user =    # only a comment\n", NAME ":1: missing value (use \"\" "
	    "for an empty one)", "comment instead of a value");
	bad("user = \"abc\n", NAME ":1: unterminated quoted value",
	    "unterminated quote");
	bad("user = \"abc\\\"\n", NAME ":1: unterminated quoted value",
	    "escaped closing quote");
	bad("user = \"abc\" def\n", NAME ":1: unexpected text after the "
	    "quoted value", "text after the quoted value");
	bad("user = \"a\"\"b\"\n", NAME ":1: unexpected text after the "
	    "quoted value", "two quoted strings");
	bad("poll_interval = 5\nuser = x\npoll_interval = 6\n",
	    NAME ":3: duplicate key 'poll_interval' (first set on line 1)",
	    "duplicate key");
	bad("listen = maybe\n", NAME ":1: listen: 'maybe' must be yes or no",
	    "bad bool");
	bad("log_level = trace\n", NAME ":1: log_level: 'trace' must be info "
	    "or debug", "bad log level");
	bad("log = evalsched.log\n", NAME ":1: log: 'evalsched.log' must be "
	    "syslog, stderr or an absolute path", "a relative log file");

	/* Every numeric key: below, above, and not a number. */
	{
		static const struct {
			const char	*key;
			long		 min, max;
			int		 seconds;
		} n[] = {
			{ "poll_interval", 1, 86400, 1 },
			{ "max_concurrent", 1, 1024, 0 },
			{ "max_consecutive_failures", 1, 1000, 0 },
			{ "run_timeout", 1, 86400, 1 },
			{ "shutdown_grace", 0, 3600, 1 },
			{ "lease", 2, 3600, 1 },
		};
		static const char *junk[] = { "x", "-1", "+5", "5s", "1e3",
		    "0x10", "5 5", "99999999999999999999" };
		char	text[128], want[256], val[64];
		size_t	i, j;

		for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
			for (j = 0; j < 2 + sizeof(junk) / sizeof(junk[0]);
			    j++) {
				if (j == 0)
					snprintf(val, sizeof(val), "%ld",
					    n[i].min - 1);
				else if (j == 1)
					snprintf(val, sizeof(val), "%ld",
					    n[i].max + 1);
				else
					snprintf(val, sizeof(val), "%s",
					    junk[j - 2]);
				snprintf(text, sizeof(text), "%s = %s\n",
				    n[i].key, val);
				snprintf(want, sizeof(want), NAME ":1: %s: '%s' "
				    "must be a whole number%s from %ld to %ld",
				    n[i].key, val, n[i].seconds ?
				    " of seconds" : "", n[i].min, n[i].max);
				snprintf(val + strlen(val), sizeof(val) -
				    strlen(val), " for %s", n[i].key);
				bad(text, want, val);
			}
		}
	}
}

static void
test_many_errors(void)
{
	struct config		c;
	struct config_err	e;
	int			n;

	n = parse(&c, &e,
	    "poll_interval = 0\n"		/* 1 */
	    "# fine\n"				/* 2 */
	    "bogus = 1\n"			/* 3 */
	    "max_concurrent = 4\n"		/* 4: good */
	    "user \"x\"\n"			/* 5 */
	    "user = \"x\n"			/* 6 */
	    "max_concurrent = 5\n"		/* 7 */
	    "listen = sometimes\n"		/* 8 */
	    "pidfile =\n");			/* 9 */
	tap_is_int(n, 7, "seven bad lines, seven errors");
	tap_is_int(e.count, 7, "err.count agrees");
	tap_is_str(e.buf,
	    NAME ":1: poll_interval: '0' must be a whole number of seconds "
	    "from 1 to 86400\n"
	    NAME ":3: unknown key 'bogus'\n"
	    NAME ":5: expected '=' after the key\n"
	    NAME ":6: unterminated quoted value\n"
	    NAME ":7: duplicate key 'max_concurrent' (first set on line 4)\n"
	    NAME ":8: listen: 'sometimes' must be yes or no\n"
	    NAME ":9: missing value (use \"\" for an empty one)\n",
	    "every error, in line order");
	tap_is_int(c.max_concurrent, 4, "the good line between still counts");
	tap_is_int(c.poll_interval, 60, "a bad value leaves the default");
	done(&c, &e);
}

/* "first set on line N" for a key first set past line 255. */
static void
test_duplicate_far(void)
{
	struct config		c;
	struct config_err	e;
	const char		*want;
	char			*text, *p;
	int			 i;

	if ((text = malloc(300 * 4 + 64)) == NULL)
		exit(2);
	for (p = text, i = 1; i < 300; i++)
		p += sprintf(p, "#\n");
	sprintf(p, "user = a\nuser = b\n");		/* lines 300, 301 */
	parse(&c, &e, text);
	want = NAME ":301: duplicate key 'user' (first set on line 300)\n";
	if (!tap_ok(e.buf != NULL && strcmp(e.buf, want) == 0,
	    "a duplicate names its first line past line 255"))
		tap_diag("got '%s', want '%s'", e.buf ? e.buf : "(null)", want);
	done(&c, &e);
	free(text);
}

/* Loads the file at path via config_load, from scratch. */
static int
load_path(struct config *c, struct config_err *e, const char *path)
{
	config_defaults(c);
	memset(e, 0, sizeof(*e));
	return config_load(c, path, e);
}

/* Loads a config file's text via config_load; path in *path. */
static int
load(struct config *c, struct config_err *e, const char *text,
    const char **path)
{
	const char	*p = temp_file(text);

	if (path != NULL)
		*path = p;
	return load_path(c, e, p);
}

/* Loads a config file that names kp as its key file. */
static int
load_key_file(struct config *c, struct config_err *e, const char *kp,
    const char **path)
{
	char	text[PATH_MAX + 64];

	snprintf(text, sizeof(text), "service_role_key_file = %s\n", kp);
	return load(c, e, text, path);
}

static void
test_env(void)
{
	struct config		c;
	struct config_err	e;
	int			n;

	setenv("EVALSCHED_DATABASE", "host=/env/sock dbname=envdb", 1);
	n = load(&c, &e, "database = host=/file\n", NULL);
	tap_is_int(n, 0, "EVALSCHED_DATABASE: no error");
	tap_is_str(c.database, "host=/env/sock dbname=envdb",
	    "EVALSCHED_DATABASE overrides the file");
	done(&c, &e);
	unsetenv("EVALSCHED_DATABASE");

	setenv("NEXT_PUBLIC_APP_URL", "https://env.example:8080/", 1);
	n = load(&c, &e, "app_url = http://file.example\n", NULL);
	tap_is_int(n, 0, "NEXT_PUBLIC_APP_URL: no error");
	tap_is_str(c.app_url, "https://env.example:8080",
	    "NEXT_PUBLIC_APP_URL overrides the file, slash stripped");
	done(&c, &e);

	setenv("NEXT_PUBLIC_APP_URL", "", 1);
	n = load(&c, &e, "app_url = http://file.example\n", NULL);
	tap_is_str(c.app_url, "http://file.example",
	    "an empty NEXT_PUBLIC_APP_URL is ignored");
	done(&c, &e);

	setenv("NEXT_PUBLIC_APP_URL", "ftp://env.example", 1);
	n = load(&c, &e, "app_url = http://file.example\n", NULL);
	tap_is_int(n, 1, "a bad NEXT_PUBLIC_APP_URL is an error");
	tap_is_str(e.buf, "environment: NEXT_PUBLIC_APP_URL: "
	    "'ftp://env.example' must be an http:// or https:// URL\n",
	    "bad NEXT_PUBLIC_APP_URL: message");
	tap_is_str(c.app_url, "http://file.example",
	    "a bad NEXT_PUBLIC_APP_URL leaves the file's");
	done(&c, &e);
	unsetenv("NEXT_PUBLIC_APP_URL");

	/* config_apply_env alone, on defaults. */
	config_defaults(&c);
	memset(&e, 0, sizeof(e));
	setenv("NEXT_PUBLIC_APP_URL", "http://direct", 1);
	tap_is_int(config_apply_env(&c, &e), 0, "config_apply_env: 0");
	tap_is_str(c.app_url, "http://direct", "config_apply_env sets it");
	done(&c, &e);
	unsetenv("NEXT_PUBLIC_APP_URL");

	setenv("SUPABASE_SERVICE_ROLE_KEY", "env-" KEY, 1);
	n = load(&c, &e, "service_role_key = " KEY "\n", NULL);
	tap_is_int(n, 0, "SUPABASE_SERVICE_ROLE_KEY: no error");
	tap_is_str(c.service_role_key, "env-" KEY,
	    "SUPABASE_SERVICE_ROLE_KEY overrides the file's key");
	done(&c, &e);

	n = load(&c, &e, "service_role_key_file = /nonexistent/evalsched/key\n",
	    NULL);
	tap_is_int(n, 0, "SUPABASE_SERVICE_ROLE_KEY: the key file is "
	    "not read");
	tap_is_str(c.service_role_key, "env-" KEY,
	    "SUPABASE_SERVICE_ROLE_KEY overrides service_role_key_file");
	tap_ok(c.service_role_key_file == NULL, "and clears the file name");
	done(&c, &e);

	setenv("SUPABASE_SERVICE_ROLE_KEY", "", 1);
	n = load(&c, &e, "service_role_key = " KEY "\n", NULL);
	tap_is_str(c.service_role_key, KEY,
	    "an empty SUPABASE_SERVICE_ROLE_KEY is ignored");
	done(&c, &e);
	unsetenv("SUPABASE_SERVICE_ROLE_KEY");
}

/*
 * Every key from EVALSCHED_ and its name in capitals, over the file, and
 * checked as a line of it is; keys added later are in the table walked.
 */
static void
test_env_every_key(void)
{
	struct config		c;
	struct config_err	e;
	char			var[96], buf[64], where[CONFIG_WHERE_MAX];
	const char		*v;
	size_t			i, named = 0;
	int			n;

	tap_is_str(config_env_name("max_concurrent", var, sizeof(var)),
	    "EVALSCHED_MAX_CONCURRENT", "the variable of a key");
	setenv("EVALSCHED_POLL_INTERVAL", "7", 1);
	setenv("EVALSCHED_LISTEN", "no", 1);
	setenv("EVALSCHED_LOG_LEVEL", "debug", 1);
	setenv("EVALSCHED_NODE_NAME", "env-node", 1);
	setenv("EVALSCHED_WEBHOOK_ALLOW", "10.1.2.3", 1);
	setenv("EVALSCHED_APP_URL", "https://ours.example/", 1);
	setenv("NEXT_PUBLIC_APP_URL", "https://theirs.example", 1);
	n = load(&c, &e, "poll_interval = 5\nlisten = yes\n", NULL);
	tap_is_int(n, 0, "EVALSCHED_ variables: no error");
	tap_is_int(c.poll_interval, 7, "EVALSCHED_POLL_INTERVAL overrides the "
	    "file");
	tap_is_int(c.listen, 0, "EVALSCHED_LISTEN: a boolean");
	tap_is_int(c.log_debug, 1, "EVALSCHED_LOG_LEVEL");
	tap_is_str(c.node_name, "env-node", "EVALSCHED_NODE_NAME");
	tap_is_str(c.webhook_allow, "10.1.2.3/32", "EVALSCHED_WEBHOOK_ALLOW, "
	    "canonical as from a file");
	tap_is_str(c.app_url, "https://ours.example", "EVALSCHED_APP_URL wins "
	    "over NEXT_PUBLIC_APP_URL");
	tap_is_str(config_where(&c, "poll_interval", where, sizeof(where)),
	    "environment: EVALSCHED_POLL_INTERVAL", "config_where names it");
	for (i = 0; i < config_nkeys(); i++)
		if (strcmp(config_key_name(i), "poll_interval") == 0)
			tap_is_str(config_origin(&c, i, where, sizeof(where)),
			    "environment: EVALSCHED_POLL_INTERVAL",
			    "config_origin too");
	done(&c, &e);
	clear_env();

	/* Compose's "KEY: ${KEY}" with KEY unset: empty changes nothing. */
	setenv("EVALSCHED_POLL_INTERVAL", "", 1);
	setenv("EVALSCHED_SERVICE_ROLE_KEY_FILE", "", 1);
	n = load(&c, &e, "poll_interval = 5\nservice_role_key = " KEY "\n",
	    NULL);
	tap_is_int(n, 0, "empty variables: no error");
	tap_is_int(c.poll_interval, 5, "an empty EVALSCHED_POLL_INTERVAL is "
	    "not set");
	tap_is_str(c.service_role_key, KEY, "nor an empty _FILE");
	done(&c, &e);
	clear_env();

	setenv("EVALSCHED_POLL_INTERVAL", "0", 1);
	setenv("EVALSCHED_LISTEN", "maybe", 1);
	setenv("EVALSCHED_BOGUS", "1", 1);
	n = load(&c, &e, "poll_interval = 5\n", NULL);
	tap_is_int(n, 2, "two bad variables: two errors");
	tap_is_str(e.buf, "environment: EVALSCHED_POLL_INTERVAL: '0' must be a "
	    "whole number of seconds from 1 to 86400\n"
	    "environment: EVALSCHED_LISTEN: 'maybe' must be yes or no\n",
	    "each named by its variable, in the manual's words; an unknown "
	    "EVALSCHED_ variable is none of ours");
	tap_is_int(c.poll_interval, 5, "a bad variable leaves the file's");
	done(&c, &e);
	clear_env();

	setenv("EVALSCHED_WEBHOOK_ALLOW", "10.0.0.1/8", 1);
	n = load(&c, &e, "", NULL);
	tap_is_str(e.buf, "environment: EVALSCHED_WEBHOOK_ALLOW: '10.0.0.1/8' "
	    "has bits set after its /8 prefix: the network is 10.0.0.0/8 (or "
	    "write the address alone)\n", "a list names its bad item alone");
	done(&c, &e);
	clear_env();

	/* Every key of the table, set to its default, is taken as such. */
	config_defaults(&c);
	for (i = 0; i < config_nkeys(); i++) {
		if (config_key_secret(i) ||
		    (v = config_value(&c, i, buf, sizeof(buf))) == NULL ||
		    *v == '\0')
			continue;
		setenv(config_env_name(config_key_name(i), var, sizeof(var)),
		    v, 1);
		named++;
	}
	config_free(&c);
	n = load(&c, &e, "", NULL);
	tap_is_int(n, 0, "every key's variable, at its default: no error");
	for (i = 0, n = 0; i < config_nkeys(); i++)
		n += c.env[i] != NULL;
	tap_is_int(n, (int)named, "... and each one taken (%zu)", named);
	done(&c, &e);
	clear_env();
}

/*
 * The secrets: the value or a file of it, as the PostgreSQL image's
 * POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE; ours over the
 * application's names; both of one name an error; never echoed.
 */
static void
test_env_secrets(void)
{
	struct config		c;
	struct config_err	e;
	char			kp[PATH_MAX], where[CONFIG_WHERE_MAX];
	size_t			i;
	int			n;

	snprintf(kp, sizeof(kp), "%s", temp_file("file-" KEY "\n"));
	setenv("EVALSCHED_SERVICE_ROLE_KEY_FILE", kp, 1);
	setenv("SUPABASE_SERVICE_ROLE_KEY", "app-" KEY, 1);
	n = load(&c, &e, "service_role_key = " KEY "\n", NULL);
	tap_is_int(n, 0, "EVALSCHED_SERVICE_ROLE_KEY_FILE: no error");
	tap_is_str(c.service_role_key, "file-" KEY, "the key read from it, "
	    "over the application's variable and the file's line");
	tap_is_str(c.service_role_key_file, kp, "service_role_key_file is it");
	tap_is_str(config_where(&c, "service_role_key", where, sizeof(where)),
	    "environment: EVALSCHED_SERVICE_ROLE_KEY_FILE",
	    "config_where: the key came from the _FILE variable");
	for (i = 0; i < config_nkeys(); i++)
		if (strcmp(config_key_name(i), "service_role_key") == 0)
			tap_ok(config_key_secret(i), "service_role_key is a "
			    "secret");
	done(&c, &e);
	clear_env();

	setenv("SUPABASE_SERVICE_ROLE_KEY_FILE", kp, 1);
	n = load(&c, &e, "", NULL);
	tap_is_str(c.service_role_key, "file-" KEY,
	    "SUPABASE_SERVICE_ROLE_KEY_FILE, the application's name as a file");
	done(&c, &e);
	clear_env();

	setenv("ENCRYPTION_KEY_FILE", kp, 1);
	setenv("EVALSCHED_ENCRYPTION_KEY", "ours-" EKEY, 1);
	n = load(&c, &e, "service_role_key = " KEY "\n", NULL);
	tap_is_str(c.encryption_key, "ours-" EKEY, "EVALSCHED_ENCRYPTION_KEY "
	    "over ENCRYPTION_KEY_FILE");
	tap_ok(c.encryption_key_file == NULL, "... whose file is not named");
	done(&c, &e);
	clear_env();

	setenv("EVALSCHED_SERVICE_ROLE_KEY", KEY, 1);
	setenv("EVALSCHED_SERVICE_ROLE_KEY_FILE", kp, 1);
	n = load(&c, &e, "", NULL);
	tap_is_int(n, 1, "a secret and its _FILE both set: an error");
	tap_is_str(e.buf, "environment: set EVALSCHED_SERVICE_ROLE_KEY or "
	    "EVALSCHED_SERVICE_ROLE_KEY_FILE, not both\n", "... saying so");
	tap_ok(strstr(e.buf, KEY) == NULL, "... without the key");
	done(&c, &e);
	clear_env();

	setenv("ENCRYPTION_KEY_FILE", "/nonexistent/evalsched/ekey", 1);
	n = load(&c, &e, "service_role_key = " KEY "\n", NULL);
	tap_is_int(n, 1, "a _FILE that cannot be read: an error");
	tap_is_str(e.buf, "environment: ENCRYPTION_KEY_FILE: encryption_key_file"
	    ": /nonexistent/evalsched/ekey: No such file or directory\n",
	    "... named by its variable");
	done(&c, &e);
	clear_env();
	unlink(kp);
}

static void
test_key_file(void)
{
	struct config		c;
	struct config_err	e;
	const char		*conf;
	char			kp[PATH_MAX], text[PATH_MAX + 64], want[3 * PATH_MAX];
	int			n;

	snprintf(kp, sizeof(kp), "%s", temp_file(" \t" KEY "  \r\nsecond\n"));
	n = load_key_file(&c, &e, kp, NULL);
	tap_is_int(n, 0, "key file: no error");
	tap_is_str(c.service_role_key, KEY, "key file: first line, trimmed");
	done(&c, &e);
	unlink(kp);

	snprintf(kp, sizeof(kp), "%s", temp_file(KEY));
	snprintf(text, sizeof(text), "service_role_key_file = \"%s\"\n", kp);
	n = load(&c, &e, text, NULL);
	tap_is_str(c.service_role_key, KEY, "key file without a newline");
	done(&c, &e);
	unlink(kp);

	snprintf(kp, sizeof(kp), "%s/no-such-key", tmpdir);
	n = load_key_file(&c, &e, kp, &conf);
	snprintf(want, sizeof(want), "%s: service_role_key_file: %s: %s\n",
	    conf, kp, strerror(ENOENT));
	tap_is_int(n, 1, "missing key file: one error");
	tap_is_str(e.buf, want, "missing key file: message");
	tap_ok(c.service_role_key == NULL, "missing key file: no key");
	done(&c, &e);
	unlink(conf);

	snprintf(kp, sizeof(kp), "%s", temp_file(""));
	n = load_key_file(&c, &e, kp, &conf);
	snprintf(want, sizeof(want), "%s: service_role_key_file: %s: the file "
	    "is empty\n", conf, kp);
	tap_is_int(n, 1, "empty key file: one error");
	tap_is_str(e.buf, want, "empty key file: message");
	done(&c, &e);
	unlink(conf);
	unlink(kp);

	snprintf(kp, sizeof(kp), "%s", temp_file("  \n\n" KEY "\n"));
	n = load_key_file(&c, &e, kp, &conf);
	tap_is_int(n, 0, "a key after blank lines: no error");
	tap_is_str(c.service_role_key, KEY, "leading blank lines skipped");
	done(&c, &e);
	unlink(conf);
	unlink(kp);

	snprintf(kp, sizeof(kp), "%s", temp_file(" \t \r\n"));
	n = load_key_file(&c, &e, kp, &conf);
	snprintf(want, sizeof(want), "%s: service_role_key_file: %s: the file "
	    "is empty\n", conf, kp);
	tap_is_str(e.buf, want, "white-space-only key file is empty");
	done(&c, &e);
	unlink(conf);
	unlink(kp);

	/* Both set: an error from the parser and from config_load. */
	{
		n = parse(&c, &e, "service_role_key = " KEY "\n"
		    "service_role_key_file = /k\n");
		tap_is_int(n, 1, "key and key file: one error");
		tap_is_str(e.buf, NAME ": set service_role_key or "
		    "service_role_key_file, not both\n",
		    "key and key file: message");
		done(&c, &e);

		n = load(&c, &e, "service_role_key_file = /k\n"
		    "service_role_key = \"" KEY "\"\n", &conf);
		snprintf(want, sizeof(want), "%s: set service_role_key or "
		    "service_role_key_file, not both\n", conf);
		tap_is_str(e.buf, want, "key and key file via config_load");
		done(&c, &e);
		unlink(conf);
	}
}

static void
test_load_paths(void)
{
	struct config		c;
	struct config_err	e;
	const char		*conf;
	char			 p[PATH_MAX], want[2 * PATH_MAX];
	int			 n;

	n = load(&c, &e, "poll_interval = 5\nmax_concurrent = 0\n", &conf);
	snprintf(want, sizeof(want), "%s:2: max_concurrent: '0' must be a "
	    "whole number from 1 to 1024\n", conf);
	tap_is_int(n, 1, "config_load: a file with a bad line");
	tap_is_str(e.buf, want, "config_load names the file it read");
	tap_is_str(c.path, conf, "c.path is the file read");
	tap_is_int(c.poll_interval, 5, "config_load: good lines applied");
	done(&c, &e);
	unlink(conf);

	snprintf(p, sizeof(p), "%s/missing.conf", tmpdir);
	n = load_path(&c, &e, p);
	snprintf(want, sizeof(want), "%s: %s\n", p, strerror(ENOENT));
	tap_is_int(n, 1, "a missing -c file is an error");
	tap_is_str(e.buf, want, "missing -c file: message");
	done(&c, &e);

	n = load_path(&c, &e, tmpdir);
	snprintf(want, sizeof(want), "%s: %s\n", tmpdir, strerror(EISDIR));
	tap_is_int(n, 1, "a directory as the file is an error");
	tap_is_str(e.buf, want, "directory: message");
	done(&c, &e);

	n = load(&c, &e, "poll_interval = 5\n", &conf);
	{
		FILE *f = fopen(conf, "a");

		fputs("user = a", f);
		fputc('\0', f);
		fputs("b\n", f);
		fclose(f);
	}
	done(&c, &e);
	n = load_path(&c, &e, conf);
	snprintf(want, sizeof(want), "%s: %s\n", conf, strerror(EILSEQ));
	tap_is_int(n, 1, "a NUL byte in the file is an error");
	tap_is_str(e.buf, want, "NUL byte: message");
	done(&c, &e);
	unlink(conf);

	if (access(CONFIG_DEFAULT_PATH, F_OK) == 0) {
		tap_ok(1, "# SKIP " CONFIG_DEFAULT_PATH " exists here");
		tap_ok(1, "# SKIP " CONFIG_DEFAULT_PATH " exists here");
		tap_ok(1, "# SKIP " CONFIG_DEFAULT_PATH " exists here");
	} else {
		setenv("NEXT_PUBLIC_APP_URL", "http://only-env", 1);
		n = load_path(&c, &e, NULL);
		unsetenv("NEXT_PUBLIC_APP_URL");
		tap_is_int(n, 0, "a missing default file is not an error");
		tap_is_str(c.path, CONFIG_DEFAULT_PATH,
		    "c.path is the default path");
		tap_is_str(c.app_url, "http://only-env",
		    "without a file the environment still applies");
		done(&c, &e);
	}
}

static void
test_require_key(void)
{
	struct config		c;
	struct config_err	e;
	const char		*conf;
	char			 want[PATH_MAX + 256];

	load(&c, &e, "poll_interval = 5\n", &conf);
	tap_is_int(config_require_key(&c, &e), 1, "no key: required");
	snprintf(want, sizeof(want), "%s: no service role key: set "
	    "service_role_key_file (or service_role_key), or "
	    "SUPABASE_SERVICE_ROLE_KEY (or EVALSCHED_SERVICE_ROLE_KEY_FILE) in "
	    "the environment\n", conf);
	tap_is_str(e.buf, want, "no key: message");
	done(&c, &e);
	unlink(conf);

	load(&c, &e, "service_role_key = \"\"\n", &conf);
	tap_is_int(config_require_key(&c, &e), 1, "an empty key is no key");
	done(&c, &e);
	unlink(conf);

	load(&c, &e, "service_role_key = " KEY "\n", &conf);
	tap_is_int(config_require_key(&c, &e), 0, "a key: fine");
	tap_is_int(e.count, 0, "a key: no error added");
	done(&c, &e);
	unlink(conf);

	setenv("SUPABASE_SERVICE_ROLE_KEY", KEY, 1);
	load(&c, &e, "poll_interval = 5\n", &conf);
	tap_is_int(config_require_key(&c, &e), 0,
	    "a key from the environment: fine");
	done(&c, &e);
	unlink(conf);
	unsetenv("SUPABASE_SERVICE_ROLE_KEY");
}

/* The key's value never shows in an error, whatever the mistake. */
static void
test_secret(void)
{
	static const char *texts[] = {
		"service_role_key = \"" KEY "\n",
		"service_role_key = \"" KEY "\" trailing\n",
		"service_role_key " KEY "\n",
		"service_role_key : " KEY "\n",
		"service_role_key = " KEY "\nservice_role_key = " KEY "\n",
		"service_role_key = " KEY "\nservice_role_key_file = /k\n",
		"service_role_key = \"" KEY "\" \"" KEY "\"\n",
		"service_role_key = \"" KEY "\\\"\n",
	};
	struct config		c;
	struct config_err	e;
	const char		*conf;
	char			 kp[PATH_MAX];
	size_t			 i;
	int			 n;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		n = parse(&c, &e, texts[i]);
		tap_ok(n > 0 && strstr(e.buf, KEY) == NULL,
		    "bad key line %zu: an error without the key", i + 1);
		if (n > 0 && strstr(e.buf, KEY) != NULL)
			tap_diag("leaked in: %s", e.buf);
		done(&c, &e);
	}

	/* Through config_load, with the key from file, env and key file. */
	setenv("SUPABASE_SERVICE_ROLE_KEY", KEY, 1);
	setenv("NEXT_PUBLIC_APP_URL", "gopher://x", 1);
	n = load(&c, &e, "bogus = 1\n", &conf);
	tap_ok(n == 2 && strstr(e.buf, KEY) == NULL,
	    "key in the environment, other errors: not shown");
	done(&c, &e);
	unlink(conf);
	unsetenv("NEXT_PUBLIC_APP_URL");
	unsetenv("SUPABASE_SERVICE_ROLE_KEY");

	snprintf(kp, sizeof(kp), "%s", temp_file(KEY "\n"));
	{
		FILE *f = fopen(kp, "a");

		fputc('\0', f);
		fclose(f);
	}
	n = load_key_file(&c, &e, kp, &conf);
	tap_ok(n == 1 && strstr(e.buf, KEY) == NULL,
	    "unreadable key file: the error does not show its content");
	done(&c, &e);
	unlink(conf);
	unlink(kp);

	load(&c, &e, "service_role_key = \"\"\n", &conf);
	config_require_key(&c, &e);
	tap_ok(strstr(e.buf, KEY) == NULL, "config_require_key: no key text");
	done(&c, &e);
	unlink(conf);
}

/* encryption_key: a secret as the service key is, with its own file and env. */
static void
test_encryption_key(void)
{
	struct config		c;
	struct config_err	e;
	const char		*conf;
	char			 kp[PATH_MAX], text[PATH_MAX + 64];
	char			 want[3 * PATH_MAX];
	int			 n;

	good(&c, "encryption_key = \"" EKEY "\"\n", "encryption_key");
	tap_is_str(c.encryption_key, EKEY, "encryption_key value");
	config_free(&c);

	snprintf(kp, sizeof(kp), "%s", temp_file("\n  " EKEY " \t\nnext\n"));
	snprintf(text, sizeof(text), "encryption_key_file = %s\n", kp);
	n = load(&c, &e, text, &conf);
	tap_is_int(n, 0, "encryption_key_file: no error");
	tap_is_str(c.encryption_key, EKEY,
	    "encryption_key_file: its first line, trimmed");
	done(&c, &e);
	unlink(conf);

	setenv("ENCRYPTION_KEY", "env-" EKEY, 1);
	n = load(&c, &e, text, &conf);
	tap_is_int(n, 0, "ENCRYPTION_KEY: no error");
	tap_is_str(c.encryption_key, "env-" EKEY,
	    "ENCRYPTION_KEY overrides encryption_key_file");
	tap_ok(c.encryption_key_file == NULL, "and clears the file name");
	done(&c, &e);
	unlink(conf);
	n = load(&c, &e, "encryption_key = " EKEY "\n", &conf);
	tap_is_str(c.encryption_key, "env-" EKEY,
	    "ENCRYPTION_KEY overrides encryption_key");
	done(&c, &e);
	unlink(conf);
	setenv("ENCRYPTION_KEY", "", 1);
	n = load(&c, &e, "encryption_key = " EKEY "\n", &conf);
	tap_is_str(c.encryption_key, EKEY, "an empty ENCRYPTION_KEY is ignored");
	done(&c, &e);
	unlink(conf);
	unsetenv("ENCRYPTION_KEY");
	unlink(kp);

	snprintf(kp, sizeof(kp), "%s/no-such-encryption-key", tmpdir);
	snprintf(text, sizeof(text), "encryption_key_file = %s\n", kp);
	n = load(&c, &e, text, &conf);
	snprintf(want, sizeof(want), "%s: encryption_key_file: %s: %s\n",
	    conf, kp, strerror(ENOENT));
	tap_is_int(n, 1, "missing encryption_key_file: one error");
	tap_is_str(e.buf, want, "missing encryption_key_file: message");
	done(&c, &e);
	unlink(conf);

	snprintf(kp, sizeof(kp), "%s", temp_file(" \n"));
	snprintf(text, sizeof(text), "encryption_key_file = %s\n", kp);
	n = load(&c, &e, text, &conf);
	snprintf(want, sizeof(want), "%s: encryption_key_file: %s: the file "
	    "is empty\n", conf, kp);
	tap_is_str(e.buf, want, "empty encryption_key_file: message");
	done(&c, &e);
	unlink(conf);
	unlink(kp);

	good(&c, "encryption_key = \"\"\nencryption_key_file = /k\n",
	    "encryption_key \"\" beside its file");
	tap_ok(c.encryption_key == NULL, "encryption_key = \"\" is no key");
	config_free(&c);

	n = parse(&c, &e, "encryption_key = " EKEY "\n"
	    "encryption_key_file = /k\n");
	tap_is_int(n, 1, "encryption_key and its file: one error");
	tap_is_str(e.buf, NAME ": set encryption_key or encryption_key_file, "
	    "not both\n", "encryption_key and its file: message");
	done(&c, &e);

	/* Both key files are read, each into its own secret. */
	{
		char	sp[PATH_MAX], ep[PATH_MAX], both[2 * PATH_MAX + 64];

		snprintf(sp, sizeof(sp), "%s", temp_file(KEY "\n"));
		snprintf(ep, sizeof(ep), "%s", temp_file(EKEY "\n"));
		snprintf(both, sizeof(both), "service_role_key_file = %s\n"
		    "encryption_key_file = %s\n", sp, ep);
		n = load(&c, &e, both, &conf);
		tap_ok(n == 0 && c.service_role_key != NULL &&
		    strcmp(c.service_role_key, KEY) == 0 &&
		    c.encryption_key != NULL &&
		    strcmp(c.encryption_key, EKEY) == 0,
		    "service and encryption key files side by side");
		done(&c, &e);
		unlink(conf);
		unlink(sp);
		unlink(ep);
	}
}

/* The encryption key never shows in an error either. */
static void
test_encryption_key_secret(void)
{
	static const char *texts[] = {
		"encryption_key = \"" EKEY "\n",
		"encryption_key = \"" EKEY "\" trailing\n",
		"encryption_key " EKEY "\n",
		"encryption_key = " EKEY "\nencryption_key = " EKEY "\n",
		"encryption_key = " EKEY "\nencryption_key_file = /k\n",
	};
	struct config		c;
	struct config_err	e;
	const char		*conf;
	size_t			 i;
	int			 n;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		n = parse(&c, &e, texts[i]);
		tap_ok(n > 0 && strstr(e.buf, EKEY) == NULL,
		    "bad encryption_key line %zu: an error without the key",
		    i + 1);
		done(&c, &e);
	}
	setenv("ENCRYPTION_KEY", EKEY, 1);
	n = load(&c, &e, "bogus = 1\n", &conf);
	tap_ok(n == 1 && strstr(e.buf, EKEY) == NULL,
	    "ENCRYPTION_KEY set, another error: the key is not shown");
	done(&c, &e);
	unlink(conf);
	unsetenv("ENCRYPTION_KEY");
}

static void
test_alert_command(void)
{
	struct config	c;

	good(&c, "alert_command = \"/usr/local/libexec/mail-alert\"\n",
	    "alert_command");
	tap_is_str(c.alert_command, "/usr/local/libexec/mail-alert",
	    "alert_command value");
	config_free(&c);
	good(&c, "alert_command = \"\"\n", "alert_command empty");
	tap_ok(c.alert_command == NULL, "alert_command = \"\" is none");
	config_free(&c);
	bad("alert_command = /a\nalert_command = /b\n", NAME ":2: duplicate "
	    "key 'alert_command' (first set on line 1)",
	    "alert_command twice");
	bad("alert_command = mail-alert\n", NAME ":1: alert_command: "
	    "'mail-alert' must be an absolute path", "alert_command relative");
	good(&c, "alert_retry = 600\nnotifier = /opt/evalsched-notifier\n",
	    "alert_retry and notifier");
	tap_is_int(c.alert_retry, 600, "alert_retry value");
	tap_is_str(c.notifier, "/opt/evalsched-notifier", "notifier value");
	config_free(&c);
	bad("alert_retry = 5\n", NAME ":1: alert_retry: '5' must be a whole "
	    "number of seconds from 10 to 604800", "alert_retry too short");
}

/* The alerts' email and integrations: their keys and defaults. */
static void
test_channels(void)
{
	struct config	c;
	char		host[256], want[320];

	config_defaults(&c);
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		snprintf(want, sizeof(want), "evalsched <evalsched@%s>", host);
		tap_is_str(c.mail_from, want, "default mail_from: evalsched "
		    "at the host's name");
	} else
		tap_ok(c.mail_from != NULL, "default mail_from set");
	tap_is_str(c.sendmail, "/usr/sbin/sendmail", "default sendmail");
	tap_ok(c.resend_api_key == NULL, "no default resend_api_key");
	tap_is_str(c.resend_api_url, "https://api.resend.com/emails",
	    "default resend_api_url");
	tap_is_str(c.telegram_api_url, "https://api.telegram.org",
	    "default telegram_api_url");
	tap_is_str(c.pagerduty_events_url,
	    "https://events.pagerduty.com/v2/enqueue",
	    "default pagerduty_events_url");
	tap_is_str(c.notion_api_url, "https://api.notion.com",
	    "default notion_api_url");
	config_free(&c);
	good(&c, "mail_from = \"Alerts <alerts@example.com>\"\n"
	    "sendmail = /usr/lib/sendmail\n"
	    "resend_api_key = \"\"\n"
	    "resend_api_url = http://127.0.0.1:9/emails/\n"
	    "telegram_api_url = https://tg.example.com\n"
	    "pagerduty_events_url = https://pd.example.com/v2/enqueue\n"
	    "notion_api_url = https://notion.example.com\n", "channel keys");
	tap_is_str(c.mail_from, "Alerts <alerts@example.com>", "mail_from");
	tap_is_str(c.sendmail, "/usr/lib/sendmail", "sendmail");
	tap_ok(c.resend_api_key == NULL, "resend_api_key = \"\" is none");
	tap_is_str(c.resend_api_url, "http://127.0.0.1:9/emails",
	    "resend_api_url, without its trailing slash");
	tap_is_str(c.telegram_api_url, "https://tg.example.com",
	    "telegram_api_url");
	config_free(&c);
	good(&c, "mail_from = alerts@example.com\n", "a bare address");
	config_free(&c);
	bad("mail_from = \"a@example.com, b@example.com\"\n", NAME ":1: "
	    "mail_from: 'a@example.com, b@example.com' must be one address, "
	    "as user@host or \"Name <user@host>\", on one line",
	    "mail_from: two addresses");
	bad("mail_from = \"Alerts <alerts>\"\n", NAME ":1: mail_from: "
	    "'Alerts <alerts>' must be one address, as user@host or "
	    "\"Name <user@host>\", on one line", "mail_from: no domain");
	bad("sendmail = sendmail\n", NAME ":1: sendmail: 'sendmail' must be "
	    "an absolute path", "sendmail relative");
	bad("resend_api_key = " EKEY "\nresend_api_key_file = /k\n",
	    NAME ": set resend_api_key or resend_api_key_file, not both",
	    "resend_api_key and its file");
}

static void
test_webhook_allow(void)
{
	struct config	c;

	config_defaults(&c);
	tap_ok(c.webhook_allow == NULL, "webhook_allow: none by default");
	config_free(&c);
	good(&c, "webhook_allow = 10.0.0.0/8, 127.0.0.1/32, fd00::/8\n",
	    "webhook_allow");
	tap_is_str(c.webhook_allow, "10.0.0.0/8, 127.0.0.1/32, fd00::/8",
	    "webhook_allow value");
	config_free(&c);
	good(&c, "webhook_allow = \"127.0.0.1 ::1  FD00::/8\"\n",
	    "webhook_allow, blanks and addresses alone");
	tap_is_str(c.webhook_allow, "127.0.0.1/32, ::1/128, fd00::/8",
	    "webhook_allow: kept in its canonical form");
	config_free(&c);
	good(&c, "webhook_allow = \"\"\n", "webhook_allow empty");
	tap_ok(c.webhook_allow == NULL, "webhook_allow = \"\" is none");
	config_free(&c);
	bad("webhook_allow = 10.0.0.0/8, 10.0.0.0/33\n", NAME ":1: "
	    "webhook_allow: '10.0.0.0/33': the prefix length must be a number "
	    "from 0 to 32", "webhook_allow: a bad prefix");
	bad("\nwebhook_allow = 10.0.0.1/8\n", NAME ":2: webhook_allow: "
	    "'10.0.0.1/8' has bits set after its /8 prefix: the network is "
	    "10.0.0.0/8 (or write the address alone)",
	    "webhook_allow: host bits");
	bad("webhook_allow = intranet.example.org\n", NAME ":1: "
	    "webhook_allow: 'intranet.example.org' is not an IPv4 or IPv6 "
	    "address or network", "webhook_allow: a name");
	bad("webhook_allow = 127.1\n", NAME ":1: webhook_allow: '127.1' is "
	    "not an IPv4 or IPv6 address or network",
	    "webhook_allow: a short form");
	bad("webhook_allow = fe80::1%eth0\n", NAME ":1: webhook_allow: "
	    "'fe80::1%eth0': a network has no zone (%)",
	    "webhook_allow: a zone");
}

/*
 * config_free() with a key set, in a child so that AddressSanitizer's
 * abort on a use after free is a failed test, not a dead test program.
 */
static void
test_free_key(void)
{
	struct config		c;
	struct config_err	e;
	pid_t			pid;
	int			status;

	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		parse(&c, &e, "service_role_key = " KEY "\n"
		    "encryption_key = " EKEY "\n");
		config_free(&c);
		config_err_free(&e);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "config_free() with both keys set is clean");
}

/* Writes text to dir/name; returns the path (static). */
static const char *
put_file(const char *dir, const char *name, const char *text)
{
	static char	path[PATH_MAX];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		perror(path);
		exit(2);
	}
	return path;
}

/*
 * conf.d beside the main file: its *.conf files in byte order, each
 * overriding the ones before; a key twice in one of them is an error
 * named by that file and line; other names are not read.
 */
static void
test_conf_d(void)
{
	struct config		c;
	struct config_err	e;
	char			dir[PATH_MAX / 2], dropins[PATH_MAX], main[PATH_MAX];
	char			want[4 * PATH_MAX], buf[CONFIG_WHERE_MAX];

	snprintf(dir, sizeof(dir), "%s/cd", tmpdir);
	snprintf(dropins, sizeof(dropins), "%s/conf.d", dir);
	if (mkdir(dir, 0700) == -1 || mkdir(dropins, 0700) == -1) {
		perror(dropins);
		exit(2);
	}
	snprintf(main, sizeof(main), "%s",
	    put_file(dir, "evalsched.conf", "poll_interval = 5\n"
	    "max_concurrent = 4\nservice_role_key = " KEY "\n"));
	put_file(dropins, "10-site.conf", "# the site\nmax_concurrent = 9\n"
	    "run_timeout = 100\n");
	put_file(dropins, "00-local.conf", "max_concurrent = 7\n"
	    "run_timeout = 50\nservice_role_key_file = /dev/null\n");
	put_file(dropins, "20-site.conf.dpkg-old", "bogus = 1\n");
	put_file(dropins, ".99-editor.conf", "bogus = 1\n");
	put_file(dropins, "Zz.conf", "lease = 12\n");
	load_path(&c, &e, main);
	tap_is_int(e.count, 1, "conf.d: only the empty key file is an error");
	snprintf(want, sizeof(want), "%s/00-local.conf: "
	    "service_role_key_file: /dev/null: the file is empty\n", dropins);
	tap_is_str(e.buf, want, "... named by the drop-in that set it");
	tap_is_int(c.poll_interval, 5, "conf.d: the main file's keys stay");
	tap_is_int(c.max_concurrent, 9, "... a later file overrides: 10- "
	    "after 00- and the main file");
	tap_is_int(c.run_timeout, 100, "... and 10- after 00-");
	tap_is_int(c.lease, 12, "... Zz.conf too (byte order)");
	tap_ok(c.service_role_key == NULL, "... a drop-in's key file replaces "
	    "the main file's key, not \"both\"");
	snprintf(want, sizeof(want), "%s/10-site.conf:2", dropins);
	tap_is_str(config_where(&c, "max_concurrent", buf, sizeof(buf)), want,
	    "config_where: the drop-in and its line");
	snprintf(want, sizeof(want), "%s:1", main);
	tap_is_str(config_where(&c, "poll_interval", buf, sizeof(buf)), want,
	    "config_where: the main file's line");
	tap_is_int(c.nfiles, 4, "conf.d: the main file and three drop-ins read");
	done(&c, &e);

	put_file(dropins, "00-local.conf", "max_concurrent = 7\nlisten = no\n"
	    "max_concurrent = 8\nservice_role_key = x\n"
	    "service_role_key_file = /dev/null\n");
	load_path(&c, &e, main);
	snprintf(want, sizeof(want), "%s/00-local.conf:3: duplicate key "
	    "'max_concurrent' (first set on line 1)\n%s/00-local.conf: set "
	    "service_role_key or service_role_key_file, not both\n", dropins,
	    dropins);
	tap_is_str(e.buf, want, "conf.d: a key twice in one drop-in, and both "
	    "secrets in one, are errors of that file");
	done(&c, &e);

	snprintf(want, sizeof(want), "rm -rf '%s'", dropins);
	if (system(want) != 0)
		tap_diag("cannot remove %s", dropins);
	put_file(dir, "conf.d", "max_concurrent = 7\n");
	load_path(&c, &e, main);
	snprintf(want, sizeof(want), "%s: Not a directory\n", dropins);
	tap_is_str(e.buf, want, "conf.d not a directory: an error");
	done(&c, &e);
	snprintf(want, sizeof(want), "rm -rf '%s'", dir);
	if (system(want) != 0)
		tap_diag("cannot remove %s", dir);
}

/* Where a key was set: its line, the environment, or the file alone. */
static void
test_where(void)
{
	struct config		c;
	struct config_err	e;
	const char		*conf;
	char			 buf[CONFIG_WHERE_MAX], want[PATH_MAX + 64];

	load(&c, &e, "# a comment\n\npoll_interval = 5\napp_url = "
	    "http://file.example\n", &conf);
	snprintf(want, sizeof(want), "%s:3", conf);
	tap_is_str(config_where(&c, "poll_interval", buf, sizeof(buf)), want,
	    "config_where: file:line");
	snprintf(want, sizeof(want), "%s:4", conf);
	tap_is_str(config_where(&c, "app_url", buf, sizeof(buf)), want,
	    "config_where: the line past blank and comment lines");
	tap_is_str(config_where(&c, "user", buf, sizeof(buf)), conf,
	    "config_where: a default is the file alone");
	tap_is_str(config_where(&c, "no_such_key", buf, sizeof(buf)), conf,
	    "config_where: an unknown key is the file alone");
	done(&c, &e);
	setenv("NEXT_PUBLIC_APP_URL", "http://env.example", 1);
	setenv("SUPABASE_SERVICE_ROLE_KEY", KEY, 1);
	load_path(&c, &e, conf);
	tap_is_str(config_where(&c, "app_url", buf, sizeof(buf)),
	    "environment: NEXT_PUBLIC_APP_URL",
	    "config_where: overridden by the environment");
	tap_is_str(config_where(&c, "service_role_key", buf, sizeof(buf)),
	    "environment: SUPABASE_SERVICE_ROLE_KEY",
	    "config_where: a key from the environment");
	done(&c, &e);
	unsetenv("NEXT_PUBLIC_APP_URL");
	unsetenv("SUPABASE_SERVICE_ROLE_KEY");
	unlink(conf);
}

/* config_warnings on a loaded file, after chmod of the file to mode. */
static int
warnings(const char *text, mode_t mode, const char **conf,
    struct config_err *w)
{
	struct config		c;
	struct config_err	e;
	int			n;

	if (load(&c, &e, text, conf) != 0)
		tap_diag("load: %s", e.buf != NULL ? e.buf : "");
	chmod(*conf, mode);
	memset(w, 0, sizeof(*w));
	n = config_warnings(&c, w);
	done(&c, &e);
	return n;
}

/* Exactly one warning, with exactly this text ("%s" for the file). */
static void
one_warning(const char *text, mode_t mode, const char *fmt, const char *what)
{
	struct config_err	 w;
	const char		*conf;
	char			 want[3 * PATH_MAX];
	int			 n;

	n = warnings(text, mode, &conf, &w);
	snprintf(want, sizeof(want), fmt, conf, conf);
	tap_is_int(n, 1, "%s: one warning", what);
	tap_is_str(w.buf, want, "%s: message", what);
	config_err_free(&w);
	unlink(conf);
}

static void
no_warning(const char *text, mode_t mode, const char *what)
{
	struct config_err	 w;
	const char		*conf;

	tap_is_int(warnings(text, mode, &conf, &w), 0, "%s: no warning", what);
	if (w.buf != NULL)
		tap_diag("%s", w.buf);
	config_err_free(&w);
	unlink(conf);
}

static void
test_warn_urls(void)
{
	static const char *loopback[] = {
		"http://localhost:3000", "http://LocalHost", "http://127.0.0.1",
		"http://127.200.3.4:8080/app", "http://[::1]:3000",
		"http://[::ffff:127.0.0.1]", "https://evals.example.org",
		"HTTPS://evals.example.org",
	};
	static const char *remote[][2] = {
		{ "http://evals.example.org", "evals.example.org" },
		{ "HTTP://evals.example.org:80/x", "evals.example.org" },
		{ "http://10.0.0.7:3000", "10.0.0.7" },
		{ "http://128.0.0.1", "128.0.0.1" },
		{ "http://[::2]", "[::2]" },
		{ "http://localhost.example.org", "localhost.example.org" },
	};
	char	text[256], fmt[512];
	size_t	i;

	for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		snprintf(text, sizeof(text), "app_url = %s\n", loopback[i]);
		no_warning(text, 0600, loopback[i]);
	}
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		snprintf(text, sizeof(text), "poll_interval = 5\n"
		    "app_url = %s\n", remote[i][0]);
		snprintf(fmt, sizeof(fmt), "%%s:2: warning: app_url: plain "
		    "http:// to %s, not this host: the keys would travel in "
		    "clear; use https://\n", remote[i][1]);
		one_warning(text, 0600, fmt, remote[i][0]);
	}
	setenv("NEXT_PUBLIC_APP_URL", "http://env.example.org", 1);
	one_warning("app_url = https://file.example.org\n", 0600,
	    "environment: NEXT_PUBLIC_APP_URL: warning: app_url: plain "
	    "http:// to env.example.org, not this host: the keys would travel "
	    "in clear; use https://\n", "app_url from the environment");
	unsetenv("NEXT_PUBLIC_APP_URL");
	one_warning("resend_api_key = k\nresend_api_url = http://mail.example.org\n",
	    0600, "%s:2: warning: resend_api_url: plain http:// to "
	    "mail.example.org, not this host: the Resend key would travel in "
	    "clear; use https://\n", "resend_api_url over http with a key");
	no_warning("resend_api_url = http://mail.example.org\n", 0600,
	    "resend_api_url over http without a key");
}

static void
test_warnings(void)
{
	char	kp[PATH_MAX], text[PATH_MAX + 64], fmt[3 * PATH_MAX];

	no_warning("poll_interval = 5\n", 0644, "a plain file, 0644");
	no_warning("webhook_allow = 10.0.0.0/8, 127.0.0.1\n", 0644,
	    "webhook_allow of some networks");
	one_warning("poll_interval = 5\nwebhook_allow = 10.0.0.0/8 ::/0\n",
	    0644, "%s:2: warning: webhook_allow: ::/0 lets users' webhooks "
	    "reach every address, this host and its networks included\n",
	    "webhook_allow ::/0");
	no_warning("service_role_key = " KEY "\n", 0640,
	    "a key in a file readable by its group only");
	one_warning("poll_interval = 5\n", 0664, "%s: warning: writable by its "
	    "group (mode 0664): whoever can change it chooses the programs run "
	    "and where the keys go; chmod go-w it\n", "a file 0664");
	one_warning("poll_interval = 5\n", 0602, "%s: warning: writable by "
	    "others (mode 0602): whoever can change it chooses the programs "
	    "run and where the keys go; chmod go-w it\n", "a file 0602");
	one_warning("# the key\nservice_role_key = " KEY "\n", 0644,
	    "%s:2: warning: service_role_key is in a file readable by others "
	    "(mode 0644): use service_role_key_file, or chmod o-r the file\n",
	    "service_role_key in a file 0644");
	one_warning("encryption_key = " EKEY "\nservice_role_key = \"\"\n",
	    0604, "%s:1: warning: encryption_key is in a file readable by "
	    "others (mode 0604): use encryption_key_file, or chmod o-r the "
	    "file\n", "encryption_key in a file 0604; an empty key is none");
	/* The environment's key wins, but the file still holds one. */
	setenv("SUPABASE_SERVICE_ROLE_KEY", "env-" KEY, 1);
	one_warning("service_role_key = " KEY "\n", 0644, "%s:1: warning: "
	    "service_role_key is in a file readable by others (mode 0644): "
	    "use service_role_key_file, or chmod o-r the file\n",
	    "a key in the file beside one from the environment");
	unsetenv("SUPABASE_SERVICE_ROLE_KEY");

	snprintf(kp, sizeof(kp), "%s", temp_file(KEY "\n"));
	snprintf(text, sizeof(text), "poll_interval = 5\n"
	    "service_role_key_file = %s\n", kp);
	no_warning(text, 0644, "a key file 0600");
	chmod(kp, 0400);
	no_warning(text, 0644, "a key file 0400");
	chmod(kp, 0640);
	snprintf(fmt, sizeof(fmt), "%%s:2: warning: service_role_key_file: %s "
	    "is readable by its group (mode 0640): make it 0600, owned by the "
	    "supervisor's user\n", kp);
	one_warning(text, 0644, fmt, "a key file 0640");
	chmod(kp, 0644);
	snprintf(fmt, sizeof(fmt), "%%s:2: warning: service_role_key_file: %s "
	    "is readable by its group and others (mode 0644): make it 0600, "
	    "owned by the supervisor's user\n", kp);
	one_warning(text, 0644, fmt, "a key file 0644");
	snprintf(text, sizeof(text), "encryption_key_file = %s\n", kp);
	chmod(kp, 0604);
	snprintf(fmt, sizeof(fmt), "%%s:1: warning: encryption_key_file: %s "
	    "is readable by others (mode 0604): make it 0600, owned by the "
	    "supervisor's user\n", kp);
	one_warning(text, 0644, fmt, "an encryption key file 0604");
	setenv("ENCRYPTION_KEY", EKEY, 1);
	no_warning(text, 0644, "a key file the environment overrides");
	unsetenv("ENCRYPTION_KEY");
	unlink(kp);
	test_warn_urls();
}

int
main(void)
{
	const char	*t;

	clear_env();
	t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/t_config.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_defaults();
	test_every_key();
	test_quoting();
	test_app_url();
	test_bad_lines();
	test_many_errors();
	test_duplicate_far();
	test_env();
	test_env_every_key();
	test_env_secrets();
	test_key_file();
	test_load_paths();
	test_require_key();
	test_secret();
	test_encryption_key();
	test_encryption_key_secret();
	test_alert_command();
	test_channels();
	test_webhook_allow();
	test_free_key();
	test_where();
	test_conf_d();
	test_warnings();
	remove_tmpdir();
	return tap_done();
}
