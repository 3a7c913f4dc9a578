/*
 * Every channel of one alert, each once and all at the same time: the
 * webhooks' POSTs on one libcurl multi handle, the command beside them,
 * one loop waiting on both.  So the whole delivery takes about one
 * timeout (and the command's SIGKILL grace), however many channels.
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
	char			*e;

	res->ran = 1;
	res->ok = 0;
	if (asprintf(&e, "cannot run the command: %s", strerror(err)) != -1)
		res->error = e;
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

/* The transfers that ended, into their webhooks' results. */
static void
collect(CURLM *m)
{
	struct transfer	*t;
	CURLMsg		*msg;
	int		 left;

	while ((msg = curl_multi_info_read(m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&t) == CURLE_OK && t != NULL)
			webhook_finish(t, msg->data.result);
	}
}

/*
 * Waits for a transfer, the command's output or end, or wait_ms; with
 * libcurl broken, for the command alone.  Returns 0, or -1 when libcurl
 * failed now.
 */
static int
wait_once(CURLM *m, int curl_ok, struct command *cmd, long wait_ms)
{
	struct curl_waitfd	w[3];
	struct pollfd		p[3];
	int			fds[3], n = 0, i;

	if (cmd != NULL)
		n = command_fds(cmd, fds);
	for (i = 0; i < n; i++) {
		w[i].fd = p[i].fd = fds[i];
		w[i].events = CURL_WAIT_POLLIN;
		p[i].events = POLLIN;
		w[i].revents = p[i].revents = 0;
	}
	if (curl_ok)
		return curl_multi_poll(m, w, (unsigned)n, (int)wait_ms,
		    NULL) == CURLM_OK ? 0 : -1;
	if (poll(p, (nfds_t)n, (int)wait_ms) == -1 && errno != EINTR)
		log_warn("poll");
	return 0;
}

/*
 * Until every transfer ended and the command is over.  Returns 0, or -1
 * when libcurl failed (the command still runs its course).
 */
static int
run(CURLM *m, struct command *cmd)
{
	long	now, wait;
	int	running = 0, live = cmd != NULL, curl_ok = 1;

	for (;;) {
		if (curl_ok && curl_multi_perform(m, &running) != CURLM_OK)
			curl_ok = 0;
		if (curl_ok)
			collect(m);
		else
			running = 0;
		now = mono_ms();
		wait = 1000;
		if (live && (live = command_step(cmd, now)) != 0)
			wait = command_wait_ms(cmd, now);
		if (running == 0 && !live)
			return curl_ok ? 0 : -1;
		if (wait_once(m, curl_ok, live ? cmd : NULL, wait) == -1)
			curl_ok = 0;
	}
}

static void
start_all(CURLM *m, struct notice *n, const char *generic,
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
finish_all(CURLM *m, struct notice *n, struct transfer **ts)
{
	size_t	i;

	for (i = 0; i < n->nhooks; i++) {
		if (!n->hooks[i].result.done) {
			n->hooks[i].result.done = 1;
			n->hooks[i].result.retry = 1;
			n->hooks[i].result.error =
			    strdup("internal error: libcurl failed");
		}
		webhook_free(m, ts[i]);
	}
}

int
deliver(struct notice *n, const char *generic)
{
	struct transfer	**ts;
	struct command	 *cmd = NULL;
	CURLM		 *m;
	int		  r;

	if ((m = curl_multi_init()) == NULL)
		return -1;
	if ((ts = calloc(n->nhooks + 1, sizeof(*ts))) == NULL) {
		curl_multi_cleanup(m);
		return -1;
	}
	/* The fork comes before libcurl may start a resolver thread. */
	if (n->command != NULL &&
	    (cmd = command_start(n, generic, strlen(generic))) == NULL)
		not_started(n, errno);
	start_all(m, n, generic, ts);
	r = run(m, cmd);
	if (cmd != NULL)
		command_finish(cmd, &n->command_result);
	if (n->command != NULL)
		log_command(n);
	finish_all(m, n, ts);
	free(ts);
	curl_multi_cleanup(m);
	return r;
}
