/*
 * evalsched.conf(5) parser.  "key = value" lines, '#' comments, values
 * optionally double-quoted.  Every bad line is reported as
 * "file:line: message" and parsing goes on, so that -n shows all of them
 * at once.  The main file is read first, then the drop-ins of conf.d
 * (confdir.c), each overriding what came before.
 */
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "confdir.h"
#include "testhooks.h"
#include "util.h"
#include "text.h"
#include "url.h"

enum key_type { KEY_STRING, KEY_ABSPATH, KEY_SECONDS, KEY_DAYS, KEY_COUNT,
    KEY_BOOL, KEY_URL, KEY_LOGLEVEL, KEY_NETLIST, KEY_LOG, KEY_MAILBOX };

struct key_def {
	const char	*name;
	enum key_type	 type;
	size_t		 offset;
	long		 min, max;	/* KEY_URL: min 1, "" is unset */
};

#define S(f)	offsetof(struct config, f)
static const struct key_def keys[] = {
	{ "database",			KEY_STRING,  S(database), 0, 0 },
	{ "monitor_database",		KEY_STRING,  S(monitor_database), 0, 0 },
	{ "app_url",			KEY_URL,     S(app_url), 0, 0 },
	{ "service_role_key",		KEY_STRING,  S(service_role_key), 0, 0 },
	{ "service_role_key_file",	KEY_STRING,  S(service_role_key_file), 0, 0 },
	{ "jobrunner",			KEY_STRING,  S(jobrunner), 0, 0 },
	{ "pidfile",			KEY_STRING,  S(pidfile), 0, 0 },
	{ "user",			KEY_STRING,  S(user), 0, 0 },
	{ "spool_dir",			KEY_STRING,  S(spool_dir), 0, 0 },
	{ "node_name",			KEY_STRING,  S(node_name), 0, 0 },
	{ "tls_ca_file",		KEY_STRING,  S(tls_ca_file), 0, 0 },
	{ "encryption_key",		KEY_STRING,  S(encryption_key), 0, 0 },
	{ "encryption_key_file",	KEY_STRING,  S(encryption_key_file), 0, 0 },
	{ "alert_command",		KEY_ABSPATH, S(alert_command), 0, 0 },
	{ "notifier",			KEY_ABSPATH, S(notifier), 0, 0 },
	{ "webhook_allow",		KEY_NETLIST, S(webhook_allow), 0, 0 },
	{ "alert_retry",		KEY_SECONDS, S(alert_retry), 10, 7 * 86400 },
	{ "app_link_url",		KEY_URL,     S(app_link_url), 1, 0 },
	{ "mail_from",			KEY_MAILBOX, S(mail_from), 0, 0 },
	{ "sendmail",			KEY_ABSPATH, S(sendmail), 0, 0 },
	{ "resend_api_key",		KEY_STRING,  S(resend_api_key), 0, 0 },
	{ "resend_api_key_file",	KEY_STRING,  S(resend_api_key_file), 0, 0 },
	{ "resend_api_url",		KEY_URL,     S(resend_api_url), 0, 0 },
	{ "telegram_api_url",		KEY_URL,     S(telegram_api_url), 0, 0 },
	{ "pagerduty_events_url",	KEY_URL,     S(pagerduty_events_url), 0, 0 },
	{ "notion_api_url",		KEY_URL,     S(notion_api_url), 0, 0 },
	{ "poll_interval",		KEY_SECONDS, S(poll_interval), 1, 86400 },
	{ "max_concurrent",		KEY_COUNT,   S(max_concurrent), 1, CONFIG_MAX_CONCURRENT },
	{ "max_consecutive_failures",	KEY_COUNT,   S(max_consecutive_failures), 1, 1000 },
	{ "run_timeout",		KEY_SECONDS, S(run_timeout), 1, 86400 },
	{ "shutdown_grace",		KEY_SECONDS, S(shutdown_grace), 0, 3600 },
	{ "lease",			KEY_SECONDS, S(lease), 2, 3600 },
	{ "listen",			KEY_BOOL,    S(listen), 0, 0 },
	{ "log_level",			KEY_LOGLEVEL, S(log_debug), 0, 0 },
	{ "log",			KEY_LOG,     S(log), 0, 0 },
	{ "completion_timeout",		KEY_SECONDS, S(completion_timeout), 60, 30 * 86400 },
	{ "quality_settle",		KEY_SECONDS, S(quality_settle), 0, 3600 },
	{ "run_retention",		KEY_DAYS,    S(run_retention), 0, 36500 },
};

