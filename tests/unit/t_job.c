/*
 * The job protocol: job and result JSON round trips, validation, the
 * request body's merge rule, the batch test's name, the outcome class of
 * an answer, whose fault it is and whether the route gave it; and the
 * one "exactly one JSON value" check they and every other reader use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <json.h>

#include "job.h"
#include "json1.h"
#include "tap.h"
#include "text.h"

#define RUN	"11111111-2222-3333-4444-555555555555"
#define SCHED	"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define USER	"99999999-8888-7777-6666-555555555555"
#define SUITE	"12345678-1234-1234-1234-123456789abc"
#define KEY	"sk-very-secret-service-key"
#define EKEY	"ek-very-secret-encryption-key-0123456789"
#define SEALED	"c2FsdCBpdiB0YWcgY2lwaGVydGV4dA=="
#define NAME	"nightly \xc3\xa9 - 2026-12-05 02:00 CET"

static char *
make_job(const char *field, const char *json_value)
{
	json_object	*o, *v;
	char		*s;

	o = json_tokener_parse("{\"run_id\":\"" RUN "\","
	    "\"schedule_id\":\"" SCHED "\",\"schedule_name\":\"nightly\","
	    "\"user_id\":\"" USER "\",\"test_suite_id\":\"" SUITE "\","
	    "\"model_id\":\"gpt-4\",\"batch_test_config\":{\"prompt_limit\":"
	    "10,\"model_id\":\"old\",\"test_suite_id\":\"old\"},"
	    "\"app_url\":\"http://localhost:3000/\","
	    "\"service_role_key\":\"" KEY "\",\"result_dir\":\"/var/lib/x\","
	    "\"timeout_ms\":600000}");
	if (field != NULL) {
		if (json_value == NULL)
			json_object_object_del(o, field);
		else {
			v = json_tokener_parse(json_value);
			json_object_object_add(o, field, v);
		}
	}
	s = strdup(json_object_to_json_string(o));
	json_object_put(o);
	return s;
}

static void
test_round_trip(void)
{
	struct job	 a, b;
	char		 err[256], *text, *text2;
	int		 r;

	text = make_job("tls_ca_file", "\"/etc/ssl/ca.pem\"");
	r = job_from_json(&a, text, err, sizeof(err));
	tap_is_int(r, 0, "a full job parses");
	free(text);
	if (r != 0) {
		tap_diag("%s", err);
		return;
	}
	tap_ok(a.test_run_name == NULL, "no test_run_name: NULL");
	a.test_run_name = strdup(NAME);
	tap_is_str(a.app_url, "http://localhost:3000", "trailing / dropped");
	tap_is_int(a.timeout_ms, 600000, "timeout_ms");
	tap_is_str(a.tls_ca_file, "/etc/ssl/ca.pem", "tls_ca_file");
	text = job_to_json(&a);
	tap_ok(text != NULL, "job_to_json");
	r = job_from_json(&b, text, err, sizeof(err));
	tap_is_int(r, 0, "its output parses again");
	tap_is_str(b.run_id, a.run_id, "run_id round trip");
	tap_is_str(b.schedule_id, a.schedule_id, "schedule_id round trip");
	tap_is_str(b.schedule_name, "nightly", "schedule_name round trip");
	tap_is_str(b.user_id, a.user_id, "user_id round trip");
	tap_is_str(b.test_suite_id, a.test_suite_id, "test_suite_id round trip");
	tap_is_str(b.model_id, "gpt-4", "model_id round trip");
	tap_is_str(b.batch_test_config, a.batch_test_config,
	    "batch_test_config round trip");
	tap_is_str(b.test_run_name, NAME, "test_run_name round trip");
	tap_is_str(b.app_url, a.app_url, "app_url round trip");
	tap_is_str(b.service_role_key, KEY, "service_role_key round trip");
	tap_is_str(b.tls_ca_file, a.tls_ca_file, "tls_ca_file round trip");
	tap_is_str(b.result_dir, "/var/lib/x", "result_dir round trip");
	tap_is_int(b.timeout_ms, a.timeout_ms, "timeout_ms round trip");
	text2 = job_to_json(&b);
	tap_is_str(text2, text, "the text is stable");
	free(text);
	free(text2);
	job_free(&a);
	job_free(&b);
}

static void
test_defaults(void)
{
	struct job	 j;
	char		 err[256], *text;
	int		 r;

	text = make_job("timeout_ms", NULL);
	r = job_from_json(&j, text, err, sizeof(err));
	free(text);
	tap_is_int(r, 0, "timeout_ms may be left out");
	tap_is_int(j.timeout_ms, JOB_DEFAULT_TIMEOUT_MS, "default timeout");
	tap_ok(j.tls_ca_file == NULL, "no tls_ca_file: the system store");
	job_free(&j);
	text = make_job("batch_test_config", NULL);
	r = job_from_json(&j, text, err, sizeof(err));
	free(text);
	tap_is_int(r, 0, "batch_test_config may be left out");
	tap_is_str(j.batch_test_config, "{}", "as the empty object");
	job_free(&j);
}

struct bad {
	const char	*field;
	const char	*value;		/* JSON text; NULL: left out */
	const char	*error;
};

