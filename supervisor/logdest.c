/*
 * Where a daemon's log goes, the log key: syslog(3), the standard error
 * the supervisor was started with, or a file.  With -f (and -1, -n, -t)
 * it is always the standard error.
 *
 * syslog(3) sends to /dev/log and says nothing when no one listens there
 * (a container, Debian without systemd or a syslog daemon): every line
 * would be lost.  So that is said on the standard error before
 * detaching, while an operator still reads it.
 *
 * A file becomes the standard error itself, so that whatever a library
 * writes there lands in it too.  It is opened as the user the supervisor
 * runs as, after the drop, and so reopened on SIGHUP (logrotate moved
 * it): root never opens a path in a directory the user may write to.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

#ifndef _PATH_LOG
#define _PATH_LOG	"/dev/log"
#endif

enum dest { DEST_SYSLOG, DEST_STDERR, DEST_FILE };

static enum dest	 dest = DEST_SYSLOG;
static char		*file;		/* DEST_FILE's path */
static int		 file_fd = -1;	/* opened, not yet the stderr */

static enum dest
dest_of(const char *log)
{
	if (strcmp(log, "syslog") == 0)
		return DEST_SYSLOG;
	return strcmp(log, "stderr") == 0 ? DEST_STDERR : DEST_FILE;
}

static int
can_connect(int type, int *err)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd, ok;

	strlcpy(sun.sun_path, _PATH_LOG, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) == -1)
		return 1;	/* cannot tell: say nothing */
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	*err = errno;
	close(fd);
	return ok;
}

/* Whether syslog(3) reaches anyone: it tries a datagram, then a stream. */
static int
syslog_listens(int *err)
{
	if (can_connect(SOCK_DGRAM, err))
		return 1;
	return *err == EPROTOTYPE && can_connect(SOCK_STREAM, err);
}

/*
 * A log file, appended to: a regular file with one link, so that no link
 * planted in its directory sends our lines into another file.
 */
static int
open_file(const char *path, char *why, size_t len)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0640)) == -1) {
		snprintf(why, len, "log file %s: %s%s", path, strerror(errno),
		    errno == ELOOP ? " (a symbolic link: refusing to follow "
		    "it)" : "");
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1) {
		snprintf(why, len, "log file %s is not a regular file with "
		    "one link: refusing to write to it", path);
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_WRONLY | O_APPEND);
	return fd;
}

int
logdest_prepare(const struct config *c, char *why, size_t len)
{
	char	where[CONFIG_WHERE_MAX];
	int	err = 0;

	dest = dest_of(c->log);
	if (dest == DEST_FILE) {
		free(file);
		file = xstrdup(c->log);
		return (file_fd = open_file(file, why, len)) == -1 ? -1 : 0;
	}
	if (dest == DEST_SYSLOG && !syslog_listens(&err))
		log_warnx("%s: warning: log: syslog, but nothing listens on "
		    "%s (%s): every message after this one is lost; set log "
		    "= stderr, or log = /var/log/evalsched/evalsched.log",
		    config_where(c, "log", where, sizeof(where)), _PATH_LOG,
		    strerror(err));
	return 0;
}

/* Standard input and output are /dev/null, the error as dest says. */
void
logdest_detach(const char *progname, int debug)
{
	int	null;

	if (daemon(0, 1) == -1)
		fatal("daemon");
	if ((null = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	if (dest == DEST_FILE) {
		dup2(file_fd, STDERR_FILENO);
		close(file_fd);
		file_fd = -1;
	} else if (dest == DEST_SYSLOG)
		dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		close(null);
	log_init(progname, dest != DEST_SYSLOG, debug);
}

/*
 * SIGHUP: the file again, or the new configuration's.  Until it is open
 * the old one is kept.  Another kind of log takes a restart: a daemon
 * has no terminal to go back to.
 */
void
logdest_reopen(const struct config *c)
{
	char	why[PATH_MAX + 128];
	int	fd;

	if (sv->foreground)
		return;
	if (dest != dest_of(c->log)) {
		log_warnx("reload: log takes effect at restart");
		return;
	}
	if (dest != DEST_FILE)
		return;
	if ((fd = open_file(c->log, why, sizeof(why))) == -1) {
		log_warnx("reload: %s; still writing to %s", why, file);
		return;
	}
	if (dup2(fd, STDERR_FILENO) == -1)
		log_warn("reload: dup2 %s", c->log);
	close(fd);
	free(file);
	file = xstrdup(c->log);
}

/*
 * -n and -t: a log file the user cannot create or append to.  Returns
 * the errors printed.
 */
int
logdest_check(const struct config *c)
{
	struct stat	 st;
	char		 where[CONFIG_WHERE_MAX], *copy, *dir;
	int		 n = 0;

	if (dest_of(c->log) != DEST_FILE)
		return 0;
	config_where(c, "log", where, sizeof(where));
	if (lstat(c->log, &st) == 0) {
		if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
			fprintf(stderr, "%s: log: %s is not a regular file "
			    "with one link\n", where, c->log);
			return 1;
		}
		if (access(c->log, W_OK) == -1) {
			fprintf(stderr, "%s: log: %s: not writable by the "
			    "supervisor's user (%s)\n", where, c->log,
			    strerror(errno));
			return 1;
		}
		return 0;
	}
	copy = xstrdup(c->log);
	dir = dirname(copy);
	if (access(dir, W_OK | X_OK) == -1) {
		fprintf(stderr, "%s: log: cannot create %s: its directory %s "
		    "is not writable by the supervisor's user (%s)\n", where,
		    c->log, dir, strerror(errno));
		n = 1;
	}
	free(copy);
	return n;
}
