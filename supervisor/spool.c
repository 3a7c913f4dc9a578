/*
 * The spool: outcomes that could not be written because the database was
 * unreachable, one fsynced file each, so that neither an outage nor a
 * crash during one loses them.  Written atomically (temporary file,
 * fsync, rename, fsync of the directory) and removed once the database
 * has the outcome.  Loaded at start-up and written like any other.
 *
 * Whoever can write here can forge an outcome, so the directory must be
 * root's or our user's and writable by its owner alone, and a file is
 * taken only if it is a regular file with one link, owned by us (or
 * root), named after the run it holds and naming our node.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

#include "log.h"
#include "durable.h"
#include "job.h"
#include "jsonnew.h"
#include "json1.h"
#include "jsonget.h"
#include "supervisor.h"
#include "text.h"

#define SPOOL_SUFFIX	".outcome"
#define SPOOL_MAX	(2 * JOB_MAX_TEXT)	/* bytes of one file read */
#define NOTED_MAX	32

static char	*spool_dir;
static int	 spool_fd = -1;
static uid_t	 spool_uid;		/* whose files it holds, with root's */
static int	 spool_warned;

/* Files already reported as not ours: a heartbeat need not repeat it. */
static char	 noted[NOTED_MAX][NAME_MAX + 1];
static int	 noted_next;

static void
spool_close(void)
{
	if (spool_fd != -1)
		close(spool_fd);
	spool_fd = -1;
	free(spool_dir);
	spool_dir = NULL;
}

static const char *
user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd	*pw;

	if ((pw = getpwuid(uid)) != NULL)
		strlcpy(buf, pw->pw_name, len);
	else
		snprintf(buf, len, "uid %lu", (unsigned long)uid);
	return buf;
}

/* "user:group", for chown(1). */
static const char *
owner_spec(uid_t uid, char *buf, size_t len)
{
	struct passwd	*pw;
	struct group	*gr;

	if ((pw = getpwuid(uid)) == NULL)
		snprintf(buf, len, "%lu", (unsigned long)uid);
	else if ((gr = getgrgid(pw->pw_gid)) == NULL)
		snprintf(buf, len, "%s:%lu", pw->pw_name,
		    (unsigned long)pw->pw_gid);
	else
		snprintf(buf, len, "%s:%s", pw->pw_name, gr->gr_name);
	return buf;
}

/* "root or nobody", "root" when we are root. */
static const char *
allowed_owners(uid_t uid, char *buf, size_t len)
{
	char	ours[64];

	if (uid == 0)
		snprintf(buf, len, "root");
	else
		snprintf(buf, len, "root or %s", user_name(uid, ours,
		    sizeof(ours)));
	return buf;
}

/*
 * The fix for a spool that is not ours.  Another account's directory is
 * never advised away from it: it may be the spool of the packaged
 * service, which runs as that account; the supervisor is to run as its
 * owner, or to have one of its own.
 */
static void
spool_fix(const char *dir, const struct stat *st, uid_t uid, char *fix,
    size_t len)
{
	char	owner[64], spec[128];

	if (st->st_uid != 0 && st->st_uid != uid)
		snprintf(fix, len, "run the supervisor as its owner (user = "
		    "%s, or -u %s) or give it a spool_dir of its own",
		    user_name(st->st_uid, owner, sizeof(owner)), owner);
	else if (uid == 0 || st->st_uid == uid)
		snprintf(fix, len, "fix: chmod 0750 %s", dir);
	else
		snprintf(fix, len, "fix: chown %s %s && chmod 0750 %s",
		    owner_spec(uid, spec, sizeof(spec)), dir, dir);
}

/*
 * Another user who can write here could forge outcomes, so the directory
 * must be root's or ours and writable by its owner alone.
 */
static int
spool_safe(const char *dir, const struct stat *st, uid_t uid, char *why,
    size_t len)
{
	char	owner[64], allowed[80], fix[512];

	if (!S_ISDIR(st->st_mode))
		snprintf(why, len, "spool directory %s is not a directory", dir);
	else if ((st->st_uid != 0 && st->st_uid != uid) ||
	    (st->st_mode & (S_IWGRP | S_IWOTH))) {
		spool_fix(dir, st, uid, fix, sizeof(fix));
		snprintf(why, len, "spool directory %s is owned by %s with mode "
		    "%04o: it must belong to %s and be writable by its owner "
		    "alone; %s", dir, user_name(st->st_uid, owner,
		    sizeof(owner)), (unsigned)(st->st_mode & 07777),
		    allowed_owners(uid, allowed, sizeof(allowed)), fix);
	} else
		return 1;
	return 0;
}

