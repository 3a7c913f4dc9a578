/*
 * The email of an alert, byte for byte as the application's formatter
 * writes it (lib/alerts/formatters/email.formatter.ts, formatEmailAlert):
 * the subject "ICON TITLE", an HTML page and a plain text.  Its branch
 * for scheduled evaluations reads the metadata keys of a schedule's
 * alert; every other type (the metric alerts) takes its branch for
 * training jobs, which reads keys a metric alert does not have and
 * prints what JavaScript makes of them ("Duration: N/A", "Steps:
 * undefined / undefined"), as the application does.
 *
 * Each test of a member is JavaScript's (jsvalue.c): `v` truthy,
 * `v !== undefined` (a null is there), `v !== null` (an absent member
 * is not null).  Where the application would throw (toFixed on a value
 * that is not a number) the row is left out.
 */
#include <json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"

#define MAX_ROWS	16

struct row {
	const char	*label;
	char		*value;		/* HTML, escaped where the app does */
};

struct rows {
	struct row	r[MAX_ROWS];
	size_t		n;
};

struct style {
	const char	*type, *color, *icon;
};

static const struct style styles[] = {
	{ "scheduled_eval_failed", "#e74c3c", "\xe2\x9d\x8c" },
	{ "scheduled_eval_disabled", "#7f8c8d", "\xf0\x9f\x9b\x91" },
	{ "scheduled_eval_regression", "#f39c12", "\xf0\x9f\x93\x89" },
};

/* The application's own when an alert type has none in its tables. */
#define DEFAULT_COLOR	"#3498db"
#define DEFAULT_ICON	"\xf0\x9f\x94\x94"

#define ROW_START	"\n            <tr>\n              <td style=\"padding: " \
	"8px 12px; border-bottom: 1px solid #eee; color: #666; width: 140px;\">"
#define ROW_MIDDLE	"</td>\n              <td style=\"padding: 8px 12px; " \
	"border-bottom: 1px solid #eee; color: #333; font-weight: 500;\">"
#define ROW_END		"</td>\n            </tr>\n          "
#define TABLE_SCHEDULE	"\n        <table role=\"presentation\" style=\"" \
	"width: 100%; border-collapse: collapse; margin: 20px 0;\">\n          "
#define TABLE_SECTION	"\n        <table role=\"presentation\" style=\"" \
	"width: 100%; border-collapse: collapse;\">\n          "
#define SECTION_START	"\n        <h3 style=\"color: #333; font-size: 14px; " \
	"font-weight: 600; margin: 20px 0 10px 0;\">"
#define TABLE_END	"\n        </table>\n      "
#define ERROR_START	"\n        <div style=\"background: #fdf2f2; border: " \
	"1px solid #f5c6cb; border-radius: 4px; padding: 12px; margin: 20px " \
	"0; font-family: monospace; font-size: 12px; white-space: pre-wrap; " \
	"word-break: break-all; color: #721c24;\">\n          "
#define ERROR_END	"\n        </div>\n      "
#define BUTTON_START	"\n        <div style=\"text-align: center; margin: " \
	"30px 0;\">\n          <a href=\""
#define BUTTON_STYLE	"\" style=\"display: inline-block; background: "
#define BUTTON_LABEL	"; color: white; padding: 12px 24px; " \
	"text-decoration: none; border-radius: 4px; font-weight: 500;\">"
#define BUTTON_END	"</a>\n        </div>\n      "

static const char page_head[] =
	"<!DOCTYPE html>\n"
	"<html>\n"
	"<head>\n"
	"  <meta charset=\"utf-8\">\n"
	"  <meta name=\"viewport\" content=\"width=device-width, "
	"initial-scale=1.0\">\n"
	"</head>\n"
	"<body style=\"margin: 0; padding: 0; font-family: -apple-system, "
	"BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
	"sans-serif; background: #f5f5f5;\">\n"
	"  <table role=\"presentation\" style=\"width: 100%; background: "
	"#f5f5f5; padding: 20px 0;\">\n"
	"    <tr>\n"
	"      <td align=\"center\">\n"
	"        <table role=\"presentation\" style=\"width: 100%; max-width: "
	"600px; background: white; border-radius: 8px; overflow: hidden; "
	"box-shadow: 0 2px 4px rgba(0,0,0,0.1);\">\n"
	"          <!-- Header -->\n"
	"          <tr>\n"
	"            <td style=\"background: ";
static const char page_h1[] =
	"; padding: 24px; text-align: center;\">\n"
	"              <h1 style=\"margin: 0; color: white; font-size: 24px; "
	"font-weight: 600;\">";