static const struct bad bad_jobs[] = {
	{ "run_id", NULL, "run_id is missing" },
	{ "run_id", "\"\"", "run_id is missing" },
	{ "run_id", "42", "run_id is not a string" },
	{ "run_id", "\"1234\"", "run_id is not a UUID" },
	{ "run_id", "\"11111111-2222-3333-4444-55555555555\"",
	    "run_id is not a UUID" },
	{ "run_id", "\"11111111-2222-3333-4444-5555555555550\"",
	    "run_id is not a UUID" },
	{ "run_id", "\"g1111111-2222-3333-4444-555555555555\"",
	    "run_id is not a UUID" },
	{ "schedule_id", "\"x\"", "schedule_id is not a UUID" },
	{ "user_id", NULL, "user_id is missing" },
	{ "user_id", "\"" KEY "\"", "user_id is not a UUID" },
	{ "test_suite_id", "\"suite-1\"", "test_suite_id is not a UUID" },
	{ "model_id", NULL, "model_id is missing" },
	{ "model_id", "[]", "model_id is not a string" },
	{ "schedule_name", "7", "schedule_name is not a string" },
	{ "batch_test_config", "[1,2]", "batch_test_config is not a JSON object" },
	{ "batch_test_config", "\"{}\"", "batch_test_config is not a JSON object" },
	{ "app_url", NULL, "app_url is missing" },
	{ "app_url", "\"ftp://host\"", "app_url must be an http:// or https:// URL" },
	{ "app_url", "\"localhost:3000\"", "app_url must be an http:// or https:// URL" },
	{ "app_url", "\"http://\"", "app_url must be an http:// or https:// URL" },
	{ "app_url", "\"http://a b\"", "app_url is not a valid URL: bad host (an ASCII name, a.b.c.d or [IPv6])" },
	{ "app_url", "\"http://a\\r\\nX: y\"",
	    "app_url must not contain control characters" },
	{ "service_role_key", NULL, "service_role_key is missing" },
	{ "service_role_key", "\"" KEY "\\r\\nX-Evil: 1\"",
	    "service_role_key contains control characters" },
	{ "service_role_key", "\"" KEY "\\u0000\"",
	    "service_role_key contains a NUL character" },
	{ "timeout_ms", "0", "timeout_ms must be between 1 and 86400000" },
	{ "timeout_ms", "-5", "timeout_ms must be between 1 and 86400000" },
	{ "timeout_ms", "99999999999", "timeout_ms must be between 1 and 86400000" },
	{ "timeout_ms", "1.5", "timeout_ms is not an integer" },
	{ "timeout_ms", "\"600\"", "timeout_ms is not an integer" },
	{ "tls_ca_file", "false", "tls_ca_file is not a string" },
	{ "result_dir", "7", "result_dir is not a string" },
	{ "api_key_encrypted", "7", "api_key_encrypted is not a string" },
	{ "api_key_encrypted", "\"a\\u0000b\"",
	    "api_key_encrypted contains a NUL character" },
	{ "encryption_key", "[]", "encryption_key is not a string" },
	{ "test_run_name", "7", "test_run_name is not a string" },
	{ "test_run_name", "\"a\\u0000b\"",
	    "test_run_name contains a NUL character" },
	{ "encryption_key", "\"" EKEY "\\u0000\"",
	    "encryption_key contains a NUL character" },
};

static void
test_validation(void)
{
	struct job	 j;
	char		 err[256], *text;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(bad_jobs) / sizeof(bad_jobs[0]); i++) {
		text = make_job(bad_jobs[i].field, bad_jobs[i].value);
		err[0] = '\0';
		r = job_from_json(&j, text, err, sizeof(err));
		tap_is_int(r, -1, "%s = %s is refused", bad_jobs[i].field,
		    bad_jobs[i].value ? bad_jobs[i].value : "(none)");
		tap_is_str(err, bad_jobs[i].error, "  with a clear error");
		tap_ok(strstr(err, KEY) == NULL && strstr(err, EKEY) == NULL,
		    "  that holds no key");
		tap_ok(j.run_id == NULL && j.service_role_key == NULL,
		    "  and leaves nothing allocated");
		free(text);
	}
}

static void
test_bad_text(void)
{
	static const char *texts[] = {
		"", "{", "not json", "[]", "null", "42",
		"{\"run_id\": \"" RUN "\"} trailing",
		"{\"service_role_key\": \"" KEY "\"",
	};
	struct job	 j;
	char		 err[256], *big;
	size_t		 i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		err[0] = '\0';
		tap_is_int(job_from_json(&j, texts[i], err, sizeof(err)), -1,
		    "text '%s' is refused (%s)", texts[i], err);
		tap_ok(strstr(err, KEY) == NULL, "  error holds no key");
	}
	big = malloc(JOB_MAX_TEXT + 2);
	memset(big, ' ', JOB_MAX_TEXT + 1);
	big[JOB_MAX_TEXT + 1] = '\0';
	big[0] = '{';
	big[JOB_MAX_TEXT] = '}';
	tap_is_int(job_from_json(&j, big, err, sizeof(err)), -1,
	    "a job over 1 MiB is refused");
	tap_is_str(err, "larger than 1048576 bytes", "  as too large");
	free(big);
	tap_is_int(job_from_json(&j, NULL, err, sizeof(err)), -1,
	    "NULL text is refused");
	job_from_json(&j, " null ", err, sizeof(err));
	tap_is_str(err, "not a JSON object", "a JSON null is not a job");
	job_from_json(&j, "{\"a\":", err, sizeof(err));
	tap_is_str(err, "not JSON: it ends too soon", "cut short");
	job_from_json(&j, "{} {}", err, sizeof(err));
	tap_is_str(err, "not JSON: text after the value", "two values");
}

