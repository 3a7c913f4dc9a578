/*
 * What only the unit tests call: a look inside, or a reset, that no
 * program needs.  Kept out of the headers the programs include.
 */
#ifndef TESTHOOKS_H
#define TESTHOOKS_H

struct schedule;

/*
 * Whether the schedule follows real time across daylight-saving changes
 * (its minute or hour field starts with '*'), rather than wall-clock time.
 */
int	schedule_follows_real_time(const struct schedule *);

/* Drops every cached zone not in use (for leak checkers). */
void	tz_cache_flush(void);

#endif
