/*
 * What only the unit tests call: a look inside, or a reset, that no
 * program needs.  Kept out of the headers the programs include.
 */
#ifndef TESTHOOKS_H
#define TESTHOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "url.h"

struct cron;
struct hook;
struct schedule;
struct sockaddr;
struct tz;

/* EVALSCHED_ and key in capitals, in buf; returns buf. */
const char *config_env_name(const char *key, char *buf, size_t len);

/* Whether a minute of local civil time matches. */
int	cron_matches(const struct cron *, int64_t local);

/*
 * Whether the schedule follows real time across daylight-saving changes
 * (its minute or hour field starts with '*'), rather than wall-clock time.
 */
int	schedule_follows_real_time(const struct schedule *);

/* Drops every cached zone not in use (for leak checkers). */
void	tz_cache_flush(void);
/* Parses a TZif image, as tz_load does a file's.  Not cached. */
struct tz	*tz_from_tzif(const char *name, const uint8_t *buf,
		    size_t len, char *err, size_t errlen);

/*
 * url.c's parts of url_sockaddr_allowed and url_allow_parse.
 *
 * The address of sa (AF_INET or AF_INET6, len bytes): 0, or -1 for
 * another family or a short one.  An IPv6 zone (fe80::1%lo) is dropped:
 * it says which link, not what the address is.
 */
int	netaddr_from_sockaddr(struct netaddr *, const struct sockaddr *sa,
	    size_t len);
/* A numeric address ("10.0.0.1", "::ffff:10.0.0.1", "fe80::1%lo"). */
int	netaddr_parse(struct netaddr *, const char *text);
void	netaddr_format(const struct netaddr *, char *buf, size_t len);
/*
 * The class of an address.  An IPv6 address that carries an IPv4 one
 * (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, SIIT
 * ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:AABB:CCDD::) is
 * judged as the IPv4 address inside: that is where it leads.
 */
enum addr_class	addr_classify(const struct netaddr *);
int	net_contains(const struct net *, const struct netaddr *);
/*
 * Whether a user's request may go to addr: a public address, or one in
 * allow (NULL: none), also as the IPv4 address it carries.  *class, if
 * not NULL, gets the address's class.
 */
int	url_addr_allowed(const struct netaddr *, const struct url_allow *allow,
	    enum addr_class *class);

/* Masks a webhook's secret, its URL, and the URL's path and query, in text. */
void	webhook_redact(char *text, const struct hook *);
/*
 * The notifier's title as one line of at most CMDENV_TITLE_MAX
 * characters, and that line as RFC 2047 encoded words (cmdenv.c).
 */
char	*cmdenv_title(const char *);
char	*cmdenv_subject(const char *line);
/* A string of len bytes as JSON.stringify writes it (jsonjs.c). */
void	js_write_string(FILE *, const char *, size_t);

#endif
