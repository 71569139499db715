/*
 * request.c - the request model's validation.
 *
 * Validation records every problem it finds, not just the first, so a caller
 * can fix a request in one go.  Messages start lower-case and have no final
 * period; they are read after the path ("body.attachment.name is required").
 * A message never quotes a header value: it may be the API key.
 */
#include "kombo.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_BYTES 4096
#define DATA_URL_MAX_BYTES 8192
#define CONTENT_TYPE_MAX_BYTES 255
#define TYPE_ECHO_MAX_BYTES 40

/* -------------------------------------------------------------- problems */

/* Only the counts: the 12 KB of slots are written as problems are found,
 * and a valid request (the common case) never touches them. */
void kombo_problems_init(kombo_problems *p)
{
    p->count = 0;
    p->dropped = 0;
}

void kombo_problems_add(kombo_problems *p, const char *path, const char *fmt, ...)
{
    kombo_problem *it;
    va_list ap;

    if (p->count >= KOMBO_MAX_PROBLEMS) {
        p->dropped++;
        return;
    }
    it = &p->items[p->count++];
    /* snprintf truncates and always terminates. */
    snprintf(it->path, sizeof it->path, "%s", path ? path : "");
    va_start(ap, fmt);
    if (vsnprintf(it->message, sizeof it->message, fmt, ap) < 0)
        it->message[0] = '\0';
    va_end(ap);
}

/* --------------------------------------------------------------- helpers */

static int has_byte(kombo_str s, char c)
{
    return s.len && memchr(s.ptr, c, s.len) != NULL;
}

static int has_crlf_nul(kombo_str s)
{
    return has_byte(s, '\r') || has_byte(s, '\n') || has_byte(s, '\0');
}

