/*
 * Signals arrive only through a signalfd in the poll set: the handled
 * signals stay blocked, so libpq and libcurl never see EINTR and no
 * wake-up is lost between a check and the wait.
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

static sigset_t	handled;

int
signals_init(void)
{
	int	fd;

	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGHUP);
	sigaddset(&handled, SIGUSR1);
	sigaddset(&handled, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &handled, NULL) == -1)
		fatal("sigprocmask");
	/* A child that closes its stdin early must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if ((fd = signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	return fd;
}

/*
 * Drains the signalfd; a storm of one signal counts as one.  SIGCHLD only
 * wakes the loop: it reaps on every turn anyway.
 */
void
signals_read(int fd, int *term, int *hup, int *usr1)
{
	struct signalfd_siginfo	si;
	ssize_t			n;

	while ((n = read(fd, &si, sizeof(si))) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			*term = 1;
			break;
		case SIGHUP:
			*hup = 1;
			break;
		case SIGUSR1:
			*usr1 = 1;
			break;
		}
	}
	if (n == -1 && errno != EAGAIN)
		log_warn("read signalfd");
}
