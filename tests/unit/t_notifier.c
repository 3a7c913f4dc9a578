// link: notifier/cmdenv.o notifier/mime.o notifier/input.o notifier/jsonjs.o notifier/body.o notifier/facts.o notifier/slack.o notifier/discord.o notifier/sign.o notifier/webhook.o notifier/integ.o notifier/http.o notifier/jsvalue.o notifier/teams.o notifier/telegram.o notifier/pagerduty.o notifier/notion.o
/*
 * evalsched-notifier's documents: the generic body byte for byte as the
 * application's JSON.stringify writes it (the expected strings were made
 * with Node.js), the HMAC-SHA256 signature, the Slack and Discord
 * messages, and the checks of the input document.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "../../notifier/notifier.h"
#include "tap.h"
#include "testhooks.h"
#include "text.h"

#define ALERT	"11111111-2222-3333-4444-555555555555"
#define HOOK	"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

/* Quotes, a slash, control characters, non-ASCII, an index key. */
static const char failed_doc[] =
	"{\"alert_id\":\"" ALERT "\",\"event\":{\"type\":"
	"\"scheduled_eval_failed\",\"title\":\"Eval \\\"nightly\\\" failed: "
	"a/b \\u2192 ok\",\"message\":\"line1\\nline2\\ttab\\r\\b\\f"
	"\\u0001\\u001f\\u007f \\u00e9 \\u65e5\\u672c \\ud83d\\ude00 "
	"</script> \\\\ done\",\"timestamp\":\"2026-11-30T16:00:00.000Z\","
	"\"metadata\":{\"scheduledEvaluationId\":\"" HOOK "\","
	"\"scheduleName\":\"nightly/1\",\"modelId\":\"gpt-4o\",\"status\":"
	"\"failed\",\"totalPrompts\":10,\"successfulPrompts\":0,"
	"\"failedPrompts\":10,\"errorMessage\":\"HTTP 500 from http://x/api: "
	"\\\"oops\\\"\",\"consecutiveFailures\":3,\"score\":0.880,"
	"\"big\":1e21,\"small\":1e-7,\"whole\":5.0,\"7\":\"seven\","
	"\"nested\":{\"z\":1,\"a\":[true,null,-0.5]}}},\"webhooks\":[],"
	"\"command\":null}";

/* JSON.stringify({type, title, message, timestamp, metadata}) in Node. */
static const char failed_body[] =
	"{\"type\":\"scheduled_eval_failed\",\"title\":\"Eval \\\"nig"
	"htly\\\" failed: a/b \xe2\x86\x92 ok\",\"message\":\"line1\\"
	"nline2\\ttab\\r\\b\\f\\u0001\\u001f\x7f \xc3\xa9 \xe6\x97\xa5\xe6"
	"\x9c\xac \xf0\x9f\x98\x80 </script> \\\\ done\",\"timestamp\":"
	"\"2026-11-30T16:00:00.000Z\",\"metadata\":{\"7\":\"seven\","
	"\"scheduledEvaluationId\":\"" HOOK "\",\"scheduleName\":"
	"\"nightly/1\",\"modelId\":\"gpt-4o\",\"status\":\"failed\","
	"\"totalPrompts\":10,\"successfulPrompts\":0,\"failedPrompts\":10,"
	"\"errorMessage\":\"HTTP 500 from http://x/api: \\\"oops\\\"\","
	"\"consecutiveFailures\":3,\"score\":0.88,\"big\":1e+21,\"small\":"
	"1e-7,\"whole\":5,\"nested\":{\"z\":1,\"a\":[true,null,-0.5]}}}";

