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

/*
 * Whether an answer (body of len bytes, may be NULL) is the route's own:
 * one of its error statuses with exactly its {"error": "..."}.  Each of
 * those comes before the route creates a batch test, so such an answer
 * proves that the request started none.  ROUTE_TEMPORARY: the route's
 * passing trouble (429, 500, a 401 "Database error" or "Internal server
 * error"), worth asking again; ROUTE_REFUSED: any other of its errors;
 * ROUTE_NOT: not the route's answer (another status, another body), which
 * says nothing of what the route did.
 */
#define ROUTE_NOT		0
#define ROUTE_REFUSED		1
#define ROUTE_TEMPORARY		2
int		 blame_route_answer(int status, const char *body, size_t len);

#endif
