/*
 * The one way every command reads its options: getopt_long with '+', so
 * that options come before the operands and an operand is never taken
 * for one; --json and --help are every command's; errors name the
 * command and the option, then show the command's usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

#define OPTS_MAX	16

static const struct option common_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
};
#define NCOMMON		(sizeof(common_opts) / sizeof(common_opts[0]))

int
ctl_usage(const char *cmd, const char *synopsis)
{
	fprintf(stderr, "usage: evalschedctl %s%s%s\n", cmd,
	    *synopsis != '\0' ? " " : "", synopsis);
	return EX_USAGE;
}

/* The command's long options after the common ones, as getopt wants. */
static int
merge_opts(const struct option *own, struct option *all)
{
	size_t	n = 0;

	memcpy(all, common_opts, sizeof(common_opts));
	while (own != NULL && own[n].name != NULL) {
		if (NCOMMON + n + 1 >= OPTS_MAX)
			return -1;
		all[NCOMMON + n] = own[n];
		n++;
	}
	memset(&all[NCOMMON + n], 0, sizeof(all[0]));
	return 0;
}

/*
 * getopt's own messages say "next: ..."; ours say whose and which.  arg
 * is the word getopt was reading: a long option is a word of its own, a
 * short one may sit in a cluster ("-jx"), and optopt says which.
 */
static int
opt_error(int ch, const char *arg, const char *cmd, const char *synopsis)
{
	char	opt[64];

	if (strncmp(arg, "--", 2) == 0)
		snprintf(opt, sizeof(opt), "%.*s", (int)strcspn(arg, "="), arg);
	else
		snprintf(opt, sizeof(opt), "-%c", optopt);
	if (ch == ':')
		out_line(stderr, "evalschedctl: %s: option '%s' needs a value",
		    cmd, opt);
	else
		out_line(stderr, "evalschedctl: %s: unknown option '%s'", cmd,
		    opt);
	return ctl_usage(cmd, synopsis);
}

/* Not an exit status: what ctl_getopt returns for --help. */
static int
help(const char *cmd, const char *synopsis)
{
	printf("usage: evalschedctl %s%s%s\n", cmd,
	    *synopsis != '\0' ? " " : "", synopsis);
	return CTL_DONE;
}

int
ctl_getopt(struct ctl *c, int argc, char **argv, const struct ctl_cmd *cmd,
    int min, int max)
{
	struct option	 all[OPTS_MAX];
	char		 shortopts[32];
	int		 ch, status, word;

	if (merge_opts(cmd->longopts, all) == -1)
		return EX_SOFTWARE;
	snprintf(shortopts, sizeof(shortopts), "+:h%s",
	    cmd->shortopts != NULL ? cmd->shortopts : "");
	optind = 0;
	opterr = 0;
	for (;;) {
		word = optind > 0 ? optind : 1;
		if ((ch = getopt_long(argc, argv, shortopts, all, NULL)) == -1)
			break;
		if (ch == 'j')
			c->json = 1;
		else if (ch == 'h')
			return help(cmd->name, cmd->synopsis);
		else if (ch == '?' || ch == ':')
			return opt_error(ch, word < argc ? argv[word] : "",
			    cmd->name, cmd->synopsis);
		else if ((status = cmd->take(c, ch, optarg, cmd->data)) != 0)
			return status;
	}
	if (argc - optind < min || (max >= 0 && argc - optind > max))
		return ctl_usage(cmd->name, cmd->synopsis);
	return 0;
}

int
ctl_opts(struct ctl *c, int argc, char **argv, const char *name,
    const char *synopsis, int nargs)
{
	struct ctl_cmd	cmd = { name, synopsis, NULL, NULL, NULL, NULL };

	return ctl_getopt(c, argc, argv, &cmd, nargs >= 0 ? nargs : 0,
	    nargs >= 0 ? nargs : -nargs);
}

/*
 * A count as typed: digits only, from 1 to max.  strtol would take
 * " 5", "+5" and "5 " too, which a script that typed them did not mean.
 */
int
ctl_count(const char *cmd, const char *opt, const char *s, long max,
    long *v)
{
	const char	*p;

	*v = 0;
	for (p = s; *p >= '0' && *p <= '9' && *v <= max; p++)
		*v = *v * 10 + (*p - '0');
	if (p == s || *p != '\0' || *v < 1 || *v > max) {
		out_line(stderr, "evalschedctl: %s: %s: '%s' is not a count "
		    "from 1 to %ld", cmd, opt, s, max);
		return EX_USAGE;
	}
	return 0;
}