/* Fills why and returns -2 for a symbolic link, -1 for any other error. */
static int
spool_open(const char *dir, char *why, size_t len)
{
	struct stat	st;
	int		fd;

	if ((fd = durable_opendir(dir)) != -1)
		return fd;
	if (errno == ENOTDIR || errno == ELOOP) {
		if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			snprintf(why, len, "spool directory %s is a symbolic "
			    "link: refusing to follow it; make spool_dir the "
			    "directory itself", dir);
		else
			snprintf(why, len, "spool directory %s is not a "
			    "directory", dir);
		return -2;
	}
	snprintf(why, len, "spool directory %s: %s", dir, strerror(errno));
	return -1;
}

/*
 * Opens (creating, mode 0750) the spool for files owned by uid, the user
 * we run as.  Returns 1 when it made the directory, 0 when it was there,
 * -1 when it cannot be used (logged), -2 when it must not be (why says
 * why and how to fix it).
 */
int
spool_init(const char *dir, uid_t uid, char *why, size_t len)
{
	struct stat	st;
	char		spec[128];
	int		created = 0, fd;

	spool_close();
	if (mkdir(dir, 0750) == 0)
		created = 1;
	else if (errno != EEXIST) {
		log_warn("spool directory %s", dir);
		return -1;
	}
	if ((fd = spool_open(dir, why, len)) < 0) {
		if (fd == -1)
			log_warnx("%s", why);
		return fd;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("spool directory %s", dir);
		close(fd);
		return -1;
	}
	if (!spool_safe(dir, &st, uid, why, len)) {
		close(fd);
		return -2;
	}
	if (uid != 0 && st.st_uid == 0 && !created)
		log_warnx("spool directory %s belongs to root: its user cannot "
		    "write there, so outcomes are kept in memory only while "
		    "the database is unreachable and orphaned jobrunners' "
		    "results are lost; fix: chown %s %s", dir,
		    owner_spec(uid, spec, sizeof(spec)), dir);
	spool_dir = xstrdup(dir);
	spool_fd = fd;
	spool_uid = uid;
	return created;
}
/* Only a directory we made is handed over: see drop_privileges(). */
void
spool_chown(uid_t uid, gid_t gid)
{
	if (spool_fd != -1 && fchown(spool_fd, uid, gid) == -1)
		log_warn("chown %s", spool_dir);
}

/*
 * The node marker, written as the user the jobrunners run as: each copies
 * it into the result it leaves, which we take only for our own node.
 */
void
spool_mark_node(const char *node)
{
	json_object	*s;
	char		*text;

	if (spool_dir == NULL)
		return;
	s = jnew_string(node);
	text = xasprintf("%s\n", jtext(s, JSON_C_TO_STRING_SPACED));
	json_object_put(s);
	if (durable_write(spool_dir, DURABLE_NODE_FILE, text) == -1)
		log_warn("spool: cannot write %s/%s; the results orphaned "
		    "jobrunners leave there will not be taken", spool_dir,
		    DURABLE_NODE_FILE);
	free(text);
}

/* Memory keeps it either way; the disk is for surviving a crash. */
int
spool_write(struct outcome *o)
{
	json_object	*obj;
	char		 name[UUID_LEN + sizeof(SPOOL_SUFFIX)];
	int		 r;

	if (spool_dir == NULL)
		return -1;
	snprintf(name, sizeof(name), "%s%s", o->run_id, SPOOL_SUFFIX);
	obj = outcome_to_json(o);
	jset(obj, "node", jnew_string(sv->conf.node_name));
	r = durable_write(spool_dir, name, jtext(obj, JSON_C_TO_STRING_PLAIN));
	json_object_put(obj);
	if (r == -1) {
		if (!spool_warned++)
			log_warn("cannot spool outcomes to %s; they are kept "
			    "in memory only", spool_dir);
		return -1;
	}
	o->spooled = 1;
	log_info("schedule \"%s\": outcome of run %s spooled until the "
	    "database is back", log_name(o->schedule_name).s, o->run_id);
	return 0;
}

void
spool_remove(const struct outcome *o)
{
	char	name[UUID_LEN + sizeof(SPOOL_SUFFIX)];

	if (spool_fd == -1)
		return;
	snprintf(name, sizeof(name), "%s%s", o->run_id, SPOOL_SUFFIX);
	if (unlinkat(spool_fd, name, 0) == -1 && errno != ENOENT)
		log_warn("unlink %s/%s", spool_dir, name);
}

static enum outcome_kind
kind_from_name(const char *name)
{
	enum outcome_kind	k;

	for (k = OUTCOME_SUCCESS; k <= OUTCOME_RELEASE; k++)
		if (name != NULL && strcmp(outcome_kind_name(k), name) == 0)
			return k;
	return OUTCOME_FAILED;
}

