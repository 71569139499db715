/*
 * classify.c - what one attempt's answer means.
 *
 * Given what a transport saw (a transport error and how far the attempt got,
 * or a status, headers and body), decide the error kind, whether the request
 * may have been acted upon, whether a retry is safe, and a human message.
 * Checks the two response shapes Kombo documents (the positive response and
 * the ATS error) with the scanner of json.c; headers come from headers.c.
 *
 * Everything here is pure: no I/O, no allocation, no locale, no TZ.
 */
#include "kombo.h"
#include "classify.h"
#include "json.h"
#include "codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LOCATION_SHOWN 200 /* bytes of a Location header quoted in a message */
#define CONTENT_TYPE_SHOWN 100

/* ------------------------------------------------------------- names */

const char *kombo_kind_name(kombo_kind k)
{
    switch (k) {
    case KOMBO_KIND_NONE: return "internal"; /* no attempt was reported */
    case KOMBO_OK: return "ok";
    case KOMBO_ERR_VALIDATION: return "validation";
    case KOMBO_ERR_API: return "api";
    case KOMBO_ERR_HTTP: return "http";
    case KOMBO_ERR_NETWORK: return "network";
    case KOMBO_ERR_TIMEOUT: return "timeout";
    case KOMBO_ERR_DECODE: return "decode";
    case KOMBO_ERR_INTERNAL: return "internal";
    case KOMBO_ERR_ABORTED: return "aborted";
    }
    return "internal"; /* out-of-range value: misuse */
}

const char *kombo_outcome_name(kombo_outcome o)
{
    switch (o) {
    case KOMBO_OUTCOME_NONE: return "";
    case KOMBO_OUTCOME_NOT_SENT: return "not_sent";
    case KOMBO_OUTCOME_REJECTED: return "rejected";
    case KOMBO_OUTCOME_UNKNOWN: return "unknown";
    }
    return "unknown"; /* out-of-range: assume the worst */
}

/* ----------------------------------------------------- ASCII helpers */

/* After a truncating snprintf: drop a trailing UTF-8 sequence that was cut
 * in half, so messages stay valid UTF-8 for Lua and logs. */
static void u8_fix_tail(char *s)
{
    size_t n = strlen(s), i = n, cont = 0;

    while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i > 0 && (unsigned char)s[i - 1] >= 0xC0 && kombo_utf8_seqlen((unsigned char)s[i - 1]) > cont + 1)
        s[i - 1] = '\0';
}