static const char regression_doc[] =
	"{\"alert_id\":\"" ALERT "\",\"event\":{\"type\":"
	"\"scheduled_eval_regression\",\"title\":\"Regression: nightly\","
	"\"message\":\"Quality <dropped> & more\",\"timestamp\":"
	"\"2026-11-30T16:00:00Z\",\"metadata\":{\"scheduleName\":\"nightly\","
	"\"modelId\":\"gpt-4o\",\"totalPrompts\":10,\"successfulPrompts\":9,"
	"\"failedPrompts\":1,\"regression\":{\"avg_quality_score\":"
	"{\"baseline\":0.88,\"current\":0.7,\"change_percent\":-20.4545,"
	"\"threshold_percent\":10},\"success_rate\":{\"baseline\":1,"
	"\"current\":0.9,\"change_percent\":-10,\"threshold_percent\":10}}}},"
	"\"webhooks\":[{\"id\":\"" HOOK "\",\"url\":"
	"\"https://hooks.slack.com/services/T0/B0/XYZ\",\"type\":\"slack\","
	"\"secret\":\"s3cr3t\"}],\"command\":\"/usr/bin/true\","
	"\"timeout_ms\":2500,\"tls_ca_file\":\"/etc/ca.pem\","
	"\"webhook_allow\":[\"10.0.0.0/8\",\"fd00::/8\"]}";

static const char bare_doc[] =
	"{\"alert_id\":\"" ALERT "\",\"event\":{\"type\":"
	"\"scheduled_eval_disabled\",\"title\":\"Disabled\",\"message\":\"\","
	"\"timestamp\":\"2026-11-30T16:00:00+01:00\"},\"webhooks\":[{\"id\":"
	"\"" HOOK "\",\"url\":\"http://127.0.0.1:9/x\"}]}";

static int
load(struct notice *n, const char *doc)
{
	char	err[256];
	int	r;

	r = notice_from_json(n, doc, strlen(doc), err, sizeof(err));
	if (r == -1)
		tap_diag("cannot load: %s", err);
	return r;
}

static json_object *
parse(const char *text)
{
	return text == NULL ? NULL : json_tokener_parse(text);
}

/* The string at a path such as "blocks.0.text.text". */
static const char *
at(json_object *o, const char *path)
{
	char	 buf[256], *p, *s = buf;

	strlcpy(buf, path, sizeof(buf));
	while (o != NULL && (p = strsep(&s, ".")) != NULL) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(p));
		else if (!json_object_object_get_ex(o, p, &o))
			o = NULL;
	}
	return o == NULL ? NULL : json_object_get_string(o);
}

static char *
number(double d)
{
	char	*buf = NULL;
	size_t	 len;
	FILE	*f = open_memstream(&buf, &len);

	js_write_number(f, d);
	fclose(f);
	return buf;
}

static char *
string(const char *s, size_t n)
{
	char	*buf = NULL;
	size_t	 len;
	FILE	*f = open_memstream(&buf, &len);

	js_write_string(f, s, n);
	fclose(f);
	return buf;
}

static void
test_generic_body(void)
{
	struct notice	 n;
	char		*body;

	if (load(&n, failed_doc) == -1) {
		tap_ok(0, "the failed event loads");
		return;
	}
	body = body_generic(&n.event);
	tap_is_str(body, failed_body, "generic body: JSON.stringify's bytes");
	free(body);
	body = body_for(&n.event, HOOK_GENERIC);
	tap_is_str(body, failed_body, "a generic webhook gets the same body");
	free(body);
	notice_free(&n);

	if (load(&n, bare_doc) == 0) {
		body = body_generic(&n.event);
		tap_is_str(body, "{\"type\":\"scheduled_eval_disabled\","
		    "\"title\":\"Disabled\",\"message\":\"\",\"timestamp\":"
		    "\"2026-11-30T16:00:00+01:00\",\"metadata\":{}}",
		    "no metadata: the empty object, still last");
		free(body);
		tap_is_int(n.timeout_ms, 10000, "timeout_ms defaults to 10 s");
		tap_is_int(n.hooks[0].type, HOOK_GENERIC,
		    "a webhook's type defaults to generic");
		tap_ok(n.hooks[0].secret == NULL, "no secret");
		tap_ok(n.command == NULL, "no command");
		notice_free(&n);
	} else
		tap_ok(0, "the bare event loads");
}

