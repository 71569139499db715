/*
 * webhook.c - verifying a Kombo webhook delivery: X-Kombo-Signature is the
 * HMAC-SHA256 of the raw request body under the account's webhook secret,
 * encoded as base64url without '=' padding.
 *
 * The signature is taken exactly as Kombo sends it: 43 characters of
 * [A-Za-z0-9_-].  Anything else is refused before any HMAC is computed,
 * with a reason that names the usual mistake (a hex digest, standard
 * base64's '+' and '/', '=' padding, white space), so a malformed delivery
 * costs a scan of at most a header's bytes.  A well-formed one costs one
 * HMAC over the body (OpenSSL's libcrypto; never a digest of our own) and
 * a constant-time comparison of the 32 bytes (CRYPTO_memcmp).  Only the
 * given signature is ever examined byte by byte; the expected one is never
 * encoded, copied out or described.
 */
#include "webhook.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* base64url's alphabet (RFC 4648 section 5): the 6-bit value, or -1. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_hex(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

kombo_webhook_status kombo_webhook_decode_signature(const char *sig, size_t n,
                                                    unsigned char mac[KOMBO_WEBHOOK_MAC_LEN])
{
    size_t i, o = 0;
    unsigned long acc = 0;
    int bits = 0, have_plus = 0, have_eq = 0;

    if (sig == NULL || n == 0)
        return KOMBO_WEBHOOK_SIG_MISSING;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)sig[i];
        if (is_space(c))
            return KOMBO_WEBHOOK_SIG_SPACE;
        have_plus |= c == '+' || c == '/';
        have_eq |= c == '=';
    }
    if (have_plus)
        return KOMBO_WEBHOOK_SIG_STANDARD;
    if (have_eq)
        return KOMBO_WEBHOOK_SIG_PADDED;
    if (n == 2 * KOMBO_WEBHOOK_MAC_LEN && is_hex(sig, n))
        return KOMBO_WEBHOOK_SIG_HEX;
    if (n != KOMBO_WEBHOOK_SIG_LEN)
        return KOMBO_WEBHOOK_SIG_LENGTH;
    for (i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)sig[i]);
        if (v < 0)
            return KOMBO_WEBHOOK_SIG_CHARACTER;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            mac[o++] = (unsigned char)((acc >> bits) & 0xFF);
        }
    }
    /* 43 * 6 = 258 bits: the last character's two low bits are past the
     * 32 bytes, and an encoder writes them as zero.  Another value would be
     * a second spelling of the same signature. */
    if ((acc & ((1UL << bits) - 1)) != 0)
        return KOMBO_WEBHOOK_SIG_NONCANONICAL;
    return o == KOMBO_WEBHOOK_MAC_LEN ? KOMBO_WEBHOOK_OK : KOMBO_WEBHOOK_SIG_LENGTH;
}

kombo_webhook_status kombo_webhook_verify(const char *body, size_t n, const char *sig, size_t siglen,
                                          const char *secret, size_t secretlen)
{
    unsigned char given[KOMBO_WEBHOOK_MAC_LEN], expected[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    kombo_webhook_status st;
    int same;

    if (secret == NULL || secretlen == 0)
        return KOMBO_WEBHOOK_SECRET_EMPTY;
    if (is_space((unsigned char)secret[0]) || is_space((unsigned char)secret[secretlen - 1]))
        return KOMBO_WEBHOOK_SECRET_SPACE;
    if (secretlen > (size_t)INT_MAX)
        return KOMBO_WEBHOOK_SECRET_LONG;
    if ((st = kombo_webhook_decode_signature(sig, siglen, given)) != KOMBO_WEBHOOK_OK)
        return st;
    /* HMAC() wants a non-NULL pointer even for an empty body. */
    if (HMAC(EVP_sha256(), secret, (int)secretlen, (const unsigned char *)(body != NULL ? body : ""), n, expected,
             &len) == NULL ||
        len != KOMBO_WEBHOOK_MAC_LEN) {
        OPENSSL_cleanse(expected, sizeof expected);
        return KOMBO_WEBHOOK_CRYPTO_FAILED;
    }
    same = CRYPTO_memcmp(given, expected, KOMBO_WEBHOOK_MAC_LEN) == 0;
    OPENSSL_cleanse(expected, sizeof expected);
    return same ? KOMBO_WEBHOOK_OK : KOMBO_WEBHOOK_SIG_MISMATCH;
}

/* ------------------------------------------------------------ words */

static const struct {
    const char *code, *message;
} words[KOMBO_WEBHOOK_STATUS_COUNT] = {
    {"ok", "the signature is Kombo's"},
    {"secret_empty", "no webhook secret: pass the account's Kombo Webhook Secret"},
    {"secret_space", "the webhook secret starts or ends with white space (a newline read from a file?)"},
    {"secret_long", "the webhook secret is longer than libcrypto takes"},
    {"signature_missing", "no X-Kombo-Signature header (or an empty one)"},
    {"signature_space", "the X-Kombo-Signature header holds white space"},
    {"signature_standard",
     "the X-Kombo-Signature header holds '+' or '/': standard base64, not the base64url Kombo sends"},
    {"signature_padded", "the X-Kombo-Signature header holds '=' padding: Kombo sends base64url without padding"},
    {"signature_hex", "the X-Kombo-Signature header is 64 hex digits: a hex digest, not the base64url Kombo sends"},
    {"signature_length",
     "the X-Kombo-Signature header is not 43 characters (an HMAC-SHA256 in base64url without padding)"},
    {"signature_character", "the X-Kombo-Signature header holds a character outside base64url (A-Z a-z 0-9 - _)"},
    {"signature_noncanonical",
     "the X-Kombo-Signature header's last character sets bits past the 32 bytes of an HMAC-SHA256"},
    {"signature_mismatch", "the X-Kombo-Signature header does not match the body under the webhook secret"},
    {"crypto_failed", "HMAC-SHA256 failed (libcrypto)"},
};

const char *kombo_webhook_code(kombo_webhook_status st)
{
    return (unsigned)st < KOMBO_WEBHOOK_STATUS_COUNT ? words[st].code : "unknown";
}

const char *kombo_webhook_message(kombo_webhook_status st)
{
    return (unsigned)st < KOMBO_WEBHOOK_STATUS_COUNT ? words[st].message : "unknown webhook status";
}
