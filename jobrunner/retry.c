/*
 * The retry policy.  The route is not idempotent: it ignores the
 * Idempotency-Key we send (the contract has it, and it costs nothing,
 * but nothing here relies on it), and every POST it accepts starts a
 * batch test, paid for.  So an attempt is made again only when it
 * provably started nothing and its failure may pass: the route's own
 * 429, 500, or 401 "Database error" or "Internal server error" (as
 * {"error": "..."}, which it answers before it creates anything), or a
 * request of which not a byte went out (connection refused, DNS, TLS, a
 * connect that timed out).  Up to MAX_ATTEMPTS in all, after a growing
 * pause, all inside the job's deadline.
 *
 * Any other failure after the request went out (a gateway's 502 or 504,
 * a connection closed, the deadline met while waiting, a 2xx without a
 * usable test_run_id) is ambiguous: the route may have started a batch
 * test behind it.  The run stops there and its result says so; whether
 * a batch test started is for the supervisor to find out from the
 * database, never for a second POST.  One batch test per slot.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "jobrunner.h"
#include "log.h"

/* Less time than this left is not worth another attempt. */
#define MIN_ATTEMPT_MS	50L

struct run {
	const struct job	*job;
	char			*api_key;	/* the schedule's; NULL: none */
	const char		*url;
	const char		*body;
	long			 start;
	long			 deadline;
	struct failure		 f;
};

static void
sleep_ms(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * A twentieth of the deadline, between 100 ms and 2 s, doubled after each
 * attempt, plus up to a quarter more so that runners that failed together
 * do not come back together.
 */
long
backoff_ms(long timeout_ms, int attempt)
{
	long	base;

	base = timeout_ms / 20;
	if (base < 100)
		base = 100;
	if (base > 2000)
		base = 2000;
	base <<= attempt - 1;
	return base + arc4random_uniform((uint32_t)base / 4 + 1);
}

/* Why an ambiguous attempt may have started a batch test. */
static const char *
ambiguity(const struct attempt *a)
{
	if (a->http_status >= 200 && a->http_status <= 299)
		return "the route answered, but with no test_run_id we can use";
	return "the request went out and the route did not answer";
}

static void
log_attempt(const struct run *run, int n, const struct attempt *a,
    const char *test_run_id, enum fate fate, long took)
{
	if (test_run_id != NULL)
		log_info("run %s: attempt %d/%d: HTTP %d, accepted as test "
		    "run %s (%ld ms)", run->job->run_id, n, MAX_ATTEMPTS,
		    a->http_status, test_run_id, took);
	else if (fate == FATE_AMBIGUOUS)
		log_warnx("run %s: attempt %d/%d: %s (%ld ms): %s: not tried "
		    "again (whether a batch test started is for the "
		    "supervisor to find out)", run->job->run_id, n,
		    MAX_ATTEMPTS, run->f.detail, took, ambiguity(a));
	else
		log_warnx("run %s: attempt %d/%d: %s (%ld ms)",
		    run->job->run_id, n, MAX_ATTEMPTS, run->f.detail, took);
}

/*
 * One attempt: its outcome class, what it tells of the batch test in
 * *fate, and the result filled accordingly.
 */
static int
attempt(struct run *run, int n, struct job_result *res, enum fate *fate)
{
	struct attempt	 a;
	long		 t0 = mono_ms(), left = run->deadline - t0;
	char		*id = NULL;
	int		 code;

	/* curl reads a timeout of 0 as none at all. */
	if (left < 1)
		left = 1;
	/* A failure to set up curl shows in a.curl_code: no need to test. */
	(void)http_post(run->job, run->api_key, run->url, run->body, left, &a);
	a.number = n;
	a.at_deadline = a.deadline_hit && mono_ms() >= run->deadline;
	code = attempt_outcome(run->job, run->api_key, run->url, &a, &id,
	    &run->f);
	*fate = code == EX_OK ? FATE_NOTHING : attempt_fate(&a, code);
	log_attempt(run, n, &a, id, *fate, mono_ms() - t0);
	res->attempts = n;
	res->http_status = a.http_status;
	res->curl_code = a.curl_code;
	res->ambiguous = *fate == FATE_AMBIGUOUS;
	res->blame = code == EX_OK ? BLAME_NONE : res->ambiguous ?
	    BLAME_PLATFORM : attempt_blame(&a, run->api_key != NULL);
	free(res->test_run_id);
	res->test_run_id = id;
	attempt_free(&a);
	return code;
}

/* Pauses before attempt n + 1; 0 when there is no time for it. */
static int
pause_before_next(const struct run *run, int n)
{
	long	pause, left;

	if (n >= MAX_ATTEMPTS)
		return 0;
	pause = backoff_ms(run->job->timeout_ms, n);
	left = run->deadline - mono_ms();
	if (left - pause < MIN_ATTEMPT_MS)
		return 0;
	sleep_ms(pause);
	return 1;
}

/* The body of the request, or the reason there is none. */
static char *
request_body(const struct job *job, char *err, size_t len)
{
	char	*body, why[256];

	if ((body = job_request_body(job, why, sizeof(why))) == NULL)
		snprintf(err, len, "cannot build the request: %s", why);
	return body;
}

/* The attempts the policy allows; the outcome class of the last. */
static int
call(struct run *run, struct job_result *res)
{
	enum fate	fate;
	int		n = 0, code;

	do
		code = attempt(run, ++n, res, &fate);
	while (code != EX_OK && fate == FATE_RETRY &&
	    pause_before_next(run, n));
	return code;
}

/*
 * Makes the call, retrying as the policy says, and fills res.  Returns
 * the exit status: the outcome class of the last attempt, or why no
 * attempt could be made.
 */
int
run_job(const struct job *job, struct job_result *res)
{
	struct run	 run = { .job = job };
	char		*url, *body;
	int		 code;

	run.start = mono_ms();
	run.deadline = run.start + job->timeout_ms;
	/* Until an attempt says otherwise, a failure is ours, not the schedule's. */
	res->blame = BLAME_PLATFORM;
	url = http_url(job);
	body = request_body(job, run.f.err, sizeof(run.f.err));
	if (url == NULL) {
		strlcpy(run.f.err, "internal error: app_url cannot be read",
		    sizeof(run.f.err));
		code = EX_SOFTWARE;
	} else if (body == NULL)
		code = EX_DATAERR;
	else if ((code = credentials_open(job, &run.api_key, &res->api_key,
	    &res->blame, run.f.err, sizeof(run.f.err))) == EX_OK) {
		run.url = url;
		run.body = body;
		code = call(&run, res);
	}
	credentials_close(run.api_key);
	res->elapsed_ms = mono_ms() - run.start;
	if (code != EX_OK) {
		free(res->error);
		res->error = xstrdup(run.f.err);
	}
	free(url);
	free(body);
	return code;
}
