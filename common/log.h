/*
 * Logging in the style of OpenBSD's log.c: stderr in the foreground,
 * syslog otherwise.  errno is preserved across every call.  Every message
 * is escaped after it is formatted: control characters, C1 and bidi
 * controls and bytes that are not UTF-8 are written as visible escapes
 * (\n, \x1b, \u202e), so a line read from outside cannot forge a line.
 */
#ifndef EVALSCHED_LOG_H
#define EVALSCHED_LOG_H

#include <stdarg.h>

void	log_init(const char *progname, int foreground, int debug);
void	log_setverbose(int verbose);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	vlog(int pri, const char *, va_list) __attribute__((format(printf, 2, 0)));
/*
 * setproctitle(3), escaped as a log line is: ps(1) shows the title to
 * whoever looks, and it may hold a schedule's name.
 */
void	log_setproctitle(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * A message is cut to LOG_MSG_MAX bytes, escapes included, its end
 * marked with an ellipsis: whatever a user wrote, a line stays a line a
 * person can read and syslog takes whole.
 */
#define LOG_MSG_MAX	4000

/* Characters of a name a user wrote (a schedule's) in a log line. */
#define LOG_NAME_MAX	200

/*
 * The name as every log line shows it: at most LOG_NAME_MAX characters,
 * the last an ellipsis when it was cut.  In a call's arguments, as
 * log_name(name).s; the text lasts until the end of that statement.
 */
struct log_name {
	char	s[(LOG_NAME_MAX + 1) * 4 + 1];
};
struct log_name	log_name(const char *);

__attribute__((noreturn, format(printf, 1, 2)))
void	fatal(const char *, ...);
/* Without errno, and with an exit status from sysexits.h. */
__attribute__((noreturn, format(printf, 2, 3)))
void	fatalx_status(int status, const char *, ...);

#endif