/* Replaces j's batch_test_config text. */
static void
set_config(struct job *j, const char *text)
{
	free(j->batch_test_config);
	j->batch_test_config = strdup(text);
}

static void
test_request_body(void)
{
	struct job	 j;
	json_object	*body, *cfg, *v;
	char		 err[256], *text, *b;

	text = make_job(NULL, NULL);
	job_from_json(&j, text, err, sizeof(err));
	free(text);
	b = job_request_body(&j, err, sizeof(err));
	tap_ok(b != NULL, "request body built");
	body = json_tokener_parse(b);
	tap_ok(json_object_object_get_ex(body, "config", &cfg) &&
	    json_object_is_type(cfg, json_type_object), "body has a config");
	tap_is_int(json_object_object_length(body), 1, "and nothing else");
	json_object_object_get_ex(cfg, "model_id", &v);
	tap_is_str(json_object_get_string(v), "gpt-4",
	    "model_id wins over the config's");
	json_object_object_get_ex(cfg, "test_suite_id", &v);
	tap_is_str(json_object_get_string(v), SUITE,
	    "test_suite_id wins over the config's");
	json_object_object_get_ex(cfg, "prompt_limit", &v);
	tap_is_int(json_object_get_int(v), 10, "other config keys are kept");
	tap_is_int(json_object_object_length(cfg), 3, "config has 3 keys");
	tap_ok(strstr(b, KEY) == NULL, "the key is not in the body");
	json_object_put(body);
	free(b);

	set_config(&j, "{}");
	b = job_request_body(&j, err, sizeof(err));
	tap_is_str(b, "{\"config\":{\"model_id\":\"gpt-4\",\"test_suite_id\":\""
	    SUITE "\"}}", "empty config: the two ids alone");
	free(b);
	set_config(&j, "null");
	b = job_request_body(&j, err, sizeof(err));
	tap_is_str(b, "{\"config\":{\"model_id\":\"gpt-4\",\"test_suite_id\":\""
	    SUITE "\"}}", "a null config (a NULL jsonb) is the empty object");
	free(b);
	set_config(&j, "");
	b = job_to_json(&j);
	tap_ok(b != NULL && strstr(b, "\"batch_test_config\":{}") != NULL,
	    "an empty config text is written as {}");
	free(b);
	set_config(&j, "[1]");
	tap_ok(job_request_body(&j, err, sizeof(err)) == NULL,
	    "a config that is not an object is refused");
	job_free(&j);
}

/* config.test_run_name in j's request, as JSON; "(none)" without one. */
static const char *
sent_name(const struct job *j, char *buf, size_t len)
{
	json_object	*body, *cfg, *v;
	char		 err[256], *b;

	if ((b = job_request_body(j, err, sizeof(err))) == NULL)
		return "(no body)";
	body = json_tokener_parse(b);
	free(b);
	if (!json_object_object_get_ex(body, "config", &cfg) ||
	    !json_object_object_get_ex(cfg, "test_run_name", &v))
		snprintf(buf, len, "(none)");
	else
		snprintf(buf, len, "%s", json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN));
	json_object_put(body);
	return buf;
}

/*
 * Ours goes in unless the config names the batch itself: the route takes
 * config.test_run_name?.trim() || a name of its own, and throws on a
 * value that is not a string.
 */