/* Said once per file and start: a heartbeat need not repeat it. */
static void
not_ours(const char *name, const char *why)
{
	int	i;

	for (i = 0; i < NOTED_MAX; i++)
		if (strcmp(noted[i], name) == 0) {
			log_debug("spool: %s/%s still skipped: %s", spool_dir,
			    name, why);
			return;
		}
	strlcpy(noted[noted_next], name, sizeof(noted[noted_next]));
	noted_next = (noted_next + 1) % NOTED_MAX;
	log_warnx("spool: skipped %s/%s: %s; left in place", spool_dir, name,
	    why);
}

/*
 * Written by us for that run on this node: named after the run it holds
 * and naming our node.  An earlier version's files name no node: left.
 */
static int
is_ours(json_object *doc, const char *name, const char *suffix, char *why,
    size_t len)
{
	const char	*run_id = jget_str(doc, "run_id");
	const char	*node = jget_str(doc, "node");

	if (run_id == NULL || strlen(run_id) != UUID_LEN ||
	    strncmp(name, run_id, UUID_LEN) != 0 ||
	    strcmp(name + UUID_LEN, suffix) != 0)
		snprintf(why, len, "not named after the run it holds");
	else if (node == NULL)
		snprintf(why, len, "it names no node");
	else if (strcmp(node, sv->conf.node_name) != 0)
		snprintf(why, len, "written for node %s, not %s", node,
		    sv->conf.node_name);
	else
		return 1;
	return 0;
}

/*
 * The JSON document in name if it is a file we wrote for that run on this
 * node; otherwise NULL, said once.  *broken: there is a file of ours, but
 * not JSON.
 */
static json_object *
read_ours(const char *name, const char *suffix, int *broken)
{
	json_object	*doc;
	char		*text, why[256];

	*broken = 0;
	if ((text = durable_read(spool_fd, name, spool_uid, SPOOL_MAX, why,
	    sizeof(why))) == NULL) {
		not_ours(name, why);
		return NULL;
	}
	if (json1_parse(text, strlen(text), 0, &doc, NULL, 0) == -1)
		doc = NULL;
	free(text);
	if (doc == NULL) {
		*broken = 1;
		return NULL;
	}
	if (is_ours(doc, name, suffix, why, sizeof(why)))
		return doc;
	json_object_put(doc);
	not_ours(name, why);
	return NULL;
}

