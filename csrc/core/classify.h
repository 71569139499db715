/*
 * classify.h - reading an answer: responses and their header block, the
 * limit headers and Retry-After (headers.c), and what the answer means
 * (classify.c).  The types a result carries are public, in kombo.h.
 */
#ifndef KOMBO_CLASSIFY_H
#define KOMBO_CLASSIFY_H

#include "kombo.h"

/* The status line and header block of an answer (each 1xx block, and all of
 * them together), on both transports: more is an `http` error saying so.
 * libcurl also refuses a single header line over 100 KiB, which this limit
 * covers anyway. */
#define KOMBO_MAX_HEADER_BYTES (64u * 1024u)

void kombo_response_init(kombo_response *r, size_t max_body);
void kombo_response_reset(kombo_response *r); /* for the next attempt */
void kombo_response_free(kombo_response *r);

/* The fields of a raw header block, the one parser behind every lookup:
 *   const char *p = kombo_header_start(block, n), *end = block + n;
 *   while (kombo_header_next(&p, end, &name, &value)) ...
 * kombo_header_start skips to the final answer's block (past the last
 * status line: 100 Continue, redirects).  Each field gives its name as sent
 * and its value trimmed of spaces and tabs.  Lines that are no "Name: value"
 * field (status lines, obs-fold continuations, a blank in the name, no
 * colon) are skipped. */
const char *kombo_header_start(const char *block, size_t n);
/* The block's fields as a keeper of the block needs them: without its
 * first line when that is a status line and without the closing blank
 * line (*len bytes from the pointer returned), which no reading of a block
 * (kombo_header_start, kombo_header_next) takes a field from. */
const char *kombo_header_fields(const char *block, size_t n, size_t *len);
int kombo_header_next(const char **p, const char *end, kombo_str *name, kombo_str *value);

/* Whether a header field's name (as kombo_header_next gives it: the bytes
 * before the colon, no blank or control byte among them) is `want`: the
 * whole name, ASCII letters in either case, nothing else folded.  The one
 * rule of every header lookup: kombo_response_header, the curl transport's
 * framing headers, core.header_values (the cosocket transport). */
int kombo_header_name_is(kombo_str name, const char *want);

/* Parses Retry-After: delta-seconds or an HTTP-date (libcurl's curl_getdate:
 * IMF-fixdate, RFC 850 with years 70-99 as 19xx, asctime, and the other
 * forms curl reads), relative to `now` (Unix seconds).  Returns seconds
 * >= 0 (capped at 1e9), or -1 when absent or unparseable.  A date in the
 * past gives 0. */
double kombo_parse_retry_after(const char *value, double now);

/* Kombo's limit headers, the one reading of them (the bulk scheduler's
 * call:limits() and res.http.limits / err.limits both use it). */
typedef enum kombo_limit_field {
    KOMBO_LIMIT_CONCURRENCY = 0,         /* Concurrency-Limit */
    KOMBO_LIMIT_CONCURRENCY_REMAINING,   /* Concurrency-Remaining */
    KOMBO_LIMIT_RATE,                    /* RateLimit-Limit */
    KOMBO_LIMIT_RATE_REMAINING,          /* RateLimit-Remaining */
    KOMBO_LIMIT_RATE_RESET,              /* RateLimit-Reset */
    KOMBO_LIMIT_COUNT
} kombo_limit_field;

#define KOMBO_LIMIT_MAX 2147483647L /* 2^31-1: a larger value is absent */

typedef struct kombo_limits {
    long value[KOMBO_LIMIT_COUNT]; /* by kombo_limit_field; -1 when absent */
} kombo_limits;

/* Reads the limit headers of the final answer in a raw header block (see
 * kombo_header_start; block may be NULL).  The rule, for each header:
 *   - a value is digits only, with optional spaces or tabs around them;
 *     leading zeros are allowed at any length ("000...005" is 5);
 *   - a value above KOMBO_LIMIT_MAX, or anything but digits ("", "-1",
 *     "+5", "1.5", "0x10", "5 5"), is no value;
 *   - every copy counts: a header sent more than once, or a line a proxy
 *     combined from several (RFC 9110 5.3: "5, 5"), gives its value only
 *     when every copy and every comma-separated element is a value and
 *     they are all equal; otherwise the header is absent.
 * Names are matched without regard to case. */
void kombo_parse_limits(const char *block, size_t n, kombo_limits *out);

/* Classifies one attempt's response.  `now` (Unix seconds) resolves
 * Retry-After dates.  For a 2xx, checks that the body is the operation's
 * positive response: {status:"success", data:{...}} and, as `shape` says,
 * warnings:[{message}...] and a member of data. */
/* Every field of a classification empty (kind none, no retry_after, no texts). */
void kombo_classification_clear(kombo_classification *out);
void kombo_classify(const kombo_response *r, double now, const kombo_response_shape *shape,
                    kombo_classification *out);
/* The same for a read (a GET), whose messages say where it failed but not
 * that "it may have been processed", which means nothing for a read. */
void kombo_classify_read(const kombo_response *r, double now, const kombo_response_shape *shape,
                         kombo_classification *out);

#endif