static int str_eq(kombo_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* An identifier that ends up in the URL path or in a header: the bytes are
 * percent-encoded in the URL, but CR/LF/NUL are refused outright. */
static void check_ident(kombo_problems *out, const char *path, kombo_str s)
{
    if (s.len == 0) {
        kombo_problems_add(out, path, "must not be empty");
        return;
    }
    if (!kombo_utf8_valid(s.ptr, s.len))
        kombo_problems_add(out, path, "must be valid UTF-8");
    if (has_crlf_nul(s))
        kombo_problems_add(out, path, "must not contain CR, LF or NUL");
}

void kombo_check_header_value(kombo_problems *out, const char *path, kombo_str v)
{
    if (!v.ptr || v.len == 0)
        kombo_problems_add(out, path, "must be a non-empty string");
    else if (has_crlf_nul(v))
        kombo_problems_add(out, path, "must not contain CR, LF or NUL (header injection)");
}

/* \w of a regex, ASCII only. */
static int word_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* ^[\w.-]+/[\w.-]+$ without a regex library. */
static int content_type_ok(kombo_str s)
{
    size_t i = 0, start;

    while (i < s.len && word_byte((unsigned char)s.ptr[i]))
        i++;
    if (i == 0 || i >= s.len || s.ptr[i] != '/')
        return 0;
    start = ++i;
    while (i < s.len && word_byte((unsigned char)s.ptr[i]))
        i++;
    return i > start && i == s.len;
}

static int ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int has_prefix_ci(kombo_str s, const char *lit)
{
    size_t n = strlen(lit), i;

    if (s.len < n)
        return 0;
    for (i = 0; i < n; i++)
        if (ascii_lower((unsigned char)s.ptr[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

/* Whether the authority after "scheme://" names a host: userinfo ("u@") and
 * port (":443") do not count, an IPv6 literal ("[::1]") does. */
static int url_has_host(const char *p, size_t n)
{
    size_t end = 0, host = 0, i;

    while (end < n && p[end] != '/' && p[end] != '?' && p[end] != '#')
        end++;
    for (i = 0; i < end; i++)
        if (p[i] == '@')
            host = i + 1;
    if (host < end && p[host] == '[')
        return end - host > 2; /* "[" + something + "]" */
    return host < end && p[host] != ':';
}

static void check_data_url(kombo_problems *out, const char *path, kombo_str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i, skip;
    int ctl = 0;

    if (s.len == 0) {
        kombo_problems_add(out, path, "must not be empty");
        return;
    }
    if (s.len > DATA_URL_MAX_BYTES)
        kombo_problems_add(out, path, "is too long (%zu bytes, at most %d)",
                           s.len, DATA_URL_MAX_BYTES);
    if (!kombo_utf8_valid(s.ptr, s.len))
        kombo_problems_add(out, path, "must be valid UTF-8");
    /* Space and every control byte (tabs, newlines, NUL, DEL). */
    for (i = 0; i < s.len; i++)
        if (p[i] <= 0x20 || p[i] == 0x7f)
            ctl = 1;
    if (ctl)
        kombo_problems_add(out, path, "must not contain whitespace or control characters");

    if (has_prefix_ci(s, "https://"))
        skip = 8;
    else if (has_prefix_ci(s, "http://"))
        skip = 7;
    else {
        kombo_problems_add(out, path, "must be an absolute http:// or https:// URL");
        return;
    }
    if (!url_has_host(s.ptr + skip, s.len - skip))
        kombo_problems_add(out, path, "must name a host after \"://\"");
}

/* Says why data is not base64, pointing at the first bad byte. */
static void check_data(kombo_problems *out, const char *path, kombo_str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i;

    if (s.len == 0) {
        kombo_problems_add(out, path, "must not be empty");
        return;
    }
    if (kombo_base64_valid(s.ptr, s.len))
        return;
    if (s.len % 4 != 0) {
        kombo_problems_add(out, path,
                           "must be base64 (length %zu is not a multiple of 4)", s.len);
        return;
    }
    for (i = 0; i < s.len; i++) {
        unsigned char c = p[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '+' || c == '/' ||
                 (c == '=' && i + 2 >= s.len &&
                  (i + 1 == s.len || p[i + 1] == '='));
        if (!ok) {
            kombo_problems_add(out, path,
                               "must be base64 (standard alphabet, padded; bad byte at offset %zu)",
                               i);
            return;
        }
    }
    kombo_problems_add(out, path, "must be base64 (standard alphabet, padded)");
}

/* Copies at most TYPE_ECHO_MAX_BYTES of s for an error message, printable
 * ASCII only, so a stray value cannot garble or flood the message. */
static void echo_value(char *dst, size_t dstsz, kombo_str s)
{
    size_t n = s.len < TYPE_ECHO_MAX_BYTES ? s.len : TYPE_ECHO_MAX_BYTES;
    size_t i, o = 0;

    for (i = 0; i < n && o + 1 < dstsz; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        dst[o++] = (char)((c >= 0x20 && c < 0x7f) ? c : '?');
    }
    if (s.len > n && o + 3 < dstsz) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* ------------------------------------------------------------ validation */

/* data, data_url, file, bytes, source: exactly one. */
static void check_content_choice(kombo_problems *out, const kombo_attachment *a)
{
    const char *given[5];
    char list[96] = "";
    size_t n = 0, i;

    if (a->data.ptr)
        given[n++] = "data";
    if (a->data_url.ptr)
        given[n++] = "data_url";
    if (a->file.ptr)
        given[n++] = "file";
    if (a->bytes.ptr)
        given[n++] = "bytes";
    if (a->source)
        given[n++] = "source";
    if (n == 0) {
        kombo_problems_add(out, "body.attachment",
                           "needs exactly one of data, data_url, file, bytes or source");
        return;
    }
    if (n == 1) {
        size_t size = a->bytes.ptr ? a->bytes.len : a->source ? a->source->size : 0;
        if (size > KOMBO_MAX_CONTENT_BYTES)
            kombo_problems_add(out, a->bytes.ptr ? "body.attachment.bytes" : "body.attachment.size",
                               "is larger than this build can send (at most %zu bytes)",
                               (size_t)KOMBO_MAX_CONTENT_BYTES);
        return;
    }
    /* list holds at most "data, data_url, file, bytes and source" (38 bytes). */
    for (i = 0; i < n; i++) {
        strcat(list, given[i]); /* NOLINT(clang-analyzer-security.insecureAPI.strcpy): bounded, see above */
        strcat(list, i + 2 < n ? ", " : i + 2 == n ? " and " : ""); /* NOLINT(clang-analyzer-security.insecureAPI.strcpy) */
    }
    kombo_problems_add(out, "body.attachment", "has %s%s; give exactly one", n == 2 ? "both " : "",
                       list);
}

size_t kombo_request_validate(const kombo_request *req, kombo_problems *out)
{
    const kombo_attachment *a = &req->attachment;
    const char *id_path =
        req->target == KOMBO_TARGET_CANDIDATE ? "candidate_id" : "application_id";
    size_t before = out->count + out->dropped;
    int has_data = a->data.ptr != NULL;
    int has_url = a->data_url.ptr != NULL;

    /* Path parameter and the X-Integration-Id header. */
    if (!req->id.ptr)
        kombo_problems_add(out, id_path, "is required");
    else if ((req->id.len == 1 && req->id.ptr[0] == '.') ||
             (req->id.len == 2 && memcmp(req->id.ptr, "..", 2) == 0))
        /* Dot segments are removed by URL normalisation, even encoded: the
         * upload would go to another endpoint. */
        kombo_problems_add(out, id_path, "must not be \".\" or \"..\"");
    else
        check_ident(out, id_path, req->id);

    if (!req->integration_id.ptr)
        kombo_problems_add(out, "integration_id",
                           "is required: neither the call nor the client gave one "
                           "(set integration_id or KOMBO_INTEGRATION_ID)");
    else
        check_ident(out, "integration_id", req->integration_id);

    /* name */
    if (!a->name.ptr) {
        kombo_problems_add(out, "body.attachment.name", "is required");
    } else if (a->name.len == 0) {
        kombo_problems_add(out, "body.attachment.name", "must not be empty");
    } else {
        if (a->name.len > NAME_MAX_BYTES)
            kombo_problems_add(out, "body.attachment.name",
                               "is too long (%zu bytes, at most %d)",
                               a->name.len, NAME_MAX_BYTES);
        if (!kombo_utf8_valid(a->name.ptr, a->name.len))
            kombo_problems_add(out, "body.attachment.name", "must be valid UTF-8");
        if (has_byte(a->name, '\0'))
            kombo_problems_add(out, "body.attachment.name", "must not contain NUL");
    }

    /* type */
    if (!a->type.ptr) {
        kombo_problems_add(out, "body.attachment.type",
                           "is required (one of CV, COVER_LETTER, OTHER)");
    } else if (!str_eq(a->type, "CV") && !str_eq(a->type, "COVER_LETTER") &&
               !str_eq(a->type, "OTHER")) {
        char got[TYPE_ECHO_MAX_BYTES + 4];
        echo_value(got, sizeof got, a->type);
        kombo_problems_add(out, "body.attachment.type",
                           "must be one of CV, COVER_LETTER, OTHER (got \"%s\")", got);
    }

    /* Exactly one way to give the content; each present one is still
     * checked on its own. */
    check_content_choice(out, a);
    if (has_data)
        check_data(out, "body.attachment.data", a->data);
    if (has_url)
        check_data_url(out, "body.attachment.data_url", a->data_url);
    if (a->file.ptr) {
        if (a->file.len == 0)
            kombo_problems_add(out, "body.attachment.file", "must not be empty");
        else if (has_byte(a->file, '\0'))
            kombo_problems_add(out, "body.attachment.file", "must not contain NUL");
    }

    /* content_type: needed to make sense of inline bytes. */
    if (!a->content_type.ptr) {
        if (has_data)
            kombo_problems_add(out, "body.attachment.content_type", "is required with data");
    } else if (a->content_type.len > CONTENT_TYPE_MAX_BYTES) {
        kombo_problems_add(out, "body.attachment.content_type",
                           "is too long (%zu bytes, at most %d)",
                           a->content_type.len, CONTENT_TYPE_MAX_BYTES);
    } else if (!content_type_ok(a->content_type)) {
        kombo_problems_add(out, "body.attachment.content_type",
                           "must look like type/subtype, e.g. application/pdf");
    }

    /* remote_fields_json is checked by the Lua binding that encoded it. */
    return out->count + out->dropped - before;
}
