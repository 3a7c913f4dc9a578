/*
 * evalsched-notifier(8): one alert in, its deliveries out.
 *
 * The supervisor forks it with one alert on stdin (the event, the
 * webhooks with their secrets, the operator's command) and reads what
 * became of each channel on stdout; the database work is the
 * supervisor's.
 */
#ifndef EVALSCHED_NOTIFIER_H
#define EVALSCHED_NOTIFIER_H

#include <stddef.h>
#include <stdio.h>

#include <curl/curl.h>
#include <json.h>

#include "url.h"
#include "util.h"

/*
 * The document on stdin fits the largest alert the supervisor hands
 * over, every text a user wrote at its cap and each of its characters at
 * its longest in JSON (6 bytes: \u001b): an event under NOTIFY_MAX_EVENT
 * (at most 200 characters of a name, 1000 of an error text, in its
 * title, message and metadata: etc/schema-additions.sql), and
 * NOTIFY_MAX_WEBHOOKS webhooks, a URL of at most NOTIFY_MAX_URL
 * characters and a secret of at most NOTIFY_MAX_SECRET each
 * (supervisor/alerts.c passes a longer one as "refused").
 */
#define NOTIFY_MAX_EVENT	(32 * 1024)
#define NOTIFY_MAX_WEBHOOKS	100
#define NOTIFY_MAX_URL		2048
#define NOTIFY_MAX_SECRET	1024
#define NOTIFY_MAX_HOOK		(6 * (NOTIFY_MAX_URL + NOTIFY_MAX_SECRET) + 512)
#define NOTIFY_MAX_INPUT	(2 * 1024 * 1024)
_Static_assert(NOTIFY_MAX_INPUT >= NOTIFY_MAX_EVENT +
    NOTIFY_MAX_WEBHOOKS * NOTIFY_MAX_HOOK, "the largest alert fits");
#define NOTIFY_DEFAULT_TIMEOUT_MS 10000L
#define NOTIFY_MAX_TIMEOUT_MS	(600L * 1000)
#define NOTIFY_KILL_GRACE_MS	2000L	/* SIGTERM to SIGKILL */
#define NOTIFY_MAX_ERROR	512	/* bytes of any error text */
#define NOTIFY_ORIGIN_MAX	300	/* "scheme://host:port" */
#define SIGN_HEX_LEN		64	/* HMAC-SHA256 in hexadecimal */

enum event_type {
	EVENT_FAILED,
	EVENT_DISABLED,
	EVENT_REGRESSION,
	/* A metric alert rule's, of the application's worker's types. */
	EVENT_TRACE_LATENCY_HIGH,
	EVENT_TRACE_ERROR_RATE_HIGH,
	EVENT_TRACE_COST_HIGH,
	EVENT_TRACE_THROUGHPUT_LOW,
	EVENT_TRACE_TTFT_HIGH,
	EVENT_ANOMALY_CRITICAL,
};


enum hook_type {
	HOOK_GENERIC,
	HOOK_SLACK,
	HOOK_DISCORD,
};

/*
 * The event.  The members point into the parsed input, which the
 * notice keeps: json-c knows each string's length, NULs included.
 */
struct event {
	enum event_type	 type;
	json_object	*type_name;
	json_object	*title;
	json_object	*message;
	json_object	*timestamp;
	json_object	*metadata;	/* an object; the empty one if absent */
};

struct hook_result {
	int	 done;
	int	 ok;
	int	 retry;			/* failed, and may be tried again */
	long	 status_code;		/* 0: none (null) */
	char	*error;			/* NULL when ok */
};

struct hook {
	char			*id;
	char			*url;		/* secret: Slack's, Discord's */
	enum hook_type		 type;
	char			*secret;	/* NULL or "": no signature */
	char			 origin[NOTIFY_ORIGIN_MAX];	/* for logs */
	struct hook_result	 result;
};

struct command_result {
	int	 ran;			/* the command was asked for */
	int	 ok;
	int	 exit_status;		/* -1: none (null) */
	int	 signal;		/* -1: none (null) */
	char	*error;			/* NULL when ok */
};

