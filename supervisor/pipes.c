/*
 * A jobrunner's pipes: the job written on its stdin (then wiped, for it
 * holds the service key), its result read from stdout, its log lines
 * from stderr relayed into ours.  All non-blocking, driven by the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"
#include "text.h"

#define OUT_MAX		(64 * 1024)

void
child_close_fd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* The job holds the service key: wipe it once written. */
void
child_job_done(struct child *c)
{
	if (c->job != NULL) {
		explicit_bzero(c->job, c->job_len);
		free(c->job);
		c->job = NULL;
	}
	child_close_fd(&c->in_fd);
}

void
child_write_job(struct child *c)
{
	ssize_t	n;

	n = write(c->in_fd, c->job + c->job_off, c->job_len - c->job_off);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1) {
		/* EPIPE: it died before reading; its exit tells why. */
		child_job_done(c);
		return;
	}
	c->job_off += (size_t)n;
	if (c->job_off == c->job_len)
		child_job_done(c);
}

void
child_read_stdout(struct child *c)
{
	char	buf[4096];
	ssize_t	n;

	while ((n = read(c->out_fd, buf, sizeof(buf))) > 0) {
		size_t keep = (size_t)n;

		if (c->out_len + keep > OUT_MAX)
			keep = OUT_MAX - c->out_len;
		if ((c->out = realloc(c->out, c->out_len + keep + 1)) == NULL)
			fatal("realloc");
		memcpy(c->out + c->out_len, buf, keep);
		c->out_len += keep;
		c->out[c->out_len] = '\0';
	}
	if (n == 0 || (n == -1 && errno != EAGAIN))
		child_close_fd(&c->out_fd);
}

/* Its own "time evalsched-jobrunner[pid]: " prefix says nothing new. */
static const char *
strip_log_prefix(const char *line)
{
	const char	*p = strstr(line, " evalsched-jobrunner[");

	if (p != NULL && p - line < 40 && (p = strstr(p, "]: ")) != NULL)
		return p + 3;
	return line;
}

/* The jobrunner's own log lines go into ours, naming the run. */
static void
err_line(struct child *c)
{
	const char	*line;

	c->err_line[c->err_len] = '\0';
	text_make_valid(c->err_line);
	if (c->err_len > 0) {
		line = strip_log_prefix(c->err_line);
		log_info("jobrunner %ld: %s", (long)c->pid, line);
		strlcpy(c->err_last, line, sizeof(c->err_last));
	}
	c->err_len = 0;
}

void
child_read_stderr(struct child *c)
{
	char	buf[4096];
	ssize_t	n, i;

	while ((n = read(c->err_fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' ||
			    c->err_len == sizeof(c->err_line) - 1)
				err_line(c);
			if (buf[i] != '\n')
				c->err_line[c->err_len++] = buf[i];
		}
	if (n == 0 || (n == -1 && errno != EAGAIN)) {
		err_line(c);
		child_close_fd(&c->err_fd);
	}
}

