/*
 * fuzz_retry_after.c - kombo_parse_retry_after on arbitrary strings.
 *
 * The input (cut at its first NUL, as a header value would be) is parsed
 * with a fixed clock (2023-11-14T22:13:20Z), with now = 0 and with a NaN
 * clock.  Checks: the result is -1 or within [0, 1e9], never NaN; plain
 * delta-seconds give min(value, 1e9) whatever the clock; a NaN clock
 * resolves no date; an IMF-fixdate agrees with timegm() (curl_getdate
 * reads the dates; this checks our use of it: trimming, the clock, caps).
 *
 * The limit headers (kombo_parse_limits) too: the input as a whole header
 * block gives values in [-1, 2^31-1]; the input (without CR, LF or comma)
 * as the value of Concurrency-Limit gives the plain-digits reading, once
 * or sent twice alike, and absent when a different copy follows.
 */
#include "fuzz_common.h"
#include "core/kombo.h"
#include "core/classify.h"

#include <math.h>
#include <time.h>

#define NOW 1700000000.0
#define CAP 1e9

static void check_range(double v, const char *in, double now)
{
    CHECK(v == -1 || (v >= 0 && v <= CAP), "parse_retry_after(\"%s\", %g) = %g", in, now, v);
}

/* The value of all digits after trimming spaces and tabs (saturated at
 * 1e18), else -1: the plain reading both rules start from. */
static double ref_digits(const char *s)
{
    size_t n = strlen(s), b = 0, e = n, i;
    double v = 0;
    while (b < e && (s[b] == ' ' || s[b] == '\t'))
        b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (b == e)
        return -1;
    for (i = b; i < e; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > 1e18)
            v = 1e18;
    }
    return v;
}

/* Retry-After as delta-seconds: the expected delta (capped), else -1. */
static double ref_delta(const char *s)
{
    double v = ref_digits(s);
    return v > CAP ? CAP : v;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" exactly (no surrounding blanks): the
 * delay timegm() gives, or -2 when the text is not that format.
 * *impossible: the right shape but no such date (32 Nov, 25:00). */
static double ref_imf(const char *s, double now, int *impossible)
{
    static const char *months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const char *days = "MonTueWedThuFriSatSun";
    struct tm tm;
    const char *m;
    int i;
    time_t t;
    double d;
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap;

    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
        return -2;
    for (i = 0; i < 7; i++)
        if (memcmp(s, days + 3 * i, 3) == 0)
            break;
    if (i == 7)
        return -2;
    for (i = 5; i < 25; i++)
        if ((i == 5 || i == 6 || (i >= 12 && i <= 15) || i == 17 || i == 18 || i == 20 || i == 21 ||
             i == 23 || i == 24) &&
            (s[i] < '0' || s[i] > '9'))
            return -2;
    m = NULL;
    for (i = 0; i < 12; i++)
        if (memcmp(s + 8, months + 3 * i, 3) == 0)
            m = months + 3 * i;
    if (!m)
        return -2;
    memset(&tm, 0, sizeof tm);
    tm.tm_mday = (s[5] - '0') * 10 + (s[6] - '0');
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_year = (s[12] - '0') * 1000 + (s[13] - '0') * 100 + (s[14] - '0') * 10 + (s[15] - '0') - 1900;
    tm.tm_hour = (s[17] - '0') * 10 + (s[18] - '0');
    tm.tm_min = (s[20] - '0') * 10 + (s[21] - '0');
    tm.tm_sec = (s[23] - '0') * 10 + (s[24] - '0');
    leap = ((tm.tm_year + 1900) % 4 == 0 && (tm.tm_year + 1900) % 100 != 0) || (tm.tm_year + 1900) % 400 == 0;
    *impossible = tm.tm_mday < 1 || tm.tm_mday > dim[tm.tm_mon] + (tm.tm_mon == 1 && leap) ||
                  tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60;
    t = timegm(&tm); /* normalizes 31 Feb into March, as curl_getdate does */
    d = (double)t - now;
    if (d < 0)
        return 0;
    return d > CAP ? CAP : d;
}

/* The limit rule's reading of one value: digits after trimming spaces and
 * tabs, at most KOMBO_LIMIT_MAX, else -1. */
static long ref_limit(const char *s)
{
    double v = ref_digits(s);
    return v > KOMBO_LIMIT_MAX ? -1 : (long)v;
}

static void check_limits(const uint8_t *data, size_t size, const char *s)
{
    kombo_limits l;
    char *block;
    size_t n = strlen(s), i;
    long want;
    int f;

    kombo_parse_limits((const char *)data, size, &l);
    for (f = 0; f < KOMBO_LIMIT_COUNT; f++)
        CHECK(l.value[f] >= -1 && l.value[f] <= KOMBO_LIMIT_MAX, "limit %d = %ld", f, l.value[f]);
    if (strpbrk(s, "\r\n,") != NULL)
        return;
    want = ref_limit(s);
    block = malloc(2 * n + 128); /* the three lines below, with room */
    i = (size_t)sprintf(block, "Concurrency-Limit:%s\r\n", s);
    kombo_parse_limits(block, i, &l);
    CHECK(l.value[KOMBO_LIMIT_CONCURRENCY] == want, "Concurrency-Limit:\"%s\" = %ld, expected %ld", s,
          l.value[KOMBO_LIMIT_CONCURRENCY], want);
    i += (size_t)sprintf(block + i, "concurrency-limit: %s\r\n", s);
    kombo_parse_limits(block, i, &l);
    CHECK(l.value[KOMBO_LIMIT_CONCURRENCY] == want, "\"%s\" twice = %ld, expected %ld", s,
          l.value[KOMBO_LIMIT_CONCURRENCY], want);
    i += (size_t)sprintf(block + i, "Concurrency-Limit: %ld\r\n", want + 1);
    kombo_parse_limits(block, i, &l);
    CHECK(l.value[KOMBO_LIMIT_CONCURRENCY] == -1, "\"%s\" then %ld = %ld", s, want + 1,
          l.value[KOMBO_LIMIT_CONCURRENCY]);
    free(block);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    double v, v0, vn, delta, imf;

    memcpy(s, data, size);
    s[size] = '\0';

    v = kombo_parse_retry_after(s, NOW);
    v0 = kombo_parse_retry_after(s, 0);
    vn = kombo_parse_retry_after(s, NAN);
    check_range(v, s, NOW);
    check_range(v0, s, 0);
    check_range(vn, s, NAN);

    delta = ref_delta(s);
    if (delta >= 0) {
        CHECK(v == delta && v0 == delta && vn == delta, "delta-seconds \"%s\": %g %g %g, expected %g", s, v,
              v0, vn, delta);
    } else {
        CHECK(vn == -1, "NaN clock resolved \"%s\" to %g", s, vn);
        int impossible = 0;
        imf = ref_imf(s, NOW, &impossible);
        /* curl_getdate rejects some impossible dates and rolls others over
         * (31 Feb), as timegm does; it refuses years before 1583 and reads
         * 0000-0099 as two-digit years, so those are only range-checked.
         * Any other date it must read exactly. */
        if (imf != -2 && memcmp(s + 12, "1583", 4) >= 0)
            CHECK(v == imf || (impossible && v == -1), "IMF-fixdate \"%s\": %g, timegm says %g", s, v, imf);
    }
    CHECK(kombo_parse_retry_after(NULL, NOW) == -1, "NULL");
    check_limits(data, size, s);
    free(s);
    return 0;
}
