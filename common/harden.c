/*
 * Secrets in memory.  Without this an exec'ed program is dumpable: any
 * process of the same user reads /proc/PID/mem (the key, in clear), and
 * a crash writes a core file that holds it.  The kernel resets the flag
 * at every execve(2) of an ordinary program, so each program sets it
 * itself, first thing.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "harden.h"
#include "log.h"

void
harden_process(void)
{
	struct rlimit	rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		log_warn("prctl PR_SET_DUMPABLE");
	/* Lowering a limit is always allowed; the hard 0 is for good. */
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		log_warn("setrlimit RLIMIT_CORE");
}

void
harden_helper_start(const char *name, const char *usage_text, int argc,
    char *argv[])
{
	int	ch;

	harden_process();
	while ((ch = getopt(argc, argv, "V")) != -1) {
		if (ch != 'V')
			break;
		printf("%s %s\n", name, VERSION);
		exit(EX_OK);
	}
	if (ch != -1 || optind != argc) {
		fprintf(stderr, "usage: %s %s\n", name, usage_text);
		exit(EX_USAGE);
	}
	signal(SIGPIPE, SIG_IGN);
	log_init(name, 1, 0);
}
