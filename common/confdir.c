/*
 * conf.d: which drop-in files there are, and in what order.  Byte order
 * (strcmp), not the locale's: "10-site.conf" comes after "00-local.conf"
 * whatever LANG says, as run-parts(8) and systemd's drop-ins have it.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confdir.h"
#include "util.h"

#define SUFFIX	".conf"

const char *
confdir_path(const char *path, char *buf, size_t len)
{
	char	*copy = xstrdup(path);

	snprintf(buf, len, "%s/%s", dirname(copy), CONFDIR_NAME);
	free(copy);
	return buf;
}

/* foo.conf, not .foo.conf (an editor's), nor foo.conf.dpkg-old. */
static int
wanted(const struct dirent *e)
{
	size_t	n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > sizeof(SUFFIX) - 1 &&
	    strcmp(e->d_name + n - (sizeof(SUFFIX) - 1), SUFFIX) == 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int
confdir_list(const char *dir, char ***files)
{
	struct dirent	**list;
	int		  n, i;

	*files = xcalloc(1, sizeof(**files));
	if ((n = scandir(dir, &list, wanted, by_name)) == -1)
		return errno == ENOENT ? 0 : -1;
	free(*files);
	*files = xcalloc((size_t)n + 1, sizeof(**files));
	for (i = 0; i < n; i++) {
		(*files)[i] = xasprintf("%s/%s", dir, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	return 0;
}

void
confdir_free(char **files)
{
	char	**p;

	for (p = files; p != NULL && *p != NULL; p++)
		free(*p);
	free(files);
}
