/*
 * The job protocol: the job the supervisor writes on a jobrunner's stdin,
 * the result the jobrunner writes on its stdout, the request body it
 * sends, and the outcome class of an HTTP answer.
 *
 * No error text here ever quotes a value from a job: a value may be, or
 * may contain, a secret.  Errors name the field instead.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include <json.h>

#include "job.h"
#include "json1.h"
#include "jsonget.h"
#include "jsonnew.h"
#include "text.h"
#include "url.h"
#include "util.h"

#define JSON_DEPTH	64
#define URL_MAX		2048
#define TO_STRING_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static int
set_err(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
job_is_uuid(const char *s)
{
	static const char	pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t			i;

	if (s == NULL)
		return 0;
	for (i = 0; pattern[i] != '\0'; i++) {
		if (pattern[i] == '-' ? s[i] != '-' :
		    !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return s[i] == '\0';
}

/* Exactly one JSON value fills text[0..len); a JSON null is a NULL *out. */
static int
parse_json(const char *text, size_t len, json_object **out, char *err,
    size_t errlen)
{
	char	why[128];

	*out = NULL;
	if (len > JOB_MAX_TEXT)
		return set_err(err, errlen, "larger than %d bytes",
		    JOB_MAX_TEXT);
	if (json1_parse(text, len, JSON_DEPTH, out, why, sizeof(why)) == -1)
		return set_err(err, errlen, "not JSON: %s", why);
	return 0;
}

/* A string member; a required one must not be "". */
static int
take_string(json_object *obj, const char *key, int required, char **dst,
    char *err, size_t errlen)
{
	const char	*s;
	int		 r;

	if ((r = jget_text(obj, NULL, key, required ? JGET_NONEMPTY :
	    JGET_OPTIONAL, &s, err, errlen)) <= 0)
		return r;
	*dst = xstrdup(s);
	return 0;
}

static int
take_uuid(json_object *obj, const char *key, char **dst, char *err,
    size_t errlen)
{
	if (take_string(obj, key, 1, dst, err, errlen) < 0)
		return -1;
	if (!job_is_uuid(*dst))
		return set_err(err, errlen, "%s is not a UUID", key);
	return 0;
}

static int
take_app_url(json_object *obj, struct job *job, char *err, size_t errlen)
{
	char	why[128];
	size_t	len;

	if (take_string(obj, "app_url", 1, &job->app_url, err, errlen) < 0)
		return -1;
	len = strlen(job->app_url);
	if (len > URL_MAX)
		return set_err(err, errlen, "app_url is longer than %d bytes",
		    URL_MAX);
	/* "http://host/" and "http://host" name the same base. */
	while (len > 0 && job->app_url[len - 1] == '/')
		job->app_url[--len] = '\0';
	/* The same check as the configuration's: see url.h. */
	if (url_check_app(job->app_url, why, sizeof(why)) == -1)
		return set_err(err, errlen, "app_url %s", why);
	return 0;
}

/* The key goes into a header line: no CR, LF or other control bytes. */
static int
take_key(json_object *obj, struct job *job, char *err, size_t errlen)
{
	if (take_string(obj, "service_role_key", 1, &job->service_role_key,
	    err, errlen) < 0)
		return -1;
	if (text_has_control(job->service_role_key))
		return set_err(err, errlen,
		    "service_role_key contains control characters");
	return 0;
}

/* An optional string; "" is taken as absent (NULL), as the application does. */
static int
take_optional(json_object *obj, const char *key, char **dst, char *err,
    size_t errlen)
{
	const char	*s;
	int		 r;

	if ((r = jget_text(obj, NULL, key, JGET_OPTIONAL, &s, err,
	    errlen)) <= 0 || *s == '\0')
		return r < 0 ? -1 : 0;
	*dst = xstrdup(s);
	return 0;
}

/*
 * The schedule's encrypted API key and the key to it.  That one is there
 * without the other is the jobrunner's to report, as a failed run.
 */
