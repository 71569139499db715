/*
 * content_type.c - a content type for attachments given without one.
 *
 * The leading bytes are trusted before the name: a CV called "resume.doc"
 * that is really a PDF is sent as application/pdf.  ZIP containers are told
 * apart only by extension (a .docx is a ZIP), and text is recognised as
 * "valid UTF-8 without NUL bytes" in the bytes we were shown.
 */
#include "kombo.h"
#include "content_type.h"
#include "codec.h"

#include <string.h>

typedef struct by_extension {
    const char *ext; /* lower case, without the dot */
    const char *type;
} by_extension;

static const by_extension zip_types[] = {
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"odp", "application/vnd.oasis.opendocument.presentation"},
    {NULL, NULL}};

static const by_extension name_types[] = {
    {"pdf", "application/pdf"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"rtf", "application/rtf"},
    {"txt", "text/plain"},
    {"md", "text/markdown"},
    {"html", "text/html"},
    {"htm", "text/html"},
    {"csv", "text/csv"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"zip", "application/zip"},
    {NULL, NULL}};

/* The extension after the last dot, lower-cased into buf; "" when none. */
static const char *extension(const char *name, size_t n, char *buf, size_t bufsz)
{
    size_t i = n, j;
    while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
        i--;
    if (i == 0 || name[i - 1] != '.' || n - i >= bufsz)
        return "";
    for (j = 0; i + j < n; j++) {
        char c = name[i + j];
        buf[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    buf[j] = '\0';
    return buf;
}

static const char *lookup(const by_extension *table, const char *ext)
{
    for (; table->ext != NULL; table++)
        if (strcmp(table->ext, ext) == 0)
            return table->type;
    return NULL;
}

static int starts(const unsigned char *head, size_t n, const char *magic, size_t m)
{
    return n >= m && memcmp(head, magic, m) == 0;
}

/* Text: valid UTF-8 and no NUL.  When the sample is only the start of the
 * content, a multi-byte sequence cut off at its end is not held against it. */
static int looks_like_text(const unsigned char *head, size_t n, int truncated)
{
    size_t end = n, i;
    if (n == 0 || memchr(head, 0, n) != NULL)
        return 0;
    if (truncated) {
        /* Find the lead byte of the last sequence (at most 3 bytes back). */
        for (i = n; i > 0 && n - i < 4; i--) {
            unsigned char c = head[i - 1];
            if ((c & 0xC0) != 0x80) {
                size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
                if (n - (i - 1) < need)
                    end = i - 1;
                break;
            }
        }
    }
    return kombo_utf8_valid((const char *)head, end);
}

const char *kombo_content_type_infer(const unsigned char *head, size_t n, int truncated,
                                     const char *name, size_t name_len)
{
    char buf[16];
    const char *ext = name != NULL ? extension(name, name_len, buf, sizeof buf) : "";
    const char *t;

    if (starts(head, n, "%PDF-", 5))
        return "application/pdf";
    if (starts(head, n, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (starts(head, n, "\xFF\xD8\xFF", 3))
        return "image/jpeg";
    if (starts(head, n, "GIF87a", 6) || starts(head, n, "GIF89a", 6))
        return "image/gif";
    if (starts(head, n, "{\\rtf", 5))
        return "application/rtf";
    if (starts(head, n, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8)) /* OLE2: .doc and kin */
        return "application/msword";
    if (starts(head, n, "PK\x03\x04", 4)) {
        t = lookup(zip_types, ext);
        return t != NULL ? t : "application/zip";
    }
    t = lookup(name_types, ext);
    if (t != NULL)
        return t;
    return looks_like_text(head, n, truncated) ? "text/plain" : NULL;
}
