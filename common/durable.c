/*
 * Crash-safe files: the supervisor's spool and the results an orphaned
 * jobrunner leaves behind.  Everything goes through a descriptor of the
 * directory, opened without following a link: a name in it is never a
 * way into somewhere else.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "util.h"

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A temporary file a crash left behind is ours to replace, once. */
static int
create_temp(int dfd, const char *tmp)
{
	int	fd, tries;

	for (tries = 0; tries < 2; tries++) {
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST || unlinkat(dfd, tmp, 0) == -1)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

static int
write_synced(int dfd, const char *tmp, const char *text)
{
	int	fd, saved;

	if ((fd = create_temp(dfd, tmp)) == -1)
		return -1;
	if (write_all(fd, text, strlen(text)) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int
durable_opendir(const char *dir)
{
	return open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int
durable_write(const char *dir, const char *name, const char *text)
{
	char	tmp[NAME_MAX + 1];
	int	dfd, r = -1, saved;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((dfd = durable_opendir(dir)) == -1)
		return -1;
	if (write_synced(dfd, tmp, text) == 0 &&
	    renameat(dfd, tmp, dfd, name) == 0)
		r = fsync(dfd);
	else {
		saved = errno;
		unlinkat(dfd, tmp, 0);
		errno = saved;
	}
	saved = errno;
	close(dfd);
	errno = saved;
	return r;
}

/* 1, with why set, when st is not a file we could have written. */
static int
untrusted(const struct stat *st, uid_t owner, char *why, size_t len)
{
	if (S_ISLNK(st->st_mode))
		snprintf(why, len, "a symbolic link");
	else if (!S_ISREG(st->st_mode))
		snprintf(why, len, "not a regular file");
	else if (st->st_nlink != 1)
		snprintf(why, len, "a file with %lu links",
		    (unsigned long)st->st_nlink);
	else if (st->st_uid != owner && st->st_uid != 0)
		snprintf(why, len, "owned by uid %lu", (unsigned long)st->st_uid);
	else
		return 0;
	return 1;
}

static char *
read_max(int fd, size_t max, char *why, size_t len)
{
	char	*text;

	switch (read_bounded(fd, max, &text, NULL)) {
	case READ_OK:
		return text;
	case READ_ERROR:
		snprintf(why, len, "%s", strerror(errno));
		break;
	case READ_TOO_LARGE:
		snprintf(why, len, "larger than %zu bytes", max);
		break;
	case READ_NUL:
		snprintf(why, len, "holds a NUL byte");
		break;
	}
	return NULL;
}

char *
durable_read(int dirfd, const char *name, uid_t owner, size_t max,
    char *why, size_t whylen)
{
	struct stat	 before, st;
	char		*text = NULL;
	int		 fd;

	/* Looked at before it is opened: opening a device may act. */
	if (fstatat(dirfd, name, &before, AT_SYMLINK_NOFOLLOW) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	if (untrusted(&before, owner, why, whylen))
		return NULL;
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1)
		snprintf(why, whylen, "%s", strerror(errno));
	else if (st.st_dev != before.st_dev || st.st_ino != before.st_ino)
		snprintf(why, whylen, "replaced while it was opened");
	else if (!untrusted(&st, owner, why, whylen))
		text = read_max(fd, max, why, whylen);
	close(fd);
	return text;
}

char *
durable_node(const char *dir, char *why, size_t whylen)
{
	char	*node;
	size_t	 len;
	int	 dfd;

	if ((dfd = durable_opendir(dir)) == -1) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	node = durable_read(dfd, DURABLE_NODE_FILE, geteuid(), 1024, why,
	    whylen);
	close(dfd);
	if (node == NULL)
		return NULL;
	/* One line: what a JSON encoder writes for a string, a newline. */
	len = strcspn(node, "\r\n");
	if (len >= 2 && node[0] == '"' && node[len - 1] == '"' &&
	    node[len + strspn(node + len, "\r\n")] == '\0') {
		node[len] = '\0';
		return node;
	}
	snprintf(why, whylen, "not a JSON string");
	free(node);
	return NULL;
}
