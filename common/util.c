/*
 * Small helpers every program shares; see util.h.  Out of memory ends
 * the program with EX_OSERR, said on its log (stderr in the foreground).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
out_of_memory(const char *what)
{
	log_warn("%s", what);
	exit(EX_OSERR);
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		out_of_memory("calloc");
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL)
		out_of_memory("reallocarray");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		out_of_memory("strdup");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		out_of_memory("strndup");
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char	*p;

	if (vasprintf(&p, fmt, ap) == -1)
		out_of_memory("vasprintf");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

FILE *
xmemstream(char **buf, size_t *len)
{
	FILE	*f;

	*buf = NULL;
	if ((f = open_memstream(buf, len)) == NULL)
		out_of_memory("open_memstream");
	return f;
}

/* A memory stream fails only for want of memory, as it grows. */
char *
xmemstream_text(FILE *f, char **buf)
{
	char	*text;
	int	 failed = ferror(f);

	if (fclose(f) == EOF || failed)
		out_of_memory("open_memstream");
	text = *buf;
	*buf = NULL;
	return text;
}

/*
 * A whole text file as a string; one holding a NUL is refused (EILSEQ),
 * as it would be cut short.  A key file fits the first buffer, so no
 * copy of a secret is left behind in memory given back by realloc.
 */
char *
read_file(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 cap = 0, len = 0, n;
	int	 e;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = (len + 4096 + 1) * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0);
	buf[len] = '\0';
	if (ferror(f)) {
		e = errno;
		fclose(f);
		free(buf);
		errno = e;
		return NULL;
	}
	fclose(f);
	if (strlen(buf) != len) {
		explicit_bzero(buf, len);
		free(buf);
		errno = EILSEQ;
		return NULL;
	}
	return buf;
}

enum read_refusal
read_bounded(int fd, size_t max, char **text, size_t *len)
{
	enum read_refusal	 r = READ_OK;
	char			*buf = xreallocarray(NULL, max + 2, 1);
	size_t			 n = 0;
	ssize_t			 got;

	while (n <= max && (got = read(fd, buf + n, max + 1 - n)) != 0) {
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			r = READ_ERROR;
			break;
		}
		n += (size_t)got;
	}
	buf[n] = '\0';
	if (r == READ_OK && n > max)
		r = READ_TOO_LARGE;
	else if (r == READ_OK && memchr(buf, '\0', n) != NULL)
		r = READ_NUL;
	if (len != NULL)
		*len = n;
	if (r != READ_OK) {
		got = errno;
		explicit_bzero(buf, n);
		free(buf);
		buf = NULL;
		errno = (int)got;
	}
	*text = buf;
	return r;
}
