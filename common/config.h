/*
 * evalsched.conf(5): one struct, parsed in one place.  Errors are
 * reported as "file:line: message", one per line, in a caller's buffer.
 */
#ifndef EVALSCHED_CONFIG_H
#define EVALSCHED_CONFIG_H

#include <limits.h>
#include <stddef.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#ifndef LIBEXECDIR
#define LIBEXECDIR	"/usr/local/libexec/evalsched"
#endif
#define CONFIG_DEFAULT_PATH	SYSCONFDIR "/evalsched/evalsched.conf"
#define CONFIG_MAX_KEYS		64	/* room for the keys of line[] */

struct config {
	char	*path;			/* the main file, for messages */
	char	**files;		/* every file read: path, then conf.d's */
	int	 nfiles;
	char	*database;		/* libpq conninfo or URI; "" = defaults */
	char	*monitor_database;	/* evalschedctl status, metrics; NULL: unset */
	char	*app_url;		/* no trailing slash */
	char	*service_role_key;	/* secret: never logged */
	char	*service_role_key_file;
	char	*jobrunner;
	char	*pidfile;
	char	*user;
	char	*spool_dir;
	char	*node_name;		/* default: the host name */
	char	*tls_ca_file;		/* "" = the system's CA store */
	char	*encryption_key;	/* secret: the application's ENCRYPTION_KEY */
	char	*encryption_key_file;
	char	*alert_command;		/* NULL: none */
	char	*notifier;		/* evalsched-notifier's path */
	char	*webhook_allow;		/* NULL: none; "10.0.0.0/8, ::1/128" */
	char	*log;			/* a daemon's: syslog, stderr, a file */
	char	*app_link_url;		/* NULL: app_url, in email links */
	char	*mail_from;		/* From: of the alerts' email */
	char	*sendmail;		/* the mail transfer agent */
	char	*resend_api_key;	/* secret; set: email goes through Resend */
	char	*resend_api_key_file;
	char	*resend_api_url;	/* Resend's send endpoint */
	char	*telegram_api_url;	/* the integrations' API bases */
	char	*pagerduty_events_url;
	char	*notion_api_url;
	int	 poll_interval;
	int	 max_concurrent;
	int	 max_consecutive_failures;
	int	 run_timeout;
	int	 shutdown_grace;
	int	 lease;
	int	 listen;
	int	 log_debug;
	int	 completion_timeout;	/* seconds a batch test may take */
	int	 quality_settle;	/* seconds from a batch's end to final quality */
	int	 run_retention;		/* days of run history; 0 = all */
	int	 alert_retry;		/* seconds an alert is retried */
	/* Where each key came from, for messages: see config_where. */
	int	 line[CONFIG_MAX_KEYS];	/* its line; 0: in no file */
	int	 file[CONFIG_MAX_KEYS];	/* ... of files[this] */
	char	*env[CONFIG_MAX_KEYS];	/* the variable that set it, or NULL */
	unsigned char secret_in_file[CONFIG_MAX_KEYS];	/* a non-empty secret */
};

#define CONFIG_MAX_CONCURRENT	1024

struct config_err {
	char	*buf;	/* NUL-terminated; lines of "file:line: message" */
	size_t	 len;
	int	 count;
};

void	config_defaults(struct config *);
void	config_free(struct config *);
/*
 * Reads path (NULL: the default path, which may then be missing), then
 * the *.conf files of the conf.d directory beside it in name order, a
 * later file overriding an earlier one (a key twice in one file is an
 * error); no environment, no key file.  Returns the number of errors;
 * each is appended to err.
 */
int	config_read(struct config *, const char *path, struct config_err *);
/*
 * config_read, then the environment overrides and the key files.
 */
int	config_load(struct config *, const char *path, struct config_err *);
/*
 * Parses an in-memory text as if read from name, after the files read
 * before: its keys override theirs.
 */
int	config_parse_text(struct config *, const char *name, const char *text,
	    struct config_err *);
/*
 * The environment, over the files: EVALSCHED_ and a key's name in
 * capitals for every key, the application's own names for app_url and
 * the secrets, and a secret's *_FILE variables (evalsched.conf(5),
 * ENVIRONMENT).  A bad value is "environment: VARIABLE: message".
 */
int	config_apply_env(struct config *, struct config_err *);
/*
 * Every key, in the order of the table, for -n's list: its name, whether
 * its value is a secret never to show, its value as a file would write
 * it (NULL: not set), and where that came from: "environment: VARIABLE",
 * "file:line", "read from PATH" (a secret from its file) or "default".
 */
size_t	config_nkeys(void);
const char *config_key_name(size_t);
int	config_key_secret(size_t);
const char *config_value(const struct config *, size_t, char *buf,
	    size_t len);
const char *config_origin(const struct config *, size_t, char *buf,
	    size_t len);
/* The supervisor cannot run without a key; the ops tool can. */
int	config_require_key(const struct config *, struct config_err *);
/*
 * Where key got its value, for a message: "file:line", "environment:
 * VARIABLE", or the file alone (a default).  Returns buf.
 */
#define CONFIG_WHERE_MAX	(PATH_MAX + 32)
const char *config_where(const struct config *, const char *key, char *buf,
	    size_t);
/*
 * Settings that work but put a key at risk: a key file readable by its
 * group or others, a key in a file readable by others, a file read
 * writable by its group or others, app_url sending the key in clear to
 * another host; and webhook_allow opening every address to users'
 * webhooks.  Appends one "where: warning: what" line each to warn;
 * returns how many.  Files that cannot be looked at are passed over.
 */
int	config_warnings(const struct config *, struct config_err *warn);
void	config_err_add(struct config_err *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	config_err_free(struct config_err *);

#endif