static int
take_api_key(json_object *obj, struct job *job, char *err, size_t errlen)
{
	if (take_optional(obj, "api_key_encrypted", &job->api_key_encrypted,
	    err, errlen) < 0 ||
	    take_optional(obj, "encryption_key", &job->encryption_key,
	    err, errlen) < 0)
		return -1;
	return 0;
}

static int
take_config(json_object *obj, struct job *job, char *err, size_t errlen)
{
	json_object	*v;
	const char	*s = "{}";

	if ((v = jget(obj, "batch_test_config")) != NULL) {
		if (!json_object_is_type(v, json_type_object))
			return set_err(err, errlen,
			    "batch_test_config is not a JSON object");
		s = jtext(v, TO_STRING_FLAGS);
	}
	job->batch_test_config = xstrdup(s);
	return 0;
}

static int
take_timeout(json_object *obj, struct job *job, char *err, size_t errlen)
{
	int64_t	v = JOB_DEFAULT_TIMEOUT_MS;

	if (jget_int(obj, NULL, "timeout_ms", 1, JOB_MAX_TIMEOUT_MS, &v, err,
	    errlen) < 0)
		return -1;
	job->timeout_ms = (long)v;
	return 0;
}

static int
take_job(json_object *obj, struct job *job, char *err, size_t errlen)
{
	if (!json_object_is_type(obj, json_type_object))
		return set_err(err, errlen, "not a JSON object");
	if (take_uuid(obj, "run_id", &job->run_id, err, errlen) < 0 ||
	    take_uuid(obj, "schedule_id", &job->schedule_id, err, errlen) < 0 ||
	    take_string(obj, "schedule_name", 0, &job->schedule_name,
	    err, errlen) < 0 ||
	    take_uuid(obj, "user_id", &job->user_id, err, errlen) < 0 ||
	    take_uuid(obj, "test_suite_id", &job->test_suite_id,
	    err, errlen) < 0 ||
	    take_string(obj, "model_id", 1, &job->model_id, err, errlen) < 0 ||
	    take_config(obj, job, err, errlen) < 0 ||
	    take_optional(obj, "test_run_name", &job->test_run_name,
	    err, errlen) < 0 ||
	    take_app_url(obj, job, err, errlen) < 0 ||
	    take_key(obj, job, err, errlen) < 0 ||
	    take_api_key(obj, job, err, errlen) < 0 ||
	    take_string(obj, "tls_ca_file", 0, &job->tls_ca_file,
	    err, errlen) < 0 ||
	    take_string(obj, "result_dir", 0, &job->result_dir,
	    err, errlen) < 0 ||
	    take_timeout(obj, job, err, errlen) < 0)
		return -1;
	if (job->schedule_name == NULL)
		job->schedule_name = xstrdup("");
	return 0;
}

/* Secrets in a job, whose copies in json-c are wiped before it frees them. */
static void
wipe_job_secrets(json_object *obj)
{
	json1_wipe_member(obj, "service_role_key");
	json1_wipe_member(obj, "encryption_key");
}

int
job_from_json(struct job *job, const char *text, char *err, size_t errlen)
{
	json_object	*obj;
	int		 r;

	memset(job, 0, sizeof(*job));
	if (text == NULL)
		return set_err(err, errlen, "no job");
	if (parse_json(text, strlen(text), &obj, err, errlen) == -1)
		return -1;
	r = take_job(obj, job, err, errlen);
	wipe_job_secrets(obj);
	json_object_put(obj);
	if (r < 0)
		job_free(job);
	return r;
}

void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	free(job->run_id);
	free(job->schedule_id);
	free(job->schedule_name);
	free(job->user_id);
	free(job->test_suite_id);
	free(job->model_id);
	free(job->batch_test_config);
	free(job->test_run_name);
	free(job->app_url);
	text_free_secret(job->service_role_key);
	free(job->api_key_encrypted);
	text_free_secret(job->encryption_key);
	free(job->tls_ca_file);
	free(job->result_dir);
	memset(job, 0, sizeof(*job));
}

/* Adds key: s, or null for NULL. */
static void
add_string(json_object *obj, const char *key, const char *s)
{
	jset(obj, key, jnew_string(s));
}