static void
test_request_name(void)
{
	static const struct {
		const char	*config;
		const char	*want;	/* as JSON */
	} cases[] = {
		{ "{}", "\"nightly - 2026-12-05 02:00 CET\"" },
		{ "{\"test_run_name\":null}", "\"nightly - 2026-12-05 02:00 CET\"" },
		{ "{\"test_run_name\":\"\"}", "\"nightly - 2026-12-05 02:00 CET\"" },
		{ "{\"test_run_name\":\" \\t\\u00a0\\u3000\"}",
		    "\"nightly - 2026-12-05 02:00 CET\"" },
		{ "{\"test_run_name\":42}", "\"nightly - 2026-12-05 02:00 CET\"" },
		{ "{\"test_run_name\":[\"x\"]}",
		    "\"nightly - 2026-12-05 02:00 CET\"" },
		{ "{\"test_run_name\":{}}", "\"nightly - 2026-12-05 02:00 CET\"" },
		{ "{\"test_run_name\":\"Mine\"}", "\"Mine\"" },
		{ "{\"test_run_name\":\"  Mine \"}", "\"  Mine \"" },
	};
	struct job	 j;
	char		 err[256], buf[256], *text;
	size_t		 i;

	text = make_job("test_run_name", "\"nightly - 2026-12-05 02:00 CET\"");
	job_from_json(&j, text, err, sizeof(err));
	free(text);
	tap_is_str(j.test_run_name, "nightly - 2026-12-05 02:00 CET",
	    "the job's test_run_name is read");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_config(&j, cases[i].config);
		tap_is_str(sent_name(&j, buf, sizeof(buf)), cases[i].want,
		    "config %s: test_run_name sent %s", cases[i].config,
		    cases[i].want);
	}
	free(j.test_run_name);
	j.test_run_name = NULL;
	set_config(&j, "{}");
	tap_is_str(sent_name(&j, buf, sizeof(buf)), "(none)",
	    "a job without a name sends none");
	set_config(&j, "{\"test_run_name\":7}");
	tap_is_str(sent_name(&j, buf, sizeof(buf)), "7",
	    "  and leaves the config's as it is");
	job_free(&j);
}

static void
batch_name_is(const char *config, const char *ours, const char *want,
    const char *what)
{
	char	*got = job_batch_name(config, ours);

	tap_is_str(got, want, "batch name: %s", what);
	free(got);
}

/* The name the application stores, as its route makes it. */
static void
test_batch_name(void)
{
	const char	*ours = "nightly - 2026-12-05 02:00 CET";

	batch_name_is("{\"test_run_name\":\"Mine\"}", ours, "Mine",
	    "the config's own");
	batch_name_is("{\"test_run_name\":\" \\t\\n\\u000b\\f\\rMine"
	    "\\r\\n \"}", ours, "Mine", "ASCII white space at both ends");
	batch_name_is("{\"test_run_name\":\"\\u00a0\\u3000\\ufeffMy  "
	    "\\u00a0run\\ufeff\\u3000\\u00a0\"}", ours,
	    "My  \xc2\xa0run", "NBSP, U+3000, U+FEFF at both ends; inner "
	    "white space kept");
	batch_name_is("{\"test_run_name\":\"\\u1680\\u2000\\u200a\\u2028"
	    "\\u2029\\u202f\\u205fx\\u205f\\u202f\\u2029\\u2028\\u2005"
	    "\\u1680\"}", ours, "x", "the Zs category and LS, PS");
	batch_name_is("{\"test_run_name\":\"\\u0085x\\u180e\"}", ours,
	    "\xc2\x85x\xe1\xa0\x8e", "NEL and U+180E are not white space");
	batch_name_is("{\"test_run_name\":\"\\u200bx\\u200b\"}", ours,
	    "\xe2\x80\x8bx\xe2\x80\x8b", "nor is U+200B");
	batch_name_is("{\"test_run_name\":\"\\u00e9\"}", ours, "\xc3\xa9",
	    "one character that is not white space");
	batch_name_is("{\"test_run_name\":\" \\u00a0\\u3000\\ufeff\"}", ours,
	    ours, "blank: ours");
	batch_name_is("{\"test_run_name\":\"\"}", ours, ours, "empty: ours");
	batch_name_is("{\"test_run_name\":null}", ours, ours, "null: ours");
	batch_name_is("{\"test_run_name\":42}", ours, ours,
	    "not a string: ours");
	batch_name_is("{\"prompt_limit\":3}", ours, ours, "absent: ours");
	batch_name_is("{\"prompt_limit\":", ours, ours, "invalid JSON: ours");
	batch_name_is("[\"test_run_name\"]", ours, ours,
	    "not an object: ours");
	batch_name_is("", ours, ours, "an empty text: ours");
	batch_name_is(NULL, ours, ours, "no config: ours");
	batch_name_is("{}", NULL, NULL, "absent and no name of ours: NULL");
	batch_name_is("{\"test_run_name\":\"Mine\"}", NULL, "Mine",
	    "the config's own without ours");
	batch_name_is("{}", " \xc2\xa0ours\xe3\x80\x80", "ours",
	    "ours, trimmed as the route trims what we send");
	batch_name_is("{}", " \t", NULL, "ours blank: NULL (the route names it)");
}

