/*
 * evalsched-supervisor: finds due schedules, forks one jobrunner per
 * evaluation, records outcomes.  Start-up lives here: options, the
 * configuration, -n and -t, the pid file, the privilege drop and
 * daemonizing.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <libutil.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "harden.h"
#include "log.h"
#include "supervisor.h"

static struct supervisor	 state;
struct supervisor		*sv = &state;

static struct {
	const char	*config;
	const char	*pidfile;
	const char	*user;
	int		 debug, check, test;
} opt;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: evalsched-supervisor [-1dfntV] [-c file] "
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

	res = db_query_wait("SELECT count(*) FILTER (WHERE is_active AND "
	    "coalesce(api_key_encrypted, '') <> '') "
	    "FROM public.scheduled_evaluations",
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

/*
 * -n: roles that may create objects in public can plant functions there.
 * Our statements and functions resolve nothing through it, but the
 * application's own trigger functions do, and they run with our rights
 * when we update a schedule (evalsched-supervisor(8), "In the
 * application's database").  Superusers and we ourselves are trusted.
 */
static void
check_public_schema(void)
{
	PGresult	*res;

	res = db_query_wait("SELECT pg_catalog.string_agg(CASE WHEN a.grantee "
	    "= 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END, "
	    "', ' ORDER BY r.rolname NULLS FIRST) "
	    "FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode("
	    "  coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a "
	    "LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee "
	    "WHERE n.nspname = 'public' AND a.privilege_type = 'CREATE' "
	    "  AND a.grantee <> n.nspowner AND NOT coalesce(r.rolsuper, false) "
	    "  AND coalesce(r.rolname <> current_user, true)", 0, NULL);
	if (res == NULL)
		return;
	if (!PQgetisnull(res, 0, 0))
		fprintf(stderr, "%s: warning: %s may create objects in schema "
		    "public, where the application's trigger functions look "
		    "up names with evalsched's rights: REVOKE CREATE ON SCHEMA "
		    "public FROM %s\n", sv->conf.path, PQgetvalue(res, 0, 0),
		    PQgetvalue(res, 0, 0));
	PQclear(res);
}

/*
 * Settings that work but put the keys at risk, said by -n on stderr
 * (check) and at every start in the log; they are not errors, so the
 * supervisor goes on.
 */
static void
warn_dangerous(int check)
{
	struct config_err	 w = { 0 };
	char			*line, *next, where[CONFIG_WHERE_MAX];

	config_warnings(&sv->conf, &w);
	pooler_warn_port(&w);
	if (sv->conf.user != NULL && strcmp(sv->conf.user, "nobody") == 0)
		config_err_add(&w, "%s: warning: user nobody is an account "
		    "other daemons share; create one for evalsched",
		    opt.user != NULL ? "-u" : config_where(&sv->conf, "user",
		    where, sizeof(where)));
	for (line = w.buf; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		if (check)
			fprintf(stderr, "%s\n", line);
		else
			log_warnx("%s", line);
	}
	config_err_free(&w);
}

/* -n: what the database role lacks; privileges.c says it, and the remedy. */
static void
check_privileges(void)
{
	int	n = privileges_check(sv->conf.path);

	if (n == -1)
		exit(EX_UNAVAILABLE);
	if (n > 0)
		exit(EX_CONFIG);
}

/* Where the user to run as was named, for a message. */
static const char *
user_where(char *buf, size_t len)
{
	if (opt.user != NULL)
		return "-u";
	return config_where(&sv->conf, "user", buf, len);
}

/* Appends the n bytes of name to a list in buf, comma-separated. */
static void
add_name(char *buf, size_t len, const char *name, size_t n)
{
	size_t	used = strlen(buf);

	snprintf(buf + used, len - used, "%s%.*s", used > 0 ? ", " : "",
	    (int)n, name);
}

/* Whether a list of add_name's holds name. */
static int
has_name(const char *list, const char *name)
{
	size_t	n = strlen(name);

	for (; *list != '\0'; list += strcspn(list, ",") + (list[strcspn(list,
	    ",")] != '\0' ? 2 : 0))
		if (strncmp(list, name, n) == 0 && (list[n] == ',' ||
		    list[n] == '\0'))
			return 1;
	return 0;
}

/*
 * -n and -t run from an operator's shell; the service does not: its
 * init script and systemd unit give the supervisor only what the
 * defaults file sets.  What this check took from the environment may
 * then be missing there (or be all that made the check pass).  In a
 * container (the image sets "container", as container managers do) the
 * environment is the service's own, and there is nothing to say.
 */