/* Adds key: s only when s is set: a job without an API key says nothing. */
static void
add_optional(json_object *obj, const char *key, const char *s)
{
	if (s != NULL && *s != '\0')
		add_string(obj, key, s);
}

static void
add_int(json_object *obj, const char *key, int64_t n)
{
	jset(obj, key, jnew_int(n));
}

/* Parses a batch_test_config text; NULL or "" is the empty object. */
static json_object *
parse_config(const char *text, char *err, size_t errlen)
{
	json_object	*obj;

	if (text == NULL || *text == '\0')
		return jnew_object();
	if (parse_json(text, strlen(text), &obj, err, errlen) == -1)
		return NULL;
	/* A NULL jsonb column may come as "" or as a JSON null. */
	if (obj == NULL)
		return jnew_object();
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		set_err(err, errlen, "batch_test_config is not a JSON object");
		return NULL;
	}
	return obj;
}

/*
 * Returns a malloc'd copy of obj's text and drops obj, with no copy of a
 * secret left in what json-c frees: the text it printed, its strings.
 */
static char *
to_text(json_object *obj)
{
	char	*printed, *s;

	printed = (char *)(uintptr_t)jtext(obj, TO_STRING_FLAGS);
	s = xstrdup(printed);
	explicit_bzero(printed, strlen(printed));
	wipe_job_secrets(obj);
	json_object_put(obj);
	return s;
}

static void
add_job_fields(json_object *obj, const struct job *job, json_object *cfg)
{
	add_string(obj, "run_id", job->run_id);
	add_string(obj, "schedule_id", job->schedule_id);
	add_string(obj, "schedule_name", job->schedule_name);
	add_string(obj, "user_id", job->user_id);
	add_string(obj, "test_suite_id", job->test_suite_id);
	add_string(obj, "model_id", job->model_id);
	jset(obj, "batch_test_config", cfg);
	add_optional(obj, "test_run_name", job->test_run_name);
	add_string(obj, "app_url", job->app_url);
	add_string(obj, "service_role_key", job->service_role_key);
	add_optional(obj, "api_key_encrypted", job->api_key_encrypted);
	add_optional(obj, "encryption_key", job->encryption_key);
	add_string(obj, "tls_ca_file", job->tls_ca_file);
	add_string(obj, "result_dir", job->result_dir);
	add_int(obj, "timeout_ms", job->timeout_ms);
}

char *
job_to_json(const struct job *job)
{
	json_object	*obj, *cfg;

	if ((cfg = parse_config(job->batch_test_config, NULL, 0)) == NULL)
		return NULL;
	obj = jnew_object();
	add_job_fields(obj, job, cfg);
	return to_text(obj);
}

/*
 * The white space JavaScript's String.prototype.trim() removes: its
 * WhiteSpace (tab, VT, FF, space, NBSP, ZWNBSP, the Zs category) and
 * LineTerminator (LF, CR, LS, PS).  NEL (U+0085) and U+180E are not.
 */
static int
js_space(long cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0xa0 ||
	    cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	    cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
	    cp == 0x3000 || cp == 0xfeff;
}

/* The length of the white space s[0..len) starts with. */
static size_t
js_space_head(const unsigned char *s, size_t len)
{
	size_t	i = 0, n;
	long	cp;

	while (i < len) {
		n = text_utf8_next(s + i, len - i, 0, &cp);
		if (!js_space(cp))
			break;
		i += n;
	}
	return i;
}

/*
 * The length of s[0..len) without the white space it ends with.  The
 * last character starts at the last byte that is not a continuation
 * byte, and is one only if it runs to the end, well-formed.
 */
static size_t
js_space_tail(const unsigned char *s, size_t len)
{
	size_t	start;
	long	cp;

	while (len > 0) {
		start = len - 1;
		while (start > 0 && len - start < 4 && (s[start] & 0xc0) == 0x80)
			start--;
		if (text_utf8_next(s + start, len - start, 0, &cp) !=
		    len - start || !js_space(cp))
			break;
		len = start;
	}
	return len;
}