static void
test_result(void)
{
	struct job_result	 a = { .http_status = 200,
	    .test_run_id = (char *)SUITE, .attempts = 3, .elapsed_ms = 1234 }, b;
	struct job_result	 c = { .http_status = 500, .curl_code = 0,
	    .attempts = 1, .elapsed_ms = 7, .error = (char *)"HTTP 500 \"x\"",
	    .blame = BLAME_PLATFORM };
	char			 err[256], *text, *longerr;

	text = job_result_to_json(&a);
	tap_is_str(text, "{\"http_status\":200,\"blame\":null,"
	    "\"test_run_id\":\"" SUITE
	    "\",\"attempts\":3,\"elapsed_ms\":1234,\"error\":null}",
	    "result JSON");
	tap_is_int(job_result_from_json(&b, text, err, sizeof(err)), 0,
	    "result parses");
	tap_is_int(b.http_status, 200, "http_status round trip");
	tap_is_str(b.test_run_id, SUITE, "test_run_id round trip");
	tap_is_int(b.attempts, 3, "attempts round trip");
	tap_is_int(b.elapsed_ms, 1234, "elapsed_ms round trip");
	tap_ok(b.error == NULL, "error round trip (null)");
	job_result_free(&b);
	free(text);

	text = job_result_to_json(&c);
	tap_is_int(job_result_from_json(&b, text, err, sizeof(err)), 0,
	    "failed result parses");
	tap_is_str(b.error, c.error, "error round trip");
	tap_ok(b.test_run_id == NULL, "test_run_id null");
	tap_is_int(b.blame, BLAME_PLATFORM, "blame round trip");
	tap_ok(strstr(text, "curl_code") == NULL, "no curl_code without one");
	job_result_free(&b);
	free(text);
	c.curl_code = 7;
	c.blame = BLAME_SCHEDULE;
	text = job_result_to_json(&c);
	tap_is_int(job_result_from_json(&b, text, err, sizeof(err)), 0,
	    "a result with curl_code and blame parses");
	tap_is_int(b.curl_code, 7, "curl_code round trip");
	tap_is_int(b.blame, BLAME_SCHEDULE, "blame schedule round trip");
	job_result_free(&b);
	free(text);

	longerr = malloc(2000);
	memset(longerr, 'e', 1999);
	longerr[1999] = '\0';
	c.error = longerr;
	text = job_result_to_json(&c);
	job_result_from_json(&b, text, err, sizeof(err));
	tap_is_int(strlen(b.error), JOB_MAX_ERROR, "error text is bounded");
	job_result_free(&b);
	free(text);
	free(longerr);

	tap_is_int(job_result_from_json(&b, "{\"http_status\":\"200\"}", err,
	    sizeof(err)), -1, "http_status must be an integer");
	tap_is_int(job_result_from_json(&b, "{\"test_run_id\":\"x\"}", err,
	    sizeof(err)), -1, "test_run_id must be a UUID");
	tap_is_int(job_result_from_json(&b, "{\"attempts\":-1}", err,
	    sizeof(err)), -1, "attempts must not be negative");
	tap_is_int(job_result_from_json(&b, "[]", err, sizeof(err)), -1,
	    "a result is an object");
	tap_is_int(job_result_from_json(&b, "{\"blame\":\"user\"}", err,
	    sizeof(err)), -1, "blame is schedule or platform");
	tap_is_int(job_result_from_json(&b, "{}", err, sizeof(err)), 0,
	    "an empty result is a result with nothing in it");
	tap_ok(!b.ambiguous && b.api_key == API_KEY_NONE,
	    "  neither ambiguous nor with an API key");
	job_result_free(&b);
}

/* "ambiguous" and "api_key": said when there is something to say. */
static void
test_result_ambiguous(void)
{
	struct job_result	 c = { .http_status = 502, .attempts = 1,
	    .elapsed_ms = 9, .error = (char *)"HTTP 502 from x",
	    .blame = BLAME_PLATFORM, .ambiguous = 1,
	    .api_key = API_KEY_OPENED }, b;
	char			 err[256], *text;

	text = job_result_to_json(&c);
	tap_is_str(text, "{\"http_status\":502,\"blame\":\"platform\","
	    "\"test_run_id\":null,\"attempts\":1,\"elapsed_ms\":9,"
	    "\"error\":\"HTTP 502 from x\",\"ambiguous\":true,"
	    "\"api_key\":\"opened\"}", "an ambiguous result's JSON");
	tap_is_int(job_result_from_json(&b, text, err, sizeof(err)), 0,
	    "it parses");
	tap_is_int(b.ambiguous, 1, "ambiguous round trip");
	tap_is_int(b.api_key, API_KEY_OPENED, "api_key opened round trip");
	job_result_free(&b);
	free(text);

	c.ambiguous = 0;
	c.api_key = API_KEY_UNOPENED;
	text = job_result_to_json(&c);
	tap_ok(text != NULL && strstr(text, "ambiguous") == NULL,
	    "not ambiguous: the member is left out");
	tap_ok(text != NULL && strstr(text, "\"api_key\":\"unopened\"") !=
	    NULL, "api_key unopened is written");
	tap_is_int(job_result_from_json(&b, text, err, sizeof(err)), 0,
	    "it parses");
	tap_is_int(b.ambiguous, 0, "ambiguous false round trip");
	tap_is_int(b.api_key, API_KEY_UNOPENED, "api_key unopened round trip");
	job_result_free(&b);
	free(text);

	c.api_key = API_KEY_NONE;
	text = job_result_to_json(&c);
	tap_ok(text != NULL && strstr(text, "api_key") == NULL,
	    "no API key: the member is left out");
	free(text);

	tap_is_int(job_result_from_json(&b, "{\"ambiguous\":false,"
	    "\"api_key\":null}", err, sizeof(err)), 0,
	    "ambiguous false and api_key null parse");
	tap_ok(!b.ambiguous && b.api_key == API_KEY_NONE, "  as neither");
	job_result_free(&b);
	tap_is_int(job_result_from_json(&b, "{\"ambiguous\":1}", err,
	    sizeof(err)), -1, "ambiguous must be a boolean");
	tap_is_str(err, "ambiguous is not a boolean", "  says so");
	tap_is_int(job_result_from_json(&b, "{\"ambiguous\":\"true\"}", err,
	    sizeof(err)), -1, "ambiguous \"true\" is not a boolean");
	tap_is_int(job_result_from_json(&b, "{\"api_key\":\"open\"}", err,
	    sizeof(err)), -1, "api_key is opened or unopened");
	tap_is_str(err, "api_key is neither opened nor unopened", "  says so");
	tap_is_int(job_result_from_json(&b, "{\"api_key\":true}", err,
	    sizeof(err)), -1, "api_key must be a string");
}

