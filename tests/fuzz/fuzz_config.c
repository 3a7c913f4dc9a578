// fuzz-link: common/config.c common/confdir.c common/util.c common/log.c common/url.c common/text.c
// fuzz-pkgs: libbsd-overlay
/*
 * libFuzzer target for the evalsched.conf(5) parser, config_parse_text.
 *
 * Input: the text of a configuration file.  Whatever it holds, every
 * error is one line naming the file, and their count is what the parser
 * returns.  A text that parses without error must write out again (each
 * key as key = "value", quoted and escaped) and parse back to the very
 * same configuration: what the parser keeps is what it was given.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define NAME	"fuzz.conf"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Every string key, with where it lives in struct config. */
static const struct {
	const char	*key;
	size_t		 off;
} strings[] = {
#define S(k)	{ #k, offsetof(struct config, k) }
	S(database), S(app_url), S(service_role_key),
	S(service_role_key_file), S(jobrunner), S(pidfile), S(user),
	S(spool_dir), S(node_name), S(tls_ca_file), S(encryption_key),
	S(encryption_key_file), S(alert_command), S(notifier), S(log), S(app_link_url), S(mail_from),
	S(sendmail), S(resend_api_key), S(resend_api_key_file),
	S(resend_api_url), S(telegram_api_url), S(pagerduty_events_url),
	S(notion_api_url),
#undef S
};

/* Every number key. */
static const struct {
	const char	*key;
	size_t		 off;
} numbers[] = {
#define N(k)	{ #k, offsetof(struct config, k) }
	N(poll_interval), N(max_concurrent), N(max_consecutive_failures),
	N(run_timeout), N(shutdown_grace), N(lease), N(completion_timeout),
	N(run_retention), N(alert_retry),
#undef N
};

#define NSTRINGS	(sizeof(strings) / sizeof(strings[0]))
#define NNUMBERS	(sizeof(numbers) / sizeof(numbers[0]))

static const char *
string_of(const struct config *c, size_t i)
{
	return *(char *const *)(const void *)((const char *)c +
	    strings[i].off);
}

static int
number_of(const struct config *c, size_t i)
{
	return *(const int *)(const void *)((const char *)c + numbers[i].off);
}

/* Each error is one "fuzz.conf:LINE: message" or "fuzz.conf: message". */
static void
check_errors(const struct config_err *err, int n)
{
	const char	*line, *nl;
	int		 lines = 0;

	if (n != err->count)
		abort();
	for (line = err->buf; line != NULL && *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL ||
		    strncmp(line, NAME ":", sizeof(NAME)) != 0)
			abort();
		lines++;
	}
	if (lines != n)
		abort();
}

/* Appends `key = "value"`, escaping what the quotes would end. */
static void
put(FILE *f, const char *key, const char *v)
{
	fprintf(f, "%s = \"", key);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		fputc(*v, f);
	}
	fputs("\"\n", f);
}

/* The whole configuration as a file; NULL when out of memory. */
static char *
write_out(const struct config *c)
{
	char	*text = NULL;
	size_t	 len = 0, i;
	FILE	*f;

	if ((f = open_memstream(&text, &len)) == NULL)
		return NULL;
	for (i = 0; i < NSTRINGS; i++)
		if (string_of(c, i) != NULL)
			put(f, strings[i].key, string_of(c, i));
	for (i = 0; i < NNUMBERS; i++)
		fprintf(f, "%s = %d\n", numbers[i].key, number_of(c, i));
	fprintf(f, "listen = %s\n", c->listen ? "yes" : "no");
	fprintf(f, "log_level = %s\n", c->log_debug ? "debug" : "info");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
same_config(const struct config *a, const struct config *b)
{
	size_t	i;

	for (i = 0; i < NSTRINGS; i++)
		if (!same_string(string_of(a, i), string_of(b, i)))
			return 0;
	for (i = 0; i < NNUMBERS; i++)
		if (number_of(a, i) != number_of(b, i))
			return 0;
	return a->listen == b->listen && a->log_debug == b->log_debug &&
	    memcmp(a->secret_in_file, b->secret_in_file,
	    sizeof(a->secret_in_file)) == 0;
}

/* Parsed cleanly: written out and read back, nothing may change. */
static void
round_trip(const struct config *c)
{
	struct config		 again;
	struct config_err	 err = { 0 };
	char			*text;

	if ((text = write_out(c)) == NULL)
		return;
	config_defaults(&again);
	if (config_parse_text(&again, NAME, text, &err) != 0 ||
	    !same_config(c, &again))
		abort();
	config_err_free(&err);
	config_free(&again);
	free(text);
}

/* config_where names the file for every key, set or not. */
static void
check_where(const struct config *c)
{
	char	buf[CONFIG_WHERE_MAX];
	size_t	i;

	for (i = 0; i < NSTRINGS; i++)
		if (*config_where(c, strings[i].key, buf, sizeof(buf)) ==
		    '\0')
			abort();
	for (i = 0; i < NNUMBERS; i++)
		if (*config_where(c, numbers[i].key, buf, sizeof(buf)) ==
		    '\0')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config		 c;
	struct config_err	 err = { 0 };
	char			*text;
	int			 n;

	/* The file is read as a C string: it ends at its first NUL. */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	config_defaults(&c);
	n = config_parse_text(&c, NAME, text, &err);
	check_errors(&err, n);
	if (n == 0)
		round_trip(&c);
	check_where(&c);
	config_err_free(&err);
	config_free(&c);
	free(text);
	return 0;
}