/* Formats into dst (size cap), always NUL-terminated; fixes a cut tail. */
static void fmt_into(char *dst, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fmt_into(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    if (n < 0)
        dst[0] = '\0';
    else if ((size_t)n >= cap)
        u8_fix_tail(dst);
}

/* Copies header text (server-controlled) for quoting in a message: at most
 * max bytes, anything but printable ASCII becomes '?', so a hostile header
 * cannot smuggle control sequences into logs. */
static void copy_header_text(char *dst, size_t cap, const char *src, size_t max)
{
    size_t i;

    for (i = 0; i < max && i + 1 < cap && src[i]; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (char)((c >= 0x20 && c < 0x7f) ? c : '?');
    }
    dst[i] = '\0';
}

/* ---------------------------------------------------- response shapes */

/* Whether the string k (validated text: a key, or the status) is lit (len
 * bytes, no escape in it):
 * text of that length must be lit's bytes; only a longer one, with an
 * escape, can decode to it (kombo_json_str_eq then); a shorter one never. */
static int key_is(const jval *k, const char *lit, size_t len)
{
    if (k->n == len + 2)
        return memcmp(k->p + 1, lit, len) == 0;
    return k->n > len + 2 && kombo_json_str_eq(k, lit);
}

/* Checks the positive response {status:"success", data:{...}} and what the
 * operation's shape adds (warnings:[{message}], a member of data).
 * Returns 1 when it matches; otherwise writes what is wrong into why. */
static int success_shape(const jval *root, const jmembers *mm, const kombo_response_shape *shape, char *why,
                         size_t whysz)
{
    jval v, w, k, status = {J_NONE, NULL, 0, NULL}, data = {J_NONE, NULL, 0, NULL},
         warnings = {J_NONE, NULL, 0, NULL};
    jiter it;
    size_t i = 0;

    if (root->type != J_OBJECT) {
        fmt_into(why, whysz, "the top level is not an object");
        return 0;
    }
    /* The three members in one walk (the last of a repeated key wins, as
     * with kombo_json_get): of the members the scan recorded when it has
     * them all, else of the text. */
    if (mm != NULL && mm->all) {
        unsigned m;
        for (m = 0; m < mm->n; m++) {
            const jval *key = &mm->key[m];
            /* By the key's first byte: a key of text "s..." can only be
             * "status" (an escape, "\u0073...", can be any of them). */
            char first = '\0';
            if (key->n > 2)
                first = key->p[1];
            if ((first == 's' || first == '\\') && key_is(key, "status", 6))
                status = mm->val[m];
            else if ((first == 'd' || first == '\\') && key_is(key, "data", 4))
                data = mm->val[m];
            else if ((first == 'w' || first == '\\') && key_is(key, "warnings", 8))
                warnings = mm->val[m];
        }
    } else {
        kombo_json_iter_begin(&it, root);
        while (kombo_json_iter_next(&it, &k, &v)) {
            if (kombo_json_str_eq(&k, "status"))
                status = v;
            else if (kombo_json_str_eq(&k, "data"))
                data = v;
            else if (kombo_json_str_eq(&k, "warnings"))
                warnings = v;
        }
    }
    if (status.type == J_NONE) {
        fmt_into(why, whysz, "missing \"status\"");
        return 0;
    }
    if (status.type != J_STRING || !key_is(&status, "success", 7)) {
        fmt_into(why, whysz, "\"status\" is not \"success\"");
        return 0;
    }
    v = data;
    if (v.type == J_NONE) {
        fmt_into(why, whysz, "missing \"data\"");
        return 0;
    }
    if (v.type != J_OBJECT) {
        fmt_into(why, whysz, "\"data\" is not an object");
        return 0;
    }
    /* The member data must have, and a page's results and next cursor: one
     * walk of data for all three (the last of a repeated key wins, as with
     * kombo_json_get).  A page without an array of results and a next
     * cursor (or null for the last page) cannot be followed, and taking it
     * as the last page would end a list short without a word. */
    if (shape->data_member != NULL || shape->list) {
        jval member = {J_NONE, NULL, 0, NULL}, results = {J_NONE, NULL, 0, NULL},
             next = {J_NONE, NULL, 0, NULL};
        kombo_json_iter_begin(&it, &v);
        while (kombo_json_iter_next(&it, &k, &w)) {
            if (shape->data_member != NULL && kombo_json_str_eq(&k, shape->data_member))
                member = w;
            if (!shape->list)
                continue;
            if (kombo_json_str_eq(&k, "results"))
                results = w;
            else if (kombo_json_str_eq(&k, "next"))
                next = w;
        }
        if (shape->data_member != NULL && member.type == J_NONE) {
            fmt_into(why, whysz, "missing \"data.%s\"", shape->data_member);
            return 0;
        }
        if (shape->list && results.type != J_ARRAY) {
            fmt_into(why, whysz, "\"data.results\" is not an array");
            return 0;
        }
        if (shape->list && next.type != J_STRING && next.type != J_NULL) {
            fmt_into(why, whysz, "\"data.next\" is neither a string nor null");
            return 0;
        }
    }
    if (!shape->warnings)
        return 1;
    v = warnings;
    if (v.type == J_NONE) {
        fmt_into(why, whysz, "missing \"warnings\"");
        return 0;
    }
    if (v.type != J_ARRAY) {
        fmt_into(why, whysz, "\"warnings\" is not an array");
        return 0;
    }
    if (v.n == 2) /* "[]", the usual: nothing to walk */
        return 1;
    kombo_json_iter_begin(&it, &v);
    for (; kombo_json_iter_next(&it, NULL, &w); i++) {
        jval m;
        if (w.type != J_OBJECT) {
            fmt_into(why, whysz, "warnings[%zu] is not an object", i);
            return 0;
        }
        if (!kombo_json_get(&w, "message", &m) || m.type != J_STRING) {
            fmt_into(why, whysz, "warnings[%zu] has no string \"message\"", i);
            return 0;
        }
    }
    return 1;
}

/* A member that must be a string or null; absent is tolerated (the API
 * description marks it required, but an older or proxied server may omit
 * it, and the message alone is enough to report the error). */
static int opt_string(const jval *obj, const char *key, jval *out)
{
    if (!kombo_json_get(obj, key, out)) {
        out->type = J_NULL;
        return 1;
    }
    return out->type == J_STRING || out->type == J_NULL;
}

static void copy_opt(const jval *v, char *dst, size_t cap, int *has)
{
    int trunc;

    if (v->type == J_STRING) {
        kombo_json_str_decode(v, dst, cap, 1, &trunc);
        *has = 1;
    }
}

/* Kombo's ATS error body {status:"error", error:{code,title,message,log_url}}.
 * Fills message, code, title, log_url when it matches; returns 1 then. */
static int error_shape(const jval *root, kombo_classification *out)
{
    jval v, err, msg, code, title, log_url;
    int trunc;

    if (root->type != J_OBJECT || !kombo_json_get(root, "status", &v) || !kombo_json_str_eq(&v, "error"))
        return 0;
    if (!kombo_json_get(root, "error", &err) || err.type != J_OBJECT)
        return 0;
    if (!kombo_json_get(&err, "message", &msg) || msg.type != J_STRING)
        return 0;
    if (!opt_string(&err, "code", &code) || !opt_string(&err, "title", &title) ||
        !opt_string(&err, "log_url", &log_url))
        return 0;

    kombo_json_str_decode(&msg, out->message, sizeof out->message, 1, &trunc);
    copy_opt(&code, out->code, sizeof out->code, &out->has_code);
    copy_opt(&title, out->title, sizeof out->title, &out->has_title);
    copy_opt(&log_url, out->log_url, sizeof out->log_url, &out->has_log_url);
    return 1;
}

/* ------------------------------------------------------ classification */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }
    return NULL;
}

