/*
 * X-Webhook-Signature: the lowercase hexadecimal HMAC-SHA256 of the
 * exact body bytes, keyed with the webhook's secret text, as the
 * application signs (crypto.createHmac('sha256', secret)).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <limits.h>
#include <string.h>

#include "notifier.h"

int
sign_hex(const char *secret, size_t secretlen, const char *body,
    size_t bodylen, char hex[SIGN_HEX_LEN + 1])
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;

	hex[0] = '\0';
	if (secretlen > INT_MAX || HMAC(EVP_sha256(), secret, (int)secretlen,
	    (const unsigned char *)body, bodylen, md, &mdlen) == NULL ||
	    mdlen * 2 != SIGN_HEX_LEN)
		return -1;
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[SIGN_HEX_LEN] = '\0';
	explicit_bzero(md, sizeof(md));
	return 0;
}
