/*
 * The blame table of evalsched-supervisor(8), for HTTP answers, and what
 * tells the route's own answers from everything else's.
 *
 * The route (app/api/batch-testing/run/route.ts) answers an error with
 * 400, 401, 403, 404, 429 or 500, always as {"error": "..."} and nothing
 * else, and every one of them comes before it creates a batch test.
 * 413 and 422 as {"error": "..."} are taken as its refusals too, as
 * the application's contract has always had them (DESIGN).  The
 * same status with another body came from something else at app_url (a
 * proxy, a gateway, another site, whose error pages may well have an
 * "error" member among others); so did any other status.
 *
 * The schedule's failures are the route's refusals of this schedule's
 * request: 400 (bad config, empty suite), 403 (its API key lacks the
 * scope), 404 (its suite is gone), 413, 422, and a 401 for the schedule's own API
 * key that says the key is bad ("Invalid API key", "Invalid API key
 * format").  Every other 401 is the platform's: the deployment's service
 * key, the application's missing settings ("Server configuration
 * error"), its passing trouble ("Database error", "Internal server
 * error").  A 500, whatever its text, is the platform's.
 */
#include <string.h>

#include <json.h>

#include "blame.h"
#include "json1.h"
#include "jsonget.h"

/* No error of the route's is that long: larger is not its answer. */
#define BODY_MAX	(64 * 1024)

static const char *const names[] = {
	[BLAME_NONE] = NULL,
	[BLAME_SCHEDULE] = "schedule",
	[BLAME_PLATFORM] = "platform",
};

const char *
blame_name(enum blame b)
{
	return names[b];
}

enum blame
blame_from_name(const char *name)
{
	if (name == NULL)
		return BLAME_NONE;
	if (strcmp(name, "schedule") == 0)
		return BLAME_SCHEDULE;
	if (strcmp(name, "platform") == 0)
		return BLAME_PLATFORM;
	return BLAME_NONE;
}

/*
 * The application's error text, when body is exactly its {"error":
 * "..."}; NULL otherwise.  The text lives in *obj, which the caller puts.
 */
static const char *
app_error(const char *body, size_t len, json_object **obj)
{
	*obj = NULL;
	if (body == NULL || len == 0 ||
	    json1_parse(body, len, 0, obj, NULL, 0) == -1)
		return NULL;
	if (!json_object_is_type(*obj, json_type_object) ||
	    json_object_object_length(*obj) != 1)
		return NULL;
	return jget_str(*obj, "error");
}

/* Only a key the route calls bad is the schedule's fault. */
static enum blame
blame_401(const char *error, int api_key)
{
	if (api_key && error != NULL &&
	    (strcmp(error, "Invalid API key") == 0 ||
	    strcmp(error, "Invalid API key format") == 0))
		return BLAME_SCHEDULE;
	return BLAME_PLATFORM;
}

/* A status the route answers an error with. */
static int
route_status(int status)
{
	switch (status) {
	case 400:
	case 401:
	case 403:
	case 404:
	case 413:
	case 422:
	case 429:
	case 500:
		return 1;
	}
	return 0;
}

/* The route's passing trouble: asking again may well be answered. */
static int
route_temporary(int status, const char *error)
{
	if (status == 429 || status == 500)
		return 1;
	return status == 401 && (strcmp(error, "Database error") == 0 ||
	    strcmp(error, "Internal server error") == 0);
}

int
blame_route_answer(int status, const char *body, size_t len)
{
	json_object	*obj;
	const char	*error;
	int		 r = ROUTE_NOT;

	if (!route_status(status) || len > BODY_MAX)
		return ROUTE_NOT;
	if ((error = app_error(body, len, &obj)) != NULL)
		r = route_temporary(status, error) ? ROUTE_TEMPORARY :
		    ROUTE_REFUSED;
	json_object_put(obj);
	return r;
}

enum blame
blame_for_http(int status, const char *body, size_t len, int api_key)
{
	json_object	*obj;
	const char	*error;
	enum blame	 b = BLAME_PLATFORM;

	if (len > BODY_MAX)
		return BLAME_PLATFORM;
	error = app_error(body, len, &obj);
	switch (status) {
	case 400:
	case 403:
	case 404:
	case 413:
	case 422:
		if (error != NULL)
			b = BLAME_SCHEDULE;
		break;
	case 401:
		b = blame_401(error, api_key);
		break;
	}
	json_object_put(obj);
	return b;
}
