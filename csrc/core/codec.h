/*
 * codec.h - the encoders and checks (codec.c): UTF-8, base64, JSON string
 * literals, percent-encoding, SHA-256 and hex.
 */
#ifndef KOMBO_CODEC_H
#define KOMBO_CODEC_H

#include "kombo.h"

#include <stddef.h>

int kombo_utf8_valid(const char *s, size_t n);     /* 1 when valid UTF-8 (no overlongs, no surrogates) */
/* The length of the UTF-8 sequence that lead byte c starts: 2, 3 or 4 for
 * the leads kombo_utf8_valid accepts (C2..DF, E0..EF, F0..F4), 1 for ASCII
 * and for bytes that cannot lead one (continuations, C0, C1, F5..FF). */
size_t kombo_utf8_seqlen(unsigned char c);
int kombo_base64_valid(const char *s, size_t n);   /* 1 when canonical-alphabet base64 with correct padding; "" is valid */
size_t kombo_base64_encoded_len(size_t n);         /* 4 * ceil(n / 3) */
size_t kombo_base64_decoded_len(const char *s, size_t n); /* of valid padded base64 */
/* Encodes n bytes into out (room for kombo_base64_encoded_len(n)); returns bytes written. */
size_t kombo_base64_encode(char *out, const unsigned char *in, size_t n);
/* Appends s as a JSON string literal with quotes; escapes ", \ and every
 * control byte; passes UTF-8 through. */
int kombo_json_string(kombo_buf *b, const char *s, size_t n);
/* 1 when s[0..n) goes into a JSON string as it is (no byte to escape). */
int kombo_json_plain(const char *s, size_t n);
/* Appends s percent-encoded as one path segment: every byte outside RFC 3986
 * "unreserved" (A-Z a-z 0-9 - . _ ~) becomes %XX (upper-case hex). */
int kombo_percent_encode(kombo_buf *b, const char *s, size_t n);

/* SHA-256 (OpenSSL's libcrypto, EVP).  kombo_sha256_hex writes the digest
 * of n bytes as 64 lowercase hex digits and a NUL; 0, or -1 when libcrypto
 * failed.  kombo_hex_lower writes 2n lowercase hex digits and a NUL. */
#define KOMBO_SHA256_LEN 32
#define KOMBO_SHA256_HEX (2 * KOMBO_SHA256_LEN + 1)
int kombo_sha256_hex(const void *p, size_t n, char out[KOMBO_SHA256_HEX]);
void kombo_hex_lower(char *out, const unsigned char *p, size_t n);

#endif