struct notice {
	json_object		*root;		/* the parsed input, kept */
	char			*alert_id;
	struct event		 event;
	struct hook		*hooks;
	size_t			 nhooks;
	char			*command;	/* NULL: none */
	long			 timeout_ms;
	struct url_allow	 allow;		/* webhook_allow */
	struct command_result	 command_result;
};

/*
 * input.c: 0, or -1 with err set (a bad document), when the notice holds
 * only the alert_id, if it was read.  notice_free it either way.
 */
int	 notice_from_json(struct notice *, const char *text, size_t len,
	    char *err, size_t);
void	 notice_free(struct notice *);
const char *hook_type_name(enum hook_type);

/* jsonjs.c: JSON text as JavaScript's JSON.stringify writes it. */
char	*js_stringify(json_object *);
int	 js_write(FILE *, json_object *);
void	 js_write_string(FILE *, const char *, size_t);
void	 js_write_number(FILE *, double);

/* body.c: the documents sent; malloc'd, NULL when out of memory. */
char	*body_generic(const struct event *);
char	*body_for(const struct event *, enum hook_type);

/* facts.c: what a chat message says, from the event and its metadata. */
#define FACTS_MAX_METRICS	8

struct metric {
	const char	*name;		/* "Quality score", or the key */
	double		 baseline, current, change, threshold;
	int		 has_baseline, has_current, has_change, has_threshold;
};

struct facts {
	enum event_type	 type;
	const char	*title, *message, *timestamp;
	const char	*schedule, *model, *status, *error;	/* NULL: unknown */
	long long	 total, succeeded, failed, consecutive;	/* -1: unknown */
	struct metric	 metrics[FACTS_MAX_METRICS];
	size_t		 nmetrics;
};

void	 facts_get(const struct event *, struct facts *);
void	 facts_what(const struct facts *, char *, size_t);
int	 facts_prompts(const struct facts *, char *, size_t);
void	 facts_metric(const struct metric *, char *, size_t);
void	 facts_one_line(const struct facts *, char *, size_t);
void	 utf8_tidy_end(char *);

/* chat.c: building a document, the first failure sticking. */
struct chat {
	int	failed;
};

json_object *chat_object(struct chat *);
json_object *chat_array(struct chat *);
json_object *chat_string(struct chat *, const char *);
json_object *chat_int(struct chat *, long long);
json_object *chat_bool(struct chat *, int);
void	 chat_set(struct chat *, json_object *, const char *, json_object *);
void	 chat_push(struct chat *, json_object *, json_object *);
char	*chat_format(struct chat *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
json_object *chat_done(struct chat *, json_object *);

/* slack.c, discord.c */
json_object *slack_message(const struct event *);
json_object *discord_message(const struct event *);

/* sign.c: 0 and hex filled, or -1. */
int	 sign_hex(const char *secret, size_t secretlen, const char *body,
	    size_t bodylen, char hex[SIGN_HEX_LEN + 1]);

/* webhook.c */
struct transfer;
struct transfer *webhook_start(CURLM *, struct hook *, const struct notice *,
	    const char *generic);
void	 webhook_finish(struct transfer *, CURLcode);
void	 webhook_free(CURLM *, struct transfer *);
int	 webhook_origin(const char *url, char *origin, size_t);
void	 webhook_redact(char *text, const struct hook *);

/* deliver.c: every channel once; the results go into the notice. */
int	 deliver(struct notice *, const char *generic);

/* command.c: see deliver.c for the loop around them. */
struct command;
struct command *command_start(const struct notice *, const char *input,
	    size_t len);
int	 command_fds(const struct command *, int fds[3]);
long	 command_wait_ms(const struct command *, long now);
int	 command_step(struct command *, long now);
void	 command_finish(struct command *, struct command_result *);

/*
 * cmdenv.c: the command's environment (NULL-terminated; NULL when out of
 * memory), and the values made of the title: one line of at most
 * CMDENV_TITLE_MAX characters, and that line as RFC 2047 encoded words.
 */
#define CMDENV_TITLE_MAX	250
char	**cmdenv_build(const struct notice *);
void	 cmdenv_free(char **);
char	*cmdenv_title(const char *);
char	*cmdenv_subject(const char *line);

/* result.c */
char	*result_to_json(const struct notice *, const char *error);

/* notifier.c */

#endif
