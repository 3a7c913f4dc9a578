/*
 * The spool: outcomes that could not be written because the database was
 * unreachable, one fsynced file each, so that neither an outage nor a
 * crash during one loses them.  Written atomically (temporary file,
 * fsync, rename, fsync of the directory) and removed once the database
 * has the outcome.  Loaded at start-up and written like any other.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

#include "log.h"
#include "durable.h"
#include "job.h"
#include "supervisor.h"
#include "text.h"

#define SPOOL_SUFFIX	".outcome"

static char	*spool_dir;
static int	 spool_warned;

/* Returns 1 when it made the directory, 0 when it was there, or -1. */
int
spool_init(const char *dir)
{
	free(spool_dir);
	spool_dir = xstrdup(dir);
	if (mkdir(dir, 0750) == 0)
		return 1;
	if (errno == EEXIST)
		return 0;
	log_warn("spool directory %s", dir);
	return -1;
}

/* Empty but for "." and "..": safe to hand to the daemon's user. */
int
spool_is_empty(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 empty = 1;

	if (spool_dir == NULL || (d = opendir(spool_dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

static void
spool_path(char *buf, size_t len, const char *run_id, const char *suffix)
{
	snprintf(buf, len, "%s/%s%s", spool_dir, run_id, suffix);
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
	r = durable_write(spool_dir, name, json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(obj);
	if (r == -1) {
		if (!spool_warned++)
			log_warn("cannot spool outcomes to %s; they are kept "
			    "in memory only", spool_dir);
		return -1;
	}
	o->spooled = 1;
	log_info("schedule \"%s\": outcome of run %s spooled until the "
	    "database is back", o->schedule_name, o->run_id);
	return 0;
}

void
spool_remove(const struct outcome *o)
{
	char	path[1024];

	spool_path(path, sizeof(path), o->run_id, SPOOL_SUFFIX);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
}

static const char *
json_string(json_object *obj, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
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

static struct outcome *
outcome_from_json(json_object *obj)
{
	struct outcome	*o;
	json_object	*v;
	const char	*run_id = json_string(obj, "run_id");
	const char	*owner = json_string(obj, "owner");
	const char	*s;

	if (run_id == NULL || owner == NULL || strlen(run_id) != UUID_LEN ||
	    strlen(owner) != UUID_LEN)
		return NULL;
	s = json_string(obj, "schedule_name");
	o = outcome_new(kind_from_name(json_string(obj, "kind")), run_id,
	    s != NULL ? s : "?");
	strlcpy(o->owner, owner, sizeof(o->owner));
	if ((s = json_string(obj, "test_run_id")) != NULL)
		strlcpy(o->test_run_id, s, sizeof(o->test_run_id));
	if ((s = json_string(obj, "error_message")) != NULL)
		o->error_message = xstrdup(s);
	if (json_object_object_get_ex(obj, "error_details", &v) && v != NULL)
		o->error_details = xstrdup(json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN));
	o->blame = blame_from_name(json_string(obj, "blame"));
	/* An outcome spooled by version 0.1 says "counts" instead. */
	if (json_object_object_get_ex(obj, "counts", &v))
		o->blame = json_object_get_boolean(v) ? BLAME_SCHEDULE :
		    BLAME_PLATFORM;
	o->spooled = 1;
	return o;
}

static void
spool_load_file(const char *name, struct outcome_queue *q)
{
	json_object	*obj;
	struct outcome	*o = NULL;
	char		 path[1024];

	snprintf(path, sizeof(path), "%s/%s", spool_dir, name);
	if ((obj = json_object_from_file(path)) != NULL) {
		o = outcome_from_json(obj);
		json_object_put(obj);
	}
	if (o == NULL) {
		log_warnx("spool: %s is not a readable outcome; left in place",
		    path);
		return;
	}
	log_info("spool: recovered the outcome of run %s", o->run_id);
	TAILQ_INSERT_TAIL(q, o, entry);
}

/* Outcomes a previous incarnation left behind. */
void
spool_load(struct outcome_queue *q)
{
	DIR		*d;
	struct dirent	*e;
	size_t		 n, sl = strlen(SPOOL_SUFFIX);

	if (spool_dir == NULL || (d = opendir(spool_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (n > sl && strcmp(e->d_name + n - sl, SPOOL_SUFFIX) == 0)
			spool_load_file(e->d_name, q);
	}
	closedir(d);
}

/* Writes the end a result file describes; see record_recovered(). */
static int
recover_result(json_object *doc)
{
	struct job_result	 res;
	json_object		*v;
	const char		*run_id = json_string(doc, "run_id");
	char			 err[128];
	int			 code, r;

	if (run_id == NULL || strlen(run_id) != UUID_LEN ||
	    !json_object_object_get_ex(doc, "exit_status", &v))
		return -1;
	code = json_object_get_int(v);
	if (!json_object_object_get_ex(doc, "result", &v) ||
	    job_result_from_json(&res, json_object_to_json_string(v), err,
	    sizeof(err)) == -1)
		return -1;
	text_make_valid(res.error);
	r = record_recovered(run_id, code, code == 0 ? res.test_run_id : NULL,
	    res.error, res.blame);
	if (r == 1)
		log_info("run %s: recorded the real outcome its orphaned "
		    "jobrunner left (%s)", run_id, code == 0 ? "accepted" :
		    "failed");
	job_result_free(&res);
	return r;
}

/*
 * Results left by jobrunners whose supervisor died.  A file stays while
 * its run is still in flight or the database fails; it goes once written
 * or when there is no lost run for it to replace.
 */
void
spool_recover_results(void)
{
	DIR		*d;
	struct dirent	*e;
	json_object	*doc;
	char		 path[1024];
	size_t		 n, sl = strlen(JOB_RESULT_SUFFIX);
	int		 r;

	if (spool_dir == NULL || (d = opendir(spool_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (n <= sl || strcmp(e->d_name + n - sl, JOB_RESULT_SUFFIX))
			continue;
		snprintf(path, sizeof(path), "%s/%s", spool_dir, e->d_name);
		if ((doc = json_object_from_file(path)) == NULL)
			r = -1;
		else {
			r = recover_result(doc);
			json_object_put(doc);
		}
		if (r == -1)
			log_info("spool: %s has no lost run to replace; "
			    "removed", path);
		if ((r == 1 || r == -1) && unlink(path) == -1)
			log_warn("unlink %s", path);
	}
	closedir(d);
}
