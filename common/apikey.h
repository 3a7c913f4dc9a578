/*
 * Per-schedule API keys, as the application stores them
 * (scheduled_evaluations.api_key_encrypted, written by its
 * lib/models/encryption.ts): base64 of salt ‖ iv ‖ tag ‖ ciphertext; the
 * key is PBKDF2-HMAC-SHA256 of the application's ENCRYPTION_KEY (its
 * UTF-8 bytes) over the salt, 100,000 iterations, 32 bytes; the cipher
 * AES-256-GCM with a 16-byte IV and no additional data.  All of it is
 * libcrypto's.
 */
#ifndef EVALSCHED_APIKEY_H
#define EVALSCHED_APIKEY_H

#include <stddef.h>

#define APIKEY_SALT_LEN		32
#define APIKEY_IV_LEN		16
#define APIKEY_TAG_LEN		16
#define APIKEY_KEY_LEN		32
#define APIKEY_ITERATIONS	100000

enum apikey_status {
	APIKEY_OK,
	APIKEY_BAD,	/* not base64, too short, wrong password, damaged, not text */
	APIKEY_ERROR	/* libcrypto failed */
};

/*
 * Decrypts encoded with password.  On APIKEY_OK, *plain is the key, a
 * malloc'd string that is non-empty, valid UTF-8 and free of control
 * characters: release it with apikey_free().  Otherwise *plain is NULL
 * and why (may be NULL) says what went wrong, never quoting a value.
 * Every intermediate secret is wiped before it is freed.
 */
enum apikey_status apikey_decrypt(const char *encoded, const char *password,
		    char **plain, char *why, size_t whylen);
/* Wipes and frees a key apikey_decrypt returned; NULL is fine. */
void		   apikey_free(char *plain);

#endif