/* Calls fn for each name in the spool that ends in suffix. */
static void
spool_each(const char *suffix, void (*fn)(const char *, void *), void *arg)
{
	DIR		*d;
	struct dirent	*e;
	size_t		 n, sl = strlen(suffix);
	int		 fd;

	if (spool_fd == -1 || (fd = dup(spool_fd)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (n > sl && strcmp(e->d_name + n - sl, suffix) == 0)
			fn(e->d_name, arg);
	}
	closedir(d);
}

static struct outcome *
outcome_from_json(json_object *obj)
{
	struct outcome	*o;
	json_object	*v;
	const char	*run_id = jget_str(obj, "run_id");
	const char	*owner = jget_str(obj, "owner");
	const char	*s;

	if (run_id == NULL || owner == NULL || strlen(run_id) != UUID_LEN ||
	    strlen(owner) != UUID_LEN)
		return NULL;
	s = jget_str(obj, "schedule_name");
	o = outcome_new(kind_from_name(jget_str(obj, "kind")), run_id,
	    s != NULL ? s : "?");
	strlcpy(o->owner, owner, sizeof(o->owner));
	if ((s = jget_str(obj, "test_run_id")) != NULL)
		strlcpy(o->test_run_id, s, sizeof(o->test_run_id));
	if ((s = jget_str(obj, "error_message")) != NULL)
		o->error_message = xstrdup(s);
	if ((v = jget(obj, "error_details")) != NULL)
		o->error_details = xstrdup(jtext(v, JSON_C_TO_STRING_PLAIN));
	o->blame = blame_from_name(jget_str(obj, "blame"));
	/* An outcome spooled by version 0.1 says "counts" instead. */
	if (jget(obj, "counts") != NULL)
		o->blame = jget_flag(obj, "counts", 0) ? BLAME_SCHEDULE :
		    BLAME_PLATFORM;
	o->alone = jget_flag(obj, "alone", 0);
	o->spooled = 1;
	return o;
}

static void
spool_load_file(const char *name, void *arg)
{
	struct outcome_queue	*q = arg;
	json_object		*obj;
	struct outcome		*o = NULL;
	int			 broken;

	if ((obj = read_ours(name, SPOOL_SUFFIX, &broken)) == NULL && !broken)
		return;
	if (obj != NULL) {
		o = outcome_from_json(obj);
		json_object_put(obj);
	}
	if (o == NULL) {
		log_warnx("spool: %s/%s is not a readable outcome; left in "
		    "place", spool_dir, name);
		return;
	}
	log_info("spool: recovered the outcome of run %s", o->run_id);
	TAILQ_INSERT_TAIL(q, o, entry);
}

/* Outcomes a previous incarnation left behind. */
void
spool_load(struct outcome_queue *q)
{
	spool_each(SPOOL_SUFFIX, spool_load_file, q);
}

/* A result file whose run is being written. */
struct recovering {
	char	*name;
	char	 run_id[UUID_LEN + 1];
	int	 code;
	int	 ambiguous;
};

/* What becomes of the file: see record_recovered(). */
static void
recover_done(const char *name, int r)
{
	if (r == -1)
		log_info("spool: %s/%s has no lost run to replace; removed",
		    spool_dir, name);
	if ((r == 1 || r == -1) && unlinkat(spool_fd, name, 0) == -1)
		log_warn("unlink %s/%s", spool_dir, name);
}

static void
recovered(int r, void *arg)
{
	struct recovering	*rc = arg;

	if (r == 1)
		log_info("run %s: recorded the real outcome its orphaned "
		    "jobrunner left (%s)", rc->run_id, rc->code == 0 ?
		    "accepted" : rc->ambiguous ? "unclear: its batch test is "
		    "still looked for" : "failed");
	recover_done(rc->name, r);
	free(rc->name);
	free(rc);
}

/* Sends the end a result file describes; 1 if it went out. */
static int
recover_result(const char *name, json_object *doc)
{
	struct job_result	 res;
	struct recovering	*rc;
	json_object		*v;
	const char		*run_id = jget_str(doc, "run_id");
	char			 err[128];
	int			 code, r;

	if (run_id == NULL || strlen(run_id) != UUID_LEN ||
	    !json_object_object_get_ex(doc, "exit_status", &v))
		return -1;
	code = json_object_get_int(v);
	if ((v = jget(doc, "result")) == NULL ||
	    job_result_from_json(&res, jtext(v, JSON_C_TO_STRING_SPACED), err,
	    sizeof(err)) == -1)
		return -1;
	text_make_valid(res.error);
	rc = xcalloc(1, sizeof(*rc));
	rc->name = xstrdup(name);
	strlcpy(rc->run_id, run_id, sizeof(rc->run_id));
	rc->code = code;
	rc->ambiguous = res.ambiguous;
	/*
	 * A call back into record.c, which spools what it cannot write:
	 * the spool holds files, record.c the statements that write runs,
	 * and a recovered result is one more of those.
	 */
	r = record_recovered(run_id, code, code == 0 ? res.test_run_id : NULL,
	    res.error, res.blame, res.ambiguous, recovered, rc);
	job_result_free(&res);
	if (r == -1) {
		free(rc->name);
		free(rc);
		return 0;
	}
	return 1;
}

/* 1 when its write went out; 0 when there was none to make. */
static int
spool_recover_file(const char *name)
{
	json_object	*doc;
	int		 broken, r;

	if ((doc = read_ours(name, JOB_RESULT_SUFFIX, &broken)) == NULL &&
	    !broken)
		return 0;
	r = doc != NULL ? recover_result(name, doc) : -1;
	json_object_put(doc);
	if (r == -1)
		recover_done(name, -1);
	return r == 1;
}

/* The result files of one pass, taken one a turn. */
static struct {
	char	**names;
	size_t	  n, next;
	int	  wanted;
} pass;

static void
pass_add(const char *name, void *arg)
{
	(void)arg;
	pass.names = xreallocarray(pass.names, pass.n + 1,
	    sizeof(*pass.names));
	pass.names[pass.n++] = xstrdup(name);
}

static void
pass_end(void)
{
	while (pass.n > 0)
		free(pass.names[--pass.n]);
	free(pass.names);
	pass.names = NULL;
	pass.next = 0;
}

/*
 * Results left by jobrunners whose supervisor died, looked for after we
 * register and after each heartbeat.  A file stays while its run is
 * still in flight or the database fails; it goes once written or when
 * there is no lost run for it to replace.  One we did not write, or
 * wrote for another node, stays and is never taken.
 */
void
spool_recover_soon(void)
{
	pass.wanted = 1;
}

int
spool_recover_step(void)
{
	if (pass.next == pass.n) {
		pass_end();
		if (!pass.wanted)
			return 0;
		pass.wanted = 0;
		spool_each(JOB_RESULT_SUFFIX, pass_add, NULL);
	}
	while (pass.next < pass.n)
		if (spool_recover_file(pass.names[pass.next++]))
			return 1;
	return 0;
}
