/*
 * The blame table of evalsched-supervisor(8), for HTTP answers.  The
 * application refuses a schedule's request with 400 (bad config, empty
 * suite), 403 (its API key lacks the scope), 404 (its suite is gone) or
 * 422, always as {"error": "..."} and nothing else.  The same status
 * with another body came from something else at app_url (a proxy,
 * another site, whose error pages may well have an "error" member among
 * others): the deployment's fault.  A 401 is the deployment's service key unless the
 * schedule sent its own API key, and even then "Database error" and
 * "Internal server error" are the application's passing trouble.
 */
#include <string.h>

#include <json.h>

#include "blame.h"
#include "json1.h"

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
	json_object	*err;

	*obj = NULL;
	if (body == NULL || len == 0 ||
	    json1_parse(body, len, 0, obj, NULL, 0) == -1)
		return NULL;
	if (*obj == NULL || !json_object_is_type(*obj, json_type_object) ||
	    json_object_object_length(*obj) != 1 ||
	    !json_object_object_get_ex(*obj, "error", &err) ||
	    !json_object_is_type(err, json_type_string))
		return NULL;
	return json_object_get_string(err);
}

static enum blame
blame_401(const char *error, int api_key)
{
	if (!api_key || error == NULL)
		return BLAME_PLATFORM;
	if (strcmp(error, "Database error") == 0 ||
	    strcmp(error, "Internal server error") == 0)
		return BLAME_PLATFORM;
	return BLAME_SCHEDULE;
}

enum blame
blame_for_http(int status, const char *body, size_t len, int api_key)
{
	json_object	*obj;
	const char	*error;
	enum blame	 b = BLAME_PLATFORM;

	if (len > 64 * 1024)
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
