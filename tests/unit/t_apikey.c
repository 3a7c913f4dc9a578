/*
 * Per-schedule API keys (apikey.h): what the application's
 * lib/models/encryption.ts writes decrypts to its plaintext, and every
 * kind of damage fails cleanly, with a reason that quotes nothing.
 *
 * Two sources of truth: values sealed here with libcrypto from a fixed
 * salt, IV and password, and one value made once by Node's crypto with
 * the application's own code (its encrypt(), random salt and IV), kept
 * below as text.  The sealer here, given that value's salt and IV,
 * must also reproduce it byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "apikey.h"
#include "tap.h"

#define PASSWORD	"t_apikey-password-0123456789abcdefghij"
#define PLAIN		"wak_t_apikey_Hk3Pq8Zr1Vw6Ns2Lm9Xc"

/* Node: encrypt() of encryption.ts with ENCRYPTION_KEY = NODE_PASSWORD. */
#define NODE_PASSWORD	"evalsched-fixed-vector-encryption-key-2026"
#define NODE_PLAIN	"wak_fixedvector_Zq7uXhB2mN4pL9sD3fK8"
#define NODE_VALUE							\
	"jeqVoSmNwnhpbQkDZJ9C8Sl6EUgojO4NYczP2wb7mq05Dc04fNRGPkmD6sAGD9bk"	\
	"0p3AVcdy4c1iB9y8xx8yT+W+WA6DWA9QaVPVorTl2nnHA/z/8yeWDV4fQvUqoad2"	\
	"UxZceQ=="

#define HEADER	(APIKEY_SALT_LEN + APIKEY_IV_LEN + APIKEY_TAG_LEN)
#define MAX_RAW	1024

/* salt ‖ iv ‖ tag ‖ ciphertext of plain, as encryption.ts lays it out. */
static size_t
seal_raw(const char *password, const unsigned char *salt,
    const unsigned char *iv, const unsigned char *plain, size_t len,
    unsigned char *out)
{
	unsigned char	 key[APIKEY_KEY_LEN];
	EVP_CIPHER_CTX	*ctx;
	int		 n = 0, last = 0;

	if (len + HEADER > MAX_RAW ||
	    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt,
	    APIKEY_SALT_LEN, APIKEY_ITERATIONS, EVP_sha256(), APIKEY_KEY_LEN,
	    key) != 1 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		exit(2);
	memcpy(out, salt, APIKEY_SALT_LEN);
	memcpy(out + APIKEY_SALT_LEN, iv, APIKEY_IV_LEN);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, APIKEY_IV_LEN,
	    NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, iv) != 1 ||
	    (len > 0 && EVP_EncryptUpdate(ctx, out + HEADER, &n, plain,
	    (int)len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, out + HEADER + n, &last) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, APIKEY_TAG_LEN,
	    out + APIKEY_SALT_LEN + APIKEY_IV_LEN) != 1)
		exit(2);
	EVP_CIPHER_CTX_free(ctx);
	return HEADER + (size_t)n + (size_t)last;
}

/* Base64 of len bytes, as Node's toString('base64'): static buffer. */
static const char *
b64(const unsigned char *raw, size_t len)
{
	static char	text[MAX_RAW * 2];

	EVP_EncodeBlock((unsigned char *)text, raw, (int)len);
	return text;
}

static size_t
unb64(const char *text, unsigned char *raw)
{
	size_t	len = strlen(text);
	int	n;

	n = EVP_DecodeBlock(raw, (const unsigned char *)text, (int)len);
	if (n < 0)
		exit(2);
	while (len > 0 && text[--len] == '=')
		n--;
	return (size_t)n;
}

static void
fixed_salt_iv(unsigned char *salt, unsigned char *iv)
{
	int	i;

	for (i = 0; i < APIKEY_SALT_LEN; i++)
		salt[i] = (unsigned char)i;
	for (i = 0; i < APIKEY_IV_LEN; i++)
		iv[i] = (unsigned char)(0xa0 + i);
}