/* The body as (pointer, length); never a NULL pointer. */
static const char *body_of(const kombo_response *r, size_t *n)
{
    *n = r->body.data ? r->body.len : 0;
    return r->body.data ? r->body.data : "";
}

static double retry_after_of(const kombo_response *r, double now)
{
    char v[128];

    if (!kombo_response_header(r, "Retry-After", v, sizeof v))
        return -1;
    return kombo_parse_retry_after(v, now);
}

/* Outcome and retry flags that a status implies once the server answered.
 * 429 and 503 say "not now" before acting, so a retry is safe; other 5xx
 * may have acted; other 4xx and 3xx were refused. */
static void status_outcome(const kombo_response *r, double now, kombo_classification *out)
{
    int s = r->status;

    if (s == 429 || s == 503) {
        out->outcome = KOMBO_OUTCOME_REJECTED;
        out->retryable_safe = 1;
        out->retry_after = retry_after_of(r, now);
    } else if (s >= 500) {
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        out->retryable_unsafe = 1;
        out->retry_after = retry_after_of(r, now);
    } else if (s >= 300) {
        out->outcome = KOMBO_OUTCOME_REJECTED;
    } else {
        out->outcome = KOMBO_OUTCOME_UNKNOWN; /* 2xx: likely acted upon; 1xx: can't tell */
    }
}

static const char *phase_note(kombo_phase ph, int read)
{
    if (read) { /* nothing to have been processed: only where it failed */
        switch (ph) {
        case KOMBO_PHASE_CONNECT: return "before the request was sent";
        case KOMBO_PHASE_SENDING: return "while the request was being sent";
        case KOMBO_PHASE_WAITING: return "while waiting for the answer";
        case KOMBO_PHASE_RECEIVING: return "while the response was arriving";
        case KOMBO_PHASE_DONE: return "after the response arrived";
        }
        return "a read";
    }
    switch (ph) {
    case KOMBO_PHASE_CONNECT: return "before the request was sent";
    case KOMBO_PHASE_SENDING: return "while the request was being sent; it may have been processed";
    case KOMBO_PHASE_WAITING: return "after the request was sent; it may have been processed";
    case KOMBO_PHASE_RECEIVING: return "while the response was arriving; the request may have been processed";
    case KOMBO_PHASE_DONE: return "after the response arrived; the request may have been processed";
    }
    return "it may have been processed";
}

