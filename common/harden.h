/*
 * A process that holds a secret (the service key, the encryption key, a
 * schedule's API key, a webhook secret) keeps it out of reach: no core
 * file, and no other process of the same user reading its memory.
 */
#ifndef EVALSCHED_HARDEN_H
#define EVALSCHED_HARDEN_H

/*
 * Clears the dumpable flag (which also gives /proc/PID/mem, environ and
 * the like to root, and refuses ptrace to the same user) and sets
 * RLIMIT_CORE, soft and hard, to 0.  Logs a failure and goes on.
 */
void	harden_process(void);

/*
 * How a helper program (the jobrunner, the notifier) starts: hardened
 * before anything else; -V prints "name version" and exits 0; any other
 * option or an operand prints usage_text and exits 64; SIGPIPE ignored,
 * so that a reader that went away cannot kill it before it logs; its
 * log on stderr under name.
 */
void	harden_helper_start(const char *name, const char *usage_text,
	    int argc, char *argv[]);

#endif
