/*
 * Notion: a page in the user's database (integration.service.ts,
 * logToNotion).  As there, the database's schema is read first, and the
 * page sets only the properties the database has, of the type it has:
 * the title, then Type and Status (select), Job ID, JobID, Job, Model,
 * Model Name, Error, Error Message, Duration (text, or a URL property),
 * Loss and Final Loss (number), each found by its name in lower case.
 * The two calls share the delivery's time.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonget.h"
#include "notifier.h"

#define SCHEMA_MAX	(1024 * 1024)	/* a database with many options */
#define ANSWER_MAX	(64 * 1024)
#define NOTION_VERSION	"Notion-Version: 2022-06-28"
#define RICH_TEXT_MAX	2000		/* code units, as the app cuts */
#define AUTH_MAX	(NOTIFY_MAX_SECRET + 64)	/* its header line */

enum prop_kind { AS_SELECT, AS_TEXT, AS_NUMBER };

/*
 * The schema as the application keeps it: by the name in lower case,
 * {type, name}, a later name of the same case replacing an earlier one
 * in its place.
 */
static json_object *
schema_of(json_object *database)
{
	json_object	*props, *schema = jnew_object(), *p, *t, *entry;
	const char	**keys;
	char		*low;
	size_t		 i, n;

	if (!json_object_is_type(props = jget(database, "properties"),
	    json_type_object))
		return schema;
	keys = js_keys(props, &n);
	for (i = 0; i < n; i++) {
		p = jget(props, keys[i]);
		entry = jnew_object();
		if (js_member(p, "type", &t))
			jset(entry, "type", json_object_get(t));
		jset(entry, "name", jnew_string(keys[i]));
		low = js_lower(keys[i]);
		jset(schema, low, entry);
		free(low);
	}
	free(keys);
	return schema;
}

static int
type_is(json_object *entry, const char *type)
{
	const char	*t = jget_str(entry, "type");

	return t != NULL && strcmp(t, type) == 0;
}

static void
set_title(json_object *out, json_object *schema, const char *title)
{
	json_object	*entry, *o, *list, *item, *text;
	const char	**keys;
	size_t		 i, n;

	keys = js_keys(schema, &n);
	for (i = 0; i < n; i++) {
		entry = jget(schema, keys[i]);
		if (!type_is(entry, "title"))
			continue;
		o = jnew_object();
		list = jnew_array();
		text = jnew_object();
		jset(text, "content", jnew_string(title));
		item = jnew_object();
		jset(item, "text", text);
		jpush(list, item);
		jset(o, "title", list);
		jset(out, jget_str(entry, "name"), o);
		break;
	}
	free(keys);
}

static json_object *
rich_text(const char *value, size_t max)
{
	json_object	*list = jnew_array(), *item = jnew_object();
	json_object	*text = jnew_object();
	char		*cut = max > 0 ? js_slice(value, max) : xstrdup(value);

	jset(text, "content", jnew_string(cut));
	free(cut);
	jset(item, "text", text);
	jpush(list, item);
	return list;
}

/* addIfExists(key, value, kind); value is a string, or number if NULL. */
static void
add_if_exists(json_object *out, json_object *schema, const char *key,
    const char *value, double number, enum prop_kind kind)
{
	json_object	*entry, *o = NULL, *sel;
	char		*low = js_lower(key);

	entry = jget(schema, low);
	free(low);
	if (entry == NULL)
		return;
	if (kind == AS_SELECT && type_is(entry, "select")) {
		o = jnew_object();
		sel = jnew_object();
		jset(sel, "name", jnew_string(value));
		jset(o, "select", sel);
	} else if (kind == AS_TEXT && type_is(entry, "rich_text")) {
		o = jnew_object();
		jset(o, "rich_text", rich_text(value, RICH_TEXT_MAX));
	} else if (kind == AS_NUMBER && type_is(entry, "number")) {
		o = jnew_object();
		jset(o, "number", jnew_double(number));
	} else if (kind == AS_TEXT && type_is(entry, "url")) {
		o = jnew_object();
		jset(o, "url", jnew_string(value));
	}
	if (o != NULL)
		jset(out, jget_str(entry, "name"), o);
}