static void
warn_environment(void)
{
	extern char		**environ;
	char			  names[1024] = "", origin[CONFIG_WHERE_MAX];
	char			**e;
	const char		 *var;
	size_t			  i, n;

	if (getenv("container") != NULL)
		return;
	for (i = 0; i < config_nkeys(); i++) {
		config_origin(&sv->conf, i, origin, sizeof(origin));
		if (strncmp(origin, "environment: ", 13) != 0)
			continue;
		var = origin + 13;
		/* A secret and its file key name one variable: once. */
		if (!has_name(names, var))
			add_name(names, sizeof(names), var, strlen(var));
	}
	/* libpq's own: PGHOST, PGPASSWORD, PGSERVICE... */
	for (e = environ; *e != NULL; e++) {
		if (strncmp(*e, "PG", 2) != 0 ||
		    (n = strcspn(*e, "=")) >= 64 || (*e)[n] != '=')
			continue;
		add_name(names, sizeof(names), *e, n);
	}
	if (*names != '\0')
		fprintf(stderr, "environment: warning: %s: this check uses "
		    "them, the service does not: its init script and unit "
		    "start the supervisor with only what %s sets\n", names,
		    SYSCONFDIR "/default/evalsched");
}

/* -n and -t: every setting, and the flag that set it, if one did. */
static void
print_settings(void)
{
	const char	*flags[7], **f = flags;

	if (opt.user != NULL) {
		*f++ = "user";
		*f++ = "-u";
	}
	if (opt.pidfile != NULL) {
		*f++ = "pidfile";
		*f++ = "-p";
	}
	if (opt.debug) {
		*f++ = "log_level";
		*f++ = "-d";
	}
	*f = NULL;
	settings_print(stdout, &sv->conf, flags);
}

/*
 * -n: the configuration, what the user to run as can read, the database
 * and its schema.  -t (database 0): all but the database, for an init
 * script's reload, which must work while the database is down.
 */
static int __attribute__((noreturn))
check_only(int database)
{
	struct account	a;
	char		why[512], where[CONFIG_WHERE_MAX];

	print_settings();
	warn_dangerous(1);
	warn_environment();
	if (account_lookup(&a, why, sizeof(why)) == -1) {
		fprintf(stderr, "%s: %s\n", user_where(where, sizeof(where)),
		    why);
		exit(EX_CONFIG);
	}
	if (account_check(&a) + logdest_check(&sv->conf) > 0)
		exit(EX_CONFIG);
	if (!database) {
		printf("configuration OK\n");
		exit(0);
	}
	if (db_connect_once(1, why, sizeof(why)) == -1) {
		fprintf(stderr, "%s: database unreachable: %s\n",
		    sv->conf.path, why);
		exit(EX_UNAVAILABLE);
	}
	if (schema_check_present_now(why, sizeof(why)) != 0) {
		fprintf(stderr, "%s: database: %s\n", sv->conf.path, why);
		exit(EX_CONFIG);
	}
	check_privileges();
	if (schema_check_version_now(why, sizeof(why)) != 0) {
		fprintf(stderr, "%s: database: %s\n", sv->conf.path, why);
		exit(EX_CONFIG);
	}
	check_api_keys();
	check_public_schema();
	db_disconnect();
	if (pooler_check() > 0)
		exit(EX_CONFIG);
	printf("configuration OK\n");
	exit(0);
}

/* Started as the user already, as a container's USER starts us. */
static int
already_user(const char *name)
{
	struct passwd	*pw = getpwnam(name);

	return pw != NULL && pw->pw_uid == geteuid();
}

/* Who we run as once started, said when it is not what it should be. */
static void
service_account(struct account *a)
{
	char	why[256], where[CONFIG_WHERE_MAX];

	if (account_lookup(a, why, sizeof(why)) == -1)
		fatalx_status(EX_CONFIG, "%s: %s", user_where(where,
		    sizeof(where)), why);
	if (geteuid() != 0 && sv->conf.user != NULL &&
	    !already_user(sv->conf.user))
		log_warnx("not root: ignoring user %s", sv->conf.user);
	else if (geteuid() == 0 && sv->conf.user == NULL)
		log_warnx("running as root: set user in the configuration "
		    "(or -u) to drop privileges");
}

/*
 * The spool is handed to the daemon's user only if we made it: a
 * directory that was there (perhaps not the one meant) is never given
 * away.
 */
static void
drop_privileges(const struct account *a, int spool_created)
{
	if (!a->drop)
		return;
	if (spool_created == 1)
		spool_chown(a->uid, a->gid);
	if (account_drop(a) == -1)
		fatal("cannot drop privileges to %s", a->name);
	log_info("running as %s, HOME %s", a->name, getenv("HOME"));
}

/*
 * libbsd's pidfile_open(3) follows a symbolic link, and it runs as root:
 * a link planted where others can write would have root truncate any
 * file.  So the directory must be writable by root (or us) alone, and
 * then what is in it stays what we see here.
 */
static void
check_pid_dir(const char *path)
{
	struct stat	 st;
	char		*copy = xstrdup(path), *dir = dirname(copy);

	if (stat(dir, &st) == 0 && ((st.st_uid != 0 &&
	    st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))))
		fatalx_status(EX_CONFIG, "pid file %s: its directory %s is "
		    "owned by uid %lu with mode %04o: others than root could "
		    "plant a link there; fix: chown root:root %s && chmod "
		    "0755 %s, or choose another pidfile", path, dir,
		    (unsigned long)st.st_uid, (unsigned)(st.st_mode & 07777),
		    dir, dir);
	free(copy);
}