static const char page_body[] =
	"</h1>\n"
	"            </td>\n"
	"          </tr>\n"
	"          <!-- Body -->\n"
	"          <tr>\n"
	"            <td style=\"padding: 24px;\">\n"
	"              ";
static const char page_message[] =
	"<p style=\"color: #333; font-size: 16px; line-height: 1.5; margin: "
	"0 0 20px 0;\">";
static const char page_between[] = "\n              ";
static const char page_foot[] =
	"\n"
	"            </td>\n"
	"          </tr>\n"
	"          <!-- Footer -->\n"
	"          <tr>\n"
	"            <td style=\"background: #f9f9f9; padding: 16px 24px; "
	"text-align: center; border-top: 1px solid #eee;\">\n"
	"              <p style=\"margin: 0; color: #999; font-size: 12px;\">\n"
	"                Sent from FineTuneLab\n"
	"                <br>\n"
	"                <a href=\"";
static const char page_end[] =
	"/settings/alerts\" style=\"color: #666;\">Manage alert "
	"preferences</a>\n"
	"              </p>\n"
	"            </td>\n"
	"          </tr>\n"
	"        </table>\n"
	"      </td>\n"
	"    </tr>\n"
	"  </table>\n"
	"</body>\n"
	"</html>";

/* The application's escapeHtml. */
static void
put_escaped(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#039;", f);
			break;
		default:
			fputc(*s, f);
		}
}

static char *
escaped(const char *s)
{
	FILE	*f;
	char	*buf;
	size_t	 len;

	f = xmemstream(&buf, &len);
	put_escaped(f, s);
	return xmemstream_text(f, &buf);
}

/* Takes value.  No table has more than MAX_ROWS rows. */
static void
add_row(struct rows *rs, const char *label, char *value)
{
	if (rs->n == MAX_ROWS) {
		free(value);
		return;
	}
	rs->r[rs->n].label = label;
	rs->r[rs->n++].value = value;
}

static void
add_formatted(struct rows *rs, const char *label, const char *fmt,
    const char *s)
{
	add_row(rs, label, xasprintf(fmt, s));
}

static void
free_rows(struct rows *rs)
{
	size_t	i;

	for (i = 0; i < rs->n; i++)
		free(rs->r[i].value);
	rs->n = 0;
}

static void
put_rows(FILE *f, const struct rows *rs)
{
	size_t	i;

	for (i = 0; i < rs->n; i++) {
		fputs(ROW_START, f);
		fputs(rs->r[i].label, f);
		fputs(ROW_MIDDLE, f);
		fputs(rs->r[i].value, f);
		fputs(ROW_END, f);
	}
}

/* What a formatter reads of the metadata. */
struct md {
	json_object	*obj;
};

static int
has(const struct md *m, const char *key)
{
	json_object	*v;

	return js_member(m->obj, key, &v);
}

static int
truthy(const struct md *m, const char *key)
{
	json_object	*v;
	int		 present = js_member(m->obj, key, &v);

	return js_truthy(present, v);
}

/* `v !== null`: absent is not null. */
static int
not_null(const struct md *m, const char *key)
{
	json_object	*v;

	return !js_member(m->obj, key, &v) || v != NULL;
}

static char *
string_of(const struct md *m, const char *key)
{
	json_object	*v;
	int		 present = js_member(m->obj, key, &v);

	return js_string(present, v);
}

static double
number_of(const struct md *m, const char *key)
{
	json_object	*v;
	int		 present = js_member(m->obj, key, &v);

	return js_number(present, v);
}

/* v.toFixed(digits) into buf: 0, or -1 when v is not a number. */
static int
fixed_of(const struct md *m, const char *key, int digits, char *buf,
    size_t len)
{
	json_object	*v;
	int		 present = js_member(m->obj, key, &v);

	if (!js_is_number(present, v))
		return -1;
	js_to_fixed(json_object_get_double(v), digits, buf, len);
	return 0;
}

/* An escaped String(v) row. */
static void
add_text(struct rows *rs, struct md *m, const char *label, const char *key)
{
	char	*s = string_of(m, key);

	add_row(rs, label, escaped(s));
	free(s);
}

/* A String(v) row, not escaped, as the application writes numbers. */
static void
add_plain(struct rows *rs, struct md *m, const char *label, const char *key)
{
	add_row(rs, label, string_of(m, key));
}

