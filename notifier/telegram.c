/*
 * Telegram: sendMessage with the text the application writes, in its
 * Markdown (integration.service.ts, logToTelegram), to
 * BASE/bot<token>/sendMessage.  The token is in the URL's path: the URL
 * is a secret, and neither logged nor in any error (integ.c masks the
 * token and logs only scheme://host:port).  Delivered when the answer
 * says "ok", as there; a 2xx without it is not tried again, since the
 * message may have gone.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"
#include "text.h"

#define ANSWER_MAX	(64 * 1024)

char *
telegram_text(const struct integ_event *ev)
{
	FILE	*f;
	char	*buf, loss[64], *error;
	size_t	 len;

	f = xmemstream(&buf, &len);
	fprintf(f, "%s *%s*\n\nJob ID: `%s`\nStatus: %s\n", INTEG_EMOJI,
	    ev->title, ev->job_id, ev->status);
	if (ev->model_name != NULL)
		fprintf(f, "Model: %s\n", ev->model_name);
	if (ev->duration != NULL)
		fprintf(f, "Duration: %s\n", ev->duration);
	if (ev->has_loss) {
		js_to_fixed(ev->loss, 4, loss, sizeof(loss));
		fprintf(f, "Final Loss: %s\n", loss);
	}
	if (ev->error != NULL) {
		error = js_slice(ev->error, 500);
		fprintf(f, "\nError: %s", error);
		free(error);
	}
	return xmemstream_text(f, &buf);
}

char *
telegram_body(const struct integ_event *ev, json_object *chat_id)
{
	json_object	*o = jnew_object();
	char		*text = telegram_text(ev), *body;

	jset(o, "chat_id", json_object_get(chat_id));
	jset(o, "text", jnew_string(text));
	jset(o, "parse_mode", jnew_string("Markdown"));
	free(text);
	body = js_stringify(o);
	json_object_put(o);
	return body;
}

/* `if (!data.ok)`: any truthy ok will do. */
static int
said_ok(const struct request *r)
{
	json_object	*a = integ_answer(r), *v;
	int		 ok;

	/* js_member sets v: it is called before v is read. */
	ok = js_member(a, "ok", &v) && js_truthy(1, v);
	json_object_put(a);
	return ok;
}

static void
done(struct request *r, void *arg)
{
	integ_checked_result(r, arg, said_ok, "ok", 0, "description");
}

void
telegram_start(struct integration *ig, const struct integ_event *ev)
{
	static const char *const headers[] = {
		"Content-Type: application/json", NULL };
	const char	*base = ig->notice->api.telegram;
	char		*body;
	size_t		 n = strlen(base);

	/* The base as configured, without its trailing slashes. */
	while (n > 0 && base[n - 1] == '/')
		n--;
	body = telegram_body(ev, ig->chat_id);
	/* The URL is masked wherever it is written: integ.c masks ig->url. */
	ig->url = xasprintf("%.*s/bot%s/sendMessage", (int)n, base, ig->key);
	integ_call(ig, ig->url, body, headers, ANSWER_MAX, done);
	free(body);
}