static void
test_utf8_trim(void)
{
	char	s[] = "ab\xc3\xa9" "cd";	/* "abécd" */

	text_trim(s, 3);
	tap_is_str(s, "ab", "trim does not split a UTF-8 sequence");
}

static const struct {
	int	status, has_id, want;
} classes[] = {
	{ 200, 1, EX_OK }, { 201, 1, EX_OK }, { 202, 1, EX_OK },
	{ 200, 0, EX_PROTOCOL }, { 204, 0, EX_PROTOCOL },
	{ 301, 0, EX_UNAVAILABLE }, { 302, 0, EX_UNAVAILABLE },
	{ 400, 0, EX_UNAVAILABLE }, { 401, 0, EX_UNAVAILABLE },
	{ 403, 0, EX_UNAVAILABLE }, { 404, 0, EX_UNAVAILABLE },
	{ 422, 0, EX_UNAVAILABLE }, { 408, 0, EX_TEMPFAIL },
	{ 429, 0, EX_TEMPFAIL }, { 500, 0, EX_TEMPFAIL },
	{ 502, 0, EX_TEMPFAIL }, { 503, 0, EX_TEMPFAIL },
	{ 504, 0, EX_TEMPFAIL }, { 599, 0, EX_TEMPFAIL },
	{ 0, 0, EX_TEMPFAIL }, { 600, 0, EX_PROTOCOL }, { 100, 0, EX_PROTOCOL },
};

static void
test_classes(void)
{
	size_t	i;

	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		tap_is_int(job_exit_for_http(classes[i].status,
		    classes[i].has_id), classes[i].want, "HTTP %d%s -> %d",
		    classes[i].status, classes[i].has_id ? " with an id" : "",
		    classes[i].want);
}

static void
answer_is(const char *body, int want, const char *want_err)
{
	char	err[128] = "", *id = NULL;
	int	r;

	r = job_answer_test_run_id(body, strlen(body), &id, err, sizeof(err));
	tap_is_int(r, want, "answer %s", body);
	if (want == 0)
		tap_ok(job_is_uuid(id), "  gives the test_run_id");
	else
		tap_is_str(err, want_err, "  says why");
	free(id);
}

static void
test_answers(void)
{
	answer_is("{\"test_run_id\":\"" RUN "\",\"status\":\"started\"}", 0,
	    NULL);
	answer_is("<html>", -1, "the answer is not JSON");
	answer_is("", -1, "the answer is not JSON");
	answer_is("{\"status\":\"started\"}", -1, "without a test_run_id");
	answer_is("{\"test_run_id\":null}", -1, "without a test_run_id");
	answer_is("{\"test_run_id\":\"\"}", -1, "without a test_run_id");
	answer_is("{\"test_run_id\":\"run-7\"}", -1,
	    "test_run_id is not a UUID");
	answer_is("{\"test_run_id\":7}", -1, "test_run_id is not a string");
	answer_is("[\"" RUN "\"]", -1, "the answer is not a JSON object");
	answer_is("null", -1, "the answer is not a JSON object");
	answer_is("{\"test_run_id\":\"" RUN "\"} x", -1,
	    "the answer is not JSON");
}

static void
blame_is(int status, const char *body, int api_key, enum blame want,
    const char *what)
{
	tap_is_str(blame_name(blame_for_http(status, body,
	    body != NULL ? strlen(body) : 0, api_key)), blame_name(want), "%s", what);
}

