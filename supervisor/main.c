/*
 * evalsched-supervisor: finds due schedules, forks one jobrunner per
 * evaluation, records outcomes.  Start-up lives here: options, the
 * configuration, -n, the pid file, the privilege drop and daemonizing.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <grp.h>
#include <libutil.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

static struct supervisor	 state;
struct supervisor		*sv = &state;

static struct {
	const char	*config;
	const char	*pidfile;
	const char	*user;
	int		 debug, check;
} opt;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: evalsched-supervisor [-1dfnV] [-c file] "
	    "[-p pidfile] [-u user]\n");
	exit(EX_USAGE);
}

static void
print_errors(const struct config_err *e)
{
	if (e->buf != NULL)
		fputs(e->buf, stderr);
}

/* Reads the configuration with the command line's overrides. */
static int
load_config(struct config *c, struct config_err *err)
{
	config_defaults(c);
	if (config_load(c, opt.config, err) > 0)
		return -1;
	if (opt.pidfile != NULL) {
		free(c->pidfile);
		c->pidfile = xstrdup(opt.pidfile);
	}
	if (opt.user != NULL) {
		free(c->user);
		c->user = xstrdup(opt.user);
	}
	if (opt.debug)
		c->log_debug = 1;
	return config_require_key(c, err) > 0 ? -1 : 0;
}

/*
 * -n: active schedules with their own API key cannot run without the
 * key that decrypts it.  Their runs fail as the platform's fault, so no
 * schedule is disabled for it: say so before they do.
 */
static void
check_api_keys(void)
{
	PGresult	*res;
	const char	*n;

	res = db_exec("SELECT count(*) FILTER (WHERE is_active AND "
	    "coalesce(api_key_encrypted, '') <> '') FROM scheduled_evaluations",
	    0, NULL);
	if (res == NULL) {
		fprintf(stderr, "%s: database: cannot read "
		    "scheduled_evaluations.api_key_encrypted (the application's "
		    "migration 20260104000001 adds it)\n", sv->conf.path);
		exit(EX_CONFIG);
	}
	n = PQgetvalue(res, 0, 0);
	if (strcmp(n, "0") != 0 && (sv->conf.encryption_key == NULL ||
	    *sv->conf.encryption_key == '\0'))
		fprintf(stderr, "%s: warning: %s active schedule(s) have an "
		    "encrypted API key but encryption_key is not set; their "
		    "runs will fail (counted against nobody)\n", sv->conf.path,
		    n);
	PQclear(res);
}

/* -n: the configuration, the database and its schema. */
static int __attribute__((noreturn))
check_only(void)
{
	char	why[512];
	int	version;

	if (db_connect_once(why, sizeof(why)) == -1) {
		fprintf(stderr, "%s: database unreachable: %s\n",
		    sv->conf.path, why);
		exit(EX_UNAVAILABLE);
	}
	if ((version = db_schema_version(why, sizeof(why))) == -1) {
		fprintf(stderr, "%s: database: %s\n", sv->conf.path, why);
		exit(EX_CONFIG);
	}
	if (version != SCHEMA_VERSION) {
		fprintf(stderr, "%s: database: schema version %d, this "
		    "evalsched needs %d\n", sv->conf.path, version,
		    SCHEMA_VERSION);
		exit(EX_CONFIG);
	}
	if (db_results_tables(why, sizeof(why)) == -1) {
		fprintf(stderr, "%s: database: %s\n", sv->conf.path, why);
		exit(EX_CONFIG);
	}
	check_api_keys();
	db_disconnect();
	printf("configuration OK\n");
	exit(0);
}

/*
 * The spool is handed to the daemon's user only if we made it or it is
 * empty: a mistaken spool_dir must not give away a directory in use.
 */
