/*
 * Secrets in memory.  Without this an exec'ed program is dumpable: any
 * process of the same user reads /proc/PID/mem (the key, in clear), and
 * a crash writes a core file that holds it.  The kernel resets the flag
 * at every execve(2) of an ordinary program, so each program sets it
 * itself, first thing.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

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