/* The metrics of a scheduled evaluation, in the application's order. */
static void
schedule_rows(struct rows *rs, struct md *m)
{
	char	num[64];

	if (truthy(m, "scheduleName"))
		add_text(rs, m, "Schedule", "scheduleName");
	if (truthy(m, "modelId"))
		add_text(rs, m, "Model", "modelId");
	if (has(m, "totalPrompts"))
		add_plain(rs, m, "Total Prompts", "totalPrompts");
	if (has(m, "successfulPrompts"))
		add_plain(rs, m, "Successful", "successfulPrompts");
	if (has(m, "failedPrompts"))
		add_plain(rs, m, "Failed", "failedPrompts");
	if (truthy(m, "totalPrompts") && has(m, "successfulPrompts")) {
		js_number_string(js_round(number_of(m, "successfulPrompts") /
		    number_of(m, "totalPrompts") * 100), num, sizeof(num));
		add_formatted(rs, "Success Rate", "%s%%", num);
	}
	if (has(m, "avgLatency") &&
	    fixed_of(m, "avgLatency", 0, num, sizeof(num)) == 0)
		add_formatted(rs, "Avg Latency", "%sms", num);
	if (has(m, "avgQualityScore") &&
	    fixed_of(m, "avgQualityScore", 2, num, sizeof(num)) == 0)
		add_formatted(rs, "Avg Quality", "%s", num);
	if (truthy(m, "regressionDetected") && has(m, "regressionPercent") &&
	    fixed_of(m, "regressionPercent", 1, num, sizeof(num)) == 0)
		add_formatted(rs, "Regression", "%s%% drop", num);
	if (has(m, "consecutiveFailures") &&
	    number_of(m, "consecutiveFailures") > 0)
		add_plain(rs, m, "Consecutive Failures", "consecutiveFailures");
}

/* formatDuration(metadata.duration): 'N/A' for a falsy one. */
static void
duration_of(const struct md *m, char *buf, size_t len)
{
	if (!truthy(m, "duration"))
		snprintf(buf, len, "N/A");
	else
		js_duration(number_of(m, "duration"), buf, len);
}

/* formatNumber(v, digits): 'N/A' for null or undefined. */
static int
number_text(const struct md *m, const char *key, int digits, char *buf,
    size_t len)
{
	json_object	*v;

	if (!js_member(m->obj, key, &v) || v == NULL) {
		snprintf(buf, len, "N/A");
		return 0;
	}
	return fixed_of(m, key, digits, buf, len);
}

/* A member neither null nor undefined. */
static int
set(const struct md *m, const char *key)
{
	return has(m, key) && not_null(m, key);
}