/* Network failure, timeout or abort: the phase decides whether anything
 * reached the server. */
static void classify_transport(const kombo_response *r, int read, kombo_classification *out)
{
    const char *what;
    const char *em = r->error_message;
    int emlen;
    const char *nul = memchr(em, '\0', sizeof r->error_message);

    emlen = (int)(nul ? (size_t)(nul - em) : sizeof r->error_message); /* tolerate a missing NUL */
    switch (r->error) {
    case KOMBO_TE_TIMEOUT:
        out->kind = KOMBO_ERR_TIMEOUT;
        what = "timed out";
        break;
    case KOMBO_TE_ABORTED:
        out->kind = KOMBO_ERR_ABORTED;
        if (r->phase >= KOMBO_PHASE_WAITING) {
            /* Cut off by the driver (attach_many's "abort") after the whole
             * request went out: the server may be acting on it. */
            out->outcome = KOMBO_OUTCOME_UNKNOWN;
            fmt_into(out->message, sizeof out->message, "%.*s (%s)", emlen, em, phase_note(r->phase, read));
            return;
        }
        /* We cut the body short ourselves, so the server saw an incomplete
         * request it cannot act on.  Not retried: the source is suspect. */
        out->outcome = KOMBO_OUTCOME_NOT_SENT;
        fmt_into(out->message, sizeof out->message,
                 "%.*s (the request was cut off, so the server cannot have acted on it)",
                 emlen, em);
        return;
    case KOMBO_TE_HEADERS:
        /* An answer came but cannot be read: whether the server acted on
         * the request is unknown (its status line, if any, is not trusted). */
        out->kind = KOMBO_ERR_HTTP;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        out->retryable_unsafe = 1;
        fmt_into(out->message, sizeof out->message, "%.*s", emlen, em);
        return;
    case KOMBO_TE_RESOURCES:
        /* Out of descriptors (or the like) here: nothing left this process,
         * and retrying at once would only fail the same way. */
        out->kind = KOMBO_ERR_NETWORK;
        out->outcome = KOMBO_OUTCOME_NOT_SENT;
        fmt_into(out->message, sizeof out->message, "%.*s (before the request was sent; not retried)",
                 emlen, em);
        return;
    default:
        out->kind = KOMBO_ERR_NETWORK;
        what = "network error";
        break;
    }
    if (r->phase == KOMBO_PHASE_CONNECT) {
        out->outcome = KOMBO_OUTCOME_NOT_SENT;
        out->retryable_safe = 1;
    } else {
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        out->retryable_unsafe = 1;
    }
    /* The kind is the error's own field (tostring says "kombo network
     * error: ..."), so the message does not repeat it. */
    if (emlen > 0)
        fmt_into(out->message, sizeof out->message, "%.*s (%s)", emlen, em, phase_note(r->phase, read));
    else
        fmt_into(out->message, sizeof out->message, "%s (%s)", what, phase_note(r->phase, read));
}

/* The answer exceeded max_response_bytes.  The status line, when it came,
 * still says whether the server acted; only the body is missing. */
static void classify_too_large(const kombo_response *r, double now, kombo_classification *out)
{
    out->kind = KOMBO_ERR_HTTP;
    if (r->status >= 100) {
        status_outcome(r, now, out);
        fmt_into(out->message, sizeof out->message,
                 "HTTP %d response body larger than %zu bytes (max_response_bytes); aborted", r->status,
                 r->body.limit);
    } else {
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message,
                 "response larger than %zu bytes (max_response_bytes); aborted", r->body.limit);
    }
}

/* The classification keeps the scan's whole record (kombo.h cannot name
 * json.h's size). */
typedef char answer_marks_hold_the_record[KOMBO_ANSWER_MARKS >= KOMBO_JSON_MARKS ? 1 : -1];
typedef char answer_tape_holds_the_tape[KOMBO_ANSWER_TAPE >= KOMBO_JSON_TAPE ? 1 : -1];