static void
test_numbers(void)
{
	static const struct {
		double		 d;
		const char	*want;
	} cases[] = {
		{ 0.1, "0.1" }, { 5.0, "5" }, { 1e21, "1e+21" },
		{ 1e-7, "1e-7" }, { 123456789012345680000.0,
		    "123456789012345680000" }, { 0.000001, "0.000001" },
		{ -0.0, "0" }, { 1.5e300, "1.5e+300" }, { 5e-324, "5e-324" },
		{ 100, "100" }, { 0.88, "0.88" }, { -1234.5678, "-1234.5678" },
		{ 1.0 / 3, "0.3333333333333333" },
	};
	size_t	i;
	char	*s;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		s = number(cases[i].d);
		tap_is_str(s, cases[i].want, "number %s", cases[i].want);
		free(s);
	}
	s = number(NAN);
	tap_is_str(s, "null", "NaN is null");
	free(s);
}

static void
test_strings_and_keys(void)
{
	json_object	*o;
	char		*s;

	s = string("\x01\x1f\x7f/\"\\\b\f\n\r\t\x0b", 12);
	tap_is_str(s, "\"\\u0001\\u001f\x7f/\\\"\\\\\\b\\f\\n\\r\\t\\u000b\"",
	    "escapes as JSON.stringify's, no \\/");
	free(s);
	s = string("a\0b", 3);
	tap_is_str(s, "\"a\\u0000b\"", "a NUL is \\u0000");
	free(s);
	s = string("\xff\xe2\x82x", 4);
	tap_is_str(s, "\"\xef\xbf\xbd\xef\xbf\xbdx\"",
	    "bad UTF-8: U+FFFD for each maximal bad part");
	free(s);
	s = string("\xed\xa0\x80", 3);
	tap_is_str(s, "\"\\ud800\"", "a lone surrogate is escaped");
	free(s);
	o = json_tokener_parse("{\"b\":1,\"10\":2,\"a\":3,\"2\":4,\"01\":5,"
	    "\"-1\":6,\"4294967295\":7,\"4294967294\":8}");
	s = js_stringify(o);
	tap_is_str(s, "{\"2\":4,\"10\":2,\"4294967294\":8,\"b\":1,\"a\":3,"
	    "\"01\":5,\"-1\":6,\"4294967295\":7}",
	    "index keys first, ascending; the rest in their order");
	free(s);
	json_object_put(o);
	o = json_tokener_parse("[12345678901234567890,9007199254740993,"
	    "-9223372036854775808]");
	s = js_stringify(o);
	tap_is_str(s, "[12345678901234567000,9007199254740992,"
	    "-9223372036854776000]", "large integers as JavaScript's doubles");
	free(s);
	json_object_put(o);
}

