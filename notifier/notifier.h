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
#include <time.h>

#include <curl/curl.h>
#include <json.h>

#include "jsonnew.h"
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
/*
 * And the email (an address of at most NOTIFY_MAX_ADDRESS bytes, the
 * operator's mail_from, Resend's URL and key, the application's base
 * URL), the integrations (the supervisor passes one whose credentials
 * and config take more than NOTIFY_MAX_CREDENTIALS bytes of JSON as
 * "refused") and the three API bases.
 */
#define NOTIFY_MAX_ADDRESS	254
#define NOTIFY_MAX_FROM		512
#define NOTIFY_MAX_EMAIL	(6 * (NOTIFY_MAX_ADDRESS + NOTIFY_MAX_FROM + \
				    2 * NOTIFY_MAX_URL + NOTIFY_MAX_SECRET) + 512)
#define NOTIFY_MAX_INTEGRATIONS	16
#define NOTIFY_MAX_CREDENTIALS	4096
#define NOTIFY_MAX_INTEGRATION	(NOTIFY_MAX_CREDENTIALS + 512)
#define NOTIFY_MAX_API_BASES	(6 * 3 * NOTIFY_MAX_URL + 512)
#define NOTIFY_MAX_INPUT	(2 * 1024 * 1024)
_Static_assert(NOTIFY_MAX_INPUT >= NOTIFY_MAX_EVENT +
    NOTIFY_MAX_WEBHOOKS * NOTIFY_MAX_HOOK + NOTIFY_MAX_EMAIL +
    NOTIFY_MAX_INTEGRATIONS * NOTIFY_MAX_INTEGRATION + NOTIFY_MAX_API_BASES,
    "the largest alert fits");
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

struct request;

/* What became of an email or an integration. */
struct chan_result {
	int	 done;
	int	 ok;
	int	 retry;			/* failed, and may be tried again */
	char	*error;			/* NULL when ok */
	char	*message_id;		/* an email's; NULL: none */
};

struct email {
	char			*to;		/* checked: mail_check_address */
	char			*from;		/* the operator's mail_from */
	char			*sendmail;	/* the program; NULL: Resend */
	char			*resend_url;
	char			*resend_key;	/* secret */
	char			*app_base_url;	/* for the links */
	struct chan_result	 result;
	struct request		*req;		/* Resend's call */
};

enum integ_type {
	INTEG_TEAMS,
	INTEG_TELEGRAM,
	INTEG_PAGERDUTY,
	INTEG_NOTION,
	INTEG_OTHER,		/* the application sends it nothing either */
};

struct integration {
	char			*id;
	char			*type_name;	/* as given, for the result */
	enum integ_type		 type;
	char			*url;		/* Teams' webhook URL: secret */
	char			*key;		/* the token or key: secret */
	char			*database_id;	/* Notion's */
	json_object		*chat_id;	/* Telegram's, as stored */
	char			 origin[NOTIFY_ORIGIN_MAX];	/* for logs */
	struct chan_result	 result;
	/* While it is delivered (integ.c). */
	struct request		*req[2];
	const struct notice	*notice;
	CURLM			*multi;
	long			 deadline;	/* mono_ms() */
};

/* The API bases (integration_urls), the application's by default. */
struct api_bases {
	char	*telegram;
	char	*pagerduty;
	char	*notion;
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
	struct email		*email;		/* NULL: none asked */
	struct integration	*integs;
	size_t			 ninteg;
	struct api_bases	 api;
};

/* The words of a failed delivery (webhook.c, http.c, integ.c). */
#define REFUSED_DESTINATION	"refused: destination not allowed"
#define REFUSED_CREDENTIALS	"refused: credentials in the URL are not " \
				"allowed"
#define BAD_URL			"bad URL: not an http:// or https:// URL " \
				"with a host"
#define UNREACHABLE		"unreachable"

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
void	 js_write(FILE *, json_object *);
const char **js_keys(json_object *, size_t *);
void	 js_write_number(FILE *, double);

/* body.c: the documents sent, malloc'd. */
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
void	 webhook_free(CURLM *, struct transfer *);
int	 webhook_origin(const char *url, char *origin, size_t);

/* deliver.c: every channel once; the results go into the notice. */
int	 deliver(struct notice *, const char *generic);

/* command.c: see deliver.c for the loop around them. */
struct command;
struct command *command_run(const char *path, char *const argv[],
	    char **env, const char *input, size_t len, long timeout_ms);
struct command *command_start(const struct notice *, const char *input,
	    size_t len);
int	 command_fds(const struct command *, int fds[3]);
long	 command_wait_ms(const struct command *, long now);
int	 command_step(struct command *, long now);
void	 command_finish(struct command *, struct command_result *);

/*
 * cmdenv.c: the command's environment (NULL-terminated), with the
 * values made of the title: one line of at most CMDENV_TITLE_MAX
 * characters, and that line as RFC 2047 encoded words.
 */