/* A link or a second name would make us write somewhere else. */
static void
check_pid_file(const char *path)
{
	struct stat	st;

	if (lstat(path, &st) == -1)
		return;		/* pidfile_open says what is wrong */
	if (S_ISLNK(st.st_mode))
		fatalx_status(EX_CONFIG, "pid file %s is a symbolic link: "
		    "refusing to follow it; remove it", path);
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		fatalx_status(EX_CONFIG, "pid file %s is not a regular file "
		    "with one link: refusing to write it; remove it", path);
}

static struct pidfh *
open_pidfile(void)
{
	struct pidfh	*pfh;
	pid_t		 other;

	if (sv->once)
		return NULL;
	check_pid_dir(sv->conf.pidfile);
	check_pid_file(sv->conf.pidfile);
	if ((pfh = pidfile_open(sv->conf.pidfile, 0644, &other)) != NULL)
		return pfh;
	if (errno == EEXIST)
		fatalx_status(EX_UNAVAILABLE, "already running as pid %ld "
		    "(pid file %s)", (long)other, sv->conf.pidfile);
	fatal("cannot open the pid file %s", sv->conf.pidfile);
}

/* Already ourselves: an unsafe new spool is not used, and said so. */
static void
reload_spool(void)
{
	char	why[1024];

	if (spool_init(sv->conf.spool_dir, geteuid(), why, sizeof(why)) == -2)
		log_warnx("reload: %s; outcomes are kept in memory only", why);
	spool_mark_node(sv->conf.node_name);
}

static int
same_secret(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* SIGHUP: a bad new configuration is logged and the old one kept. */
static void
reload(void)
{
	struct config		 c;
	struct config_err	 err = { 0 };
	char			*line, *next;
	int			 reconnect, newdb;

	/* A new file first (logrotate's SIGHUP), whatever the rest. */
	if (load_config(&c, &err) == -1) {
		logdest_reopen(&sv->conf);
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
	if (!same_secret(c.encryption_key, sv->conf.encryption_key))
		sv->key_opened = 0;
	logdest_reopen(&c);
	config_free(&sv->conf);
	sv->conf = c;
	log_setverbose(sv->conf.log_debug);
	reload_spool();
	if (reconnect)
		db_disconnect();
	if (newdb) {
		/* Perhaps another database: register there afresh. */
		sv->registered = 0;
		sv->schema_checked = 0;
	}
	event_post(EV_CLAIM);
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

/*
 * Refuses a spool others could write to: outcomes found there would be
 * recorded as ours.
 */
static int
open_spool(const struct account *a)
{
	char	why[1024];
	int	spool;

	if ((spool = spool_init(sv->conf.spool_dir, a->uid, why,
	    sizeof(why))) == -2)
		fatalx_status(EX_CONFIG, "%s", why);
	if (spool == -1)
		log_warnx("outcomes will be kept in memory only while the "
		    "database is unreachable");
	return spool;
}

static void
startup(struct pidfh **pfh)
{
	struct account	a;
	char		why[PATH_MAX + 128];
	int		spool;

	service_account(&a);
	*pfh = open_pidfile();
	spool = open_spool(&a);
	/* Read while still privileged: an earlier run may have been root. */
	TAILQ_INIT(&sv->outcomes);
	spool_load(&sv->outcomes);
	drop_privileges(&a, spool);
	spool_mark_node(sv->conf.node_name);
	if (!sv->foreground) {
		/* Until here an operator starting us by hand reads stderr. */
		if (logdest_prepare(&sv->conf, why, sizeof(why)) == -1)
			fatalx_status(EX_CONFIG, "%s", why);
		logdest_detach("evalsched-supervisor", sv->conf.log_debug);
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
	char			 why[512];
	extern char		**environ;

	/* Before the key is read: no core file, no peeking at our memory. */
	harden_process();
	setproctitle_init(argc, argv, environ);
	while ((ch = getopt(argc, argv, "1c:dfnp:tu:V")) != -1) {
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
		case 't':
			opt.test = 1;
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
	if (opt.check || opt.test) {
		log_init("evalsched-supervisor", 1, sv->conf.log_debug);
		check_only(opt.check);
	}
	sv->foreground |= sv->once;
	log_init("evalsched-supervisor", 1, sv->conf.log_debug);
	startup(&pfh);
	warn_dangerous(0);
	sigfd = signals_init();
	if (sv->once && db_connect_once(0, why, sizeof(why)) == -1)
		fatalx_status(EX_UNAVAILABLE, "-1: the database is unreachable: "
		    "%s", why);
	log_info("starting evalsched %s (pid %ld)", VERSION, (long)getpid());
	loop_run(sigfd, reload);
	db_disconnect();
	if (pfh != NULL)
		remove_pidfile(pfh);
	log_info("terminating");
	config_free(&sv->conf);
	return 0;
}