static void
set_properties(json_object *out, json_object *schema,
    const struct integ_event *ev)
{
	const char	*model = ev->model_name != NULL ? ev->model_name : "";

	set_title(out, schema, ev->title);
	add_if_exists(out, schema, "Type", ev->type, 0, AS_SELECT);
	add_if_exists(out, schema, "Status", ev->status, 0, AS_SELECT);
	add_if_exists(out, schema, "Job ID", ev->job_id, 0, AS_TEXT);
	add_if_exists(out, schema, "JobID", ev->job_id, 0, AS_TEXT);
	add_if_exists(out, schema, "Job", ev->job_id, 0, AS_TEXT);
	add_if_exists(out, schema, "Model", model, 0, AS_TEXT);
	add_if_exists(out, schema, "Model Name", model, 0, AS_TEXT);
	if (ev->error != NULL) {
		add_if_exists(out, schema, "Error", ev->error, 0, AS_TEXT);
		add_if_exists(out, schema, "Error Message", ev->error, 0,
		    AS_TEXT);
	}
	if (ev->duration != NULL)
		add_if_exists(out, schema, "Duration", ev->duration, 0,
		    AS_TEXT);
	if (ev->has_loss) {
		add_if_exists(out, schema, "Loss", NULL, ev->loss,
		    AS_NUMBER);
		add_if_exists(out, schema, "Final Loss", NULL, ev->loss,
		    AS_NUMBER);
	}
}

/* The page's body, from the database as its GET answered. */
char *
notion_page(const struct integ_event *ev, const char *database_id,
    json_object *database)
{
	json_object	*o = jnew_object(), *parent = jnew_object();
	json_object	*props = jnew_object(), *schema;
	char		*body;

	schema = schema_of(database);
	set_properties(props, schema, ev);
	json_object_put(schema);
	jset(parent, "database_id", jnew_string(database_id));
	jset(o, "parent", parent);
	jset(o, "properties", props);
	body = js_stringify(o);
	json_object_put(o);
	return body;
}

/* "BASE/v1/PATH" without the base's trailing slashes. */
static char *
api_url(const struct integration *ig, const char *path, const char *id)
{
	const char	*base = ig->notice->api.notion;
	size_t		 n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return xasprintf("%.*s/v1/%s%s", (int)n, base, path,
	    id != NULL ? id : "");
}

static void
failed(struct integration *ig, struct outcome *o, struct request *r,
    const char *what)
{
	char	error[sizeof(o->error) + 16];

	if (o->status != 0)
		integ_api_error(o, r, "message");
	snprintf(error, sizeof(error), "%s: %s", what, o->error);
	strlcpy(o->error, error, sizeof(o->error));
	integ_result(ig, o);
}

static void
page_done(struct request *r, void *arg)
{
	struct outcome	o;

	request_outcome(r, &o);
	if (o.ok)
		integ_result(arg, &o);
	else
		failed(arg, &o, r, "page");
}

/*
 * The headers: the key, the version, and for a POST the type.  The key
 * fits: input.c took one of at most NOTIFY_MAX_SECRET bytes.
 */
static void
headers_for(const struct integration *ig, char auth[AUTH_MAX],
    const char *h[4], int post)
{
	snprintf(auth, AUTH_MAX, "Authorization: Bearer %s", ig->key);
	h[0] = auth;
	h[1] = NOTION_VERSION;
	h[2] = post ? "Content-Type: application/json" : NULL;
	h[3] = NULL;
}

static void
post_page(struct integration *ig, json_object *database)
{
	struct integ_event	 ev;
	const char		*h[4];
	char			 auth[AUTH_MAX], *url, *body;

	integ_event_get(&ig->notice->event, &ev);
	body = notion_page(&ev, ig->database_id, database);
	integ_event_free(&ev);
	url = api_url(ig, "pages", NULL);
	headers_for(ig, auth, h, 1);
	integ_call(ig, url, body, h, ANSWER_MAX, page_done);
	explicit_bzero(auth, sizeof(auth));
	free(body);
	free(url);
}

static void
database_done(struct request *r, void *arg)
{
	struct integration	*ig = arg;
	struct outcome		 o;
	json_object		*database;

	request_outcome(r, &o);
	if (!o.ok) {
		failed(ig, &o, r, "database");
		return;
	}
	if ((database = integ_answer(r)) == NULL) {
		/* The same database answers the same next time. */
		integ_fail(ig, "database: an answer that is not JSON, or "
		    "larger than 1 MiB", 0);
		return;
	}
	post_page(ig, database);
	json_object_put(database);
}

void
notion_start(struct integration *ig, const struct integ_event *ev)
{
	const char	*h[4];
	char		 auth[AUTH_MAX], *url;

	(void)ev;	/* the page is made from the schema's answer */
	url = api_url(ig, "databases/", ig->database_id);
	headers_for(ig, auth, h, 0);
	integ_call(ig, url, NULL, h, SCHEMA_MAX, database_done);
	explicit_bzero(auth, sizeof(auth));
	free(url);
}
