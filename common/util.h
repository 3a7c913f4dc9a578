/*
 * Small helpers every program shares: the monotonic clock, and
 * allocation that cannot fail quietly.  Out of memory is fatal: a program
 * with a broken heap can do nothing right, and ours are small and
 * bounded.
 */
#ifndef EVALSCHED_UTIL_H
#define EVALSCHED_UTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t	 mono_ms(void);		/* CLOCK_MONOTONIC, in milliseconds */
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*read_file(const char *path);	/* NULL with errno set */

#endif
