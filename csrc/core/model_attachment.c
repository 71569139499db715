/*
 * model_attachment.c - the attachment body model, in one place: the keys a
 * binding reads, what the content itself tells (name, content type), the
 * rules, and the JSON layout on the wire.  Used by the two upload
 * operations (operations.c).
 *
 *   { "attachment": { "name", "content_type", "type", "data" | "data_url" },
 *     "remote_fields": {...} }
 */
#include "kombo.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_BYTES 4096
#define DATA_URL_MAX_BYTES 8192
#define CONTENT_TYPE_MAX_BYTES 255
#define TYPE_ECHO_MAX_BYTES 40

#define STR_FIELD(k) {#k, offsetof(kombo_attachment, k)}
const kombo_field kombo_attachment_fields[] = {
    STR_FIELD(name), STR_FIELD(content_type), STR_FIELD(type), STR_FIELD(data),
    STR_FIELD(data_url), STR_FIELD(file), STR_FIELD(bytes),
    {"source", (size_t)-1}, {"size", (size_t)-1}, {NULL, 0},
};

const char *const kombo_attachment_body_keys[] = {"attachment", "remote_fields", NULL};

/* --------------------------------------------------------------- helpers */

static int has_byte(kombo_str s, char c)
{
    return s.len && memchr(s.ptr, c, s.len) != NULL;
}

static int str_eq(kombo_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
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
    if (a->source || a->source_given)
        given[n++] = "source";
    if (n == 0) {
        kombo_problems_add(out, "body.attachment",
                           "needs exactly one of data, data_url, file, bytes or source");
        return;
    }
    if (n == 1)
        return;
    /* list holds at most "data, data_url, file, bytes and source" (38 bytes). */
    for (i = 0; i < n; i++) {
        strcat(list, given[i]); /* NOLINT(clang-analyzer-security.insecureAPI.strcpy): bounded, see above */
        strcat(list, i + 2 < n ? ", " : i + 2 == n ? " and " : ""); /* NOLINT(clang-analyzer-security.insecureAPI.strcpy) */
    }
    kombo_problems_add(out, "body.attachment", "has %s%s; give exactly one", n == 2 ? "both " : "",
                       list);
}

/* Raw content (bytes, a source): not empty, and small enough that its base64
 * and the JSON around it fit a size_t (a limit on 32-bit builds only). */
static void check_raw_size(kombo_problems *out, const char *path, size_t size)
{
    if (size == 0)
        kombo_problems_add(out, path, "is 0 bytes: an empty document is refused");
    else if (size > KOMBO_MAX_CONTENT_BYTES)
        kombo_problems_add(out, path, "is larger than this build can send (at most %zu bytes)",
                           (size_t)KOMBO_MAX_CONTENT_BYTES);
}

