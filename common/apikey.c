/*
 * Decrypting a per-schedule API key exactly as the application's
 * lib/models/encryption.ts encrypts it (see apikey.h).  Node's base64
 * reader is lenient; so is ours where a stored value could differ:
 * white space (a value pasted over several lines) and missing padding.
 * Anything else that is not base64 is refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "apikey.h"
#include "text.h"
#include "util.h"

#define HEADER_LEN	(APIKEY_SALT_LEN + APIKEY_IV_LEN + APIKEY_TAG_LEN)

/* The decoded value, cut into its parts (pointers into raw). */
struct sealed {
	unsigned char	*raw;
	size_t		 cap, len;
	unsigned char	*salt, *iv, *tag, *ct;
	size_t		 ct_len;
};

static enum apikey_status
fail(enum apikey_status st, char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum apikey_status
fail(enum apikey_status st, char *why, size_t whylen, const char *fmt, ...)
{
	va_list	ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	/* Leave nothing of a failure in this thread's error queue. */
	ERR_clear_error();
	return st;
}

static void
wipe_free(void *p, size_t len)
{
	if (p != NULL)
		explicit_bzero(p, len);
	free(p);
}

static int
is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * The base64 digits of s, white space dropped, "=" padding checked and
 * then made whole again for EVP_DecodeBlock; *pad is the number of "="
 * at the end.  NULL when s is not base64.
 */
static char *
b64_normalize(const char *s, size_t *len, int *pad)
{
	size_t	 n = 0, eq = 0;
	char	*out = xreallocarray(NULL, strlen(s) + 4, 1);

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			continue;
		if (*s == '=' && ++eq <= 2)
			continue;
		if (!is_b64(*s) || eq > 0)
			break;
		out[n++] = *s;
	}
	if (*s != '\0' || n % 4 == 1) {
		wipe_free(out, n);
		return NULL;
	}
	*pad = 0;
	while (n % 4 != 0) {
		out[n++] = '=';
		(*pad)++;
	}
	out[n] = '\0';
	*len = n;
	return out;
}

static enum apikey_status
b64_decode(const char *encoded, struct sealed *v, char *why, size_t whylen)
{
	char	*text;
	size_t	 n;
	int	 pad, got;

	if ((text = b64_normalize(encoded, &n, &pad)) == NULL)
		return fail(APIKEY_BAD, why, whylen, "not base64");
	v->cap = n / 4 * 3 + 1;
	v->raw = xreallocarray(NULL, v->cap, 1);
	got = EVP_DecodeBlock(v->raw, (const unsigned char *)text, (int)n);
	wipe_free(text, n);
	if (got < pad)
		return fail(APIKEY_BAD, why, whylen, "not base64");
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	v->len = (size_t)got - (size_t)pad;
	return APIKEY_OK;
}

static enum apikey_status
split(struct sealed *v, char *why, size_t whylen)
{
	if (v->len <= HEADER_LEN)
		return fail(APIKEY_BAD, why, whylen, "%zu bytes, too short for "
		    "salt, IV, tag and a key", v->len);
	v->salt = v->raw;
	v->iv = v->salt + APIKEY_SALT_LEN;
	v->tag = v->iv + APIKEY_IV_LEN;
	v->ct = v->tag + APIKEY_TAG_LEN;
	v->ct_len = v->len - HEADER_LEN;
	return APIKEY_OK;
}

static int
derive_key(const char *password, const struct sealed *v,
    unsigned char key[APIKEY_KEY_LEN])
{
	return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), v->salt,
	    APIKEY_SALT_LEN, APIKEY_ITERATIONS, EVP_sha256(), APIKEY_KEY_LEN,
	    key) == 1 ? 0 : -1;
}

static int
gcm_start(EVP_CIPHER_CTX *ctx, const unsigned char *key,
    const struct sealed *v)
{
	return EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL,
	    NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, APIKEY_IV_LEN,
	    NULL) == 1 &&
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, v->iv) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, APIKEY_TAG_LEN,
	    v->tag) == 1 ? 0 : -1;
}

/*
 * AES-256-GCM into out (v->ct_len + 1 bytes).  The tag is checked by
 * DecryptFinal: until then out is unauthenticated and must not be used.
 */
static enum apikey_status
gcm_open(const unsigned char *key, const struct sealed *v,
    unsigned char *out, char *why, size_t whylen)
{
	EVP_CIPHER_CTX		*ctx;
	enum apikey_status	 st = APIKEY_OK;
	int			 n = 0, last = 0;

	/* libcrypto's only failure here is for want of memory. */
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		out_of_memory("EVP_CIPHER_CTX_new");
	if (gcm_start(ctx, key, v) == -1 ||
	    EVP_DecryptUpdate(ctx, out, &n, v->ct, (int)v->ct_len) != 1)
		st = fail(APIKEY_ERROR, why, whylen, "libcrypto cannot run "
		    "AES-256-GCM");
	else if (EVP_DecryptFinal_ex(ctx, out + n, &last) != 1)
		st = fail(APIKEY_BAD, why, whylen, "the authentication tag "
		    "does not match (wrong password or damaged value)");
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

/* Non-empty, no NUL, valid UTF-8, no control characters: a header value. */
static enum apikey_status
check_text(const unsigned char *p, size_t len, char *why, size_t whylen)
{
	char	*copy;
	int	 same;

	if (len == 0 || memchr(p, '\0', len) != NULL)
		return fail(APIKEY_BAD, why, whylen, "the decrypted key is "
		    "empty or holds a NUL byte");
	copy = xstrndup((const char *)p, len);
	text_make_valid(copy);
	same = memcmp(copy, p, len) == 0;
	wipe_free(copy, len);
	if (!same)
		return fail(APIKEY_BAD, why, whylen, "the decrypted key is not "
		    "text (invalid UTF-8 or control characters)");
	return APIKEY_OK;
}

static enum apikey_status
open_sealed(const struct sealed *v, const char *password, char **plain,
    char *why, size_t whylen)
{
	unsigned char		 key[APIKEY_KEY_LEN];
	unsigned char		*out = xreallocarray(NULL, v->ct_len + 1, 1);
	enum apikey_status	 st;

	if (derive_key(password, v, key) == -1)
		st = fail(APIKEY_ERROR, why, whylen, "libcrypto cannot run "
		    "PBKDF2");
	else if ((st = gcm_open(key, v, out, why, whylen)) == APIKEY_OK)
		st = check_text(out, v->ct_len, why, whylen);
	explicit_bzero(key, sizeof(key));
	if (st != APIKEY_OK) {
		wipe_free(out, v->ct_len + 1);
		return st;
	}
	out[v->ct_len] = '\0';
	*plain = (char *)out;
	return APIKEY_OK;
}

enum apikey_status
apikey_decrypt(const char *encoded, const char *password, char **plain,
    char *why, size_t whylen)
{
	struct sealed		v;
	enum apikey_status	st;

	*plain = NULL;
	if (why != NULL && whylen > 0)
		*why = '\0';
	if (encoded == NULL || password == NULL)
		return fail(APIKEY_BAD, why, whylen, "no value or no password");
	memset(&v, 0, sizeof(v));
	if ((st = b64_decode(encoded, &v, why, whylen)) == APIKEY_OK &&
	    (st = split(&v, why, whylen)) == APIKEY_OK)
		st = open_sealed(&v, password, plain, why, whylen);
	wipe_free(v.raw, v.cap);
	return st;
}

void
apikey_free(char *plain)
{
	if (plain != NULL)
		wipe_free(plain, strlen(plain));
}
