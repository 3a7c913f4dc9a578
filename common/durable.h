/*
 * Files that must survive a crash: written whole or not at all, and read
 * back only when nobody else could have put them there.
 */
#ifndef EVALSCHED_DURABLE_H
#define EVALSCHED_DURABLE_H

#include <sys/types.h>

#include <stddef.h>

/*
 * The spool's node marker: the supervisor's node_name as a JSON string,
 * which a jobrunner copies into the result it leaves there, so that only
 * a supervisor of that node takes the result.
 */
#define DURABLE_NODE_FILE	".node"

/*
 * Writes text to dir/name through a new temporary file (O_EXCL,
 * O_NOFOLLOW, mode 0600), fsync(2) and rename(2), then fsyncs the
 * directory so that the name survives too.  dir itself must not be a
 * symbolic link.  Returns 0, or -1 with errno set and nothing left
 * behind.
 */
int	durable_write(const char *dir, const char *name, const char *text);

/* dir opened for openat(2): a directory, not a symbolic link; or -1. */
int	durable_opendir(const char *dir);

/*
 * Reads name in the directory dirfd as a string of at most max bytes,
 * without following a symbolic link or blocking on a FIFO, and only if it
 * is a regular file with one link owned by owner or by root.  Returns it
 * malloc'd, or NULL with why saying what is wrong.
 */
char	*durable_read(int dirfd, const char *name, uid_t owner, size_t max,
	    char *why, size_t whylen);

/*
 * The node marker of the spool dir, read as durable_read() does with our
 * effective uid: a JSON string ("node-1"), malloc'd, or NULL with why
 * set.
 */
char	*durable_node(const char *dir, char *why, size_t whylen);

#endif