/*
 * The secrets: each is set by its key, or read from the first line of
 * its file, or taken from the environment, which wins.  Never echoed in
 * an error, wiped before its memory is freed.  env is the application's
 * name for it, which its previous worker read.
 */
struct secret_def {
	const char	*name;
	size_t		 key, file;
	const char	*env;
};

static const struct secret_def secrets[] = {
	{ "service_role_key", S(service_role_key), S(service_role_key_file),
	    "SUPABASE_SERVICE_ROLE_KEY" },
	{ "encryption_key", S(encryption_key), S(encryption_key_file),
	    "ENCRYPTION_KEY" },
	{ "resend_api_key", S(resend_api_key), S(resend_api_key_file),
	    "RESEND_API_KEY" },
};
#undef S

/*
 * The application's names for keys that are not secrets: its environment
 * keeps working.  An EVALSCHED_ variable of the same key wins.
 */
static const struct {
	const char	*key, *env;
} app_names[] = {
	{ "app_url", "NEXT_PUBLIC_APP_URL" },
};

#define NKEYS		(sizeof(keys) / sizeof(keys[0]))
#define NSECRETS	(sizeof(secrets) / sizeof(secrets[0]))
#define NAPPNAMES	(sizeof(app_names) / sizeof(app_names[0]))
#define ENV_NAME_MAX	64

_Static_assert(NKEYS <= CONFIG_MAX_KEYS,
    "struct config's per-key arrays must hold every key");

#define FIELD(c, off)	((char **)((char *)(c) + (off)))
#define CFIELD(c, off)	(*(char *const *)((const char *)(c) + (off)))

void
config_err_add(struct config_err *e, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[1024];
	size_t	 n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	e->buf = xreallocarray(e->buf, e->len + n + 2, 1);
	memcpy(e->buf + e->len, line, n);
	e->len += n;
	e->buf[e->len++] = '\n';
	e->buf[e->len] = '\0';
	e->count++;
}

