/*
 * Logging in the style of OpenBSD's log.c.  In the foreground every line
 * goes to stderr with a UTC timestamp; otherwise to syslog(3) with the
 * daemon facility.  errno is preserved across every call, so a caller may
 * log and then still test it.
 *
 * Every message is escaped here, after it is formatted, so that no caller
 * can forget: schedule names, zones, model ids and API error text come
 * from outside: a newline in one would forge a whole line with our
 * identity in the journal, and an ESC or BEL would reach whoever reads it.
 * Control characters, the C1 and bidirectional controls, and bytes that
 * are not UTF-8 are written as visible escapes (text_escape).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "text.h"

#define LOG_BUF	1024	/* longer messages go to the heap */

static const char	*log_progname = "evalsched";
static int		 log_foreground = 1;
static int		 log_verbose;

void
log_init(const char *progname, int foreground, int debug)
{
	log_progname = progname;
	log_foreground = foreground;
	log_verbose = debug;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

static void
log_stamp(char *buf, size_t len)
{
	struct timeval	tv;
	struct tm	tm;
	char		tmp[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%03dZ", tmp, (int)(tv.tv_usec / 1000) % 1000);
}

/*
 * fmt formatted into buf, or into a new string when it does not fit
 * there; cut to fit buf when there is no memory for that.  Out of memory
 * is not fatal here, as it is elsewhere (util.h): out_of_memory says so
 * through this file.
 */
static char *
format(char *buf, size_t len, const char *fmt, va_list ap)
{
	va_list	 aq;
	char	*p;
	int	 n;

	va_copy(aq, ap);
	n = vsnprintf(buf, len, fmt, aq);
	va_end(aq);
	if (n < 0 || (size_t)n < len || (p = malloc((size_t)n + 1)) == NULL)
		return buf;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

/*
 * msg escaped into a new string of at most LOG_MSG_MAX bytes, cut (and
 * so marked) when its escape is longer; NULL when out of memory.
 */
static char *
escape_cut(const char *msg, size_t need)
{
	size_t	 room = need;
	char	*p;

	if (need > LOG_MSG_MAX)
		room = LOG_MSG_MAX - (sizeof(TEXT_ELLIPSIS) - 1);
	if ((p = malloc(room + sizeof(TEXT_ELLIPSIS))) == NULL)
		return NULL;
	text_escape(p, room + 1, msg);
	if (need > LOG_MSG_MAX)
		strlcat(p, TEXT_ELLIPSIS, room + sizeof(TEXT_ELLIPSIS));
	return p;
}

/* fmt formatted and escaped, in buf (of LOG_BUF) or as escape_cut does. */
static char *
format_escaped(char *buf, const char *fmt, va_list ap)
{
	char	 mbuf[LOG_BUF], *msg, *p;
	size_t	 n;

	msg = format(mbuf, sizeof(mbuf), fmt, ap);
	if ((n = text_escape(buf, LOG_BUF, msg)) >= LOG_BUF &&
	    (p = escape_cut(msg, n)) != NULL)
		buf = p;
	if (msg != mbuf)
		free(msg);
	return buf;
}

struct log_name
log_name(const char *name)
{
	struct log_name	ln;

	strlcpy(ln.s, name != NULL ? name : "", sizeof(ln.s));
	/* The copy holds more than LOG_NAME_MAX characters when cut. */
	text_clip(ln.s, LOG_NAME_MAX);
	return ln;
}

static void
emit(int pri, const char *line)
{
	char	stamp[40];

	if (log_foreground) {
		log_stamp(stamp, sizeof(stamp));
		/* One write per line: children share our stderr. */
		fprintf(stderr, "%s %s[%ld]: %s\n", stamp, log_progname,
		    (long)getpid(), line);
		fflush(stderr);
	} else
		syslog(pri, "%s", line);
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 buf[LOG_BUF], *line;
	int	 saved_errno = errno;

	if (pri == LOG_DEBUG && !log_verbose) {
		errno = saved_errno;
		return;
	}
	line = format_escaped(buf, fmt, ap);
	emit(pri, line);
	if (line != buf)
		free(line);
	errno = saved_errno;
}

void
log_setproctitle(const char *fmt, ...)
{
	char	 buf[LOG_BUF], *title;
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	title = format_escaped(buf, fmt, ap);
	va_end(ap);
	setproctitle("%s", title);
	if (title != buf)
		free(title);
	errno = saved_errno;
}

static void
logit(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

/* Appends strerror(errno), as warn(3) does. */
static void
vlog_errno(int pri, const char *fmt, va_list ap)
{
	char	msg[1024];
	int	saved_errno = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	logit(pri, "%s: %s", msg, strerror(saved_errno));
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog_errno(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(EX_SOFTWARE);
}

void
fatalx_status(int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(status);
}