/* Seals plain (len bytes) under password with the fixed salt and IV. */
static size_t
seal_fixed(const char *password, const char *plain, size_t len,
    unsigned char *raw)
{
	unsigned char	salt[APIKEY_SALT_LEN], iv[APIKEY_IV_LEN];

	fixed_salt_iv(salt, iv);
	return seal_raw(password, salt, iv, (const unsigned char *)plain, len,
	    raw);
}

/* Decrypts and checks the result is want; why must quote no secret. */
static void
opens_to(const char *value, const char *password, const char *want,
    const char *what)
{
	char			*plain, why[256];
	enum apikey_status	 st;

	st = apikey_decrypt(value, password, &plain, why, sizeof(why));
	tap_is_int(st, APIKEY_OK, "%s: decrypts", what);
	if (st != APIKEY_OK)
		tap_diag("why: %s", why);
	tap_is_str(plain, want, "%s: the plaintext", what);
	apikey_free(plain);
}

/* Fails with APIKEY_BAD, no plaintext, and a reason with no secret. */
static void
refused(const char *value, const char *password, const char *what)
{
	char			*plain = (char *)1, why[256];
	enum apikey_status	 st;

	st = apikey_decrypt(value, password, &plain, why, sizeof(why));
	tap_is_int(st, APIKEY_BAD, "%s: refused", what);
	tap_ok(plain == NULL, "%s: no plaintext", what);
	tap_ok(*why != '\0' && (*password == '\0' ||
	    strstr(why, password) == NULL) &&
	    strstr(why, PLAIN) == NULL && strstr(why, NODE_PLAIN) == NULL,
	    "%s: a reason (\"%s\") without a secret", what, why);
	if (plain != NULL && plain != (char *)1)
		apikey_free(plain);
}

static void
test_node_vector(void)
{
	unsigned char	raw[MAX_RAW], again[MAX_RAW];
	size_t		len, n;

	opens_to(NODE_VALUE, NODE_PASSWORD, NODE_PLAIN,
	    "the application's own value (Node)");
	/* The sealer here agrees with Node, given Node's salt and IV. */
	len = unb64(NODE_VALUE, raw);
	n = seal_raw(NODE_PASSWORD, raw, raw + APIKEY_SALT_LEN,
	    (const unsigned char *)NODE_PLAIN, strlen(NODE_PLAIN), again);
	tap_ok(n == len && memcmp(raw, again, len) == 0,
	    "this test's libcrypto sealer reproduces Node's value exactly");
	refused(NODE_VALUE, PASSWORD, "Node's value, another password");
}

static void
test_fixed_vector(void)
{
	unsigned char	 raw[MAX_RAW];
	char		 text[MAX_RAW * 2 + 16], *p;
	size_t		 len;

	len = seal_fixed(PASSWORD, PLAIN, strlen(PLAIN), raw);
	tap_is_int(len, HEADER + strlen(PLAIN), "sealed: header and "
	    "ciphertext as long as the plaintext");
	snprintf(text, sizeof(text), "%s", b64(raw, len));
	opens_to(text, PASSWORD, PLAIN, "fixed salt, IV and password");

	/* Node's reader skips white space and needs no padding: so do we. */
	if ((p = strchr(text, '=')) != NULL)
		*p = '\0';
	opens_to(text, PASSWORD, PLAIN, "without its padding");
	snprintf(text, sizeof(text), "  %.40s\n%.40s\r\n\t%s\n",
	    b64(raw, len), b64(raw, len) + 40, b64(raw, len) + 80);
	opens_to(text, PASSWORD, PLAIN, "broken over lines, indented");

	/* UTF-8 is text: a password and a key beyond ASCII. */
	len = seal_fixed("pässwörd-ключ-" PASSWORD, "wak_ключ_é",
	    strlen("wak_ключ_é"), raw);
	opens_to(b64(raw, len), "pässwörd-ключ-" PASSWORD, "wak_ключ_é",
	    "UTF-8 password and plaintext");
}

/* Flips one bit of byte at, re-encodes; refused. */
static void
flipped(size_t at, const char *what)
{
	unsigned char	raw[MAX_RAW];
	size_t		len;

	len = seal_fixed(PASSWORD, PLAIN, strlen(PLAIN), raw);
	raw[at] ^= 0x01;
	refused(b64(raw, len), PASSWORD, what);
}

