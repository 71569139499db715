/*
 * webhook.h - Kombo's webhook signature (webhook.c): X-Kombo-Signature is
 * the HMAC-SHA256 of the raw request body under the account's webhook
 * secret, base64url without '=' padding (43 characters for 32 bytes).
 */
#ifndef KOMBO_WEBHOOK_H
#define KOMBO_WEBHOOK_H

#include <stddef.h>

#define KOMBO_WEBHOOK_MAC_LEN 32 /* HMAC-SHA256 */
#define KOMBO_WEBHOOK_SIG_LEN 43 /* its base64url, unpadded */

/* Why a delivery is refused; KOMBO_WEBHOOK_OK (0) when it is Kombo's.
 * The secret's problems come first, then the signature's form (cheap, no
 * HMAC), then the comparison. */
typedef enum kombo_webhook_status {
    KOMBO_WEBHOOK_OK = 0,
    KOMBO_WEBHOOK_SECRET_EMPTY,
    KOMBO_WEBHOOK_SECRET_SPACE,    /* leading or trailing white space (a newline from a file) */
    KOMBO_WEBHOOK_SECRET_LONG,     /* longer than libcrypto's int key length */
    KOMBO_WEBHOOK_SIG_MISSING,     /* no header, or an empty one */
    KOMBO_WEBHOOK_SIG_SPACE,       /* white space in it */
    KOMBO_WEBHOOK_SIG_STANDARD,    /* '+' or '/': standard base64's alphabet */
    KOMBO_WEBHOOK_SIG_PADDED,      /* '=' padding */
    KOMBO_WEBHOOK_SIG_HEX,         /* 64 hex digits: a hex digest */
    KOMBO_WEBHOOK_SIG_LENGTH,      /* not 43 characters */
    KOMBO_WEBHOOK_SIG_CHARACTER,   /* a byte outside base64url's alphabet */
    KOMBO_WEBHOOK_SIG_NONCANONICAL, /* the last character sets bits past the 256 */
    KOMBO_WEBHOOK_SIG_MISMATCH,    /* well-formed, but not this body's under this secret */
    KOMBO_WEBHOOK_CRYPTO_FAILED,   /* libcrypto failed (out of memory) */
    KOMBO_WEBHOOK_STATUS_COUNT
} kombo_webhook_status;

/* The signature's form alone: OK with its 32 bytes in mac, or the reason. */
kombo_webhook_status kombo_webhook_decode_signature(const char *sig, size_t n,
                                                    unsigned char mac[KOMBO_WEBHOOK_MAC_LEN]);

/* Whether sig is the signature of body[0..n) under secret: the secret and
 * the signature's form are checked first, then HMAC-SHA256 (libcrypto)
 * over the body's bytes as they are, compared in constant time
 * (CRYPTO_memcmp).  sig NULL means no header.  Nothing is allocated. */
kombo_webhook_status kombo_webhook_verify(const char *body, size_t n, const char *sig, size_t siglen,
                                          const char *secret, size_t secretlen);

/* A stable name for programs ("signature_padded") and one line for people.
 * Neither ever holds the expected signature, the secret or the body. */
const char *kombo_webhook_code(kombo_webhook_status st);
const char *kombo_webhook_message(kombo_webhook_status st);

#endif
