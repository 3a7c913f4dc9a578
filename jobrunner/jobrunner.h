/*
 * evalsched-jobrunner(8): one job in, one POST, one result out.
 */
#ifndef EVALSCHED_JOBRUNNER_H
#define EVALSCHED_JOBRUNNER_H

#include <stddef.h>

#include "job.h"
#include "util.h"

#define API_PATH	"/api/batch-testing/run"
#define MAX_ATTEMPTS	3
#define EXCERPT_MAX	200
#define DETAIL_MAX	1024	/* of a log line's account of an attempt */

/* What one HTTP attempt came to. */
struct attempt {
	int	 http_status;		/* 0: no answer */
	int	 curl_code;		/* CURLcode */
	int	 os_errno;		/* of a failed connect */
	int	 deadline_hit;		/* curl gave up at the deadline */
	int	 number;		/* of the run's attempts, from 1 */
	int	 at_deadline;		/* and the run's deadline had come */
	int	 too_large;		/* the answer outgrew JOB_MAX_ANSWER */
	int	 performed;		/* the transfer was tried */
	long	 sent;			/* bytes of request headers sent */
	char	*body;			/* NUL-terminated, len bytes */
	size_t	 len;
	char	 curl_err[256];
};

/*
 * credentials.c: the schedule's own API key, decrypted, when the job has
 * one (api_key_encrypted).  Returns EX_OK with *api_key set (NULL: the
 * request carries the service key), or else the run's exit status with
 * *blame and err (no secret in it) set; *state says whether the key
 * opened.  credentials_close wipes the key.
 */
int	 credentials_open(const struct job *, char **api_key,
	    enum api_key_state *state, enum blame *, char *err, size_t);
void	 credentials_close(char *api_key);

/* http.c; api_key NULL: the service-role headers */
extern const char *const proxy_vars[];	/* those libcurl reads, NULL-ended */
int	 http_init(const struct job *);	/* once the job is known */
void	 http_cleanup(void);
char	*http_url(const struct job *);
int	 http_post(const struct job *, const char *api_key, const char *url,
	    const char *body, long timeout_ms, struct attempt *);
void	 attempt_free(struct attempt *);

/*
 * What an attempt that was not accepted tells of the batch test: the
 * route is not idempotent, so only an attempt that provably started
 * nothing may be made again.
 */
enum fate {
	FATE_NOTHING,		/* started nothing; asking again is no use */
	FATE_RETRY,		/* started nothing, and may pass: ask again */
	FATE_AMBIGUOUS		/* sent, and no answer of the route's came */
};

/*
 * What went wrong, twice.  err is the result's: the schedule's owner
 * reads it (the run's error_message, alerts), so it names no address,
 * host, port or path of the deployment; detail is the log's, with the
 * URL and libcurl's own words.  Neither holds a key.
 */
struct failure {
	char	err[JOB_MAX_ERROR + 1];
	char	detail[DETAIL_MAX];
};

/* describe.c; api_key as for http_post */
int	 attempt_outcome(const struct job *, const char *api_key,
	    const char *url, const struct attempt *, char **test_run_id,
	    struct failure *);
enum fate attempt_fate(const struct attempt *, int code);
enum blame attempt_blame(const struct attempt *, int api_key);

/* addresses.c */
char	*addresses_masked(const char *text, const char *app_url);

/* retry.c */
long	 backoff_ms(long timeout_ms, int attempt);
int	 run_job(const struct job *, struct job_result *);

#endif
