/*
 * evalschedctl: see and steer evalsched from the command line.
 *
 *	evalschedctl [-V] [-c file] [--json] command [argument ...]
 *
 * It reads the supervisor's configuration for the database, connects on
 * its own, and needs neither the service key nor the supervisor; status
 * and metrics need not even the configuration (monitor.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"

#ifndef VERSION
#define VERSION	"unknown"
#endif

struct command {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
};

static const struct command commands[] = {
	{ "list",	cmd_list },
	{ "show",	cmd_show },
	{ "runs",	cmd_runs },
	{ "add",	cmd_add },
	{ "pause",	cmd_pause },
	{ "resume",	cmd_resume },
	{ "trigger",	cmd_trigger },
	{ "baseline",	cmd_baseline },
	{ "status",	cmd_status },
	{ "watch",	cmd_watch },
	{ "metrics",	cmd_metrics },
	{ "next",	cmd_next },
	{ "grants",	cmd_grants },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static const char usage_text[] =
    "usage: evalschedctl [-V] [-c file] [--json] command [argument ...]\n"
    "commands:\n"
    "  list\n"
    "  show ID|NAME\n"
    "  runs [-n count] ID|NAME\n"
    "  add --name name --type type | --cron expr --suite uuid --model id\n"
    "      --user uuid [--tz zone] [--config json] [--description text]\n"
    "      [--paused]\n"
    "  pause ID|NAME\n"
    "  resume ID|NAME\n"
    "  trigger ID|NAME\n"
    "  baseline [--clear] ID|NAME [RUN|latest]\n"
    "  status\n"
    "  watch [--json] [ID|NAME]\n"
    "  metrics (always the Prometheus text format)\n"
    "  next [-n count] [--tz zone] [--from time] SCHEDULE\n"
    "  grants [--policies] [ROLE]\n";

static int
usage(void)
{
	fputs(usage_text, stderr);
	return EX_USAGE;
}

/*
 * The configuration is parsed by the same code as the supervisor's, but
 * the key file is not read: an operator who may not read the service key
 * may still inspect and steer the schedules.  Returns 0, or the file's
 * errno with err untouched.
 */
static int
parse_config(struct ctl *c, const char *path, struct config_err *err)
{
	char	*text;

	free(c->cfg.path);
	c->cfg.path = xstrdup(path);
	if ((text = read_file(path)) == NULL)
		return errno;
	config_parse_text(&c->cfg, path, text, err);
	free(text);
	return 0;
}

/*
 * For status and metrics (monitoring), a configuration this user may
 * not read (the supervisor's, with its connection) gives way to
 * monitor.conf beside it, or to EVALSCHED_MONITOR_DATABASE alone.
 */
static int
parse_monitor_config(struct ctl *c, const char *path, struct config_err *err)
{
	char	*alt;
	int	 e;

	alt = monitor_config_path(path);
	e = parse_config(c, alt, err);
	if (e == ENOENT && getenv("EVALSCHED_MONITOR_DATABASE") != NULL)
		e = 0;
	else if (e != 0) {
		config_err_add(err, "%s: %s", path, strerror(EACCES));
		if (e != ENOENT)
			config_err_add(err, "%s: %s", alt, strerror(e));
		monitor_config_hint(err, alt);
	}
	free(alt);
	return e;
}

static int
load_config(struct ctl *c)
{
	struct config_err	 err = { NULL, 0, 0 };
	const char		*path = c->config_path != NULL ?
				    c->config_path : CONFIG_DEFAULT_PATH;

	config_defaults(&c->cfg);
	/* The file and its conf.d, or for monitoring what this user may read. */
	if (c->monitor && access(path, R_OK) == -1 && errno == EACCES)
		(void)parse_monitor_config(c, path, &err);
	else
		config_read(&c->cfg, c->config_path, &err);
	config_apply_env(&c->cfg, &err);
	if (err.count == 0)
		return 0;
	out_lines(stderr, "", err.buf);
	config_err_free(&err);
	return EX_CONFIG;
}

static const struct command *
find_command(const char *name)
{
	size_t	i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/*
 * Commands connect once their arguments are known to be good, so that a
 * usage error is reported as one whatever the state of the database.
 */
int
ctl_connect(struct ctl *c)
{
	int	status;

	if ((status = load_config(c)) != 0)
		return status;
	return db_connect(c);
}

static int
run(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	int	status;

	status = cmd->fn(c, argc, argv);
	db_close(c);
	return status == CTL_DONE ? EX_OK : status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct command	*cmd;
	struct ctl		 c;
	int			 ch, status;

	memset(&c, 0, sizeof(c));
	c.aligned = isatty(STDOUT_FILENO);
	while ((ch = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c.config_path = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 'V':
			printf("evalschedctl %s\n", VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	if ((cmd = find_command(argv[optind])) == NULL) {
		out_line(stderr, "evalschedctl: unknown command '%s'",
		    argv[optind]);
		return usage();
	}
	status = run(&c, cmd, argc - optind, argv + optind);
	config_free(&c.cfg);
	return status;
}
