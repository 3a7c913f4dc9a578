/*
 * The job protocol between the supervisor and evalsched-jobrunner(8):
 * one job as JSON on the jobrunner's stdin, one result as JSON on its
 * stdout, and the exit status as the outcome class (sysexits.h).
 *
 * The secrets (the service key, the encryption key) travel only here,
 * on a pipe: never argv, never the child's environment.
 */
#ifndef EVALSCHED_JOB_H
#define EVALSCHED_JOB_H

#include <stddef.h>

#include "blame.h"

#define JOB_MAX_TEXT		(1024 * 1024)	/* a job or result on a pipe */
#define JOB_MAX_ANSWER		(64 * 1024)	/* the API's answer body, read */
#define JOB_MAX_ERROR		512		/* bytes of error text kept */
#define JOB_MAX_TIMEOUT_MS	(86400L * 1000)
#define JOB_DEFAULT_TIMEOUT_MS	(600L * 1000)

struct job {
	char	*run_id;		/* also the Idempotency-Key */
	char	*schedule_id;
	char	*schedule_name;
	char	*user_id;
	char	*test_suite_id;
	char	*model_id;
	char	*batch_test_config;	/* JSON object text */
	/*
	 * The name evalsched gives the batch test ("NAME - 2026-12-05
	 * 02:00 CET"), sent as config.test_run_name when the config has
	 * no name of its own (job_request_body).  NULL: none.
	 */
	char	*test_run_name;
	char	*app_url;		/* no trailing slash */
	char	*service_role_key;	/* secret */
	/*
	 * The schedule's own API key, as the application stores it
	 * (scheduled_evaluations.api_key_encrypted), and the key that
	 * decrypts it (the application's ENCRYPTION_KEY).  NULL: none; ""
	 * in the JSON reads as none too.  With api_key_encrypted set the
	 * request carries X-API-Key instead of the service-role headers.
	 */
	char	*api_key_encrypted;
	char	*encryption_key;	/* secret */
	char	*tls_ca_file;		/* NULL or "": the system store */
	char	*result_dir;		/* NULL or "": see below */
	long	 timeout_ms;		/* whole call, retries included */
};

/*
 * When its stdout is gone (the supervisor died), the jobrunner leaves
 * its result in result_dir as RUN_ID.result, one JSON object
 * {"run_id", "exit_status", "result": {...}}, for the next supervisor.
 */
#define JOB_RESULT_SUFFIX	".result"

/* The schedule's own API key, as the jobrunner found it. */
enum api_key_state {
	API_KEY_NONE,		/* none in the job, or not tried */
	API_KEY_OPENED,		/* the encryption_key decrypted it */
	API_KEY_UNOPENED	/* the encryption_key does not open it */
};

struct job_result {
	int		 http_status;	/* of the last attempt; 0: none */
	int		 curl_code;	/* of the last attempt; 0: none */
	char		*test_run_id;	/* set when accepted */
	int		 attempts;
	long		 elapsed_ms;
	char		*error;		/* NULL when accepted */
	enum blame	 blame;		/* whose failure; NONE when accepted */
	/*
	 * The request went out and no answer of the route's came back:
	 * whether a batch test started is for the database to say; never
	 * retried.  JSON "ambiguous": true, left out otherwise.
	 */
	int		 ambiguous;
	/* JSON "api_key": "opened" or "unopened", left out for NONE. */
	enum api_key_state api_key;
};

/*
 * Each returns a malloc'd string, or NULL (-1) with err set.
 * job_to_json, which has no err, is NULL when batch_test_config is not
 * the text of a JSON object.
 */
char	*job_to_json(const struct job *);
int	 job_from_json(struct job *, const char *text, char *err, size_t);
void	 job_free(struct job *);
/*
 * {"config": {...batch_test_config, "model_id", "test_suite_id"}}, and
 * "test_run_name" when the job has one and the config's own is not a
 * name (job_batch_name).
 */
char	*job_request_body(const struct job *, char *err, size_t);
/*
 * The name the application stores as the batch test's config.custom_name
 * for a request made of this config: the config's test_run_name trimmed
 * as JavaScript's String.prototype.trim() trims, when that is a string
 * and not blank; else ours, trimmed the same way (what job_request_body
 * sends).  NULL when ours is NULL or blank and the config has no name.
 * A config that is not a JSON object has no name.
 */
char	*job_batch_name(const char *batch_test_config, const char *ours);

char	*job_result_to_json(const struct job_result *);	/* never NULL */
int	 job_result_from_json(struct job_result *, const char *text,
	    char *err, size_t);
void	 job_result_free(struct job_result *);

/*
 * The jobrunner's exit status for an answer: 0 accepted (2xx with a
 * usable test_run_id), 69 refused (4xx but 408 and 429; 3xx, as no
 * redirect is followed), 75 temporary (5xx, 408, 429, 0 = no answer),
 * 76 protocol (2xx without a usable test_run_id; any other status).
 */
int	 job_exit_for_http(int http_status, int has_test_run_id);

/*
 * Finds the test_run_id in a 2xx answer body of len bytes.  Returns 0
 * and a malloc'd *id, or -1 with err saying what is wrong ("the answer
 * is not JSON", "without a test_run_id", "test_run_id is not a UUID").
 */
int	 job_answer_test_run_id(const char *body, size_t len, char **id,
	    char *err, size_t);
/* 8-4-4-4-12 hexadecimal digits, as PostgreSQL prints a uuid. */
#define UUID_LEN	36	/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
int	 job_is_uuid(const char *);

#endif
