/*
 * What evalsched's database role needs in the application's database,
 * written once: evalschedctl grants prints it as SQL (the shipped
 * grants.sql and policies.sql), and evalsched-supervisor -n checks it.
 */
#ifndef EVALSCHED_GRANTS_H
#define EVALSCHED_GRANTS_H

#include <stddef.h>

/* Its schemas: USAGE on each. */
#define GRANT_SCHEMAS		"public, auth"

/*
 * evalsched's own tables (public.evalsched_*, whatever a version adds)
 * get these, its functions EXECUTE; the catalogue is walked, not a list.
 */
#define GRANT_OWN_TABLES	"SELECT, INSERT, UPDATE, DELETE"
#define GRANT_OWN_SEQUENCES	"USAGE, SELECT, UPDATE"

struct grant_need {
	const char	*table;		/* schema-qualified */
	const char	*privileges;	/* "SELECT, INSERT" */
	const char	*columns;	/* NULL: the table; else "a, b" */
	int		 optional;	/* an application database may lack it */
	/*
	 * An UPDATE's columns that -n sets to themselves in a trial write,
	 * so that the triggers they fire show what they need; NULL: none.
	 */
	const char	*probe;
	const char	*why;		/* a sentence, for grants.sql and -n */
};

extern const struct grant_need	grant_needs[];
extern const size_t		grant_nneeds;

#endif
