/*
 * codec.c - the encoders and checks every layer shares: UTF-8, base64,
 * JSON string literals, percent-encoding, SHA-256 and hex.
 *
 * Plain libc, plus libcrypto for SHA-256.  The encoders append to a
 * kombo_buf (buf.c) and report its `failed` once at the end.
 */
#include "kombo.h"
#include "buf.h"
#include "codec.h"

#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 6)
#include <immintrin.h>
#define B64_SSSE3 1 /* the encoder's 12-bytes step, where the CPU has SSSE3 (asked per call) */
#endif

/* ----------------------------------------------------------------- UTF-8 */

size_t kombo_utf8_seqlen(unsigned char c)
{
    if (c >= 0xF0 && c <= 0xF4) return 4;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    return 1;
}

/* Strict UTF-8 (RFC 3629): shortest form only, no surrogates, nothing above
 * U+10FFFF, no truncated sequences.  NUL is a valid code point here; callers
 * that must reject it do so separately. */
int kombo_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */

        /* ASCII eight bytes at a time: base64 data and most text. */
        if (c < 0x80 && n - i >= 8) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            if ((x & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        need = kombo_utf8_seqlen((unsigned char)c) - 1;
        if (need == 0)
            return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
        else if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
        if (n - i - 1 < need)
            return 0;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

/* ---------------------------------------------------------------- base64 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 1 for the 64 alphabet bytes; a table, since data can be megabytes. */
static const unsigned char b64_is_char[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['+'] = 1, ['/'] = 1};

#if defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON))
/* Sixteen bytes in one vector where the compiler has them (GCC and Clang
 * on x86-64 and ARM): the same three ranges, a lane of all ones where a
 * byte is inside one.  A range [lo, hi] is one signed compare: x + (0x80 -
 * lo) wraps it onto -128 .. -128 + (hi - lo), and everything else above. */
typedef unsigned char b64_v16 __attribute__((vector_size(16)));
typedef signed char b64_s16 __attribute__((vector_size(16)));
#define B64_IN(x, lo, hi) ((b64_v16)((b64_s16)((x) + (unsigned char)(0x80 - (lo))) < (signed char)(-128 + (hi) - (lo) + 1)))
static b64_v16 b64_block_ok(const unsigned char *p)
{
    b64_v16 x;
    memcpy(&x, p, 16);
    return B64_IN(x | 0x20, 'a', 'z') | B64_IN(x, '/', '9') | (b64_v16)(x == '+');
}
#define B64_VECTOR 1
#endif

#if defined(B64_VECTOR) && defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 6)
/* Thirty-two bytes per step where the CPU has AVX2 (asked per call: a load
 * and a test), half the steps of the sixteen-byte loop: the same test. */
typedef unsigned char b64_v32 __attribute__((vector_size(32)));
typedef signed char b64_s32 __attribute__((vector_size(32)));
__attribute__((target("avx2"))) static inline b64_v32 b64_block32_ok(const unsigned char *p)
{
    b64_v32 x;
    memcpy(&x, p, 32);
    return (b64_v32)((b64_s32)((x | 0x20) + (unsigned char)(0x80 - 'a')) < (signed char)(-128 + 'z' - 'a' + 1)) |
           (b64_v32)((b64_s32)(x + (unsigned char)(0x80 - '/')) < (signed char)(-128 + '9' - '/' + 1)) |
           (b64_v32)(x == '+');
}

/* 1 when every byte of p[0..n) (n >= 32) is in the alphabet: the last step
 * overlaps bytes already checked. */
__attribute__((target("avx2"))) static int b64_chars_ok_avx2(const unsigned char *p, size_t n)
{
    b64_v32 acc = b64_block32_ok(p + n - 32);
    uint64_t w[4];
    size_t i;
    for (i = 0; i + 32 <= n; i += 32)
        acc &= b64_block32_ok(p + i);
    memcpy(w, &acc, 32);
    return (w[0] & w[1] & w[2] & w[3]) == ~(uint64_t)0;
}
#define B64_AVX2 1
#endif

#ifndef B64_VECTOR
/* SWAR range test: for bytes below 0x80, byte b of x is in [lo, hi] when
 * b + (0x80 - lo) has its top bit set and b + (0x7f - hi) has not; no sum
 * carries into the next byte. */
#define B64_ONES 0x0101010101010101ull
#define B64_HIGH 0x8080808080808080ull
static uint64_t b64_in_range(uint64_t x, unsigned lo, unsigned hi)
{
    return (x + B64_ONES * (0x80u - lo)) & ~(x + B64_ONES * (0x7fu - hi)) & B64_HIGH;
}

/* The top bit of each byte of x that is not in the base64 alphabet ('='
 * included).  Three ranges: letters (folded to lower case by setting bit
 * 0x20, which maps nothing else into a..z), '/'..'9' (the slash and the
 * digits), and '+'.  A byte of 0x80 or more may spoil its neighbours'
 * sums, but is itself reported, and the caller only asks whether any is. */
static uint64_t b64_word_bad(uint64_t x)
{
    uint64_t ok = b64_in_range(x | B64_ONES * 0x20u, 'a', 'z') | b64_in_range(x, '/', '9') |
                  b64_in_range(x, '+', '+');
    return (~ok & B64_HIGH) | (x & B64_HIGH);
}
#endif

/* Standard alphabet, length a multiple of 4, at most two '=' and only at the
 * very end.  No whitespace.  Non-zero trailing bits are accepted. */
int kombo_base64_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t pad = 0, i;

    if (n % 4 != 0)
        return 0;
    if (n == 0)
        return 1;
    if (p[n - 1] == '=') {
        pad = 1;
        if (p[n - 2] == '=')
            pad = 2;
    }
    n -= pad;
#ifdef B64_AVX2
    if (n >= 32 && __builtin_cpu_supports("avx2"))
        return b64_chars_ok_avx2(p, n);
#endif
    /* Thirty-two bytes at a time, with one test per 256: a small call's data
     * is checked on every call, so this loop is a visible part of its cost. */
    for (i = 0; i + 32 <= n;) {
        size_t stop = n - i >= 256 ? i + 256 : n - (n - i) % 32;
#ifdef B64_VECTOR
        b64_v16 acc = b64_block_ok(p + i) & b64_block_ok(p + i + 16);
        uint64_t x, y;
        for (i += 32; i < stop; i += 32)
            acc &= b64_block_ok(p + i) & b64_block_ok(p + i + 16);
        memcpy(&x, &acc, 8);
        memcpy(&y, (const unsigned char *)&acc + 8, 8);
        if ((x & y) != ~(uint64_t)0)
            return 0;
#else
        uint64_t bad = 0, x, y, z, t;
        for (; i < stop; i += 32) {
            memcpy(&x, p + i, 8);
            memcpy(&y, p + i + 8, 8);
            memcpy(&z, p + i + 16, 8);
            memcpy(&t, p + i + 24, 8);
            bad |= b64_word_bad(x) | b64_word_bad(y) | b64_word_bad(z) | b64_word_bad(t);
        }
        if (bad)
            return 0;
#endif
    }
#ifdef B64_VECTOR
    /* The rest (under 32 bytes) in blocks, the last one ending at n and
     * overlapping bytes already checked. */
    if (i < n && n >= 16) {
        b64_v16 acc = b64_block_ok(p + n - 16);
        uint64_t x, y;
        if (n - i > 16)
            acc &= b64_block_ok(p + i);
        memcpy(&x, &acc, 8);
        memcpy(&y, (const unsigned char *)&acc + 8, 8);
        return (x & y) == ~(uint64_t)0;
    }
#endif
    for (; i < n; i++)
        if (!b64_is_char[p[i]])
            return 0;
    return 1;
}

size_t kombo_base64_decoded_len(const char *s, size_t n)
{
    size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    return n / 4 * 3 >= pad ? n / 4 * 3 - pad : 0;
}

size_t kombo_base64_encoded_len(size_t n)
{
    return (n / 3 + (n % 3 != 0)) * 4;
}

/* Two alphabet characters for each 12 bits: a file's base64 is written on
 * every upload that sends it, and a character at a time cost about 11
 * instructions per input byte, a pair at a time about 4.  8 KiB, filled
 * from the alphabet when the library is loaded (GCC and Clang), else by
 * the first encoding.  (Not a table of 8,192 constant expressions: lint's
 * cppcheck took 50 s over one.) */
static char b64_pairs[4096 * 2];

#if defined(__GNUC__)
__attribute__((constructor))
#endif
static void b64_pairs_fill(void)
{
    size_t i;
    for (i = 0; i < 4096; i++) {
        b64_pairs[2 * i] = b64_alphabet[i >> 6];
        b64_pairs[2 * i + 1] = b64_alphabet[i & 63];
    }
}

/* Eight bytes as a big-endian number: one load and a swap where the
 * compiler has the builtin. */
static uint64_t load_be64(const unsigned char *p)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
#else
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
           (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | p[7];
#endif
}

#ifdef B64_SSSE3
/* Twelve bytes in, sixteen characters out per step, while sixteen can be
 * read (W. Mula's method, as in aklomp/base64): the bytes spread into
 * four 24-bit lanes, the 6-bit indices cut out with two multiplies, and
 * the alphabet added as one offset per index range (a 16-entry shuffle).
 * About 1.4 instructions per input byte.  Returns the bytes consumed. */
__attribute__((target("ssse3"))) static size_t b64_encode_ssse3(char *out, const unsigned char *in, size_t n)
{
    const __m128i spread = _mm_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1);
    /* offsets from the index to its character: A-Z, a-z, 0-9 (ten), +, / */
    const __m128i offset = _mm_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0);
    size_t i = 0;
    for (; n - i >= 16; i += 12, out += 16) {
        __m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(in + i)), spread);
        __m128i hi = _mm_mulhi_epu16(_mm_and_si128(v, _mm_set1_epi32(0x0FC0FC00)), _mm_set1_epi32(0x04000040));
        __m128i lo = _mm_mullo_epi16(_mm_and_si128(v, _mm_set1_epi32(0x003F03F0)), _mm_set1_epi32(0x01000010));
        __m128i idx = _mm_or_si128(hi, lo); /* 16 indices, 0..63 */
        /* the range of each index: 0 for 0..25, 1 for 26..51, 2..11 for
         * 52..61 (the digits), 12 for 62, 13 for 63 */
        __m128i range = _mm_sub_epi8(_mm_subs_epu8(idx, _mm_set1_epi8(51)), _mm_cmpgt_epi8(idx, _mm_set1_epi8(25)));
        _mm_storeu_si128((__m128i *)(void *)out, _mm_add_epi8(idx, _mm_shuffle_epi8(offset, range)));
    }
    return i;
}
#endif

