/*
 * evalsched-jobrunner: reads one job (JSON) on stdin, asks the
 * evaluation application to start the batch test, writes one result
 * (JSON) on stdout and exits with the outcome class (sysexits.h).
 *
 * It reads no environment variable for a key or the database: the keys
 * (the service key; the encryption key that opens a schedule's own API
 * key) come on stdin, and there is no database here at all.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "durable.h"
#include "harden.h"
#include "jobrunner.h"
#include "json1.h"
#include "jsonnew.h"
#include "log.h"
#include "text.h"

#define TITLE_NAME_MAX	64

extern char	**environ;

/* Where the result goes if our reader is gone: see job.h. */
static char	*left_run_id, *left_dir;

/*
 * Reads all of stdin, at most JOB_MAX_TEXT bytes, as a string.  Returns
 * NULL with err set when it is too large, holds a NUL or cannot be read.
 */
static char *
read_job(char *err, size_t len)
{
	char	*text;

	switch (read_bounded(STDIN_FILENO, JOB_MAX_TEXT, &text, NULL)) {
	case READ_OK:
		return text;
	case READ_ERROR:
		snprintf(err, len, "cannot read the job on stdin");
		break;
	case READ_TOO_LARGE:
		snprintf(err, len, "the job is larger than %d bytes",
		    JOB_MAX_TEXT);
		break;
	case READ_NUL:
		snprintf(err, len, "the job holds a NUL byte");
		break;
	}
	return NULL;
}

/* The spool marker's JSON string as a value; NULL (null) for no node. */
static json_object *
node_value(const char *node)
{
	json_object	*v;

	if (node == NULL || json1_parse(node, strlen(node), 0, &v, NULL,
	    0) == -1)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		json_object_put(v);
		return NULL;
	}
	return v;
}

/*
 * What is left for the next supervisor: {"run_id", "node", "exit_status",
 * "result"} (job.h), the result being the text we could not write (ours:
 * it is one JSON value).
 */
static json_object *
left_doc(const char *text, const char *node, int code)
{
	json_object	*doc, *result;

	if (json1_parse(text, strlen(text), 0, &result, NULL, 0) == -1)
		return NULL;
	doc = jnew_object();
	jset(doc, "run_id", jnew_string(left_run_id));
	jset(doc, "node", node_value(node));
	jset(doc, "exit_status", jnew_int(code));
	jset(doc, "result", result);
	return doc;
}

/* The document as one line of text. */
static char *
left_text(const char *text, const char *node, int code)
{
	json_object	*doc;
	char		*line;

	if ((doc = left_doc(text, node, code)) == NULL)
		return NULL;
	line = xasprintf("%s\n", jtext(doc, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return line;
}

/*
 * The supervisor died while we ran: leave the result, fsynced and renamed
 * into place, where the next supervisor on this host looks for it.  It
 * names the node the spool's marker names: a supervisor takes only a
 * result left for its own node.
 */
static void
leave_result(const char *text, int code)
{
	char	 name[256], why[256], *doc, *node;

	if (left_dir == NULL || *left_dir == '\0' || left_run_id == NULL)
		return;
	if ((node = durable_node(left_dir, why, sizeof(why))) == NULL)
		log_warnx("run %s: no node marker in %s (%s); the result left "
		    "there will not be taken", left_run_id, left_dir, why);
	snprintf(name, sizeof(name), "%s%s", left_run_id, JOB_RESULT_SUFFIX);
	doc = left_text(text, node, code);
	free(node);
	if (doc == NULL) {
		log_warnx("run %s: cannot build the result to leave",
		    left_run_id);
		return;
	}
	if (durable_write(left_dir, name, doc) == -1)
		log_warn("run %s: cannot leave the result in %s", left_run_id,
		    left_dir);
	else
		log_info("run %s: the supervisor is gone; result left in %s/%s",
		    left_run_id, left_dir, name);
	free(doc);
}

static void
write_result(const struct job_result *res, int code)
{
	char	*text = job_result_to_json(res);

	if (printf("%s\n", text) < 0 || fflush(stdout) == EOF) {
		log_warn("cannot write the result");
		leave_result(text, code);
	}
	free(text);
}

/* A bad job still gets a result, so that its reader learns why. */
static int
bad_job(struct job_result *res, const char *why, long start)
{
	char	msg[JOB_MAX_ERROR + 1];

	snprintf(msg, sizeof(msg), "bad job: %s", why);
	log_warnx("%s", msg);
	res->error = xstrdup(msg);
	res->elapsed_ms = mono_ms() - start;
	/* The supervisor wrote the job: a bad one is ours, not the schedule's. */
	res->blame = BLAME_PLATFORM;
	return EX_DATAERR;
}

/* "run <run id> <schedule name>", for ps(1). */
static void
set_title(int argc, char **argv, const struct job *job)
{
	char	name[TITLE_NAME_MAX + 1];

	strlcpy(name, job->schedule_name, sizeof(name));
	text_trim(name, TITLE_NAME_MAX);
	setproctitle_init(argc, argv, environ);
	/* Escaped as log lines are: a name may hold ESC or a newline. */
	log_setproctitle("run %s %s", job->run_id, name);
}

/*
 * libcurl is set up once the job is read, not before: how OpenSSL is
 * initialized depends on it (http.c).  A spare started ahead of time has
 * done the costly part, loading libcurl's libraries, when its job comes.
 */
static int
run(int argc, char **argv, struct job_result *res)
{
	struct job	 job;
	char		*text, err[256];
	long		 start;
	int		 code;

	text = read_job(err, sizeof(err));
	start = mono_ms();
	if (text == NULL)
		return bad_job(res, err, start);
	code = job_from_json(&job, text, err, sizeof(err));
	explicit_bzero(text, strlen(text));
	free(text);
	if (code == -1)
		return bad_job(res, err, start);
	set_title(argc, argv, &job);
	left_run_id = xstrdup(job.run_id);
	if (job.result_dir != NULL)
		left_dir = xstrdup(job.result_dir);
	if (http_init(&job) == -1) {
		log_warnx("run %s: cannot initialize libcurl", job.run_id);
		res->error = xstrdup("cannot initialize libcurl");
		res->blame = BLAME_PLATFORM;
		code = EX_SOFTWARE;
	} else {
		code = run_job(&job, res);
		http_cleanup();
	}
	job_free(&job);
	return code;
}

int
main(int argc, char *argv[])
{
	struct job_result	res;
	int			code;

	/* It holds keys: no core file, no peeking at its memory. */
	harden_helper_start("evalsched-jobrunner", "[-V] < job.json", argc,
	    argv);
	memset(&res, 0, sizeof(res));
	code = run(argc, argv, &res);
	write_result(&res, code);
	job_result_free(&res);
	free(left_run_id);
	free(left_dir);
	return code;
}
