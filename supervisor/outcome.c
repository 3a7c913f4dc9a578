/*
 * What became of a dispatch: the jobrunner's exit status (its sysexits.h
 * class), its result JSON and what we did to it (timeout, shutdown),
 * turned into the outcome that record.c writes.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <json.h>

#include "job.h"
#include "jsonnew.h"
#include "log.h"
#include "supervisor.h"
#include "text.h"

struct outcome *
outcome_new(enum outcome_kind kind, const char *run_id,
    const char *schedule_name)
{
	struct outcome	*o = xcalloc(1, sizeof(*o));

	o->kind = kind;
	strlcpy(o->run_id, run_id, sizeof(o->run_id));
	strlcpy(o->owner, sv->id, sizeof(o->owner));
	o->schedule_name = xstrdup(schedule_name);
	return o;
}

void
outcome_free(struct outcome *o)
{
	if (o == NULL)
		return;
	free(o->schedule_name);
	free(o->error_message);
	free(o->error_details);
	free(o);
}

/* "exited 75", "killed by signal 9 (Killed)", as OpenSMTPD says it. */
char *
describe_wait_status(int wstatus, char *buf, size_t len)
{
	if (WIFEXITED(wstatus))
		snprintf(buf, len, "exited %d", WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
	else
		snprintf(buf, len, "ended with status %#x", wstatus);
	return buf;
}

/*
 * Whose fault it is: the jobrunner says so for the answers it got (the
 * blame table, blame.c); everything else (a jobrunner that cannot run,
 * crashed, was killed at run_timeout or left no result) is the
 * platform's, never the schedule's.
 */
static enum blame
blame_of(int wstatus, const struct job_result *res, int have_res)
{
	if (have_res && WIFEXITED(wstatus) && res->blame != BLAME_NONE)
		return res->blame;
	return BLAME_PLATFORM;
}

/*
 * Whether the request may have started a batch test that nobody told us
 * of: the jobrunner says its request went out and the route did not
 * answer, or it was stopped (at run_timeout, by a signal, by a shutdown)
 * or ended without a result, when it may have been waiting for the
 * answer.  The route is not idempotent: such a run is never dispatched
 * again, and the database says whether its batch test started.  A
 * jobrunner that could not even be executed sent nothing.
 */
static int
unresolved(int wstatus, const struct job_result *res, int have_res)
{
	if (have_res && WIFEXITED(wstatus))
		return res->ambiguous;
	return !(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127);
}

/*
 * The run's error, which its owner reads (in the application, in
 * alerts): what happened, and not where.  The jobrunner's stderr, in
 * the log already, names the deployment's paths and URLs: it stays
 * there.
 */
static char *
failure_message(const struct child *c, int wstatus,
    const struct job_result *res, int have_res)
{
	const char	*see = c->err_last[0] != '\0' ?
			    " (see the supervisor's log)" : "";
	char		 how[128];

	describe_wait_status(wstatus, how, sizeof(how));
	if (c->state == CHILD_TIMED_OUT)
		return xasprintf("timed out: the jobrunner outlived run_timeout "
		    "(%d s) and was %s", sv->conf.run_timeout,
		    WIFSIGNALED(wstatus) ? "killed" : "stopped");
	if (WIFSIGNALED(wstatus))
		return xasprintf("jobrunner %s", how);
	if (WEXITSTATUS(wstatus) == 127)
		return xasprintf("cannot run the jobrunner%s", see);
	if (have_res && res->error != NULL)
		return xstrdup(res->error);
	if (c->out_too_long)
		return xasprintf("jobrunner %s: its result was larger than %zu "
		    "bytes", how, c->kind->out_max);
	if (WEXITSTATUS(wstatus) == 0)
		return xstrdup("jobrunner exited 0 without a usable result");
	return xasprintf("jobrunner %s%s", how, see);
}

static void
add_int(json_object *o, const char *key, int64_t v)
{
	jset(o, key, jnew_int(v));
}

static char *
failure_details(const struct child *c, int wstatus,
    const struct job_result *res, int have_res, enum blame blame)
{
	json_object	*o = jnew_object();
	char		*text;

	if (blame != BLAME_NONE)
		jset(o, "blame", jnew_string(blame_name(blame)));
	if (WIFEXITED(wstatus))
		add_int(o, "exit_status", WEXITSTATUS(wstatus));
	if (WIFSIGNALED(wstatus)) {
		add_int(o, "signal", WTERMSIG(wstatus));
		jset(o, "signal_name",
		    jnew_string(sigabbrev_np(WTERMSIG(wstatus)) ?
		    sigabbrev_np(WTERMSIG(wstatus)) : "?"));
	}
	if (have_res) {
		if (res->http_status != 0)
			add_int(o, "http_status", res->http_status);
		if (res->curl_code != 0)
			add_int(o, "curl_code", res->curl_code);
		add_int(o, "attempts", res->attempts);
		add_int(o, "jobrunner_elapsed_ms", res->elapsed_ms);
	}
	if (unresolved(wstatus, res, have_res))
		jset(o, "unresolved", jnew_bool(1));
	/* Cut short: if no batch test turns up, the run is cancelled. */
	if (c->state == CHILD_CANCELLED)
		jset(o, "cancelled", jnew_bool(1));
	add_int(o, "elapsed_ms", mono_ms() - c->started_ms);
	jset(o, "timed_out", jnew_bool(c->state == CHILD_TIMED_OUT));
	if (c->state == CHILD_TIMED_OUT)
		add_int(o, "run_timeout", sv->conf.run_timeout);
	text = xstrdup(jtext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

static int
accepted(int wstatus, const struct job_result *res, int have_res)
{
	return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && have_res &&
	    res->test_run_id != NULL && strlen(res->test_run_id) == UUID_LEN;
}

/*
 * A schedule's API key that the encryption_key does not open is the
 * schedule's fault once that key has opened another schedule's; before,
 * the key itself is the likelier culprit: the deployment's fault, a
 * configuration error rather than an outage.  1 when it is.
 */
static int
note_api_key(struct job_result *res, int have_res)
{
	char	*e;

	if (!have_res)
		return 0;
	if (res->api_key == API_KEY_OPENED)
		sv->key_opened = 1;
	else if (res->api_key == API_KEY_UNOPENED && !sv->key_opened &&
	    res->blame == BLAME_SCHEDULE && res->error != NULL) {
		res->blame = BLAME_PLATFORM;
		e = xasprintf("%s; the encryption_key has opened no schedule's "
		    "API key since it was loaded: the deployment's fault, not "
		    "the schedule's", res->error);
		free(res->error);
		res->error = e;
		return 1;
	}
	return 0;
}

static enum outcome_kind
failure_kind(const struct child *c, int wstatus, const struct job_result *res,
    int have_res)
{
	if (unresolved(wstatus, res, have_res))
		return OUTCOME_UNRESOLVED;
	if (c->state == CHILD_CANCELLED)
		return OUTCOME_CANCELLED;
	return OUTCOME_FAILED;
}

struct outcome *
outcome_from_child(struct child *c, int wstatus)
{
	struct job_result	 res;
	struct outcome		*o;
	char			 err[128];
	int			 have_res, wrong_key;

	memset(&res, 0, sizeof(res));
	have_res = c->out != NULL &&
	    job_result_from_json(&res, c->out, err, sizeof(err)) == 0;
	wrong_key = note_api_key(&res, have_res);
	if (accepted(wstatus, &res, have_res)) {
		o = outcome_new(OUTCOME_SUCCESS, c->id, c->schedule_name);
		strlcpy(o->test_run_id, res.test_run_id,
		    sizeof(o->test_run_id));
	} else {
		o = outcome_new(failure_kind(c, wstatus, &res, have_res), c->id,
		    c->schedule_name);
		o->error_message = c->state == CHILD_CANCELLED ?
		    xstrdup("cancelled: the supervisor shut down before the "
		    "dispatch finished") :
		    failure_message(c, wstatus, &res, have_res);
		text_make_valid(o->error_message);
		if (c->state != CHILD_CANCELLED)
			o->blame = blame_of(wstatus, &res, have_res);
		/* Say, no encryption_key for a schedule's API key. */
		o->misconfigured = wrong_key || (WIFEXITED(wstatus) &&
		    WEXITSTATUS(wstatus) == EX_CONFIG);
		o->error_details = failure_details(c, wstatus, &res,
		    have_res, o->blame);
	}
	strlcpy(o->owner, c->owner, sizeof(o->owner));
	strlcpy(o->schedule_id, c->schedule_id, sizeof(o->schedule_id));
	o->started_ms = c->started_ms;
	if (have_res)
		job_result_free(&res);
	return o;
}

void
outcome_log(const struct outcome *o, const struct child *c)
{
	int64_t	ms = mono_ms() - c->started_ms;

	switch (o->kind) {
	case OUTCOME_SUCCESS:
		sv->succeeded++;
		log_info("schedule \"%s\": run %s accepted as test run %s "
		    "(%lld ms)", log_name(o->schedule_name).s, o->run_id, o->test_run_id,
		    (long long)ms);
		break;
	case OUTCOME_CANCELLED:
		log_info("schedule \"%s\": run %s cancelled",
		    log_name(o->schedule_name).s,
		    o->run_id);
		break;
	case OUTCOME_UNRESOLVED:
		log_warnx("schedule \"%s\": run %s unresolved: %s; the request "
		    "went out, so it is not sent again: whether its batch test "
		    "started is looked up in the database",
		    log_name(o->schedule_name).s, o->run_id, o->error_message);
		break;
	default:
		sv->failed++;
		log_warnx("schedule \"%s\": run %s failed: %s",
		    log_name(o->schedule_name).s, o->run_id, o->error_message);
		break;
	}
}

static const char *const kind_names[] = {
	[OUTCOME_SUCCESS] = "success",
	[OUTCOME_FAILED] = "failed",
	[OUTCOME_CANCELLED] = "cancelled",
	[OUTCOME_UNRESOLVED] = "unresolved",
	[OUTCOME_RELEASE] = "release",
};

const char *
outcome_kind_name(enum outcome_kind kind)
{
	return kind_names[kind];
}

static void
json_add_string(json_object *obj, const char *key, const char *v)
{
	jset(obj, key, v != NULL && *v != '\0' ? jnew_string(v) : NULL);
}

json_object *
outcome_to_json(const struct outcome *o)
{
	json_object	*obj = jnew_object();

	json_add_string(obj, "run_id", o->run_id);
	json_add_string(obj, "owner", o->owner);
	json_add_string(obj, "kind", kind_names[o->kind]);
	json_add_string(obj, "test_run_id", o->test_run_id);
	json_add_string(obj, "schedule_name", o->schedule_name);
	json_add_string(obj, "error_message", o->error_message);
	jset(obj, "error_details", o->error_details ?
	    json_tokener_parse(o->error_details) : NULL);
	json_add_string(obj, "blame", blame_name(o->blame));
	if (o->alone)
		jset(obj, "alone", jnew_bool(1));
	return obj;
}