void kombo_attachment_validate(const kombo_request *req, kombo_problems *out)
{
    const kombo_attachment *a = &req->attachment;
    int has_data = a->data.ptr != NULL;

    if (!req->has_attachment) {
        kombo_problems_add(out, "body.attachment", "is required");
        return; /* its fields are not missing one by one */
    }

    /* name */
    if (!a->name.ptr) {
        kombo_problems_add(out, "body.attachment.name", "is required");
    } else if (a->name.len == 0) {
        kombo_problems_add(out, "body.attachment.name", "must not be empty");
    } else if (a->name.len > NAME_MAX_BYTES) {
        kombo_problems_add(out, "body.attachment.name", "is too long (%zu bytes, at most %d)",
                           a->name.len, NAME_MAX_BYTES);
    } else if (!kombo_utf8_valid(a->name.ptr, a->name.len)) {
        kombo_problems_add(out, "body.attachment.name", "must be valid UTF-8");
    } else if (has_byte(a->name, '\0')) {
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
    if (a->data_url.ptr)
        check_data_url(out, "body.attachment.data_url", a->data_url);
    if (a->file.ptr) {
        if (a->file.len == 0)
            kombo_problems_add(out, "body.attachment.file", "must not be empty");
        else if (has_byte(a->file, '\0'))
            kombo_problems_add(out, "body.attachment.file", "must not contain NUL");
    }
    if (a->bytes.ptr)
        check_raw_size(out, "body.attachment.bytes", a->bytes.len);
    if (a->source)
        check_raw_size(out, "body.attachment.size", a->source->size);

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
    /* remote_fields_json is checked by the binding that encoded it. */
}

/* ------------------------------------------------------ content defaults */

/* Opens attachment.file (a problem when it cannot be read) and fills in
 * what the content itself tells: the name from the path, the content type
 * from the leading bytes and the extension.  An explicit value always wins. */
void kombo_attachment_prepare(kombo_request *req, void **file_handle, kombo_problems *problems)
{
    kombo_attachment *a = &req->attachment;
    unsigned char head[512];
    size_t n = 0, size = 0, total = 0;
    const char *type;

    *file_handle = NULL;
    if (!req->has_attachment)
        return;
    if (a->file.ptr != NULL && a->file.len > 0 && !has_byte(a->file, '\0')) {
        char err[200];
        void *file;
        /* The name comes from the path even when the file cannot be read:
         * that is one mistake, not two. */
        if (a->name.ptr == NULL) {
            const char *slash = strrchr(a->file.ptr, '/');
            a->name = kombo_str_c(slash != NULL ? slash + 1 : a->file.ptr);
        }
        file = kombo_file_open(a->file.ptr, &size, err, sizeof err);
        if (file == NULL) {
            kombo_problems_add(problems, "body.attachment.file", "%.120s: %s", a->file.ptr, err);
            return;
        }
        if (size == 0) {
            kombo_file_close(file);
            kombo_problems_add(problems, "body.attachment.file",
                               "%.120s: is 0 bytes: an empty document is refused", a->file.ptr);
            return;
        }
        n = fread(head, 1, sizeof head, (FILE *)file);
        total = size;
        rewind((FILE *)file);
        *file_handle = file;
    } else if (a->bytes.ptr != NULL) {
        n = a->bytes.len < sizeof head ? a->bytes.len : sizeof head;
        memcpy(head, a->bytes.ptr, n);
        total = a->bytes.len;
    } else if (a->source == NULL) {
        return; /* data and data_url: the caller says what it is */
    }
    if (a->content_type.ptr == NULL) {
        type = kombo_content_type_infer(head, n, total > n, a->name.ptr, a->name.len);
        a->content_type = kombo_str_c(type != NULL ? type : "application/octet-stream");
    }
}

/* ---------------------------------------------------------------- layout */

/* An absent string renders as null; a validated request never has one where
 * a string is required, but the writer must still produce valid JSON. */
static void json_str_or_null(kombo_buf *b, kombo_str s)
{
    if (s.ptr)
        kombo_json_string(b, s.ptr, s.len);
    else
        kombo_buf_puts(b, "null");
}

/* With data: [owned head ... "data":"] [borrowed data] [owned "} ...], so
 * tens of MB of base64 are never copied; with file, bytes or source the
 * middle segment is encoded chunk by chunk; with data_url, one owned. */
int kombo_attachment_build(kombo_body *body, const kombo_request *req, void *file_handle)
{
    const kombo_attachment *a = &req->attachment;
    kombo_buf *b = kombo_body_add_owned(body);
    int failed = 0;

    kombo_buf_puts(b, "{\"attachment\":{\"name\":");
    json_str_or_null(b, a->name);
    if (a->content_type.ptr) {
        kombo_buf_puts(b, ",\"content_type\":");
        kombo_json_string(b, a->content_type.ptr, a->content_type.len);
    }
    kombo_buf_puts(b, ",\"type\":");
    json_str_or_null(b, a->type);

    if (a->data.ptr || a->bytes.ptr || a->source || file_handle) {
        /* base64 needs no JSON escaping, verbatim or encoded here. */
        kombo_buf_puts(b, ",\"data\":\"");
        if (a->data.ptr)
            kombo_body_add_borrowed(body, a->data);
        else if (file_handle != NULL)
            failed = kombo_body_add_file(body, file_handle) != 0;
        else if (a->bytes.ptr)
            failed = kombo_body_add_bytes(body, a->bytes) != 0;
        else
            failed = kombo_body_add_source(body, a->source) != 0;
        b = kombo_body_add_owned(body);
        kombo_buf_puts(b, "\"}");
    } else {
        if (a->data_url.ptr) {
            kombo_buf_puts(b, ",\"data_url\":");
            kombo_json_string(b, a->data_url.ptr, a->data_url.len);
        }
        kombo_buf_puts(b, "}");
    }
    if (req->remote_fields_json.ptr) {
        kombo_buf_puts(b, ",\"remote_fields\":");
        kombo_buf_append(b, req->remote_fields_json.ptr, req->remote_fields_json.len);
    }
    kombo_buf_puts(b, "}");
    body->on_progress = req->on_progress;
    body->progress_ud = req->progress_ud;
    if (failed)
        return -1;
    return kombo_body_finish(body);
}