#define CMDENV_TITLE_MAX	250
char	**cmdenv_build(const struct notice *);
void	 cmdenv_free(char **);

/*
 * What deliver.c's loop knows of a transfer: CURLOPT_PRIVATE of each
 * points to one, as the first member of the webhook's or the call's.
 */
struct xfer {
	void	(*finish)(struct xfer *, CURLcode);
};

/* jsvalue.c: JavaScript's view of a metadata value. */
int	 js_member(json_object *, const char *key, json_object **);
int	 js_truthy(int present, json_object *);
int	 js_is_number(int present, json_object *);
char	*js_string(int present, json_object *);
double	 js_number(int present, json_object *);
double	 js_round(double);
void	 js_number_string(double, char *, size_t);
void	 js_to_fixed(double, int digits, char *, size_t);
void	 js_duration(double ms, char *, size_t);
size_t	 js_length(const char *);
char	*js_slice(const char *, size_t units);
char	*js_utf8(const char *);
char	*js_lower(const char *);

/* mailfmt.c: the application's email, subject, text and HTML. */
struct mail_text {
	char	*subject;
	char	*text;
	char	*html;
};

#define APP_BASE_URL	"https://finetunelab.ai"	/* the app's default */

void	 mailfmt(const struct event *, const char *base, struct mail_text *);
void	 mailfmt_free(struct mail_text *);

/* mime.c: the message sendmail reads. */
struct mime {
	const char	*alert_id, *from, *to, *message_id;
};

void	 mime_domain(const char *from, char *, size_t);
/*
 * s (valid UTF-8) as RFC 2047 encoded words, "=?UTF-8?B?...?=", each of
 * whole characters, at most max bytes of them (and at most 57): first
 * before the first word, between before each other.
 */
void	 mime_words(FILE *, const char *s, size_t max, const char *first,
	    const char *between);
char	*mime_message(const struct mime *, const struct mail_text *,
	    time_t now);

/* http.c: a call to an API beside the webhooks. */
struct request_spec {
	const char		*url;
	const char		*body;		/* NULL: a GET */
	const char *const	*headers;	/* NULL-terminated lines */
	long			 timeout_ms;
	const struct url_allow	*allow;
	size_t			 answer_max;	/* bytes of the answer kept */
};

struct outcome {
	int	ok, retry;
	long	status;
	char	error[NOTIFY_MAX_ERROR];	/* the user's, when not ok */
	char	detail[NOTIFY_MAX_ERROR];	/* the log's, or "" */
};

struct request *request_start(CURLM *, const struct request_spec *,
	    void (*)(struct request *, void *), void *);
void	 request_free(CURLM *, struct request *);
const char *request_answer(const struct request *, size_t *, int *);
void	 request_outcome(const struct request *, struct outcome *);

/* email.c: the email, through sendmail or Resend. */
int	 mail_check_address(const char *);
struct command *email_start(CURLM *, struct notice *);
void	 email_finish(CURLM *, struct notice *, struct command *);

/* integ.c and one file for each kind: the integrations. */
#define INTEG_EMOJI	"\xf0\x9f\x93\xa2"	/* the app's for these types */

struct integ_event {
	const char	*type, *title;
	char		*bare_type;	/* the type without its "job_" */
	char		*job_id;
	char		*model_name;	/* NULL: undefined */
	char		*status;
	char		*error;		/* NULL: undefined */
	char		*duration;	/* NULL: undefined */
	int		 has_loss;
	double		 loss;
};

void	 integ_event_get(const struct event *, struct integ_event *);
void	 integ_event_free(struct integ_event *);
const char *integ_type_name(enum integ_type);
int	 integ_type_from(const char *, enum integ_type *);
void	 integrations_start(CURLM *, struct notice *);
void	 integrations_finish(CURLM *, struct notice *);
int	 integ_call(struct integration *, const char *url, const char *body,
	    const char *const *headers, size_t answer_max,
	    void (*)(struct request *, void *));
void	 integ_result(struct integration *, const struct outcome *);
void	 integ_fail(struct integration *, const char *error, int retry);
void	 integ_api_error(struct outcome *, const struct request *,
	    const char *member);
void	 integ_checked_result(struct request *, struct integration *,
	    int (*said)(const struct request *), const char *word, int retry,
	    const char *member);
json_object *integ_answer(const struct request *);

char	*teams_body(const struct integ_event *);
void	 teams_start(struct integration *, const struct integ_event *);
char	*telegram_text(const struct integ_event *);
char	*telegram_body(const struct integ_event *, json_object *chat_id);
void	 telegram_start(struct integration *, const struct integ_event *);
char	*pagerduty_body(const struct integ_event *, const char *alert_id,
	    const char *routing_key);
void	 pagerduty_start(struct integration *, const struct integ_event *);
char	*notion_page(const struct integ_event *, const char *database_id,
	    json_object *database);
void	 notion_start(struct integration *, const struct integ_event *);

/* result.c */
char	*result_to_json(const struct notice *, const char *error);

/* notifier.c */

#endif