size_t kombo_base64_encode(char *out, const unsigned char *in, size_t n)
{
    char *o = out;
    size_t i = 0;

#ifdef B64_SSSE3
    if (n >= 16 && __builtin_cpu_supports("ssse3")) {
        i = b64_encode_ssse3(o, in, n);
        o += i / 3 * 4;
    }
#endif
    if (b64_pairs[0] == 0) /* (filled at load time where the compiler can) */
        b64_pairs_fill();
    /* Six bytes in, eight characters out, while eight can be read */
    for (; n - i >= 8; i += 6, o += 8) {
        uint64_t v = load_be64(in + i) >> 16;
        memcpy(o, b64_pairs + 2 * (v >> 36), 2);
        memcpy(o + 2, b64_pairs + 2 * ((v >> 24) & 4095), 2);
        memcpy(o + 4, b64_pairs + 2 * ((v >> 12) & 4095), 2);
        memcpy(o + 6, b64_pairs + 2 * (v & 4095), 2);
    }
    for (; n - i >= 3; i += 3, o += 4) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        memcpy(o, b64_pairs + 2 * (v >> 12), 2);
        memcpy(o + 2, b64_pairs + 2 * (v & 4095), 2);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        *o++ = b64_alphabet[(v >> 18) & 63];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        *o++ = b64_alphabet[(v >> 18) & 63];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    return (size_t)(o - out);
}

