/*
 * What a Slack or Discord message says, taken from the event and these
 * metadata keys when they are there: scheduleName, modelId, status,
 * totalPrompts, successfulPrompts, failedPrompts, errorMessage,
 * consecutiveFailures, and for a regression "regression": {metric:
 * {baseline, current, change_percent, threshold_percent}}.  A key that
 * is missing, null or empty is left out of the message, never printed
 * as "undefined".
 */
#include <json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jsonget.h"
#include "notifier.h"
#include "text.h"

static const struct {
	const char	*key, *name;
} metric_names[] = {
	{ "avg_quality_score", "Quality score" },
	{ "success_rate", "Success rate" },
};

/* A string member, NULL when it is empty too. */
static const char *
text_of(json_object *obj, const char *key)
{
	const char	*s = jget_str(obj, key);

	return s != NULL && *s != '\0' ? s : NULL;
}

/* A count: a whole number, not negative; -1 when unknown. */
static long long
count_of(json_object *obj, const char *key)
{
	double	d;

	if (!jget_num(obj, key, &d) || d < 0 || d > 1e15 || d != floor(d))
		return -1;
	return (long long)d;
}

static const char *
metric_name(const char *key)
{
	size_t	i;

	for (i = 0; i < sizeof(metric_names) / sizeof(*metric_names); i++)
		if (strcmp(key, metric_names[i].key) == 0)
			return metric_names[i].name;
	return key;
}

static void
take_metrics(json_object *regression, struct facts *f)
{
	struct json_object_iterator	 it, end;
	struct metric			*m;
	json_object			*v;

	if (!json_object_is_type(regression, json_type_object))
		return;
	it = json_object_iter_begin(regression);
	end = json_object_iter_end(regression);
	for (; !json_object_iter_equal(&it, &end) &&
	    f->nmetrics < FACTS_MAX_METRICS; json_object_iter_next(&it)) {
		v = json_object_iter_peek_value(&it);
		if (!json_object_is_type(v, json_type_object))
			continue;
		m = &f->metrics[f->nmetrics];
		m->name = metric_name(json_object_iter_peek_name(&it));
		m->has_baseline = jget_num(v, "baseline", &m->baseline);
		m->has_current = jget_num(v, "current", &m->current);
		m->has_change = jget_num(v, "change_percent", &m->change);
		m->has_threshold = jget_num(v, "threshold_percent",
		    &m->threshold);
		if (m->has_baseline || m->has_current)
			f->nmetrics++;
	}
}

void
facts_get(const struct event *ev, struct facts *f)
{
	json_object	*md = ev->metadata;

	memset(f, 0, sizeof(*f));
	f->type = ev->type;
	f->title = json_object_get_string(ev->title);
	f->message = json_object_get_string(ev->message);
	f->timestamp = json_object_get_string(ev->timestamp);
	f->schedule = text_of(md, "scheduleName");
	f->model = text_of(md, "modelId");
	f->status = text_of(md, "status");
	f->error = text_of(md, "errorMessage");
	f->total = count_of(md, "totalPrompts");
	f->succeeded = count_of(md, "successfulPrompts");
	f->failed = count_of(md, "failedPrompts");
	f->consecutive = count_of(md, "consecutiveFailures");
	if (ev->type == EVENT_REGRESSION)
		take_metrics(jget(md, "regression"), f);
}

static void
append(char *buf, size_t len, const char *fmt, long long a, long long b)
{
	size_t	used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, fmt, a, b);
}

void
facts_what(const struct facts *f, char *buf, size_t len)
{
	switch (f->type) {
	case EVENT_FAILED:
		snprintf(buf, len, "The evaluation could not be started");
		if (f->consecutive > 1)
			append(buf, len, " (%lld failures in a row)",
			    f->consecutive, 0);
		break;
	case EVENT_DISABLED:
		snprintf(buf, len, "The schedule was disabled after ");
		append(buf, len, f->consecutive > 0 ? "%lld failures in a row" :
		    "repeated failures", f->consecutive, 0);
		break;
	case EVENT_REGRESSION:
		snprintf(buf, len, "The results regressed against the "
		    "baseline");
		break;
	default:	/* a metric alert rule's: its message says it all */
		snprintf(buf, len, "A metric alert rule's threshold was "
		    "crossed");
		break;
	}
}

/* "8 of 10 succeeded, 2 failed", what is known of it; 0: nothing. */
int
facts_prompts(const struct facts *f, char *buf, size_t len)
{
	*buf = '\0';
	if (f->total >= 0 && f->succeeded >= 0)
		append(buf, len, "%lld of %lld succeeded", f->succeeded,
		    f->total);
	else if (f->total >= 0 && f->failed >= 0)
		append(buf, len, "%lld of %lld failed", f->failed, f->total);
	else if (f->total >= 0)
		append(buf, len, "%lld prompts", f->total, 0);
	else if (f->succeeded >= 0)
		append(buf, len, "%lld succeeded", f->succeeded, 0);
	if (f->failed >= 0 && f->succeeded >= 0)
		append(buf, len, *buf != '\0' ? ", %lld failed" :
		    "%lld failed", f->failed, 0);
	else if (f->failed >= 0 && f->total < 0)
		append(buf, len, "%lld failed", f->failed, 0);
	return *buf != '\0';
}

/* 0.88, 0.8824, 1250: a score or a rate, without noise. */
static void
format_value(double v, char *buf, size_t len)
{
	if (fabs(v) >= 1000)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.4g", v);
}

/* "0.88 → 0.7 (-20.5%, threshold 10%)" */
void
facts_metric(const struct metric *m, char *buf, size_t len)
{
	char	a[32], b[32];

	*buf = '\0';
	format_value(m->baseline, a, sizeof(a));
	format_value(m->current, b, sizeof(b));
	if (m->has_baseline && m->has_current)
		snprintf(buf, len, "%s \xe2\x86\x92 %s", a, b);
	else if (m->has_current)
		snprintf(buf, len, "%s (no baseline)", b);
	else
		snprintf(buf, len, "baseline %s", a);
	if (m->has_change && m->has_threshold)
		snprintf(buf + strlen(buf), len - strlen(buf),
		    " (%+.1f%%, threshold %g%%)", m->change, m->threshold);
	else if (m->has_change)
		snprintf(buf + strlen(buf), len - strlen(buf), " (%+.1f%%)",
		    m->change);
	else if (m->has_threshold)
		snprintf(buf + strlen(buf), len - strlen(buf),
		    " (threshold %g%%)", m->threshold);
}

/* "title: message", on one line, for notifications and old clients. */
void
facts_one_line(const struct facts *f, char *buf, size_t len)
{
	if (f->message != NULL && *f->message != '\0')
		snprintf(buf, len, "%s: %s", f->title, f->message);
	else
		snprintf(buf, len, "%s", f->title);
	text_tidy_end(buf);
	text_one_line(buf);
}