/* s (len bytes) trimmed as JavaScript trims, as a new string; NULL: blank. */
static char *
js_trimmed(const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 head, end;

	head = js_space_head(u, len);
	end = head + js_space_tail(u + head, len - head);
	if (end == head)
		return NULL;
	return xstrndup(s + head, end - head);
}

/*
 * The config's test_run_name, trimmed, when the route would take it
 * (config.test_run_name?.trim() || a name of its own): a string that is
 * not blank.  NULL otherwise.
 */
static char *
config_name(json_object *cfg)
{
	json_object	*v = jget(cfg, "test_run_name");

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	return js_trimmed(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v));
}

char *
job_batch_name(const char *batch_test_config, const char *ours)
{
	json_object	*cfg = NULL;
	char		*name;

	if (batch_test_config != NULL)
		(void)json1_parse(batch_test_config, strlen(batch_test_config),
		    JSON_DEPTH, &cfg, NULL, 0);
	name = config_name(cfg);
	json_object_put(cfg);
	if (name != NULL || ours == NULL)
		return name;
	return js_trimmed(ours, strlen(ours));
}

/*
 * Our name for the batch test, unless the config names it: a config
 * whose test_run_name is not a string would make the route throw, and a
 * blank one would have it make up a name of its own.
 */
static void
add_test_run_name(json_object *cfg, const char *ours)
{
	char	*name;

	if (ours == NULL)
		return;
	if ((name = config_name(cfg)) != NULL)
		free(name);
	else
		add_string(cfg, "test_run_name", ours);
}

char *
job_request_body(const struct job *job, char *err, size_t errlen)
{
	json_object	*cfg, *body;

	if ((cfg = parse_config(job->batch_test_config, err, errlen)) == NULL)
		return NULL;
	/* Adding a key that exists replaces its value: ours win. */
	add_string(cfg, "model_id", job->model_id);
	add_string(cfg, "test_suite_id", job->test_suite_id);
	add_test_run_name(cfg, job->test_run_name);
	body = jnew_object();
	jset(body, "config", cfg);
	return to_text(body);
}

static const char *const api_key_names[] = {
	[API_KEY_NONE] = NULL,
	[API_KEY_OPENED] = "opened",
	[API_KEY_UNOPENED] = "unopened",
};

char *
job_result_to_json(const struct job_result *res)
{
	json_object	*obj = jnew_object();
	char		*error = NULL;

	if (res->error != NULL) {
		error = xstrdup(res->error);
		text_trim(error, JOB_MAX_ERROR);
	}
	add_int(obj, "http_status", res->http_status);
	if (res->curl_code != 0)
		add_int(obj, "curl_code", res->curl_code);
	add_string(obj, "blame", blame_name(res->blame));
	add_string(obj, "test_run_id", res->test_run_id);
	add_int(obj, "attempts", res->attempts);
	add_int(obj, "elapsed_ms", res->elapsed_ms);
	add_string(obj, "error", error);
	if (res->ambiguous)
		jset(obj, "ambiguous", jnew_bool(1));
	add_optional(obj, "api_key", api_key_names[res->api_key]);
	free(error);
	return to_text(obj);
}

/* "blame" is optional: a result of an older jobrunner has none. */
static int
take_blame(json_object *obj, struct job_result *res, char *err,
    size_t errlen)
{
	const char	*s = NULL;
	int		 r;

	if ((r = jget_text(obj, NULL, "blame", JGET_OPTIONAL, &s, err,
	    errlen)) <= 0)
		return r;
	if ((res->blame = blame_from_name(s)) == BLAME_NONE)
		return set_err(err, errlen, "blame is neither schedule nor "
		    "platform");
	return 0;
}

/* "api_key": "opened", "unopened", null or absent. */
static int
take_api_key_state(json_object *obj, struct job_result *res, char *err,
    size_t errlen)
{
	const char	*s = NULL;
	int		 r;

	if ((r = jget_text(obj, NULL, "api_key", JGET_OPTIONAL, &s, err,
	    errlen)) <= 0)
		return r;
	if (strcmp(s, "opened") == 0)
		res->api_key = API_KEY_OPENED;
	else if (strcmp(s, "unopened") == 0)
		res->api_key = API_KEY_UNOPENED;
	else
		return set_err(err, errlen, "api_key is neither opened nor "
		    "unopened");
	return 0;
}

