/*
 * The one check of app_url, with libcurl's URL parser: the one the
 * jobrunner's request goes through.  Used by the configuration (-n,
 * start-up, reload) and by the jobrunner, so that a URL either passes
 * everywhere or fails everywhere with the same words.
 */
#ifndef EVALSCHED_URL_H
#define EVALSCHED_URL_H

#include <stddef.h>

/*
 * 0 when url is an http:// or https:// URL with a host and no query,
 * fragment or credentials; else -1 with why ("must be ...") filled in.
 */
int	url_check_app(const char *url, char *why, size_t len);

#endif