/* ------------------------------------------------------------------ JSON */

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* Bytes that can go into a JSON string literal as they are. */
static int json_safe(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\' && c != 0x7f;
}

/* Nonzero when a byte of x needs an escape (below 0x20, '"', '\\', 0x7f):
 * eight bytes per test, since every string of every body is scanned.  Each
 * term is the classic has-less or has-zero test (a byte of x ^ c is zero
 * where x has c), nonzero exactly when some byte qualifies; a borrow only
 * starts at a byte that does. */
#define J_ONES 0x0101010101010101ull
#define J_HIGH 0x8080808080808080ull
static inline uint64_t json_word_unsafe(uint64_t x)
{
    uint64_t q = x ^ (J_ONES * '"'), bs = x ^ (J_ONES * '\\'), del = x ^ (J_ONES * 0x7f);
    return (((x - J_ONES * 0x20) & ~x) | ((q - J_ONES) & ~q) | ((bs - J_ONES) & ~bs) | ((del - J_ONES) & ~del)) &
           J_HIGH;
}

int kombo_json_plain(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i;
    uint64_t x;

    if (n < 8) {
        for (i = 0; i < n; i++)
            if (!json_safe(p[i]))
                return 0;
        return 1;
    }
    for (i = 0; n - i > 8; i += 8) {
        memcpy(&x, p + i, 8);
        if (json_word_unsafe(x))
            return 0;
    }
    memcpy(&x, p + n - 8, 8); /* the last eight, overlapping bytes already seen */
    return json_word_unsafe(x) == 0;
}

