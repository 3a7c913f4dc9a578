/*
 * evalsched-notifier: reads one alert (JSON) on stdin, delivers it to
 * its webhooks, its command, its email and its integrations, writes
 * what became of each (JSON) on stdout and exits with the outcome
 * (sysexits.h): 0 all delivered, EX_TEMPFAIL something was not (the
 * supervisor tries again with what failed), EX_DATAERR a bad document,
 * EX_SOFTWARE an internal error.  Out of memory ends it at once with
 * EX_OSERR and no result (util.h): the supervisor tries again what was
 * left to deliver, as after any notifier that left none.
 *
 * Secrets (webhook secrets, the URLs of Slack, Discord and Teams
 * webhooks, which are secrets, the integrations' tokens and keys,
 * Resend's key) come only on stdin, and are wiped after use.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harden.h"
#include "log.h"
#include "notifier.h"

extern char	**environ;

/*
 * All of stdin, at most NOTIFY_MAX_INPUT bytes.  NULL with err set (and
 * *code the exit status) when it is too large, holds a NUL or cannot be
 * read.
 */
static char *
read_input(size_t *len, int *code, char *err, size_t errlen)
{
	char	*text;

	*code = EX_DATAERR;
	switch (read_bounded(STDIN_FILENO, NOTIFY_MAX_INPUT, &text, len)) {
	case READ_OK:
		return text;
	case READ_ERROR:
		*code = EX_SOFTWARE;
		snprintf(err, errlen, "cannot read the alert on stdin");
		break;
	case READ_TOO_LARGE:
		snprintf(err, errlen, "bad input: larger than %d bytes",
		    NOTIFY_MAX_INPUT);
		break;
	case READ_NUL:
		snprintf(err, errlen, "bad input: it holds a NUL byte");
		break;
	}
	return NULL;
}

/* "alert <id> <event type>", for ps(1). */
static void
set_title(int argc, char **argv, const struct notice *n)
{
	setproctitle_init(argc, argv, environ);
	setproctitle("alert %s %s", n->alert_id,
	    json_object_get_string(n->event.type_name));
}

static int
all_delivered(const struct notice *n)
{
	size_t	i;

	for (i = 0; i < n->nhooks; i++)
		if (!n->hooks[i].result.ok)
			return 0;
	for (i = 0; i < n->ninteg; i++)
		if (!n->integs[i].result.ok)
			return 0;
	if (n->email != NULL && !n->email->result.ok)
		return 0;
	return !n->command_result.ran || n->command_result.ok;
}

/* Reads, checks and delivers; err is set for EX_DATAERR, EX_SOFTWARE. */
static int
notify(int argc, char **argv, struct notice *n, char *err, size_t errlen)
{
	char	*text, *generic, why[256];
	size_t	 len;
	int	 code, r;

	if ((text = read_input(&len, &code, err, errlen)) == NULL)
		return code;
	r = notice_from_json(n, text, len, why, sizeof(why));
	explicit_bzero(text, len);
	free(text);
	if (r == -1) {
		snprintf(err, errlen, "bad input: %s", why);
		return EX_DATAERR;
	}
	set_title(argc, argv, n);
	generic = body_generic(&n->event);
	r = deliver(n, generic);
	free(generic);
	if (r == -1) {
		snprintf(err, errlen, "internal error: libcurl failed");
		return EX_SOFTWARE;
	}
	return all_delivered(n) ? EX_OK : EX_TEMPFAIL;
}

static void
write_result(const struct notice *n, const char *error)
{
	char	*text = result_to_json(n, error);

	if (printf("%s\n", text) < 0 || fflush(stdout) == EOF)
		log_warn("cannot write the result");
	free(text);
}

int
main(int argc, char *argv[])
{
	struct notice	n;
	char		err[512];
	int		code;

	/* It holds webhook secrets: no core file, no peeking at its memory. */
	harden_helper_start("evalsched-notifier", "[-V] < alert.json", argc,
	    argv);
	/* Inherited as ignored, it would reap the command behind our back. */
	signal(SIGCHLD, SIG_DFL);
	memset(&n, 0, sizeof(n));
	*err = '\0';
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, sizeof(err), "internal error: cannot initialize "
		    "libcurl");
		code = EX_SOFTWARE;
	} else {
		code = notify(argc, argv, &n, err, sizeof(err));
		curl_global_cleanup();
	}
	if (*err != '\0')
		log_warnx("alert %s: %s", n.alert_id != NULL ? n.alert_id :
		    "(unknown)", err);
	write_result(&n, *err != '\0' ? err : NULL);
	notice_free(&n);
	return code;
}