static void classify_success(const kombo_response *r, const kombo_response_shape *shape,
                             kombo_classification *out)
{
    size_t n;
    const char *body = body_of(r, &n);
    jscan s;
    jval root;
    jmarks marks; /* the shape checks step over data and results by it */
    jmembers members; /* and read the top level's members from it */
    jtape tape;       /* the binding's record of every token, written in place */
    char why[160];
    unsigned i;

    if (n == 0) {
        out->kind = KOMBO_ERR_DECODE;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message,
                 "HTTP %d with an empty response body (the request may have been processed)", r->status);
        return;
    }
    tape.at = out->tape_at;
    tape.end = out->tape_end;
    if (kombo_json_parse_taped(&s, body, n, &root, &marks, &members, &tape)) {
        out->kind = KOMBO_ERR_DECODE;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message,
                 "response body is not JSON: %s at byte %zu (HTTP %d; the request may have been processed)",
                 s.err, s.err_at, r->status);
        return;
    }
    if (!success_shape(&root, &members, shape, why, sizeof why)) {
        out->kind = KOMBO_ERR_DECODE;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message,
                 "response is not Kombo's success shape: %s (HTTP %d; the request may have been processed)",
                 why, r->status);
        return;
    }
    out->kind = KOMBO_OK;
    out->outcome = KOMBO_OUTCOME_NONE;
    out->json_off = (size_t)(root.p - body); /* the binding builds the result from this span */
    out->json_len = root.n;
    for (i = 0; i < marks.n && i < KOMBO_ANSWER_MARKS; i++) {
        out->mark_at[i] = (size_t)(marks.open[i] - body);
        out->mark_members[i] = marks.count[i];
    }
    out->nmarks = i;
    out->ntape = tape.n;
}

static void classify_redirect(const kombo_response *r, kombo_classification *out)
{
    char loc[LOCATION_SHOWN + 1], shown[LOCATION_SHOWN + 1];

    out->kind = KOMBO_ERR_HTTP;
    out->outcome = KOMBO_OUTCOME_REJECTED;
    if (kombo_response_header(r, "Location", loc, sizeof loc) && loc[0]) {
        copy_header_text(shown, sizeof shown, loc, LOCATION_SHOWN);
        fmt_into(out->message, sizeof out->message,
                 "HTTP %d redirect to %s not followed (the API key is never sent to another host)", r->status,
                 shown);
    } else {
        fmt_into(out->message, sizeof out->message, "HTTP %d redirect not followed", r->status);
    }
}

/* Kombo's error codes that say nothing was done (docs.kombo.dev/guides/errors:
 * "branch on the code, not the status"): a limit hit before the request was
 * taken on, or the ATS refusing it for now.  Sending again is safe whatever
 * the status says (a REMOTE.SERVICE_UNAVAILABLE may come as 502).  The
 * INTEGRATION.SETUP_* codes (409) are not retryable: the integration is not
 * ready, and waiting seconds does not make it so.  A contract spec checks
 * that every code named here is in Kombo's description. */
static const char *const nothing_done_codes[] = {
    "PLATFORM.RATE_LIMIT_EXCEEDED", "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED",
    "REMOTE.RATE_LIMIT_EXCEEDED", "REMOTE.SERVICE_UNAVAILABLE", NULL};
static const char setup_prefix[] = "INTEGRATION.SETUP_";

static void code_outcome(const kombo_response *r, double now, kombo_classification *out)
{
    size_t i;
    if (!out->has_code)
        return;
    for (i = 0; nothing_done_codes[i] != NULL; i++)
        if (strcmp(out->code, nothing_done_codes[i]) == 0) {
            out->outcome = KOMBO_OUTCOME_REJECTED;
            out->retryable_safe = 1;
            out->retryable_unsafe = 0;
            if (out->retry_after < 0)
                out->retry_after = retry_after_of(r, now);
            return;
        }
    if (strncmp(out->code, setup_prefix, sizeof setup_prefix - 1) == 0) {
        out->outcome = KOMBO_OUTCOME_REJECTED;
        out->retryable_safe = 0;
        out->retryable_unsafe = 0;
    }
}

