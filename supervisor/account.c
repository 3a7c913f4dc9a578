/*
 * The account the supervisor runs as: looked up from "user" (or -u),
 * dropped to in one checked sequence, with that user's HOME, so that
 * libpq finds that user's ~/.pgpass and not the one of whoever started
 * us.  -n and -t, run as root, drop to it too and check what the
 * supervisor will read as that user: the configuration files and the key
 * files, read again on SIGHUP after the drop, and the password file.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "confdir.h"
#include "log.h"
#include "supervisor.h"

/*
 * Who we run as once started: the user's account if root drops to it.
 * Returns 0, or -1 with why set when the user does not exist.
 */
int
account_lookup(struct account *a, char *why, size_t len)
{
	struct passwd	*pw;
	struct group	*gr;

	memset(a, 0, sizeof(*a));
	a->uid = geteuid();
	a->gid = getegid();
	if (a->uid != 0 || sv->conf.user == NULL)
		return 0;
	if ((pw = getpwnam(sv->conf.user)) == NULL) {
		snprintf(why, len, "no such user %s", sv->conf.user);
		return -1;
	}
	a->uid = pw->pw_uid;
	a->gid = pw->pw_gid;
	a->drop = 1;
	strlcpy(a->name, pw->pw_name, sizeof(a->name));
	strlcpy(a->home, pw->pw_dir, sizeof(a->home));
	if ((gr = getgrgid(pw->pw_gid)) != NULL)
		strlcpy(a->group, gr->gr_name, sizeof(a->group));
	else
		snprintf(a->group, sizeof(a->group), "%lu",
		    (unsigned long)pw->pw_gid);
	return 0;
}

/*
 * The user's environment for what reads it after the drop: libpq takes
 * ~/.pgpass (and ~/.postgresql/) from HOME before it asks the password
 * database, and HOME is whoever started us.
 */
static void
set_user_env(const struct account *a)
{
	if (setenv("HOME", a->home, 1) == -1 ||
	    setenv("USER", a->name, 1) == -1 ||
	    setenv("LOGNAME", a->name, 1) == -1)
		fatal("setenv");
}

int
account_drop(const struct account *a)
{
	if (!a->drop)
		return 0;
	if (setgroups(1, &a->gid) == -1 ||
	    setresgid(a->gid, a->gid, a->gid) == -1 ||
	    setresuid(a->uid, a->uid, a->uid) == -1)
		return -1;
	set_user_env(a);
	return 0;
}

/* One thing the user cannot read ("what" says which); returns 1. */
static int
unreadable(const struct account *a, const char *what, const char *fix)
{
	fprintf(stderr, "%s not readable by user %s, as whom the supervisor "
	    "reads it again on SIGHUP (%s); fix: %s\n", what, a->name,
	    strerror(errno), fix);
	return 1;
}

/* The configuration files and conf.d, all read again on SIGHUP. */
static int
check_config_files(const struct account *a)
{
	struct stat	 st;
	char		 what[PATH_MAX + 8], dir[PATH_MAX], fix[3 * PATH_MAX];
	int		 i, n = 0;

	for (i = 0; i < sv->conf.nfiles; i++) {
		if (access(sv->conf.files[i], R_OK) == 0)
			continue;
		snprintf(what, sizeof(what), "%s:", sv->conf.files[i]);
		snprintf(fix, sizeof(fix), "chgrp %s %s && chmod g+r %s",
		    a->group, sv->conf.files[i], sv->conf.files[i]);
		n += unreadable(a, what, fix);
	}
	confdir_path(sv->conf.path, dir, sizeof(dir));
	if (stat(dir, &st) == 0 && access(dir, R_OK | X_OK) == -1) {
		snprintf(what, sizeof(what), "%s:", dir);
		snprintf(fix, sizeof(fix), "chgrp %s %s && chmod g+rx %s",
		    a->group, dir, dir);
		n += unreadable(a, what, fix);
	}
	return n;
}

/* The key files, read again on SIGHUP. */
static int
check_key_files(const struct account *a)
{
	const char	*keys[2][2] = {
		{ "service_role_key_file", sv->conf.service_role_key_file },
		{ "encryption_key_file", sv->conf.encryption_key_file },
	};
	char		 where[CONFIG_WHERE_MAX], what[2 * PATH_MAX + 64];
	char		 fix[3 * PATH_MAX];
	size_t		 i;
	int		 n = 0;

	for (i = 0; i < 2; i++) {
		if (keys[i][1] == NULL || access(keys[i][1], R_OK) == 0)
			continue;
		snprintf(what, sizeof(what), "%s: %s: %s is",
		    config_where(&sv->conf, keys[i][0], where, sizeof(where)),
		    keys[i][0], keys[i][1]);
		snprintf(fix, sizeof(fix), "chown %s %s && chmod 0600 %s",
		    a->name, keys[i][1], keys[i][1]);
		n += unreadable(a, what, fix);
	}
	return n;
}

/*
 * libpq's password file, as libpq finds it: PGPASSFILE, else
 * ~/.pgpass.  It skips one it cannot read and, with a warning on
 * stderr that a daemon's log never shows, one its group or others can.
 */
static void
check_pgpass(const struct account *a)
{
	struct stat	 st;
	const char	*env = getenv("PGPASSFILE");
	char		 path[PATH_MAX + 16];

	if (env != NULL && *env != '\0')
		strlcpy(path, env, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/.pgpass", a->home);
	if (stat(path, &st) == -1)
		return;
	if (access(path, R_OK) == -1)
		fprintf(stderr, "%s: warning: not readable by user %s (%s): "
		    "libpq will not find the database's password there; "
		    "fix: chown %s %s && chmod 0600 %s\n", path, a->name,
		    strerror(errno), a->name, path, path);
	else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		fprintf(stderr, "%s: warning: libpq ignores it: its group or "
		    "others have access (mode %04o); fix: chmod 0600 %s\n",
		    path, (unsigned int)(st.st_mode & 07777), path);
}

/*
 * -n and -t as root: become the user and look at what the supervisor
 * will read as it.  Returns the number of errors (printed).
 */
int
account_check(const struct account *a)
{
	int	n;

	if (!a->drop)
		return 0;
	if (account_drop(a) == -1) {
		fprintf(stderr, "cannot become user %s: %s\n", a->name,
		    strerror(errno));
		return 1;
	}
	n = check_config_files(a) + check_key_files(a);
	check_pgpass(a);
	return n;
}
