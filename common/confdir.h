/*
 * The drop-in directory: conf.d beside the main configuration file, whose
 * *.conf files are read after it, in name order, each overriding what
 * came before.  A package ships the main file and replaces it at each
 * upgrade; an operator's settings live in conf.d and are never asked
 * about.
 */
#ifndef EVALSCHED_CONFDIR_H
#define EVALSCHED_CONFDIR_H

#include <stddef.h>

#define CONFDIR_NAME	"conf.d"

/* The drop-in directory of the main file path, in buf.  Returns buf. */
const char *confdir_path(const char *path, char *buf, size_t len);

/*
 * The *.conf files of dir (not hidden ones), as paths, sorted by name
 * in byte order; a NULL-terminated array to free with confdir_free.
 * Returns 0, also for a directory that does not exist (no files), or -1
 * with errno set.
 */
int	 confdir_list(const char *dir, char ***files);
void	 confdir_free(char **files);

#endif