static void
drop_privileges(int spool_created)
{
	struct passwd	*pw;

	if (geteuid() != 0) {
		if (sv->conf.user != NULL)
			log_warnx("not root: ignoring user %s", sv->conf.user);
		return;
	}
	if (sv->conf.user == NULL) {
		log_warnx("running as root: set user in the configuration "
		    "(or -u) to drop privileges");
		return;
	}
	if ((pw = getpwnam(sv->conf.user)) == NULL)
		fatalx_status(EX_CONFIG, "%s: no such user %s", sv->conf.path,
		    sv->conf.user);
	if (spool_created == 1 || (spool_created == 0 && spool_is_empty())) {
		if (chown(sv->conf.spool_dir, pw->pw_uid, pw->pw_gid) == -1)
			log_warn("chown %s", sv->conf.spool_dir);
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot drop privileges to %s", sv->conf.user);
	log_info("running as %s", sv->conf.user);
}

static struct pidfh *
open_pidfile(void)
{
	struct pidfh	*pfh;
	pid_t		 other;

	if (sv->once)
		return NULL;
	if ((pfh = pidfile_open(sv->conf.pidfile, 0644, &other)) != NULL)
		return pfh;
	if (errno == EEXIST)
		fatalx_status(EX_UNAVAILABLE, "already running as pid %ld "
		    "(pid file %s)", (long)other, sv->conf.pidfile);
	fatal("cannot open the pid file %s", sv->conf.pidfile);
}

/* SIGHUP: a bad new configuration is logged and the old one kept. */
static void
reload(void)
{
	struct config		 c;
	struct config_err	 err = { 0 };
	char			*line, *next;
	int			 reconnect, newdb;

	if (load_config(&c, &err) == -1) {
		for (line = err.buf; line != NULL && *line; line = next) {
			next = strchr(line, '\n');
			*next++ = '\0';
			log_warnx("reload: %s", line);
		}
		log_warnx("reload: configuration unchanged");
		config_err_free(&err);
		config_free(&c);
		return;
	}
	config_err_free(&err);
	newdb = strcmp(c.database, sv->conf.database) != 0;
	reconnect = newdb || c.listen != sv->conf.listen;
	if (strcmp(c.pidfile, sv->conf.pidfile) != 0 ||
	    (c.user == NULL) != (sv->conf.user == NULL) ||
	    (c.user != NULL && strcmp(c.user, sv->conf.user) != 0))
		log_warnx("reload: pidfile and user take effect at restart");
	if (strcmp(c.node_name, sv->conf.node_name) != 0) {
		log_warnx("reload: node_name takes effect at restart");
		free(c.node_name);
		c.node_name = xstrdup(sv->conf.node_name);
	}
	config_free(&sv->conf);
	sv->conf = c;
	log_setverbose(sv->conf.log_debug);
	spool_init(sv->conf.spool_dir);
	if (reconnect)
		db_disconnect();
	if (newdb) {
		/* Perhaps another database: register there afresh. */
		sv->registered = 0;
		sv->schema_checked = 0;
	}
	sv->poll_now = 1;
	log_info("reload: configuration reread from %s", sv->conf.path);
}

/*
 * After a privilege drop the pid file's directory (/run) may no longer be
 * ours to unlink in; an empty file then says no pid rather than a stale
 * one.
 */
static void
remove_pidfile(struct pidfh *pfh)
{
	if (ftruncate(pidfile_fileno(pfh), 0) == -1)
		log_warn("truncate %s", sv->conf.pidfile);
	if (pidfile_remove(pfh) == -1 && errno != ENOENT)
		log_debug("cannot remove %s: %s; left empty", sv->conf.pidfile,
		    strerror(errno));
}

static void
startup(struct pidfh **pfh)
{
	int	spool;

	*pfh = open_pidfile();
	if ((spool = spool_init(sv->conf.spool_dir)) == -1)
		log_warnx("outcomes will be kept in memory only while the "
		    "database is unreachable");
	/* Read while still privileged: an earlier run may have been root. */
	TAILQ_INIT(&sv->outcomes);
	spool_load(&sv->outcomes);
	drop_privileges(spool);
	if (!sv->foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		/* Until here an operator starting us by hand reads stderr. */
		log_init("evalsched-supervisor", 0, sv->conf.log_debug);
	}
	if (*pfh != NULL && pidfile_write(*pfh) == -1)
		log_warn("pidfile_write %s", sv->conf.pidfile);
}

int
main(int argc, char *argv[])
{
	struct config_err	 err = { 0 };
	struct pidfh		*pfh;
	int			 ch, sigfd;
	extern char		**environ;

	setproctitle_init(argc, argv, environ);
	while ((ch = getopt(argc, argv, "1c:dfnp:u:V")) != -1) {
		switch (ch) {
		case '1':
			sv->once = 1;
			break;
		case 'c':
			opt.config = optarg;
			break;
		case 'd':
			opt.debug = 1;
			break;
		case 'f':
			sv->foreground = 1;
			break;
		case 'n':
			opt.check = 1;
			break;
		case 'p':
			opt.pidfile = optarg;
			break;
		case 'u':
			opt.user = optarg;
			break;
		case 'V':
			printf("evalsched-supervisor %s\n", VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (load_config(&sv->conf, &err) == -1) {
		print_errors(&err);
		config_err_free(&err);
		config_free(&sv->conf);
		return EX_CONFIG;
	}
	config_err_free(&err);
	if (opt.check) {
		log_init("evalsched-supervisor", 1, sv->conf.log_debug);
		check_only();
	}
	sv->foreground |= sv->once;
	log_init("evalsched-supervisor", 1, sv->conf.log_debug);
	startup(&pfh);
	sigfd = signals_init();
	if (sv->once && db_try_connect() == -1)
		fatalx_status(EX_UNAVAILABLE, "-1: the database is unreachable");
	log_info("starting evalsched %s (pid %ld)", VERSION, (long)getpid());
	loop_run(sigfd, reload);
	lease_stop();
	db_disconnect();
	if (pfh != NULL)
		remove_pidfile(pfh);
	log_info("terminating");
	config_free(&sv->conf);
	return 0;
}
