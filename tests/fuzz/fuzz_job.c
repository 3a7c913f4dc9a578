// fuzz-link: common/job.c common/log.c common/blame.c common/url.c common/text.c common/json1.c common/jsonget.c common/jsonnew.c common/util.c
// fuzz-pkgs: json-c libbsd-overlay
/*
 * libFuzzer target for the job protocol's parsers: the job a jobrunner
 * reads, the result the supervisor reads, the API's answer (its
 * test_run_id, whose fault a refusal is, whether the route gave it), and
 * the batch test's name in a config.  What parses must also round-trip
 * through its writer unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
job_round_trip(const char *text)
{
	struct job	 a, b;
	char		 err[256], *out, *body;

	if (job_from_json(&a, text, err, sizeof(err)) == -1)
		return;
	if ((out = job_to_json(&a)) == NULL ||
	    job_from_json(&b, out, err, sizeof(err)) == -1)
		abort();
	if (!same(a.run_id, b.run_id) || !same(a.model_id, b.model_id) ||
	    !same(a.batch_test_config, b.batch_test_config) ||
	    !same(a.app_url, b.app_url) ||
	    !same(a.service_role_key, b.service_role_key) ||
	    !same(a.tls_ca_file, b.tls_ca_file) ||
	    !same(a.schedule_name, b.schedule_name) ||
	    !same(a.test_run_name, b.test_run_name) ||
	    a.timeout_ms != b.timeout_ms)
		abort();
	if ((body = job_request_body(&a, err, sizeof(err))) == NULL)
		abort();
	free(body);
	free(out);
	job_free(&a);
	job_free(&b);
}

static void
result_round_trip(const char *text)
{
	struct job_result	 a, b;
	char			 err[256], *out;

	if (job_result_from_json(&a, text, err, sizeof(err)) == -1)
		return;
	if ((out = job_result_to_json(&a)) == NULL ||
	    job_result_from_json(&b, out, err, sizeof(err)) == -1)
		abort();
	if (a.http_status != b.http_status || a.attempts != b.attempts ||
	    a.elapsed_ms != b.elapsed_ms || !same(a.error, b.error) ||
	    !same(a.test_run_id, b.test_run_id) ||
	    a.curl_code != b.curl_code || a.blame != b.blame ||
	    a.ambiguous != b.ambiguous || a.api_key != b.api_key)
		abort();
	free(out);
	job_result_free(&a);
	job_result_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*text, *id, err[128];

	/* The answer parser takes a length: give it the bytes unterminated. */
	if (job_answer_test_run_id((const char *)data, size, &id, err,
	    sizeof(err)) == 0)
		free(id);
	if (blame_for_http(size > 0 ? 400 + data[0] % 100 : 404,
	    (const char *)data, size, size % 2) == BLAME_NONE)
		abort();
	if (blame_route_answer(size > 0 ? 400 + data[0] % 101 : 500,
	    (const char *)data, size) > ROUTE_TEMPORARY)
		abort();
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	free(job_batch_name(text, size % 3 ? "ours" : NULL));
	job_round_trip(text);
	result_round_trip(text);
	free(text);
	return 0;
}