static void classify_error_status(const kombo_response *r, double now, kombo_classification *out)
{
    size_t n;
    const char *body = body_of(r, &n);
    jscan s;
    jval root;

    status_outcome(r, now, out);
    if (n > 0 && kombo_json_parse(&s, body, n, &root) == 0 && error_shape(&root, out)) {
        out->kind = KOMBO_ERR_API;
        code_outcome(r, now, out);
        if (!out->message[0]) /* Kombo's message is always present; keep ours non-empty anyway */
            fmt_into(out->message, sizeof out->message, "HTTP %d (Kombo error without a message)", r->status);
        return;
    }

    out->kind = KOMBO_ERR_HTTP;
    /* Not Kombo's whole error shape, but a log_url Kombo gave is still the
     * caller's way into Kombo's logs: kept whenever error.log_url is a string. */
    if (n > 0 && kombo_json_parse(&s, body, n, &root) == 0 && root.type == J_OBJECT) {
        jval err, log_url;
        if (kombo_json_get(&root, "error", &err) && err.type == J_OBJECT && kombo_json_get(&err, "log_url", &log_url))
            copy_opt(&log_url, out->log_url, sizeof out->log_url, &out->has_log_url);
    }
    {
        char ct[CONTENT_TYPE_SHOWN + 1], shown[CONTENT_TYPE_SHOWN + 1];
        const char *reason = reason_phrase(r->status);

        if (kombo_response_header(r, "Content-Type", ct, sizeof ct) && ct[0])
            copy_header_text(shown, sizeof shown, ct, CONTENT_TYPE_SHOWN);
        else
            strcpy(shown, "no content type");
        fmt_into(out->message, sizeof out->message, "HTTP %d%s%s with a non-Kombo body (%s, %zu bytes)",
                 r->status, reason ? " " : "", reason ? reason : "", shown, n);
    }
}

static void classify(const kombo_response *r, double now, const kombo_response_shape *shape, int read,
                     kombo_classification *out);

void kombo_classify(const kombo_response *r, double now, const kombo_response_shape *shape,
                    kombo_classification *out)
{
    classify(r, now, shape, 0, out);
}

void kombo_classify_read(const kombo_response *r, double now, const kombo_response_shape *shape,
                         kombo_classification *out)
{
    classify(r, now, shape, 1, out);
}

/* Every field empty: the texts' first bytes only (a memset of their 1.4 KB
 * would be most of a success's classification). */
void kombo_classification_clear(kombo_classification *out)
{
    out->kind = KOMBO_KIND_NONE;
    out->outcome = KOMBO_OUTCOME_NONE;
    out->retryable_safe = out->retryable_unsafe = 0;
    out->retry_after = -1;
    out->message[0] = out->code[0] = out->title[0] = out->log_url[0] = '\0';
    out->has_code = out->has_title = out->has_log_url = 0;
    out->json_off = out->json_len = 0;
    out->nmarks = 0;
    out->ntape = KOMBO_ANSWER_TAPE + 1; /* none */
}

static void classify(const kombo_response *r, double now, const kombo_response_shape *shape, int read,
                     kombo_classification *out)
{
    kombo_classification_clear(out);

    if (!r) {
        out->kind = KOMBO_ERR_INTERNAL;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message, "no response to classify");
        return;
    }
    /* A body that could not be stored whole (limit or out of memory) must
     * not be parsed as if complete, even if the transport did not say so. */
    if (r->error == KOMBO_TE_TOO_LARGE || (r->error == KOMBO_TE_NONE && r->body.failed)) {
        classify_too_large(r, now, out);
        return;
    }
    if (r->error != KOMBO_TE_NONE) {
        classify_transport(r, read, out);
        return;
    }
    if (r->status < 100 || r->status > 999) {
        out->kind = KOMBO_ERR_NETWORK;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        if (r->status == 0)
            fmt_into(out->message, sizeof out->message, "no HTTP status received");
        else
            fmt_into(out->message, sizeof out->message, "invalid HTTP status %d", r->status);
        return;
    }
    if (r->status < 200) {
        /* An interim answer as the final one: the server may still act. */
        out->kind = KOMBO_ERR_HTTP;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message, "HTTP %d informational response without a final answer",
                 r->status);
        return;
    }
    if (r->status < 300) {
        classify_success(r, shape, out);
        return;
    }
    if (r->status < 400) {
        classify_redirect(r, out);
        return;
    }
    classify_error_status(r, now, out);
}