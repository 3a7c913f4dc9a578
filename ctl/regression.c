/*
 * A run against its baseline, as the supervisor recorded it in
 * regression_details: for each metric compared, the baseline's value, the
 * run's, the change in percent and the threshold.  The change shown is
 * computed again from the two values, which the details hold with more
 * digits than change_percent (rounded to two places: -20.45 would print
 * as -20.4 for a drop of 20.4545%).  Whether a metric regressed is decided
 * as the supervisor decided it, from change_percent.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "jsonget.h"

#define SHORT_ID	8

static const struct {
	const char	*key;
	const char	*cell;		/* in the VS BASELINE column */
	const char	*name;		/* in show */
} metric_defs[] = {
	{ "avg_quality_score",	"quality",	"quality" },
	{ "success_rate",	"success",	"success rate" },
};
#define NMETRICS	(sizeof(metric_defs) / sizeof(metric_defs[0]))
#define QUALITY		0

struct metric {
	int	present;
	int	has_base, has_cur, has_change, has_threshold;
	double	base, cur, change, threshold;
};

static void
take_metric(json_object *o, struct metric *m)
{
	m->has_base = jget_num(o, "baseline", &m->base);
	m->has_cur = jget_num(o, "current", &m->cur);
	m->has_change = jget_num(o, "change_percent", &m->change);
	m->has_threshold = jget_num(o, "threshold_percent", &m->threshold);
	m->present = m->has_change || (m->has_base && m->has_cur);
}

/* Returns how many metrics the run's details hold. */
static int
parse_details(const PGresult *res, int row, struct metric *m)
{
	const char	*text = db_get(res, row, "regression_details");
	json_object	*d;
	size_t		 i;
	int		 n = 0;

	memset(m, 0, NMETRICS * sizeof(*m));
	if (text == NULL || (d = json_tokener_parse(text)) == NULL)
		return 0;
	for (i = 0; i < NMETRICS; i++) {
		take_metric(jget(d, metric_defs[i].key), &m[i]);
		n += m[i].present;
	}
	json_object_put(d);
	return n;
}

static double
change_of(const struct metric *m)
{
	if (m->has_base && m->has_cur && m->base > 0)
		return (m->cur - m->base) / m->base * 100;
	return m->change;
}

static int
regressed(const struct metric *m)
{
	double	change = m->has_change ? m->change : change_of(m);

	return m->has_threshold && change < -m->threshold;
}

/* "-20.5%", "+2.3%", "0.0%" */
static void
fmt_change(double v, char *buf, size_t len)
{
	char	n[64];

	snprintf(n, sizeof(n), "%+.1f", v);
	if (strcmp(n, "+0.0") == 0 || strcmp(n, "-0.0") == 0)
		snprintf(n, sizeof(n), "0.0");
	strlcpy(buf, n, len);
	strlcat(buf, "%", len);
}

static void
append(char *buf, size_t len, const char *sep, const char *s)
{
	if (buf[0] != '\0')
		strlcat(buf, sep, len);
	strlcat(buf, s, len);
}

/*
 * Whether the cell names metric i: the quality always, another metric
 * when it regressed or when there is no quality to show.
 */
static int
in_cell(const struct metric *m, size_t i)
{
	if (!m[i].present)
		return 0;
	return i == QUALITY || regressed(&m[i]) || !m[QUALITY].present;
}

/*
 * "-20.5% quality vs 72727272", with the success rate too when it
 * regressed: "-20.5% quality, -12.0% success vs 72727272".  The id is
 * always cut to its prefix, to keep the table narrow (--json has it
 * whole); a run never compared is "-".
 */
void
run_vs_baseline_cell(const PGresult *res, int row, char *buf, size_t len)
{
	const char	*base = db_get(res, row, "baseline_run_id");
	struct metric	 m[NMETRICS];
	char		 one[64], change[32];
	size_t		 i;

	if (base == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	parse_details(res, row, m);
	buf[0] = '\0';
	for (i = 0; i < NMETRICS; i++) {
		if (!in_cell(m, i))
			continue;
		fmt_change(change_of(&m[i]), change, sizeof(change));
		snprintf(one, sizeof(one), "%s %s", change, metric_defs[i].cell);
		append(buf, len, ", ", one);
	}
	snprintf(one, sizeof(one), "vs %.*s", SHORT_ID, base);
	append(buf, len, " ", one);
}

/* A metric's value as a percentage: both are fractions of one. */
static void
fmt_value(int has, double v, char *buf, size_t len)
{
	char	n[64];

	if (!has) {
		snprintf(buf, len, "-");
		return;
	}
	fmt_fixed1(v * 100, n, sizeof(n));
	strlcpy(buf, n, len);
	strlcat(buf, "%", len);
}

/* "quality 88.0% -> 70.0% (-20.5%)" */
static void
metric_text(const struct metric *m, const char *name, char *buf, size_t len)
{
	char	base[64], cur[64], change[32];

	fmt_value(m->has_base, m->base, base, sizeof(base));
	fmt_value(m->has_cur, m->cur, cur, sizeof(cur));
	fmt_change(change_of(m), change, sizeof(change));
	snprintf(buf, len, "%s %s -> %s (%s)", name, base, cur, change);
}

static const struct metric *
with_threshold(const struct metric *m)
{
	size_t	i;

	for (i = 0; i < NMETRICS; i++)
		if (m[i].present && m[i].has_threshold)
			return &m[i];
	return NULL;
}

/*
 * For show: "run 73737373: quality 88.0% -> 70.0% (-20.5%), success rate
 * 100.0% -> 100.0% (0.0%); threshold 10%; baseline run 72727272".
 */
void
run_regression_line(struct ctl *c, const PGresult *res, int row, char *buf,
    size_t len)
{
	struct metric		 m[NMETRICS];
	const struct metric	*t;
	char			 id[UUID_LEN + 1], one[256];
	size_t			 i;

	id_cell(c, db_get(res, row, "id"), id, sizeof(id));
	snprintf(buf, len, "run %s:", id);
	parse_details(res, row, m);
	for (i = 0; i < NMETRICS; i++) {
		if (!m[i].present)
			continue;
		metric_text(&m[i], metric_defs[i].name, one, sizeof(one));
		strlcat(buf, buf[strlen(buf) - 1] == ':' ? " " : ", ", len);
		strlcat(buf, one, len);
	}
	if ((t = with_threshold(m)) != NULL) {
		snprintf(one, sizeof(one), "; threshold %g%%", t->threshold);
		strlcat(buf, one, len);
	}
	id_cell(c, db_get(res, row, "baseline_run_id"), id, sizeof(id));
	snprintf(one, sizeof(one), "; baseline run %s", id);
	strlcat(buf, one, len);
}
