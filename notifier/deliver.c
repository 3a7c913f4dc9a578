/*
 * Every channel of one alert, each once and all at the same time: the
 * webhooks' POSTs and the API calls (Resend, the integrations) on one
 * libcurl multi handle, the alert command and sendmail beside them, one
 * loop waiting on all.  So the whole delivery takes about one timeout
 * (and a child's SIGKILL grace), however many channels.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"
#include "notifier.h"

/* The command's results, set when it could not even be started. */
static void
not_started(struct notice *n, int err)
{
	struct command_result	*res = &n->command_result;

	res->ran = 1;
	res->ok = 0;
	res->error = xasprintf("cannot run the command: %s", strerror(err));
}

static void
log_command(const struct notice *n)
{
	const struct command_result	*res = &n->command_result;

	if (res->ok)
		log_info("alert %s: command %s: exited 0", n->alert_id,
		    n->command);
	else
		log_warnx("alert %s: command %s: %s", n->alert_id, n->command,
		    res->error != NULL ? res->error : "failed");
}

/* The children the loop drives: the alert command, sendmail. */
#define CHILDREN	2

/*
 * The transfers that ended, into their owners' results.  Returns how
 * many: an owner may have started another (Notion's second call).
 */
static int
collect(CURLM *m)
{
	struct xfer	*x;
	CURLMsg		*msg;
	CURLcode	 result;
	CURL		*easy;
	int		 left, n = 0;

	while ((msg = curl_multi_info_read(m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		result = msg->data.result;
		if (curl_easy_getinfo(easy, CURLINFO_PRIVATE,
		    (char **)&x) == CURLE_OK && x != NULL) {
			x->finish(x, result);
			n++;
		}
	}
	return n;
}

/*
 * Waits for a transfer, a child's output or end, or wait_ms; with
 * libcurl broken, for the children alone.  Returns 0, or -1 when
 * libcurl failed now.
 */
static int
wait_once(CURLM *m, int curl_ok, struct command **cmd, const int *live,
    long wait_ms)
{
	struct curl_waitfd	w[3 * CHILDREN];
	struct pollfd		p[3 * CHILDREN];
	int			fds[3], n = 0, i, k, c;

	for (c = 0; c < CHILDREN; c++) {
		if (!live[c])
			continue;
		k = command_fds(cmd[c], fds);
		for (i = 0; i < k; i++, n++) {
			w[n].fd = p[n].fd = fds[i];
			w[n].events = CURL_WAIT_POLLIN;
			p[n].events = POLLIN;
			w[n].revents = p[n].revents = 0;
		}
	}
	if (curl_ok)
		return curl_multi_poll(m, w, (unsigned)n, (int)wait_ms,
		    NULL) == CURLM_OK ? 0 : -1;
	if (poll(p, (nfds_t)n, (int)wait_ms) == -1 && errno != EINTR)
		log_warn("poll");
	return 0;
}

/* One look at each child; how long the loop may wait, or -1: all over. */
static long
step_children(struct command **cmd, int *live, long now)
{
	long	wait = -1, w;
	int	c;

	for (c = 0; c < CHILDREN; c++) {
		if (!live[c] || (live[c] = command_step(cmd[c], now)) == 0)
			continue;
		w = command_wait_ms(cmd[c], now);
		if (wait == -1 || w < wait)
			wait = w;
	}
	return wait;
}

/*
 * Until every transfer ended and the children are over.  Returns 0, or
 * -1 when libcurl failed (the children still run their course).
 */
static int
run(CURLM *m, struct command **cmd)
{
	long	wait;
	int	running = 0, curl_ok = 1, live[CHILDREN], c;

	for (c = 0; c < CHILDREN; c++)
		live[c] = cmd[c] != NULL;
	for (;;) {
		if (curl_ok && curl_multi_perform(m, &running) != CURLM_OK)
			curl_ok = 0;
		/* One that ended may have started another: perform it. */
		if (curl_ok && collect(m) > 0)
			continue;
		if (!curl_ok)
			running = 0;
		wait = step_children(cmd, live, mono_ms());
		if (running == 0 && wait == -1)
			return curl_ok ? 0 : -1;
		if (wait == -1 || wait > 1000)
			wait = 1000;
		if (wait_once(m, curl_ok, cmd, live, wait) == -1)
			curl_ok = 0;
	}
}

static void
start_hooks(CURLM *m, struct notice *n, const char *generic,
    struct transfer **ts)
{
	size_t	i;

	for (i = 0; i < n->nhooks; i++) {
		/* Refused by the supervisor (input.c): sent nothing. */
		if (n->hooks[i].result.done)
			log_warnx("alert %s: webhook %s: not delivered: %s",
			    n->alert_id, n->hooks[i].id,
			    n->hooks[i].result.error);
		else
			ts[i] = webhook_start(m, &n->hooks[i], n, generic);
	}
}

/*
 * A transfer that never finished (libcurl itself failed) is a failed
 * delivery with an internal error.
 */
static void
finish_hooks(CURLM *m, struct notice *n, struct transfer **ts)
{
	size_t	i;

	for (i = 0; i < n->nhooks; i++) {
		if (!n->hooks[i].result.done) {
			n->hooks[i].result.done = 1;
			n->hooks[i].result.retry = 1;
			n->hooks[i].result.error =
			    xstrdup("internal error: libcurl failed");
		}
		webhook_free(m, ts[i]);
	}
}

/* The children fork before libcurl may start a resolver thread. */
static void
start_children(CURLM *m, struct notice *n, const char *generic,
    struct command **cmd)
{
	if (n->command != NULL &&
	    (cmd[0] = command_start(n, generic, strlen(generic))) == NULL)
		not_started(n, errno);
	cmd[1] = email_start(m, n);
}

int
deliver(struct notice *n, const char *generic)
{
	struct transfer	**ts;
	struct command	 *cmd[CHILDREN] = { NULL, NULL };
	CURLM		 *m;
	int		  r;

	if ((m = curl_multi_init()) == NULL)
		return -1;
	ts = xcalloc(n->nhooks + 1, sizeof(*ts));
	start_children(m, n, generic, cmd);
	start_hooks(m, n, generic, ts);
	integrations_start(m, n);
	r = run(m, cmd);
	if (cmd[0] != NULL)
		command_finish(cmd[0], &n->command_result);
	if (n->command != NULL)
		log_command(n);
	email_finish(m, n, cmd[1]);
	finish_hooks(m, n, ts);
	integrations_finish(m, n);
	free(ts);
	curl_multi_cleanup(m);
	return r;
}
