/*
 * The job protocol between the supervisor and evalsched-jobrunner(8):
 * one job as JSON on the jobrunner's stdin, one result as JSON on its
 * stdout, and the exit status as the outcome class (sysexits.h).
 *
 * The service key travels only here, on a pipe: never argv, never the
 * child's environment.
 */
#ifndef EVALSCHED_JOB_H
#define EVALSCHED_JOB_H

#include <stddef.h>

struct job {
	char	*run_id;		/* also the Idempotency-Key */
	char	*schedule_id;
	char	*schedule_name;
	char	*user_id;
	char	*test_suite_id;
	char	*model_id;
	char	*batch_test_config;	/* JSON object text */
	char	*app_url;		/* no trailing slash */
	char	*service_role_key;	/* secret */
	char	*tls_ca_file;		/* NULL or "": the system store */
	long	 timeout_ms;		/* whole call, retries included */
};

struct job_result {
	int	 http_status;		/* of the last attempt; 0: none */
	char	*test_run_id;		/* set when accepted */
	int	 attempts;
	long	 elapsed_ms;
	char	*error;			/* NULL when accepted */
};

/* Each returns a malloc'd string or NULL with err set. */
char	*job_to_json(const struct job *);
int	 job_from_json(struct job *, const char *text, char *err, size_t);
void	 job_free(struct job *);
/* {"config": {...batch_test_config, "model_id", "test_suite_id"}} */
char	*job_request_body(const struct job *, char *err, size_t);

char	*job_result_to_json(const struct job_result *);
int	 job_result_from_json(struct job_result *, const char *text,
	    char *err, size_t);
void	 job_result_free(struct job_result *);

/*
 * The jobrunner's exit status for an answer: 0 accepted (2xx with a
 * usable test_run_id), 69 refused (4xx), 75 temporary (5xx, 408, 429,
 * no answer), 76 protocol (2xx without a usable test_run_id).
 */
int	 job_exit_for_http(int http_status, int has_test_run_id);

#endif