static void
test_damage(void)
{
	unsigned char	raw[MAX_RAW];
	char		text[MAX_RAW * 2 + 16];
	size_t		len;

	len = seal_fixed(PASSWORD, PLAIN, strlen(PLAIN), raw);
	snprintf(text, sizeof(text), "%s", b64(raw, len));
	refused(text, "t_apikey-password-0123456789abcdefghiJ",
	    "wrong password (one letter's case)");
	refused(text, "", "empty password");
	flipped(HEADER + 3, "a flipped ciphertext byte");
	flipped(len - 1, "a flipped last ciphertext byte");
	flipped(APIKEY_SALT_LEN + APIKEY_IV_LEN, "a flipped tag byte");
	flipped(HEADER - 1, "a flipped last tag byte");
	flipped(0, "a flipped salt byte");
	flipped(APIKEY_SALT_LEN, "a flipped IV byte");

	refused(b64(raw, len - 1), PASSWORD, "truncated by one byte");
	refused(b64(raw, HEADER + 1), PASSWORD, "truncated to one byte of "
	    "ciphertext");
	refused(b64(raw, HEADER), PASSWORD, "truncated to the header");
	refused(b64(raw, 40), PASSWORD, "truncated inside the IV");
	text[strlen(text) - 7] = '\0';
	refused(text, PASSWORD, "base64 text cut short");

	refused("", PASSWORD, "empty text");
	refused("not base64 at all!", PASSWORD, "non-base64 text");
	refused("****", PASSWORD, "asterisks");
	snprintf(text, sizeof(text), "%s", b64(raw, len));
	text[10] = '-';
	refused(text, PASSWORD, "one character outside the alphabet");
	snprintf(text, sizeof(text), "%s", b64(raw, len));
	text[10] = '=';
	refused(text, PASSWORD, "padding in the middle");
	snprintf(text, sizeof(text), "%s===", b64(raw, len - 1));
	refused(text, PASSWORD, "three padding characters");
	snprintf(text, sizeof(text), "%sA", b64(raw, len));
	refused(text, PASSWORD, "one digit too many");
	refused("{\"salt\": \"x\"}", PASSWORD, "JSON");
}

/* The plaintext goes into a header: it must be text, and not empty. */
static void
test_not_text(void)
{
#define T(text, what)	{ text, sizeof(text) - 1, what }
	static const struct {
		const char	*plain;
		size_t		 len;
		const char	*what;
	} p[] = {
		T("", "an empty plaintext"),
		T("wak_a\nX-Injected: 1", "a newline in the plaintext"),
		T("wak_a\rb", "a carriage return"),
		T("wak_a\tb", "a tab"),
		T("wak_a\x7f" "b", "a DEL"),
		T("wak_a\0b", "a NUL byte"),
		T("wak_\xff\xfe", "invalid UTF-8"),
		T("wak_\xc3", "a cut UTF-8 sequence"),
		T("wak_\xed\xa0\x80", "a UTF-16 surrogate"),
	};
#undef T
	unsigned char	raw[MAX_RAW];
	size_t		i, len;

	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		len = seal_fixed(PASSWORD, p[i].plain, p[i].len, raw);
		refused(b64(raw, len), PASSWORD, p[i].what);
	}
}

static void
test_api(void)
{
	char	*plain = (char *)1;

	tap_is_int(apikey_decrypt(NULL, PASSWORD, &plain, NULL, 0),
	    APIKEY_BAD, "no value: refused");
	tap_ok(plain == NULL, "no value: no plaintext");
	tap_is_int(apikey_decrypt(NODE_VALUE, NULL, &plain, NULL, 0),
	    APIKEY_BAD, "no password: refused");
	tap_is_int(apikey_decrypt(NODE_VALUE, NODE_PASSWORD, &plain, NULL, 0),
	    APIKEY_OK, "why may be NULL");
	apikey_free(plain);
	apikey_free(NULL);
	tap_ok(1, "apikey_free(NULL) is harmless");
}

int
main(void)
{
	test_node_vector();
	test_fixed_vector();
	test_damage();
	test_not_text();
	test_api();
	return tap_done();
}
