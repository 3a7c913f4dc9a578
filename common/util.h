/*
 * Small helpers every program shares: the monotonic clock, and
 * allocation that cannot fail quietly.  Out of memory is fatal: a program
 * with a broken heap can do nothing right, and ours are small and
 * bounded.
 */
#ifndef EVALSCHED_UTIL_H
#define EVALSCHED_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int64_t	 mono_ms(void);		/* CLOCK_MONOTONIC, in milliseconds */

/* The sooner and the later of two times (INT64_MAX: never). */
static inline int64_t
earliest(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static inline int64_t
latest(int64_t a, int64_t b)
{
	return a > b ? a : b;
}
/* Says so on the log and ends the program (EX_OSERR). */
void	 out_of_memory(const char *what) __attribute__((noreturn));
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));
char	*read_file(const char *path);	/* NULL with errno set */

/*
 * A text written as a stream: xmemstream opens it (open_memstream(3)),
 * xmemstream_text closes it and returns the text, malloc'd.
 */
FILE	*xmemstream(char **buf, size_t *len);
char	*xmemstream_text(FILE *, char **buf);

/* Why read_bounded() refused a text. */
enum read_refusal {
	READ_OK,
	READ_ERROR,		/* read(2) failed: errno says why */
	READ_TOO_LARGE,		/* more than max bytes */
	READ_NUL		/* a NUL byte: it would be cut short */
};

/*
 * All of fd, at most max bytes, as a string in *text (its length in
 * *len, when len is not NULL).  What it refuses is wiped and freed, and
 * *text is NULL.
 */
enum read_refusal read_bounded(int fd, size_t max, char **text, size_t *len);

#endif