/* The blame table of evalsched-supervisor(8). */
static void
test_blame(void)
{
	const char	*app = "{\"error\":\"Test suite not found or access denied\"}";

	blame_is(400, "{\"error\":\"No prompts extracted from source\"}", 0,
	    BLAME_SCHEDULE, "400 from the application: the schedule's");
	blame_is(404, app, 0, BLAME_SCHEDULE, "404 suite gone: the schedule's");
	blame_is(403, "{\"error\":\"scope\"}", 1, BLAME_SCHEDULE,
	    "403 missing scope: the schedule's");
	blame_is(422, "{\"error\":\"x\"}", 0, BLAME_SCHEDULE,
	    "422 as the application's refusal: the schedule's");
	blame_is(413, "{\"error\":\"x\"}", 0, BLAME_SCHEDULE,
	    "413 as the application's refusal: the schedule's");
	blame_is(422, "<html>422</html>", 0, BLAME_PLATFORM,
	    "422 as a page: not the application's, the platform's");
	blame_is(404, "<html>Not Found</html>", 0, BLAME_PLATFORM,
	    "404 that is not the application's: a wrong app_url");
	blame_is(400, NULL, 0, BLAME_PLATFORM, "400 without a body: not the "
	    "application's");
	blame_is(404, "{\"status\":404,\"error\":\"Not Found\",\"path\":\"/x\"}",
	    0, BLAME_PLATFORM, "404 with another service's error page: not the "
	    "application's");
	blame_is(401, "{\"error\":\"Invalid service role key\"}", 0,
	    BLAME_PLATFORM, "401 for the deployment's key: the platform's");
	blame_is(401, "{\"error\":\"Invalid API key\"}", 1, BLAME_SCHEDULE,
	    "401 for the schedule's own API key: the schedule's");
	blame_is(401, "{\"error\":\"Invalid API key format\"}", 1,
	    BLAME_SCHEDULE, "401 Invalid API key format: the schedule's");
	blame_is(401, "{\"error\":\"Invalid API key\"}", 0, BLAME_PLATFORM,
	    "401 Invalid API key without the schedule's key: the platform's");
	blame_is(401, "{\"error\":\"Database error\"}", 1, BLAME_PLATFORM,
	    "401 Database error: passing trouble, the platform's");
	blame_is(401, "{\"error\":\"Internal server error\"}", 1,
	    BLAME_PLATFORM, "401 Internal server error: the platform's");
	blame_is(401, "{\"error\":\"Server configuration error\"}", 1,
	    BLAME_PLATFORM, "401 Server configuration error: the platform's");
	blame_is(401, "{\"error\":\"Unauthorized\"}", 1, BLAME_PLATFORM,
	    "401 Unauthorized: the platform's");
	blame_is(401, "{\"error\":\"Something new\"}", 1, BLAME_PLATFORM,
	    "401 with any other text: the platform's");
	blame_is(401, "<html>401</html>", 1, BLAME_PLATFORM,
	    "401 that is not the route's: the platform's");
	blame_is(500, "{\"error\":\"Server configuration error\"}", 0,
	    BLAME_PLATFORM, "500 Server configuration error: the platform's");
	blame_is(429, app, 1, BLAME_PLATFORM, "429: the platform's");
	blame_is(500, app, 0, BLAME_PLATFORM, "500: the platform's");
	blame_is(503, NULL, 0, BLAME_PLATFORM, "503: the platform's");
	blame_is(302, NULL, 0, BLAME_PLATFORM, "3xx: a wrong app_url");
	blame_is(405, app, 0, BLAME_PLATFORM, "405: a wrong app_url");
	tap_is_int(blame_from_name("schedule"), BLAME_SCHEDULE, "name round trip");
	tap_is_int(blame_from_name("nobody"), BLAME_NONE, "unknown name");
}

static void
route_is(int status, const char *body, int want, const char *what)
{
	tap_is_int(blame_route_answer(status, body,
	    body != NULL ? strlen(body) : 0), want, "%s", what);
}

/* The route's own answers prove it started nothing; nothing else does. */
static void
test_route_answer(void)
{
	const char	*err = "{\"error\":\"x\"}";

	route_is(400, err, ROUTE_REFUSED, "400 {error}: the route refused");
	route_is(403, err, ROUTE_REFUSED, "403 {error}: the route refused");
	route_is(404, err, ROUTE_REFUSED, "404 {error}: the route refused");
	route_is(401, "{\"error\":\"Invalid API key\"}", ROUTE_REFUSED,
	    "401 Invalid API key: refused");
	route_is(401, "{\"error\":\"Server configuration error\"}",
	    ROUTE_REFUSED, "401 Server configuration error: refused");
	route_is(401, "{\"error\":\"Database error\"}", ROUTE_TEMPORARY,
	    "401 Database error: temporary");
	route_is(401, "{\"error\":\"Internal server error\"}",
	    ROUTE_TEMPORARY, "401 Internal server error: temporary");
	route_is(429, err, ROUTE_TEMPORARY, "429 {error}: temporary");
	route_is(500, err, ROUTE_TEMPORARY, "500 {error}: temporary");
	route_is(500, "<html>500</html>", ROUTE_NOT,
	    "500 with an HTML page: not the route's");
	route_is(500, NULL, ROUTE_NOT, "500 without a body: not the route's");
	route_is(500, "{\"error\":\"x\",\"code\":1}", ROUTE_NOT,
	    "500 with more than error: not the route's");
	route_is(500, "{\"error\":{\"message\":\"x\"}}", ROUTE_NOT,
	    "500 whose error is not a string: not the route's");
	route_is(429, "Too Many Requests", ROUTE_NOT,
	    "429 in plain text: not the route's");
	route_is(502, err, ROUTE_NOT, "502: never the route's");
	route_is(503, err, ROUTE_NOT, "503: never the route's");
	route_is(504, err, ROUTE_NOT, "504: never the route's");
	route_is(408, err, ROUTE_NOT, "408: never the route's");
	route_is(422, err, ROUTE_REFUSED, "422 as {\"error\"}: a refusal");
	route_is(422, "<html></html>", ROUTE_NOT, "422 as a page: not the route's");
	route_is(302, err, ROUTE_NOT, "302: never the route's");
	route_is(200, err, ROUTE_NOT, "200: not an error");
}