int kombo_json_string(kombo_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    char *o;

    /* Most strings need no escape: quoted in one reservation. */
    if (kombo_json_plain(s, n) && n <= (size_t)-1 / 2) {
        if ((o = kombo_buf_extend(b, n + 2)) == NULL)
            return -1;
        o[0] = '"';
        if (n > 0)
            memcpy(o + 1, s, n);
        o[n + 1] = '"';
        return 0;
    }
    i = 0;
    kombo_buf_append(b, "\"", 1);
    while (i < n) {
        size_t run = i;
        char esc[6];
        size_t elen = 2;

        /* Copy the longest run of safe bytes in one append. */
        while (run < n && json_safe(p[run]))
            run++;
        if (run > i)
            kombo_buf_append(b, p + i, run - i);
        if (run >= n)
            break;

        esc[0] = '\\';
        switch (p[run]) {
        case '"':  esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex_lower[p[run] >> 4];
            esc[5] = hex_lower[p[run] & 15];
            elen = 6;
            break;
        }
        kombo_buf_append(b, esc, elen);
        i = run + 1;
    }
    kombo_buf_append(b, "\"", 1);
    return b->failed ? -1 : 0;
}

/* ------------------------------------------------------ percent-encoding */

/* RFC 3986's unreserved bytes (A-Z a-z 0-9 - . _ ~) as a bitmap: one load
 * a byte, where the comparisons took seven (an id, every call). */
static const unsigned char unreserved_set[32] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x60, 0xff, 0x03, 0xfe, 0xff, 0xff, 0x87, 0xfe, 0xff, 0xff, 0x47,
};

static int unreserved(unsigned char c)
{
    return (unreserved_set[c >> 3] >> (c & 7)) & 1;
}

int kombo_percent_encode(kombo_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t run = i;
        char esc[3];

        while (run < n && unreserved(p[run]))
            run++;
        if (run > i)
            kombo_buf_append(b, p + i, run - i);
        if (run >= n)
            break;
        esc[0] = '%';
        esc[1] = hex_upper[p[run] >> 4];
        esc[2] = hex_upper[p[run] & 15];
        kombo_buf_append(b, esc, 3);
        i = run + 1;
    }
    if (n == 0) /* data left non-NULL for an empty input too */
        kombo_buf_append(b, "", 0);
    return b->failed ? -1 : 0;
}

/* --------------------------------------------------------- SHA-256, hex */

void kombo_hex_lower(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int kombo_sha256_hex(const void *p, size_t n, char out[KOMBO_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != KOMBO_SHA256_LEN) {
        out[0] = '\0';
        return -1;
    }
    kombo_hex_lower(out, md, len);
    return 0;
}
