/*
 * Text from outside (an HTTP answer, a child's stderr) made fit for the
 * database and the log.
 */
#ifndef EVALSCHED_TEXT_H
#define EVALSCHED_TEXT_H

#include <stddef.h>

/*
 * Replaces, in place, every byte that is not part of well-formed UTF-8,
 * and every control character, with '?'.  PostgreSQL refuses invalid
 * UTF-8 and NUL outright; one such outcome must not block the others.
 */
void	text_make_valid(char *s);

/* Whether s holds a control character (a header injection, say). */
int	text_has_control(const char *s);

/* "600 s", or "1.5 s" for a duration that is not whole seconds. */
void	text_seconds(long ms, char *buf, size_t len);

/* Wipes a secret's bytes, then frees it; NULL is fine. */
void	text_free_secret(char *s);

#endif