static void
test_signature(void)
{
	char	hex[SIGN_HEX_LEN + 1], key[20];

	tap_is_int(sign_hex("Jefe", 4, "what do ya want for nothing?", 28,
	    hex), 0, "HMAC-SHA256 works");
	tap_is_str(hex, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843", "RFC 4231 test case 2");
	memset(key, 0x0b, sizeof(key));
	sign_hex(key, sizeof(key), "Hi There", 8, hex);
	tap_is_str(hex, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7", "RFC 4231 test case 1");
	sign_hex("s3cr3t", 6, failed_body, strlen(failed_body), hex);
	tap_is_str(hex, "a0990994de0f1f5c5c022b41a421a433"
	    "4fe9831af3c689f785ffa42244edab60",
	    "the body's signature, as Node's createHmac makes it");
}

static int
no_junk(const char *text)
{
	return text != NULL && strstr(text, "undefined") == NULL &&
	    strstr(text, "null") == NULL && strstr(text, "NaN") == NULL;
}

static void
test_slack_failed(void)
{
	struct notice	 n;
	json_object	*o;
	char		*text;

	if (load(&n, failed_doc) == -1) {
		tap_ok(0, "the failed event loads");
		return;
	}
	text = body_for(&n.event, HOOK_SLACK);
	tap_ok(no_junk(text), "slack: no undefined, null or NaN");
	o = parse(text);
	tap_ok(o != NULL, "slack: a JSON document");
	tap_is_str(at(o, "text"), "Eval \"nightly\" failed: a/b \xe2\x86\x92 "
	    "ok: line1 line2 tab       \xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
	    "\xf0\x9f\x98\x80 &lt;/script&gt; \\ done",
	    "slack: text is the one-line fallback, markup escaped");
	tap_is_str(at(o, "blocks.0.type"), "header", "slack: a header");
	tap_is_str(at(o, "blocks.0.text.type"), "plain_text",
	    "slack: the header is plain text");
	tap_is_str(at(o, "blocks.0.text.text"), "Eval \"nightly\" failed: "
	    "a/b \xe2\x86\x92 ok", "slack: the header is the title");
	tap_is_str(at(o, "blocks.1.text.type"), "mrkdwn",
	    "slack: then the message");
	tap_is_str(at(o, "blocks.2.fields.0.text"), "*Schedule*\nnightly/1",
	    "slack: Schedule");
	tap_is_str(at(o, "blocks.2.fields.1.text"), "*Model*\ngpt-4o",
	    "slack: Model");
	tap_is_str(at(o, "blocks.2.fields.2.text"), "*What happened*\nThe "
	    "evaluation could not be started (3 failures in a row)",
	    "slack: What happened");
	tap_is_str(at(o, "blocks.2.fields.3.text"), "*Status*\nfailed",
	    "slack: Status");
	tap_is_str(at(o, "blocks.2.fields.4.text"),
	    "*Prompts*\n0 of 10 succeeded, 10 failed", "slack: Prompts");
	tap_is_str(at(o, "blocks.3.text.text"),
	    "*Error*\n```HTTP 500 from http://x/api: \"oops\"```",
	    "slack: the error");
	tap_is_str(at(o, "blocks.4.type"), "context", "slack: a context line");
	json_object_put(o);
	free(text);

	text = body_for(&n.event, HOOK_DISCORD);
	tap_ok(no_junk(text), "discord: no undefined, null or NaN");
	o = parse(text);
	tap_is_str(at(o, "embeds.0.title"), "Eval \"nightly\" failed: a/b "
	    "\xe2\x86\x92 ok", "discord: the title");
	tap_is_str(at(o, "embeds.0.color"), "15548997", "discord: red");
	tap_is_str(at(o, "embeds.0.timestamp"), "2026-11-30T16:00:00.000Z",
	    "discord: the event's time");
	tap_is_str(at(o, "embeds.0.fields.0.name"), "Schedule",
	    "discord: Schedule");
	tap_is_str(at(o, "embeds.0.fields.0.value"), "nightly/1",
	    "discord: its value");
	tap_is_str(at(o, "embeds.0.fields.0.inline"), "true",
	    "discord: inline");
	tap_is_str(at(o, "embeds.0.fields.1.name"), "Model", "discord: Model");
	tap_is_str(at(o, "embeds.0.fields.2.name"), "Status",
	    "discord: Status");
	tap_is_str(at(o, "embeds.0.fields.3.value"), "The evaluation could "
	    "not be started (3 failures in a row)", "discord: What happened");
	tap_is_str(at(o, "embeds.0.fields.4.value"),
	    "0 of 10 succeeded, 10 failed", "discord: Prompts");
	tap_is_str(at(o, "embeds.0.fields.5.value"),
	    "```\nHTTP 500 from http://x/api: \"oops\"\n```",
	    "discord: the error");
	tap_is_int(json_object_array_length(json_object_object_get(
	    json_object_object_get(o, "allowed_mentions"), "parse")), 0,
	    "discord: mentions never ping");
	json_object_put(o);
	free(text);
	notice_free(&n);
}

static void
test_regression(void)
{
	struct notice	 n;
	json_object	*o;
	char		*text;

	if (load(&n, regression_doc) == -1) {
		tap_ok(0, "the regression event loads");
		return;
	}
	tap_is_int(n.timeout_ms, 2500, "timeout_ms read");
	tap_is_str(n.command, "/usr/bin/true", "command read");
	tap_is_int(n.allow.n, 2, "webhook_allow read");
	tap_is_int(n.allow.nets[1].prefix, 8, "webhook_allow: fd00::/8");
	tap_is_int(n.hooks[0].type, HOOK_SLACK, "webhook type read");
	tap_is_str(n.hooks[0].origin, "https://hooks.slack.com",
	    "the webhook's origin, for logs, has no path");
	tap_ok(strstr(json_object_to_json_string(n.root), "XYZ") == NULL &&
	    strstr(json_object_to_json_string(n.root), "s3cr3t") == NULL,
	    "the URL and the secret are wiped in the parse tree");
	text = body_for(&n.event, HOOK_SLACK);
	tap_ok(no_junk(text), "slack regression: no junk");
	o = parse(text);
	tap_is_str(at(o, "blocks.1.text.text"), "Quality &lt;dropped&gt; "
	    "&amp; more", "slack: mrkdwn escaped");
	tap_is_str(at(o, "blocks.2.fields.2.text"),
	    "*What happened*\nThe results regressed against the baseline",
	    "slack: What happened");
	tap_is_str(at(o, "blocks.2.fields.3.text"),
	    "*Prompts*\n9 of 10 succeeded, 1 failed", "slack: Prompts");
	tap_is_str(at(o, "blocks.3.fields.0.text"), "*Quality score*\n0.88 "
	    "\xe2\x86\x92 0.7 (-20.5%, threshold 10%)",
	    "slack: the quality score's change");
	tap_is_str(at(o, "blocks.3.fields.1.text"), "*Success rate*\n1 "
	    "\xe2\x86\x92 0.9 (-10.0%, threshold 10%)",
	    "slack: the success rate's change");
	tap_is_str(at(o, "blocks.4.type"), "context", "slack: no error block");
	json_object_put(o);
	free(text);
	text = body_for(&n.event, HOOK_DISCORD);
	o = parse(text);
	tap_is_str(at(o, "embeds.0.color"), "15105570", "discord: orange");
	tap_is_str(at(o, "embeds.0.fields.4.name"), "Quality score",
	    "discord: a field per metric");
	tap_is_str(at(o, "embeds.0.fields.4.value"), "0.88 \xe2\x86\x92 0.7 "
	    "(-20.5%, threshold 10%)", "discord: the metric's change");
	json_object_put(o);
	free(text);
	notice_free(&n);
}

static void
test_bare_chat(void)
{
	struct notice	 n;
	json_object	*o;
	char		*text;

	if (load(&n, bare_doc) == -1) {
		tap_ok(0, "the bare event loads");
		return;
	}
	text = body_for(&n.event, HOOK_SLACK);
	tap_ok(no_junk(text), "slack, no metadata: no junk");
	o = parse(text);
	tap_is_str(at(o, "text"), "Disabled", "slack: just the title");
	tap_is_str(at(o, "blocks.1.fields.0.text"), "*What happened*\nThe "
	    "schedule was disabled after repeated failures",
	    "slack: no message block, What happened alone");
	tap_ok(at(o, "blocks.1.fields.1") == NULL, "slack: nothing else");
	json_object_put(o);
	free(text);
	text = body_for(&n.event, HOOK_DISCORD);
	tap_ok(no_junk(text) && strstr(text, "description") == NULL,
	    "discord, no metadata: no junk, no empty description");
	free(text);
	notice_free(&n);
}

static void
bad(const char *doc, const char *want, const char *what)
{
	struct notice	n;
	char		err[256] = "";
	int		r;

	r = notice_from_json(&n, doc, strlen(doc), err, sizeof(err));
	tap_ok(r == -1 && strstr(err, want) != NULL &&
	    strstr(err, "TOPSECRET") == NULL, "refused: %s", what);
	if (r != -1 || strstr(err, want) == NULL)
		tap_diag("err: %s", err);
	notice_free(&n);
}

#define EV	"\"event\":{\"type\":\"scheduled_eval_failed\",\"title\":\"t\"," \
		"\"message\":\"m\",\"timestamp\":\"2026-11-30T16:00:00Z\"}"
#define ID	"\"alert_id\":\"" ALERT "\""

static void
test_bad_input(void)
{
	bad("{", "not JSON", "not JSON");
	bad("[1]", "not a JSON object", "not an object");
	bad("{} {}", "text after", "two documents");
	bad("{" EV "}", "alert_id is missing", "no alert_id");
	bad("{\"alert_id\":\"TOPSECRET\"," EV "}", "alert_id is not a UUID",
	    "a bad alert_id");
	bad("{" ID "}", "event is missing", "no event");
	bad("{" ID ",\"event\":{\"type\":\"scheduled_eval_completed\","
	    "\"title\":\"t\",\"message\":\"m\",\"timestamp\":"
	    "\"2026-11-30T16:00:00Z\"}}", "event.type is not",
	    "another event type");
	bad("{" ID ",\"event\":{\"type\":\"scheduled_eval_failed\","
	    "\"title\":\"t\",\"message\":\"m\",\"timestamp\":\"yesterday\"}}",
	    "event.timestamp is not", "a bad timestamp");
	bad("{" ID ",\"event\":{\"type\":\"scheduled_eval_failed\","
	    "\"title\":1,\"message\":\"m\",\"timestamp\":"
	    "\"2026-11-30T16:00:00Z\"}}", "event.title is not a string",
	    "a title that is not a string");
	bad("{" ID ",\"event\":{\"type\":\"scheduled_eval_failed\","
	    "\"title\":\"t\",\"message\":\"m\",\"timestamp\":"
	    "\"2026-11-30T16:00:00Z\",\"metadata\":[]}}",
	    "event.metadata is not an object", "metadata not an object");
	bad("{" ID "," EV ",\"webhooks\":{}}", "webhooks is not an array",
	    "webhooks not an array");
	bad("{" ID "," EV ",\"webhooks\":[{\"id\":\"x\",\"url\":"
	    "\"https://TOPSECRET\",\"secret\":\"TOPSECRET\"}]}",
	    "webhooks[0].id is not a UUID", "a bad webhook id, quoting nothing");
	bad("{" ID "," EV ",\"webhooks\":[{\"id\":\"" HOOK "\",\"url\":"
	    "\"https://x/TOPSECRET\",\"type\":\"teams\"}]}",
	    "webhooks[0].type is not generic, slack or discord",
	    "an unknown webhook type");
	bad("{" ID "," EV ",\"webhooks\":[{\"id\":\"" HOOK "\"}]}",
	    "webhooks[0].url is missing", "a webhook without a URL");
	bad("{" ID "," EV ",\"webhooks\":[{\"id\":\"" HOOK "\",\"url\":"
	    "\"https://x/\",\"secret\":42}]}",
	    "webhooks[0].secret is not a string", "a secret not a string");
	bad("{" ID "," EV ",\"command\":\"mail\"}",
	    "command is not an absolute path", "a relative command");
	bad("{" ID "," EV ",\"timeout_ms\":0}", "timeout_ms must be between",
	    "timeout_ms 0");
	bad("{" ID "," EV ",\"timeout_ms\":\"10\"}",
	    "timeout_ms is not an integer", "timeout_ms a string");
	bad("{" ID "," EV ",\"webhook_allow\":\"10.0.0.0/8\"}",
	    "webhook_allow is not an array", "webhook_allow a string");
	bad("{" ID "," EV ",\"webhook_allow\":[\"10.0.0.0/8\","
	    "\"10.0.0.1/8\"]}", "webhook_allow[1] is not a network",
	    "webhook_allow: host bits");
	bad("{" ID "," EV ",\"webhook_allow\":[7]}",
	    "webhook_allow[0] is not a network", "webhook_allow: a number");
}

/* A webhook the supervisor refused: no URL needed, failed with why. */
static void
test_refused(void)
{
	struct notice	n;
	int		r;

	r = load(&n, "{" ID "," EV ",\"webhooks\":[{\"id\":\"" HOOK "\","
	    "\"url\":null,\"secret\":null,\"type\":\"slack\",\"refused\":"
	    "\"its URL is longer than 2048 characters\"},{\"id\":\"" HOOK "\","
	    "\"url\":\"https://x/\",\"refused\":null}]}");
	tap_ok(r == 0 && n.nhooks == 2, "refused: the document is good");
	tap_ok(r == 0 && n.hooks[0].result.done && !n.hooks[0].result.ok &&
	    n.hooks[0].url == NULL && n.hooks[0].type == HOOK_SLACK,
	    "refused: failed before any call");
	tap_is_str(r == 0 ? n.hooks[0].result.error : NULL,
	    "its URL is longer than 2048 characters", "refused: says why");
	tap_ok(r == 0 && !n.hooks[1].result.done && n.hooks[1].url != NULL,
	    "refused null: an ordinary webhook");
	notice_free(&n);
}

/* The command's title and subject: one line, encoded, cut. */
static void
test_command_title(void)
{
	char	*t, *s;

	t = cmdenv_title("a\nBcc: x@example.com\r\n\nbody\xc2\x85\xff");
	tap_is_str(t, "a Bcc: x@example.com   body ?", "title: one line");
	s = cmdenv_subject(t);
	tap_is_str(s, "=?UTF-8?B?YSBCY2M6IHhAZXhhbXBsZS5jb20gICBib2R5ID8=?=",
	    "subject: an encoded word");
	free(s);
	free(t);
	s = cmdenv_subject("");
	tap_is_str(s, "", "subject: empty for an empty title");
	free(s);
}

static void
test_webhook_text(void)
{
	struct hook	h;
	char		buf[NOTIFY_ORIGIN_MAX], text[256];

	tap_ok(webhook_origin("https://hooks.slack.com/services/T/B/X", buf,
	    sizeof(buf)) == 0 && strcmp(buf, "https://hooks.slack.com") == 0,
	    "origin: scheme://host only");
	tap_ok(webhook_origin("http://127.0.0.1:8080/h?token=x", buf,
	    sizeof(buf)) == 0 && strcmp(buf, "http://127.0.0.1:8080") == 0,
	    "origin: with the port");
	tap_ok(webhook_origin("ftp://example.com/x", buf, sizeof(buf)) == -1,
	    "origin: ftp is refused");
	tap_ok(webhook_origin("hooks.slack.com/x", buf, sizeof(buf)) == -1,
	    "origin: no scheme is refused");
	tap_ok(webhook_origin("HTTPS://u:p@Hooks.Example:8443/x", buf,
	    sizeof(buf)) == 0 && strcmp(buf, "https://hooks.example:8443") == 0,
	    "origin: of a URL with credentials, without them");
	tap_ok(webhook_origin("http://127.1/x", buf, sizeof(buf)) == -1,
	    "origin: a host another parser reads otherwise is refused");

	memset(&h, 0, sizeof(h));
	h.url = strdup("https://discord.com/api/webhooks/123/tok?wait=true");
	h.secret = strdup("s3cr3t");
	strlcpy(text, "bad /api/webhooks/123/tok?wait=true (s3cr3t) at "
	    "https://discord.com/api/webhooks/123/tok?wait=true", sizeof(text));
	webhook_redact(text, &h);
	tap_ok(strstr(text, "tok") == NULL && strstr(text, "s3cr3t") == NULL &&
	    strstr(text, "bad ") == text, "redact: path, query and secret");
	free(h.url);
	/* libcurl quotes the URL it was given: the one rebuilt. */
	h.url = strdup("HTTPS://Discord.COM/api/webhooks/9/tok?wait=1#frag");
	strlcpy(text, "failed: https://discord.com/api/webhooks/9/tok?wait=1 "
	    "and /api/webhooks/9/tok?wait=1", sizeof(text));
	webhook_redact(text, &h);
	tap_ok(strstr(text, "tok") == NULL && strstr(text, "discord") == NULL &&
	    strstr(text, "failed: ") == text,
	    "redact: the URL as it was sent, and its path and query");
	free(h.url);
	free(h.secret);
}

static void
test_clip(void)
{
	char	s[64];

	strlcpy(s, "abcdef", sizeof(s));
	text_clip(s, 6);
	tap_is_str(s, "abcdef", "clip: short enough is kept");
	text_clip(s, 5);
	tap_is_str(s, "abc\xe2\x80\xa6", "clip: cut with an ellipsis");
	strlcpy(s, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", sizeof(s));
	text_clip(s, 4);
	tap_is_str(s, "\xc3\xa9\xc3\xa9\xe2\x80\xa6",
	    "clip: counts characters, not bytes");
}

/* A metric alert rule's event, of the application's worker's types. */
static void
test_metric_event(void)
{
	static const char *const types[] = { "trace_latency_high",
	    "trace_error_rate_high", "trace_cost_high", "trace_throughput_low",
	    "trace_ttft_high", "anomaly_critical" };
	struct notice	 n;
	json_object	*o;
	char		 doc[1024], *text;
	size_t		 i;

	for (i = 0; i < sizeof(types) / sizeof(*types); i++) {
		snprintf(doc, sizeof(doc), "{" ID ",\"event\":{\"type\":\"%s\","
		    "\"title\":\"Metric Alert: slow\",\"message\":\"latency "
		    "(p95) is 450.00 > threshold 400\",\"timestamp\":"
		    "\"2026-11-30T16:00:00Z\",\"metadata\":{\"rule_name\":"
		    "\"slow\",\"metric_value\":450}}}", types[i]);
		if (load(&n, doc) == -1) {
			tap_ok(0, "metric event %s loads", types[i]);
			continue;
		}
		text = body_generic(&n.event);
		o = parse(text);
		tap_is_str(at(o, "type"), types[i], "generic body: type %s",
		    types[i]);
		json_object_put(o);
		free(text);
		text = body_for(&n.event, HOOK_SLACK);
		tap_ok(no_junk(text), "slack, %s: no undefined, null or NaN",
		    types[i]);
		o = parse(text);
		tap_is_str(at(o, "blocks.2.fields.0.text"), "*What happened*\n"
		    "A metric alert rule's threshold was crossed",
		    "slack, %s: what happened", types[i]);
		json_object_put(o);
		free(text);
		notice_free(&n);
	}
}

/*
 * What JavaScript makes of numbers and strings, for the application's
 * texts: toFixed rounds the exact value, a tie away from zero (printf
 * rounds it to even); Math.round a tie up; slice counts UTF-16 code
 * units and may cut a character in two, which Node then sends as U+FFFD.
 */
static void
test_javascript(void)
{
	static const struct {
		double		 x;
		int		 digits;
		const char	*want;
	} fixed[] = {
		{ 2.5, 0, "3" }, { 0.125, 2, "0.13" }, { 1.005, 2, "1.00" },
		{ -2.5, 0, "-3" }, { -0.0001, 2, "-0.00" }, { 9.995, 2, "9.99" },
		{ 99.95, 1, "100.0" }, { 1e21, 2, "1e+21" }, { 0, 4, "0.0000" },
		{ 20.45, 1, "20.4" }, { 123.456, 0, "123" },
	};
	char	 buf[64], *s;
	size_t	 i;

	for (i = 0; i < sizeof(fixed) / sizeof(*fixed); i++) {
		js_to_fixed(fixed[i].x, fixed[i].digits, buf, sizeof(buf));
		tap_is_str(buf, fixed[i].want, "(%g).toFixed(%d)", fixed[i].x,
		    fixed[i].digits);
	}
	tap_ok(js_round(2.5) == 3 && js_round(-2.5) == -2 &&
	    js_round(0.49999999999999994) == 0, "Math.round: a tie goes up");
	tap_ok(js_length("a\xf0\x9f\x98\x80\xc3\xa9") == 4,
	    "length: an emoji is two code units");
	s = js_slice("ab\xf0\x9f\x98\x80" "c", 3);
	tap_is_str(s, "ab\xed\xa0\xbd", "slice: cut inside a character, its "
	    "high surrogate");
	free(s);
	s = js_utf8("ab\xed\xa0\xbd\xff!");
	tap_is_str(s, "ab\xef\xbf\xbd\xef\xbf\xbd!", "UTF-8 as Node "
	    "writes it: U+FFFD for a lone surrogate and a bad byte");
	free(s);
	js_duration(3723000, buf, sizeof(buf));
	tap_is_str(buf, "1h 2m", "formatDuration: hours");
	js_duration(65000, buf, sizeof(buf));
	tap_is_str(buf, "1m 5s", "formatDuration: minutes");
	s = js_lower("Job ID \xc3\x89");
	tap_is_str(s, "job id \xc3\xa9", "toLowerCase");
	free(s);
}

int
main(void)
{
	test_generic_body();
	test_numbers();
	test_strings_and_keys();
	test_signature();
	test_slack_failed();
	test_regression();
	test_metric_event();
	test_bare_chat();
	test_bad_input();
	test_webhook_text();
	test_clip();
	test_refused();
	test_command_title();
	test_javascript();
	return tap_done();
}