/*
 * The schedule's own API key: carried when set, with the key to it; left
 * out of the JSON when not set; "" is no key, as the application reads it.
 */
static void
test_api_key(void)
{
	struct job	 a, b;
	char		 err[256], *text, *text2;
	int		 r;

	text = make_job(NULL, NULL);
	r = job_from_json(&a, text, err, sizeof(err));
	free(text);
	tap_ok(r == 0 && a.api_key_encrypted == NULL &&
	    a.encryption_key == NULL, "no API key: both NULL");
	text = job_to_json(&a);
	tap_ok(text != NULL && strstr(text, "api_key_encrypted") == NULL &&
	    strstr(text, "encryption_key") == NULL,
	    "no API key: neither member is written");
	free(text);

	a.api_key_encrypted = strdup(SEALED);
	a.encryption_key = strdup(EKEY);
	text = job_to_json(&a);
	r = job_from_json(&b, text, err, sizeof(err));
	tap_is_int(r, 0, "a job with an API key parses");
	tap_is_str(b.api_key_encrypted, SEALED, "api_key_encrypted round trip");
	tap_is_str(b.encryption_key, EKEY, "encryption_key round trip");
	tap_is_str(b.service_role_key, KEY, "the service key still travels");
	text2 = job_to_json(&b);
	tap_is_str(text2, text, "the text is stable");
	free(text);
	free(text2);
	job_free(&a);
	job_free(&b);

	text = make_job("api_key_encrypted", "\"\"");
	r = job_from_json(&a, text, err, sizeof(err));
	free(text);
	tap_ok(r == 0 && a.api_key_encrypted == NULL,
	    "api_key_encrypted \"\" is no key");
	job_free(&a);
	text = make_job("encryption_key", "\"\"");
	r = job_from_json(&a, text, err, sizeof(err));
	free(text);
	tap_ok(r == 0 && a.encryption_key == NULL, "encryption_key \"\" is none");
	job_free(&a);
	text = make_job("api_key_encrypted", "null");
	r = job_from_json(&a, text, err, sizeof(err));
	free(text);
	tap_ok(r == 0 && a.api_key_encrypted == NULL,
	    "api_key_encrypted null is no key");
	job_free(&a);
	/* A sealed key without the key to it is the jobrunner's to report. */
	text = make_job("api_key_encrypted", "\"" SEALED "\"");
	r = job_from_json(&a, text, err, sizeof(err));
	free(text);
	tap_ok(r == 0 && a.api_key_encrypted != NULL &&
	    a.encryption_key == NULL,
	    "api_key_encrypted without encryption_key parses");
	job_free(&a);
}

/* What json1_parse makes of a text: the value as JSON, or the error. */
static void
json1_is(const char *text, size_t len, int depth, const char *want)
{
	json_object	*o;
	char		 got[256];

	if (json1_parse(text, len, depth, &o, got, sizeof(got)) == 0) {
		snprintf(got, sizeof(got), "= %s", o == NULL ? "null" :
		    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	tap_is_str(got, want, "json1 '%.*s'", (int)len, text);
}

static void
test_json1(void)
{
	static const struct {
		const char	*text;
		const char	*want;
	} cases[] = {
		/* A number or a literal at the very end is whole. */
		{ "42", "= 42" },
		{ " 42\n", "= 42" },
		{ "-1.5e3", "= -1.5e3" },
		{ "null", "= null" },
		{ "true", "= true" },
		{ "\"a\"", "= \"a\"" },
		{ "{\"a\":[1,{}]}", "= {\"a\":[1,{}]}" },
		{ "", "it is empty" },
		{ " \t\r\n", "it is empty" },
		{ "{\"a\":", "it ends too soon" },
		{ "[1", "it ends too soon" },
		{ "\"abc", "it ends too soon" },
		{ "tru", "it ends too soon" },
		{ "{} {}", "text after the value" },
		{ "42x", "text after the value" },
		{ "4 2", "text after the value" },
		{ "{}\v", "text after the value" },
		/* JSON, not what json-c forgives. */
		{ "[1,]", "unexpected character" },
		{ "True", "boolean expected" },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		json1_is(cases[i].text, strlen(cases[i].text), 0,
		    cases[i].want);
	json1_is("{}\0{}", 5, 0, "text after the value");
	json1_is("[[1]]", 5, 3, "= [[1]]");
	json1_is("[[[1]]]", 7, 3, "nesting too deep");
}

int
main(void)
{
	test_round_trip();
	test_defaults();
	test_validation();
	test_api_key();
	test_bad_text();
	test_request_body();
	test_request_name();
	test_batch_name();
	test_result();
	test_result_ambiguous();
	test_utf8_trim();
	test_classes();
	test_answers();
	test_blame();
	test_route_answer();
	test_json1();
	return tap_done();
}