static void
upper_ascii(char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

static void
job_overview(struct rows *rs, struct md *m)
{
	char	buf[128], *s;

	if (truthy(m, "modelName"))
		add_text(rs, m, "Model", "modelName");
	if (truthy(m, "baseModel"))
		add_text(rs, m, "Base Model", "baseModel");
	if (truthy(m, "trainingMethod")) {
		/* toUpperCase: the methods are ASCII (SFT, DPO, ORPO). */
		s = string_of(m, "trainingMethod");
		upper_ascii(s);
		add_row(rs, "Training Method", escaped(s));
		free(s);
	}
	if (not_null(m, "duration")) {
		duration_of(m, buf, sizeof(buf));
		add_row(rs, "Duration", xstrdup(buf));
	}
}

/* "${a} / ${b}" */
static void
add_steps(struct rows *rs, struct md *m)
{
	char	*a = string_of(m, "currentStep"), *b = string_of(m, "totalSteps");

	add_row(rs, "Steps", xasprintf("%s / %s", a, b));
	free(a);
	free(b);
}

static void
job_training(struct rows *rs, struct md *m)
{
	char	buf[128];

	if (set(m, "learningRate") &&
	    number_text(m, "learningRate", 6, buf, sizeof(buf)) == 0)
		add_row(rs, "Learning Rate", xstrdup(buf));
	if (set(m, "batchSize"))
		add_plain(rs, m, "Batch Size", "batchSize");
	if (set(m, "numEpochs"))
		add_plain(rs, m, "Epochs", "numEpochs");
	if (not_null(m, "currentStep") && not_null(m, "totalSteps"))
		add_steps(rs, m);
}

static void
job_dataset(struct rows *rs, struct md *m)
{
	if (truthy(m, "datasetName"))
		add_text(rs, m, "Dataset", "datasetName");
	if (set(m, "datasetSamples"))
		add_plain(rs, m, "Samples", "datasetSamples");
}

static void
job_performance(struct rows *rs, struct md *m)
{
	char	buf[128];

	if (not_null(m, "loss") && number_text(m, "loss", 4, buf,
	    sizeof(buf)) == 0)
		add_row(rs, "Train Loss", xstrdup(buf));
	if (set(m, "evalLoss") && number_text(m, "evalLoss", 4, buf,
	    sizeof(buf)) == 0)
		add_row(rs, "Eval Loss", xstrdup(buf));
	if (set(m, "perplexity") && number_text(m, "perplexity", 2, buf,
	    sizeof(buf)) == 0)
		add_row(rs, "Perplexity", xstrdup(buf));
}

static void
job_resources(struct rows *rs, struct md *m)
{
	char	buf[128];

	if (truthy(m, "gpuType"))
		add_text(rs, m, "GPU", "gpuType");
	if (set(m, "gpuMemoryUsed") && number_text(m, "gpuMemoryUsed", 2,
	    buf, sizeof(buf)) == 0)
		add_formatted(rs, "GPU Memory", "%s GB", buf);
}

static void
put_section(FILE *f, const char *title, const struct rows *rs)
{
	if (rs->n == 0)
		return;
	fputs(SECTION_START, f);
	fputs(title, f);
	fputs("</h3>", f);
	fputs(TABLE_SECTION, f);
	put_rows(f, rs);
	fputs(TABLE_END, f);
}

static void
job_sections(FILE *f, struct md *m)
{
	struct rows	rs[5];
	static const char *const titles[5] = { "Overview",
	    "Training Configuration", "Dataset", "Performance Metrics",
	    "Resource Usage" };
	size_t		i;

	memset(rs, 0, sizeof(rs));
	job_overview(&rs[0], m);
	job_training(&rs[1], m);
	job_dataset(&rs[2], m);
	job_performance(&rs[3], m);
	job_resources(&rs[4], m);
	/* The application pushes the error type last, after the rest. */
	if (truthy(m, "errorType"))
		add_text(&rs[0], m, "Error Type", "errorType");
	for (i = 0; i < 5; i++) {
		put_section(f, titles[i], &rs[i]);
		free_rows(&rs[i]);
	}
}

static void
schedule_table(FILE *f, struct md *m)
{
	struct rows	rs;

	memset(&rs, 0, sizeof(rs));
	schedule_rows(&rs, m);
	if (rs.n > 0) {
		fputs(TABLE_SCHEDULE, f);
		put_rows(f, &rs);
		fputs(TABLE_END, f);
	}
	free_rows(&rs);
}

/* The error text, cut to 1000 code units as the application cuts it. */
static void
put_error(FILE *f, struct md *m, int schedule)
{
	char	*s, *cut = NULL;

	if (!truthy(m, "errorMessage"))
		return;
	s = string_of(m, "errorMessage");
	if (js_length(s) > 1000)
		cut = js_slice(s, 997);
	fputs(ERROR_START, f);
	if (schedule)
		fputs("<strong>Error:</strong><br>", f);
	put_escaped(f, cut != NULL ? cut : s);
	if (cut != NULL)
		fputs("...", f);
	fputs(ERROR_END, f);
	free(cut);
	free(s);
}

struct page {
	const char	*color;
	const char	*base;		/* the application's base URL */
	int		 schedule;	/* its branch for schedules */
};

/* base + path + String(metadata[key]), the id escaped (see below). */
static void
put_link(FILE *f, struct md *m, const struct page *pg, const char *path,
    const char *key, int html)
{
	char	*id = string_of(m, key);

	/*
	 * The application puts both in the attribute as they are; an id
	 * is a UUID and the base a URL, which escaping leaves as they are,
	 * and nothing else can then end the attribute.
	 */
	if (html) {
		put_escaped(f, pg->base);
		fputs(path, f);
		put_escaped(f, id);
	} else
		fprintf(f, "%s%s%s", pg->base, path, id);
	free(id);
}

static void
put_button(FILE *f, struct md *m, const struct page *pg)
{
	const char	*key = pg->schedule ? "scheduledEvaluationId" : "jobId";

	if (!truthy(m, key))
		return;
	fputs(BUTTON_START, f);
	put_link(f, m, pg, pg->schedule ? "/testing?tab=scheduled&evalId=" :
	    "/training/monitor?jobId=", key, 1);
	fputs(BUTTON_STYLE, f);
	fputs(pg->color, f);
	fputs(BUTTON_LABEL, f);
	fputs(pg->schedule ? "View Scheduled Evaluation" : "View Job Details",
	    f);
	fputs(BUTTON_END, f);
}

static void
put_html(FILE *f, const struct event *ev, struct md *m,
    const struct page *pg, const char *icon)
{
	const char	*message = json_object_get_string(ev->message);

	fputs(page_head, f);
	fputs(pg->color, f);
	fputs(page_h1, f);
	fprintf(f, "%s ", icon);
	put_escaped(f, json_object_get_string(ev->title));
	fputs(page_body, f);
	if (*message != '\0') {
		fputs(page_message, f);
		put_escaped(f, message);
		fputs("</p>", f);
	}
	fputs(page_between, f);
	if (pg->schedule)
		schedule_table(f, m);
	else
		job_sections(f, m);
	fputs(page_between, f);
	put_error(f, m, pg->schedule);
	fputs(page_between, f);
	put_button(f, m, pg);
	fputs(page_foot, f);
	put_escaped(f, pg->base);
	fputs(page_end, f);
}

/* One "\n"-joined part of the text: "Label: String(v)". */
static void
put_line(FILE *f, struct md *m, const char *label, const char *key)
{
	char	*s = string_of(m, key);

	fprintf(f, "\n%s: %s", label, s);
	free(s);
}

static void
schedule_text(FILE *f, struct md *m)
{
	char	num[64];

	if (truthy(m, "scheduleName"))
		put_line(f, m, "Schedule", "scheduleName");
	if (truthy(m, "modelId"))
		put_line(f, m, "Model", "modelId");
	if (has(m, "totalPrompts"))
		put_line(f, m, "Total Prompts", "totalPrompts");
	if (has(m, "successfulPrompts"))
		put_line(f, m, "Successful", "successfulPrompts");
	if (has(m, "failedPrompts"))
		put_line(f, m, "Failed", "failedPrompts");
	if (truthy(m, "totalPrompts") && has(m, "successfulPrompts")) {
		js_number_string(js_round(number_of(m, "successfulPrompts") /
		    number_of(m, "totalPrompts") * 100), num, sizeof(num));
		fprintf(f, "\nSuccess Rate: %s%%", num);
	}
	if (has(m, "avgLatency") &&
	    fixed_of(m, "avgLatency", 0, num, sizeof(num)) == 0)
		fprintf(f, "\nAvg Latency: %sms", num);
	if (has(m, "consecutiveFailures") &&
	    number_of(m, "consecutiveFailures") > 0)
		put_line(f, m, "Consecutive Failures", "consecutiveFailures");
}

static void
job_text(FILE *f, struct md *m)
{
	char	buf[128];

	if (truthy(m, "modelName"))
		put_line(f, m, "Model", "modelName");
	if (not_null(m, "duration")) {
		duration_of(m, buf, sizeof(buf));
		fprintf(f, "\nDuration: %s", buf);
	}
	if (not_null(m, "loss") && number_text(m, "loss", 4, buf,
	    sizeof(buf)) == 0)
		fprintf(f, "\nFinal Loss: %s", buf);
}

static void
put_text(FILE *f, const struct event *ev, struct md *m,
    const struct page *pg)
{
	char	*s;

	fprintf(f, "%s\n\n%s", json_object_get_string(ev->title),
	    json_object_get_string(ev->message));
	if (pg->schedule)
		schedule_text(f, m);
	else
		job_text(f, m);
	if (truthy(m, "errorMessage")) {
		s = string_of(m, "errorMessage");
		fprintf(f, "\n\nError:\n%s", s);
		free(s);
	}
	if (truthy(m, pg->schedule ? "scheduledEvaluationId" : "jobId")) {
		fputs("\n\nView details: ", f);
		put_link(f, m, pg, pg->schedule ?
		    "/testing?tab=scheduled&evalId=" :
		    "/training/monitor?jobId=", pg->schedule ?
		    "scheduledEvaluationId" : "jobId", 0);
	}
}

void
mailfmt(const struct event *ev, const char *base, struct mail_text *out)
{
	const char	*type = json_object_get_string(ev->type_name);
	struct page	 pg = { DEFAULT_COLOR, base, 0 };
	struct md	 m = { ev->metadata };
	const char	*icon = DEFAULT_ICON;
	FILE		*f;
	char		*buf;
	size_t		 i, len;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < sizeof(styles) / sizeof(*styles); i++)
		if (strcmp(type, styles[i].type) == 0) {
			pg.color = styles[i].color;
			icon = styles[i].icon;
		}
	pg.schedule = strncmp(type, "scheduled_eval_", 15) == 0;
	out->subject = xasprintf("%s %s", icon,
	    json_object_get_string(ev->title));
	f = xmemstream(&buf, &len);
	put_html(f, ev, &m, &pg, icon);
	out->html = xmemstream_text(f, &buf);
	f = xmemstream(&buf, &len);
	put_text(f, ev, &m, &pg);
	out->text = xmemstream_text(f, &buf);
}

void
mailfmt_free(struct mail_text *t)
{
	free(t->subject);
	free(t->html);
	free(t->text);
	memset(t, 0, sizeof(*t));
}
