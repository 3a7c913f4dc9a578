/*
 * A child's pipes: its job written on its stdin as the pipe takes it
 * (then wiped, for it holds the service key or webhook secrets), its
 * result read from stdout up to its kind's bound, its log lines from
 * stderr relayed into ours as they come.  All non-blocking, driven by
 * the loop's poll (child.c): nothing a child does, or fails to do, on
 * its pipes makes the supervisor wait.
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

/*
 * Reads from one pipe per turn, at most: a child that writes as fast as
 * we read cannot keep the loop to itself.  It is more than a pipe holds
 * (64 KiB), so that the pipes of a child that has exited are read to
 * their end at once.
 */
#define READS_PER_TURN	32

static void
close_fd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* The job holds secrets: wipe it once written, or once it cannot be. */
static void
job_done(struct child *c)
{
	if (c->job != NULL) {
		explicit_bzero(c->job, c->job_len);
		free(c->job);
		c->job = NULL;
	}
	close_fd(&c->in_fd);
}

/* As much as the pipe takes now; the rest when poll says it has room. */
void
pipes_write_job(struct child *c)
{
	ssize_t	n;

	while (c->job_off < c->job_len) {
		n = write(c->in_fd, c->job + c->job_off,
		    c->job_len - c->job_off);
		if (n == -1 && errno == EAGAIN)
			return;
		/* EPIPE: it died before reading; its exit tells why. */
		if (n == -1)
			break;
		c->job_off += (size_t)n;
	}
	job_done(c);
}

void
pipes_close(struct child *c)
{
	job_done(c);
	close_fd(&c->out_fd);
	close_fd(&c->err_fd);
}

/*
 * A result past its kind's bound is refused whole, said once, and no
 * more of it is read: the pipe is closed, so that a child that goes on
 * writing learns at once (EPIPE) instead of waiting for us.
 */
static void
out_too_long(struct child *c)
{
	log_warnx("%s %ld: its result is larger than %zu bytes; refused",
	    c->kind->name, (long)c->pid, c->kind->out_max);
	c->out_too_long = 1;
	free(c->out);
	c->out = NULL;
	c->out_len = 0;
	close_fd(&c->out_fd);
}

static void
out_append(struct child *c, const char *buf, size_t n)
{
	c->out = xreallocarray(c->out, c->out_len + n + 1, 1);
	memcpy(c->out + c->out_len, buf, n);
	c->out_len += n;
	c->out[c->out_len] = '\0';
}

void
pipes_read_stdout(struct child *c)
{
	char	buf[4096];
	ssize_t	n = -1;
	int	reads;

	for (reads = 0; reads < READS_PER_TURN &&
	    (n = read(c->out_fd, buf, sizeof(buf))) > 0; reads++) {
		if (c->out_len + (size_t)n > c->kind->out_max) {
			out_too_long(c);
			return;
		}
		out_append(c, buf, (size_t)n);
	}
	if (n == 0 || (n == -1 && errno != EAGAIN))
		close_fd(&c->out_fd);
}

/* Its own "time evalsched-jobrunner[pid]: " prefix says nothing new. */
static const char *
strip_log_prefix(const char *line, const char *program)
{
	const char	*p = strstr(line, program);

	if (p != NULL && p - line < 40 && p > line && p[-1] == ' ' &&
	    p[strlen(program)] == '[' && (p = strstr(p, "]: ")) != NULL)
		return p + 3;
	return line;
}

/* A child's own log lines go into ours, naming it. */
static void
err_line(struct child *c)
{
	const char	*line;

	c->err_line[c->err_len] = '\0';
	text_make_valid(c->err_line);
	if (c->err_len > 0) {
		line = strip_log_prefix(c->err_line, c->kind->program);
		log_info("%s %ld: %s", c->kind->name, (long)c->pid, line);
		strlcpy(c->err_last, line, sizeof(c->err_last));
	}
	c->err_len = 0;
}

void
pipes_read_stderr(struct child *c)
{
	char	buf[4096];
	ssize_t	n = -1, i;
	int	reads;

	for (reads = 0; reads < READS_PER_TURN &&
	    (n = read(c->err_fd, buf, sizeof(buf))) > 0; reads++)
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' ||
			    c->err_len == sizeof(c->err_line) - 1)
				err_line(c);
			if (buf[i] != '\n')
				c->err_line[c->err_len++] = buf[i];
		}
	if (n == 0 || (n == -1 && errno != EAGAIN)) {
		err_line(c);
		close_fd(&c->err_fd);
	}
}

