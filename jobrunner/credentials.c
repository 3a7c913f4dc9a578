/*
 * Which credentials the request carries.  A schedule with an API key of
 * its own (api_key_encrypted) sends it, decrypted here, as X-API-Key;
 * every other schedule sends the deployment's service key with its
 * user id.  The decrypted key lives only in this process's memory, is
 * wiped after the last attempt, and is never logged: the errors below
 * say what went wrong without a byte of the value or the keys.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "apikey.h"
#include "jobrunner.h"
#include "log.h"

#define NO_ENCRYPTION_KEY						\
	"the schedule has an encrypted API key but no encryption_key is "	\
	"configured"
#define CANNOT_DECRYPT							\
	"the schedule's API key cannot be decrypted (wrong encryption_key, " \
	"or a damaged api_key_encrypted)"

int
credentials_open(const struct job *job, char **api_key,
    enum api_key_state *state, enum blame *blame, char *err, size_t len)
{
	char	why[160];

	*api_key = NULL;
	*state = API_KEY_NONE;
	if (job->api_key_encrypted == NULL)
		return EX_OK;
	/* The deployment lacks a key: nobody's schedule is at fault. */
	if (job->encryption_key == NULL) {
		log_warnx("run %s: %s", job->run_id, NO_ENCRYPTION_KEY);
		*blame = BLAME_PLATFORM;
		snprintf(err, len, "%s", NO_ENCRYPTION_KEY);
		return EX_CONFIG;
	}
	switch (apikey_decrypt(job->api_key_encrypted, job->encryption_key,
	    api_key, why, sizeof(why))) {
	case APIKEY_OK:
		*state = API_KEY_OPENED;
		return EX_OK;
	case APIKEY_BAD:
		/*
		 * The schedule's, as far as we can tell.  The supervisor,
		 * which sees every schedule, can tell an encryption_key that
		 * opens none of them: the deployment's fault.
		 */
		*state = API_KEY_UNOPENED;
		/* why names the step that failed, never a value. */
		log_warnx("run %s: api_key_encrypted: %s", job->run_id, why);
		*blame = BLAME_SCHEDULE;
		snprintf(err, len, "%s", CANNOT_DECRYPT);
		return EX_DATAERR;
	default:
		log_warnx("run %s: cannot decrypt the schedule's API key: %s",
		    job->run_id, why);
		*blame = BLAME_PLATFORM;
		snprintf(err, len, "cannot decrypt the schedule's API key: %s",
		    why);
		return EX_SOFTWARE;
	}
}

void
credentials_close(char *api_key)
{
	apikey_free(api_key);
}