static int
take_result(json_object *obj, struct job_result *res, char *err,
    size_t errlen)
{
	int64_t	status = 0, curl = 0, attempts = 0, elapsed = 0;

	if (!json_object_is_type(obj, json_type_object))
		return set_err(err, errlen, "not a JSON object");
	if (jget_int(obj, NULL, "http_status", 0, 999, &status, err,
	    errlen) < 0 ||
	    jget_int(obj, NULL, "curl_code", 0, 1000, &curl, err, errlen) < 0 ||
	    jget_int(obj, NULL, "attempts", 0, 1000, &attempts, err,
	    errlen) < 0 ||
	    jget_int(obj, NULL, "elapsed_ms", 0, INT32_MAX, &elapsed, err,
	    errlen) < 0)
		return -1;
	res->http_status = (int)status;
	res->curl_code = (int)curl;
	res->attempts = (int)attempts;
	res->elapsed_ms = (long)elapsed;
	if (take_string(obj, "test_run_id", 0, &res->test_run_id,
	    err, errlen) < 0 ||
	    take_string(obj, "error", 0, &res->error, err, errlen) < 0)
		return -1;
	if (res->test_run_id != NULL && !job_is_uuid(res->test_run_id))
		return set_err(err, errlen, "test_run_id is not a UUID");
	if (take_blame(obj, res, err, errlen) < 0 ||
	    jget_bool(obj, NULL, "ambiguous", &res->ambiguous, err,
	    errlen) < 0 ||
	    take_api_key_state(obj, res, err, errlen) < 0)
		return -1;
	text_trim(res->error, JOB_MAX_ERROR);
	return 0;
}

int
job_result_from_json(struct job_result *res, const char *text, char *err,
    size_t errlen)
{
	json_object	*obj;
	int		 r;

	memset(res, 0, sizeof(*res));
	if (text == NULL)
		return set_err(err, errlen, "no result");
	if (parse_json(text, strlen(text), &obj, err, errlen) == -1)
		return -1;
	r = take_result(obj, res, err, errlen);
	json_object_put(obj);
	if (r < 0)
		job_result_free(res);
	return r;
}

void
job_result_free(struct job_result *res)
{
	if (res == NULL)
		return;
	free(res->test_run_id);
	free(res->error);
	memset(res, 0, sizeof(*res));
}

int
job_exit_for_http(int status, int has_test_run_id)
{
	if (status == 0 || status == 408 || status == 429 ||
	    (status >= 500 && status <= 599))
		return EX_TEMPFAIL;
	if (status >= 200 && status <= 299)
		return has_test_run_id ? EX_OK : EX_PROTOCOL;
	/* We follow no redirects: a 3xx is a wrong app_url, as a 4xx. */
	if (status >= 300 && status <= 499)
		return EX_UNAVAILABLE;
	return EX_PROTOCOL;
}

int
job_answer_test_run_id(const char *body, size_t len, char **id, char *err,
    size_t errlen)
{
	json_object	*obj;
	const char	*s;
	int		 r;

	*id = NULL;
	if (body == NULL || memchr(body, '\0', len) != NULL ||
	    parse_json(body, len, &obj, NULL, 0) == -1)
		return set_err(err, errlen, "the answer is not JSON");
	if (!json_object_is_type(obj, json_type_object))
		r = set_err(err, errlen, "the answer is not a JSON object");
	else if ((r = jget_text(obj, NULL, "test_run_id", JGET_OPTIONAL, &s,
	    NULL, 0)) < 0)
		r = set_err(err, errlen, "test_run_id is not a string");
	else if (r == 0 || *s == '\0')
		r = set_err(err, errlen, "without a test_run_id");
	else if (!job_is_uuid(s))
		r = set_err(err, errlen, "test_run_id is not a UUID");
	else {
		*id = xstrdup(s);
		r = 0;
	}
	json_object_put(obj);
	return r;
}
