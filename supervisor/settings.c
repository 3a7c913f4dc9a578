/*
 * -n and -t: every setting and where it came from, one line each, as a
 * file would write it ("key = value  # origin").  With a file, conf.d,
 * the environment and defaults all in play (a container has only the
 * environment), this is how an operator learns which one won.  The
 * secrets are never shown; nor is a password in the database's
 * conninfo, which is rewritten with it masked.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "supervisor.h"

#define MASK	"********"

/* A value a file may hold bare: no quotes needed to read it back. */
static int
bare(const char *v)
{
	const char	*p;

	if (*v == '\0' || isspace((unsigned char)*v) ||
	    isspace((unsigned char)v[strlen(v) - 1]))
		return 0;
	for (p = v; *p != '\0'; p++)
		if (*p == '#' || *p == '"' || *p == '\\' ||
		    iscntrl((unsigned char)*p))
			return 0;
	return 1;
}

/* As the parser reads a quoted value; control characters escaped. */
static void
print_quoted(FILE *fp, const char *v)
{
	const char	*p;

	fputc('"', fp);
	for (p = v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (iscntrl((unsigned char)*p))
			fprintf(fp, "\\x%02x", (unsigned char)*p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

static void
print_value(FILE *fp, const char *v)
{
	if (bare(v))
		fputs(v, fp);
	else
		print_quoted(fp, v);
}

/* libpq's own quoting of a conninfo value, as a new string. */
static char *
conninfo_value(const char *v)
{
	FILE		*fp;
	const char	*p;
	char		*buf;
	size_t		 len;
	int		 plain = *v != '\0';

	for (p = v; *p != '\0'; p++)
		if (isspace((unsigned char)*p) || *p == '\'' || *p == '\\')
			plain = 0;
	fp = xmemstream(&buf, &len);
	if (!plain)
		fputc('\'', fp);
	for (p = v; *p != '\0'; p++) {
		if (!plain && (*p == '\'' || *p == '\\'))
			fputc('\\', fp);
		fputc(*p, fp);
	}
	if (!plain)
		fputc('\'', fp);
	return xmemstream_text(fp, &buf);
}

/*
 * The conninfo with its password masked, as libpq understood it (a URI
 * comes back as keywords); NULL when it holds none.  One libpq cannot
 * parse is masked whole: where its password would be is unknown.
 */
static char *
mask_conninfo(const char *conninfo)
{
	PQconninfoOption	*opts, *o;
	FILE			*fp;
	char			*text, *v;
	size_t			 len;
	int			 secret = 0, n = 0;

	if ((opts = PQconninfoParse(conninfo, NULL)) == NULL)
		return xstrdup(MASK);
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
			secret = 1;
	if (!secret) {
		PQconninfoFree(opts);
		return NULL;
	}
	fp = xmemstream(&text, &len);
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		v = conninfo_value(strcmp(o->keyword, "password") == 0 ? MASK :
		    o->val);
		fprintf(fp, "%s%s=%s", n++ > 0 ? " " : "", o->keyword, v);
		free(v);
	}
	PQconninfoFree(opts);
	return xmemstream_text(fp, &text);
}

/* The command line's override of a key, as flags pairs key and flag. */
static const char *
flag_of(const char *key, const char *const *flags)
{
	for (; flags != NULL && flags[0] != NULL; flags += 2)
		if (strcmp(flags[0], key) == 0)
			return flags[1];
	return NULL;
}

static void
print_one(FILE *fp, const struct config *c, size_t i,
    const char *const *flags)
{
	const char	*key = config_key_name(i), *v, *flag;
	char		 buf[64], origin[CONFIG_WHERE_MAX], *masked = NULL;

	v = config_value(c, i, buf, sizeof(buf));
	fprintf(fp, "%s =", key);
	if (v != NULL && config_key_secret(i))
		fputs(" " MASK, fp);
	else if (v != NULL && strcmp(key, "database") == 0 &&
	    (masked = mask_conninfo(v)) != NULL) {
		fputc(' ', fp);
		print_value(fp, masked);
	} else if (v != NULL) {
		fputc(' ', fp);
		print_value(fp, v);
	}
	free(masked);
	if ((flag = flag_of(key, flags)) != NULL)
		fprintf(fp, "  # command line: %s\n", flag);
	else if (v == NULL)
		fprintf(fp, "  # not set\n");
	else
		fprintf(fp, "  # %s\n", config_origin(c, i, origin,
		    sizeof(origin)));
}

void
settings_print(FILE *fp, const struct config *c, const char *const *flags)
{
	size_t	i;

	for (i = 0; i < config_nkeys(); i++)
		print_one(fp, c, i, flags);
	fflush(fp);
}
