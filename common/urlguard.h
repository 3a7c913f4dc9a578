/*
 * The libcurl side of url.h, kept apart so that only the programs that
 * make requests to users' URLs load libcurl: the guard of one transfer.
 * Every connection libcurl opens for it is checked against the allowed
 * networks, and refused before it is made when the address is not
 * allowed; what it saw stays here for the caller's log.
 */
#ifndef EVALSCHED_URLGUARD_H
#define EVALSCHED_URLGUARD_H

#include <curl/curl.h>

#include "url.h"

struct url_guard {
	const struct url_allow	*allow;		/* NULL: none */
	int			 opened;	/* connections let through */
	int			 refused;	/* connections refused */
	char			 refused_addr[NET_TEXT_MAX];	/* the last one */
	enum addr_class		 refused_class;
};

/*
 * Sets on c: the guard as its socket opener, and no proxy (a proxy
 * would be the address checked, and the environment's is the
 * deployment's, not the user's).  The first failure's code, or
 * CURLE_OK.  g must outlive the transfer.
 */
CURLcode url_guard_options(CURL *c, struct url_guard *g);

/* Whether the transfer failed because every address was refused. */
int	url_guard_refused_all(const struct url_guard *);

#endif