void
config_err_free(struct config_err *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

static void
free_secret(char **field)
{
	if (*field != NULL)
		explicit_bzero(*field, strlen(*field));
	free(*field);
	*field = NULL;
}

static void
set_string(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

/* A secret's old value is wiped before it is replaced. */
static void
set_secret(char **field, const char *value)
{
	free_secret(field);
	*field = xstrdup(value);
}

static const struct secret_def *
secret_lookup(const char *name)
{
	size_t	i;

	for (i = 0; i < NSECRETS; i++)
		if (strcmp(secrets[i].name, name) == 0)
			return &secrets[i];
	return NULL;
}

/*
 * The alerts' sender: evalsched at this host, which is what a mail
 * transfer agent would make of the user anyway; a host name that is no
 * domain name leaves the operator to set mail_from.
 */
static void
default_mail_from(struct config *c, const char *host)
{
	char	from[sizeof("evalsched <evalsched@>") + 256];

	snprintf(from, sizeof(from), "evalsched <evalsched@%s>", host);
	set_string(&c->mail_from, from);
}

void
config_defaults(struct config *c)
{
	char	host[256];

	memset(c, 0, sizeof(*c));
	set_string(&c->database, "");
	set_string(&c->app_url, "http://localhost:3000");
	set_string(&c->jobrunner, LIBEXECDIR "/evalsched-jobrunner");
	set_string(&c->notifier, LIBEXECDIR "/evalsched-notifier");
	set_string(&c->pidfile, "/run/evalsched-supervisor.pid");
	set_string(&c->spool_dir, "/var/lib/evalsched");
	set_string(&c->tls_ca_file, "");
	set_string(&c->log, "syslog");
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	set_string(&c->node_name, host);
	default_mail_from(c, host);
	set_string(&c->sendmail, "/usr/sbin/sendmail");
	set_string(&c->resend_api_url, "https://api.resend.com/emails");
	set_string(&c->telegram_api_url, "https://api.telegram.org");
	set_string(&c->pagerduty_events_url,
	    "https://events.pagerduty.com/v2/enqueue");
	set_string(&c->notion_api_url, "https://api.notion.com");
	c->poll_interval = 60;
	c->max_concurrent = 3;
	c->max_consecutive_failures = 3;
	c->run_timeout = 600;
	c->shutdown_grace = 30;
	c->lease = 30;
	c->listen = 1;
	c->completion_timeout = 86400;
	c->quality_settle = 60;
	c->alert_retry = 3600;
	c->run_retention = 0;
}

void
config_free(struct config *c)
{
	size_t	i;

	/* Wipe the secrets before their memory goes back to the allocator. */
	for (i = 0; i < NSECRETS; i++)
		free_secret(FIELD(c, secrets[i].key));
	for (i = 0; i < NKEYS; i++)
		if (keys[i].type == KEY_STRING || keys[i].type == KEY_ABSPATH ||
		    keys[i].type == KEY_URL || keys[i].type == KEY_NETLIST ||
		    keys[i].type == KEY_LOG || keys[i].type == KEY_MAILBOX)
			free(*FIELD(c, keys[i].offset));
	for (i = 0; i < NKEYS; i++)
		free(c->env[i]);
	for (i = 0; i < (size_t)c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

static const struct key_def *
key_lookup(const char *name)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The file a key was set in; the main file when in none. */
static const char *
key_path(const struct config *c, const char *name)
{
	const struct key_def	*k = key_lookup(name);

	if (k != NULL && c->line[k - keys] > 0)
		return c->files[c->file[k - keys]];
	return c->path != NULL ? c->path : CONFIG_DEFAULT_PATH;
}

/* A key's place in the per-key arrays; -1 for no key. */
static int
key_index(const char *name)
{
	const struct key_def	*k = key_lookup(name);

	return k == NULL ? -1 : (int)(k - keys);
}

/* What set a key, for an error without a line: its file or variable. */
static const char *
key_source(const struct config *c, const char *name, char *buf, size_t len)
{
	int	i = key_index(name);

	if (i >= 0 && c->env[i] != NULL)
		snprintf(buf, len, "environment: %s", c->env[i]);
	else
		snprintf(buf, len, "%s", key_path(c, name));
	return buf;
}

static int
parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") ||
	    !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") ||
	    !strcmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int
parse_number(const char *v, long min, long max, int *out)
{
	char	*end;
	long	 n;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

/*
 * A list of networks, kept in its canonical form ("" for none): what -n
 * and the notifier's job show is what was understood.
 */
static int
set_netlist(char **field, const char *v, char *why, size_t whylen)
{
	struct url_allow	a;
	char			text[URL_ALLOW_MAX * (NET_TEXT_MAX + 2)];

	if (url_allow_parse(&a, v, why, whylen) == -1)
		return -1;
	url_allow_format(&a, text, sizeof(text));
	set_string(field, text);
	return 0;
}

/*
 * A From: the notifier writes as a header and hands the mail transfer
 * agent: one address, alone or as "Name <address>", on one line.
 */
static int
mailbox_ok(const char *v)
{
	const char	*at = strchr(v, '@'), *lt = strchr(v, '<');
	size_t		 n = strlen(v);

	if (text_has_control(v) || n > 320 || strchr(v, ',') != NULL ||
	    at == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	/* The address last, in the one pair of angle brackets. */
	if (lt != NULL)
		return v[n - 1] == '>' && at > lt && strchr(lt + 1, '<') == NULL;
	/* A bare address: one word. */
	return strpbrk(v, " \t>\"") == NULL;
}

static int
mailbox_check(const char *v, char *why, size_t whylen)
{
	if (mailbox_ok(v))
		return 0;
	snprintf(why, whylen, "must be one address, as user@host or "
	    "\"Name <user@host>\", on one line");
	return -1;
}

/* Sets one key; on a bad value writes why into why and returns -1. */
static int
key_set(struct config *c, const struct key_def *k, const char *v,
    char *why, size_t whylen)
{
	void	*field = (char *)c + k->offset;
	size_t	 n;

	switch (k->type) {
	case KEY_URL:
		if (*v == '\0' && k->min == 1) {
			set_string(field, v);
			return 0;
		}
		if (url_check_app(v, why, whylen) == -1)
			return -1;
		set_string(field, v);
		n = strlen(*(char **)field);
		while (n > 0 && (*(char **)field)[n - 1] == '/')
			(*(char **)field)[--n] = '\0';
		return 0;
	case KEY_ABSPATH:
		/* "" is "none"; anything else is run without a search path. */
		if (*v != '\0' && *v != '/') {
			snprintf(why, whylen, "must be an absolute path");
			return -1;
		}
		set_string(field, v);
		return 0;
	case KEY_STRING:
		if (secret_lookup(k->name) != NULL)
			set_secret(field, v);
		else
			set_string(field, v);
		return 0;
	case KEY_BOOL:
		if (parse_bool(v, field) == 0)
			return 0;
		snprintf(why, whylen, "must be yes or no");
		return -1;
	case KEY_NETLIST:
		return set_netlist(field, v, why, whylen);
	case KEY_LOG:
		if (strcmp(v, "syslog") != 0 && strcmp(v, "stderr") != 0 &&
		    *v != '/') {
			snprintf(why, whylen, "must be syslog, stderr or an "
			    "absolute path");
			return -1;
		}
		set_string(field, v);
		return 0;
	case KEY_MAILBOX:
		if (mailbox_check(v, why, whylen) == -1)
			return -1;
		set_string(field, v);
		return 0;
	case KEY_LOGLEVEL:
		if (!strcmp(v, "info") || !strcmp(v, "debug")) {
			*(int *)field = strcmp(v, "debug") == 0;
			return 0;
		}
		snprintf(why, whylen, "must be info or debug");
		return -1;
	case KEY_SECONDS:
	case KEY_DAYS:
	case KEY_COUNT:
		if (parse_number(v, k->min, k->max, field) == 0)
			return 0;
		snprintf(why, whylen, "must be a whole number%s from %ld "
		    "to %ld", k->type == KEY_SECONDS ? " of seconds" :
		    k->type == KEY_DAYS ? " of days" : "", k->min, k->max);
		return -1;
	}
	return -1;
}

/*
 * Splits a line into key and value in place.  Returns 0 for a blank or
 * comment line, 1 for a key/value pair, -1 with why set on a bad line.
 */
static int
split_line(char *line, char **key, char **value, const char **why)
{
	char	*p = line, *q, *out;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	*key = p;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	if (p == *key) {
		*why = "expected a key name";
		return -1;
	}
	q = p;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '=') {
		*why = "expected '=' after the key";
		return -1;
	}
	*q = '\0';
	p++;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '"') {
		*value = out = ++p;
		for (; *p != '"'; p++) {
			if (*p == '\0') {
				*why = "unterminated quoted value";
				return -1;
			}
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			*out++ = *p;
		}
		p++;
		*out = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '\0' && *p != '#') {
			*why = "unexpected text after the quoted value";
			return -1;
		}
		return 1;
	}
	*value = p;
	while (*p != '\0' && *p != '#')
		p++;
	while (p > *value && isspace((unsigned char)p[-1]))
		p--;
	*p = '\0';
	if (**value == '\0') {
		*why = "missing value (use \"\" for an empty one)";
		return -1;
	}
	return 1;
}

/*
 * Whether a bad value may be quoted in its error: never the key, nor a
 * URL (any of them) that holds credentials or control characters.
 */
static int
may_echo(const struct key_def *k, const char *value)
{
	if (secret_lookup(k->name) != NULL)
		return 0;
	if (k->type == KEY_URL)
		return strchr(value, '@') == NULL && !text_has_control(value);
	return 1;
}

/*
 * A secret set in one file replaces its pair set in an earlier one: a
 * drop-in's service_role_key_file is not "both" with the main file's
 * service_role_key.  Both in one file stays an error (parse_text).
 */
static void
unset_pair(struct config *c, const char *name, const int *seen)
{
	const struct key_def	*other;
	char			 pair[64];
	size_t			 i, n;

	for (i = 0; i < NSECRETS; i++) {
		n = strlen(secrets[i].name);
		if (strcmp(name, secrets[i].name) == 0)
			snprintf(pair, sizeof(pair), "%s_file", name);
		else if (strncmp(name, secrets[i].name, n) == 0 &&
		    strcmp(name + n, "_file") == 0)
			snprintf(pair, sizeof(pair), "%s", secrets[i].name);
		else
			continue;
		other = key_lookup(pair);
		if (seen[other - keys])
			return;
		if (other == key_lookup(secrets[i].name))
			free_secret(FIELD(c, other->offset));
		else {
			free(*FIELD(c, other->offset));
			*FIELD(c, other->offset) = NULL;
		}
		c->line[other - keys] = 0;
		return;
	}
}

static void
parse_line(struct config *c, const char *name, int lineno, char *line,
    int *seen, struct config_err *err)
{
	const struct key_def	*k;
	const char		*why = NULL;
	char			*key, *value, msg[256];
	int			 r;

	if ((r = split_line(line, &key, &value, &why)) <= 0) {
		if (r < 0)
			config_err_add(err, "%s:%d: %s", name, lineno, why);
		return;
	}
	if ((k = key_lookup(key)) == NULL) {
		config_err_add(err, "%s:%d: unknown key '%s'", name, lineno,
		    key);
		return;
	}
	if (seen[k - keys]) {
		config_err_add(err, "%s:%d: duplicate key '%s' (first set on "
		    "line %d)", name, lineno, key, seen[k - keys]);
		return;
	}
	seen[k - keys] = lineno;
	c->line[k - keys] = lineno;
	c->file[k - keys] = c->nfiles - 1;
	unset_pair(c, key, seen);
	if (key_set(c, k, value, msg, sizeof(msg)) == -1) {
		/* A list's message quotes the bad item, not the whole list. */
		if (!may_echo(k, value) || k->type == KEY_NETLIST)
			config_err_add(err, "%s:%d: %s: %s", name, lineno,
			    key, msg);
		else
			config_err_add(err, "%s:%d: %s: '%s' %s", name, lineno,
			    key, value, msg);
	}
}

static void
unset_empty(char **field)
{
	if (*field != NULL && **field == '\0') {
		free(*field);
		*field = NULL;
	}
}

/* A secret and its file, both set by this file (see unset_pair). */
static int
both_in_file(const struct config *c, const struct secret_def *d,
    const int *seen)
{
	char	name[64];

	snprintf(name, sizeof(name), "%s_file", d->name);
	return seen[key_lookup(d->name) - keys] &&
	    seen[key_lookup(name) - keys] && CFIELD(c, d->key) != NULL &&
	    CFIELD(c, d->file) != NULL;
}

/* A secret written in a file, for warn_config_file. */
static void
mark_secrets_in_file(struct config *c)
{
	const struct key_def	*k;
	const char		*v;
	size_t			 i;

	memset(c->secret_in_file, 0, sizeof(c->secret_in_file));
	for (i = 0; i < NSECRETS; i++) {
		k = key_lookup(secrets[i].name);
		v = CFIELD(c, secrets[i].key);
		if (v != NULL && *v != '\0' && c->line[k - keys] > 0)
			c->secret_in_file[k - keys] = 1;
	}
}

int
config_parse_text(struct config *c, const char *name, const char *text,
    struct config_err *err)
{
	int		 seen[NKEYS] = { 0 };
	char		*copy, *line, *next;
	int		 lineno = 0, before = err->count;
	size_t		 i;

	c->files = xreallocarray(c->files, (size_t)c->nfiles + 1,
	    sizeof(*c->files));
	c->files[c->nfiles++] = xstrdup(name);
	copy = xstrdup(text);
	for (line = copy; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		if (next == NULL && *line == '\0')
			break;
		parse_line(c, name, lineno, line, seen, err);
	}
	explicit_bzero(copy, strlen(text));
	free(copy);
	/* Optional keys set to "" are not set: no command, no key. */
	unset_empty(&c->alert_command);
	unset_empty(&c->webhook_allow);
	unset_empty(&c->app_link_url);
	unset_empty(&c->encryption_key);
	unset_empty(&c->resend_api_key);
	for (i = 0; i < NSECRETS; i++)
		if (both_in_file(c, &secrets[i], seen))
			config_err_add(err, "%s: set %s or %s_file, not both",
			    name, secrets[i].name, secrets[i].name);
	mark_secrets_in_file(c);
	return err->count - before;
}

/* A secret is its file's first line, without surrounding white space. */
static void
load_key_file(struct config *c, const struct secret_def *d,
    struct config_err *err)
{
	const char	*path = CFIELD(c, d->file);
	char		*text, *p, *end;
	char		 name[64], src[CONFIG_WHERE_MAX];

	snprintf(name, sizeof(name), "%s_file", d->name);
	key_source(c, name, src, sizeof(src));
	if ((text = read_file(path)) == NULL) {
		config_err_add(err, "%s: %s: %s: %s", src, name, path,
		    strerror(errno));
		return;
	}
	for (p = text; isspace((unsigned char)*p); p++)
		;
	end = p + strcspn(p, "\r\n");
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	if (*p == '\0')
		config_err_add(err, "%s: %s: %s: the file is empty", src,
		    name, path);
	else
		set_secret(FIELD(c, d->key), p);
	explicit_bzero(text, strlen(text) + 1);
	free(text);
}

const char *
config_env_name(const char *key, char *buf, size_t len)
{
	size_t	i, n = strlen("EVALSCHED_");

	snprintf(buf, len, "EVALSCHED_%s", key);
	for (i = n; buf[i] != '\0'; i++)
		buf[i] = toupper((unsigned char)buf[i]);
	return buf;
}

/* A variable that counts: set and not empty. */
static const char *
env_value(const char *name)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static void
mark_env(struct config *c, const char *key, const char *var)
{
	int	i = key_index(key);

	free(c->env[i]);
	c->env[i] = var != NULL ? xstrdup(var) : NULL;
}

/* A key from variable var, checked as a file's line is. */
static void
env_set(struct config *c, const struct key_def *k, const char *var,
    const char *v, struct config_err *err)
{
	char	why[256];

	if (key_set(c, k, v, why, sizeof(why)) == 0)
		mark_env(c, k->name, var);
	else if (!may_echo(k, v) || k->type == KEY_NETLIST)
		config_err_add(err, "environment: %s: %s", var, why);
	else
		config_err_add(err, "environment: %s: '%s' %s", var, v, why);
}

static int
is_secret_file(const char *name)
{
	size_t	i;

	for (i = 0; i < NSECRETS; i++)
		if (strncmp(name, secrets[i].name, strlen(secrets[i].name)) ==
		    0 && strcmp(name + strlen(secrets[i].name), "_file") == 0)
			return 1;
	return 0;
}

/*
 * EVALSCHED_DATABASE counts even when empty (libpq's defaults and its
 * PG* variables), as it always has; every other variable only when not
 * empty, so that Compose's "KEY: ${KEY}" of an unset KEY changes nothing.
 */
static const char *
env_of_key(const char *key, const char *var)
{
	if (strcmp(key, "database") == 0)
		return getenv(var);
	return env_value(var);
}

static const char *
app_name(const char *key)
{
	size_t	i;

	for (i = 0; i < NAPPNAMES; i++)
		if (strcmp(app_names[i].key, key) == 0)
			return app_names[i].env;
	return NULL;
}

/* A key that is no secret: EVALSCHED_KEY, else the application's name. */
static void
env_plain(struct config *c, const struct key_def *k, struct config_err *err)
{
	const char	*v, *app;
	char		 var[ENV_NAME_MAX];

	config_env_name(k->name, var, sizeof(var));
	if ((v = env_of_key(k->name, var)) != NULL)
		env_set(c, k, var, v, err);
	else if ((app = app_name(k->name)) != NULL &&
	    (v = env_value(app)) != NULL)
		env_set(c, k, app, v, err);
}

/*
 * One family of a secret's variables: NAME itself, or NAME_FILE naming a
 * file that holds it, as the official PostgreSQL image has
 * POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE.  Both set is an error.
 * Returns 1 when the family set the secret (or failed), 0 when it is
 * not in the environment.
 */
static int
env_secret_family(struct config *c, const struct secret_def *d,
    const char *name, struct config_err *err)
{
	const char	*v, *path;
	char		 file_var[ENV_NAME_MAX + 8], file_key[ENV_NAME_MAX];

	snprintf(file_var, sizeof(file_var), "%s_FILE", name);
	snprintf(file_key, sizeof(file_key), "%s_file", d->name);
	v = env_value(name);
	path = env_value(file_var);
	if (v == NULL && path == NULL)
		return 0;
	if (v != NULL && path != NULL) {
		config_err_add(err, "environment: set %s or %s, not both",
		    name, file_var);
		return 1;
	}
	if (v != NULL) {
		set_secret(FIELD(c, d->key), v);
		free(*FIELD(c, d->file));
		*FIELD(c, d->file) = NULL;
		mark_env(c, d->name, name);
		mark_env(c, file_key, NULL);
		return 1;
	}
	/* The key is read from the file once the rest is known good. */
	free_secret(FIELD(c, d->key));
	set_string(FIELD(c, d->file), path);
	mark_env(c, d->name, file_var);
	mark_env(c, file_key, file_var);
	return 1;
}

/* Ours first: EVALSCHED_SERVICE_ROLE_KEY(_FILE) over the application's. */
static void
env_secret(struct config *c, const struct secret_def *d,
    struct config_err *err)
{
	char	name[ENV_NAME_MAX];

	config_env_name(d->name, name, sizeof(name));
	if (env_secret_family(c, d, name, err) == 0 && d->env != NULL)
		(void)env_secret_family(c, d, d->env, err);
}

int
config_apply_env(struct config *c, struct config_err *err)
{
	int	before = err->count;
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		if (secret_lookup(keys[i].name) == NULL &&
		    !is_secret_file(keys[i].name))
			env_plain(c, &keys[i], err);
	for (i = 0; i < NSECRETS; i++)
		env_secret(c, &secrets[i], err);
	return err->count - before;
}

/* Returns -1 with errno set when path cannot be read. */
static int
read_one(struct config *c, const char *path, struct config_err *err)
{
	char	*text;

	if ((text = read_file(path)) == NULL)
		return -1;
	config_parse_text(c, path, text, err);
	explicit_bzero(text, strlen(text));
	free(text);
	return 0;
}

int
config_read(struct config *c, const char *path, struct config_err *err)
{
	char	  dir[PATH_MAX], **files, **f;
	int	  before = err->count;

	set_string(&c->path, path != NULL ? path : CONFIG_DEFAULT_PATH);
	/* Without -c, a missing file means "defaults and env". */
	if (read_one(c, c->path, err) == -1 && (path != NULL ||
	    errno != ENOENT))
		config_err_add(err, "%s: %s", c->path, strerror(errno));
	confdir_path(c->path, dir, sizeof(dir));
	if (confdir_list(dir, &files) == -1)
		config_err_add(err, "%s: %s", dir, strerror(errno));
	for (f = files; *f != NULL; f++)
		if (read_one(c, *f, err) == -1)
			config_err_add(err, "%s: %s", *f, strerror(errno));
	confdir_free(files);
	return err->count - before;
}

int
config_load(struct config *c, const char *path, struct config_err *err)
{
	int	 before = err->count;
	size_t	 i;

	config_read(c, path, err);
	config_apply_env(c, err);
	/* A configuration with errors is refused anyway: read no key file. */
	if (err->count > before)
		return err->count - before;
	for (i = 0; i < NSECRETS; i++)
		if (*FIELD(c, secrets[i].file) != NULL)
			load_key_file(c, &secrets[i], err);
	return err->count - before;
}

int
config_require_key(const struct config *c, struct config_err *err)
{
	if (c->service_role_key != NULL && *c->service_role_key != '\0')
		return 0;
	config_err_add(err, "%s: no service role key: set "
	    "service_role_key_file (or service_role_key), or "
	    "SUPABASE_SERVICE_ROLE_KEY (or EVALSCHED_SERVICE_ROLE_KEY_FILE) in "
	    "the environment", c->path);
	return 1;
}

const char *
config_where(const struct config *c, const char *key, char *buf, size_t len)
{
	int		 i = key_index(key);
	const char	*path = key_path(c, key);

	if (i >= 0 && c->env[i] != NULL)
		snprintf(buf, len, "environment: %s", c->env[i]);
	else if (i >= 0 && c->line[i] > 0)
		snprintf(buf, len, "%s:%d", path, c->line[i]);
	else
		snprintf(buf, len, "%s", path);
	return buf;
}

size_t
config_nkeys(void)
{
	return NKEYS;
}

const char *
config_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

int
config_key_secret(size_t i)
{
	return i < NKEYS && secret_lookup(keys[i].name) != NULL;
}

const char *
config_value(const struct config *c, size_t i, char *buf, size_t len)
{
	const struct key_def	*k = &keys[i];
	const void		*field = (const char *)c + k->offset;

	switch (k->type) {
	case KEY_STRING:
	case KEY_ABSPATH:
	case KEY_URL:
	case KEY_NETLIST:
	case KEY_LOG:
	case KEY_MAILBOX:
		return *(char *const *)field;
	case KEY_BOOL:
		snprintf(buf, len, "%s", *(const int *)field ? "yes" : "no");
		return buf;
	case KEY_LOGLEVEL:
		snprintf(buf, len, "%s", *(const int *)field ? "debug" :
		    "info");
		return buf;
	case KEY_SECONDS:
	case KEY_DAYS:
	case KEY_COUNT:
		snprintf(buf, len, "%d", *(const int *)field);
		return buf;
	}
	return NULL;
}

/* A secret not set by a line nor the environment was read from its file. */
static const char *
secret_file_of(const struct config *c, const char *key)
{
	const struct secret_def	*d = secret_lookup(key);

	return d != NULL && CFIELD(c, d->key) != NULL ? CFIELD(c, d->file) :
	    NULL;
}

const char *
config_origin(const struct config *c, size_t i, char *buf, size_t len)
{
	const char	*from;

	if (c->env[i] != NULL)
		snprintf(buf, len, "environment: %s", c->env[i]);
	else if ((from = secret_file_of(c, keys[i].name)) != NULL)
		snprintf(buf, len, "read from %s", from);
	else if (c->line[i] > 0)
		snprintf(buf, len, "%s:%d", c->files[c->file[i]], c->line[i]);
	else
		snprintf(buf, len, "default");
	return buf;
}

/* Who besides the owner may do what the group bit g and other bit o say. */
static const char *
mode_who(mode_t mode, mode_t g, mode_t o)
{
	if ((mode & g) != 0 && (mode & o) != 0)
		return "its group and others";
	return (mode & g) != 0 ? "its group" : "others";
}

/*
 * A file read: whoever may write it chooses the programs the supervisor
 * runs and where the key goes; a key in it is only as secret as the file.
 */
static void
warn_config_file(const struct config *c, int f, struct config_err *w)
{
	struct stat	 st;
	const char	*path = c->files[f];
	size_t		 i;
	int		 k;

	if (stat(path, &st) == -1)
		return;
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		config_err_add(w, "%s: warning: writable by %s (mode %04o): "
		    "whoever can change it chooses the programs run and "
		    "where the keys go; chmod go-w it", path,
		    mode_who(st.st_mode, S_IWGRP, S_IWOTH),
		    (unsigned int)(st.st_mode & 07777));
	if ((st.st_mode & S_IROTH) == 0)
		return;
	/* Its line in the file, even when the environment's key won. */
	for (i = 0; i < NSECRETS; i++) {
		k = key_lookup(secrets[i].name) - keys;
		if (c->secret_in_file[k] && c->file[k] == f)
			config_err_add(w, "%s:%d: warning: %s is in a file "
			    "readable by others (mode %04o): use %s_file, or "
			    "chmod o-r the file", path, c->line[k],
			    secrets[i].name, (unsigned int)(st.st_mode & 07777),
			    secrets[i].name);
	}
}

/* A key file is for the supervisor's user alone. */
static void
warn_key_file(const struct config *c, const struct secret_def *d,
    struct config_err *w)
{
	struct stat	 st;
	const char	*path = CFIELD(c, d->file);
	char		 where[CONFIG_WHERE_MAX], name[64];

	if (path == NULL || stat(path, &st) == -1 ||
	    (st.st_mode & (S_IRGRP | S_IROTH)) == 0)
		return;
	snprintf(name, sizeof(name), "%s_file", d->name);
	config_err_add(w, "%s: warning: %s: %s is readable by %s (mode %04o): "
	    "make it 0600, owned by the supervisor's user",
	    config_where(c, name, where, sizeof(where)), name, path,
	    mode_who(st.st_mode, S_IRGRP, S_IROTH),
	    (unsigned int)(st.st_mode & 07777));
}

/* 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and localhost. */
static int
host_is_loopback(const struct url *u)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (strcmp(u->host, "localhost") == 0 ||
	    strcmp(u->host, "localhost.") == 0)
		return 1;
	if (!u->ipv6)
		return inet_pton(AF_INET, u->host, &a4) == 1 &&
		    ntohl(a4.s_addr) >> 24 == 127;
	if (inet_pton(AF_INET6, u->host, &a6) != 1)
		return 0;
	return IN6_IS_ADDR_LOOPBACK(&a6) ||
	    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
}

/* A key goes in a header: over plain http, to anyone on the way. */
static void
warn_plain_http(const struct config *c, struct config_err *w,
    const char *key, const char *url, const char *what)
{
	struct url	u;
	char		where[CONFIG_WHERE_MAX];

	if (url == NULL || url_parse(&u, url, NULL, 0) != URL_E_NONE ||
	    u.https || host_is_loopback(&u))
		return;
	config_err_add(w, "%s: warning: %s: plain http:// to %s%s%s, not this "
	    "host: %s would travel in clear; use https://",
	    config_where(c, key, where, sizeof(where)), key,
	    u.ipv6 ? "[" : "", u.host, u.ipv6 ? "]" : "", what);
}

/* A network of every address lets users' webhooks reach this host. */
static void
warn_webhook_allow(const struct config *c, struct config_err *w)
{
	struct url_allow	a;
	char			where[CONFIG_WHERE_MAX], net[NET_TEXT_MAX];
	size_t			i;

	if (c->webhook_allow == NULL ||
	    url_allow_parse(&a, c->webhook_allow, NULL, 0) == -1)
		return;
	for (i = 0; i < a.n; i++) {
		if (a.nets[i].prefix != 0)
			continue;
		net_format(&a.nets[i], net, sizeof(net));
		config_err_add(w, "%s: warning: webhook_allow: %s lets users' "
		    "webhooks reach every address, this host and its networks "
		    "included", config_where(c, "webhook_allow", where,
		    sizeof(where)), net);
	}
}

int
config_warnings(const struct config *c, struct config_err *w)
{
	int	before = w->count, f;
	size_t	i;

	for (f = 0; f < c->nfiles; f++)
		warn_config_file(c, f, w);
	for (i = 0; i < NSECRETS; i++)
		warn_key_file(c, &secrets[i], w);
	warn_plain_http(c, w, "app_url", c->app_url, "the keys");
	if (c->resend_api_key != NULL)
		warn_plain_http(c, w, "resend_api_url", c->resend_api_url,
		    "the Resend key");
	warn_webhook_allow(c, w);
	return w->count - before;
}
