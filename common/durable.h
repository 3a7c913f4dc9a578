/*
 * Files that must survive a crash: written whole or not at all.
 */
#ifndef EVALSCHED_DURABLE_H
#define EVALSCHED_DURABLE_H

/*
 * Writes text to dir/name through a temporary file, fsync(2) and
 * rename(2), then fsyncs the directory so that the name survives too.
 * Returns 0, or -1 with errno set and nothing left behind.
 */
int	durable_write(const char *dir, const char *name, const char *text);

#endif
