// link: supervisor/alertresult.o
/*
 * A notifier's result as the supervisor reads it: each channel rewritten
 * as the schema's evalsched_alert_result takes it, a channel asked for
 * and not answered left pending, and nothing a notifier writes able to
 * make the database refuse the write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../supervisor/supervisor.h"
#include "tap.h"

#define W1	"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define I1	"11111111-2222-3333-4444-555555555555"

static void
test_channels(void)
{
	struct alert_result	r;

	tap_ok(alertresult_parse("{\"webhooks\":[{\"id\":\"" W1 "\",\"ok\":"
	    "false,\"status_code\":500,\"error\":\"HTTP 500\",\"retry\":true}],"
	    "\"command\":null,\"email\":{\"ok\":true,\"message_id\":\"<m@x>\","
	    "\"error\":null,\"retry\":false},\"integrations\":[{\"id\":\"" I1
	    "\",\"type\":\"teams\",\"ok\":false,\"error\":\"HTTP 503\","
	    "\"retry\":false}]}", ALERT_ASKED_EMAIL | ALERT_ASKED_INTEGRATIONS,
	    &r) == 0, "a result of every channel");
	tap_is_str(r.webhooks, "[{\"id\":\"" W1 "\",\"ok\":false,"
	    "\"status_code\":500,\"error\":\"HTTP 500\",\"retry\":true}]",
	    "the webhooks");
	tap_is_str(r.email, "{\"ok\":true,\"message_id\":\"<m@x>\","
	    "\"error\":null,\"retry\":false}", "the email");
	tap_is_str(r.integrations, "[{\"id\":\"" I1 "\",\"type\":\"teams\","
	    "\"ok\":false,\"error\":\"HTTP 503\",\"retry\":false}]",
	    "the integrations");
	tap_ok(!r.command_pending, "no command: none pending");
	alertresult_free(&r);
}

/* A notifier that knows nothing of email or integrations. */
static void
test_unanswered(void)
{
	struct alert_result	r;

	tap_ok(alertresult_parse("{\"webhooks\":[],\"command\":{\"ok\":false}}",
	    ALERT_ASKED_EMAIL | ALERT_ASKED_INTEGRATIONS, &r) == 0,
	    "a result without the channels asked for");
	tap_ok(r.email == NULL, "the email asked for stays pending");
	tap_ok(r.integrations == NULL, "the integrations too");
	tap_ok(r.command_pending, "the failed command is pending");
	alertresult_free(&r);
	tap_ok(alertresult_parse("{\"webhooks\":[],\"email\":{\"ok\":true},"
	    "\"integrations\":[{\"id\":\"" I1 "\",\"ok\":true}]}", 0, &r) == 0,
	    "channels answered that were not asked for");
	tap_ok(r.email == NULL, "an email not asked for is not taken");
	tap_is_str(r.integrations, "[]", "integrations not asked for: none");
	alertresult_free(&r);
}

static void
test_hostile(void)
{
	struct alert_result	r;

	tap_ok(alertresult_parse("{\"webhooks\":[{\"id\":\"x'); DROP\","
	    "\"ok\":true},{\"id\":\"" W1 "\",\"ok\":\"yes\",\"status_code\":"
	    "99999,\"error\":\"bad \\u0000 \\udc80 \xff text\"},7],"
	    "\"email\":{\"ok\":1}}", ALERT_ASKED_EMAIL, &r) == 0,
	    "a result with wrong types");
	tap_is_str(r.webhooks, "[{\"id\":\"" W1 "\",\"ok\":false,"
	    "\"status_code\":null,\"error\":\"bad \",\"retry\":true}]",
	    "an id that is no UUID dropped, ok not true is false, a status "
	    "out of range none, a text cut at its NUL, retry by default");
	tap_is_str(r.email, "{\"ok\":false,\"message_id\":null,"
	    "\"error\":null,\"retry\":true}", "an email ok that is no boolean");
	alertresult_free(&r);
	tap_ok(alertresult_parse("{\"webhooks\":[{\"id\":\"" W1 "\",\"ok\":"
	    "false,\"error\":\"\xc3\x28 after\"}]}", 0, &r) == 0,
	    "an error in bad UTF-8");
	tap_is_str(r.webhooks, "[{\"id\":\"" W1 "\",\"ok\":false,"
	    "\"status_code\":null,\"error\":\"?( after\",\"retry\":true}]",
	    "made valid for the database");
	alertresult_free(&r);
	tap_ok(alertresult_parse("{\"error\":\"bad job\",\"webhooks\":[]}", 0,
	    &r) == -1, "a job the notifier refused: no result");
	tap_ok(alertresult_parse("{\"command\":null}", 0, &r) == -1,
	    "no webhooks: no result");
	tap_ok(alertresult_parse("not json", 0, &r) == -1, "not JSON");
	tap_ok(alertresult_parse(NULL, 0, &r) == -1, "nothing at all");
	tap_ok(r.webhooks == NULL && r.email == NULL && r.integrations == NULL,
	    "and nothing kept");
}

int
main(void)
{
	test_channels();
	test_unanswered();
	test_hostile();
	return tap_done();
}
