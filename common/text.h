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

#endif
