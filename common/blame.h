/*
 * Whose fault a failed run is.  Only the schedule's failures count toward
 * max_consecutive_failures: a platform failure (the application down, the
 * network, a wrong deployment key, our own jobrunner) must never disable
 * a schedule, or one bad hour would disable all of them.
 */
#ifndef EVALSCHED_BLAME_H
#define EVALSCHED_BLAME_H

#include <stddef.h>

enum blame {
	BLAME_NONE,		/* not a failure */
	BLAME_SCHEDULE,		/* this schedule's request or results */
	BLAME_PLATFORM		/* everything else */
};

/* "schedule", "platform", or NULL for BLAME_NONE. */
const char	*blame_name(enum blame);
/* The reverse; BLAME_NONE for NULL or an unknown name. */
enum blame	 blame_from_name(const char *);

/*
 * An HTTP answer that is not an acceptance.  body (len bytes, may be
 * NULL) tells the application's own refusals ({"error": "..."}) from
 * those of whatever else answered at app_url; api_key says the request
 * carried the schedule's own API key rather than the deployment's key.
 */
enum blame	 blame_for_http(int status, const char *body, size_t len,
		    int api_key);

#endif
